"""Uploads held open against a real ``serve.py``: what one student, or many, can make the server hold in memory.

Principle: the memory an upload holds is bounded twice, before a byte of its body is kept: per account (at
most ``UPLOADS_PER_USER`` uploads in progress, 429 beyond) and per process (at most ``RNN_UPLOAD_BUDGET_MIB``
of bodies buffered over everyone, 503 with ``Retry-After`` beyond), and an upload's share is given back however
it ends (answered, refused, or the client gone mid-body). Before this, one token held 40 connections with 12 MiB
each (the server's resident memory grew by 480 MiB, and stayed).

The payloads marked ``tuning`` were the ones the fix was written against; the ``held out`` ones were written
with them, before the fix, and not looked at while writing it.
"""

from __future__ import annotations

import socket
import time

import pytest

from autograder.server import accounts, db
from autograder.server.uploads import UPLOADS_PER_USER
from tests.autograder.fixtures import course as fx
from tests.autograder.server import http
from tests.autograder.server.conftest import distinct, notebook_bytes, released_course

A = fx.ASSIGNMENT
BUDGET_MIB = 40  # the live server's process budget for upload bodies in flight (small, so tests need few sockets)
PATH = f"/api/v1/assignments/{A}/submissions"


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    root = tmp_path_factory.mktemp("slots")
    course = released_course(root / "course")
    engine = db.connect(db.default_url(course))
    tokens = {}
    for name in ("ada", "bo", "cy", "dee", "eve", "fay", "gus", "hal", "ivy"):
        tokens[name] = accounts.add_user(engine, name, "student")[1]
    engine.dispose()
    port = http.free_port()
    proc = http.start_server(course, port, "--grading-workers", "1", log=root / "serve.log",
                             environ={"RNN_UPLOAD_BUDGET_MIB": str(BUDGET_MIB)})
    yield {"port": port, "tokens": tokens, "log": root / "serve.log"}
    proc.terminate()
    proc.wait(20)


def start(port: int, token: str, declared: int | None = 15 * 2**20) -> tuple[socket.socket, str]:
    """Send an upload's headers with ``Expect: 100-continue`` (``declared`` None: chunked) and read the server's
    first answer: ``100 (Continue)`` once the handler admitted it (prepare has run), else its refusal."""
    s = socket.create_connection(("127.0.0.1", port), timeout=60)
    length = f"Content-Length: {declared}\r\n" if declared is not None else "Transfer-Encoding: chunked\r\n"
    s.sendall((f"POST {PATH} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\nExpect: 100-continue\r\n"
               f"Content-Type: multipart/form-data; boundary=b\r\n{length}\r\n").encode())
    return s, answered(s, 60.0) or "(no answer)"


def hold(port: int, token: str, declared: int | None = 15 * 2**20, send: int = 2**20) -> socket.socket:
    """An upload the server admitted, with its first ``send`` body bytes sent and the rest never."""
    s, head = start(port, token, declared)
    assert head.startswith("HTTP/1.1 100"), f"the upload to hold was not admitted: {head[:200]}"
    if send:
        body = b"--b\r\n" + b"x" * send
        s.sendall(body if declared is not None else f"{len(body):x}\r\n".encode() + body + b"\r\n")
    return s


def answered(s: socket.socket, wait: float = 3.0) -> str | None:
    """The answer's head (status line first) the server sent on ``s`` within ``wait`` s, or None (it is still
    reading the body)."""
    s.settimeout(wait)
    try:
        data = s.recv(4096)
    except TimeoutError:
        return None
    return data.decode("latin-1").split("\r\n\r\n", 1)[0] if data else "(closed)"


def refused(port: int, token: str, status: int, declared: int | None = 2 * 2**20) -> str | None:
    """The head of a new upload's answer if it is ``status`` at its headers (before any body), else None."""
    s, head = start(port, token, declared)
    s.close()
    return head if head.startswith(f"HTTP/1.1 {status}") else None


