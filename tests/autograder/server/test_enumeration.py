"""Can a guest tell which accounts exist, from the sign-in, set-up or API answers? (user enumeration)

Principle: every way of being wrong gets the same answer (status and words) and costs the same work (one scrypt
hash for any sign-in, none for any refused set-up code), so neither the message nor the time says whether a
name exists. The work is counted, never timed. Payloads: a tuning half and a held-out half (written with it,
before looking at the answers).
"""

from __future__ import annotations

import hashlib
import re
import urllib.parse

import pytest

from autograder.server import accounts, db
from tests.autograder.server import http
from tests.autograder.server.conftest import released_course

SIGN_INS = {  # user name -> tuning | held out; the password is always wrong
    "ada": "tuning",  # exists, has a password
    "nobody": "tuning",  # does not exist
    "newbie": "held out",  # exists, has not set a password yet
    "ADA": "held out",  # another case of an existing name
    "ada ": "held out",  # trailing space (the form keeps it)
    "x" * 64: "held out",  # the longest name the form takes
}


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    root = tmp_path_factory.mktemp("enum")
    course = released_course(root / "course")
    engine = db.connect(db.default_url(course))
    _, _, code = accounts.add_user(engine, "ada", "student")
    accounts.set_password_with_code(engine, "ada", code, "ada-password")
    _, _, fresh = accounts.add_user(engine, "newbie", "student")
    _, gone_token, _ = accounts.add_user(engine, "gone", "student")
    accounts.remove_user(engine, "gone")
    engine.dispose()
    port = http.free_port()
    proc = http.start_server(course, port, log=root / "serve.log")
    yield {"port": port, "fresh_code": fresh, "used_code": code, "gone_token": gone_token}
    proc.terminate()
    proc.wait(20)


def _post_form(port: int, path: str, fields: dict, form: str | None = None) -> tuple[int, str]:
    """POST ``fields`` to ``path`` with the cookie and ``_xsrf`` of the form page ``form`` (default: ``path``)."""
    import urllib.error
    import urllib.parse
    import urllib.request

    base = f"http://127.0.0.1:{port}"
    form = urllib.request.urlopen(base + (form or path.split("?")[0]), timeout=60)
    cookie = form.headers["Set-Cookie"].split(";")[0]
    xsrf = re.search(r'name="_xsrf" value="([^"]+)"', form.read().decode()).group(1)
    body = urllib.parse.urlencode({"_xsrf": xsrf, **fields}).encode()
    try:
        with urllib.request.urlopen(urllib.request.Request(base + path, data=body, headers={"Cookie": cookie}),
                                    timeout=60) as answer:
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def _said(page: str) -> str:
    match = re.search(r'role="alert">([^<]*)<', page)
    return match.group(1) if match else page[:200]


def test_sign_in_answers_the_same_whoever_is_named(live):
    answers = {name: _post_form(live["port"], "/login", {"username": name, "password": "not-the-password"})
               for name in SIGN_INS}
    said = {name: (status, _said(page)) for name, (status, page) in answers.items()}
    assert len(set(said.values())) == 1, said
    assert said["nobody"] == (401, "Wrong user name or password.")


SETUPS = {  # (user, code) -> tuning | held out
    ("newbie", "wrong-code"): "tuning",
    ("nobody", "wrong-code"): "tuning",
    ("ada", "{used}"): "held out",  # a code already spent
    ("nobody", "{fresh}"): "held out",  # someone else's valid code
    ("newbie", ""): "held out",
    ("Newbie", "{fresh}"): "held out",  # a valid code under another case of its name
}


def test_set_up_answers_the_same_for_every_wrong_code_or_name(live):
    said = {}
    for (user, code), _half in SETUPS.items():
        code = code.format(used=live["used_code"], fresh=live["fresh_code"])
        # NB: the form as a set-up link opens it (a page without user or code says the link is cut, 400, and holds
        # no form); the POST then sends the case's own user and code, an empty one included
        link = urllib.parse.urlencode({"user": user, "code": code or "x"})
        status, page = _post_form(live["port"], "/course/setup",
                                  {"user": user, "code": code, "password": "pw-123456", "again": "pw-123456"},
                                  form=f"/course/setup?{link}")
        said[(user, code)] = (status, _said(page))
    assert len(set(said.values())) == 1, said
    assert next(iter(said.values()))[0] == 403


def test_api_tokens_of_nobody_answer_alike(live):
    """A removed account's token, a made-up one and a malformed one: the same 401 and words."""
    answers = [http.call(live["port"], "GET", "/api/v1/submissions/1", token)
               for token in (live["gone_token"], "made-up-token-" + "x" * 29, "%%%", "a" * 300)]
    assert len({(status, body["error"]) for status, body in answers}) == 1, answers
    assert answers[0][0] == 401


def test_one_hash_for_every_sign_in_whoever_is_named(tmp_path, monkeypatch):
    """The same work for an existing name, a missing one and one without a password: one scrypt each."""
    engine = db.connect(db.default_url(tmp_path))
    _, _, code = accounts.add_user(engine, "ada", "student")
    accounts.set_password_with_code(engine, "ada", code, "ada-password")
    accounts.add_user(engine, "newbie", "student")
    calls = []
    real = hashlib.scrypt
    monkeypatch.setattr(hashlib, "scrypt", lambda *a, **k: calls.append(k.get("n")) or real(*a, **k))
    for name in SIGN_INS:
        calls.clear()
        assert accounts.authenticate(engine, name, "not-the-password") is None
        assert calls == [accounts.SCRYPT["n"]], (name, calls)
    for user, code in (("nobody", "x"), ("newbie", "x"), ("ada", "x")):
        calls.clear()
        with pytest.raises(accounts.AccountError):
            accounts.set_password_with_code(engine, user, code, "pw-123456")
        assert calls == [], (user, calls)
