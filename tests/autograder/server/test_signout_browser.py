"""The course page's *Sign out* in real Chromium: a button reached by Tab, with a visible focus, that signs out."""

from __future__ import annotations

import pytest

from tests.autograder.server.test_signout import live

__all__ = ["live"]
pytestmark = pytest.mark.browser
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]
# the focused element, through the shadow roots Panel renders into
FOCUSED = """() => { let e = document.activeElement; while (e && e.shadowRoot && e.shadowRoot.activeElement)
  e = e.shadowRoot.activeElement; if (!e) return null; const s = getComputedStyle(e), r = e.getBoundingClientRect();
  return {tag: e.tagName, text: e.textContent.trim(), outline: s.outlineStyle, width: parseFloat(s.outlineWidth),
          w: r.width, h: r.height}; }"""


def test_sign_out_is_a_keyboard_button_with_a_visible_focus_that_signs_out(live):
    sync_api = pytest.importorskip("playwright.sync_api")
    base = f"http://127.0.0.1:{live}"
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
        try:
            page = browser.new_page()
            page.goto(f"{base}/login?next=/course")
            page.fill("#username", "ada")
            page.fill("#password", "ada-password")
            page.click("button[type=submit]")
            page.wait_for_url(f"{base}/course", timeout=60_000)
            page.get_by_role("button", name="Sign out").wait_for(timeout=60_000)
            focused = None
            for _ in range(60):  # Tab through the page until the Sign out button has the focus
                page.keyboard.press("Tab")
                focused = page.evaluate(FOCUSED)
                if focused and focused["tag"] == "BUTTON" and focused["text"] == "Sign out":
                    break
            assert focused and focused["text"] == "Sign out", focused
            assert focused["outline"] != "none" and focused["width"] >= 2, focused
            assert focused["w"] >= 24 and focused["h"] >= 24, focused
            page.keyboard.press("Enter")
            page.wait_for_url(f"{base}/", timeout=60_000)
            assert not [c for c in page.context.cookies() if c["name"] == "user"]
            page.goto(f"{base}/course")
            page.get_by_text("Sign in to submit your notebooks").wait_for(timeout=60_000)
        finally:
            browser.close()
