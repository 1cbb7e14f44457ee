"""Real-Chromium fixtures: one app server for the session (``python serve.py --port <free>``), one browser.

Every page a test opens fails the test on a browser console error or an uncaught page error.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
# Tests never rewrite tracked files: screenshots go to build/screenshots (ignored by git) unless
# ``scripts/screenshots`` asks for the README's copies (RNN_SCREENSHOTS_DIR=docs/screenshots).
SCREENSHOTS = ROOT / os.environ.get("RNN_SCREENSHOTS_DIR", "build/screenshots")
NAVIGATION_MS = 120_000
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]


# A tab closed while the server was still writing to its websocket: tornado logs the failed write.
# That is the network, not the app, so these (and only these) exceptions are tolerated in the log.
DISCONNECT_ERRORS = ("tornado.websocket.WebSocketClosedError", "tornado.iostream.StreamClosedError: Stream is closed")


def tracebacks(log: str) -> list[str]:
    """Each Python traceback in ``log``, from its header to its exception line (inclusive)."""
    out, current = [], None
    for line in log.splitlines():
        if line.startswith("Traceback (most recent call last):"):
            current = [line]
        elif current is not None:
            current.append(line)
            if line and not line[0].isspace():
                out.append("\n".join(current))
                current = None
    return out


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def server(tmp_path_factory):
    """Base URL of a fresh app server; after the session its log must hold no traceback."""
    port = _free_port()
    log_path = tmp_path_factory.mktemp("server") / "server.log"
    log = open(log_path, "w")  # noqa: SIM115 - closed after the process ends
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen([sys.executable, "serve.py", "--port", str(port)], cwd=ROOT, stdout=log,
                            stderr=subprocess.STDOUT, env=env)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 240  # a liveness bound: 60 s was too short on a loaded 2-core machine
    while True:
        try:
            urllib.request.urlopen(base + "/", timeout=2).read()
            break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                raise RuntimeError(f"serve.py did not start: {log_path.read_text()[-2000:]}") from None
            time.sleep(0.3)
    yield base
    proc.terminate()
    proc.wait(timeout=20)
    log.close()
    text = log_path.read_text()
    bad = [tb for tb in tracebacks(text) if not tb.endswith(DISCONNECT_ERRORS)]
    assert not bad, "the server logged a traceback:\n" + "\n\n".join(bad)[:6000]


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is not installed")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


@pytest.fixture
def open_page(browser):
    """``open_page(url)`` -> a loaded Playwright page; the test fails on any console error it logs."""
    pages, errors = [], []

    def _open(url: str):
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        # A liveness bound, not a speed claim: Playwright's 30 s default failed a first build at load 15 on 2 cores.
        page.set_default_navigation_timeout(NAVIGATION_MS)
        page.on("console", lambda m: errors.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
        # with where it was thrown (BokehJS's stack; minified unless BOKEH_MINIFIED=no): a CI log alone can then say
        page.on("pageerror", lambda e: errors.append(f"page error: {e}\n  " + "\n  ".join(
            (e.stack or "").splitlines()[1:9])))
        page.goto(url)
        pages.append(page)
        return page

    yield _open
    for page in pages:
        page.close()
    assert not errors, "\n".join(errors)


def screenshot(page, name: str) -> None:
    """Save the whole page as <SCREENSHOTS>/<name>.png (build/screenshots; scripts/screenshots refreshes docs/)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)
