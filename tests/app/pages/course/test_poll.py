"""The course pages' shared poll: one thread job per reading whatever the number of waiting pages, a render only
for the pages whose reading changed, each on its own document, and no page read after it stopped waiting or its
session ended."""

from __future__ import annotations

import asyncio

import panel as pn
import pytest
from panel.io.state import set_curdoc

from autograder.server import accounts, db
from autograder.server.service import CourseServer
from simulator.app.pages.course import context, feedback, poll, view
from tests.autograder.fixtures import course as fx
from tests.autograder.server.conftest import distinct, notebook_bytes, released_course

A = fx.ASSIGNMENT

pn.extension()


class FakeDoc:
    """What the board needs of a served Bokeh document: a session, a next-tick queue, destroy callbacks."""

    session_context = type("Session", (), {"request": type("Request", (), {"arguments": {}, "cookies": {},
                                                                            "headers": {}})()})()

    def __init__(self):
        self.next_tick, self.destroyed = [], []

    def add_next_tick_callback(self, fn):
        self.next_tick.append(fn)

    def on_session_destroyed(self, fn):
        self.destroyed.append(fn)

    def run_next_ticks(self):
        todo, self.next_tick = self.next_tick, []
        for fn in todo:
            fn()

    def destroy(self):
        for fn in self.destroyed:
            fn(None)


class Page:
    def __init__(self, value, fails=False):
        self.value, self.fails, self.reads, self.shown = value, fails, 0, []

    def _fetch(self):
        self.reads += 1
        if self.fails:
            raise RuntimeError("database went away")
        return self.value

    def _render(self, value):
        self.shown.append(value)


def _board():
    calls = []

    async def in_thread(fn, *args):
        calls.append(len(args[0]))
        return await asyncio.to_thread(fn, *args)

    return poll.Board(period=0.01, run_in_thread=in_thread), calls


def test_outside_a_server_nothing_is_followed():
    board, _ = _board()
    page = Page(1)
    assert board.follow(page) is False and len(board) == 0
    assert board.follow(page, doc=type("NoSession", (), {"session_context": None})()) is False


def test_one_thread_job_reads_every_page_and_only_the_changed_ones_are_rendered():
    board, calls = _board()
    docs = [FakeDoc() for _ in range(5)]
    pages = [Page(k) for k in range(5)]
    for page, doc in zip(pages, docs, strict=True):
        assert board.follow(page, shown=page.value, doc=doc)
    pages[1].value, pages[3].value = "graded", "number 2 in the queue"
    assert asyncio.run(board.tick()) == 2
    assert calls == [5] and all(p.reads == 1 for p in pages)
    assert [len(d.next_tick) for d in docs] == [0, 1, 0, 1, 0]  # each render on its own page's document
    for d in docs:
        d.run_next_ticks()
    assert pages[1].shown == ["graded"] and pages[3].shown == ["number 2 in the queue"] and not pages[0].shown
    assert asyncio.run(board.tick()) == 0  # nothing changed since: nothing sent
    assert calls == [5, 5]


def test_a_failing_page_does_not_stop_the_others_and_is_read_again():
    board, _ = _board()
    bad, good = Page(0, fails=True), Page(0)
    for page in (bad, good):
        board.follow(page, shown=None, doc=FakeDoc())
    assert asyncio.run(board.tick()) == 1 and good.reads == 1 and bad.reads == 1
    assert board.following(bad)
    asyncio.run(board.tick())
    assert bad.reads == 2 and not bad.shown


class TornDownDoc(FakeDoc):
    """A document Bokeh destroyed while the reading ran (its callback manager has lost its attributes)."""

    def add_next_tick_callback(self, fn):
        raise AttributeError("'DocumentCallbackManager' object has no attribute '_change_callbacks'")


