"""Framing, sniffing and referrers on a real server: every route's answers carry ``autograder.server.headers``.

Principle: one output transform for the whole application (pages, forms, API, static files, errors), not a
header per handler. The server here is ``serve.py`` itself (its ``pn.serve`` is given ``headers.server_options()``).
"""

from __future__ import annotations

import asyncio
import base64
import json
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
import zlib

import pytest

from autograder.server import accounts, db
from autograder.server.headers import SECURITY_HEADERS
from tests.autograder.fixtures import course as fx
from tests.autograder.server import http
from tests.autograder.server.conftest import released_course

A = fx.ASSIGNMENT
def _start(course, port, log) -> subprocess.Popen:
    script = [str(http.REPO / "serve.py")]
    out = open(log, "ab")  # noqa: SIM115 - owned by the process
    proc = subprocess.Popen([sys.executable, *script, "--course", str(course), "--port", str(port)], cwd=http.REPO,
                            env=http.env(), stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    end = time.monotonic() + 90
    while time.monotonic() < end:
        assert proc.poll() is None, log.read_text()[-2000:]
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/ping", timeout=2)
        except urllib.error.HTTPError:
            return proc
        except OSError:
            time.sleep(0.3)
    proc.kill()
    raise AssertionError("the server did not start in 90 s")


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    root = tmp_path_factory.mktemp("headers")
    course = released_course(root / "course")
    engine = db.connect(db.default_url(course))
    user, token, code = accounts.add_user(engine, "ada", "student")
    accounts.set_password_with_code(engine, "ada", code, "ada-password")
    engine.dispose()
    port = http.free_port()
    proc = _start(course, port, root / "serve.log")
    yield {"port": port, "token": token, "course": course, "root": root}
    proc.terminate()
    proc.wait(20)


def _get(port: int, path: str, token: str | None = None) -> tuple[int, dict, str]:
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, dict(response.headers), response.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read().decode("utf-8", "replace")


PATHS = ["/course", "/course/dashboard", "/course/feedback?id=1", "/cell", "/login", "/course/setup?user=a&code=b",
         "/api/v1/submissions/1", "/no-such-page", "/static/js/bokeh.min.js"]


@pytest.mark.parametrize("path", PATHS)
def test_every_route_says_do_not_frame_me_elsewhere(live, path):
    """Does every kind of answer (page, form, API, 404, static file) carry the headers?"""
    status, headers, _ = _get(live["port"], path)
    assert status < 500, (path, status)
    for name, value in SECURITY_HEADERS.items():
        if name == "X-Frame-Options" and path.startswith(("/login", "/course/setup")):
            assert headers.get(name) == "DENY"  # the forms' own, stricter header is kept
        else:
            assert headers.get(name) == value, (path, name, headers.get(name))


def test_pages_still_work_through_their_websocket(live):
    """Does a signed-in page still load its document over the websocket with the transform in place?"""
    from tests.autograder.server.classroom import Browser

    async def visit():
        browser = Browser(live["port"])
        answer = await browser.sign_in("ada", "ada-password")
        assert answer.status == 302, answer.body[:300]
        page = await browser.open("/course")
        try:
            return await page.wait_for("Signed in as", 60)
        finally:
            page.close()

    assert asyncio.run(visit()) is not None


def _token_payload(html: str) -> dict:
    token = re.search(r'"token"\s*:\s*"([^"]+)"', html).group(1)
    pad = lambda text: text + "=" * (-len(text) % 4)  # noqa: E731
    payload = json.loads(base64.urlsafe_b64decode(pad(token.split(".")[0])))
    if "__bk__zlib_" in payload:
        payload = json.loads(zlib.decompress(base64.urlsafe_b64decode(pad(payload["__bk__zlib_"]))))
    return payload


def test_the_session_cookie_is_not_readable_in_the_page(live):
    """Is the HttpOnly session cookie kept out of the page's HTML (where any script could read it)?"""
    import http.cookiejar

    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    base = f"http://127.0.0.1:{live['port']}"
    form = opener.open(base + "/login", timeout=60).read().decode()
    xsrf = re.search(r'name="_xsrf" value="([^"]+)"', form).group(1)
    body = f"_xsrf={xsrf}&username=ada&password=ada-password".encode()
    opener.open(urllib.request.Request(base + "/login", data=body), timeout=60).read()
    cookie = next(c.value for c in jar if c.name == "user")
    html = opener.open(base + "/course", timeout=60).read().decode()
    assert cookie.strip('"') not in json.dumps(_token_payload(html))


def test_serve_py_itself_installs_the_headers(live, tmp_path):
    port = http.free_port()
    proc = _start(live["course"], port, tmp_path / "plain.log")
    try:
        _, headers, _ = _get(port, "/course")
    finally:
        proc.terminate()
        proc.wait(20)
    assert headers.get("Content-Security-Policy") == SECURITY_HEADERS["Content-Security-Policy"]


@pytest.mark.parametrize("protocol, environ, secure", [("http", {}, False), ("https", {}, True),
                                                       ("http", {"RNN_COOKIE_SECURE": "1"}, True),
                                                       ("http", {"RNN_COOKIE_SECURE": "yes"}, False)])
def test_the_session_cookie_is_secure_over_https(protocol, environ, secure):
    """Is the session cookie marked Secure when the browser reached the server over HTTPS (or a TLS proxy)?"""
    from autograder.server.headers import session_cookie_flags

    flags = session_cookie_flags(protocol, environ)
    assert flags["httponly"] is True and flags["samesite"] == "Lax" and flags.get("secure", False) is secure


def test_the_live_session_cookie_is_http_only_and_same_site(live):
    """On the live server (plain HTTP): HttpOnly, SameSite=Lax, and no Secure a plain-HTTP browser would drop."""
    base = f"http://127.0.0.1:{live['port']}"
    form = urllib.request.urlopen(base + "/login", timeout=60)
    cookie = form.headers["Set-Cookie"].split(";")[0]
    xsrf = re.search(r'name="_xsrf" value="([^"]+)"', form.read().decode()).group(1)
    request = urllib.request.Request(base + "/login", data=f"_xsrf={xsrf}&username=ada&password=ada-password".encode(),
                                     headers={"Cookie": cookie})

    class Stay(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    try:
        urllib.request.build_opener(Stay).open(request, timeout=60)
        raise AssertionError("sign-in did not redirect")
    except urllib.error.HTTPError as exc:
        assert exc.code == 302
        session = next(c for c in exc.headers.get_all("Set-Cookie") if c.startswith("user="))
    flags = {part.strip().lower() for part in session.split(";")[1:]}
    assert "httponly" in flags and "samesite=lax" in flags and "secure" not in flags, session
