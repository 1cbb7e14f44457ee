"""Heavy work under load on 127.0.0.1: trainers of /bptt, /crnn and /applications at a time wait their turn in
the worker pool (and say so) without stalling other sessions; every page hands its memory back when its
sessions close; one client's sessions are limited, with a readable refusal.

The server is this module's own (``serve.py --no-course``, with Bokeh told to discard closed sessions after
0.5 s instead of 15-30 s, and a per-client limit of ``LIMIT``), so the tests can read its memory and wait for
closed sessions briefly. No wall-time constant is asserted: each "during" time is compared with its own
baseline, generously (at most 20 times it, plus 5 s of slack for a busy 2-core machine), and memory kept
after closing is compared with what the same sessions held while open, beside the trivial home page.
Memory is read once the server has handed it back with no session open (it prints a probe line after each
``return_memory``), never after a fixed wait.
Closing the tabs while they train must leave no traceback in the server log (checked at the end).
"""

from __future__ import annotations

import asyncio
import os
import re
import statistics
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from tornado.websocket import websocket_connect

from .conftest import DISCONNECT_ERRORS, ROOT, _free_port, tracebacks
from .test_pages import wait_text

pytestmark = pytest.mark.browser

TRAINERS = 3  # more than the pool's workers on 2 cores (1), so some must queue
LIGHT_TRAINERS = 4  # digit-sequence training at the pages' sizes takes 2-10 s of CPU each
LARGEST = "/bptt?T=100&H=64&per_tick=50&kind=lstm"
LIMIT = 40  # sessions per client address on this module's server (every test here comes from 127.0.0.1)
SESSIONS = 4  # sessions open at once per page and round in the memory test
ROUNDS = 4  # the first one sets the baseline
RETURNED = "test probe: memory returned"  # printed by LAUNCH after each return_memory, with the sessions open
LAUNCH = ("import sys, panel as pn, serve\n"
          "from simulator.app import admission\n"
          "real = pn.serve\n"
          "pn.serve = lambda *a, **k: real(*a, check_unused_sessions_milliseconds=500, "
          "unused_session_lifetime_milliseconds=500, **k)\n"
          "real_return = admission.Admission._return\n"
          "def probed(self):\n"
          "    real_return(self)\n"
          f"    print('{RETURNED}, sessions open:', self.limit.count('127.0.0.1'), flush=True)\n"
          "admission.Admission._return = probed\n"
          "serve.main(sys.argv[1:])\n")


@pytest.fixture(scope="module")
def own_server(tmp_path_factory):
    """(base URL, pid, log path) of a fresh ``serve.py --no-course``; after the module its log must hold no
    traceback."""
    port = _free_port()
    log_path = tmp_path_factory.mktemp("load-server") / "server.log"
    log = open(log_path, "w")  # noqa: SIM115 - closed after the process ends
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "RNN_APP_SESSIONS_PER_CLIENT": str(LIMIT)}
    proc = subprocess.Popen([sys.executable, "-c", LAUNCH, "--port", str(port), "--no-course"], cwd=ROOT,
                            stdout=log, stderr=subprocess.STDOUT, env=env)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 240  # a liveness bound for a start on a loaded 2-core machine
    while True:
        try:
            urllib.request.urlopen(base + "/", timeout=5).read()
            break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                raise RuntimeError(f"serve.py did not start: {log_path.read_text()[-2000:]}") from None
            time.sleep(0.3)
    yield base, proc.pid, log_path
    proc.terminate()
    proc.wait(timeout=30)
    log.close()
    text = log_path.read_text()
    bad = [tb for tb in tracebacks(text) if not tb.endswith(DISCONNECT_ERRORS)]
    assert not bad, "the server logged a traceback:\n" + "\n\n".join(bad)[:6000]


# ----------------------------------------------------------------------------- measuring
def _home(server: str) -> float:
    start = time.perf_counter()
    urllib.request.urlopen(server + "/", timeout=120).read()
    return time.perf_counter() - start


def _step(page, t: int) -> float:
    start = time.perf_counter()
    page.get_by_role("button", name="Step ▶").click()
    wait_text(page, ".rnn-t", f"t = {t}")
    return time.perf_counter() - start


