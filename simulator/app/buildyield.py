"""A page build in its worker thread gives way while the event loop has work: students first, builds in idle time.

``threadbuild`` builds a new session's page in a thread beside the event loop. The two share the GIL, which
Python hands from one to the other every switch interval (1 ms during a build), so a message that arrives
while a build runs is handled at about half speed. With a class arriving that is much of the loop's time: at
N = 200 on /cell (one late arrival every 1.5 s, about 0.3 s of build CPU each), step p95 was 95 ms with nobody
arriving and 265 ms with the arrivals (docs/classroom_load.md).

Here the loop says when it is idle and the build waits for it:

- ``watch(loop)`` wraps the loop's selector's ``select``: its ``Idle.idle`` is set just before the loop
  waits for its sockets and cleared as soon as the wait returns (the loop then has a message or a timer); a
  wait of timeout 0 is a poll between callbacks that are ready, and does not count as idle.
- A thread building for that loop (``with building(watch(loop)):``) passes a checkpoint at every Bokeh model
  (``HasProps.__init__``) and every param object (``Parameterized.__init__``) it creates: about one per
  millisecond of a build, the longest gaps 10-100 ms (NumPy, serialisation). At a checkpoint, while the loop
  is not idle, the thread sleeps in steps of ``STEP`` seconds, which releases the GIL to the loop, for at
  most ``max_wait`` seconds per checkpoint (``RNN_BUILD_YIELD_MS``, default 20; 0 turns this off): on a loop
  that is never idle a build still advances, by one checkpoint's work per ``max_wait``, and ``joining``'s
  notice tells the student the page is coming.

A build waits at most ``BUILD_BUDGET`` seconds in all (5 s); after that it shares the GIL as before. So a loop
kept busy on purpose (a client flooding it with messages) delays a new student's page by at most that much
more, and never starves it.

The loop then loses at most one switch interval to a build per busy stretch (the build holds the GIL when a
socket wakes the loop) plus the work up to the build's next checkpoint.

Not covered: a build's stretches without checkpoints (NumPy, the first serialisation) still share the GIL as
before; work the loop hands to other threads is not seen as busy, nor are other loops of the process; a loop
without a selector (uvloop, Windows' proactor) is not watched (logged once), and builds then share the GIL as
they did before.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import threading
import time

import param
from bokeh.core.has_props import HasProps

log = logging.getLogger(__name__)
MAX_WAIT_MS = 20.0  # the default of RNN_BUILD_YIELD_MS: the longest a build waits at one checkpoint
STEP = 0.0005  # s: one sleep of a waiting build (releases the GIL; the loop's handling of one message is longer)
STATS = {"checkpoints_waited": 0, "waited_s": 0.0}  # this process's build threads, for tests and the log
BUILD_BUDGET = 5.0  # s: the most one build waits in all, after which it shares the GIL as before
_building: dict[int, _Build] = {}  # build thread ident -> the build it runs
_max_wait = MAX_WAIT_MS / 1000
_ORIGINAL_INITS = {HasProps: HasProps.__init__, param.Parameterized: param.Parameterized.__init__}
_warned_unwatchable = False


def max_wait_from_env(environ: dict[str, str] | None = None) -> float:
    """``RNN_BUILD_YIELD_MS`` in seconds (a number of ms, 0 to 1000; 0: off); ValueError naming it otherwise."""
    raw = (os.environ if environ is None else environ).get("RNN_BUILD_YIELD_MS", str(MAX_WAIT_MS)).strip()
    try:
        ms = float(raw)
    except ValueError:
        ms = float("nan")
    if not 0 <= ms <= 1000:  # NB: also refuses nan
        raise ValueError(f"RNN_BUILD_YIELD_MS: got {raw[:40]!r}; expected the milliseconds a page build waits for "
                         "a busy event loop at one checkpoint, 0 (off) to 1000, e.g. 20")
    return ms / 1000


class Idle:
    """Whether a watched loop is waiting for its sockets (written by the loop's thread only)."""

    __slots__ = ("idle",)

    def __init__(self):
        self.idle = True


class _Build:
    """One build in progress: the loop it gives way to and how long it has waited for it so far."""

    __slots__ = ("loop", "waited")

    def __init__(self, loop: Idle):
        self.loop, self.waited = loop, 0.0


def checkpoint() -> None:
    """In a build thread, while its loop has work: sleep (the GIL goes to the loop).

    At most ``max_wait`` at this checkpoint and ``BUILD_BUDGET`` in all for this build.
    """
    build = _building.get(threading.get_ident())
    if build is None or build.loop.idle or build.waited >= BUILD_BUDGET:
        return
    start = time.perf_counter()
    deadline = start + min(_max_wait, BUILD_BUDGET - build.waited)
    while not build.loop.idle and time.perf_counter() < deadline:
        time.sleep(STEP)
    waited = time.perf_counter() - start
    build.waited += waited
    STATS["checkpoints_waited"] += 1
    STATS["waited_s"] += waited


@contextlib.contextmanager
def building(loop: Idle | None):
    """The calling thread builds a page for ``loop`` (``watch``'s answer; None: not watched, no waits)."""
    ident = threading.get_ident()
    if loop is not None:
        _building[ident] = _Build(loop)
    try:
        yield
    finally:
        _building.pop(ident, None)


def watch(loop) -> Idle | None:
    """Wrap ``loop``'s selector (once) so its ``Idle`` says whether it waits for its sockets; None if it has none."""
    global _warned_unwatchable
    selector = getattr(loop, "_selector", None)
    if selector is None or not callable(getattr(selector, "select", None)):
        if not _warned_unwatchable:
            _warned_unwatchable = True
            log.warning("page builds share the GIL with the event loop: %s has no selector to watch",
                        type(loop).__name__)
        return None
    state = getattr(selector, "_rnn_idle", None)
    if state is not None:
        return state
    state = Idle()
    select = selector.select

    def watched_select(timeout=None):
        state.idle = timeout is None or timeout > 0  # NB: 0: the loop only polls, it has callbacks ready
        try:
            return select(timeout)
        finally:
            state.idle = False

    selector.select = watched_select
    selector._rnn_idle = state
    return state


def _with_checkpoint(init):
    @functools.wraps(init)
    def init_after_checkpoint(self, *args, **kwargs):
        checkpoint()
        init(self, *args, **kwargs)

    init_after_checkpoint._rnn_checkpoint = True
    return init_after_checkpoint


def install(max_wait: float | None = None) -> bool:
    """Checkpoints in model and param object creation, waiting at most ``max_wait`` s; True if installed.

    ``max_wait`` defaults to ``RNN_BUILD_YIELD_MS``; 0 uninstalls.
    """
    global _max_wait
    _max_wait = max_wait_from_env() if max_wait is None else float(max_wait)
    if _max_wait <= 0:
        uninstall()
        return False
    for cls, init in _ORIGINAL_INITS.items():
        if not getattr(cls.__init__, "_rnn_checkpoint", False):
            cls.__init__ = _with_checkpoint(init)
    return True


def uninstall() -> None:
    """Model and param object creation as they were (watched selectors stay watched: a flag nobody reads)."""
    for cls, init in _ORIGINAL_INITS.items():
        cls.__init__ = init
