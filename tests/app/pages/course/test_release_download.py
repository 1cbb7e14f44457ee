"""A student on the course server gets the notebook to fill in from the course page itself: no shared folder, no
nbgrader exchange, no e-mail from the instructor. It is the release (no solutions, no hidden tests), named as
nbgrader named it, and only a released assignment's."""

from __future__ import annotations

import asyncio
import json

import panel as pn
import pytest

from autograder.server import accounts, submissions
from autograder.server.service import CourseServer
from simulator.app.pages.course import context, view
from tests.autograder.fixtures import course as fx
from tests.autograder.server.conftest import released_course

A = fx.ASSIGNMENT

pn.extension()


@pytest.fixture
def ada(tmp_path, monkeypatch):
    server = CourseServer(released_course(tmp_path / "course"), grade=False)
    user = accounts.add_user(server.engine, "ada", "student")[0]
    monkeypatch.setattr(context, "HANDLE", lambda: server)
    monkeypatch.setattr(context, "current_user", lambda: user)
    yield server
    server.close()


def test_the_course_page_hands_out_the_released_notebook(ada):
    page = view.CoursePage()
    assert page.form.visible and page.assignment.value == A
    assert page.download in page.form.objects[1].objects and page.download.label.startswith("Download")
    data = asyncio.run(page._release()).getvalue()
    nb = json.loads(data)
    assert data == (ada.course / "release" / A / f"{A}.ipynb").read_bytes()
    sources = "".join("".join(c["source"]) for c in nb["cells"])
    assert "NotImplementedError" in sources and "BEGIN SOLUTION" not in sources and "HIDDEN" not in sources
    assert page.download.filename == f"{A}.ipynb"


@pytest.mark.parametrize("name", ["../release", "source", "", "rnn_cell/../rnn_cell", None])
def test_only_a_released_assignment_is_read(ada, name):
    with pytest.raises(submissions.RefusedError) as refused:
        submissions.release_notebook(ada.course, name)
    assert refused.value.status == 404 and f"released: {A}" in refused.value.message


def test_a_release_gone_under_the_open_page_is_said_in_the_page(ada):
    import shutil

    page = view.CoursePage()
    shutil.rmtree(ada.course / "release")
    assert asyncio.run(page._release()).getvalue() == b""
    assert page.message.visible and "ask your instructor" in page.message.object


def test_the_queued_notice_becomes_the_result_once_graded(ada):
    """After Submit the page said "Submission #N is queued" and kept saying it beside the graded row."""
    import sqlalchemy as sa

    from autograder.server import db
    from tests.autograder.server.conftest import notebook_bytes

    page = view.CoursePage()
    page.pending = ("mine.ipynb", notebook_bytes(fx.solved_notebook()))
    asyncio.run(page._submit())
    assert "is queued" in page.message.object
    sid = int(page.message.object.split("#")[1].split()[0])
    with ada.engine.begin() as conn:  # as the grader records it
        conn.execute(db.submissions.update().where(db.submissions.c.id == sid).values(status="graded"))
        conn.execute(sa.insert(db.results).values(submission_id=sid, score=7.0, max_score=7.0, report={},
                                               graded_by="test", recorded=db.now()))
    page.refresh()
    assert f"Submission #{sid} is graded: 7 / 7" in page.message.object and "is queued" not in page.message.object
