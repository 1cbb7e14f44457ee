"""kill -9 the server while it grades, restart it: every queued submission is graded once and none is lost."""

import os
import signal
import time

import pytest
import sqlalchemy as sa

from autograder.sandbox import isolation
from autograder.server import db
from tests.autograder.fixtures import course as fx
from tests.autograder.server import http
from tests.autograder.server.conftest import buggy_notebook, notebook_bytes, released_course

pytestmark = pytest.mark.skipif(isolation.detect() is None, reason="no sandbox isolation on this machine")


def test_kill_9_while_grading_then_restart_grades_everything_exactly_once(tmp_path):
    course = released_course(tmp_path / "course")
    tokens = [http.add_user(course, f"s{k}", "student") for k in range(3)]
    port = http.free_port()
    proc = http.start_server(course, port, log=tmp_path / "first.log")
    ids = []
    for k in range(6):
        nb = fx.solved_notebook() if k % 2 else buggy_notebook()
        status, body = http.submit(port, tokens[k % 3], fx.ASSIGNMENT, notebook_bytes(nb))
        assert status == 202, body
        ids.append(body["id"])
    engine = db.connect(db.default_url(course))
    end = time.monotonic() + 120
    while time.monotonic() < end:  # wait until a submission is being graded
        with engine.connect() as conn:
            if conn.execute(sa.select(db.submissions.c.id).where(db.submissions.c.status == "running")).first():
                break
        time.sleep(0.05)
    else:
        raise AssertionError("no submission started grading")
    os.killpg(proc.pid, signal.SIGKILL)  # the server and its grading workers, mid-grade
    proc.wait(20)
    with engine.connect() as conn:
        interrupted = [r.id for r in conn.execute(sa.select(db.submissions.c.id).where(
            db.submissions.c.status == "running"))]
        assert interrupted, "the kill came after grading ended: the test proves nothing"
    proc = http.start_server(course, port, log=tmp_path / "second.log")
    try:
        end = time.monotonic() + 240
        while time.monotonic() < end:
            with engine.connect() as conn:
                states = dict(conn.execute(sa.select(db.submissions.c.id, db.submissions.c.status)).all())
            if all(states.get(i) == "graded" for i in ids):
                break
            time.sleep(0.5)
        else:
            raise AssertionError(f"not all graded after the restart: {states}")
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(30)
    with engine.connect() as conn:
        results = conn.execute(sa.select(db.results.c.submission_id, db.results.c.score)).all()
        attempts = dict(conn.execute(sa.select(db.submissions.c.id, db.submissions.c.attempts)).all())
    assert sorted(r.submission_id for r in results) == sorted(ids)  # none lost, none recorded twice
    assert all(attempts[i] >= 2 for i in interrupted)  # the interrupted ones were graded again after the restart
    scores = dict(results)
    assert all(scores[i] > scores[ids[0]] for i in ids[1::2])  # solved ones beat the buggy ones, as graded
