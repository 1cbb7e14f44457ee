"""A bounded pool for the app's heavy work, with a global and a per-session budget (admission control).

The Bokeh event loop serves every student of a process; work that takes more than a few milliseconds
(a batch of training iterations at T = 100, H = 64 takes about a second, /bptt's recompute 0.6 s, reading an
uploaded model file up to a second) must not run on it, or every other session's clicks wait. Pages never call
``WorkPool.submit`` themselves: each browser session has one ``Runner`` (``session_runner()``), its only door
to the pool. ``Runner.request(key, start, ...)`` asks for a job; when the session's turn comes, ``start()`` is
called on the event loop and returns ``(compute, apply)``: ``compute()`` runs on a worker thread and must not
touch a Bokeh model; ``apply(result)`` runs back on the event loop, under the document lock (the Runner's
periodic callback), and is the only place the job's result reaches the page.

Admission control, the principle: work is admitted, never piled up.
- at most ``workers`` jobs run at once, whatever the number of sessions (global budget);
- each session holds at most one job in the pool, running or queued (per-session budget); its further
  requests wait in its Runner, one per ``key``: a newer request of a key replaces the older one, and since
  ``start`` reads the page's settings when the job is admitted, the job always computes the latest settings;
- at most ``max_queue`` jobs wait in the pool; beyond that the request is refused with a message;
- a queued job knows its place (``Ticket.position``), which the page shows: "The server is busy: you are
  number N in the queue", updated at every poll.

Not covered: a job already running cannot be interrupted (a training slice is short, ``training.CHUNK_SECONDS``; a
page's Pause or Stop answers at once; the running job's result is then dropped or ends the run); threads
share the interpreter, so pure-Python work still competes with the event loop for the GIL (NumPy's BLAS
calls release it). To keep the event loop's waits short, the first worker lowers the interpreter's GIL switch
interval to ``SWITCH_INTERVAL`` and caps glibc's malloc arenas (one per thread otherwise, which keeps freed
memory out of reach of ``return_memory``). Page building itself (Panel's ``create``) stays on the event loop.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import gc
import logging
import os
import sys
import threading
import weakref
from collections import deque
from collections.abc import Callable, Hashable
from dataclasses import dataclass

log = logging.getLogger("simulator.app")

WORKERS = max(1, int(os.environ.get("RNN_APP_WORKERS", str(max(1, (os.cpu_count() or 2) // 2)))))
SWITCH_INTERVAL = 0.001  # s; Python's default 0.005 makes the event loop wait up to 5 ms per GIL hand-over
MAX_QUEUE = max(1, int(os.environ.get("RNN_APP_MAX_QUEUE", "256")))
POLL_MS = 120  # how often a Runner with work in the pool checks it (and refreshes the queue place shown)


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

Job = tuple[Callable[[], object], Callable[[object], None]]  # (compute on a worker, apply on the event loop)


@dataclass
class _Request:
    key: str
    start: Callable[[], Job | None]  # called on the event loop when admitted; None: nothing to do any more
    on_wait: Callable[[int], None] | None  # place in the pool's queue at every poll (0: running)
    on_error: Callable[[str], None] | None  # refused by the pool, or compute raised: a message for the page


@dataclass
class _Current:
    request: _Request
    ticket: Ticket
    apply: Callable[[object], None]
    dropped: bool = False


class Runner:
    """One session's door to the pool: at most one job of the session in the pool, the latest request per key waits.

    ``background`` False (a page built without a server, as in the tests) runs each job at once, in order.
    With a Bokeh document, a periodic callback (``POLL_MS``, only while there is work) polls the job; without
    one, the owner calls ``poll()`` itself.
    """

    def __init__(self, doc=None, pool: WorkPool | None = None, background: bool | None = None):
        self.pool = pool or POOL
        self._doc = weakref.ref(doc) if doc is not None else None  # NB: weak, or _RUNNERS would keep doc alive
        self.background = (doc is not None) if background is None else bool(background)
        self._pending: dict[str, _Request] = {}  # insertion order is admission order; a newer request keeps the place
        self._current: _Current | None = None
        self._callback = None
        self._pumping = False
        self.closed = False

    # ------------------------------------------------------------------ page side (event loop)
    def request(self, key: str, start: Callable[[], Job | None], *, on_wait: Callable[[int], None] | None = None,
                on_error: Callable[[str], None] | None = None) -> None:
        """Ask for a job of kind ``key``; ``start()`` builds it from the page's settings when it is admitted."""
        if self.closed:
            return
        self._pending[key] = _Request(key, start, on_wait, on_error)
        self._pump()
        self._ensure_polling()

    def cancel(self, key: str) -> None:
        """Forget the request of ``key``: a queued job never runs, a running one's result is dropped."""
        self._pending.pop(key, None)
        current = self._current
        if current is not None and current.request.key == key:
            current.dropped = True
            if current.ticket.state == "queued":
                self.pool.release(self)
                self._current = None
                self._pump()

    def busy(self, key: str | None = None) -> bool:
        """Work of ``key`` (any key when None) is waiting here or in the pool."""
        current = self._current
        if key is None:
            return bool(self._pending) or current is not None
        return key in self._pending or (current is not None and current.request.key == key and not current.dropped)

    def place(self) -> int:
        """The session's place in the pool's queue (0: running or nothing queued)."""
        return self._current.ticket.position() if self._current is not None else 0

    def poll(self) -> None:
        """Hand a finished job's result to its ``apply`` (on the event loop), report places, admit the next job."""
        current = self._current
        if current is not None:
            if not current.ticket.done:
                if current.request.on_wait is not None and not current.dropped:
                    current.request.on_wait(current.ticket.position())
                return
            self._current = None
            if not current.dropped and current.ticket.state == "done":
                if current.ticket.error:
                    self._fail(current.request, f"the computation failed ({current.ticket.error})")
                else:
                    self._apply(current.request, current.apply, current.ticket.result)
        self._pump()
        if self._current is None and not self._pending:
            self._stop_polling()

    def close(self) -> None:
        """The session ended: drop every request, free the pool's place, stop polling."""
        self.closed = True
        self._pending.clear()
        if self._current is not None:
            self._current.dropped = True
            self._current = None
        self.pool.release(self)
        self._stop_polling()

    # ------------------------------------------------------------------ internals
    def _pump(self) -> None:
        if self._pumping:  # NB: start() and apply() may request again; the outer loop admits that request
            return
        self._pumping = True
        try:
            while (self._current is None or not self.background) and self._pending:
                request = self._pending.pop(next(iter(self._pending)))
                job = request.start()
                if job is None:
                    continue
                compute, apply = job
                if not self.background:
                    self._run_now(request, compute, apply)
                    continue
                try:
                    ticket = self.pool.submit(self, compute)
                except BusyError as exc:
                    self._fail(request, str(exc))
                    continue
                self._current = _Current(request, ticket, apply)
                if request.on_wait is not None:
                    request.on_wait(ticket.position())
        finally:
            self._pumping = False

    def _run_now(self, request: _Request, compute: Callable[[], object], apply: Callable[[object], None]) -> None:
        try:
            result = compute()
        except Exception as exc:  # the page shows a message; the log keeps the details
            log.exception("job %r failed", request.key)
            self._fail(request, f"the computation failed ({type(exc).__name__}: {exc})")
            return
        self._apply(request, apply, result)

    def _apply(self, request: _Request, apply: Callable[[object], None], result: object) -> None:
        try:
            apply(result)
        except Exception as exc:  # a page bug must not stop the session's other work
            log.exception("showing the result of job %r failed", request.key)
            self._fail(request, f"showing the result failed ({type(exc).__name__}: {exc})")

    def _fail(self, request: _Request, text: str) -> None:
        if request.on_error is not None:
            request.on_error(text)
        else:
            log.warning("job %r: %s", request.key, text)

    def _ensure_polling(self) -> None:
        doc = self._doc() if self._doc is not None else None
        if self._callback is None and self.background and doc is not None and self.busy():
            self._callback = doc.add_periodic_callback(self.poll, POLL_MS)

    def _stop_polling(self) -> None:
        doc = self._doc() if self._doc is not None else None
        callback, self._callback = self._callback, None
        if callback is not None and doc is not None:
            try:
                doc.remove_periodic_callback(callback)
            except ValueError:  # the session already removed its callbacks (it is being destroyed)
                pass


_RUNNERS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def session_runner(doc=None) -> Runner:
    """The Runner of the current browser session (one per session, shared by its page's parts).

    Without a server session (a page built in a test or a script) a fresh Runner that runs jobs at once.
    """
    if doc is None:
        import panel as pn

        doc = pn.state.curdoc
    if doc is None or getattr(doc, "session_context", None) is None:
        return Runner(background=False)
    runner = _RUNNERS.get(doc)
    if runner is None:
        runner = _RUNNERS[doc] = Runner(doc)
        doc.on_session_destroyed(lambda session_context: runner.close())
    return runner


@functools.cache
def _libc():
    """The C library, looked up once per process (``find_library`` runs ``ldconfig -p`` in a subprocess each time,
    and ``return_memory`` calls this on the event loop after sessions close).
    """
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
