"""The course server's operations as each user may ask for them, graded by the real sandboxed pipeline."""

import json

import pytest

from autograder.sandbox import isolation
from autograder.server.grading import grade_job
from autograder.server.submissions import MAX_UPLOAD, RefusedError
from tests.autograder.fixtures import course as fx
from tests.autograder.server.conftest import buggy_notebook, distinct, notebook_bytes, wait_graded

needs_sandbox = pytest.mark.skipif(isolation.detect() is None, reason="no sandbox isolation on this machine")
NAME = f"{fx.ASSIGNMENT}.ipynb"


@needs_sandbox
def test_submissions_are_graded_and_seen_only_by_their_owner_and_the_instructor(server, people):
    """Graded once each, right scores; another student's id answers like a missing one; the dashboard adds up."""
    ada, bo, prof = (people[n][0] for n in ("ada", "bo", "prof"))
    good = server.submit(ada, fx.ASSIGNMENT, NAME, notebook_bytes(fx.solved_notebook()))
    bad = server.submit(bo, fx.ASSIGNMENT, NAME, notebook_bytes(buggy_notebook()))
    [g, b] = wait_graded(server, prof, [good, bad])
    # The server's grade is the pipeline's grade of the same bytes (whatever the checks decide).
    for row, nb in ((g, fx.solved_notebook()), (b, buggy_notebook())):
        direct = grade_job(str(server.course), fx.ASSIGNMENT, NAME, notebook_bytes(nb))
        assert row["status"] == "graded" and row["score"] == direct["score"] and row["tests"] == direct["tests"]
    assert g["max_score"] == sum(fx.TESTS.values()) and b["score"] < g["score"]
    assert {t["grade_id"] for t in b["tests"] if t["score"] < t["max_score"]} >= set(fx.RNN_TESTS)
    assert server.submission(ada, good)["score"] == g["score"]
    for other, sid in ((ada, bad), (bo, good)):
        with pytest.raises(RefusedError) as err:
            server.submission(other, sid)
        assert err.value.status == 404 and str(sid) in err.value.message
    with pytest.raises(RefusedError) as err:
        server.submission(ada, 10**9)
    assert err.value.status == 404
    assert [s["id"] for s in server.submissions_of(ada)] == [good]
    assert {s["id"] for s in server.submissions_of(prof)} == {good, bad}
    numbers = server.analytics(prof, fx.ASSIGNMENT)
    assert numbers["students"] == 2 and sum(numbers["histogram"]["counts"]) == 2
    rates = {t["grade_id"]: t["pass_rate"] for t in numbers["tests"]}
    for grade_id in fx.TESTS:
        passed = [next(x for x in row["tests"] if x["grade_id"] == grade_id) for row in (g, b)]
        assert rates[grade_id] == sum(x["score"] >= x["max_score"] for x in passed) / 2
    assert rates["test_q1"] == 1.0 and rates["test_rnn_step_hidden"] == 0.5
    assert any("bo" in b["students"] for b in numbers["bug_classes"])
    with pytest.raises(RefusedError) as err:
        server.analytics(ada, fx.ASSIGNMENT)
    assert err.value.status == 403
    csv_text = server.export_csv(prof, fx.ASSIGNMENT)
    assert csv_text.splitlines()[0] == "student,submission,timestamp,late,score,max_score"
    assert {line.split(",")[0] for line in csv_text.splitlines()[1:]} == {"ada", "bo"}


@needs_sandbox
def test_export_to_nbgrader_gradebook_matches_the_server(server, people):
    """Does nbgrader's gradebook hold the same score as the server after export?"""
    from nbgrader.api import Gradebook

    ada, prof = people["ada"][0], people["prof"][0]
    sid = server.submit(ada, fx.ASSIGNMENT, NAME, notebook_bytes(buggy_notebook()))
    [row] = wait_graded(server, prof, [sid])
    assert server.export_gradebook(prof, fx.ASSIGNMENT) == 1
    with Gradebook(f"sqlite:///{server.course / 'gradebook.db'}") as gb:
        sub = gb.find_submission(fx.ASSIGNMENT, "ada")
        assert sub.score == pytest.approx(row["score"]) and sub.timestamp is not None


@needs_sandbox
def test_regrade_all_grades_again_and_keeps_one_result(server, people):
    ada, prof = people["ada"][0], people["prof"][0]
    sid = server.submit(ada, fx.ASSIGNMENT, NAME, notebook_bytes(fx.solved_notebook()))
    with pytest.raises(RefusedError):
        server.regrade(ada, fx.ASSIGNMENT)
    [before] = wait_graded(server, prof, [sid])
    assert server.regrade(prof, fx.ASSIGNMENT) == 1
    [after] = wait_graded(server, prof, [sid])
    assert after["score"] == before["score"] and after["tests"] == before["tests"]


