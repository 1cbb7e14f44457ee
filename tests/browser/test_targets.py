"""WCAG 2.2 AA target size (2.5.8) and focus in real Chromium, and the step players following their changes.

Every pointer target on every page (links, buttons, fields, selects, checkboxes, tabs, sliders' handles, through
shadow roots) is at least 24 x 24 CSS px, or meets the spacing exception: a 24 px circle on its centre meets no
other target and no other undersized target's circle. A slider's handle gets no exception: it sits on its track,
which takes clicks too. A checkbox's target is its whole view when its text takes clicks (``a11y`` binds them).

The CSS (``a11y.TARGET_CSS``) was tuned on /crnn and /architectures at 1400 px only: the other pages and the
390 px window are the held-out part. Run once against the stylesheet before it (commit 214e547),
``test_every_target_is_24px`` failed on /crnn at 390 px and /bptt at 1400 px (handles 14 x 18) and passed on
/applications (no slider); the old 13 px checkboxes passed through the spacing exception.
"""

from __future__ import annotations

import pytest

from .conftest import NAVIGATION_MS

pytestmark = pytest.mark.browser

TUNED = ["/crnn", "/architectures"]
HELD_OUT = ["/bptt", "/applications", "/cell", "/", "/course", "/architectures?arch=encoder_decoder&kind=gru"]
SLIDER_PAGES = {"/crnn": 1, "/architectures": 1, "/bptt": 2, "/cell": 1}  # path -> sliders shown at first
PLAYER_PAGES = ["/crnn", "/architectures", "/bptt"]

# every target of the page with its box (page coordinates) and why it fails the rule ("" when it passes)
TARGETS = r"""() => {
  const SEL = 'button, a[href], input:not([type=hidden]), select, textarea, summary, [role=slider], [role=tab], ' +
              '[role=button], [role=checkbox], [role=radio], .bk-tab, [tabindex]:not([tabindex="-1"])';
  const found = [];
  const walk = (root) => {
    for (const el of root.querySelectorAll("*")) {
      if (el.matches(SEL)) found.push(el);
      if (el.shadowRoot) walk(el.shadowRoot);
    }
  };
  walk(document);
  const kindOf = (el) => (el.classList.contains("noUi-handle") ? "handle" : el.classList.contains("bk-tab") ? "tab"
    : el.type === "checkbox" ? "checkbox" : el.getAttribute("role") || el.tagName.toLowerCase());
  const items = [];
  for (const el of found) {
    if (el.disabled || !el.checkVisibility({visibilityProperty: true})) continue;
    if (el.classList.contains("rnn-skip")) continue;  // drawn only while it has the keyboard focus
    // a checkbox whose text takes clicks too (a <label>, or a Bokeh view the page's script binds): that whole box
    const host = el.getRootNode().host;
    const label = el.type === "checkbox" ? (host && host.dataset.rnnLabelled ? host : el.closest("label")) : null;
    const r = (label || el).getBoundingClientRect();
    if (r.width === 0 || r.height === 0 || getComputedStyle(el).pointerEvents === "none") continue;
    const name = (el.getAttribute("aria-label") || (label || el).textContent || el.value || "")
      .trim().replace(/\s+/g, " ");
    items.push({el: label || el, kind: kindOf(el), name: name.slice(0, 50),
                x: r.left + scrollX, y: r.top + scrollY, w: r.width, h: r.height});
  }
  const small = (i) => i.w < 23.5 || i.h < 23.5;
  const cx = (i) => i.x + i.w / 2, cy = (i) => i.y + i.h / 2;
  return items.map((i) => {
    let why = "";
    if (small(i) && i.kind === "handle") why = "a handle sits on its track (a target too): no spacing exception";
    else if (small(i)) {
      // WCAG 2.5.8 spacing: a 24 px circle on its centre meets no other target, nor another undersized one's circle
      for (const j of items) {
        if (j === i || j.el.contains(i.el) || i.el.contains(j.el)) continue;
        const dx = Math.max(j.x - cx(i), 0, cx(i) - (j.x + j.w)), dy = Math.max(j.y - cy(i), 0, cy(i) - (j.y + j.h));
        const box = Math.hypot(dx, dy), centres = Math.hypot(cx(i) - cx(j), cy(i) - cy(j));
        if (box < 12 || (small(j) && centres < 24)) {
          why = `${box.toFixed(1)} px from ${j.kind} "${j.name.slice(0, 30)}"`;
          break;
        }
      }
    }
    return {kind: i.kind, name: i.name, x: Math.round(i.x), y: Math.round(i.y), w: Math.round(i.w * 10) / 10,
            h: Math.round(i.h * 10) / 10, bad: why !== "", why, right: Math.round(i.x + i.w)};
  });
}"""

