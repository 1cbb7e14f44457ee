"""The Cell page on a phone (390 px), in real Chromium: its equations scroll in their own box, from the keyboard
too, the player's handle stays a 24 px target inside the window, and axe finds nothing at that width.

The page-wide reflow checks (no sideways scroll, controls, Tab order, 1400 px layout) are
``test_phone_reflow.test_on_a_phone_the_page_fits_the_window_and_at_1400_px_keeps_its_layout[/cell]``.
"""

from __future__ import annotations

import pytest

from .test_accessibility import TAGS, axe_source  # noqa: F401 - axe_source is a fixture
from .test_pages import wait_text

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}

# the element matching a selector, through shadow roots
FIND = """(sel) => {
  const find = (root) => {
    const el = root.querySelector(sel);
    if (el) return el;
    for (const host of root.querySelectorAll("*"))
      if (host.shadowRoot) { const hit = find(host.shadowRoot); if (hit) return hit; }
    return null;
  };
  return find(document);
}"""
EQUATIONS = f"""() => {{
  const el = ({FIND})(".bk-panel-models-katex-KaTeX");
  const r = el.getBoundingClientRect();
  return {{scrollWidth: el.scrollWidth, clientWidth: el.clientWidth, scrollLeft: el.scrollLeft, left: r.left,
          right: r.right, math: el.shadowRoot.querySelector("math").getBoundingClientRect().left}};
}}"""
HANDLE = f"""() => {{
  const r = ({FIND})(".rnn-clock").shadowRoot.querySelector(".noUi-handle").getBoundingClientRect();
  return {{left: r.left, right: r.right, width: r.width, height: r.height}};
}}"""


def _open_on_a_phone(open_page, url: str):
    page = open_page(url)
    page.set_viewport_size(PHONE)
    page.reload()  # loaded on the phone, as a phone does
    wait_text(page, ".rnn-t", "t = 0")
    page.wait_for_timeout(1500)
    return page


def test_on_a_phone_the_equations_scroll_in_their_box_and_the_arrow_keys_scroll_them(server, open_page):
    """The equations are one 620 px block (symbols beside numbers): at 390 px they held the page 825 px wide.
    Do they now scroll in their own box, starting at its left edge (a centred block would be cut on the left,
    out of the scrollbar's reach), do ← → scroll that box once it has the focus, and do they still step the
    player everywhere else? At 1400 px the box must not scroll at all."""
    page = open_page(server + "/cell?kind=lstm&T=8")
    wait_text(page, ".rnn-t", "t = 0")
    wide = page.evaluate(EQUATIONS)
    assert wide["scrollWidth"] <= wide["clientWidth"] + 1, wide

    page = _open_on_a_phone(open_page, server + "/cell?kind=lstm&T=8")
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"] + 1
    box = page.evaluate(EQUATIONS)
    assert box["scrollWidth"] >= box["clientWidth"] + 100, box  # the numbers' column lies beyond the window
    assert box["left"] >= -1 and box["right"] <= PHONE["width"] + 1, box
    assert box["math"] >= box["left"] - 1, box  # the equations start inside the box, not cut on the left
    page.locator(".bk-panel-models-katex-KaTeX").first.focus()
    page.keyboard.press("ArrowRight")
    page.wait_for_timeout(600)
    scrolled = page.evaluate(EQUATIONS)["scrollLeft"]
    assert scrolled > 0
    wait_text(page, ".rnn-t", "t = 0")  # the key scrolled the box, it did not step
    page.keyboard.press("ArrowLeft")
    page.wait_for_timeout(600)
    assert page.evaluate(EQUATIONS)["scrollLeft"] < scrolled
    page.get_by_role("button", name="Step ▶").click()
    wait_text(page, ".rnn-t", "t = 1")
    page.keyboard.press("ArrowRight")  # the focus is on the Step button now: the key steps
    wait_text(page, ".rnn-t", "t = 2")


def test_on_a_phone_the_players_handle_is_a_24_px_target_inside_the_window(server, open_page):
    """At t = 0 the 24 px handle stood half outside its track, 6 px past the phone's left edge: is it whole
    inside the window at both ends of the slider, and at least 24 x 24 px?"""
    page = _open_on_a_phone(open_page, server + "/cell?T=6")
    for t in (0, 5):
        if t:
            page.get_by_role("button", name="▶|").click()
            wait_text(page, ".rnn-t", f"t = {t}")
        handle = page.evaluate(HANDLE)
        assert handle["width"] >= 24 and handle["height"] >= 24, (t, handle)
        assert handle["left"] >= -0.5 and handle["right"] <= PHONE["width"] + 0.5, (t, handle)


def test_on_a_phone_axe_finds_nothing(server, open_page, axe_source):  # noqa: F811 - the fixture
    """The 1400 px axe test misses what only a phone shows (a scrolling box no keyboard can reach, targets that
    overlap once rows wrap): does axe find nothing at 390 px, with the Cell page's equations scrolling?"""
    page = _open_on_a_phone(open_page, server + "/cell?kind=gru")
    page.wait_for_timeout(1500)  # the accessibility fixes run every 0.7 s as views render
    page.add_script_tag(content=axe_source)
    violations = page.evaluate("""async (tags) => (await axe.run(document, {runOnly: {type: "tag", values: tags}}))
        .violations.map(v => `${v.impact} ${v.id} (${v.nodes.length}): ${v.help} at ${v.nodes[0].target.join(" ")}`)
        """, TAGS)
    assert not violations, "\n".join(violations)
