"""Is each session built once, by the process that serves it? (a real ``serve.py --num-procs 2``)."""

from __future__ import annotations

import asyncio
import json
import re
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

import pytest
from tornado.websocket import websocket_connect

from simulator.app import pagehtml

ROOT = Path(__file__).resolve().parents[2]
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


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


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
    port = _free_port()
    log_path = tmp_path_factory.mktemp("pagehtml") / "server.log"
    with open(log_path, "w") as log:
        proc = subprocess.Popen([sys.executable, "serve.py", "--no-course", "--num-procs", "2", "--port", str(port)],
                                cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(240):
            try:
                urllib.request.urlopen(base + "/", timeout=5).read()
                break
            except OSError:
                time.sleep(0.5)
        yield base, log_path
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def _builds(log_path: Path) -> list[tuple[str, str]]:
    """(process id, session tag) of every session build the server logged."""
    return BUILT.findall(log_path.read_text())


def test_requests_build_nothing_once_the_page_is_known(two_processes):
    """Ten GETs of /architectures without websockets: at most one build per process (its first request)."""
    base, log_path = two_processes
    before = len(_builds(log_path))
    pages = [urllib.request.urlopen(base + "/architectures", timeout=120).read() for _ in range(10)]
    time.sleep(1)
    tokens = {re.search(rb'"token":"([^"]+)"', p).group(1) for p in pages}
    assert len(tokens) == 10  # every request its own session
    assert sum(b'id="rnn-joining"' in p for p in pages) >= 8  # the kept page says "Joining" until it is drawn
    assert len(_builds(log_path)) - before <= 2


def test_each_session_is_built_once_by_the_process_serving_it(two_processes):
    """Twelve students join /cell, each with its own URL settings: twelve builds (+1 per process at most), no
    session built twice but a process's first, and each session with its own settings. (Before, about half of
    them were built twice: P(at most 2 of 12) = 2%.)"""
    base, log_path = two_processes
    before = len(_builds(log_path))

    async def a_class():
        return await asyncio.gather(*(_join(base, f"/cell?H={3 + k % 4}&kind=gru") for k in range(12)))

    docs = asyncio.run(a_class())
    time.sleep(1)
    built = _builds(log_path)[before:]
    assert 12 <= len(built) <= 12 + 2, built
    sessions = [tag for _, tag in built]
    twice = {tag for tag in sessions if sessions.count(tag) > 1}
    assert len(twice) <= 2, built  # only each process's first request may be built again, where its websocket went
    for k, doc in enumerate(docs):  # the session read its own request's URL, carried by the fresh token
        assert _field(doc, "H (hidden)") == str(3 + k % 4)
