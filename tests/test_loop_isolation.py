"""Does a test's ``asyncio`` work whatever ran before it, even while Playwright's sync API holds a browser open?

Each case is a small suite run in its own pytest process with this repository's ``tests/conftest.py``: a
session-scoped ``browser`` fixture that is the real ``sync_playwright()`` (it marks its loop as running in the
test thread between calls), a browser test, then a test that uses ``asyncio`` in one of several ways, then a
browser test again (Playwright must still answer). A control runs the same suite with the conftest's loop
fixture removed and must fail, so the cases do reproduce the order dependence they guard against.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

CONFTEST = Path(__file__).with_name("conftest.py")

BROWSER = textwrap.dedent('''
    import pytest


    @pytest.fixture(scope="session")
    def browser():
        from playwright.sync_api import sync_playwright

        with sync_playwright() as p:
            yield p


    def _round_trip(p):
        context = p.request.new_context()  # a call to Playwright's driver and back
        context.dispose()
    ''')

# Ways a test may need the loop; the later ones were written after the fixture, to check the class.
USES = {
    "asyncio_run": "assert asyncio.run(one()) == 1",
    "run_in_a_function_fixture": None,  # the fixture below does it
    "new_loop_run_until_complete": ("loop = asyncio.new_event_loop()\n    try:\n        assert "
                                    "loop.run_until_complete(one()) == 1\n    finally:\n        loop.close()"),
    "get_running_loop_raises": "with pytest.raises(RuntimeError):\n        asyncio.get_running_loop()",
    "asyncio_run_twice": "assert asyncio.run(one()) == 1\n    assert asyncio.run(one()) == 1",
}


def _suite() -> str:
    """A browser test, then each use of the loop followed by a browser test again."""
    tests = []
    for use, body in sorted(USES.items()):
        tests.append(f"def test_use_{use}(ran):\n    {body or 'assert ran == 1'}\n\n\n"
                     f"def test_browser_after_{use}(browser):\n    _round_trip(browser)\n")
    return BROWSER + textwrap.dedent('''
        import asyncio


        async def one():
            await asyncio.sleep(0)
            return 1


        @pytest.fixture
        def ran():
            return asyncio.run(one())


        def test_a_browser_first(browser):
            _round_trip(browser)


        ''') + "\n\n".join(tests)


def _run(tmp_path: Path, conftest: str) -> subprocess.CompletedProcess:
    (tmp_path / "conftest.py").write_text(conftest)
    (tmp_path / "test_order.py").write_text(_suite())
    return subprocess.run([sys.executable, "-m", "pytest", "-v", "-p", "no:cacheprovider", str(tmp_path)],
                          cwd=tmp_path, env={**os.environ, "CI": ""}, capture_output=True, text=True, timeout=300)


def _without_the_loop_fixture(text: str) -> str:
    start = text.index("@pytest.fixture(autouse=True)\ndef _no_foreign_running_loop")
    end = text.index("# ---", start)
    return text[:start] + text[end:]


@pytest.fixture(scope="module")
def playwright_present():
    pytest.importorskip("playwright.sync_api")


def test_asyncio_after_a_browser_test_passes(tmp_path, playwright_present):
    """With the conftest, does every use of the loop pass after a browser test, and the browser after it?"""
    out = _run(tmp_path, CONFTEST.read_text())
    assert out.returncode == 0, out.stdout[-3000:]
    assert re.search(rf"\b{1 + 2 * len(USES)} passed\b", out.stdout), out.stdout[-3000:]


def test_the_control_without_the_fixture_fails_on_the_running_loop(tmp_path, playwright_present):
    """Without the conftest's loop fixture, do the same uses fail, on the running loop (the bug is real)?"""
    out = _run(tmp_path, _without_the_loop_fixture(CONFTEST.read_text()))
    assert out.returncode != 0, out.stdout[-3000:]
    for use in sorted(USES):  # each way fails without it
        assert re.search(rf"test_use_{use} (FAILED|ERROR)", out.stdout), (use, out.stdout[-3000:])
    assert "cannot be called from a running event loop" in out.stdout, out.stdout[-3000:]
