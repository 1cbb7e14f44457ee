"""Sign-out on a real server: only a same-origin POST with the session's token signs out, and it ends the cookie.

Principle: a request that changes who you are must come from this server's own pages (``Origin``/``Referer``
and a token tied to the session cookie); ``GET``/``HEAD`` change nothing; sign-out ends the cookie on the
server, so a copy of it is a guest afterwards. The server here is ``serve.py`` itself.
"""

from __future__ import annotations

import asyncio
import html
import re
from http.cookies import SimpleCookie
from urllib.parse import urlencode

import pytest
from tornado.httpclient import AsyncHTTPClient, HTTPRequest

from autograder.server import accounts, db
from tests.autograder.server import http
from tests.autograder.server.classroom import Browser
from tests.autograder.server.conftest import released_course

FORM = {"Content-Type": "application/x-www-form-urlencoded"}
SIGN_OUT_TOKEN = re.compile(r'action="/logout"[^>]*><input type="hidden" name="token" value="([0-9a-f]+)"')


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    root = tmp_path_factory.mktemp("signout")
    course = released_course(root / "course")
    engine = db.connect(db.default_url(course))
    for name in ("ada", "bo"):
        _, _, code = accounts.add_user(engine, name, "student")
        accounts.set_password_with_code(engine, name, code, f"{name}-password")
    engine.dispose()
    port = http.free_port()
    proc = http.start_server(course, port, log=root / "serve.log")
    yield port
    proc.terminate()
    proc.wait(20)


def run(coro):
    return asyncio.run(coro)


async def signed_in(port: int, name: str = "ada") -> Browser:
    browser = Browser(port)
    answer = await browser.sign_in(name, f"{name}-password")
    assert answer.status == 302 and "user" in browser.cookies, answer.body[:300]
    return browser


async def sign_out_token(browser: Browser) -> str:
    """The token of the *Sign out* button on ``GET /logout`` (the page a signed-in browser sees)."""
    page = await browser.request("GET", "/logout")
    assert page.status == 200, page.body[:300]
    return SIGN_OUT_TOKEN.search(page.body).group(1)


async def who(browser: Browser) -> str:
    """Who the course page says is signed in, read over its websocket (``guest`` for the sign-in prompt)."""
    page = await browser.open("/course")
    try:
        seen = await page.wait_for(re.compile(r"Signed in as|Sign in to submit"), 60)
        assert seen is not None, page.error or page.answer.body[:300]
        found = re.search(r"Signed in as <strong>([^<]+)<", html.unescape(page.text))
        return found.group(1) if found else "guest"
    finally:
        page.close()


async def post_logout(browser: Browser, body: dict, **headers) -> tuple[int, list[str], str]:
    """POST /logout as ``browser``: (status, every Set-Cookie header, body); the browser's jar is updated."""
    head = {**FORM, **headers}
    if browser.cookies:
        head["Cookie"] = "; ".join(f"{k}={v}" for k, v in browser.cookies.items())
    response = await AsyncHTTPClient().fetch(HTTPRequest(browser.base + "/logout", method="POST", body=urlencode(body),
                                                         headers=head, follow_redirects=False), raise_error=False)
    set_cookies = response.headers.get_list("Set-Cookie")
    for raw in set_cookies:
        jar = SimpleCookie()
        jar.load(raw)
        for key, morsel in jar.items():
            if morsel.value == "":
                browser.cookies.pop(key, None)
    return response.code, set_cookies, (response.body or b"").decode("utf-8", "replace")


def test_a_same_origin_post_with_the_token_signs_out_and_clears_the_cookie(live):
    """Control: the course page's button (same origin, the session's token) signs out, with the sign-in flags."""
    async def go():
        browser = await signed_in(live)
        assert await who(browser) == "ada"
        token = await sign_out_token(browser)
        status, set_cookies, _ = await post_logout(browser, {"token": token}, Origin=browser.base)
        return browser, status, set_cookies

    browser, status, set_cookies = run(go())
    assert status == 303
    cleared = next(c for c in set_cookies if c.startswith("user="))
    flags = {part.strip().lower().partition("=")[0] for part in cleared.split(";")[1:]}
    assert cleared.startswith('user="";') or cleared.startswith("user=;"), cleared
    assert {"httponly", "samesite", "expires"} <= flags, cleared
    assert "samesite=lax" in cleared.lower()
    assert "user" not in browser.cookies
    assert run(who(browser)) == "guest"


