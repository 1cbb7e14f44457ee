"""Is a new session's page built in a thread and handed back to the loop, the loop answering meanwhile?"""

import asyncio
import contextvars
import threading
import time

import pytest
from bokeh.application.handlers.function import FunctionHandler
from bokeh.models import Div
from bokeh.server.contexts import ApplicationContext
from panel.io.application import Application
from panel.io.state import state
from tornado.ioloop import IOLoop

from simulator.app import threadbuild

REQUEST = contextvars.ContextVar("request", default=None)  # stands for Panel's context (its curdoc, its user)


@pytest.fixture
def installed():
    threadbuild.install(True)
    yield threadbuild
    threadbuild.install(False)


def _app(record: dict, busy: float = 0.0, fail: list | None = None) -> Application:
    def build(doc):
        record.setdefault("threads", []).append(threading.get_ident())
        record.setdefault("contexts", []).append(REQUEST.get())
        if fail:
            raise fail.pop()
        end = time.process_time() + busy
        while time.process_time() < end:  # CPU work holding the GIL between switches, as a page build does
            sum(range(200))
        doc.add_root(Div(text="built"))
    return Application(FunctionHandler(build))


def _context(app: Application) -> ApplicationContext:
    return ApplicationContext(app, io_loop=IOLoop.current())


def test_the_page_is_built_off_the_loop_and_handed_back_to_it(installed):
    record = {}

    async def main():
        ctx = _context(_app(record))
        REQUEST.set("student-1")  # what the loop knew when the build was asked for reaches the build
        first, again = await asyncio.gather(ctx.create_session_if_needed("s1"), ctx.create_session_if_needed("s1"))
        return first, again, threading.get_ident()

    session, again, loop_thread = asyncio.run(main())
    assert session is again and len(record["threads"]) == 1  # one build for two waiters
    assert record["threads"][0] != loop_thread and record["contexts"] == ["student-1"]
    assert state._thread_id_[session.document] == loop_thread  # callbacks on the loop own the document
    assert [r.text for r in session.document.roots] == ["built"]


@pytest.mark.parametrize("threaded", [True, False])
def test_the_loop_answers_while_a_page_is_built(threaded):
    """A ticker on the loop keeps ticking during a 0.4 s CPU-bound build in a thread, and never does without it."""
    threadbuild.install(threaded)
    record, ticks = {}, []

    async def main():
        ctx = _context(_app(record, busy=0.4))
        running = True

        async def ticker():
            while running:
                ticks.append(time.perf_counter())
                await asyncio.sleep(0.005)

        task = asyncio.ensure_future(ticker())
        await asyncio.sleep(0.02)
        before = len(ticks)
        await ctx.create_session_if_needed("busy")
        during = len(ticks) - before
        running = False
        await task
        return during

    try:
        during = asyncio.run(main())
    finally:
        threadbuild.install(False)
    if threaded:
        assert during >= 3, during
    else:
        assert during <= 1, during  # the control: built on the loop, nothing else runs meanwhile


def test_a_build_that_fails_raises_and_leaves_no_pending_session(installed):
    record = {}
    fail = [RuntimeError("page broke")]

    async def main():
        ctx = _context(_app(record, fail=fail))
        with pytest.raises(RuntimeError, match="page broke"):
            await ctx.create_session_if_needed("s2")
        assert "s2" not in ctx._pending_sessions and ctx.get_session is not None
        return await ctx.create_session_if_needed("s2")  # the next attempt builds again and works

    session = asyncio.run(main())
    assert len(record["threads"]) == 2 and [r.text for r in session.document.roots] == ["built"]


def test_the_switch_interval_is_restored_after_builds(installed):
    import sys

    before = sys.getswitchinterval()

    async def main():
        ctx = _context(_app({}, busy=0.05))
        await asyncio.gather(*(ctx.create_session_if_needed(f"s{k}") for k in range(3)))

    asyncio.run(main())
    assert sys.getswitchinterval() == before


@pytest.mark.parametrize("raw", ["2", "yes", "true", "-1"])
def test_a_bad_setting_in_the_environment_is_refused_naming_it(raw):
    with pytest.raises(ValueError, match="RNN_BUILD_IN_THREAD: got"):
        threadbuild.enabled({"RNN_BUILD_IN_THREAD": raw})


def test_the_setting_defaults_to_on_and_can_be_turned_off():
    assert threadbuild.enabled({}) and not threadbuild.enabled({"RNN_BUILD_IN_THREAD": "0"})
