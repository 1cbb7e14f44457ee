"""Held-out sign-out attacks (written after the fix): look-alike origins, foreign or stale tokens, other methods.

Principle as in ``test_signout``: only a POST from this server's pages carrying the token of the very session
it ends signs out; anything else leaves the session as it was and answers a page, never a traceback.
"""

from __future__ import annotations

import asyncio

import pytest

from autograder.server.signin import same_origin, signout_token
from tests.autograder.server.classroom import Browser
from tests.autograder.server.test_signout import live, post_logout, sign_out_token, signed_in, who

__all__ = ["live"]  # the module's server fixture, shared by import


def run(coro):
    return asyncio.run(coro)


def _refused(port: int, make_request) -> tuple[int, list[str], str]:
    """Sign ada in, send ``make_request(browser, token)``, and check she is still signed in afterwards."""
    async def go():
        browser = await signed_in(port)
        token = await sign_out_token(browser)
        answer = await make_request(browser, token)
        return browser, answer

    browser, answer = run(go())
    assert "user" in browser.cookies
    assert run(who(browser)) == "ada"
    return answer


@pytest.mark.parametrize("headers", [
    {"Origin": "null"},  # a sandboxed frame or a redirect from another site
    {"Origin": "http://127.0.0.1:{port}.evil.example"},  # our host as a prefix of theirs
    {"Origin": "http://evil.example:{port}"},
    {"Referer": "http://127.0.0.1:{port}@evil.example/course"},  # our host as the user part of their URL
    {"Referer": "javascript:alert(1)"},
    {"Origin": "http://evil.example", "Referer": "http://127.0.0.1:{port}/course"},  # the Origin decides
], ids=["null", "prefix", "other-host-same-port", "userinfo", "not-http", "origin-over-referer"])
def test_look_alike_origins_are_refused(live, headers):
    filled = {k: v.format(port=live) for k, v in headers.items()}
    status, set_cookies, body = _refused(live, lambda b, token: post_logout(b, {"token": token}, **filled))
    assert status == 403 and 'role="alert"' in body
    assert not any(c.startswith("user=") for c in set_cookies)


def test_another_students_token_does_not_sign_ada_out(live):
    async def bo_token():
        return await sign_out_token(await signed_in(live, "bo"))

    theirs = run(bo_token())
    status, _, _ = _refused(live, lambda b, _token: post_logout(b, {"token": theirs}, Origin=b.base))
    assert status == 403


def test_a_token_of_an_earlier_session_is_stale(live):
    """A token read before signing in again (a page left open) belongs to a cookie that is no longer hers."""
    async def go():
        first = await signed_in(live)
        old = await sign_out_token(first)
        await asyncio.sleep(1.1)  # a new second: the new cookie's bytes differ from the old one's
        second = await signed_in(live)
        status, _, _ = await post_logout(second, {"token": old}, Origin=second.base)
        return second, status

    browser, status = run(go())
    assert status == 403
    assert run(who(browser)) == "ada"


@pytest.mark.parametrize("token", ["", "0" * 64, "é" * 64, "x" * 5000])
def test_wrong_tokens_answer_a_page_not_an_error(live, token):
    status, _, body = _refused(live, lambda b, _t: post_logout(b, {"token": token}, Origin=b.base))
    assert status == 403 and "Sign out" in body and "Traceback" not in body


def test_the_token_in_the_address_instead_of_the_form_is_refused(live):
    """A link or a redirect can carry a query string; the token counts only in the POSTed form."""
    async def request(browser, token):
        return await browser.request("POST", f"/logout?token={token}", "",
                                     {"Content-Type": "application/x-www-form-urlencoded", "Origin": browser.base})

    answer = _refused(live, request)
    assert answer.status == 403


@pytest.mark.parametrize("method", ["PUT", "DELETE", "OPTIONS"])
def test_other_methods_sign_nobody_out(live, method):
    async def request(browser, token):
        return await browser.request(method, "/logout", f"token={token}" if method == "PUT" else None,
                                     {"Origin": browser.base})

    answer = _refused(live, request)
    assert answer.status == 405


def test_a_signed_out_cookie_cannot_sign_out_or_sign_in_again(live):
    """After sign-out the old cookie is nobody: its token no longer works, /logout says "not signed in"."""
    async def go():
        browser = await signed_in(live)
        copy, token = dict(browser.cookies), await sign_out_token(browser)
        assert (await post_logout(browser, {"token": token}, Origin=browser.base))[0] == 303
        thief = Browser(live, cookies=dict(copy))
        page = await thief.request("GET", "/logout")
        return thief, page

    thief, page = run(go())
    assert "You are not signed in" in page.body
    assert run(who(thief)) == "guest"


def test_a_guest_post_from_another_site_is_refused_without_error(live):
    async def go():
        return await post_logout(Browser(live), {}, Origin="http://evil.example")

    status, _, body = run(go())
    assert status == 403 and "not signed in" in body


@pytest.mark.parametrize("origin, referer, expected", [
    ("http://Course.Example:8443", None, True),  # a host is case-insensitive
    (None, None, True),  # neither header: the token decides
    (None, "http://course.example:8443/course?x=1", True),
    ("ftp://course.example:8443", None, False),
    ("http://course.example:8443/", None, True),
    ("http://course.example", None, False),  # another port is another origin
    ("", None, False),
])
def test_same_origin(origin, referer, expected):
    assert same_origin(origin, referer, {"course.example:8443"}) is expected


def test_the_token_depends_on_the_secret_and_the_cookie():
    token = signout_token("secret", "2|1:0|10:1|4:user|8:YWRhOnQ=|ab")
    assert token != signout_token("other", "2|1:0|10:1|4:user|8:YWRhOnQ=|ab")
    assert token != signout_token("secret", "2|1:0|10:2|4:user|8:YWRhOnQ=|ab")
    assert len(token) == 64 and int(token, 16) >= 0


def test_with_single_sign_on_the_button_gets_panels_logout():
    """Panel's OAuth ``/logout`` answers GET only: the button must not POST to it (a 405 would sign nobody out)."""
    from simulator.app.pages.course.auth import sign_out_form

    assert sign_out_form(None, None, oauth=True).startswith('<form method="get" action="/logout"')
    own = sign_out_form("2|1:0|10:1|4:user|8:YWRhOnQ=|ab", "secret")
    assert own.startswith('<form method="post" action="/logout"')
    assert signout_token("secret", "2|1:0|10:1|4:user|8:YWRhOnQ=|ab") in own
