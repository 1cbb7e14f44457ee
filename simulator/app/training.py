"""Train one of ``simulator.lessons.applications``' tasks a chunk of iterations at a time, so a page stays responsive.

The reference ``train_*`` functions run their whole loop and call ``progress(trainer)`` after every
iteration. ``ChunkedTraining`` runs such a function in a worker thread and makes ``progress`` wait
until the page grants the next chunk (``grant``), so training advances only as fast as the page's
periodic callback asks for it, can be stopped at any iteration (``cancel``: ``progress`` returns
False) and never touches a Bokeh model from the worker. Errors become a message, not a traceback.
"""

from __future__ import annotations

import logging
import threading
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger("simulator.app")


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
        self._iteration = 0
        self._loss: list[float] = []
        self._score: float | None = None
        self._done = False
        self._error = ""
        self._result = None
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ worker side
    def _progress(self, trainer) -> bool:
        with self._cond:
            self._iteration = int(trainer.iteration)
            self._loss = [float(v) for v in trainer.history.loss]
            if trainer.history.score:
                self._score = float(trainer.history.score[-1])
            self._allowed -= 1
            self._cond.notify_all()
            while self._allowed <= 0 and not self._cancelled:
                self._cond.wait()
            return not self._cancelled

    def _work(self) -> None:
        result, error = None, ""
        try:
            result = self.train(progress=self._progress, **self.kwargs)
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
