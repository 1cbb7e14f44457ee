"""Is a new session's page built in a thread and handed back to the loop, the loop answering meanwhile?"""

import asyncio
import contextvars
import importlib
import json
import re
import sys
import threading
import time
import types
import urllib.request
import uuid

import panel as pn
import pytest
from bokeh.application import Application as BokehApplication
from bokeh.application.handlers.code import CodeHandler
from bokeh.application.handlers.function import FunctionHandler
from bokeh.models import Div
from bokeh.protocol import Protocol
from bokeh.server.contexts import ApplicationContext
from panel.io.application import Application
from panel.io.state import state
from tornado.ioloop import IOLoop
from tornado.websocket import websocket_connect

from simulator.app import threadbuild
from tests.app.serving import serving

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
        record.setdefault("curdocs", []).append(state.curdoc is doc)
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
    assert record["curdocs"] == [True]  # Panel's curdoc is the new document, never Bokeh's process-wide stack
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


def test_a_script_application_is_built_on_the_loop(installed):
    """A CodeHandler patches Bokeh's process-wide curdoc stack, which the loop's callbacks use: not in a thread."""
    source = ("import threading\nfrom bokeh.io import curdoc\nfrom bokeh.models import Div\n"
              "curdoc().add_root(Div(text=str(threading.get_ident())))\n")

    async def main():
        ctx = ApplicationContext(Application(CodeHandler(source=source, filename="page.py")), io_loop=IOLoop.current())
        return await ctx.create_session_if_needed("script"), threading.get_ident()

    session, loop_thread = asyncio.run(main())
    assert [r.text for r in session.document.roots] == [str(loop_thread)]


def _walks_while_another_thread_adds(views: dict, seconds: float) -> int:
    """Walk ``list(views.items())`` as Panel's ``_cleanup_doc`` does while a thread adds keys, with a Python
    ``gc.callbacks`` entry as ``gcpolicy`` installs: the walks that raised RuntimeError."""
    import gc

    from simulator.app import gcpolicy

    stop, errors = threading.Event(), []

    def build():  # stands for a page build adding its roots to state._views
        k = 0
        while not stop.is_set():
            views[f"new{k}"] = None
            k += 1
            if k % 1000 == 0:
                time.sleep(0)

    switch = sys.getswitchinterval()
    sys.setswitchinterval(threadbuild.SWITCH_DURING_BUILD)
    added = gcpolicy._timed not in gc.callbacks
    if added:
        gc.callbacks.append(gcpolicy._timed)
    thread = threading.Thread(target=build)
    thread.start()
    try:
        end = time.monotonic() + seconds
        while time.monotonic() < end and not (errors and type(views) is dict):
            try:
                list(views.items())
            except RuntimeError as exc:
                errors.append(exc)
    finally:
        stop.set()
        thread.join()
        sys.setswitchinterval(switch)
        if added:
            gc.callbacks.remove(gcpolicy._timed)
    return len(errors)


def test_panel_views_can_be_walked_while_a_build_adds_to_them():
    """The control: a plain dict's walk is broken by the adding thread (a collection's callback hands over the
    GIL); a SnapshotDict's never is."""
    rows = {f"p{k}": (object(), object(), None, None) for k in range(3000)}
    assert _walks_while_another_thread_adds(dict(rows), 5.0) > 0
    assert _walks_while_another_thread_adds(threadbuild.SnapshotDict(rows), 1.0) == 0


def test_installing_guards_panel_views_keeping_what_they_hold(installed):
    assert isinstance(state._views, threadbuild.SnapshotDict)
    state._views["threadbuild-test"] = ("pane", "root", "doc", None)
    try:
        threadbuild.guard_shared_state()  # again: the same dict
        assert state._views["threadbuild-test"][0] == "pane" and "threadbuild-test" in dict(state._views.items())
    finally:
        state._views.pop("threadbuild-test", None)


@pytest.mark.parametrize("raw", ["2", "yes", "true", "-1"])
def test_a_bad_setting_in_the_environment_is_refused_naming_it(raw):
    with pytest.raises(ValueError, match="RNN_BUILD_IN_THREAD: got"):
        threadbuild.enabled({"RNN_BUILD_IN_THREAD": raw})


def test_the_setting_defaults_to_on_and_can_be_turned_off():
    assert threadbuild.enabled({}) and not threadbuild.enabled({"RNN_BUILD_IN_THREAD": "0"})


