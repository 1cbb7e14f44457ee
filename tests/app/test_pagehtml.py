"""Is each session built once, by the process that serves it? (a real ``serve.py --num-procs 2``)."""

from __future__ import annotations

import asyncio
import json
import re
import time
import urllib.request
import uuid
from pathlib import Path

import pytest
from tornado.websocket import websocket_connect

from simulator.app import pagehtml
from tests.app.serving import serving

BUILT = re.compile(r"session built by process (\d+): (\w+)")


def test_a_kept_page_gets_the_new_token_in_place_of_the_old():
    """The kept HTML carries each request's own token, once; pages without exactly one token are not kept."""
    html = '<script>const render_items = [{"token":"abc.DEF-1_=","roots":{"p1":"x"}}]</script>'
    assert pagehtml.keep("/t1", html)
    page = pagehtml.page_for("/t1", "new-Token_2")
    assert page == html.replace("abc.DEF-1_=", "new-Token_2") and "abc.DEF" not in page
    assert pagehtml.page_for("/never-seen", "x") is None
    for bad in ("<p>no token</p>", html + html, html + "abc.DEF-1_="):  # none, two, or its text elsewhere
        assert not pagehtml.keep("/t2", bad) and pagehtml.page_for("/t2", "x") is None


def test_a_page_is_kept_only_once_two_full_renders_agree():
    """A refusal or an error page rendered once is never everyone's page: two renders in a row must agree."""
    def render(title, token, root):
        return (f'<title>{title}</title><div id="{root}-0000-4000-8000-000000000000" data-root-id="p{len(token)}1">'
                f'</div><script>[{{"token":"{token}","roots":{{"p{len(token)}1":"x"}}}}]</script>')

    ordinary = [render("RNN simulator", t, r) for t, r in (("tok1", "aaaaaaaa"), ("tokB2", "bbbbbbbb"))]
    refused = render("Too many open pages", "tok3", "cccccccc")
    assert not pagehtml.offer("/t3", refused)
    assert not pagehtml.offer("/t3", ordinary[0])  # unlike the render before it
    assert pagehtml.offer("/t3", ordinary[1])  # like it, ids and token aside
    assert "tok9" in pagehtml.page_for("/t3", "tok9") and "RNN simulator" in pagehtml.page_for("/t3", "tok9")




async def _frame(ws) -> tuple[dict, dict]:
    header = json.loads(await ws.read_message())
    await ws.read_message()
    content = json.loads(await ws.read_message())
    for _ in range(2 * header.get("num_buffers", 0)):
        await ws.read_message()
    return header, content


def _field(doc: dict, title: str):
    """The value of the text field titled ``title`` in a pulled document."""
    stack = [doc]
    while stack:
        m = stack.pop()
        if isinstance(m, dict):
            if m.get("type") == "object" and m.get("attributes", {}).get("title") == title:
                return m["attributes"].get("value")
            stack.extend(m.values())
        elif isinstance(m, list):
            stack.extend(m)
    return None


async def _join(base: str, path: str) -> dict:
    """GET the page, open its websocket, pull the document: the document's JSON."""
    html = await asyncio.to_thread(lambda: urllib.request.urlopen(base + path, timeout=120).read())
    token = re.search(rb'"token":"([^"]+)"', html).group(1).decode()
    ws = await websocket_connect(base.replace("http", "ws") + path.split("?")[0] + "/ws",
                                 subprotocols=["bokeh", token], max_message_size=1 << 30)
    await _frame(ws)  # ACK
    for part in (json.dumps({"msgid": uuid.uuid4().hex, "msgtype": "PULL-DOC-REQ"}), "{}", "{}"):
        await ws.write_message(part)
    while True:
        header, content = await _frame(ws)
        if header["msgtype"] == "PULL-DOC-REPLY":
            ws.close()
            return content


@pytest.fixture(scope="module")
def two_processes(tmp_path_factory):
    log_path = tmp_path_factory.mktemp("pagehtml") / "server.log"
    with serving(["--no-course", "--num-procs", "2"], log_path) as base:
        yield base, log_path


def _builds(log_path: Path) -> list[tuple[str, str]]:
    """(process id, session tag) of every session build the server logged."""
    return BUILT.findall(log_path.read_text())


def test_requests_build_nothing_once_the_page_is_known(two_processes):
    """Ten GETs of /architectures without websockets: at most two builds per process (its first two requests)."""
    base, log_path = two_processes
    before = len(_builds(log_path))
    pages = [urllib.request.urlopen(base + "/architectures", timeout=120).read() for _ in range(10)]
    time.sleep(1)
    tokens = {re.search(rb'"token":"([^"]+)"', p).group(1) for p in pages}
    assert len(tokens) == 10  # every request its own session
    assert sum(b'id="rnn-joining"' in p for p in pages) >= 6  # the kept page says "Joining" until it is drawn
    assert len(_builds(log_path)) - before <= 4


def test_each_session_is_built_once_by_the_process_serving_it(two_processes):
    """Once both processes know /cell (16 GETs: each has had two with probability 99.95%), twelve students join,
    each with its own URL settings: twelve builds, none twice, each session with its own settings. (Before,
    about half of all sessions were built twice: all twelve once has probability 1/4096.)"""
    base, log_path = two_processes
    for _ in range(16):
        urllib.request.urlopen(base + "/cell", timeout=120).read()
    time.sleep(1)
    before = len(_builds(log_path))

    async def a_class():
        return await asyncio.gather(*(_join(base, f"/cell?H={3 + k % 4}&kind=gru") for k in range(12)))

    docs = asyncio.run(a_class())
    time.sleep(1)
    built = _builds(log_path)[before:]
    assert len(built) == 12 and len({tag for _, tag in built}) == 12, built
    for k, doc in enumerate(docs):  # the session read its own request's URL, carried by the fresh token
        assert _field(doc, "H (hidden)") == str(3 + k % 4)
