"""Keep Python's cyclic garbage collector from stalling a server that holds many sessions.

A full collection walks every tracked object, and it runs on the event loop that serves every session of
the process: measured on /cell (2-core machine, CPU time), 180 ms for the start-up heap alone, 390 ms with
20 sessions and 740 ms with 60 (about 23,000 objects per session); at load, twice that in wall time. It
happens whenever the heap has grown by a quarter since the last one (so repeatedly while a class joins) and
whenever ``workpool.return_memory`` collects after sessions close.

Principle: what is known to be long-lived is not walked again. ``freeze_startup`` moves the start-up heap
(modules, routes) to the permanent generation before the server forks; ``install`` then freezes the heap
again before each new session is built (the sessions built so far are long-lived), so the collections Python
starts while a class joins walk only what was made since. Frozen objects are still freed by reference
counting, but a closed session's reference cycles wait in the permanent generation until a thaw: after every
``thaw_every`` closed sessions (``RNN_GC_THAW_EVERY``, default 1) everything is unfrozen, and the next full
collection (``return_memory``'s, which serve.py runs after each burst of closed sessions, or Python's own)
frees them. The default keeps the promise that a closed session's memory is returned; a larger value trades
up to that many closed sessions' memory (about 4 MB each on /cell) for fewer full collections. With many
sessions open, a thaw also waits for a tenth of them to have closed (``thaw_after``): a full collection
walks every open session, so at 100 open sessions per process one closed tab (a student leaving, or an
unused first request expiring) cost a 0.4-0.7 s pause on the event loop.

``install`` also logs every collection longer than ``LOG_MS`` (``gc.callbacks``), with its generation.
Not covered: the full collection after a thaw walks the whole heap (as every full collection did before
this policy), so with the default each burst of closed tabs still costs one such pause; only the collections
while sessions join (and none close) are cut.
"""

from __future__ import annotations

import gc
import logging
import math
import os
import time

import panel as pn

log = logging.getLogger("simulator.app")
THAW_EVERY = 1  # closed sessions between thaws (their cycles are held until then)
LOG_MS = 50.0  # collections at least this long are logged
HELD_SHARE = 0.1  # closed sessions held frozen, as a share of the open ones, before a thaw
STATE = {"closed": 0, "open": 0, "thaws": 0, "longest_ms": 0.0, "started": 0.0, "installed": False}


def freeze_startup() -> None:
    """Collect, then move every object alive now to the permanent generation (call before forking)."""
    gc.collect()
    gc.freeze()


def _freeze_built(session_context) -> None:
    """Before a session is built: the heap so far (earlier sessions) is long-lived; young garbage goes first."""
    STATE["open"] += 1
    gc.collect(1)
    gc.freeze()


def thaw_after(open_sessions: int) -> int:
    """Closed sessions to hold before the next thaw: ``max(THAW_EVERY, ceil(HELD_SHARE * open_sessions))``.

    A thaw's full collection walks every open session (about 7 ms of CPU each on /cell, on the event loop), so
    with many open it waits for a proportionate number of closures: the pause per closed session stays bounded,
    and the memory held is at most about ``HELD_SHARE`` of what the open sessions use. When the last session
    closes the bound is ``THAW_EVERY`` (default 1): an emptied server returns everything.
    """
    return max(THAW_EVERY, math.ceil(HELD_SHARE * max(open_sessions, 0)))


def _closed(session_context) -> None:
    STATE["open"] = max(STATE["open"] - 1, 0)
    STATE["closed"] += 1
    if STATE["closed"] >= thaw_after(STATE["open"]):
        STATE["closed"] = 0
        thaw()


def thaw() -> None:
    """Unfreeze everything: the next full collection walks the whole heap and frees the closed sessions' cycles."""
    gc.unfreeze()
    STATE["thaws"] += 1


def thaw_every_from_env(environ: dict[str, str] | None = None) -> int:
    """``RNN_GC_THAW_EVERY`` as a positive whole number (default ``THAW_EVERY``); ValueError naming it otherwise."""
    raw = (os.environ if environ is None else environ).get("RNN_GC_THAW_EVERY", "").strip()
    if not raw:
        return THAW_EVERY
    if not raw.isdigit() or int(raw) < 1:
        raise ValueError(f"RNN_GC_THAW_EVERY: got {raw[:40]!r}; expected a positive whole number of closed "
                         "sessions between two thaws of the garbage collector")
    return int(raw)


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
    if thaw_every is None:
        thaw_every = thaw_every_from_env()
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
