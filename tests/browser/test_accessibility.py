"""WCAG 2.2 AA in real Chromium: axe-core finds no violation of any impact on any page, every page fits a
1400 px window, has its own title, one main landmark and a skip button (the instructor's signed-in course pages
too), Tab from the page list enters every page, and the Cell, Architectures and BPTT pages work from the
keyboard alone with a visible focus.

axe-core is the npm package, injected by Playwright; install it once with
``npm install --prefix build/axe axe-core@4`` (build/ is ignored by git). No violation is allow-listed: every
rule axe checks passes on every page below (its "best-practice" rules included).
"""

from __future__ import annotations

import re
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import panel as pn
import pytest

from simulator.app import layout
from tests.autograder.server import http
from tests.autograder.server.conftest import released_course

from .conftest import SCREENSHOTS, tracebacks
from .test_pages import wait_query, wait_text

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
AXE_PATHS = (ROOT / "build/axe/node_modules/axe-core/axe.min.js",
             ROOT / "tests/browser/node_modules/axe-core/axe.min.js")
PAGES = {  # path -> the title its tab must have
    "/": "Home", "/cell": "Cell", "/cell?compare=true&kind=gru": "Cell", "/architectures": "Architectures",
    "/architectures?arch=encoder_decoder&kind=gru": "Architectures", "/bptt": "BPTT lab", "/crnn": "CRNN",
    "/applications": "Applications", "/applications?task=sentiment": "Applications", "/course": "Course",
    "/course/feedback?id=1": "Feedback", "/course/dashboard": "Dashboard",
}
TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"]

# the element that has the focus, through shadow roots; and whether it shows a focus indicator
DEEP_FOCUS = """() => {
  let el = document.activeElement;
  while (el && el.shadowRoot && el.shadowRoot.activeElement) el = el.shadowRoot.activeElement;
  if (!el || el === document.body) return null;
  const s = getComputedStyle(el);
  const visible = (s.outlineStyle !== "none" && parseFloat(s.outlineWidth) >= 2) || s.boxShadow !== "none";
  return {tag: el.tagName.toLowerCase(), text: (el.textContent || el.value || "").trim().slice(0, 40),
          label: el.getAttribute("aria-label") || "", type: el.type || "", role: el.getAttribute("role") || "",
          cls: String(el.className || ""), visible};
}"""
# every element of the flattened tree (shadow roots included) matching a selector
DEEP_ALL = """(sel) => {
  const out = [];
  const walk = (root) => {
    for (const el of root.querySelectorAll("*")) {
      if (el.matches(sel)) out.push(el);
      if (el.shadowRoot) walk(el.shadowRoot);
    }
  };
  walk(document);
  return out.map((el) => ({shown: el.checkVisibility(), text: el.textContent.trim().slice(0, 60)}));
}"""


@pytest.fixture(scope="module")
def axe_source() -> str:
    for path in AXE_PATHS:
        if path.exists():
            return path.read_text()
    pytest.skip("axe-core is not installed: npm install --prefix build/axe axe-core@4")


@pytest.mark.parametrize("path", PAGES)
def test_no_axe_violation_of_any_impact_and_the_page_fits(server, open_page, axe_source, path):
    """Does axe find nothing at all, and does the page have its title, lang, one main and a skip button?"""
    page = open_page(server + path)
    page.locator(".rnn-nav").first.wait_for(timeout=40000)
    page.wait_for_timeout(2500)  # the accessibility fixes run every 0.7 s as views render
    violations = _axe(page, axe_source)
    assert not violations, "\n".join(violations)
    assert page.evaluate("document.documentElement.scrollWidth") <= 1400
    assert page.title() == f"{PAGES[path]} - RNN simulator"
    assert page.evaluate("document.documentElement.lang") == "en"
    assert len(page.evaluate(DEEP_ALL, '[role="main"], main')) == 1
    assert page.evaluate(DEEP_ALL, "button.rnn-skip")[0]["text"] == "Skip to the page content"
    levels = page.evaluate(DEEP_ALL, "h1, [role=heading][aria-level='1']")
    assert levels, "no level-one heading"