# the element with the focus, through shadow roots, its focus styles now and with the focus taken away
DEEP_FOCUS = """() => {
  let el = document.activeElement;
  while (el && el.shadowRoot && el.shadowRoot.activeElement) el = el.shadowRoot.activeElement;
  if (!el || el === document.body) return null;
  const s = getComputedStyle(el), look = () => [s.outlineStyle, s.outlineWidth, s.outlineColor, s.boxShadow];
  return {handle: el.classList.contains("noUi-handle"), label: el.getAttribute("aria-label") || "",
          text: (el.textContent || "").trim().slice(0, 30), focused: look()};
}"""

# the page's Step button and the player row it sits in (the row's box in page coordinates)
PLAYER_ROW = """() => {
  let step = null;
  const walk = (r) => { for (const el of r.querySelectorAll("*")) {
    if (!step && el.classList.contains("rnn-step")) step = el;
    if (el.shadowRoot) walk(el.shadowRoot); } };
  walk(document);
  const r = step.getRootNode().host.getBoundingClientRect();
  return {y: r.top + scrollY, height: r.height};
}"""
# each element the player scrolled to, and how much of it is now on screen
FOLLOWED = """() => {
  const out = [];
  const walk = (root) => { for (const el of root.querySelectorAll("*")) {
    if (el.dataset && el.dataset.rnnFollowed) {
      const r = el.getBoundingClientRect();
      out.push({cls: String(el.className).slice(0, 60), seen: Math.min(r.bottom, innerHeight) - Math.max(r.top, 0),
                height: r.height});
    }
    if (el.shadowRoot) walk(el.shadowRoot); } };
  walk(document);
  return out;
}"""
SPY = """(() => { const own = Element.prototype.scrollIntoView; window.rnnScrolls = [];
  Element.prototype.scrollIntoView = function (o) { window.rnnScrolls.push(o || {}); return own.call(this, o); };
})()"""


def _open(browser, url, width=1400, height=1000, motion="no-preference"):
    context = browser.new_context(viewport={"width": width, "height": height}, reduced_motion=motion)
    page = context.new_page()
    page.set_default_navigation_timeout(NAVIGATION_MS)
    errors = []
    page.on("pageerror", lambda e: errors.append(f"page error: {e}"))
    page.on("console", lambda m: errors.append(f"console: {m.text}") if m.type == "error" else None)
    page.add_init_script(SPY)
    page.goto(url)
    page.locator(".rnn-nav").first.wait_for(timeout=60000)
    page.wait_for_timeout(2500)  # the accessibility fixes run every 0.7 s as views render
    return context, page, errors


@pytest.mark.parametrize("width", [1400, 390])
@pytest.mark.parametrize("path", TUNED + HELD_OUT)
def test_every_target_is_24px(server, browser, path, width):
    """Is every pointer target 24 x 24 px or spaced so (WCAG 2.5.8), and inside the window at 390 px?"""
    context, page, errors = _open(browser, server + path, width=width)
    try:
        targets = page.evaluate(TARGETS)
        page_width = page.evaluate("document.documentElement.clientWidth")
    finally:
        context.close()
    assert len(targets) >= 8, f"{path}: only {len(targets)} targets found: {targets}"
    bad = [f"{t['kind']} {t['name']!r} {t['w']} x {t['h']}: {t['why']}" for t in targets if t["bad"]]
    assert not bad, f"{path} at {width} px:\n" + "\n".join(bad)
    handles = [t for t in targets if t["kind"] == "handle"]
    assert len(handles) >= SLIDER_PAGES.get(path.split("?")[0], 0), f"{path}: sliders missing: {handles}"
    if width == 390:  # a handle half outside the window cannot be reached there
        out = [t for t in handles if t["x"] < 0 or t["right"] > page_width]
        assert not out, f"{path}: handles outside the {page_width} px window: {out}"
    assert not errors, "\n".join(errors)