def test_a_session_torn_down_during_a_reading_drops_that_page_only():
    board, _ = _board()
    pages = [Page(k) for k in range(4)]
    docs = [FakeDoc(), TornDownDoc(), FakeDoc(), TornDownDoc()]
    for page, doc in zip(pages, docs, strict=True):
        board.follow(page, shown="before", doc=doc)
    assert asyncio.run(board.tick()) == 2  # no exception: the others are rendered
    assert [board.following(p) for p in pages] == [True, False, True, False]
    assert [len(d.next_tick) for d in docs] == [1, 0, 1, 0]


def test_a_page_that_fails_to_show_its_reading_logs_a_line_and_the_others_still_show(caplog):
    board, _ = _board()
    broken, fine = Page(0), Page(0)
    broken._render = lambda value: 1 / 0
    doc = FakeDoc()
    for page in (broken, fine):
        board.follow(page, shown="before", doc=doc)
    assert asyncio.run(board.tick()) == 2
    doc.run_next_ticks()
    assert fine.shown == [0] and "could not show its reading" in caplog.text and "Traceback" not in caplog.text


def test_a_page_is_not_read_after_it_is_forgotten_or_its_session_ends():
    board, calls = _board()
    a, b = Page(0), Page(0)
    doc_a, doc_b = FakeDoc(), FakeDoc()
    board.follow(a, doc=doc_a)
    board.follow(b, doc=doc_b)
    board.follow(b, doc=doc_b)  # following again registers one destroy callback only
    assert len(doc_b.destroyed) == 1
    board.forget(a)
    doc_b.destroy()
    assert len(board) == 0 and asyncio.run(board.tick()) == 0 and calls == [] and a.reads == b.reads == 0


def test_the_board_reads_by_itself_while_pages_wait_and_stops_when_none_does():
    board, calls = _board()
    page, doc = Page("queued"), FakeDoc()

    async def scenario():
        board.follow(page, shown="queued", doc=doc)
        await asyncio.sleep(0.1)
        reads = page.reads
        board.forget(page)
        await asyncio.sleep(0.1)
        return reads

    reads = asyncio.run(scenario())
    assert reads >= 2 and page.reads <= reads + 1 and board._task.done()


@pytest.fixture
def served(tmp_path, monkeypatch):
    server = CourseServer(released_course(tmp_path / "course"), grade=False)
    who = {}
    monkeypatch.setattr(context, "HANDLE", lambda: server)
    monkeypatch.setattr(context, "current_user", lambda: who.get("user"))
    board, calls = _board()
    monkeypatch.setattr(poll, "BOARD", board)
    ada = accounts.add_user(server.engine, "ada", "student")[0]
    who["user"] = ada
    yield server, ada, board, calls
    server.close()


def test_waiting_course_and_feedback_pages_follow_the_board_until_graded(served):
    """A queued submission: both pages follow; once graded, one reading renders the score and lets them go."""
    server, ada, board, calls = served
    sid = server.submit(ada, A, "rnn_cell.ipynb", distinct(notebook_bytes(fx.solved_notebook()), 1))
    doc = FakeDoc()
    course, fb = view.CoursePage(), feedback.FeedbackPage(str(sid))
    assert "queued" in course.status.object and "queued" in fb.body.object
    assert board.following(course) is False  # built outside a served session: read once, nothing followed
    with set_curdoc(doc):
        course._render(course._fetch())
        fb._render(fb._fetch())
    assert board.following(course) and board.following(fb)
    assert asyncio.run(board.tick()) == 0  # nothing changed yet: nothing sent
    with server.engine.begin() as conn:
        conn.execute(db.submissions.update().where(db.submissions.c.id == sid).values(status="graded"))
        conn.execute(db.results.insert().values(submission_id=sid, score=3.0, max_score=7.0, report={
            "score": 3.0, "max_score": 7.0, "tests": [], "notes": []}, error=None, graded_by="t", recorded=db.now()))
    assert asyncio.run(board.tick()) == 2 and calls == [2, 2]
    with set_curdoc(doc):
        doc.run_next_ticks()
    assert "Score" in fb.body.object and "graded: 3 / 7" in course.status.object
    assert not board.following(course) and not board.following(fb) and len(board) == 0