def _until(predicate, bound: float = 30.0):
    """Poll ``predicate`` until it is truthy (a liveness bound against a hung test, not a timing claim)."""
    end = time.monotonic() + bound
    while time.monotonic() < end:
        if out := predicate():
            return out
        time.sleep(0.3)
    return predicate()


def _submit(live, name: str, k: int) -> int:
    data = distinct(notebook_bytes(fx.solved_notebook()), k)
    return http.submit(live["port"], live["tokens"][name], A, data)[0]


def _close(socks) -> None:
    for s in socks:
        s.close()


def test_tuning_one_account_holds_at_most_its_slots(live):
    """Is the upload after ``UPLOADS_PER_USER`` held ones refused at its headers (429), and are they given back?"""
    socks = [hold(live["port"], live["tokens"]["ada"], declared=2 * 2**20, send=2**19)
             for _ in range(UPLOADS_PER_USER)]
    try:
        assert refused(live["port"], live["tokens"]["ada"], 429), "the extra upload was not refused at its headers"
        assert all(answered(s, 0.5) is None for s in socks)  # the held ones are still being read
    finally:
        _close(socks)
    # the client went away mid-body: its slots come back (polled: the server notices the closed connections)
    assert _until(lambda: _submit(live, "ada", 1) == 202) is True


def test_held_out_chunked_uploads_count_too(live):
    """Held out: uploads without a declared length (chunked) hold slots like declared ones."""
    socks = [hold(live["port"], live["tokens"]["bo"], declared=None) for _ in range(UPLOADS_PER_USER)]
    try:
        assert refused(live["port"], live["tokens"]["bo"], 429, declared=None)
    finally:
        _close(socks)
    assert _until(lambda: _submit(live, "bo", 2) == 202) is True


def test_held_out_headers_without_a_body_hold_a_slot(live):
    """Held out: an upload that sends its headers and never a byte of body still counts."""
    socks = [hold(live["port"], live["tokens"]["cy"], declared=100_000, send=0) for _ in range(UPLOADS_PER_USER)]
    try:
        assert refused(live["port"], live["tokens"]["cy"], 429, declared=100_000)
        # ... and another student is not refused for cy's uploads (the bound is per account)
        assert _submit(live, "dee", 3) == 202
    finally:
        _close(socks)


def test_held_out_refused_uploads_give_their_slot_back(live):
    """Held out: more refusals in a row than there are slots (422 malformed, 413 oversize) never turn into 429."""
    port, token = live["port"], live["tokens"]["eve"]
    codes = [http.call(port, "POST", PATH, token, *http.multipart("notebook", "x.ipynb", b"{broken"))[0]
             for _ in range(UPLOADS_PER_USER + 2)]
    assert set(codes) == {422}, codes
    lines = []
    for _ in range(UPLOADS_PER_USER + 1):  # 17 MiB without a declared length: refused (413) once it is too big
        s = hold(port, token, declared=None, send=0)
        for _ in range(17):
            s.sendall(f"{2**20:x}\r\n".encode() + b"x" * 2**20 + b"\r\n")
        s.sendall(b"0\r\n\r\n")
        lines.append(answered(s, 30.0))
        s.close()
    assert all((line or "").startswith("HTTP/1.1 413") for line in lines), lines
    assert _submit(live, "eve", 4) == 202


def test_held_out_the_process_budget_bounds_many_accounts_together(live):
    """Held out: uploads of several accounts, each within its own slots, together stay within the process's budget;
    beyond it the answer is 503 with Retry-After, at the headers, and the budget comes back when they end."""
    port, t = live["port"], live["tokens"]
    declared = 15 * 2**20
    socks = [hold(port, t[name], declared=declared, send=2**20) for name in ("gus", "hal")]  # 30 of 40 MiB
    try:
        line = refused(port, t["ivy"], 503, declared=declared)  # 45 MiB > 40: refused before its body
        assert line and "\r\nRetry-After: " in line, line
        assert _submit(live, "fay", 5) == 202  # a small notebook still fits
    finally:
        _close(socks)
    assert _until(lambda: refused(port, t["ivy"], 100, declared=declared))
