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
from tests.autograder.server.conftest import distinct, notebook_bytes, released_course

A = fx.ASSIGNMENT
NAME = f"{A}.ipynb"


@pytest.fixture
def quiet_server(tmp_path):
    """A course server that queues but never grades (the attacks here are on accepting, not grading)."""
    srv = CourseServer(released_course(tmp_path / "course"), grade=False, rate_limit=3)
    yield srv
    srv.close()


def _race(srv: CourseServer, user, n: int, same: bool = False) -> tuple[list[int], list[int]]:
    """``n`` uploads of one user (different bytes, or the ``same``) released at the same instant; (stored ids,
    refusal statuses)."""
    data = notebook_bytes(fx.solved_notebook())
    gate = threading.Barrier(n)

    def one(k):
        gate.wait()
        try:
            return srv.submit(user, A, NAME, data if same else distinct(data, k))
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


def test_a_removed_or_remade_accounts_token_names_nobody(quiet_server):
    """Principle: a token is the account's (its hash in that row): removing the row ends it, re-adding makes another."""
    user, token, _ = accounts.add_user(quiet_server.engine, "ada", "student")
    assert quiet_server.user_by_token(token) == user
    accounts.remove_user(quiet_server.engine, "ada")
    assert quiet_server.user_by_token(token) is None
    again, new_token, _ = accounts.add_user(quiet_server.engine, "ada", "instructor")
    assert quiet_server.user_by_token(token) is None and quiet_server.user_by_token(new_token) == again
    for guess in ("", " ", token[:-1], token + "x", token.upper(), "\x00" * 43, "a" * 10_000):
        assert quiet_server.user_by_token(guess) is None


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


ADDRESS_LIMIT = 12  # failed sign-ins per address on the live server of this module (the default is generous)


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    from tests.autograder.server import http

    root = tmp_path_factory.mktemp("hostile")
    course = released_course(root / "course")
    tokens = {name: http.add_user(course, name, role) for name, role in (("ada", "student"), ("prof", "instructor"))}
    port = http.free_port()
    # A small address allowance, so that the test of what counts as an address needs few requests.
    proc = http.start_server(course, port, log=root / "serve.log",
                             environ={"RNN_SIGNIN_FAILURES_PER_ADDRESS": str(ADDRESS_LIMIT)})
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


# ---------------------------------------------------------------------------------------------- compare
def _rnn_case(T=4, D=2, H=3):
    import numpy as np

    rng = np.random.default_rng(0)
    params = {"W_xh": rng.normal(size=(D, H)), "W_hh": rng.normal(size=(H, H)), "b_h": rng.normal(size=(H,))}
    return rng.normal(size=(1, T, D)), np.zeros((1, H)), None, params


@pytest.fixture
def held_compares(quiet_server, monkeypatch):
    """Compare runs that wait until the test lets them go (no sandbox: the accounting is under test)."""
    from autograder.server import trace

    gate, threads = threading.Event(), []

    def fake_trace(cells, *args, **kwargs):
        threads.append(threading.current_thread())
        gate.wait(60)
        return {"steps": [], "error": None, "stopped_at": None, "output": "", "cells": cells}

    monkeypatch.setattr(trace, "trace", fake_trace)
    yield gate, threads
    gate.set()


def test_guests_share_one_allowance_whatever_their_session(quiet_server, held_compares):
    """Principle: the server decides who is asking; a new browser session is not a new allowance."""
    gate, _ = held_compares
    prof, _, _ = accounts.add_user(quiet_server.engine, "prof", "instructor")
    quiet_server.set_option(prof, "anonymous_compare", "on")
    code = "def rnn_step(x, h, p):\n    return h, {}\n"
    first = quiet_server.compare(None, "session:1", "rnn", *_rnn_case(), code=code)
    for who in ("session:2", "guest", "ada", "", "session:1"):  # whatever the caller claims
        with pytest.raises(RefusedError) as err:
            quiet_server.compare(None, who, "rnn", *_rnn_case(), code=code)
        assert err.value.status == 429
    gate.set()
    first.result(30)