# each shown label whose input (in the same input group) is not drawn: a control the eye is told about but
# cannot reach (``display: none`` on the wrong element, a zero width)
HIDDEN_INPUTS = """() => {
  const out = [];
  const walk = (root) => {
    for (const label of root.querySelectorAll(".bk-input-group > label")) {
      const input = label.parentElement.querySelector("input, select, textarea");
      if (!input || !label.checkVisibility()) continue;
      const box = input.getBoundingClientRect();
      if (box.width < 8 || box.height < 8) out.push(label.textContent.trim());
    }
    for (const el of root.querySelectorAll("*")) if (el.shadowRoot) walk(el.shadowRoot);
  };
  walk(document);
  return out;
}"""
@pytest.mark.parametrize("path", [p for p in PAGES if not p.startswith("/course")])
def test_every_labelled_field_is_drawn(server, open_page, path):
    """Does every shown label of a text, number or choice field have its field drawn beside it?"""
    page = open_page(server + path)
    page.locator(".rnn-nav").first.wait_for(timeout=40000)
    page.wait_for_timeout(2000)
    assert not (hidden := page.evaluate(HIDDEN_INPUTS)), f"labels without a drawn field: {hidden}"


def _axe(page, axe_source) -> list[str]:
    page.add_script_tag(content=axe_source)
    return page.evaluate("""async (tags) => (await axe.run(document, {runOnly: {type: "tag", values: tags}}))
        .violations.map(v => `${v.impact} ${v.id} (${v.nodes.length}): ${v.help} at ${v.nodes[0].target.join(" ")}`)
        """, TAGS)


@pytest.fixture(scope="module")
def course_site(tmp_path_factory):
    """A course server with a released assignment and an instructor's set-up code (the signed-in pages)."""
    root = tmp_path_factory.mktemp("a11y-course")
    course = released_course(root / "course")
    out = subprocess.run([sys.executable, "-m", "autograder", "users", "--course", str(course), "add", "prof",
                          "--role", "instructor"], cwd=http.REPO, env=http.env(), capture_output=True, text=True,
                         check=True, timeout=120)
    code = re.search(r"set-up code: (\S+)", out.stdout).group(1)
    port, log = http.free_port(), root / "serve.log"
    proc = http.start_server(course, port, log=log)
    yield {"base": f"http://127.0.0.1:{port}", "code": code}
    proc.terminate()
    proc.wait(30)
    bad = [tb for tb in tracebacks(log.read_text()) if "WebSocketClosedError" not in tb]
    assert not bad, "the server logged a traceback:\n" + "\n\n".join(bad)[:4000]


def test_the_signed_in_course_pages_have_no_axe_violation(course_site, browser, axe_source):
    """Are the instructor's course page and dashboard (buttons, inline code, number fields) free of violations?"""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    try:
        page.goto(f"{course_site['base']}/course/setup?user=prof&code={course_site['code']}")
        page.fill("#password", "prof long password")
        page.fill("#again", "prof long password")
        page.click("button[type=submit]")
        page.wait_for_selector("text=Signed in as")
        for path, title in (("/course", "Course"), ("/course/dashboard", "Dashboard")):
            page.goto(course_site["base"] + path)
            page.locator(".rnn-nav").first.wait_for(timeout=40000)
            page.wait_for_timeout(2500)
            assert not (violations := _axe(page, axe_source)), "\n".join([path, *violations])
            assert page.title() == f"{title} - RNN simulator"
    finally:
        context.close()


# Pages made of defects, one or more per class the fixes enforce (contrast of buttons and code, heading outline,
# target size of number fields, names of controls). TUNED is what the fixes were written against; HELD_OUT was
# written afterwards, with other widgets, colours and nestings, and never tuned on.
def _tuned():
    return pn.Column(
        pn.pane.Markdown("## A section\n\nSome `inline code` here."),
        pn.Row(pn.widgets.Button(name="Primary", button_type="primary"),
               pn.widgets.Button(name="Success", button_type="success"),
               pn.widgets.Button(name="Warning", button_type="warning")),
        pn.pane.Markdown("#### Two levels down"),
        pn.widgets.IntInput(name="Count", value=3))


