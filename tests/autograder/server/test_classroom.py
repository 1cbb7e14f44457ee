"""A classroom on a real server: 60 students behind one address sign in within seconds, open their pages, submit
(some twice, some a double click, some malformed, some at the deadline second), reload and try each other's ids,
while the instructor opens the dashboard, exports grades and regrades.

What must hold (``classroom.verify`` and the run's own checks): everyone signs in (typos included: the class
shares one address), every page answers and shows only its student's work, another's id reads like a missing
one everywhere, nothing accepted is lost and nothing refused is stored, each submission has exactly one result
(regraded ones included), lateness is by the server's clock at receipt, and the server logs no traceback.
Latency is the benchmark's business (``benchmarks/classroom_course.py``); nothing here times anything.
"""

from __future__ import annotations

import asyncio
import time

import pytest
import sqlalchemy as sa

from autograder.sandbox import isolation
from autograder.server import db, submissions
from tests.autograder.fixtures import course as fx
from tests.autograder.server import classroom, http
from tests.autograder.server.conftest import buggy_notebook, notebook_bytes, released_course

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(isolation.detect() is None, reason="no sandbox isolation on this machine")]

STUDENTS = 60
WINDOW = 15.0


def test_a_class_behind_one_address_is_served_isolated_and_graded_exactly_once(tmp_path):
    course = released_course(tmp_path / "course")
    engine = db.connect(db.default_url(course))
    books = [notebook_bytes(fx.solved_notebook()), notebook_bytes(buggy_notebook())]
    students, prof = classroom.enrol(engine, STUDENTS, books)
    port = http.free_port()
    log = tmp_path / "serve.log"
    proc = http.start_server(course, port, "--grading-workers", "2", log=log)
    try:
        deadline = time.time() + WINDOW + 20.0  # after most first submissions, before the deadline students' own
        submissions.configure(engine, classroom.ASSIGNMENT, deadline=deadline, late_policy="accept")
        run = asyncio.run(classroom.classroom(port, students, prof, WINDOW, run=classroom.Run(deadline=deadline),
                                              regrade_share=0.1))
        end = time.monotonic() + 300
        while time.monotonic() < end:
            with engine.connect() as conn:
                pending = conn.execute(sa.select(sa.func.count()).select_from(db.submissions).where(
                    db.submissions.c.status.in_(("queued", "running")))).scalar_one()
            if not pending:
                break
            time.sleep(0.5)
    finally:
        proc.terminate()
        proc.wait(60)
    assert run.problems == [], "\n".join(run.problems[:30])
    assert classroom.verify(engine, run, students) == []
    kinds = {s.name: s.kind for s in students}
    assert len(run.duplicates) == sum(k == "double" for k in kinds.values())
    with engine.connect() as conn:
        rows = conn.execute(sa.select(db.submissions.c.id, db.submissions.c.late, db.submissions.c.attempts)).all()
    late = {r.id for r in rows if r.late}
    assert late and len(late) < len(rows)  # the deadline fell inside the class: both kinds exist
    after = [s for s in students if s.kind == "deadline" and s.offset > 0]
    assert after and all(set(s.ids) <= late for s in after)  # sent after the deadline: late, whatever the load
    assert run.regraded and all(r.attempts >= 2 for r in rows if r.id in set(run.regraded))
    # the malformed uploads' 422s were checked by the run; verify() found nothing stored that was not accepted
    assert any(s.kind == "malformed" for s in students)
    text = log.read_text(errors="replace")
    assert "Traceback" not in text and "database is locked" not in text, text[-3000:]
    engine.dispose()