def _generous(baseline: float) -> float:
    return 20 * baseline + 5.0


def _rss_mb(pid: int) -> float:
    return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6


def _any_queued(tabs) -> bool:
    for tab in tabs:
        for selector in (".bptt-queue", ".rnn-queue"):
            loc = tab.locator(selector)
            if loc.count() and "in the queue" in loc.first.inner_text():
                return True
    return False


def _wait_queued(tabs, seconds: float = 90) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if _any_queued(tabs):
            return True
        time.sleep(0.3)
    return False


# ----------------------------------------------------------------------------- a session over the protocol
class Session:
    """One Bokeh session the way a browser opens it: GET the page, open its websocket, pull the document."""

    def __init__(self, base: str, path: str):
        self.base, self.path, self.ws, self.html, self.doc = base, path, None, b"", ""

    async def open(self) -> Session:
        self.html = await asyncio.to_thread(lambda: urllib.request.urlopen(self.base + self.path, timeout=600).read())
        token = re.search(rb'"token":"([^"]+)"', self.html).group(1).decode()
        ws_url = self.base.replace("http", "ws") + self.path.split("?")[0].rstrip("/") + "/ws"
        self.ws = await websocket_connect(ws_url, subprotocols=["bokeh", token], max_message_size=1 << 30)
        await self._read()  # ACK
        for frame in ('{"msgid": "1", "msgtype": "PULL-DOC-REQ"}', "{}", "{}"):
            await self.ws.write_message(frame)
        while True:  # the reply is the document: the page has been built and sent
            header, content = await self._read()
            if '"PULL-DOC-REPLY"' in header:
                self.doc = content
                return self

    async def _read(self) -> tuple[str, str]:
        header = await self.ws.read_message()
        await self.ws.read_message()  # metadata
        content = await self.ws.read_message()
        for _ in range(int(re.search(r'"num_buffers":\s*(\d+)', header).group(1)) if "num_buffers" in header else 0):
            await self.ws.read_message()  # a buffer's id, then its bytes
            await self.ws.read_message()
        return header, content

    def close(self) -> None:
        if self.ws is not None:
            self.ws.close()


class _Loop:
    """An asyncio loop in its own thread (Playwright's sync API already runs one in the test's thread)."""

    def __init__(self):
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def run(self, coro, timeout: float = 900):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def close_all(self, sessions) -> None:
        async def close():
            for session in sessions:
                session.close()
        self.run(close())

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


@pytest.fixture
def aio():
    loop = _Loop()
    yield loop
    loop.stop()


async def _open_many(base: str, path: str, n: int) -> list[Session]:
    return list(await asyncio.gather(*(Session(base, path).open() for _ in range(n))))


def _returned_with_none_open(log_path: Path, offset: int, seconds: float = 60) -> None:
    """Wait until the server has handed memory back with no session open, after byte ``offset`` of its log.

    The condition the memory test waits for, instead of a fixed time: Bokeh has discarded every closed session
    (each one's destroy hooks ran, ``admission`` counted it out) and the ``return_memory`` scheduled after the
    last of them (a full collection and ``malloc_trim``) has run. ``seconds`` is a liveness bound only.
    """
    deadline = time.monotonic() + seconds
    while True:
        with open(log_path, "rb") as log:
            log.seek(offset)
            if f"{RETURNED}, sessions open: 0\n".encode() in log.read():
                return
        assert time.monotonic() < deadline, f"the server never handed memory back with no session open ({seconds} s)"
        time.sleep(0.1)


# ----------------------------------------------------------------------------- trainers flood the pool
def _cell_baselines(base: str, cell) -> tuple[float, float]:
    cell.goto(base + "/cell")
    wait_text(cell, ".rnn-t", "t = 0")
    return statistics.median(_home(base) for _ in range(3)), statistics.median(_step(cell, t) for t in (1, 2, 3))


