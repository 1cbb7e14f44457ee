"""Admit new sessions at a bounded rate, so the students already in keep their latency while a class joins.

A session is built when its websocket opens (``pagehtml``), on the event loop that serves every session of
the process: about 0.4 s of CPU on /cell during which nobody else's message is answered. Left alone, a burst
of arrivals queues all its builds ahead of every other message (50 students opening the page at once: 20 s of
builds before anyone's next click is answered). ``GatedWSHandler`` makes each websocket wait for its turn
(``JoinGate.turn``) before Bokeh builds its session: one build at a time per process, and after a build of
``b`` seconds the next starts no sooner than ``b * (1 / share - 1)`` later, so builds take at most ``share``
of the loop's time (``RNN_JOIN_SHARE``, default 0.5) and any other message waits behind one build at most.
The time a build spent asleep so that the loop could answer others (``buildyield``) is not counted in ``b``.

A student whose build waits is never facing a blank or frozen tab: the page's HTML comes at once (it builds
nothing) and says "Joining…", with the number of classmates whose pages this process is building first; the
notice goes as soon as the page is drawn.

Not covered: a build is not split, so a message that arrives during one still waits for it (up to about
0.4 s of CPU on /cell); the gate is per process (with ``--num-procs N``, N builds may run at once, one per
process, as the cores allow); the count in the notice is this process's, and the websocket may be served by
another.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import os
import time

from bokeh.server import urls
from panel.io import server as pn_server

from simulator.app import buildyield, sessionbinding

SHARE = 0.5
MIN_GAP = 0.001  # s between two builds, whatever the share


def share_from_env(environ: dict[str, str] | None = None) -> float:
    """``RNN_JOIN_SHARE`` as a number in (0, 1] (default ``SHARE``); ValueError naming it otherwise."""
    raw = (os.environ if environ is None else environ).get("RNN_JOIN_SHARE", "").strip()
    if not raw:
        return SHARE
    try:
        value = float(raw)
    except ValueError:
        value = float("nan")
    if not 0 < value <= 1:
        raise ValueError(f"RNN_JOIN_SHARE: got {raw[:40]!r}; expected a number above 0 and at most 1 (the share "
                         "of a server process's time that building new pages may take)")
    return value


class JoinGate:
    """One session build at a time, taking at most ``share`` of the time: ``async with gate.turn(): build()``."""

    def __init__(self, share: float = SHARE, clock=time.monotonic, sleep=asyncio.sleep, waited=None):
        if not 0 < share <= 1:
            raise ValueError(f"share: got {share!r}; expected a number above 0 and at most 1")
        self.share, self.clock, self.sleep = share, clock, sleep
        # seconds builds have spent stepping aside for the loop so far (buildyield): not the build's own time
        self.waited = waited if waited is not None else (lambda: buildyield.STATS["waited_s"])
        self.waiting = 0  # builds admitted or waiting in this process, the current one included
        self.built = 0
        self._lock: asyncio.Lock | None = None
        self._next = 0.0  # the clock time before which no build may start

    @contextlib.asynccontextmanager
    async def turn(self):
        if self._lock is None:
            self._lock = asyncio.Lock()  # NB: made in the running loop, after the fork
        self.waiting += 1
        try:
            async with self._lock:
                # NB: at least one poll of the sockets between two builds, so that the messages which arrived
                # during the last build are answered before the next one starts (a zero sleep would not poll)
                await self.sleep(max(self._next - self.clock(), MIN_GAP))
                start, waited = self.clock(), self.waited()
                try:
                    yield
                finally:
                    end = self.clock()
                    own = max(0.0, (end - start) - (self.waited() - waited))  # NB: asleep for the loop: not its own
                    self._next = end + own * (1 / self.share - 1)
                    self.built += 1
        finally:
            self.waiting -= 1


GATE = JoinGate()


class GatedWSHandler(pn_server.WSHandler):
    """Panel's websocket handler whose session is built only when the process's ``GATE`` admits it."""

    async def _async_open(self, token: str) -> None:
        if sessionbinding.refused(self, token):  # another sign-in's page: never joined (sessionbinding.py)
            return
        async with GATE.turn():
            await super()._async_open(token)


NOTICE = ('<div id="rnn-joining" role="status" aria-live="polite" style="font:16px/1.5 sans-serif;max-width:40em;'
          'margin:3em auto;color:#1a1a1a"><b>Joining…</b> the server is building your page{ahead}. It appears here '
          "by itself; there is no need to reload.</div><script>(function () {{ const timer = setInterval(function () "
          "{{ const B = window.Bokeh; if (B && B.documents && B.documents.length) {{ const el = document."
          'getElementById("rnn-joining"); if (el) el.remove(); clearInterval(timer); }} }}, 100); }})();</script>')


def with_notice(page: str, ahead: int | None = None) -> str:
    """``page`` with the "Joining…" notice first in its body (``ahead``: builds queued in this process)."""
    ahead = GATE.waiting if ahead is None else ahead
    more = (f" (after those of {ahead} classmates who arrived just before you)" if ahead > 1 else
            " (after that of a classmate who arrived just before you)" if ahead == 1 else "")
    return page.replace("<body>", "<body>" + NOTICE.format(ahead=html.escape(more)), 1)


def install_join_gate(share: float | None = None) -> None:
    """Open every app's websockets through ``GatedWSHandler`` (call before ``pn.serve``; again is harmless)."""
    GATE.share = share_from_env() if share is None else JoinGate(share).share
    for k, (pattern, handler) in enumerate(urls.per_app_patterns):
        if pattern == r"/ws" and issubclass(handler, pn_server.WSHandler) and handler is not GatedWSHandler:
            urls.per_app_patterns[k] = (pattern, GatedWSHandler)