def test_compare_runs_waiting_over_all_users_are_bounded(quiet_server, held_compares):
    """Principle: a bounded queue over everyone; over it the answer is 429 at once, never an unbounded wait."""
    from autograder.server.service import COMPARE_QUEUE

    gate, threads = held_compares
    users = [accounts.add_user(quiet_server.engine, f"s{k}", "student")[0] for k in range(COMPARE_QUEUE + 2)]
    code = "def rnn_step(x, h, p):\n    return h, {}\n"
    futures = [quiet_server.compare(u, u.name, "rnn", *_rnn_case(), code=code) for u in users[:COMPARE_QUEUE]]
    with pytest.raises(RefusedError) as err:
        quiet_server.compare(users[-1], users[-1].name, "rnn", *_rnn_case(), code=code)
    assert err.value.status == 429 and "comparisons already" in err.value.message
    gate.set()
    for f in futures:
        f.result(30)
    assert quiet_server.compare(users[-1], "x", "rnn", *_rnn_case(), code=code).result(30)["error"] is None
    assert threading.main_thread() not in threads


def test_a_submissions_notebook_is_read_in_the_compare_thread(quiet_server, held_compares, monkeypatch):
    """Principle: the caller (a page callback on the event loop) never parses a notebook for a comparison."""
    from autograder.server import trace

    gate, _ = held_compares
    gate.set()
    readers = []
    monkeypatch.setattr(trace, "student_code", lambda nb, course, a: readers.append(threading.current_thread())
                        or [("c", "pass")])
    user, _, _ = accounts.add_user(quiet_server.engine, "ada", "student")
    sid = quiet_server.submit(user, A, NAME, notebook_bytes(fx.solved_notebook()))
    assert quiet_server.compare(user, "ada", "rnn", *_rnn_case(), submission_id=sid).result(30)["cells"] == [
        ("c", "pass")]
    assert readers and threading.current_thread() not in readers
    other, _, _ = accounts.add_user(quiet_server.engine, "bo", "student")
    for sid_try in (sid, -sid, 2**40, "1 OR 1=1", str(sid) + " "):
        with pytest.raises(RefusedError) as err:
            quiet_server.compare(other, "bo", "rnn", *_rnn_case(), submission_id=sid_try)
        assert err.value.status == 404


@needs_sandbox
@pytest.mark.parametrize("code", [
    "import time\ndef rnn_step(x, h, p):\n    time.sleep(0.8)\n    return h, {}\n",
    # held out: the time goes in the cells, not in the steps
    "import time\ntime.sleep(0.8)\n",
])
def test_a_whole_comparison_has_a_time_budget(code):
    from autograder.sandbox import Limits
    from autograder.server.trace import trace

    cells = [(f"cell {k}", code) for k in range(6)] if "def" not in code else [("c", code)]
    if "def" not in code:
        cells.append(("last", "def rnn_step(x, h, p):\n    return h, {}\n"))
    X, h0, c0, params = _rnn_case(T=40)
    got = trace(cells, "rnn", X, h0, c0, params, limits=Limits(wall=2.0, notebook=20.0), budget=2.0)
    assert got["error"] and "used up" in got["error"], got
    assert len(got["steps"]) < 40


