"""Train one of ``simulator.lessons.applications``' tasks in time slices, each one a job of the app's worker pool.

The reference ``train_*`` functions run their whole loop and call ``progress(trainer)`` after every
iteration. ``ChunkedTraining`` runs such a function in its own thread (which holds the loop's stack) and
makes ``progress`` wait until someone grants the next iterations, so the thread computes only while a
grant is open. ``advance(seconds)``, run as a job of ``workpool.POOL``, opens grants for one time slice and
returns a ``Snapshot``: training therefore counts against the pool's global and per-session budgets like any
other heavy job, and sessions that train take turns slice by slice. Between slices the thread sleeps.

- ``cancel()`` (the Stop button): at its next granted iteration the loop stops; the reference then restores
  the best parameters and evaluates them, inside the slice that granted that iteration (in the budget).
- ``abandon()`` (the tab closed, the settings changed): the loop ends at its next ``progress`` call without
  evaluating (``progress`` raises ``Abandoned``, which is not an ``Exception``), and the thread exits.
Errors become a message, not a traceback. Never touches a Bokeh model.

Not covered: the reference's set-up before its first iteration (building data and model) and its final
evaluation cannot be cut into slices; they run inside the first and the last slice.
"""

from __future__ import annotations

import logging
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger("simulator.app")
CHUNK_SECONDS = 0.4  # one slice of training per pool job: short, so sessions take turns and Stop is heard soon
WAIT_LIMIT = 600.0  # s; a slice never holds a worker longer than this, even if an iteration hangs


class Abandoned(BaseException):  # noqa: N818 - not an error: the visitor left; BaseException so no except catches it
    """Raised inside the reference loop by ``progress`` once the run is abandoned."""


def _one_line(exc: BaseException) -> str:
    """``Type: message (at file.py:line in function)``, the innermost frame, on one line for the log."""
    message = " ".join(str(exc).split())  # a multi-line message stays one log line
    frames = traceback.extract_tb(exc.__traceback__)
    where = f" (at {Path(frames[-1].filename).name}:{frames[-1].lineno} in {frames[-1].name})" if frames else ""
    return f"{type(exc).__name__}: {message}{where}"


@dataclass(frozen=True)
class Snapshot:
    """What the page shows about a training run at one moment."""

    iteration: int
    total: int
    loss: tuple[float, ...]       # one loss per iteration so far
    score: float | None           # the last validation score (accuracy, or minus the MSE)
    waiting: bool                 # the worker finished its chunk and waits for the next one
    done: bool
    error: str
    result: object | None         # the ``applications.Result`` when done without error


class ChunkedTraining:
    """Run ``train(progress=..., **kwargs)`` in a worker thread, ``chunk`` iterations per ``grant``.

    Inputs:
    - train: a ``simulator.lessons.applications.train_*`` function.
    - kwargs: its keyword arguments (``iterations`` is the planned total, for the progress bar).
    """

    def __init__(self, train: Callable, kwargs: dict, *, name: str = "training"):
        self.train, self.kwargs, self.name = train, dict(kwargs), name
        self.total = int(self.kwargs.get("iterations", 1))
        self._cond = threading.Condition()
        self._allowed = 0
        self._cancelled = False
        self._abandoned = False
        self._iteration = 0
        self._loss: list[float] = []
        self._score: float | None = None
        self._done = False
        self._error = ""
        self._result = None
        self._thread: threading.Thread | None = None
        self._rate: float | None = None  # iterations per second, measured by ``advance``

    # ------------------------------------------------------------------ worker side
    def _progress(self, trainer) -> bool:
        with self._cond:
            self._iteration = int(trainer.iteration)
            self._loss = [float(v) for v in trainer.history.loss]
            if trainer.history.score:
                self._score = float(trainer.history.score[-1])
            self._allowed -= 1
            self._cond.notify_all()
            # NB: a cancelled run still waits for a grant, so its final evaluation runs inside a pool slice
            while self._allowed <= 0 and not self._abandoned:
                self._cond.wait()
            if self._abandoned:
                raise Abandoned
            return not self._cancelled

    def _work(self) -> None:
        result, error = None, ""
        try:
            result = self.train(progress=self._progress, **self.kwargs)
        except Abandoned:
            error = "abandoned"
        except ValueError as exc:
            error = f"{self.name}: {exc}"
        except Exception as exc:  # the page must keep serving; the log gets one line saying what and where
            log.error("%s failed: %s", self.name, _one_line(exc))
            error = f"{self.name} failed ({type(exc).__name__}: {exc}); try another seed or cell."
        with self._cond:
            self._result, self._error, self._done = result, error, True
            self._cond.notify_all()

    # ------------------------------------------------------------------ page side
    def grant(self, iterations: int) -> None:
        """Let the worker run ``iterations`` more iterations (starts it on the first call)."""
        with self._cond:
            if self._abandoned:
                return
            self._allowed += max(int(iterations), 0)
            self._cond.notify_all()
        if self._thread is None:
            self._thread = threading.Thread(target=self._work, name=self.name, daemon=True)
            self._thread.start()

    def cancel(self) -> None:
        """Stop at the next iteration; the reference loop then restores its best parameters and evaluates."""
        with self._cond:
            self._cancelled = True
            self._cond.notify_all()

    def abandon(self) -> None:
        """Nobody wants the result: end the loop at its next iteration without evaluating; the thread exits."""
        with self._cond:
            self._abandoned = True
            if self._thread is None:  # never started: nothing will run
                self._error, self._done = "abandoned", True
            self._cond.notify_all()

    @property
    def abandoned(self) -> bool:
        return self._abandoned

    @property
    def cancelled(self) -> bool:
        return self._cancelled

    def advance(self, seconds: float = CHUNK_SECONDS) -> Snapshot:
        """Grant iterations for about ``seconds`` (at least one), or until the run ends; returns the snapshot.

        Blocks the calling thread (a pool worker) while the training thread computes. The first grant is one
        iteration; later grants are sized from the measured rate ``r`` (iterations per second) to fill the
        time left, ``n = max(1, r * (deadline - now))``, so the two threads hand over a few times per slice,
        not once per iteration. A cancelled run is granted until it has evaluated and finished.
        """
        deadline = time.monotonic() + seconds
        while True:
            if self._abandoned:
                return self.snapshot()
            now = time.monotonic()
            n = 1 if self._rate is None else max(1, int(self._rate * (deadline - now)))
            before = self._iteration
            self.grant(n)
            snap = self.wait(WAIT_LIMIT)
            elapsed = time.monotonic() - now
            if snap.iteration > before and elapsed > 0:
                self._rate = (snap.iteration - before) / elapsed
            if snap.done or (time.monotonic() >= deadline and not self._cancelled):
                return snap

    def wait(self, timeout: float | None = None) -> Snapshot:
        """Block until the worker has used its grant or finished (for tests and for ``run``)."""
        with self._cond:
            self._cond.wait_for(lambda: self._done or self._allowed <= 0, timeout=timeout)
        return self.snapshot()

    def run(self, chunk: int = 25, timeout: float = 600.0) -> Snapshot:
        """Grant chunks until done (no page needed); returns the last snapshot."""
        snap = self.snapshot()
        while not snap.done:
            self.grant(chunk)
            snap = self.wait(timeout)
        if self._thread is not None:
            self._thread.join(timeout)
        return snap

    def snapshot(self) -> Snapshot:
        with self._cond:
            return Snapshot(self._iteration, self.total, tuple(self._loss), self._score,
                            self._thread is not None and self._allowed <= 0 and not self._done, self._done,
                            self._error, self._result)