def test_a_checkbox_text_ticks_its_box(server, browser):
    """Is a checkbox's whole view its target: does a click on its text tick and untick the box?"""
    context, page, errors = _open(browser, server + "/bptt")
    try:
        box = page.locator(".bk-Checkbox input").first
        before = box.is_checked()
        page.locator(".bk-Checkbox .bk-label").first.click()
        page.wait_for_timeout(300)
        after_one = box.is_checked()
        page.locator(".bk-Checkbox .bk-label").first.click()
        page.wait_for_timeout(300)
        after_two = box.is_checked()
        box.click()  # a click on the box itself still ticks it once, not twice
        page.wait_for_timeout(300)
        after_box = box.is_checked()
    finally:
        context.close()
    assert (after_one, after_two, after_box) == (not before, before, not before)
    assert not errors, "\n".join(errors)


@pytest.mark.parametrize("path", list(SLIDER_PAGES))
def test_tab_reaches_every_slider_with_a_visible_focus(server, browser, path):
    """Does Tab reach each slider's handle, and does the handle then show a ring it does not show unfocused?"""
    context, page, errors = _open(browser, server + path)
    try:
        reached = []
        for _ in range(160):
            page.keyboard.press("Tab")
            now = page.evaluate(DEEP_FOCUS)
            if now and now["handle"] and now["label"] not in [r["label"] for r in reached]:
                reached.append(now)
                if len(reached) == SLIDER_PAGES[path]:
                    break
        unfocused = page.evaluate("""() => { const out = [];
          const walk = (r) => { for (const el of r.querySelectorAll(".noUi-handle, *")) {
            if (el.classList.contains("noUi-handle")) { const s = getComputedStyle(el);
              out.push([s.outlineStyle, s.outlineWidth, s.outlineColor, s.boxShadow]); }
            if (el.shadowRoot) walk(el.shadowRoot); } };
          document.activeElement && document.activeElement.blur && document.activeElement.blur();
          walk(document); return out; }""")
    finally:
        context.close()
    assert len(reached) == SLIDER_PAGES[path], f"{path}: Tab reached {len(reached)} sliders: {reached}"
    for r in reached:
        style, width, _colour, shadow = r["focused"]
        ring = (style != "none" and float(width.rstrip("px") or 0) >= 2) or "26, 95, 180" in shadow
        assert ring, f"{path}: the handle {r['label']!r} shows no focus ring: {r['focused']}"
        assert r["focused"] not in unfocused, f"{path}: {r['label']!r} looks the same with and without focus"
    assert not errors, "\n".join(errors)


@pytest.mark.parametrize("motion", ["reduce", "no-preference"])
@pytest.mark.parametrize("path", PLAYER_PAGES)
def test_step_scrolls_the_changed_part_into_view(server, browser, path, motion):
    """In a window that shows only the player, does Step scroll what changed into view, smoothly only when the
    system does not ask for reduced motion? (And a Step whose changes are on screen scrolls nothing.)"""
    context, page, errors = _open(browser, server + path, motion=motion)
    try:
        page.locator(".rnn-step button").first.click()  # changes on screen (a 1000 px window): no scroll
        page.wait_for_timeout(2000)
        calm = page.evaluate("window.rnnScrolls.length")
        row = page.evaluate(PLAYER_ROW)
        page.set_viewport_size({"width": 1400, "height": int(row["height"]) + 20})
        page.wait_for_timeout(400)
        page.evaluate("(y) => window.scrollTo(0, y)", row["y"] - 10)
        page.wait_for_timeout(400)
        y0 = page.evaluate("scrollY")
        page.locator(".rnn-step button").first.click()
        page.wait_for_timeout(2500)
        scrolls, y1, followed = page.evaluate("window.rnnScrolls"), page.evaluate("scrollY"), page.evaluate(FOLLOWED)
    finally:
        context.close()
    assert calm == 0, f"{path}: a step whose changes were on screen scrolled the page"
    assert len(scrolls) == 1, f"{path}: expected one scroll after the step, got {scrolls}"
    assert scrolls[0]["behavior"] == ("auto" if motion == "reduce" else "smooth")
    assert followed, f"{path}: nothing marked as followed"
    if motion == "reduce":  # an instant scroll: the part is on screen now (headless Chromium's smooth one may lag)
        assert y1 != y0
        assert any(f["seen"] >= min(f["height"], row["height"] + 20) / 2 - 1 for f in followed), followed
    assert not errors, "\n".join(errors)
