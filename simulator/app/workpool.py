"""A bounded pool for the app's heavy work (training steps), with a global and a per-session budget.

The Bokeh event loop serves every student of a process; work that takes more than a few milliseconds
(a batch of training iterations at T = 100, H = 64 takes about a second) must not run on it, or every
other session's clicks wait. Pages hand such work to ``POOL.submit(owner, fn)`` and poll the returned
``Ticket`` from their periodic callback (so the Bokeh models are still touched only in the page's thread).

Admission control, the principle: work is admitted, never piled up.
- at most ``workers`` jobs run at once, whatever the number of sessions (global budget);
- each owner (one browser session's page) holds at most one job, running or queued (per-session budget);
- at most ``max_queue`` jobs wait; beyond that ``submit`` refuses with a message instead of a stall;
- a queued job knows its place (``Ticket.position``), which the page shows: "the server is busy, you are
  number N in the queue".

Not covered: a job already running cannot be interrupted (a training batch finishes, then its result is
dropped when nobody wants it); threads share the interpreter, so pure-Python work still competes with the
event loop for the GIL (NumPy's BLAS calls release it). To keep the event loop's waits short, the first
worker lowers the interpreter's GIL switch interval to ``SWITCH_INTERVAL`` and caps glibc's malloc arenas
(one per thread otherwise, which keeps freed memory out of reach of ``return_memory``). Page building itself
(Panel's ``create``) stays on the event loop.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import logging
import os
import sys
import threading
from collections import deque
from collections.abc import Callable, Hashable

log = logging.getLogger("simulator.app")

WORKERS = max(1, int(os.environ.get("RNN_APP_WORKERS", str(max(1, (os.cpu_count() or 2) // 2)))))
SWITCH_INTERVAL = 0.001  # s; Python's default 0.005 makes the event loop wait up to 5 ms per GIL hand-over
MAX_QUEUE = max(1, int(os.environ.get("RNN_APP_MAX_QUEUE", "64")))


class BusyError(ValueError):
    """The pool refused a job (queue full, or the owner already has one); the message is for the page."""


class Ticket:
    """One admitted job: ``position()`` while queued, then ``done`` with ``result`` or ``error``."""

    def __init__(self, pool: WorkPool, owner: Hashable, fn: Callable[[], object]):
        self.pool, self.owner, self.fn = pool, owner, fn
        self.state = "queued"  # -> "running" -> "done"; "cancelled" if dropped while queued
        self.result: object = None
        self.error = ""
        self._event = threading.Event()

    @property
    def done(self) -> bool:
        return self.state in ("done", "cancelled")

    def position(self) -> int:
        """1 for the next job to start, 2 for the one after, ...; 0 once running or done."""
        return self.pool.position(self)

    def wait(self, timeout: float | None = None) -> bool:
        """Block until done (tests and scripts; a page polls ``done`` instead)."""
        return self._event.wait(timeout)

    def _finish(self, state: str) -> None:
        self.state = state
        self._event.set()


class WorkPool:
    """``workers`` daemon threads taking admitted jobs in order (see the module docstring for the budgets)."""

    def __init__(self, workers: int = WORKERS, max_queue: int = MAX_QUEUE):
        self.workers, self.max_queue = int(workers), int(max_queue)
        self._cond = threading.Condition()
        self._queue: deque[Ticket] = deque()
        self._owners: dict[Hashable, Ticket] = {}
        self._running = 0
        self._threads: list[threading.Thread] = []

    # ------------------------------------------------------------------ page side
    def submit(self, owner: Hashable, fn: Callable[[], object]) -> Ticket:
        """Admit ``fn`` for ``owner`` or raise ``BusyError`` saying why; ``fn`` must not touch Bokeh models."""
        with self._cond:
            held = self._owners.get(owner)
            if held is not None and not held.done:
                raise BusyError("This page already has work running on the server; wait for it to finish.")
            if len(self._queue) >= self.max_queue:
                raise BusyError(f"The server is busy: {len(self._queue)} jobs are already waiting; try again in a "
                           "minute.")
            ticket = Ticket(self, owner, fn)
            self._owners[owner] = ticket
            self._queue.append(ticket)
            self._start_threads()
            self._cond.notify()
            return ticket

    def position(self, ticket: Ticket) -> int:
        with self._cond:
            try:
                return self._queue.index(ticket) + 1
            except ValueError:
                return 0

    def release(self, owner: Hashable) -> None:
        """The owner is gone (its session closed): drop its queued job and forget it."""
        with self._cond:
            ticket = self._owners.pop(owner, None)
            if ticket is not None and ticket.state == "queued":
                self._queue.remove(ticket)
                ticket._finish("cancelled")

    def stats(self) -> dict[str, int]:
        """Jobs running and waiting now (for the page's status line and for tests)."""
        with self._cond:
            return {"running": self._running, "queued": len(self._queue), "workers": self.workers}

    # ------------------------------------------------------------------ worker side
    def _start_threads(self) -> None:
        if not self._threads:
            sys.setswitchinterval(min(sys.getswitchinterval(), SWITCH_INTERVAL))
            _cap_malloc_arenas()
        while len(self._threads) < self.workers:
            t = threading.Thread(target=self._work, name=f"rnn-app-worker-{len(self._threads)}", daemon=True)
            self._threads.append(t)
            t.start()

    def _work(self) -> None:
        while True:
            with self._cond:
                while not self._queue:
                    self._cond.wait()
                ticket = self._queue.popleft()
                ticket.state = "running"
                self._running += 1
            try:
                ticket.result = ticket.fn()
            except Exception as exc:  # the page shows a message; the log keeps the details
                log.exception("background job failed")
                ticket.error = f"{type(exc).__name__}: {exc}"
            finally:
                with self._cond:
                    self._running -= 1
                    if self._owners.get(ticket.owner) is ticket:
                        del self._owners[ticket.owner]
                ticket.fn = None  # drop references to the page's objects as soon as possible
                ticket._finish("done")


POOL = WorkPool()


def _libc():
    name = ctypes.util.find_library("c")
    try:
        return ctypes.CDLL(name) if name else None
    except OSError:
        return None


def _cap_malloc_arenas(arenas: int = 2) -> None:
    """Cap glibc's malloc arenas (``mallopt(M_ARENA_MAX, arenas)``) so worker threads share trimmable heaps."""
    libc = _libc()
    if libc is not None and hasattr(libc, "mallopt"):
        libc.mallopt(-8, arenas)  # M_ARENA_MAX


def return_memory() -> None:
    """Collect garbage and hand freed heap pages back to the system (glibc ``malloc_trim``), after a session ends."""
    gc.collect()
    libc = _libc()
    if libc is not None and hasattr(libc, "malloc_trim"):
        libc.malloc_trim(0)
