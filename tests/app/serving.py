"""A real ``python serve.py`` for a test: its own process group, its output in a log, stopped as a whole."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def serving(args: list[str], log_path: Path, env: dict[str, str] | None = None):
    """Yield the base URL of ``serve.py --port P *args`` once it answers; SIGTERM its whole group after.

    A server that exits or does not answer within the start bound fails the fixture with its log's tail (it
    used to be yielded anyway, and the first request failed without the reason).

    NB: its own process group: with ``--num-procs N``, terminating the parent alone would leave the forked
    servers running.
    """
    port = free_port()
    with open(log_path, "w") as log:
        proc = subprocess.Popen([sys.executable, "serve.py", *args, "--port", str(port)], cwd=ROOT, stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True,
                                env=None if env is None else {**os.environ, **env})
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 240  # a liveness bound: a start on a busy 2-core machine
        while True:
            try:
                urllib.request.urlopen(base + "/", timeout=5).read()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"serve.py {' '.join(args)} did not answer on {base} (exit code "
                                       f"{proc.poll()}): {log_path.read_text()[-2000:]}") from None
                time.sleep(0.2)
        yield base
    finally:
        with contextlib.suppress(ProcessLookupError):  # it may have exited already
            os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
