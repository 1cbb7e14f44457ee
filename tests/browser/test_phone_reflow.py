"""The Cell, CRNN, Architectures and BPTT pages on a phone (390 px) and on a wide window (1400 px), in real Chromium.

At 390 px the page must not scroll sideways (its rows wrap, its plots shrink, a drawing that keeps its size
scrolls in its own box), every control stays at least 24 px (or as small as it already was at 1400 px) and the
Tab key reaches the same controls in the same order, each within the window (plus, on the phone, each text box
that scrolls sideways: a keyboard must reach what it hides). At 1400 px every drawing keeps its
own width and every wrapping row keeps its items side by side (the wide layout is the one before reflow).
The Applications page's row test (and the Cell page's first one) is
``test_accessibility.test_on_a_phone_the_controls_sit_above_the_drawings``.
"""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}

# What a person sees of the layout: every Bokeh figure (its own width and its box), every wrapping row's items,
# every scrolling box, every control. ``boxed``: inside a scrolling box (climbing out of shadow roots).
LAYOUT = """() => {
  const inScroll = (el) => {
    for (let n = el; n; n = n.parentNode || n.host) if (n.classList && n.classList.contains("rnn-scroll")) return n;
    return null;
  };
  const box = (el) => {
    const r = el.getBoundingClientRect();
    return {left: r.left, right: r.right, top: r.top, bottom: r.bottom, width: r.width, height: r.height};
  };
  const figures = [], seen = new Set();
  const visit = (view) => {
    if (!view || seen.has(view)) return;
    seen.add(view);
    if (view.model && view.model.type === "Figure" && view.el.getClientRects().length)
      figures.push({width: view.model.width, box: box(view.el), boxed: !!inScroll(view.el),
                    title: view.model.title ? String(view.model.title.text) : ""});
    for (const child of view.child_views || []) visit(child);
  };
  for (const view of Bokeh.index) visit(view);
  const rows = [], boxes = [], controls = [];
  const walk = (root) => {
    for (const el of root.querySelectorAll("*")) {
      const cls = el.classList;
      if ((cls.contains("rnn-wrap") || cls.contains("rnn-reflow")) && el.shadowRoot) {
        const items = [...el.shadowRoot.children].filter((c) => c.tagName !== "STYLE" && c.tagName !== "LINK"
                                                               && c.getBoundingClientRect().width > 1);
        if (items.length >= 2) rows.push(items.map(box));
      }
      if ((cls.contains("rnn-scroll") || cls.contains("rnn-scroll-text")) && el.getClientRects().length)
        boxes.push({box: box(el), scrollWidth: el.scrollWidth, clientWidth: el.clientWidth});
      if (el.matches("button, select, textarea, input:not([type=checkbox]):not([type=file]):not([type=hidden]), "
                     + ".noUi-handle")
          && el.getClientRects().length && !cls.contains("rnn-skip"))
        controls.push({what: el.tagName + " " + (el.getAttribute("aria-label") || el.textContent || "").trim(),
                       box: box(el)});
      if (el.shadowRoot) walk(el.shadowRoot);
    }
  };
  walk(document);
  return {scrollWidth: document.documentElement.scrollWidth, innerWidth: window.innerWidth, figures, rows, boxes,
          controls};
}"""

# The focused element at the end of the shadow-root chain: what it is and where its (scrolling) box lies.
FOCUS = """() => {
  let el = document.activeElement;
  while (el && el.shadowRoot && el.shadowRoot.activeElement) el = el.shadowRoot.activeElement;
  if (!el || el === document.body) return null;
  let shown = el;  // a drawing that scrolls in its box: the box is what must lie in the window
  for (let n = el; n; n = n.parentNode || n.host) {
    if (n.classList && n.classList.contains("rnn-scroll")) { shown = n; break; }
  }
  const r = shown.getBoundingClientRect();
  // a button's or a link's own text; a canvas's text would hold tick labels, which differ on a shrunk plot
  const text = ["BUTTON", "A"].includes(el.tagName) ? (el.textContent || "").trim().slice(0, 30) : "";
  return {what: el.tagName + "." + [...el.classList].join(".") + " " + (el.getAttribute("aria-label") || text),
          left: r.left, right: r.right, skip: el.classList.contains("rnn-skip")};
}"""


def _settled(page) -> dict:
    """The layout, once the page's main landmark and its first figures are drawn."""
    page.wait_for_function("""() => { let found = 0; const walk = (r) => { for (const e of r.querySelectorAll("*")) {
        if (e.getAttribute("role") === "main") found += 1; if (e.shadowRoot) walk(e.shadowRoot); } };
        walk(document); return found === 1 && window.Bokeh && [...Bokeh.index].length > 0; }""", timeout=60000)
    page.wait_for_function(f"() => ({LAYOUT})().figures.length >= 2", timeout=60000)
    page.wait_for_timeout(1500)  # the last figures' layout settles
    return page.evaluate(LAYOUT)