def test_bptt_trainers_at_the_largest_settings_do_not_stall_other_sessions(own_server, browser):
    base, pid, _ = own_server
    cell = browser.new_page(viewport={"width": 1400, "height": 1000})
    tabs = []
    try:
        home_base, step_base = _cell_baselines(base, cell)
        for _ in range(TRAINERS):
            tab = browser.new_page(viewport={"width": 1400, "height": 1000})
            tab.goto(base + LARGEST, timeout=180000)  # building a page at these settings stays on the loop
            tab.locator(".bptt-iteration").first.wait_for(timeout=180000)
            tab.locator(".bptt-play button").first.click()
            tabs.append(tab)
        for tab in tabs:
            tab.get_by_role("button", name="❚❚ Pause").wait_for(timeout=60000)
        assert _wait_queued(tabs), "no trainer was told it waits in the queue"

        home_during = statistics.median(_home(base) for _ in range(3))
        step_during = statistics.median(_step(cell, t) for t in (4, 5, 6))
        assert home_during <= _generous(home_base), (home_base, home_during)
        assert step_during <= _generous(step_base), (step_base, step_during)

        start = time.perf_counter()  # Pause answers at once; the running batch finishes in the background
        tabs[0].locator(".bptt-play button").first.click()
        tabs[0].get_by_role("button", name="▶ Train").wait_for(timeout=60000)
        assert time.perf_counter() - start <= _generous(step_base)

        start = time.perf_counter()  # a setting change while others train: computed in the pool, shown after
        tabs[1].locator(".bptt-play button").first.click()
        tabs[1].get_by_role("button", name="▶ Train").wait_for(timeout=60000)
        field = tabs[1].get_by_label("Seed", exact=True)
        field.fill("5")
        field.press("Enter")
        tabs[1].wait_for_function("() => window.location.search.includes('seed=5')", timeout=60000)
        deadline = time.monotonic() + 600  # a liveness bound: the recompute waits behind the other trainer's batch
        while tabs[1].locator(".bptt-iteration").first.inner_text().strip() != "0":
            assert time.monotonic() < deadline, "the new settings' run was never shown"
            time.sleep(0.5)
        step_after = statistics.median(_step(cell, t) for t in (7, 8))
        assert step_after <= _generous(step_base), (step_base, step_after)
    finally:
        for tab in tabs:  # closed while training: the server must not log a traceback
            tab.close()
        cell.close()
    time.sleep(2)
    assert _home(base) <= _generous(home_base)


@pytest.mark.parametrize("path", ["/crnn?task=digits", "/applications?task=digits"])
def test_crnn_and_applications_trainers_take_turns_and_stop_answers(own_server, browser, path):
    """Do trainers of the CRNN and Applications pages queue in the same pool (one says its place), does Stop
    answer at once and end with evaluated weights, and do the home page and a Cell step stay unstalled?"""
    base, pid, _ = own_server
    cell = browser.new_page(viewport={"width": 1400, "height": 1000})
    tabs = []
    try:
        home_base, step_base = _cell_baselines(base, cell)
        for _ in range(LIGHT_TRAINERS):
            tab = browser.new_page(viewport={"width": 1400, "height": 1000})
            tab.goto(base + path, timeout=180000)
            tab.locator(".rnn-train button").first.wait_for(timeout=180000)
            tabs.append(tab)
        for tab in tabs:  # in quick succession, as a class told "now press Train"
            tab.locator(".rnn-train button").first.click()
        assert _wait_queued(tabs), "no trainer was told it waits in the queue"

        stoppable = [t for t in reversed(tabs) if t.get_by_role("button", name="Stop").is_enabled()]
        assert stoppable, "every trainer had finished before Stop could be pressed"
        start = time.perf_counter()
        stoppable[0].get_by_role("button", name="Stop").click()
        wait_text(stoppable[0], ".rnn-status", "Stopping", contains=True)
        assert time.perf_counter() - start <= _generous(step_base)

        home_during = statistics.median(_home(base) for _ in range(3))
        step_during = statistics.median(_step(cell, t) for t in (4, 5, 6))
        assert home_during <= _generous(home_base), (home_base, home_during)
        assert step_during <= _generous(step_base), (step_base, step_during)
        wait_text(stoppable[0], ".rnn-status", "Trained:", contains=True)  # evaluated in its turn, then shown
        deadline = time.monotonic() + 600  # a liveness bound, not a speed claim: every trainer gets its turns
        while not all("Trained:" in t.locator(".rnn-status").first.inner_text() for t in tabs):
            assert time.monotonic() < deadline, [t.locator(".rnn-status").first.inner_text() for t in tabs]
            time.sleep(1)
    finally:
        for tab in tabs:
            tab.close()
        cell.close()
    time.sleep(2)
    assert _home(base) <= _generous(home_base)


