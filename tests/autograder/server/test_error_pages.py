"""Web red team (stop 22) on a real ``serve.py``: every error a browser can get is the app's readable page.

Found: tornado's own errors (405 for a method a page does not take, 400 for a form or query it cannot read, 403
and 404 under ``/static``) and Bokeh's refusals (``/course/ws`` opened as a page, ``autoload.js`` without its
element) were a bare ``<html><title>405: Method Not Allowed</title>`` or a line of text, and every answer said
``Server: TornadoServer/6.x``. Principle: one output transform rewrites any bare error body
(``autograder.server.errorpages``). ``TUNING`` were probed before the fix was written; ``HELD_OUT`` were written
after it and not tuned on. The API's JSON errors must stay JSON (control).
"""

from __future__ import annotations

import http.client
import re

import pytest

from tests.autograder.server import http as live_http
from tests.autograder.server.conftest import released_course

TUNING = [
    ("PUT", "/course", {}, None, 405),
    ("POST", "/cell", {}, None, 405),
    ("GET", "/static/../serve.py", {}, None, 403),
    ("GET", "/course/ws", {}, None, 400),
    ("GET", "/login?next=%ff%fe", {}, None, 400),
    ("POST", "/logout", {"Content-Type": "multipart/form-data"}, b"x", 400),
]
HELD_OUT = [
    ("OPTIONS", "/", {}, None, 405),
    ("DELETE", "/course/feedback?id=1", {}, None, 405),
    ("PROPFIND", "/course/dashboard", {}, None, 405),
    ("TRACE", "/login", {}, None, 405),
    ("GET", "/static/extensions/panel/../../../../../etc/passwd", {}, None, 403),
    ("GET", "/static/no-such-file.js", {}, None, 404),
    ("GET", "/course/autoload.js", {}, None, 400),
    ("POST", "/course/setup", {"Content-Type": "multipart/form-data; boundary="}, b"--\r\n", 400),
    ("GET", "/course/setup?user=%c0%af", {}, None, 400),
    ("GET", "/course/ws", {"Connection": "Upgrade", "Upgrade": "websocket", "Origin": "http://evil.example",
                           "Sec-WebSocket-Version": "13", "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="}, None,
     403),
]


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    root = tmp_path_factory.mktemp("errorpages")
    course = released_course(root / "course")
    port = live_http.free_port()
    proc = live_http.start_server(course, port, log=root / "serve.log")
    yield port, root / "serve.log"
    proc.terminate()
    proc.wait(20)


def ask(port: int, method: str, path: str, headers: dict, body: bytes | None) -> tuple[int, dict, str]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.putrequest(method, path, skip_accept_encoding=True)
        for name, value in headers.items():
            conn.putheader(name, value)
        if body is not None:
            conn.putheader("Content-Length", str(len(body)))
        conn.endheaders(body)
        answer = conn.getresponse()
        return answer.status, {k.lower(): v for k, v in answer.getheaders()}, answer.read().decode("utf-8", "replace")
    finally:
        conn.close()


def check_readable(status: int, headers: dict, text: str, method: str, path: str, expected: int) -> None:
    assert status == expected, (status, text[:300])
    assert "server" not in headers, headers.get("server")
    assert headers.get("content-type", "").startswith("text/html"), headers
    assert "<h1>" in text and "What was wrong:" in text and "What was expected:" in text, text[:400]
    assert 'href="/"' in text, "no way home"
    shown = path.split("?")[0]
    assert shown in text or (method in text), text[:600]
    assert not re.search(r"Traceback|tornado|TornadoServer|File \"/", text, re.I), text[:600]


@pytest.mark.parametrize("method, path, headers, body, expected", TUNING + HELD_OUT,
                         ids=[f"{'tune' if i < len(TUNING) else 'held'}-{m} {p[:40]}"
                              for i, (m, p, *_rest) in enumerate(TUNING + HELD_OUT)])
def test_every_error_is_the_apps_readable_page(live, method, path, headers, body, expected):
    """Does an error tornado or Bokeh answers itself come as the app's page, naming what was wrong?"""
    port, _log = live
    status, got, text = ask(port, method, path, headers, body)
    check_readable(status, got, text, method, path, expected)


def test_the_405_page_names_the_method_and_the_address(live):
    port, _log = live
    status, _headers, text = ask(live[0], "PATCH", "/architectures", {}, None)
    assert status == 405
    assert "PATCH is not accepted at /architectures" in text, text[:600]


def test_no_answer_names_the_server_software(live):
    port, _log = live
    for path in ("/", "/course", "/login", "/static/no-such-file.js", "/api/v1/ping"):
        status, headers, _text = ask(port, "GET", path, {}, None)
        assert "server" not in headers, (path, status, headers.get("server"))


def test_the_api_keeps_its_json_errors_and_the_apps_pages_stay_as_they_were(live):
    """Control: JSON errors and the app's own 404 and sign-in pages are not rewritten."""
    port, log = live
    status, headers, text = ask(port, "DELETE", "/api/v1/submissions/1", {}, None)
    assert status == 405 and headers["content-type"].startswith("application/json"), (status, text)
    assert '"status": 405' in text
    status, _headers, text = ask(port, "GET", "/no-such-page", {}, None)
    assert status == 404 and "there is no page at /no-such-page" in text and "<li><a" in text
    status, _headers, text = ask(port, "POST", "/login", {"Content-Type": "application/x-www-form-urlencoded"},
                                 b"username=a&password=b")
    assert status == 403 and "came from another site" in text, text[:400]
    status, _headers, text = ask(port, "GET", "/course", {}, None)
    assert status == 200 and "<h1>" not in text[:200]
    assert "Traceback" not in log.read_text()