# ---------------------------------------------------------------------------------------------- availability
def test_listing_submissions_costs_a_fixed_number_of_queries(quiet_server):
    """Principle: a page that polls every second must not cost one query per submission (N+1)."""
    import sqlalchemy as sa

    quiet_server.rate_limit = 1000
    users = [accounts.add_user(quiet_server.engine, f"s{k}", "student")[0] for k in range(3)]
    prof, _, _ = accounts.add_user(quiet_server.engine, "prof", "instructor")
    data = notebook_bytes(fx.solved_notebook())
    ids = [quiet_server.submit(users[k % 3], A, NAME, distinct(data, k)) for k in range(24)]
    statements = []
    sa.event.listen(quiet_server.engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
    everyone = quiet_server.submissions_of(prof)
    assert len(statements) <= 3, statements  # rows, queued ones, students being graded: not one per row
    mine = quiet_server.submissions_of(users[0])
    assert [r["id"] for r in everyone] == sorted(ids, reverse=True) and len(mine) == 8
    # ... and the positions are those of the queue, one by one.
    assert [quiet_server.submission(prof, i)["position"] for i in ids] == list(range(1, 25))
    assert {r["id"]: r["position"] for r in everyone} == {i: k + 1 for k, i in enumerate(ids)}


def test_a_slow_sign_in_does_not_stop_the_server_answering(quiet_server, monkeypatch):
    """Principle: password hashing (scrypt, costly by design) and its database work run off the event loop."""
    import asyncio
    import re
    import urllib.parse
    import urllib.request

    import tornado.httpserver
    import tornado.netutil
    import tornado.web

    from simulator.app.pages.course import auth

    accounts.add_user(quiet_server.engine, "ada", "student")
    entered, release = threading.Event(), threading.Event()

    def slow_authenticate(engine, name, password):
        entered.set()
        release.wait(60)
        return None

    monkeypatch.setattr(auth, "authenticate", slow_authenticate)
    auth._Form.handle = staticmethod(lambda: quiet_server)
    loop_ready, state = threading.Event(), {}

    def serve():
        async def main():
            app = tornado.web.Application([(r"/login", auth.LoginHandler)], cookie_secret="s", xsrf_cookies=True)
            server = tornado.httpserver.HTTPServer(app)
            sockets = tornado.netutil.bind_sockets(0, "127.0.0.1")
            server.add_sockets(sockets)
            state["port"], state["stop"], state["loop"] = (sockets[0].getsockname()[1], asyncio.Event(),
                                                           asyncio.get_running_loop())
            loop_ready.set()
            await state["stop"].wait()
            server.stop()
        asyncio.run(main())

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    assert loop_ready.wait(30)
    base = f"http://127.0.0.1:{state['port']}/login"
    form = urllib.request.urlopen(base, timeout=30)
    cookie = form.headers["Set-Cookie"].split(";")[0]
    xsrf = re.search(r'name="_xsrf" value="([^"]+)"', form.read().decode()).group(1)
    body = urllib.parse.urlencode({"_xsrf": xsrf, "username": "ada", "password": "wrong-password"}).encode()
    request = urllib.request.Request(base, data=body, headers={"Cookie": cookie})
    poster = threading.Thread(target=lambda: _swallow(lambda: urllib.request.urlopen(request, timeout=60)))
    poster.start()
    try:
        assert entered.wait(30)  # the sign-in is hashing now...
        with urllib.request.urlopen(base, timeout=20) as again:  # ...and the server still answers others
            assert again.status == 200 and b"Sign in" in again.read()
    finally:
        release.set()
        poster.join(60)
        state["loop"].call_soon_threadsafe(state["stop"].set)
        thread.join(10)


def _swallow(fn):
    try:
        fn()
    except Exception:  # noqa: BLE001 - the 401 of a wrong password is expected here
        pass


# ---------------------------------------------------------------------------------------------- uploads
def _nb(**cell) -> bytes:
    import json

    base = {"cell_type": "code", "source": "", "metadata": {}, "outputs": [], "execution_count": None, "id": "c0"}
    return json.dumps({"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": [base | cell]}).encode()


UPLOADS = {  # name: (bytes, file name); the second half were written after the fix (held out)
    "nbgrader a string": (_nb(metadata={"nbgrader": "x"}), NAME),
    "grade_id a list": (_nb(metadata={"nbgrader": {"grade_id": [1]}}), NAME),
    "JSON nested 100000 deep": (b"[" * 100_000 + b"]" * 100_000, NAME),
    "UTF-16": ('{"cells": [], "nbformat": 4}'.encode("utf-16"), NAME),
    "not .ipynb": (notebook_bytes(fx.solved_notebook()), "rnn_cell.ipynb\x00.py"),
    # held out
    "nbgrader a list": (_nb(metadata={"nbgrader": [{"grade_id": "rnn_step"}]}), NAME),
    "grade_id an object": (_nb(metadata={"nbgrader": {"grade_id": {"$ne": None}}}), NAME),
    "grade_id a number": (_nb(metadata={"nbgrader": {"grade_id": 7}}), NAME),
    "cells an object": (b'{"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": {"0": {}}}', NAME),
    "top level a list": (b"[1, 2, 3]", NAME),
    "Latin-1 bytes": (b'{"cells": [], "metadata": {"x": "\xe9"}, "nbformat": 4, "nbformat_minor": 5}', NAME),
    "NUL bytes": (b"\x00" * 4096, NAME),
    "a 5000-digit number": (b'{"nbformat": 4, "nbformat_minor": 5, "metadata": {"x": ' + b"9" * 5000 + b'}, '
                            b'"cells": []}', NAME),
    "nbformat 99": (b'{"nbformat": 99, "nbformat_minor": 0, "metadata": {}, "cells": []}', NAME),
    "empty": (b"", NAME),
}


@pytest.mark.parametrize("case", list(UPLOADS))
def test_a_malformed_upload_is_a_clear_refusal_that_stores_nothing(quiet_server, case):
    """Principle: the upload is the student's data, read by type; every shape is a 4xx naming the file."""
    data, filename = UPLOADS[case]
    user, _, _ = accounts.add_user(quiet_server.engine, "ada", "student")
    with pytest.raises(RefusedError) as err:
        quiet_server.submit(user, A, filename, data)
    assert err.value.status in (404, 413, 422) and filename.split("\x00")[0] in err.value.message
    assert _stored(quiet_server, user) == 0


def _parts(*parts: tuple[str, str | None, bytes], boundary: str = "b0undary") -> tuple[bytes, str]:
    body = b""
    for field, filename, data in parts:
        name = f'; filename="{filename}"' if filename is not None else ""
        head = f'--{boundary}\r\nContent-Disposition: form-data; name="{field}"{name}\r\n\r\n'
        body += head.encode() + data + b"\r\n"
    return body + f"--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


MULTIPART = {  # (body, content type) -> refused, nothing stored; the second half held out
    "no filename": _parts(("notebook", None, b"{}")),
    "another field name": _parts(("file", "rnn_cell.ipynb", b"{}")),
    "a JSON body": (b'{"notebook": {}}', "application/json"),
    "boundary mismatch": (_parts(("notebook", "rnn_cell.ipynb", b"{}"))[0], "multipart/form-data; boundary=other"),
    # held out
    "no boundary": (_parts(("notebook", "rnn_cell.ipynb", b"{}"))[0], "multipart/form-data"),
    "a notebook as a text field": _parts(("notebook", None, b'{"cells": []}')),
    "the first of two is not a notebook": _parts(("notebook", "a.txt", b"x"), ("notebook", "rnn_cell.ipynb", b"{}")),
    "a path and markup in the name": _parts(("notebook", "../../<b>x</b>.ipynb", b"{broken")),
    "no content type": (b"--b\r\n\r\n", ""),
}


@pytest.mark.parametrize("case", list(MULTIPART))
def test_multipart_games_are_refused_and_store_nothing(live, case):
    from tests.autograder.server import http

    port, t = live["port"], live["tokens"]
    before = http.call(port, "GET", f"/api/v1/assignments/{A}/submissions", t["ada"])[1]["submissions"]
    body, ctype = MULTIPART[case]
    status, answer = http.call(port, "POST", f"/api/v1/assignments/{A}/submissions", t["ada"], body, ctype or None)
    assert status == 422 and isinstance(answer, dict) and answer["error"], (status, answer)
    after = http.call(port, "GET", f"/api/v1/assignments/{A}/submissions", t["ada"])[1]["submissions"]
    assert len(after) == len(before)


# ---------------------------------------------------------------------------------------------- floods (last:
# they spend this address's allowances on the shared live server)
def test_guessing_tokens_is_limited_per_address_and_never_blocks_a_valid_token(live):
    from autograder.server.api import BAD_TOKENS_PER_MINUTE
    from tests.autograder.server import http

    port, t = live["port"], live["tokens"]
    codes = [http.call(port, "GET", "/api/v1/submissions/1", f"guess-{k}")[0]
             for k in range(BAD_TOKENS_PER_MINUTE + 5)]
    first = codes.index(429)  # earlier tests of this module may have spent a few of this address's guesses
    assert 0 < first <= BAD_TOKENS_PER_MINUTE and set(codes[:first]) == {401} and set(codes[first:]) == {429}
    status, body = http.call(port, "GET", f"/api/v1/assignments/{A}/submissions", t["ada"])
    assert status == 200 and "submissions" in body


def test_the_sign_in_limit_is_per_connection_address_not_a_header(live):
    """X-Forwarded-For is not believed (tornado's xheaders is off): a client cannot pick a fresh address.

    Every try names a new account, so only the address's allowance (``ADDRESS_LIMIT`` here) can stop them.
    """
    import re
    import urllib.error
    import urllib.parse
    import urllib.request

    FAILED_LIMIT = ADDRESS_LIMIT
    base = f"http://127.0.0.1:{live['port']}/login"
    form = urllib.request.urlopen(base, timeout=30)
    cookie = form.headers["Set-Cookie"].split(";")[0]
    xsrf = re.search(r'name="_xsrf" value="([^"]+)"', form.read().decode()).group(1)
    codes = []
    for k in range(FAILED_LIMIT + 2):
        body = urllib.parse.urlencode({"_xsrf": xsrf, "username": f"nobody{k}", "password": "wrong-password"})
        request = urllib.request.Request(base, data=body.encode(), headers={
            "Cookie": cookie, "X-Forwarded-For": f"10.0.{k}.1", "X-Real-Ip": f"10.1.{k}.1"})
        try:
            codes.append(urllib.request.urlopen(request, timeout=60).status)
        except urllib.error.HTTPError as exc:
            codes.append(exc.code)
    assert codes[:FAILED_LIMIT] == [401] * FAILED_LIMIT and set(codes[FAILED_LIMIT:]) == {429}, codes


@needs_sandbox
def test_student_code_in_a_comparison_never_runs_in_the_server_process():
    """Invariant 5: what the code does to its interpreter (numpy, builtins, its pid, printing floods) stays there."""
    import os
    import re

    import numpy as np

    from autograder.sandbox import Limits
    from autograder.server.trace import trace

    code = ("import os, builtins, numpy\n"
            "numpy.tanh = lambda a: a * 0\nnumpy.float64 = int\nbuiltins.abs = None\n"
            "print('PID', os.getpid())\nprint('x' * 5_000_000)\n"
            "def rnn_step(x, h, p):\n    return h, {}\n")
    X, h0, c0, params = _rnn_case(T=3)
    got = trace([("c", code)], "rnn", X, h0, c0, params, limits=Limits(wall=10.0, notebook=20.0))
    assert got["error"] is None and len(got["steps"]) == 3
    assert len(got["output"]) <= 4000  # the flood was read and dropped, not kept
    assert np.tanh(np.array([1.0]))[0] > 0.7 and len([1, 2]) == 2  # this process's numpy and builtins are its own
    assert np.float64 is not int and abs(-1) == 1
    pids = re.findall(r"PID (\d+)", got["output"])
    assert not pids or int(pids[0]) != os.getpid()


def test_one_students_flood_does_not_starve_the_others(quiet_server):
    """Principle: round-robin over students (each student's k-th waiting submission after everyone's (k-1)-th)."""
    from autograder.server import queue

    quiet_server.rate_limit = 100
    ada, bo, cy = (accounts.add_user(quiet_server.engine, n, "student")[0] for n in ("ada", "bo", "cy"))
    data = notebook_bytes(fx.solved_notebook())
    flood = [quiet_server.submit(ada, A, NAME, distinct(data, k)) for k in range(6)]
    late_b = quiet_server.submit(bo, A, NAME, data)
    late_c = [quiet_server.submit(cy, A, NAME, distinct(data, k)) for k in range(2)]
    assert quiet_server.submission(bo, late_b)["position"] == 2  # not 7: behind ada's first only
    first = queue.claim(quiet_server.engine, "s")  # ada's first is being graded...
    assert first.id == flood[0]
    # ...so ada's second waits behind bo's and cy's first (ada already has one in the workers).
    order = [queue.claim(quiet_server.engine, "s").id for _ in range(4)]
    assert order == [late_b, late_c[0], flood[1], late_c[1]]
    rest = [queue.claim(quiet_server.engine, "s").id for _ in range(4)]
    assert rest == flood[2:] and queue.claim(quiet_server.engine, "s") is None  # every one claimed once
