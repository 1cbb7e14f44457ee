"""Web red team (stop 22) on a real ``serve.py``: uploads nested deep, and the classes probed that held.

Found (breach of the rule "bad input gets a clear error naming what was wrong"): a notebook nested about 1,000
levels deep was refused with Python's own "maximum recursion depth exceeded while decoding a JSON array", 500
levels with "... in __instancecheck__" (nbformat's validation), and 100-499 levels were *accepted*, stored and
left to recurse in the grader and the Compare reader. Principle: the upload's structure is bounded before
anything recursive reads it (``submissions.MAX_DEPTH``, counted in the same loop as the values). ``DEEP_TUNING``
were the payloads the fix was written against; ``DEEP_HELD_OUT`` were written after it and not tuned on.

The other classes (CSRF on every state-changing request, compressed and archive bodies, slow clients, open
redirects, other students' ids, HTML in a file name) held on the old code; their payloads are here so that
they keep holding. Each has a control showing the probe can see a success.
"""

from __future__ import annotations

import asyncio
import gzip
import io
import json
import re
import socket
import time
import zipfile
from http import client
from urllib.parse import quote, urlencode

import pytest
import sqlalchemy as sa

from autograder.server import accounts, db
from tests.autograder.fixtures import course as fx
from tests.autograder.server import http
from tests.autograder.server.classroom import XSRF, Browser
from tests.autograder.server.conftest import notebook_bytes, released_course

A = fx.ASSIGNMENT


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    root = tmp_path_factory.mktemp("redteam2")
    course = released_course(root / "course")
    engine = db.connect(db.default_url(course))
    tokens = {}
    for name, role in (("ada", "student"), ("bo", "student"), ("prof", "instructor")):
        _, token, code = accounts.add_user(engine, name, role)
        accounts.set_password_with_code(engine, name, code, f"{name}-password")
        tokens[name] = token
    port = http.free_port()
    proc = http.start_server(course, port, log=root / "serve.log")
    yield port, tokens, engine, root / "serve.log"
    proc.terminate()
    proc.wait(20)
    engine.dispose()


def stored(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(db.submissions)).scalar()


def nested(depth: int, kind: str = "list") -> object:
    value: object = 1
    for k in range(depth - 1):
        value = [value] if kind == "list" or (kind == "mixed" and k % 2) else {"k": value}
    return value


def with_value(where: str, value: object) -> bytes:
    nb = json.loads(notebook_bytes(fx.solved_notebook()))
    cell = nb["cells"][-1]
    if where == "metadata":
        nb["metadata"]["x"] = value
    elif where == "cell":
        cell["metadata"]["x"] = value
    elif where == "output":
        nb["cells"].append({"cell_type": "code", "metadata": {}, "execution_count": 1, "source": "x", "outputs": [
            {"output_type": "display_data", "metadata": {}, "data": {"application/json": value}}]})
    elif where == "attachment":
        nb["cells"].append({"cell_type": "markdown", "metadata": {}, "source": "x",
                            "attachments": {"a.png": {"image/png": "AA==", "x": value}}})
    return json.dumps(nb).encode()


DEEP_TUNING = {
    "a list 100000 deep": b"[" * 100_000 + b"]" * 100_000,
    "metadata 900 deep": with_value("metadata", nested(900)),
    "metadata 300 deep": with_value("metadata", nested(300)),
}
DEEP_HELD_OUT = {
    "objects 5000 deep (raw)": b'{"a":' * 5000 + b"1" + b"}" * 5000,
    "cell metadata, lists and objects 400 deep": with_value("cell", nested(400, "mixed")),
    "a display output's JSON 120 deep": with_value("output", nested(120, "dict")),
    "an attachment 70 deep": with_value("attachment", nested(70)),
    "just over: metadata 66 deep": with_value("metadata", nested(66 - 1)),
}


@pytest.mark.parametrize("case", [*DEEP_TUNING, *DEEP_HELD_OUT])
def test_a_notebook_nested_too_deep_is_refused_naming_the_bound(live, case):
    """Does a deeply nested upload get a 422 that names the nesting and the bound, and store nothing?"""
    port, tokens, engine, log = live
    data = {**DEEP_TUNING, **DEEP_HELD_OUT}[case]
    before = stored(engine)
    status, body = http.submit(port, tokens["ada"], A, data, filename="deep.ipynb")
    assert status == 422, (status, body)
    assert "deep.ipynb" in body["error"] and "nested more than 64 levels" in body["error"], body
    assert "recursion" not in body["error"]
    assert stored(engine) == before
    assert "Traceback" not in log.read_text()


