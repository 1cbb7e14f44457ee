"""The course server attacked as a hostile student, a curious guest and an outside reviewer would.

Each test names the principle the defence enforces; the payloads are a sample of the class, several of them
written after the fix (held out: the fix was not tuned on them).
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from autograder.server import accounts, db
from autograder.server.service import CourseServer
from autograder.server.submissions import RefusedError
from tests.autograder.fixtures import course as fx
from tests.autograder.server.conftest import notebook_bytes, released_course

A = fx.ASSIGNMENT
NAME = f"{A}.ipynb"


@pytest.fixture
def quiet_server(tmp_path):
    """A course server that queues but never grades (the attacks here are on accepting, not grading)."""
    srv = CourseServer(released_course(tmp_path / "course"), grade=False, rate_limit=3)
    yield srv
    srv.close()


def _race(srv: CourseServer, user, n: int) -> tuple[list[int], list[int]]:
    """``n`` uploads of one user released at the same instant; (stored ids, refusal statuses)."""
    data = notebook_bytes(fx.solved_notebook())
    gate = threading.Barrier(n)

    def one(_k):
        gate.wait()
        try:
            return srv.submit(user, A, NAME, data)
        except RefusedError as exc:
            return -exc.status

    with ThreadPoolExecutor(n) as pool:
        out = list(pool.map(one, range(n)))
    return [x for x in out if x > 0], [-x for x in out if x < 0]


def _stored(srv: CourseServer, user) -> int:
    import sqlalchemy as sa

    with srv.engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(db.submissions)
                            .where(db.submissions.c.user_id == user.id)).scalar_one()


def test_parallel_uploads_cannot_pass_the_rate_limit_together(quiet_server):
    """Principle: a limit is checked and the row inserted under one lock per user, not read-then-write."""
    user, _, _ = accounts.add_user(quiet_server.engine, "ada", "student")
    ids, refused = _race(quiet_server, user, 12)
    assert len(ids) == 3 and _stored(quiet_server, user) == 3
    assert refused and set(refused) == {429}


def test_parallel_uploads_cannot_pass_the_maximum_together(quiet_server):
    prof, _, _ = accounts.add_user(quiet_server.engine, "prof", "instructor")
    quiet_server.configure(prof, A, max_submissions=2)
    quiet_server.rate_limit = 100
    user, _, _ = accounts.add_user(quiet_server.engine, "bo", "student")
    ids, refused = _race(quiet_server, user, 10)
    assert len(ids) == 2 and _stored(quiet_server, user) == 2 and set(refused) == {403}


# ---------------------------------------------------------------------------------------------- ids
@pytest.mark.parametrize("sid", [2**31, 2**40, 10**12 - 1, 0, -1, "1 ", "²", "٣", "１", "+1", "0x1", "1e3", "", None])
def test_an_id_that_cannot_name_a_row_is_404_not_an_error(quiet_server, sid):
    """Principle: one parser for ids (1-10 ASCII digits, a 32-bit integer); anything else names nothing."""
    user, _, _ = accounts.add_user(quiet_server.engine, "ada", "student")
    with pytest.raises(RefusedError) as err:
        quiet_server.submission(user, sid)
    assert err.value.status == 404 and "of yours" in err.value.message


@pytest.mark.parametrize("text, expected", [("17", 17), (b"17", 17), ("0017", 17), (17, 17), (True, None),
                                            ("2147483647", 2**31 - 1), ("2147483648", None), ("-3", None),
                                            (" 3", None), ("3\n", None), ("٣", None), ("³", None), (3.0, None)])
def test_parse_id(text, expected):
    from autograder.server.submissions import parse_id

    assert parse_id(text) == expected


# ---------------------------------------------------------------------------------------------- limiter
def test_the_request_limiter_forgets_keys_and_keeps_each_keys_limit():
    """Principle: bounded memory whatever the keys; one key's events never block another key."""
    from autograder.server.api import RateLimiter

    limiter = RateLimiter(limit=3, window=60.0, max_keys=1000)
    assert all(limiter.allow("ada") for _ in range(3)) and not limiter.allow("ada")
    for k in range(20_000):  # a flood of made-up keys
        limiter.allow(f"junk{k}")
    assert len(limiter) <= 1001
    assert limiter.allow("bo")  # another key is untouched by ada's limit and by the flood


# ---------------------------------------------------------------------------------------------- a live server
needs_sandbox = pytest.mark.skipif(__import__("autograder.sandbox", fromlist=["isolation"]).isolation.detect() is None,
                                   reason="no sandbox isolation on this machine")


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    from tests.autograder.server import http

    root = tmp_path_factory.mktemp("hostile")
    course = released_course(root / "course")
    tokens = {name: http.add_user(course, name, role) for name, role in (("ada", "student"), ("prof", "instructor"))}
    port = http.free_port()
    proc = http.start_server(course, port, log=root / "serve.log")
    yield {"port": port, "tokens": tokens, "course": course, "log": root / "serve.log"}
    proc.terminate()
    proc.wait(20)


def _headers_only(port: int, head: str, timeout: float = 30.0) -> str:
    """Send a request's headers (declaring a body that never comes) and read the answer to them alone."""
    import socket

    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(head.encode())
        try:
            return s.recv(65536).decode(errors="replace")
        except TimeoutError:
            return "(no answer: the server is waiting for the body)"


@pytest.mark.parametrize("authorization", ["", "Authorization: Bearer not-a-token\r\n",
                                           "Authorization: Basic YWRhOnNlY3JldA==\r\n",
                                           "Authorization: Bearer \r\n"])
def test_an_anonymous_upload_is_refused_before_its_body_is_read(live, authorization):
    """Principle: nothing of a request body is held before its sender is known (no anonymous buffering)."""
    answer = _headers_only(live["port"], f"POST /api/v1/assignments/{A}/submissions HTTP/1.1\r\nHost: x\r\n"
                           f"{authorization}Content-Type: multipart/form-data; boundary=b\r\n"
                           f"Content-Length: {10 * 2**20}\r\n\r\n")
    assert answer.startswith("HTTP/1.1 401"), answer[:200]


@pytest.mark.parametrize("path", ["/login", f"/api/v1/assignments/{A}/regrade", "/course/setup", "/cell"])
def test_a_large_body_anywhere_else_is_refused_to_its_headers(live, path):
    """Principle: every body but an authenticated upload is small (tornado's max_body_size), read or refused."""
    answer = _headers_only(live["port"], f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: "
                           f"application/x-www-form-urlencoded\r\nContent-Length: {50 * 2**20}\r\n\r\n")
    assert answer.startswith("HTTP/1.1 4"), answer[:200]


def test_the_server_holds_http_connections_for_a_bounded_time():
    import serve

    limits = serve.http_limits()
    assert 0 < limits["idle_connection_timeout"] <= 300 and 0 < limits["body_timeout"] <= 600
    assert limits["max_body_size"] <= 2**20