# ----------------------------------------------------------------------------- memory and the session limit
PAGES = ["/", "/cell", "/architectures", "/bptt", "/crnn", "/applications"]


@pytest.mark.slow
def test_every_page_hands_its_memory_back_when_its_sessions_close(own_server, aio):
    """For each page, open ``SESSIONS`` sessions and close them, ``ROUNDS`` times: is every round's memory
    handed back, so that later rounds reuse it and the server's RSS does not grow from round to round?

    The baseline is the RSS after the first round: that round loads the page's modules and caches and raises
    the heap's high-water mark, which glibc keeps in part even when every object is freed (RSS then stays
    above its start without any leak). A page whose closed sessions stay in memory grows by about what a
    round holds at every round: two further rounds would add twice ``held``; the test allows half of one
    round in total, plus what the trivial home page's rounds move, plus 2 MB of noise.
    """
    base, pid, log_path = own_server

    async def rounds(path: str) -> tuple[float, list[float]]:
        held, after = 0.0, []
        for _ in range(ROUNDS):
            before = _rss_mb(pid)
            sessions = await _open_many(base, path, SESSIONS)
            held = max(held, _rss_mb(pid) - before)
            offset = log_path.stat().st_size
            for session in sessions:
                session.close()
            await asyncio.to_thread(_returned_with_none_open, log_path, offset)  # discarded, memory returned
            after.append(_rss_mb(pid))
        return held, [a - after[0] for a in after[1:]]

    results = {path: aio.run(rounds(path)) for path in PAGES}
    report = {p: (round(h, 1), [round(k, 1) for k in kept]) for p, (h, kept) in results.items()}
    print("memory per page, MB (held by a round; RSS after each later round minus after the first):", report)
    slack = max(0.0, *(abs(k) for k in results["/"][1])) + 2.0
    for path in PAGES[1:]:
        held, kept = results[path]
        assert held > 0, f"{path}: its sessions held nothing while open? {report}"
        assert kept[-1] <= held / 2 + slack, f"{path}: RSS grew round after round (MB held, kept): {report}"


def test_one_client_gets_at_most_its_sessions_and_a_readable_refusal(own_server, browser, aio):
    """Is the (LIMIT+1)-th session of one address a refusal page that says why and what to do, and does a
    closed session free a place again (sessions are counted, not requests)?"""
    base, _, _ = own_server
    sessions = aio.run(_open_many(base, "/", LIMIT))
    try:
        assert not any("rnn-refused" in s.doc for s in sessions)
        page = browser.new_page()
        try:
            page.goto(base + "/cell")
            wait_text(page, ".rnn-refused h1", "Too many open pages from your network address")
            # textContent, as wait_text reads it: innerText is '' while the page's styles still hide the pane
            wait_text(page, ".rnn-refused", "Close some tabs", contains=True)
            text = page.locator(".rnn-refused").first.text_content()
            assert f"already has {LIMIT} simulator pages open" in text and f"at most {LIMIT}" in text
            assert "Close some tabs" in text and "RNN_APP_SESSIONS_PER_CLIENT" in text
            assert page.locator(".rnn-t").count() == 0  # the page itself was never built
        finally:
            page.close()
        for _ in range(3):  # requests that open no session are not refused
            with pytest.raises(urllib.error.HTTPError) as missing:
                urllib.request.urlopen(base + "/no-such-page", timeout=60)
            assert missing.value.code == 404 and b"there is no page at" in missing.value.read()
        aio.close_all([sessions.pop()])
        deadline = time.monotonic() + 30
        while True:  # the closed session is discarded within about a second on this server
            again = aio.run(Session(base, "/cell").open())
            aio.close_all([again])
            if "rnn-refused" not in again.doc:
                assert "rnn-t" in again.doc  # admitted: the Cell page itself
                break
            assert time.monotonic() < deadline, "a closed session never freed its place"
            time.sleep(1)
    finally:
        aio.close_all(sessions)
