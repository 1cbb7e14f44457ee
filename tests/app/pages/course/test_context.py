"""Who is asking: a session cookie counts only while the session lasts, signed by this server, for an account."""

import time

import panel as pn
import pytest
from tornado.web import create_signed_value

from autograder.server import accounts
from autograder.server.service import CourseServer
from simulator.app.pages.course import context
from simulator.app.pages.course.auth import COOKIE, SESSION_HOURS, safe_next
from tests.autograder.server.conftest import released_course

SECRET = "test-cookie-secret"
SESSIONS = {}  # name -> the session cookie value the server gives at sign-in (filled by the fixture)


@pytest.fixture
def signed_in(tmp_path, monkeypatch):
    server = CourseServer(released_course(tmp_path / "course"), grade=False)
    accounts.add_user(server.engine, "ada", "student")
    SESSIONS["ada"] = accounts.session_value(server.engine, "ada")
    monkeypatch.setattr(context, "HANDLE", lambda: server)
    monkeypatch.setattr(pn.config, "cookie_secret", SECRET)
    jar = {}
    monkeypatch.setattr(type(pn.state), "cookies", property(lambda self: jar))
    yield jar, server
    server.close()


def _cookie(name: str, age_hours: float = 0.0, secret: str = SECRET) -> str:
    value = SESSIONS.get(name, name)
    return create_signed_value(secret, COOKIE, value, clock=lambda: time.time() - age_hours * 3600).decode()


def test_a_fresh_session_is_its_user(signed_in):
    jar, _ = signed_in
    jar[COOKIE] = _cookie("ada")
    assert context.current_user().name == "ada"


@pytest.mark.parametrize("make", [
    lambda: _cookie("ada", age_hours=SESSION_HOURS + 0.1),   # expired
    lambda: _cookie("ada", secret="another server"),        # forged with another key
    lambda: _cookie("ada")[:-2] + "00",                      # tampered signature
    lambda: "ada",                                           # a plain name
    lambda: _cookie("nobody"),                               # no such account (removed)
    lambda: _cookie("guest"),
    lambda: "",
    lambda: _cookie("ada:" + "0" * 24),                      # a signed name with a made-up tag
    lambda: _cookie("ada:"),
])
def test_anything_else_is_a_guest(signed_in, make):
    jar, _ = signed_in
    jar[COOKIE] = make()
    assert context.current_user() is None


@pytest.mark.parametrize("url, expected", [
    ("/course/feedback?id=3", "/course/feedback?id=3"), (None, "/course"), ("", "/course"),
    ("https://evil.example/", "/course"), ("//evil.example/x", "/course"), ("/\\evil.example", "/course"),
    ("javascript:alert(1)", "/course"), ("/ok\r\nSet-Cookie: x=1", "/course"),
])
def test_sign_in_redirects_only_within_this_server(url, expected):
    assert safe_next(url) == expected


def test_a_password_change_or_a_removal_ends_earlier_sessions(signed_in):
    """Principle: a session is bound to the account as it was at sign-in (its id and password hash)."""
    jar, server = signed_in
    jar[COOKIE] = _cookie("ada")
    assert context.current_user().name == "ada"
    code = accounts.new_setup_code(server.engine, "ada")
    assert context.current_user().name == "ada"  # an invitation alone changes nothing...
    accounts.set_password_with_code(server.engine, "ada", code, "a new password")
    assert context.current_user() is None  # ...the new password ends the old session
    fresh = accounts.session_value(server.engine, "ada")
    jar[COOKIE] = create_signed_value(SECRET, COOKIE, fresh).decode()
    assert context.current_user().name == "ada"
    accounts.remove_user(server.engine, "ada")
    accounts.add_user(server.engine, "ada", "instructor")  # the same name, another account
    assert context.current_user() is None

