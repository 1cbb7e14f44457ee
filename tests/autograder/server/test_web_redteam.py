"""Web red team (stop 20) on a real ``serve.py``: no request may choose the Bokeh session its page is built in.

Found: ``/course?bokeh-session-id=KNOWN`` opened by a signed-in student (a link: a top-level navigation carries
the ``SameSite=Lax`` cookie) built the student's page under an id the sender chose; the sender's websocket,
with a token of their own making for ``KNOWN``, then joined that page as the student. Principle: every page
GET gets a fresh id the server chose (``autograder.server.sessionids``). Payloads: the first two were the fix's
tuning half; the rest were written after the fix and not tuned on. The control shows the probe can see a
signed-in page at all (the victim's own token), so a pass is not the probe failing.
"""

from __future__ import annotations

import asyncio
import base64
import html
import json
import re
import uuid

import pytest

from autograder.server import accounts, db
from tests.autograder.server import http
from tests.autograder.server.classroom import TOKEN, Browser, Page
from tests.autograder.server.conftest import released_course

WHO = re.compile(r"Signed in as|Sign in|for instructors|Settings|no submission")  # a page said who it is for


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    root = tmp_path_factory.mktemp("redteam")
    course = released_course(root / "course")
    engine = db.connect(db.default_url(course))
    for name, role in (("ada", "student"), ("prof", "instructor")):
        _, _, code = accounts.add_user(engine, name, role)
        accounts.set_password_with_code(engine, name, code, f"{name}-password")
    engine.dispose()
    port = http.free_port()
    proc = http.start_server(course, port, log=root / "serve.log")
    yield port, root / "serve.log"
    proc.terminate()
    proc.wait(20)


def forged_token(session_id: str) -> str:
    """A Bokeh token of the attacker's own making (unsigned, as this server's are) for ``session_id``."""
    payload = json.dumps({"session_id": session_id, "session_expiry": 4_000_000_000}).encode()
    return base64.urlsafe_b64encode(payload).decode().rstrip("=") + ".unsigned"


def session_of(token: str) -> str:
    part = token.split(".")[0]
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))["session_id"]


async def seen_by(port: int, path: str, token: str) -> str:
    """The text a websocket opened with ``token`` (by a client with no cookie) receives for ``path``'s session."""
    page = Page(Browser(port), path, None)
    try:
        await asyncio.wait_for(page.connect(token), 60)
        await page.wait_for(WHO, 30)
        return html.unescape(page.text)
    except Exception as exc:  # noqa: BLE001 - a refused or closed websocket shows nothing: that is the point
        return f"<websocket failed: {type(exc).__name__}>"
    finally:
        page.close()


def chosen() -> str:
    return "fixated" + uuid.uuid4().hex + "x" * 5  # 44 characters, like Bokeh's own ids


async def victim(port: int, name: str) -> Browser:
    browser = Browser(port)
    answer = await browser.sign_in(name, f"{name}-password")
    assert answer.status == 302, answer.body[:300]
    return browser


@pytest.mark.parametrize("path, how", [
    ("/course", "query"),                                   # tuning half
    ("/course/dashboard?assignment=rnn_cell", "query"),     # tuning half
    ("/course", "token"),                                   # held out from here on
    ("/course/feedback?id=1", "query"),
    ("/course", "header"),
    ("/course", "twice"),
    ("/course", "encoded"),
    ("/course/autoload.js?bokeh-autoload-element=x", "query"),
])
def test_a_link_cannot_choose_the_session_a_signed_in_page_is_built_in(live, path, how):
    """Does a signed-in page built from a link naming a session id stay out of reach of that id's holder?"""
    port, log = live

    async def go():
        user = "prof" if "dashboard" in path else "ada"
        browser = await victim(port, user)
        sid = chosen()
        joiner = "&" if "?" in path else "?"
        headers = {}
        if how == "query":
            url = f"{path}{joiner}bokeh-session-id={sid}"
        elif how == "token":
            url = f"{path}{joiner}bokeh-token={forged_token(sid)}"
        elif how == "twice":
            url = f"{path}{joiner}bokeh-session-id={sid}&bokeh-session-id={sid}"
        elif how == "encoded":
            url = f"{path}{joiner}bokeh%2Dsession%2Did={sid}"
        else:
            url, headers = path, {"Bokeh-Session-Id": sid}
        answer = await browser.request("GET", url, headers=headers)
        assert answer.status == 200, (answer.status, answer.body[:300])
        own = TOKEN.search(answer.body) or re.search(r'token\W+([A-Za-z0-9_-]{20,}\.[A-Za-z0-9_.-]+)', answer.body)
        assert own, answer.body[:500]
        assert session_of(own.group(1)) != sid, f"the page was built under the id the link chose ({how})"
        app = path.split("?")[0].removesuffix("/autoload.js")
        # control first, the victim's own browser (its cookies, as a browser opens the websocket), kept open while
        # the forged token tries (the session is alive, as in an attack): the probe can see a signed-in page
        mine = Page(browser, app, None)
        try:
            await asyncio.wait_for(mine.connect(own.group(1)), 60)
            if app == "/course":
                assert await mine.wait_for("Signed in as", 60) is not None, (
                    mine.error, re.findall(r"Sign[^<]{0,60}", mine.text))
                assert f"Signed in as <strong>{user}<" in html.unescape(mine.text)
            stolen = await seen_by(port, app, forged_token(sid))
        finally:
            mine.close()
        assert f"Signed in as <strong>{user}<" not in stolen and "Settings" not in stolen, stolen[-400:]

    asyncio.run(go())
    assert "Traceback" not in log.read_text()