def _held_out():
    return pn.Column(
        pn.pane.HTML("<h1>Top</h1><h6>Five levels down</h6><p>text <code>np.tanh</code></p>"),
        pn.Card(pn.pane.Markdown("##### Inside a card"), title="A card"),
        pn.Tabs(("One", pn.pane.Markdown("### Tab heading")), ("Two", pn.pane.Markdown("two"))),
        pn.Row(pn.widgets.Button(name="Danger", button_type="danger"),
               pn.widgets.Toggle(name="Toggle", button_type="success"),
               pn.widgets.RadioButtonGroup(options=["a", "b", "c"], button_type="warning", button_style="solid"),
               pn.widgets.Button(name="Pink", stylesheets=[".bk-btn { background: #ffb3b3; color: #ffffff; }"]),
               pn.widgets.Button(name="Dark", stylesheets=[".bk-btn { background: #333333; color: #000000; }"])),
        pn.widgets.FloatInput(name="Rate", value=0.5, step=0.1),
        pn.widgets.Checkbox(name="Tick me"),
        pn.widgets.FloatSlider(name="Scale", start=0, end=1, value=0.5))


@pytest.fixture(scope="module")
def defect_server():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    routes = {"/tuned": lambda: layout.framed("", _tuned()), "/held_out": lambda: layout.framed("", _held_out())}
    server = pn.serve(routes, port=port, address="127.0.0.1", show=False, threaded=True,
                      websocket_origin=[f"127.0.0.1:{port}"])
    # NB: a threaded pn.serve returns before its thread listens (a CI run's first page got "connection refused")
    deadline = time.monotonic() + 120
    while True:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/tuned", timeout=30).read()
            break
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


@pytest.mark.parametrize("path", ["/tuned", "/held_out"])
def test_defects_of_each_class_are_repaired_on_pages_never_seen(defect_server, open_page, axe_source, path):
    """Do the page-wide fixes repair every class of defect, on widgets they were not written against too?"""
    page = open_page(defect_server + path)
    page.locator(".rnn-nav").first.wait_for(timeout=40000)
    page.wait_for_timeout(2500)
    assert not (violations := _axe(page, axe_source)), "\n".join(violations)


def test_the_cell_equations_show_one_copy(server, open_page):
    """Is KaTeX's unstyled HTML copy hidden under the client-rendered equations (only the MathML is drawn), and is
    the selected line marked with a symbol?"""
    page = open_page(server + "/cell?kind=lstm&T=6")
    wait_text(page, ".rnn-t", "t = 0")
    page.wait_for_function(f"() => ({DEEP_ALL})('.katex-mathml').length > 0", timeout=40000)
    copies = page.evaluate(DEEP_ALL, ".katex-html")
    assert copies and not any(c["shown"] for c in copies), copies
    # the selected line is marked by a symbol too (KaTeX writes \blacktriangleright as U+25B6), not by colour alone
    page.wait_for_function("""() => { const found = [];
      const walk = (root) => { for (const el of root.querySelectorAll("*")) {
        if (el.classList.contains("katex-mathml")) found.push(el.textContent);
        if (el.shadowRoot) walk(el.shadowRoot); } };
      walk(document);
      return found.some((text) => text.includes("\u25b6")); }""", timeout=40000)
    page.get_by_role("button", name="Step ▶").click()
    wait_text(page, ".rnn-t", "t = 1")
    page.wait_for_timeout(300)
    assert not any(c["shown"] for c in page.evaluate(DEEP_ALL, ".katex-html"))


def test_reduced_motion_turns_off_transitions(server, browser):
    """With prefers-reduced-motion, do the pages' controls run no CSS transition?"""
    page = browser.new_page(viewport={"width": 1400, "height": 1000}, reduced_motion="reduce")
    try:
        page.goto(server + "/cell?kind=gru")
        wait_text(page, ".rnn-t", "t = 0")
        page.wait_for_timeout(1500)
        durations = page.evaluate("""() => {
          const out = [];
          const walk = (root) => { for (const el of root.querySelectorAll("button, input, .noUi-handle")) {
            out.push(getComputedStyle(el).transitionDuration); }
            for (const el of root.querySelectorAll("*")) if (el.shadowRoot) walk(el.shadowRoot); };
          walk(document);
          return out;
        }""")
        assert durations and all(set(d.split(", ")) == {"0s"} for d in durations), sorted(set(durations))
    finally:
        page.close()


