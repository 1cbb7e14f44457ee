"""One :class:`CourseServer` per server process, made on first use (after ``--num-procs`` forked the server).

A forked child inherits no threads and must not share database connections or a process pool with its
parent, so the handle builds the course server in the process that uses it.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

from autograder.server.service import CourseServer


class CourseHandle:
    """Call it to get this process's course server (created, with its grading dispatcher, on the first call)."""

    def __init__(self, course: Path | str, db_url: str | None = None, workers: int = 1, **options):
        self.course, self.db_url, self.workers, self.options = Path(course), db_url, workers, options
        self._lock = threading.Lock()
        self._server: CourseServer | None = None
        self._pid: int | None = None

    def __call__(self) -> CourseServer:
        with self._lock:
            if self._server is None or self._pid != os.getpid():
                self._server = CourseServer(self.course, self.db_url, workers=self.workers, **self.options)
                self._pid = os.getpid()
            return self._server

    def close(self) -> None:
        with self._lock:
            if self._server is not None and self._pid == os.getpid():
                self._server.close()
            self._server = None
