"""Grading workers for the course server: a dispatcher thread feeds queued submissions to any executor.

``grade_job`` is the unit of work: plain arguments in (the notebook's bytes), the ``--json`` report out, so
it runs in a local process pool or on a Dask worker alike (``distributed.Client(...).get_executor()``). The
grading itself is the same sandboxed pipeline as ``python -m autograder grade``. Only the dispatcher, in the
server process, talks to the database.
"""

from __future__ import annotations

import logging
import re
import tempfile
import threading
import time
from concurrent.futures import Executor, Future
from pathlib import Path

from sqlalchemy.engine import Engine

from autograder.sandbox import Limits
from autograder.server import queue

log = logging.getLogger(__name__)
GRADING_NICE = 4  # grading processes yield the CPU to the server's event loop (pages, sign-ins, the API)


def lower_priority() -> None:
    """Initializer of the server's own grading processes: run at a lower CPU priority (``nice`` +GRADING_NICE).

    Grading is batch work and the event loop is interactive: on a machine with as many graders as cores a
    lecture hall's page loads would otherwise wait behind the graders for CPU. Throughput is unchanged when the
    server is idle (niceness only orders who runs first). The sandboxes the grader starts inherit it.
    """
    import os

    try:
        os.nice(GRADING_NICE)
    except OSError:  # not permitted here: grading still works, at the normal priority
        log.info("grading workers: cannot lower their CPU priority")


SERVER_POLL = 1.0  # s between a grading process's checks that its server still runs


def grading_worker(server_pid: int) -> None:
    """Initializer of the server's own grading processes: ``lower_priority``, and exit when the server is gone.

    The processes come from multiprocessing's forkserver, so their parent is the fork server, not the course
    server, and neither notices the server's death: each holds a write end of its own task queue (it never sees
    end-of-file) and of the fork server's liveness pipe (so the fork server never does either). A server that is
    killed (``kill -9``, a crash, an OOM kill, a SIGTERM that skips clean-up) used to leave the fork server and
    every grading process running for ever, about 170 MB each; each restart added more. A daemon thread checks
    every ``SERVER_POLL`` seconds that ``server_pid`` still exists and ends the process when it does not (the
    fork server then sees its last liveness writer close and exits too). Not covered: a reused process id (the
    poll then waits until that process ends too).
    """
    lower_priority()
    threading.Thread(target=_exit_without, args=(server_pid,), name="server-watch", daemon=True).start()


def _exit_without(server_pid: int) -> None:
    import os

    while True:
        time.sleep(SERVER_POLL)
        try:
            os.kill(server_pid, 0)
        except ProcessLookupError:
            os._exit(0)
        except PermissionError:  # the id now belongs to another user's process: ours is gone
            os._exit(0)


def source_name(course: str | Path, assignment: str, filename: str) -> str:
    """The file name of the source notebook an upload called ``filename`` is graded against.

    An assignment with several notebooks is told which one by the upload's name; the name is compared with the
    names the course has, as strings, and never opened as a path (a long, multibyte, wildcard or ``..`` name
    used to reach the file system: ``File name too long``, a failed grading).
    """
    from autograder.pipeline import source_notebook_path

    folder = Path(course) / "source" / assignment
    have = {p.stem for p in folder.glob("*.ipynb")} if folder.is_dir() else set()
    stem = filename.replace("\\", "/").rsplit("/", 1)[-1].removesuffix(".ipynb")
    return source_notebook_path(course, assignment, stem if stem in have else None).name


# an absolute path of two or more parts (/a/b, C:\\a\\b, also as repr() doubles the backslashes), not after <course>
PATHS = re.compile(r"(?<![\w>.])(?:[A-Za-z]:)?(?:[\\/]+[^\s\\/'\"]+){2,}[\\/]*")