def _tab_stops(page) -> list[dict]:
    """Every Tab stop from the top of the page until the focus comes back to the skip button (or leaves the page)."""
    page.locator("body").first.evaluate("el => document.activeElement && document.activeElement.blur()")
    stops = []
    for _ in range(200):
        page.keyboard.press("Tab")
        focus = page.evaluate(FOCUS)
        if focus is None or (focus["skip"] and stops):
            return stops
        stops.append(focus)
    raise AssertionError(f"200 Tab stops without coming back to the top: {[s['what'] for s in stops[-5:]]}")


def _side_by_side(a: dict, b: dict) -> bool:
    """Two boxes on one line: their heights overlap and neither starts below the other's end."""
    return a["top"] < b["bottom"] - 1 and b["top"] < a["bottom"] - 1 and (b["left"] >= a["right"] - 1
                                                                           or a["left"] >= b["right"] - 1)


@pytest.mark.parametrize("path", ["/cell", "/crnn", "/architectures", "/bptt"])
def test_on_a_phone_the_page_fits_the_window_and_at_1400_px_keeps_its_layout(server, open_page, path):
    """At 390 px the Cell page was 825 px wide, CRNN 1078, Architectures 1080 and BPTT 1040: a student scrolled sideways
    through every row. Does the page now fit the phone, with its controls as large and as reachable as on a wide
    window, and does a 1400 px window still show the rows and drawings side by side, each at its own width?"""
    page = open_page(server + path)  # 1400 x 1000; any console error fails the test
    wide = _settled(page)
    assert wide["scrollWidth"] <= wide["innerWidth"] + 1, wide["scrollWidth"]
    for figure in wide["figures"]:
        assert abs(figure["box"]["width"] - figure["width"]) <= 1, (path, "shrunk at 1400 px", figure)
    assert wide["rows"], f"{path}: no wrapping row"
    for items in wide["rows"]:
        for a, b in zip(items, items[1:], strict=False):
            assert b["left"] >= a["right"] - 1 and _side_by_side(a, b), (path, "row broken at 1400 px", items)
    # the main blocks (drawings, the column of controls, a readout) side by side, checked above row by row
    assert any(sum(item["width"] >= 300 for item in items) >= 2 for items in wide["rows"]), wide["rows"]
    for b in wide["boxes"]:
        assert b["scrollWidth"] <= b["clientWidth"] + 1, (path, "a drawing scrolls at 1400 px", b)
    wide_stops = _tab_stops(page)

    page.set_viewport_size(PHONE)
    page.reload()  # loaded on the phone, as a phone does
    phone = _settled(page)
    width = phone["innerWidth"]
    assert phone["scrollWidth"] <= width + 1, f"{path}: {phone['scrollWidth']} px wide at {width} px"
    for figure in phone["figures"]:
        if figure["boxed"]:  # a drawing that keeps its size, scrolling in its own box
            assert abs(figure["box"]["width"] - figure["width"]) <= 1, (path, figure)
        else:
            assert figure["box"]["right"] <= width + 1 and figure["box"]["left"] >= -1, (path, figure)
    for a, b in ((a, b) for i, a in enumerate(phone["figures"]) for b in phone["figures"][i + 1:]):
        assert not _side_by_side(a["box"], b["box"]), (path, "figures side by side on a phone", a["title"],
                                                       b["title"])
    assert phone["boxes"] and any(b["scrollWidth"] > b["clientWidth"] + 1 for b in phone["boxes"]), phone["boxes"]
    for b in phone["boxes"]:
        assert b["box"]["left"] >= -1 and b["box"]["right"] <= width + 1, (path, b)
    for items in phone["rows"]:
        assert all(item["right"] <= width + 1 for item in items), (path, "a row passes the window", items)
    assert len(phone["controls"]) == len(wide["controls"])
    for small, big in zip(phone["controls"], wide["controls"], strict=True):
        least = min(24, big["box"]["width"], big["box"]["height"])
        assert min(small["box"]["width"], small["box"]["height"]) >= least - 0.5, (path, small, big)
        assert small["box"]["left"] >= -1 and small["box"]["right"] <= width + 1, (path, "control cut", small)

    phone_stops = _tab_stops(page)
    # a text box that scrolls (the Cell page's equations) is a Tab stop of its own where it scrolls, i.e. on a phone
    scrollers = [s for s in phone_stops if "rnn-scroll-text" in s["what"]]
    assert [s["what"] for s in phone_stops if s not in scrollers] == [s["what"] for s in wide_stops]
    for stop in phone_stops:
        assert stop["left"] >= -1 and stop["right"] <= width + 1, (path, "a Tab stop outside the window", stop)

    _assert_cards_fit(page, path)


def _assert_cards_fit(page, path: str) -> None:
    """The compare section (a card) opened on the phone fits too: its code box and figure were 1030 px wide."""
    for header in page.locator("button.card-header").all():
        header.click()
    page.wait_for_timeout(1500)
    opened = page.evaluate(LAYOUT)
    width = opened["innerWidth"]
    assert opened["scrollWidth"] <= width + 1, f"{path}: {opened['scrollWidth']} px wide with the compare section open"