def test_the_course_page_shows_a_sign_out_button_not_a_link(live):
    """Is the course page's control a form posting to /logout with a token (no ``href="/logout"`` link)?"""
    async def go():
        browser = await signed_in(live)
        page = await browser.open("/course")
        try:
            assert await page.wait_for("Signed in as", 60) is not None
            return page.text
        finally:
            page.close()

    text = html.unescape(run(go()))
    assert re.search(r'<form method="post" action="/logout"[^>]*>.*?<button type="submit">Sign out</button>', text)
    assert "(/logout)" not in text and 'href="/logout"' not in text


def test_a_cross_site_post_without_origin_or_token_does_not_sign_out(live):
    """A form on another site posting to /logout (no Origin sent, no token known): refused, still signed in."""
    async def go():
        browser = await signed_in(live)
        status, set_cookies, body = await post_logout(browser, {})
        return browser, status, set_cookies, body

    browser, status, set_cookies, body = run(go())
    assert status == 403 and 'role="alert"' in body
    assert not any(c.startswith("user=") for c in set_cookies)
    assert run(who(browser)) == "ada"


def test_a_foreign_origin_is_refused_even_with_the_token(live):
    async def go():
        browser = await signed_in(live)
        token = await sign_out_token(browser)
        status, set_cookies, _ = await post_logout(browser, {"token": token}, Origin="http://evil.example")
        return browser, status, set_cookies

    browser, status, set_cookies = run(go())
    assert status == 403 and not any(c.startswith("user=") for c in set_cookies)
    assert run(who(browser)) == "ada"


def test_a_forged_referer_without_origin_is_refused(live):
    async def go():
        browser = await signed_in(live)
        token = await sign_out_token(browser)
        status, set_cookies, _ = await post_logout(browser, {"token": token},
                                                   Referer="http://evil.example/course")
        return browser, status, set_cookies

    browser, status, set_cookies = run(go())
    assert status == 403 and not any(c.startswith("user=") for c in set_cookies)
    assert run(who(browser)) == "ada"


def test_get_logout_shows_a_page_with_a_button_and_signs_nobody_out(live):
    """``<img src=/logout>``, a link or a prefetcher: a readable page with a form, and the session goes on."""
    async def go():
        browser = await signed_in(live)
        answer = await browser.request("GET", "/logout")
        return browser, answer

    browser, answer = run(go())
    assert answer.status == 200 and "text/html" in answer.headers.get("Content-Type", "")
    assert '<form method="post" action="/logout"' in answer.body and ">Sign out</button>" in answer.body
    assert "<h1>Sign out</h1>" in answer.body and "ada" in answer.body
    assert "user" in browser.cookies
    assert run(who(browser)) == "ada"


def test_an_old_cookie_replayed_after_sign_out_is_a_guest(live):
    """A copy of the cookie taken before sign-out (another tab, a shared computer's history): it names nobody."""
    async def go():
        browser = await signed_in(live)
        copy = dict(browser.cookies)
        token = await sign_out_token(browser)
        status, _, _ = await post_logout(browser, {"token": token}, Origin=browser.base)
        assert status == 303
        thief = Browser(live, cookies=copy)
        return await who(thief), await thief.request("GET", "/logout")

    seen, page = run(go())
    assert seen == "guest"
    assert "You are not signed in" in page.body and "action=\"/logout\"" not in page.body


def test_a_head_request_signs_nobody_out(live):
    async def go():
        browser = await signed_in(live)
        answer = await browser.request("HEAD", "/logout")
        return browser, answer

    browser, answer = run(go())
    assert answer.status in (200, 405)
    assert "user" in browser.cookies
    assert run(who(browser)) == "ada"


def test_sign_out_closes_the_pages_left_open_in_other_tabs(live):
    """A course page open in another tab was built for ada: after sign-out its websocket is closed (no *Submit*
    as her); bo's page, open at the same time, stays connected."""
    async def go():
        ada, bo = await signed_in(live), await signed_in(live, "bo")
        tab, other = await ada.open("/course"), await bo.open("/course")
        try:
            assert await tab.wait_for("Signed in as", 60) is not None
            assert await other.wait_for("Signed in as", 60) is not None
            token = await sign_out_token(ada)
            assert (await post_logout(ada, {"token": token}, Origin=ada.base))[0] == 303
            await asyncio.wait_for(asyncio.shield(tab._reader), 30)
            await asyncio.sleep(0.5)
            return tab._reader.done(), other._reader.done()
        finally:
            tab.close()
            other.close()

    assert run(go()) == (True, False)
