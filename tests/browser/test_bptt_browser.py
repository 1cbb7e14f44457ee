"""The BPTT lab in real Chromium: it loads, the backward animation steps, training starts and pauses from
the controls, the curves grow, and nothing is logged to the console as an error."""

from __future__ import annotations

import pytest

from .conftest import screenshot
from .test_pages import wait_text

pytestmark = pytest.mark.browser

SOURCE_LENGTH = """(name) => {
  for (const doc of Bokeh.documents) {
    const src = doc.get_model_by_name(name);
    if (src) return src.data.y.length;
  }
  return -1;
}"""


def shadow_text(page, selector: str) -> str:
    return page.locator(selector).first.inner_text(timeout=20000).strip()


def iteration(page) -> int:
    return int(shadow_text(page, ".bptt-iteration"))


def test_bptt_lab_steps_trains_and_pauses(server, open_page):
    page = open_page(server + "/bptt?kind=gru&per_tick=3&H=16&anim_kind=lstm")
    page.locator(".bptt-iteration").first.wait_for(timeout=30000)
    assert iteration(page) == 0

    # backward animation: one press of Step runs the last step's backward
    page.get_by_role("button", name="Step ▶").click()
    page.locator(".bptt-t").first.wait_for(timeout=20000)
    assert shadow_text(page, ".bptt-t") == "t = 7"
    assert float(shadow_text(page, ".bptt-dh-norm")) > 0

    # training: start, watch the curves grow, pause, check it stays paused
    page.locator(".bptt-play button").first.click()
    # Both curves are set in one refresh but reach the browser as separate patches: wait for both, since
    # a read between the two messages sees the loss grown and the accuracy not yet (a CI run failed so).
    page.wait_for_function(f"() => ({SOURCE_LENGTH})('bptt-loss:loss') >= 12"
                           f" && ({SOURCE_LENGTH})('bptt-accuracy:accuracy') >= 2", timeout=60000)
    page.locator(".bptt-play button").first.click()
    page.get_by_role("button", name="▶ Train").wait_for(timeout=20000)
    page.wait_for_timeout(500)
    paused_at = iteration(page)
    page.wait_for_timeout(1500)
    assert iteration(page) == paused_at > 0
    assert page.evaluate(SOURCE_LENGTH, "bptt-loss:loss") == paused_at
    page.wait_for_function("() => window.location.search.includes('kind=gru')", timeout=20000)

    # one more press of the training Step button adds exactly one batch of iterations
    page.locator(".bptt-step button").first.click()
    page.wait_for_function(f"() => ({SOURCE_LENGTH})('bptt-loss:loss') === {paused_at + 3}", timeout=20000)
    page.mouse.move(5, 5)  # no tooltip in the screenshot
    page.wait_for_timeout(400)
    screenshot(page, "bptt")


def test_keyboard_moves_the_scale_slider_without_warnings_or_tracebacks(server, browser):
    """Does the arrow key on the weight-scale slider apply the value (the server log is checked for
    tracebacks at the end of the session), and does a load log no console warning?"""
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    logged = []
    page.on("console", lambda m: logged.append(f"{m.type}: {m.text}") if m.type in ("warning", "error") else None)
    try:
        page.goto(server + "/bptt?scale=1")
        page.locator(".bptt-iteration").first.wait_for(timeout=30000)
        page.wait_for_timeout(1000)
        assert not logged, logged
        page.locator(".bptt-scale .noUi-handle").first.focus()
        for _ in range(3):
            page.keyboard.press("ArrowRight")
            page.wait_for_timeout(200)
        page.wait_for_function("() => window.location.search.includes('scale=1.15')", timeout=20000)
        wait_text(page, ".bptt-rho", "1.1500")  # recomputed in the worker pool, then shown
        wait_text(page, ".bptt-computing", "")  # the "computing for the new settings" note is gone
        assert not logged, logged
    finally:
        page.close()
