"""The documented instructor workflow, end to end, through nbgrader's real exchange and the sandboxed grader.

One module fixture runs it once (nbgrader's commands are subprocesses, the expensive part): release,
fetch and submit as four students (bob resubmits after a first collect; mallory plants links in her
inbound folder after submitting), ``collect --update``, ``grade-course``, ``generate_feedback``,
``release_feedback``, ``fetch_feedback`` as every student, ``export``. The tests read what it left.
"""

from __future__ import annotations

import csv
import io
import os
import re
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import nbformat
import pytest

from autograder.gradebook import open_gradebook
from autograder.sandbox import isolation
from tests.autograder.fixtures import course as fx
from tests.exercises.conftest import project_env

pytestmark = pytest.mark.skipif(isolation.detect() is None, reason="no sandbox isolation on this machine")
REPO = Path(__file__).resolve().parents[2]
DOCS = REPO / "docs" / "exercises.md"
COURSE_ID = "rnn-test"
SECRET = "INSTRUCTOR-ONLY-7f3a9c"
DUE = "2026-01-01 00:00:00 UTC"
FAST = ["--wall", "10", "--memory", "1024", "--processes", "16"]


def _run(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    done = subprocess.run(args, cwd=cwd, env=project_env(), capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, f"{' '.join(args)} failed:\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}"
    return done


def _nbgrader(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return _run([sys.executable, "-m", "nbgrader", *args], cwd)


def _answer(nb, grade_id: str, code: str):
    return fx.with_code(nb, grade_id, code)


def _submit(home: Path, student: str, exchange: Path, edit) -> str:
    """Write the student's answers into the fetched notebook, submit; the inbound folder's timestamp."""
    path = home / fx.ASSIGNMENT / f"{fx.ASSIGNMENT}.ipynb"
    nbformat.write(edit(nbformat.read(path, as_version=4)), path)
    out = _nbgrader("submit", fx.ASSIGNMENT, f"--course={COURSE_ID}", f"--student={student}",
                    f"--Exchange.root={exchange}", f"--Exchange.cache={home / 'cache'}", cwd=home)
    return re.findall(r"\+" + fx.ASSIGNMENT + r"\+([^+\n]+?)(?:\+|\n|$)", out.stdout + out.stderr)[-1].strip()


@pytest.fixture(scope="module")
def workflow(tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("workflow")
    course, exchange = fx.write_course(root / "course"), root / "exchange"
    exchange.mkdir()
    (course / "instructor_only.txt").write_text(SECRET)
    with open(course / "nbgrader_config.py", "a") as f:  # late work scores zero (nbgrader's own policy)
        f.write('c.LateSubmissionPlugin.penalty_method = "zero"\n')
    solved = fx.solved_notebook()
    with open_gradebook(course) as gb:  # what `nbgrader db assignment add rnn_cell --duedate=...` does
        gb.update_or_create_assignment(fx.ASSIGNMENT, duedate=DUE)
    _nbgrader("generate_assignment", fx.ASSIGNMENT, cwd=course)
    _nbgrader("release_assignment", fx.ASSIGNMENT, f"--Exchange.root={exchange}", cwd=course)
    homes = {s: root / "home" / s for s in ("alice", "bob", "carol", "mallory")}
    for home in homes.values():
        home.mkdir(parents=True)
    # Students act independently: their commands run two at a time (the CI has 2 cores).
    pool = ThreadPoolExecutor(max_workers=2)
    list(pool.map(lambda home: _nbgrader("fetch_assignment", fx.ASSIGNMENT, f"--course={COURSE_ID}",
                                         f"--Exchange.root={exchange}", f"--Exchange.cache={home / 'cache'}",
                                         cwd=home), homes.values()))
    release = nbformat.read(homes["alice"] / fx.ASSIGNMENT / f"{fx.ASSIGNMENT}.ipynb", as_version=4)
    assert "BEGIN SOLUTION" not in nbformat.writes(release)
    answers = {c.metadata["nbgrader"]["grade_id"]: c.source for c in solved.cells if "nbgrader" in c.metadata}

    def solve(nb, wrong_q1=False):
        for cell in nb.cells:
            meta = cell.metadata.get("nbgrader", {})
            if meta.get("solution"):
                cell.source = answers[meta["grade_id"]]
        return _answer(nb, "answers", "answer_q1 = 'B'") if wrong_q1 else nb

    edits = {"alice": solve, "bob": lambda nb: solve(nb, wrong_q1=True),
             "carol": lambda nb: _answer(nb, "rnn_step", "h = undefined_name_in_rnn_step"), "mallory": lambda nb: nb}
    stamps = dict(zip(edits, pool.map(lambda s: _submit(homes[s], s, exchange, edits[s]), edits), strict=True))
    stamps["bob_first"] = stamps.pop("bob")
    _nbgrader("collect", fx.ASSIGNMENT, f"--Exchange.root={exchange}", cwd=course)  # an early collect
    stamps["bob"] = _submit(homes["bob"], "bob", exchange, solve)  # the resubmission, right this time
    inbound = exchange / COURSE_ID / "inbound"
    (planted,) = inbound.glob(f"mallory+{fx.ASSIGNMENT}+*")
    (planted / f"{fx.ASSIGNMENT}.ipynb").unlink()
    os.symlink(course / "source" / fx.ASSIGNMENT / f"{fx.ASSIGNMENT}.ipynb", planted / f"{fx.ASSIGNMENT}.ipynb")
    os.symlink(course / "instructor_only.txt", planted / "notes.txt")
    shutil.rmtree(course / "submitted" / "mallory")  # as if she had planted them before the first collect
    runs = {"collect": _nbgrader("collect", "--update", fx.ASSIGNMENT, f"--Exchange.root={exchange}", cwd=course)}
    runs["grade"] = _run([sys.executable, "-m", "autograder", "grade-course", ".", "--assignment", fx.ASSIGNMENT,
                          f"--exchange={exchange}", "--no-progress", *FAST], course)
    runs["feedback"] = _nbgrader("generate_feedback", fx.ASSIGNMENT, cwd=course)
    runs["release"] = _nbgrader("release_feedback", fx.ASSIGNMENT, f"--Exchange.root={exchange}", cwd=course)
    list(pool.map(lambda s: _nbgrader("fetch_feedback", fx.ASSIGNMENT, f"--course={COURSE_ID}", f"--student={s}",
                                      f"--Exchange.root={exchange}", f"--Exchange.cache={homes[s] / 'cache'}",
                                      cwd=homes[s]), homes))
    pool.shutdown()
    runs["export"] = _nbgrader("export", cwd=course)
    return {"course": course, "exchange": exchange, "homes": homes, "stamps": stamps, "runs": runs,
            "grades": list(csv.DictReader(io.StringIO((course / "grades.csv").read_text())))}


def _fetched(workflow, student: str) -> dict[str, str]:
    folder = workflow["homes"][student] / fx.ASSIGNMENT / "feedback"
    return {p.parent.name: p.read_text() for p in folder.glob(f"*/{fx.ASSIGNMENT}.html")}


def test_docs_give_these_commands():
    """Does docs/exercises.md tell the instructor to collect with --update and grade with grade-course?"""
    text = DOCS.read_text()
    for command in ("nbgrader collect --update rnn_cell", "python -m autograder grade-course .",
                    "--exchange=\"$EXCHANGE\"", "nbgrader generate_feedback rnn_cell",
                    "nbgrader release_feedback rnn_cell", "nbgrader fetch_feedback rnn_cell", "nbgrader export"):
        assert command in text, f"docs/exercises.md lost {command!r}"


def test_grades_reach_export_with_the_resubmission(workflow):
    """Do grades.csv and the gradebook agree, with bob's resubmission graded, not his first attempt?"""
    rows = {r["student_id"]: r for r in workflow["grades"]}
    assert set(rows) == {"alice", "bob", "carol", "mallory"}
    with open_gradebook(workflow["course"]) as gb:
        q1 = {s: gb.find_grade("test_q1", fx.ASSIGNMENT, fx.ASSIGNMENT, s).score for s in rows}
        totals = {s: gb.find_submission(fx.ASSIGNMENT, s).score for s in rows}
    assert q1 == {"alice": 1.0, "bob": 1.0, "carol": 0.0, "mallory": 0.0}
    assert {s: float(r["raw_score"]) for s, r in rows.items()} == totals
    assert totals["alice"] == totals["bob"] > 0 and totals["carol"] == totals["mallory"] == 0.0


def test_timestamps_and_lateness_are_recorded(workflow):
    """Is each submission's time (bob's second) in the gradebook and grades.csv, late, with the course's penalty?"""
    from nbgrader.utils import parse_utc

    rows = {r["student_id"]: r for r in workflow["grades"]}
    stamps = workflow["stamps"]
    with open_gradebook(workflow["course"]) as gb:
        for student in ("alice", "bob", "carol"):
            submission = gb.find_submission(fx.ASSIGNMENT, student)
            assert submission.timestamp == parse_utc(stamps[student]), student
            assert submission.total_seconds_late > 0, student
            assert parse_utc(rows[student]["timestamp"]) == parse_utc(stamps[student]), student
    assert parse_utc(rows["bob"]["timestamp"]) > parse_utc(stamps["bob_first"])
    for student in ("alice", "bob"):  # the course's policy for late work: zero, the raw score kept
        assert float(rows[student]["raw_score"]) > 0, student
        assert float(rows[student]["late_submission_penalty"]) == float(rows[student]["raw_score"]), student
        assert float(rows[student]["score"]) == 0.0, student


def test_every_student_fetches_feedback_for_the_graded_submission(workflow):
    """Does fetch_feedback bring each student the page of the submission that was graded, with its messages?"""
    stamps = workflow["stamps"]
    pages = {s: _fetched(workflow, s) for s in workflow["homes"]}
    for student in ("alice", "bob", "carol", "mallory"):
        assert list(pages[student]) == [stamps[student]], (student, list(pages[student]))
    carol = pages["carol"][stamps["carol"]]
    assert "NameError" in carol and "undefined_name_in_rnn_step" in carol
    assert "is a symbolic link" in pages["mallory"][stamps["mallory"]]  # her page says why she earned 0
    # The message is in the test cell's source once; a failing q1 would print it again under the cell.
    assert pages["bob"][stamps["bob"]].count("q1: wrong answer") == 1


def test_summary_lists_each_zero_with_its_reason(workflow):
    """Does grade-course's console summary give every zero a reason (carol's NameError, mallory's link)?"""
    lines = {line.split(":", 1)[0]: line for line in workflow["runs"]["grade"].stdout.splitlines() if ":" in line}
    assert re.search(r"carol: 0/\d+ \(cell rnn_step: your code raised NameError.*undefined_name_in_rnn_step",
                     lines["carol"]), lines["carol"]
    assert re.search(r"mallory: 0/\d+ \(.*inbound/mallory\+rnn_cell\+[^/]+/(notes\.txt|rnn_cell\.ipynb) is a "
                     r"symbolic link", lines["mallory"]), lines["mallory"]
    assert "(" not in lines["alice"] and "graded 4 of 4 submissions" in workflow["runs"]["grade"].stdout


def test_planted_links_leak_nothing(workflow):
    """Is nothing instructor-only (source solutions, hidden tests, a private file) in any page or copied file?"""
    course, exchange = workflow["course"], workflow["exchange"]
    source = (course / "source" / fx.ASSIGNMENT / f"{fx.ASSIGNMENT}.ipynb").read_text()
    assert "reference_step" in source and SECRET not in source
    written = [p for top in (course / "autograded", course / "feedback", exchange / COURSE_ID / "feedback",
                             *(h / fx.ASSIGNMENT / "feedback" for h in workflow["homes"].values()))
               for p in top.rglob("*") if p.is_file()]
    assert written
    for path in written:
        text = path.read_text(errors="replace")
        assert SECRET not in text and "reference_step" not in text and "BEGIN SOLUTION" not in text, path
    for student in workflow["homes"]:
        names = sorted(p.name for p in (course / "autograded" / student / fx.ASSIGNMENT).iterdir())
        assert names == ["rnn_cell.ipynb", "submission_secret.txt", "timestamp.txt"], (student, names)