def test_a_notebook_nested_within_the_bound_is_accepted(live):
    """Control: a display output's JSON 40 deep (a plotting library's state) is an ordinary submission."""
    port, tokens, engine, _log = live
    status, body = http.submit(port, tokens["bo"], A, with_value("output", nested(40, "mixed")))
    assert status == 202, body


# ------------------------------------------------------------------ compressed and archive bodies (held)
def _zip_bomb() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr(f"{A}.ipynb", b"0" * 50_000_000)
    return out.getvalue()


def test_compressed_and_archive_uploads_are_never_expanded(live):
    """A zip (or a zip of a zip) named .ipynb, and a gzip Content-Encoding body, are refused unread (422)."""
    port, tokens, engine, _log = live
    before = stored(engine)
    bomb = _zip_bomb()
    inner = io.BytesIO()
    with zipfile.ZipFile(inner, "w") as z:
        z.writestr("bomb.zip", bomb)
    for name, data in (("zip", bomb), ("zip in zip", inner.getvalue()),
                       ("gzip file", gzip.compress(notebook_bytes(fx.solved_notebook())))):
        status, body = http.submit(port, tokens["ada"], A, data)
        assert status == 422 and "not a valid notebook" in body["error"], (name, status, body)
    body, ctype = http.multipart("notebook", f"{A}.ipynb", b" " * 50_000_000)
    packed = gzip.compress(body, 9)
    conn = client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        conn.request("POST", f"/api/v1/assignments/{A}/submissions", packed, {
            "Authorization": f"Bearer {tokens['ada']}", "Content-Type": ctype, "Content-Encoding": "gzip"})
        answer = conn.getresponse()
        status, text = answer.status, answer.read().decode()
    finally:
        conn.close()
    assert status in (400, 422), (status, text)  # the compressed bytes are read as they are, never inflated
    assert stored(engine) == before


# ------------------------------------------------------------------ CSRF (held)
CROSS_SITE = {"Origin": "http://evil.example", "Content-Type": "application/x-www-form-urlencoded"}


def test_cross_site_posts_are_refused_with_a_sentence(live):
    """Sign-in, set-up, sign-out and an upload posted by another site's form: refused, saying why."""
    port, tokens, engine, _log = live

    async def go():
        ada = Browser(port)
        assert (await ada.sign_in("ada", "ada-password")).status == 302  # control: the real form signs in
        forms = {"/login": {"username": "ada", "password": "ada-password", "next": "/course"},
                 "/course/setup": {"user": "ada", "code": "x" * 20, "password": "p" * 9, "again": "p" * 9},
                 "/logout": {"token": "0" * 64}}
        for path, fields in forms.items():
            answer = await ada.request("POST", path, urlencode(fields), CROSS_SITE)
            assert answer.status == 403, (path, answer.status, answer.body[:300])
            assert "another site" in answer.body, (path, answer.body[:400])
        # the session survived the forged sign-out, and a cookie alone never uploads
        page = await ada.request("GET", "/logout")
        assert "You are signed in as" in page.body
        body, ctype = http.multipart("notebook", f"{A}.ipynb", notebook_bytes(fx.solved_notebook()))
        before = stored(engine)
        answer = await ada.request("POST", f"/api/v1/assignments/{A}/submissions", body,
                                   {"Content-Type": ctype, "Origin": "http://evil.example"})
        assert answer.status == 401 and stored(engine) == before, answer.body

    asyncio.run(go())


# ------------------------------------------------------------------ open redirects (held)
NEXT = ["//evil.example", "/\\evil.example", "https://evil.example", "/%2F%2Fevil.example", "\t//evil.example",
        "/.//evil.example\\", "javascript:alert(1)", "///evil.example", "/\u3002evil.example"]