@pytest.mark.parametrize("payload, status, words", [
    (b"{not json", 422, "not a valid notebook"),
    (b"\xff\xfe binary", 422, "not a valid notebook"),
    (json.dumps({"cells": "no"}).encode(), 422, "not a valid notebook"),
    (json.dumps({"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": []}).encode(), 422, "another assignment"),
])
def test_malformed_uploads_are_refused_and_nothing_is_stored(server, people, payload, status, words):
    ada = people["ada"][0]
    with pytest.raises(RefusedError) as err:
        server.submit(ada, fx.ASSIGNMENT, NAME, payload)
    assert err.value.status == status and words in err.value.message
    assert server.submissions_of(ada) == []


def test_refusals_name_the_problem(server, people):
    """Oversize, wrong extension, unknown or closed assignment, deadline, maximum, rate limit: each its answer."""
    ada = people["ada"][0]
    prof = people["prof"][0]
    data = notebook_bytes(fx.solved_notebook())

    def refused(*args):
        with pytest.raises(RefusedError) as err:
            server.submit(*args)
        return err.value.status, err.value.message

    assert refused(ada, fx.ASSIGNMENT, NAME, b" " * (MAX_UPLOAD + 1))[0] == 413
    assert refused(ada, fx.ASSIGNMENT, "rnn_cell.py", data)[0] == 422
    status, message = refused(ada, "lstm_cell", NAME, data)
    assert status == 404 and "rnn_cell" in message  # names the open ones
    server.configure(prof, fx.ASSIGNMENT, closed=True)
    assert refused(ada, fx.ASSIGNMENT, NAME, data) == (403, "assignment 'rnn_cell' is closed for submissions")
    server.configure(prof, fx.ASSIGNMENT, closed=False, deadline=1.0)
    assert "deadline" in refused(ada, fx.ASSIGNMENT, NAME, data)[1]
    server.configure(prof, fx.ASSIGNMENT, late_policy="accept", max_submissions=1)
    sid = server.submit(ada, fx.ASSIGNMENT, NAME, data)
    assert server.submission(ada, sid)["late"] is True
    assert "all 1 submissions" in refused(ada, fx.ASSIGNMENT, NAME, distinct(data, 1))[1]
    with pytest.raises(ValueError, match="late_policy"):
        server.configure(prof, fx.ASSIGNMENT, late_policy="maybe")


def test_a_flood_from_one_account_is_rate_limited(course, people, server):
    bo = people["bo"][0]
    server.rate_limit = 3
    data = notebook_bytes(fx.solved_notebook())
    for k in range(3):
        server.submit(bo, fx.ASSIGNMENT, NAME, distinct(data, k))
    with pytest.raises(RefusedError) as err:
        server.submit(bo, fx.ASSIGNMENT, NAME, distinct(data, 3))
    assert err.value.status == 429 and "at most 3 a minute" in err.value.message
    assert len(server.submissions_of(bo)) == 3


@needs_sandbox
def test_an_instructor_asking_about_an_unknown_assignment_is_told_so(server, people, tmp_path):
    """Analytics, grades.csv and regrade of a name the course never had answer 404 naming the released ones (an
    empty dashboard would say 'no students yet'); a released assignment nobody submitted answers its empty numbers,
    and one taken out of the release keeps its stored submissions' numbers."""
    ada, prof = people["ada"][0], people["prof"][0]
    for ask in (server.analytics, server.export_csv, server.regrade):
        for name in ("rnn-cel", "RNN_CELL", "no_such"):
            with pytest.raises(RefusedError) as err:
                ask(prof, name)
            assert err.value.status == 404 and repr(name) in err.value.message
            assert fx.ASSIGNMENT in err.value.message
        with pytest.raises(RefusedError) as err:
            ask(ada, "no_such")
        assert err.value.status == 403  # a student learns nothing of which names exist
    assert server.analytics(prof, fx.ASSIGNMENT)["students"] == 0
    assert server.export_csv(prof, fx.ASSIGNMENT).splitlines() == ["student,submission,timestamp,late,score,max_score"]
    sid = server.submit(ada, fx.ASSIGNMENT, NAME, notebook_bytes(fx.solved_notebook()))
    wait_graded(server, prof, [sid])
    release, aside = server.course / "release" / fx.ASSIGNMENT, tmp_path / "withdrawn"
    release.rename(aside)
    try:
        assert server.analytics(prof, fx.ASSIGNMENT)["students"] == 1
        assert server.export_csv(prof, fx.ASSIGNMENT).splitlines()[1].startswith(f"ada,{sid},")
        with pytest.raises(RefusedError) as err:
            server.analytics(prof, "no_such")
        assert "none yet" in err.value.message
    finally:
        aside.rename(release)