class _Connection:
    protocol = Protocol()


def _normalised(reply) -> tuple[str, list[bytes]]:
    """A pull reply's content as JSON text, its buffers' ids replaced by their order, and the buffers' bytes."""
    text = reply.content_json
    for k, buffer in enumerate(reply.buffers):
        text = text.replace(f'"{buffer.id}"', f'"buffer-{k}"')
    return text, [bytes(b.data) for b in reply.buffers]


async def _pull(session, handle=None) -> tuple[str, list[bytes]]:
    """A pull as the browser's first message asks it (through ``handle``, default the session's own)."""
    request = Protocol().create("PULL-DOC-REQ")
    return _normalised(await (handle or session._handle_pull)(request, _Connection()))


def _serve_page(create) -> BokehApplication:
    return BokehApplication(FunctionHandler(lambda doc: pn.panel(create()).server_doc(doc)))


def _request(path: str):
    return types.SimpleNamespace(arguments={}, cookies={}, headers={}, uri=path, path=path, query="",
                                 host="127.0.0.1", protocol="http", remote_ip="127.0.0.1")


@pytest.mark.parametrize("page", ["cell", "bptt"])
def test_the_first_pull_is_the_build_threads_serialisation_of_the_same_document(installed, page):
    """The reply made in the build thread is the one Bokeh would make at pull time: same JSON, same buffers."""
    module = importlib.import_module(f"simulator.app.pages.{page}.view")

    async def main():
        ctx = _context(_serve_page(module.create))
        session = await ctx.create_session_if_needed(page, request=_request(f"/{page}"))
        before = dict(threadbuild.PULLS)
        first = await _pull(session)
        prebuilt = threadbuild.PULLS["prebuilt"] - before["prebuilt"]
        bokeh_now = await _pull(session, threadbuild._ORIGINAL_PULL.__get__(session))  # Bokeh's own, now
        again = await _pull(session)  # a second pull (a reconnect): serialised as Bokeh always does
        return first, prebuilt, bokeh_now, again, threadbuild.PULLS["fresh"] - before["fresh"]

    first, prebuilt, bokeh_now, again, fresh = asyncio.run(main())
    assert prebuilt == 1 and fresh == 1
    assert first == bokeh_now == again


def _changed_after_build(change) -> str:
    async def main():
        session = await _context(_app({})).create_session_if_needed("changed")
        await session.with_document_locked(change, session.document)  # as a callback changes it
        return (await _pull(session))[0]
    return asyncio.run(main())


def test_a_document_changed_after_its_build_is_serialised_again_at_pull_time(installed):
    def change(doc):
        doc.roots[0].text = "changed after the build"
    content = _changed_after_build(change)
    assert "changed after the build" in content and '"built"' not in content


def test_a_document_given_a_root_without_a_change_event_is_serialised_again(installed):
    def change(doc):
        doc._roots.append(Div(text="a second root"))  # no event reaches on_change: the fingerprint sees it
    assert "a second root" in _changed_after_build(change)


def test_a_held_document_is_serialised_again_at_pull_time(installed):
    def change(doc):
        doc.hold("combine")
        doc.roots[0].text = "held change"
    assert "held change" in _changed_after_build(change)


# --- a real server: builds in the thread while the loop steps, loads and destroys other sessions ----------------

def _button(doc: dict, label: str) -> str | None:
    """The id of the button labelled ``label`` in a pulled document."""
    stack = [doc]
    while stack:
        m = stack.pop()
        if isinstance(m, dict):
            if m.get("type") == "object" and m.get("attributes", {}).get("label") == label:
                return m["id"]
            stack.extend(m.values())
        elif isinstance(m, list):
            stack.extend(m)
    return None