def test_sign_in_never_redirects_off_this_server(live):
    port, _tokens, _engine, _log = live

    async def go():
        for target in NEXT:
            browser = Browser(port)
            form = await browser.request("GET", "/login?next=" + quote(target, safe=""))
            if form.status != 200:  # a next= the server cannot read is a readable 400, never a redirect
                assert form.status == 400 and "What was wrong" in form.body, (target, form.status)
                continue
            xsrf = XSRF.search(form.body).group(1)
            answer = await browser.request("POST", "/login", urlencode(
                {"_xsrf": xsrf, "username": "bo", "password": "bo-password", "next": target}),
                {"Content-Type": "application/x-www-form-urlencoded"})
            assert answer.status == 302, (target, answer.status)
            location = answer.headers.get("Location", "")
            assert location.startswith("/") and not re.match(r"^/[/\\]", location), (target, location)

    asyncio.run(go())


# ------------------------------------------------------------------ another student's ids (held)
def test_another_students_submission_answers_like_a_missing_one(live):
    port, tokens, _engine, _log = live
    status, mine = http.submit(port, tokens["ada"], A, notebook_bytes(fx.solved_notebook()) + b"  ")
    assert status in (200, 202), mine
    sid = mine["id"]
    assert http.call(port, "GET", f"/api/v1/submissions/{sid}", tokens["ada"])[0] == 200  # control
    def words(answer):  # the same sentence whichever id it names
        return answer[0], re.sub(r"\d+", "N", json.dumps(answer[1]))

    missing = words(http.call(port, "GET", "/api/v1/submissions/999999", tokens["bo"]))
    for path in (f"/api/v1/submissions/{sid}", f"/api/v1/submissions/{sid:010d}", f"/api/v1/submissions/{sid}/"):
        got = words(http.call(port, "GET", path, tokens["bo"]))
        assert got[0] == 404 and (path.endswith("/") or got == missing), (path, got, missing)
    assert http.call(port, "GET", f"/api/v1/submissions/{sid}")[0] == 401
    got = http.call(port, "GET", f"/api/v1/assignments/{A}/submissions", tokens["bo"])[1]
    assert all(row["student"] == "bo" for row in got["submissions"]), got
    assert http.call(port, "POST", f"/api/v1/assignments/{A}/regrade", tokens["bo"], b'{"ids": [%d]}' % sid,
                     "application/json")[0] == 403


# ------------------------------------------------------------------ slow clients (held)
def test_slow_clients_do_not_stop_the_server_serving_others(live):
    """60 connections dribbling headers and 20 dribbling a declared body, held open while others are served."""
    port, tokens, _engine, log = live
    held = []
    try:
        for k in range(80):
            s = socket.create_connection(("127.0.0.1", port), timeout=10)
            if k < 60:
                s.sendall(b"GET /course HTTP/1.1\r\nHost: 127.0.0.1\r\nX-a: ")
            else:
                s.sendall(b"POST /login HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-"
                          b"urlencoded\r\nContent-Length: 60000\r\n\r\nusername=")
            held.append(s)
        for round_ in range(3):
            for s in held:
                s.sendall(b"a")
            assert http.call(port, "GET", f"/api/v1/assignments/{A}/submissions", tokens["bo"])[0] == 200
            status, text = http.call(port, "GET", "/login")
            assert status == 200 and "Sign in" in text, round_
            time.sleep(0.2)
    finally:
        for s in held:
            s.close()
    assert "Traceback" not in log.read_text()


# ------------------------------------------------------------------ HTML in a file name (held)
def test_html_in_a_file_name_comes_back_escaped_or_as_json(live):
    port, tokens, engine, _log = live
    name = '<img src=x onerror=alert(1)>"\'.py'
    status, body = http.submit(port, tokens["ada"], A, b"{}", filename=name)
    assert status == 422 and body["error"].startswith(name), body  # JSON, nosniff: not a page
    before = stored(engine)
    status, body = http.submit(port, tokens["ada"], A, notebook_bytes(fx.solved_notebook()) + b"   ",
                               filename='<script>alert(1)</script>.ipynb')
    assert status == 202 and stored(engine) == before + 1, body
    status, text = http.call(port, "GET", f"/api/v1/assignments/{A}/grades.csv", tokens["prof"])
    assert status == 200 and "<script>" not in text
