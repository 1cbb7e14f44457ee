"""The CRNN page in real Chromium: it loads, Step advances the frame, the shown state is the reference's,
the hover shows its exact value, the URL keeps the frame, training finishes in the page, and nothing is logged
as a console error."""

from __future__ import annotations

from urllib.parse import parse_qs, urlparse

import pytest

from simulator import crnn
from simulator.app.task_sizes import TASKS
from simulator.lessons import applications, data

from .conftest import screenshot
from .test_pages import exact_of, text_of, wait_text

pytestmark = pytest.mark.browser


def reference_h(kind: str, sample: int, t: int) -> float:
    """h_t[0] of the page's untrained video CRNN, computed here from the reference core."""
    s = TASKS["video"].kwargs
    d = data.moving_shapes(s["n"], frames=s["frames"], size=s["size"], classes=s["classes"], seed=0)
    model = crnn.CRNN.create((1, s["size"], s["size"]), 2, cnn=applications.VIDEO_CNN, kind=kind,
                             hidden_size=s["hidden_size"], seed=0)
    _, cache = crnn.forward(model, d.X_test[sample : sample + 1])
    return float(cache["H"][0, t, 0])


TOOLTIPS = """() => { const out = []; const walk = r => { for (const e of r.querySelectorAll('*')) {
  if (String(e.className || '').includes('bk-tooltip-content')) out.push(e.textContent);
  if (e.shadowRoot) walk(e.shadowRoot); } }; walk(document); return out; }"""


def hovered_value(page, selector: str, label: str) -> float:
    """Move the mouse down the first column of cells of the figure in ``selector`` until the hover names ``label``."""
    box = page.locator(selector).bounding_box()
    for dy in range(15, int(box["height"]), 6):
        page.mouse.move(box["x"] + 90, box["y"] + dy)
        page.wait_for_timeout(150)
        for text in page.evaluate(TOOLTIPS):
            if text.strip().startswith(label):
                return float(text.split("value:")[1])
    raise AssertionError(f"no hover tooltip for {label} in {selector}")


def test_crnn_page_steps_shows_the_reference_trains_and_keeps_the_url(server, open_page):
    page = open_page(server + "/crnn?task=video&kind=gru&sample=2&t=1")
    wait_text(page, ".rnn-t", "t = 1")
    page.get_by_role("button", name="Step ▶").click()
    wait_text(page, ".rnn-t", "t = 2")
    assert exact_of(page, ".rnn-h") == reference_h("gru", 2, 2)
    assert hovered_value(page, ".rnn-vectors", "hₜ[0]") == reference_h("gru", 2, 2)
    page.wait_for_function("() => window.location.search.includes('t=2')", timeout=20000)
    query = {k: v[-1] for k, v in parse_qs(urlparse(page.url).query).items()}
    assert (query["task"], query["kind"], query["sample"], query["t"]) == ("video", "gru", "2", "2")

    page.get_by_role("button", name="Train the CRNN").click()
    wait_text(page, ".rnn-weights", "trained")
    page.get_by_role("button", name="▶|").click()
    wait_text(page, ".rnn-t", "t = 5")
    assert text_of(page, ".rnn-prediction") in ("left", "right")
    screenshot(page, "crnn")


def test_crnn_page_hostile_url_gives_a_message(server, open_page):
    page = open_page(server + "/crnn?kind=%3Cimg%20src%3Dx%3E&t=-4")
    wait_text(page, ".rnn-message-text", "URL kind", contains=True)
    assert "URL t" in text_of(page, ".rnn-message-text")
    wait_text(page, ".rnn-t", "t = 0")
