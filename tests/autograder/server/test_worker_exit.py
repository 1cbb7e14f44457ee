"""Do the course server's grading processes end when the server is killed (kill -9), and not without the watch?"""

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
SERVER = textwrap.dedent("""
    import multiprocessing, os, sys, time
    from concurrent.futures import ProcessPoolExecutor
    from autograder.server.grading import grading_worker, lower_priority

    watched = sys.argv[1] == "watched"
    init, args = (grading_worker, (os.getpid(),)) if watched else (lower_priority, ())
    pool = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("forkserver"),
                               initializer=init, initargs=args)
    print(pool.submit(os.getpid).result(), flush=True)  # a worker exists and has run a job
    time.sleep(600)  # killed by the test
""")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie (not yet reaped) counts as gone
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _worker_of_killed_server(mode: str) -> tuple[int, int]:
    """(the worker's pid, its fork server's pid) after the server that made them was killed with SIGKILL."""
    proc = subprocess.Popen([sys.executable, "-c", SERVER, mode], cwd=ROOT, stdout=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    worker = int(proc.stdout.readline())
    forkserver = int(Path(f"/proc/{worker}/stat").read_text().rsplit(")", 1)[1].split()[1])
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    return worker, forkserver


def _gone_within(pids, seconds: float) -> bool:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if not any(_alive(p) for p in pids):
            return True
        time.sleep(0.2)
    return False


def test_a_killed_servers_grading_process_and_fork_server_end():
    worker, forkserver = _worker_of_killed_server("watched")
    assert _gone_within([worker, forkserver], 30), "the grading process or its fork server outlived the server"


def test_without_the_watch_they_would_run_on_the_control():
    """The control: the same pool with only lower_priority keeps both processes after the server's death."""
    worker, forkserver = _worker_of_killed_server("plain")
    try:
        assert not _gone_within([worker], 3) and _alive(forkserver)
    finally:
        for pid in (worker, forkserver):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def test_the_watch_exits_when_the_pid_is_gone(monkeypatch):
    """_exit_without calls os._exit once the server's pid no longer exists (checked in-process with fakes)."""
    from autograder.server import grading

    calls = []

    def fake_kill(pid, sig):
        raise ProcessLookupError

    def fake_exit(code):
        calls.append(code)
        raise SystemExit

    monkeypatch.setattr(grading, "SERVER_POLL", 0.0)
    monkeypatch.setattr(os, "kill", fake_kill)
    monkeypatch.setattr(os, "_exit", fake_exit)
    with pytest.raises(SystemExit):
        grading._exit_without(12345)
    assert calls == [0]
