"""Keep Python's cyclic garbage collector from stalling a server that holds many sessions.

A full collection walks every tracked object, and it runs on the event loop that serves every session of
the process: measured on /cell (2-core machine, CPU time), 180 ms for the start-up heap alone, 390 ms with
20 sessions and 740 ms with 60 (about 23,000 objects per session); at load, twice that in wall time. It
happens whenever the heap has grown by a quarter since the last one (so repeatedly while a class joins) and
whenever ``workpool.return_memory`` collects after sessions close.

Principle: what is known to be long-lived is not walked again. ``freeze_startup`` moves the start-up heap
(modules, routes) to the permanent generation before the server forks; ``install`` then freezes the heap
again before each new session is built (the sessions built so far are long-lived), so every collection walks
only what was made since. Frozen objects are still freed by reference counting, but a closed session's
reference cycles wait in the permanent generation: after every ``thaw_every`` closed sessions, ``thaw``
unfreezes everything, collects once and freezes the survivors: one long pause per ``thaw_every`` closures
instead of one per burst of closures (``return_memory``'s collections then walk only the young heap).

``install`` also logs every collection longer than ``LOG_MS`` (``gc.callbacks``), with its generation.
Not covered: the pause after a thaw is the whole heap's (the same as without this policy); up to
``thaw_every`` closed sessions' cyclic garbage (about 4 MB each on /cell) is held until then.
"""

from __future__ import annotations

import gc
import logging
import os
import time

import panel as pn

log = logging.getLogger("simulator.app")
THAW_EVERY = 16  # closed sessions between thaws (their cycles are held until then)
LOG_MS = 50.0  # collections at least this long are logged
STATE = {"closed": 0, "thaws": 0, "longest_ms": 0.0, "started": 0.0, "installed": False}


def freeze_startup() -> None:
    """Collect, then move every object alive now to the permanent generation (call before forking)."""
    gc.collect()
    gc.freeze()


def _freeze_built(session_context) -> None:
    """Before a session is built: the heap so far (earlier sessions) is long-lived; young garbage goes first."""
    gc.collect(1)
    gc.freeze()


def _closed(session_context) -> None:
    STATE["closed"] += 1
    if STATE["closed"] % THAW_EVERY == 0:
        thaw()


def thaw() -> None:
    """Free the closed sessions' cycles now: unfreeze, one full collection, freeze what is still alive."""
    gc.unfreeze()
    gc.collect()
    gc.freeze()  # NB: so that return_memory's collection right after this one walks nothing old
    STATE["thaws"] += 1


def _timed(phase: str, info: dict) -> None:
    if phase == "start":
        STATE["started"] = time.perf_counter()
        return
    ms = 1000 * (time.perf_counter() - STATE["started"])
    STATE["longest_ms"] = max(STATE["longest_ms"], ms)
    if ms >= LOG_MS:
        log.info("gc pause %.0f ms in process %d (generation %d, %d collected)", ms, os.getpid(),
                 info.get("generation", -1), info.get("collected", 0))


def install(thaw_every: int | None = None) -> None:
    """Freeze before each session build, thaw after every ``thaw_every`` closures, log long collections (once)."""
    global THAW_EVERY
    if thaw_every is not None:
        if not isinstance(thaw_every, int) or thaw_every < 1:
            raise ValueError(f"thaw_every: got {thaw_every!r}; expected a positive whole number of sessions")
        THAW_EVERY = thaw_every
    if STATE["installed"]:
        return
    pn.state.on_session_created(_freeze_built)
    pn.state.on_session_destroyed(_closed)
    gc.callbacks.append(_timed)
    STATE["installed"] = True