def _tab_to(page, predicate, limit: int = 120, key: str = "Tab") -> dict:
    """Press Tab until the focused element satisfies ``predicate``; every stop must show its focus."""
    for _ in range(limit):
        page.keyboard.press(key)
        focus = page.evaluate(DEEP_FOCUS)
        if focus and focus["role"] != "main":
            assert focus["visible"], f"no visible focus on {focus}"
        if focus and predicate(focus):
            return focus
    raise AssertionError("the keyboard never reached the control")


# whether the focused element (through shadow roots) lies inside the main landmark
FOCUS_IN_MAIN = """() => {
  let el = document.activeElement, inside = false;
  while (el) {
    if (el.getAttribute && el.getAttribute("role") === "main") inside = true;
    el = el.shadowRoot && el.shadowRoot.activeElement;
  }
  return inside;
}"""


@pytest.mark.parametrize("path", ["/", "/cell", "/architectures", "/bptt", "/crnn", "/applications"])
def test_tab_from_the_navigation_bar_enters_the_page_without_the_skip_button(server, open_page, path):
    """A keyboard user who tabs past the skip button and the page list: does the next stop lie inside the page?
    (The main landmark, a shadow host, had tabindex=-1, which took every control inside it out of the Tab
    order: after the page list the focus left the page and came back to the skip button.)"""
    page = open_page(server + path)
    page.wait_for_function(f"() => ({DEEP_ALL})('[role=main]').length === 1", timeout=40000)
    page.wait_for_timeout(1500)
    page.locator("body").first.evaluate("el => document.activeElement && document.activeElement.blur()")
    stops = []
    for _ in range(12):
        page.keyboard.press("Tab")
        focus = page.evaluate(DEEP_FOCUS)
        stops.append(focus and focus["text"])
        if page.evaluate(FOCUS_IN_MAIN):
            assert focus and focus["visible"] and focus["role"] != "main", focus
            return
    raise AssertionError(f"{path}: 12 Tab stops never entered the page: {stops}")


# the boxes of each wrapping row's first two children (through shadow roots)
REFLOW_BOXES = """() => {
  const out = [];
  const walk = (root) => {
    for (const el of root.querySelectorAll("*")) {
      if (el.classList.contains("rnn-reflow") && el.shadowRoot) {
        const kids = [...el.shadowRoot.children].filter((c) => c.tagName !== "STYLE" && c.getClientRects().length);
        if (kids.length >= 2) out.push(kids.slice(0, 2).map((k) => k.getBoundingClientRect().toJSON()));
      }
      if (el.shadowRoot) walk(el.shadowRoot);
    }
  };
  walk(document);
  return out;
}"""


@pytest.mark.parametrize("path", ["/cell", "/applications"])
def test_on_a_phone_the_controls_sit_above_the_drawings(server, browser, path):
    """At 390 px (a phone, or 200 % zoom of a small window) the 300 px column of controls stood beside 1000 px
    of drawings, making the page three screens wide: does the page's first row now put them one above the
    other, and at 1400 px still side by side?"""
    for width, stacked in ((390, True), (1400, False)):
        page = browser.new_page(viewport={"width": width, "height": 844})
        try:
            page.goto(server + path)
            page.wait_for_function(f"() => ({DEEP_ALL})('[role=main]').length === 1", timeout=40000)
            page.wait_for_timeout(1500)
            rows = page.evaluate(REFLOW_BOXES)
            assert rows, f"{path}: no wrapping row"
            first, second = rows[0]
            if stacked:
                assert second["top"] >= first["bottom"] - 1 and first["right"] <= width, (width, first, second)
            else:
                assert second["left"] >= first["right"] - 1 and second["top"] < first["bottom"], (width, first,
                                                                                                   second)
        finally:
            page.close()