class _Student:
    """One tab: GET the page, open its websocket, pull the document, say it is drawn, step, close."""

    def __init__(self, base: str, path: str):
        self.base, self.path, self.ws, self.doc, self.replies = base, path, None, None, 0

    async def _send(self, msgtype: str, content: dict) -> None:
        for part in ({"msgid": uuid.uuid4().hex, "msgtype": msgtype}, {}, content):
            await self.ws.write_message(json.dumps(part))

    async def _frame(self) -> dict | None:
        frames = []
        for _ in range(3):
            frame = await self.ws.read_message()
            if frame is None:
                return None
            frames.append(frame)
        header = json.loads(frames[0])
        for _ in range(2 * header.get("num_buffers", 0)):
            await self.ws.read_message()
        return {"header": header, "content": json.loads(frames[2])}

    async def join(self) -> None:
        url = self.base + self.path
        html = await asyncio.to_thread(lambda: urllib.request.urlopen(url, timeout=120).read())
        token = re.search(rb'"token":"([^"]+)"', html).group(1).decode()
        self.ws = await websocket_connect(self.base.replace("http", "ws") + self.path + "/ws",
                                          subprotocols=["bokeh", token], max_message_size=1 << 30)
        await self._frame()  # ACK
        await self._send("PULL-DOC-REQ", {})
        while self.doc is None:
            msg = await asyncio.wait_for(self._frame(), 120)
            if msg is None:
                raise AssertionError(f"{self.path}: the socket closed before the document came")
            if msg["header"]["msgtype"] == "PULL-DOC-REPLY":
                self.doc = msg["content"]["doc"]
        # BokehJS says the page is drawn: Panel runs the page's onload callbacks (state._onload) on the loop
        await self._send("PATCH-DOC", {"events": [{"kind": "MessageSent", "msg_type": "bokeh_event", "msg_data": {
            "type": "event", "name": "document_ready", "values": {"type": "map"}}}]})

    async def step(self, times: int) -> None:
        button = _button(self.doc, "Step ▶")
        for _ in range(times):
            if button is not None:
                event = {"type": "event", "name": "button_click",
                         "values": {"type": "map", "entries": [["model", {"id": button}]]}}
                await self._send("PATCH-DOC", {"events": [
                    {"kind": "MessageSent", "msg_type": "bokeh_event", "msg_data": event}]})
            await asyncio.sleep(0.05)
        try:  # whatever the server sent back meanwhile (the steps' patches), without waiting long for more
            while await asyncio.wait_for(self._frame(), 0.2) is not None:
                self.replies += 1
        except TimeoutError:
            pass

    def close(self) -> None:
        if self.ws is not None:
            self.ws.close()


@pytest.fixture(scope="module")
def one_process(tmp_path_factory):
    log_path = tmp_path_factory.mktemp("threadbuild") / "server.log"
    with serving(["--no-course"], log_path, env={"RNN_BUILD_IN_THREAD": "1"}) as base:
        yield base, log_path


PAGES = ("/cell", "/architectures", "/bptt")
BAD = re.compile(r"Traceback|RuntimeError|changed size during iteration|AssertionError")


@pytest.mark.slow
def test_many_sessions_built_in_the_thread_while_others_step_load_and_close(one_process):
    """Four waves of ten tabs over the three pages: each wave is built while the wave before it steps (its loop
    callbacks, onload callbacks and patches run meanwhile) and the one before that is closed (Bokeh destroys
    unused sessions every 17 s, Panel cleaning up its state as builds go on). No error in the server's log, and
    every tab got its document."""
    base, log_path = one_process
    for path in PAGES:  # the pages are known (two renders each: pagehtml keeps them), as after a lecture's start
        for _ in range(2):
            urllib.request.urlopen(base + path, timeout=120).read()
    start, joined = time.monotonic(), []

    async def a_class():
        stepping: list[_Student] = []
        for wave in range(4):
            new = [_Student(base, PAGES[(wave + k) % 3]) for k in range(10)]
            results = await asyncio.gather(*(s.join() for s in new),
                                           *(s.step(12) for s in stepping), return_exceptions=True)
            errors = [r for r in results if isinstance(r, BaseException)]
            assert not errors, errors
            joined.extend(new)
            for s in stepping:
                s.close()
            stepping = new
        await asyncio.gather(*(s.step(6) for s in stepping))
        for s in stepping:
            s.close()
        # the sessions closed last are destroyed by Bokeh's next sweep (every 17 s, 15 s unused): build a few
        # more while it runs
        while time.monotonic() - start < 55:
            more = [_Student(base, PAGES[k % 3]) for k in range(3)]
            await asyncio.gather(*(s.join() for s in more))
            for s in more:
                s.close()
            joined.extend(more)
            await asyncio.sleep(1.5)

    asyncio.run(a_class())
    time.sleep(1)
    text = log_path.read_text()
    assert not BAD.search(text), text[max(0, BAD.search(text).start() - 3000):][:6000]
    assert len(joined) >= 40 and all(s.doc and s.doc.get("roots") for s in joined)
    assert sum(s.replies for s in joined) > 0  # the steps were answered (their patches came back)
    assert "session built by process" in text
