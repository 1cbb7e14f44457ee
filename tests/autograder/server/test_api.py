"""The JSON API of a real ``serve.py --course``: every answer code, and a student never sees another's work."""

import json

import pytest

from autograder.sandbox import isolation
from tests.autograder.fixtures import course as fx
from tests.autograder.server import http
from tests.autograder.server.conftest import buggy_notebook, notebook_bytes, released_course

pytestmark = pytest.mark.skipif(isolation.detect() is None, reason="no sandbox isolation on this machine")
A = fx.ASSIGNMENT


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    root = tmp_path_factory.mktemp("api")
    course = released_course(root / "course")
    tokens = {name: http.add_user(course, name, role) for name, role in
              (("ada", "student"), ("bo", "student"), ("prof", "instructor"))}
    port = http.free_port()
    proc = http.start_server(course, port, log=root / "serve.log")
    yield {"port": port, "tokens": tokens, "course": course, "log": root / "serve.log"}
    proc.terminate()
    proc.wait(20)


def test_submit_poll_and_read_the_feedback(live):
    port, t = live["port"], live["tokens"]
    status, body = http.submit(port, t["ada"], A, notebook_bytes(fx.solved_notebook()))
    assert status == 202 and body["status"] in ("queued", "running") and isinstance(body["id"], int)
    status, bad = http.submit(port, t["bo"], A, notebook_bytes(buggy_notebook()))
    assert status == 202
    good, poor = http.wait_all(port, t["prof"], [body["id"], bad["id"]])
    assert good["status"] == "graded" and good["max_score"] == sum(fx.TESTS.values())
    assert poor["score"] < good["score"] and {x["grade_id"] for x in poor["tests"]} == set(fx.TESTS)
    # Ids of another student's submission answer exactly like ids that do not exist.
    for token, sid in ((t["ada"], bad["id"]), (t["bo"], body["id"]), (t["ada"], 999999)):
        status, err = http.call(port, "GET", f"/api/v1/submissions/{sid}", token)
        assert status == 404 and err["error"] == f"no submission {sid} of yours"
    status, mine = http.call(port, "GET", f"/api/v1/assignments/{A}/submissions", t["ada"])
    assert status == 200 and [s["id"] for s in mine["submissions"]] == [body["id"]]
    status, numbers = http.call(port, "GET", f"/api/v1/assignments/{A}/analytics", t["prof"])
    assert status == 200 and numbers["students"] == 2 and sum(numbers["histogram"]["counts"]) == 2
    status, _ = http.call(port, "GET", f"/api/v1/assignments/{A}/analytics", t["ada"])
    assert status == 403
    status, text = http.call(port, "GET", f"/api/v1/assignments/{A}/grades.csv", t["prof"])
    assert status == 200 and text.startswith("student,submission,timestamp,late,score,max_score")


@pytest.mark.parametrize("header", [None, "Bearer ", "Bearer nope", "Basic YWRhOnB3", "Bearer " + "x" * 500])
def test_no_valid_token_is_401(live, header):
    import urllib.request

    port = live["port"]
    request = urllib.request.Request(f"http://127.0.0.1:{port}/api/v1/submissions/1")
    if header:
        request.add_header("Authorization", header)
    try:
        urllib.request.urlopen(request, timeout=20)
        raise AssertionError("expected 401")
    except urllib.error.HTTPError as exc:
        assert exc.code == 401 and exc.headers["WWW-Authenticate"].startswith("Bearer")
        assert "token" in json.loads(exc.read())["error"]


def test_bad_uploads_get_their_codes_and_store_nothing(live):
    port, t = live["port"], live["tokens"]
    nb = notebook_bytes(fx.solved_notebook())
    cases = [
        (http.submit(port, t["bo"], A, b"{broken"), 422, "not a valid notebook"),
        (http.submit(port, t["bo"], A, nb, filename="answer.txt"), 422, ".ipynb"),
        (http.submit(port, t["bo"], "no_such_assignment", nb), 404, "open for submissions"),
        (http.submit(port, t["bo"], "../../etc", nb), 404, "no API endpoint"),
        (http.call(port, "POST", f"/api/v1/assignments/{A}/submissions", t["bo"], b"x=1",
                   "application/x-www-form-urlencoded"), 422, "field 'notebook'"),
        (http.call(port, "POST", f"/api/v1/assignments/{A}/regrade", t["bo"]), 403, "instructors"),
        (http.call(port, "GET", "/api/v1/nothing/here", t["bo"]), 404, "no API endpoint"),
    ]
    for (status, body), want, words in cases:
        assert status == want and words in (body["error"] if isinstance(body, dict) else body), (want, body)
    status, listed = http.call(port, "GET", f"/api/v1/assignments/{A}/submissions", t["bo"])
    assert all(s["assignment"] == A for s in listed["submissions"])


def test_an_oversize_upload_is_refused_before_its_body_is_read(live):
    """A declared 17 MiB body: is 413 the answer to the headers alone (nothing read, nothing stored)?"""
    import socket

    port, t = live["port"], live["tokens"]
    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        s.sendall((f"POST /api/v1/assignments/{A}/submissions HTTP/1.1\r\nHost: x\r\n"
                   f"Authorization: Bearer {t['ada']}\r\nContent-Type: multipart/form-data; boundary=b\r\n"
                   f"Content-Length: {17 * 2**20}\r\n\r\n").encode())
        answer = s.recv(65536).decode(errors="replace")
    assert answer.startswith("HTTP/1.1 413") and "16 MiB limit" in answer


def test_an_oversize_chunked_upload_is_refused_and_nothing_is_stored(live):
    """No length given: the body is counted as it streams and dropped past the cap."""
    import urllib.request

    port, t = live["port"], live["tokens"]
    before = http.call(port, "GET", f"/api/v1/assignments/{A}/submissions", t["ada"])[1]["submissions"]
    body, ctype = http.multipart("notebook", "rnn_cell.ipynb", b'{"cells": [], "x": "' + b"a" * (17 * 2**20) + b'"}')
    chunks = (body[k:k + 2**20] for k in range(0, len(body), 2**20))
    request = urllib.request.Request(f"http://127.0.0.1:{port}/api/v1/assignments/{A}/submissions", data=chunks,
                                     method="POST", headers={"Authorization": f"Bearer {t['ada']}",
                                                             "Content-Type": ctype, "Transfer-Encoding": "chunked"})
    try:
        urllib.request.urlopen(request, timeout=60)
        raise AssertionError("expected 413")
    except urllib.error.HTTPError as exc:
        assert exc.code == 413 and "16 MiB" in json.loads(exc.read())["error"]
    after = http.call(port, "GET", f"/api/v1/assignments/{A}/submissions", t["ada"])[1]["submissions"]
    assert after == before


def test_the_pages_stay_open_without_signing_in(live):
    import urllib.request

    with urllib.request.urlopen(f"http://127.0.0.1:{live['port']}/cell", timeout=60) as response:
        assert response.status == 200