def public_error(exc: BaseException, course: str | Path) -> str:
    """``Type: message`` of a grading failure as a student may read it: the course directory written as
    ``<course>`` and any other absolute path as ``<path>/<its last part>``; the reason stays.

    The log keeps the whole text for the instructor. Not covered: a relative path, or one with spaces in it, is
    left as it is.
    """
    text = f"{type(exc).__name__}: {exc}"
    for base in sorted({str(Path(course)), str(Path(course).resolve())}, key=len, reverse=True):
        text = text.replace(base, "<course>")
    return PATHS.sub(lambda m: "<path>/" + re.split(r"[\\/]+", m.group(0).rstrip("/\\"))[-1], text)


def grade_job(course: str, assignment: str, filename: str, notebook: bytes, limits: Limits | None = None,
              unsafe: bool = False) -> dict:
    """Grade one submitted notebook (its bytes) against the course's source; returns the ``--json`` report."""
    from autograder.pipeline import grade_notebook

    name = source_name(course, assignment, filename)
    with tempfile.TemporaryDirectory(prefix="submission-") as tmp:
        path = Path(tmp) / name  # the source's file name: the pipeline finds the source notebook by it
        path.write_bytes(notebook)
        report = grade_notebook(path, course, assignment, limits, "none" if unsafe else "auto", unsafe=unsafe)
    out = report.to_json()
    out["sandbox"] = report.sandbox
    return out


class Dispatcher:
    """Claims queued submissions while ``executor`` has room, renews their leases, records each result once."""

    def __init__(self, engine: Engine, course: Path | str, executor: Executor, capacity: int = 1,
                 limits: Limits | None = None, unsafe: bool = False, poll: float = 0.5):
        self.engine, self.course, self.executor = engine, str(Path(course).resolve()), executor
        self.capacity, self.limits, self.unsafe, self.poll = max(1, capacity), limits, unsafe, poll
        self.owner = queue.server_id()
        self._running: dict[str, queue.Job] = {}
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="grading-dispatcher", daemon=True)

    def start(self) -> Dispatcher:
        self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout)

    def notify(self) -> None:
        """A submission arrived: look at the queue now rather than at the next poll."""
        self._wake.set()

    @property
    def busy(self) -> int:
        with self._lock:
            return len(self._running)

    def _loop(self) -> None:
        last_renew = 0.0
        while not self._stop.is_set():
            try:
                now = queue.db.now()
                if now - last_renew > queue.LEASE / 4:
                    with self._lock:
                        claims = list(self._running)
                    queue.renew(self.engine, claims)
                    queue.recover(self.engine)
                    last_renew = now
                while self.busy < self.capacity and not self._stop.is_set():
                    job = queue.claim(self.engine, self.owner)
                    if job is None:
                        break
                    self._submit(job)
            except Exception:  # noqa: BLE001 - a database hiccup must not kill the dispatcher; logged, retried
                log.warning("grading dispatcher: %s", "database or executor error; retrying", exc_info=False)
            self._wake.wait(self.poll)
            self._wake.clear()

    def _submit(self, job: queue.Job) -> None:
        with self._lock:
            self._running[job.claim] = job
        try:
            future = self.executor.submit(grade_job, self.course, job.assignment, job.filename, job.notebook,
                                          self.limits, self.unsafe)
        except Exception as exc:  # noqa: BLE001 - e.g. a shut-down executor: the lease runs out, another server grades
            log.warning("grading dispatcher: cannot submit #%d: %s", job.id, exc)
            with self._lock:
                self._running.pop(job.claim, None)
            return
        future.add_done_callback(lambda f, job=job: self._done(job, f))

    def _done(self, job: queue.Job, future: Future) -> None:
        try:
            report, error = future.result(), None
        except Exception as exc:  # noqa: BLE001 - grading could not run (course broken, worker lost): recorded
            log.warning("submission #%d could not be graded: %s: %s", job.id, type(exc).__name__, exc)
            report, error = None, public_error(exc, self.course)
        try:
            if not queue.complete(self.engine, job, report, error):
                log.info("submission #%d: lease lost while grading; another server records it", job.id)
        except Exception as exc:  # noqa: BLE001 - the lease runs out and the submission is graded again
            log.warning("submission #%d: result not recorded (%s); it will be graded again", job.id, exc)
        finally:
            with self._lock:
                self._running.pop(job.claim, None)
            self._wake.set()
