"""Capture what grader code prints, per thread: ``contextlib.redirect_stdout`` swaps ``sys.stdout`` for the whole
process, so two gradings in threads (a threaded executor, the course server's compare pool) wrote into each
other's messages and could leave ``sys.stdout`` pointing at a closed buffer. Here ``sys.stdout`` becomes a
router, once, that sends each thread's writes to that thread's buffer while it captures, and elsewhere to the
stream it wrapped.
"""

from __future__ import annotations

import contextlib
import io
import sys
import threading

_local = threading.local()
_install = threading.Lock()


class _Router(io.TextIOBase):
    """``sys.stdout`` for every thread: the capturing thread's buffer, else the wrapped stream."""

    def __init__(self, base):
        self._base = base

    def _target(self):
        return getattr(_local, "target", None) or self._base

    def write(self, text: str) -> int:
        return self._target().write(text)

    def flush(self) -> None:
        self._target().flush()

    def writable(self) -> bool:
        return True

    def __getattr__(self, name):
        return getattr(self._base, name)


@contextlib.contextmanager
def captured(buffer: io.StringIO):
    """Within the block, what this thread prints goes to ``buffer``; other threads are not affected."""
    with _install:
        if not isinstance(sys.stdout, _Router):
            sys.stdout = _Router(sys.stdout)
    previous = getattr(_local, "target", None)
    _local.target = buffer
    try:
        yield buffer
    finally:
        _local.target = previous