def _button(text: str):
    return lambda f: f["tag"] == "button" and f["text"] == text


def _skip_to_main(page) -> None:
    """The first Tab stop is the skip button; it moves the focus to the page's main landmark."""
    page.locator("body").first.evaluate("el => document.activeElement && document.activeElement.blur()")
    page.keyboard.press("Tab")
    skip = page.evaluate(DEEP_FOCUS)
    assert skip and skip["text"] == "Skip to the page content" and skip["visible"], skip
    page.keyboard.press("Enter")
    assert page.evaluate(DEEP_FOCUS)["role"] == "main"


def test_the_cell_page_works_from_the_keyboard_alone(server, open_page):
    page = open_page(server + "/cell?kind=lstm&T=8")
    wait_text(page, ".rnn-t", "t = 0")
    page.wait_for_timeout(1500)
    _skip_to_main(page)
    step = _tab_to(page, _button("Step ▶"))
    assert step["visible"], "the focused Step button shows no focus indicator"
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    box = page.locator(".rnn-step").first.bounding_box()  # with a margin: the ring is drawn outside the button
    page.screenshot(path=str(SCREENSHOTS / "focus-step-button.png"),
                    clip={"x": box["x"] - 10, "y": box["y"] - 10, "width": box["width"] + 20,
                          "height": box["height"] + 20})
    page.keyboard.press("Enter")
    wait_text(page, ".rnn-t", "t = 1")
    page.keyboard.press("Space")  # Space on a focused button presses it, as Enter does
    wait_text(page, ".rnn-t", "t = 2")
    page.keyboard.press("Shift+Tab")  # move off the button: the page's arrow keys step too
    page.locator("body").first.evaluate("el => document.activeElement.blur()")
    page.keyboard.press("ArrowRight")
    wait_text(page, ".rnn-t", "t = 3")
    gru = _tab_to(page, _button("GRU"), key="Shift+Tab")  # the cell buttons come before the player
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


def test_the_architectures_page_works_from_the_keyboard_alone(server, open_page):
    """Skip, choose an architecture and a cell, step and jump to the end, with the keyboard only."""
    page = open_page(server + "/architectures?arch=many_to_one&kind=lstm&trained=false")
    wait_text(page, ".rnn-s", "0")
    page.wait_for_timeout(1500)
    _skip_to_main(page)
    _tab_to(page, _button("One-to-many"))
    page.keyboard.press("Enter")
    wait_query(page, "arch", "one_to_many")
    _tab_to(page, _button("GRU"))
    page.keyboard.press("Space")
    wait_query(page, "kind", "gru")
    _tab_to(page, _button("Step ▶"))
    page.keyboard.press("Enter")
    wait_text(page, ".rnn-s", "1")
    page.locator("body").first.evaluate("el => document.activeElement.blur()")
    page.keyboard.press("End")
    page.wait_for_function("() => new URLSearchParams(location.search).get('s') > '1'", timeout=40000)


def test_the_bptt_page_works_from_the_keyboard_alone(server, open_page):
    """Skip, pick the animated cell, step the backward pass, move the weight scale, with the keyboard only."""
    page = open_page(server + "/bptt?anim_kind=lstm&scale=1")
    page.locator(".bptt-iteration").first.wait_for(timeout=30000)
    page.wait_for_timeout(1500)
    _skip_to_main(page)
    _tab_to(page, _button("GRU"))
    page.keyboard.press("Enter")
    wait_query(page, "anim_kind", "gru")
    _tab_to(page, _button("Step ▶"))
    page.keyboard.press("Enter")
    wait_text(page, ".bptt-t", "t = 7")
    handle = _tab_to(page, lambda f: "noUi-handle" in f["cls"] and "scale" in f["label"].lower())
    assert handle["visible"]
    page.keyboard.press("ArrowRight")
    page.wait_for_function("() => new URLSearchParams(location.search).get('scale') === '1.05'", timeout=40000)
    train = _tab_to(page, _button("▶ Train"))
    assert train["visible"]
