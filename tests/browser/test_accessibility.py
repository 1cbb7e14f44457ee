"""WCAG 2.2 AA in real Chromium: axe-core finds no serious or critical violation on any page, every page fits
a 1400 px window, and the Cell page works from the keyboard alone (step, change cell, compare) with a
visible focus.

axe-core is the npm package, injected by Playwright; install it once with
``npm install --prefix build/axe axe-core@4`` (build/ is ignored by git).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from .test_pages import wait_query, wait_text

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
AXE_PATHS = (ROOT / "build/axe/node_modules/axe-core/axe.min.js",
             ROOT / "tests/browser/node_modules/axe-core/axe.min.js")
PAGES = ("/", "/cell", "/cell?compare=true&kind=gru", "/bptt", "/crnn", "/applications",
         "/applications?task=sentiment", "/architectures")
TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]

# the element that has the focus, through shadow roots; and whether it shows a focus indicator
DEEP_FOCUS = """() => {
  let el = document.activeElement;
  while (el && el.shadowRoot && el.shadowRoot.activeElement) el = el.shadowRoot.activeElement;
  if (!el || el === document.body) return null;
  const s = getComputedStyle(el);
  const visible = (s.outlineStyle !== "none" && parseFloat(s.outlineWidth) > 0) || s.boxShadow !== "none";
  return {tag: el.tagName.toLowerCase(), text: (el.textContent || el.value || "").trim().slice(0, 40),
          label: el.getAttribute("aria-label") || "", type: el.type || "", visible};
}"""


@pytest.fixture(scope="module")
def axe_source() -> str:
    for path in AXE_PATHS:
        if path.exists():
            return path.read_text()
    pytest.skip("axe-core is not installed: npm install --prefix build/axe axe-core@4")


@pytest.mark.parametrize("path", PAGES)
def test_no_serious_or_critical_axe_violation_and_the_page_fits(server, open_page, axe_source, path):
    page = open_page(server + path)
    page.locator(".rnn-nav").first.wait_for(timeout=40000)
    page.wait_for_timeout(2500)  # the accessibility fixes run every 0.7 s as views render
    page.add_script_tag(content=axe_source)
    violations = page.evaluate("""async (tags) => (await axe.run(document, {runOnly: {type: "tag", values: tags}}))
        .violations.filter(v => v.impact === "serious" || v.impact === "critical")
        .map(v => `${v.impact} ${v.id} (${v.nodes.length}): ${v.help} at ${v.nodes[0].target.join(" ")}`)""", TAGS)
    assert not violations, "\n".join(violations)
    assert page.evaluate("document.documentElement.scrollWidth") <= 1400


def _tab_to(page, predicate, limit: int = 120) -> dict:
    """Press Tab until the focused element satisfies ``predicate``; every stop must show its focus."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        focus = page.evaluate(DEEP_FOCUS)
        if focus and predicate(focus):
            return focus
    raise AssertionError("the keyboard never reached the control")


def test_the_cell_page_works_from_the_keyboard_alone(server, open_page):
    page = open_page(server + "/cell?kind=lstm&T=8")
    wait_text(page, ".rnn-t", "t = 0")
    page.wait_for_timeout(1500)
    step = _tab_to(page, lambda f: f["tag"] == "button" and f["text"] == "Step ▶")
    assert step["visible"], "the focused Step button shows no focus indicator"
    page.keyboard.press("Enter")
    wait_text(page, ".rnn-t", "t = 1")
    page.keyboard.press("Space")  # Space on a focused button presses it, as Enter does
    wait_text(page, ".rnn-t", "t = 2")
    page.keyboard.press("Shift+Tab")  # move off the button: the page's arrow keys step too
    page.locator("body").first.evaluate("el => document.activeElement.blur()")
    page.keyboard.press("ArrowRight")
    wait_text(page, ".rnn-t", "t = 3")
    gru = _tab_to(page, lambda f: f["tag"] == "button" and f["text"] == "GRU")
    assert gru["visible"]
    page.keyboard.press("Enter")
    wait_query(page, "kind", "gru")
    compare = _tab_to(page, lambda f: f["type"] == "checkbox" and "Compare" in f["label"])
    assert compare["visible"]
    page.keyboard.press("Space")
    wait_query(page, "compare", "true")
    numbers = page.locator(".rnn-numbers-table").first
    numbers.wait_for(timeout=40000)
    assert "step t = 3" in numbers.inner_text() and numbers.locator("th[scope=row]").count() >= 6
