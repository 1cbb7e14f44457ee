"""Talk to a real ``serve.py --course`` from tests: start it, create users with the CLI, call the API."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(REPO), "BOKEH_LOG_LEVEL": "warn"}


def start_server(course: Path, port: int, *extra: str, log: Path | None = None,
                 environ: dict[str, str] | None = None) -> subprocess.Popen:
    out = open(log or os.devnull, "ab")  # noqa: SIM115 - owned by the process
    proc = subprocess.Popen([sys.executable, str(REPO / "serve.py"), "--course", str(course), "--port", str(port),
                             *extra], cwd=REPO, env={**env(), **(environ or {})}, stdout=out, stderr=subprocess.STDOUT,
                            start_new_session=True)  # its own process group: a kill -9 takes its workers too
    end = time.monotonic() + 90
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise AssertionError(f"serve.py exited with {proc.returncode}: {(log.read_text()[-2000:] if log else '')}")
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/ping", timeout=2)
        except urllib.error.HTTPError:
            return proc  # any HTTP answer means the server is up
        except OSError:
            time.sleep(0.3)
    proc.kill()
    raise AssertionError("serve.py did not start in 90 s")


def add_user(course: Path, name: str, role: str) -> str:
    out = subprocess.run([sys.executable, "-m", "autograder", "users", "--course", str(course), "add", name,
                          "--role", role], cwd=REPO, env=env(), capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return next(line.split(": ", 1)[1] for line in out.stdout.splitlines() if line.startswith("token: "))


def multipart(field: str, filename: str, data: bytes) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"{field}\"; filename=\"{filename}\"\r\n"
            "Content-Type: application/x-ipynb+json\r\n\r\n").encode() + data + f"\r\n--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"


def call(port: int, method: str, path: str, token: str | None = None, body: bytes | None = None,
         content_type: str | None = None) -> tuple[int, dict | str]:
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=body, method=method)
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    if content_type:
        request.add_header("Content-Type", content_type)
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            status, text = response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        status, text = exc.code, exc.read().decode()
    try:
        return status, json.loads(text)
    except ValueError:
        return status, text


def submit(port: int, token: str, assignment: str, data: bytes, filename: str = "rnn_cell.ipynb"):
    body, ctype = multipart("notebook", filename, data)
    return call(port, "POST", f"/api/v1/assignments/{assignment}/submissions", token, body, ctype)


def wait_all(port: int, token: str, ids, timeout: float = 180.0) -> list[dict]:
    end = time.monotonic() + timeout
    rows = []
    while time.monotonic() < end:
        rows = [call(port, "GET", f"/api/v1/submissions/{i}", token)[1] for i in ids]
        if all(r["status"] in ("graded", "failed") for r in rows):
            return rows
        time.sleep(0.5)
    raise AssertionError(f"not graded in {timeout} s: {[(r.get('id'), r.get('status')) for r in rows]}")
