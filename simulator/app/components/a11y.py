"""Accessibility fixes every page needs, applied in the browser: names, contrast, focus, landmarks, headings,
title, reduced motion; and the WCAG contrast formula the tests use.

Bokeh renders each view in its own shadow root, so a page cannot style or annotate its controls with one
stylesheet. ``AccessibilityFixes`` is one script, mounted once per page by ``layout.framed``, that walks the
page (shadow roots included) and enforces these principles wherever the page's views put their elements:

- every control has the name its visible label gives it (a slider's handle, a number field's spinner arrows,
  a checkbox whose text sits outside its label); it does not invent names for controls without visible text;
- every enabled button's text reaches 4.5:1 on its background: below that the background is darkened (light
  text) or lightened (dark text) in its own hue until it does (Bokeh's defaults: white on #428bca is 3.6:1, on
  #5cb85c 2.5:1, on #f0ad4e 1.9:1); inline ``code`` is dark blue, not Panel's dark-theme #82aaff (2.3:1);
- every target is at least 24 px: the spinner arrows of a number field (15 px high) are not drawn; the field
  still takes typed values and the arrow keys;
- every focusable element shows a 3 px focus ring when the keyboard moves to it (``FOCUS_CSS``, adopted by
  every shadow root: Bokeh's own indicator is a thin dotted line or nothing);
- with ``prefers-reduced-motion: reduce`` no CSS animation or transition runs (the player's Play is paced by
  ``client_player`` itself);
- the page body (the frame's view after the navigation bar) is the ``main`` landmark and the skip link's
  target, focusable only while the skip puts the focus there (a shadow host with ``tabindex="-1"`` would take
  every control inside it out of the Tab order); the browser tab has the page's own title (``page_title``);
- heading levels follow the outline: the first visible heading is level 1 and no heading is more than one
  level below the one before it (``aria-level`` on the heading; its look is unchanged); a page without any
  heading gets its title as a level-one heading that only assistive technology sees.

Not covered: text on transparent buttons and on other elements (colours a page sets itself: the tests check
them with ``contrast``, and axe in the browser), the canvas drawings themselves (a screen reader cannot read a
canvas; the Cell page adds a "numbers as text" table for that), and
a heading whose wrong level is right for its look (the outline is repaired for assistive technology only:
pages should still use the right tags).
"""

from __future__ import annotations

import json

import param
from panel.custom import JSComponent

from simulator.app.components.reflow import NARROW

TEXT_CONTRAST = 4.5  # WCAG 1.4.3 AA for normal text; the script aims a little above it (rounding)
CODE_COLOR = "#24529b"  # inline code: 7.5:1 on white
FOCUS_COLOR = "#1a5fb4"  # 6.4:1 on white (WCAG 2.4.11/1.4.11 ask 3:1 for a focus indicator)
# WCAG 2.5.8 (24 x 24 px targets). A slider's handle: 24 x 24 (Bokeh draws it 14 x 18), centred on its 8 px
# track (the handle's box sits on the track's inner edge: top -8 = 4 - 12); its grip lines stay in its middle.
# ``.noUi-handle`` alone (not ``.noUi-horizontal .noUi-handle``): a page's own handle rule (the Cell page's
# ``client_player.HANDLE_24PX``) outranks this one. A checkbox (Bokeh's: an input and a text ``div`` that did not
# take clicks): 18 px, and its whole view, text included, one target at least 24 px high (the script passes a click
# on it to the box). A file field: 24 px high (Chromium draws it 21). At either end of its track a handle passes
# the track by half its width: on a narrow window, where a slider may start a line at the window's edge, the slider
# keeps that room inside itself (the handle at t = 0 was 1 px outside a 390 px window).
TARGET_SIZE = 24
TARGET_CSS = f"""
.noUi-handle {{ width: {TARGET_SIZE}px !important; height: {TARGET_SIZE}px !important;
  right: -{TARGET_SIZE // 2}px !important; top: -{TARGET_SIZE // 2 - 4}px !important; border-radius: 4px !important; }}
.noUi-handle::before {{ left: 9px !important; top: 6px !important; height: 10px !important; }}
.noUi-handle::after {{ left: 13px !important; top: 6px !important; height: 10px !important; }}
:host(.bk-Checkbox) {{ min-height: {TARGET_SIZE}px !important; display: flex !important; align-items: center;
  cursor: pointer; }}
input[type=checkbox] {{ width: 18px !important; height: 18px !important; margin: 0 6px 0 0 !important; flex: none; }}
input[type=file] {{ min-height: {TARGET_SIZE}px !important; }}
@media (max-width: {NARROW}px) {{ :host(.bk-Slider) {{ padding: 0 {TARGET_SIZE // 2}px !important; }} }}
"""
FOCUS_CSS = f"""
:focus-visible {{ outline: 3px solid {FOCUS_COLOR} !important; outline-offset: 2px !important; }}
.noUi-handle:focus-visible {{ box-shadow: 0 0 0 3px {FOCUS_COLOR} !important; }}
[role="main"]:focus {{ outline: none !important; }}
:not(pre) > code {{ color: {CODE_COLOR} !important; }}
.bk-spin-btn {{ display: none !important; }}
{TARGET_CSS}@media (prefers-reduced-motion: reduce) {{
  *, *::before, *::after {{ animation-duration: 0s !important; animation-iteration-count: 1 !important;
    transition-duration: 0s !important; transition-delay: 0s !important; scroll-behavior: auto !important; }}
}}
"""


def _luminance(color: str) -> float:
    h = color.lstrip("#")
    channels = [int(h[i : i + 2], 16) / 255 for i in (0, 2, 4)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(foreground: str, background: str = "#ffffff") -> float:
    """WCAG 2 contrast ratio of two ``#rrggbb`` colours: ``(L1 + 0.05) / (L2 + 0.05)`` with ``L1 >= L2``."""
    a, b = sorted((_luminance(foreground), _luminance(background)), reverse=True)
    return (a + 0.05) / (b + 0.05)


class AccessibilityFixes(JSComponent):
    """Applies the module's principles to the page, again whenever the page changes."""

    page_title = param.String(default="RNN simulator", doc="The browser tab's title for this page.")

    _esm = """
    const TARGET = %CONTRAST% + 0.1;
    const channels = (css) => (css.match(/[\\d.]+/g) || []).map(Number);
    const luminance = ([r, g, b]) => {
      const lin = (c) => { c /= 255; return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4; };
      return 0.2126 * lin(r) + 0.7152 * lin(g) + 0.0722 * lin(b);
    };
    const ratio = (a, b) => {
      const [hi, lo] = [luminance(a), luminance(b)].sort((x, y) => y - x);
      return (hi + 0.05) / (lo + 0.05);
    };
    // a button's own colours (any earlier repair undone first: its state, e.g. active, may have changed them)
    const readable = (b) => {
      if (b.dataset.rnnRepaired) { b.style.backgroundColor = b.style.borderColor = ""; delete b.dataset.rnnRepaired; }
      if (b.disabled) return;  // WCAG exempts inactive controls
      const style = getComputedStyle(b), fg = channels(style.color), bg = channels(style.backgroundColor);
      if (fg.length < 3 || bg.length < 3 || (bg.length > 3 && bg[3] < 1)) return;  // transparent: not covered
      if (ratio(fg, bg) >= %CONTRAST%) return;
      const darker = luminance(fg) > luminance(bg);
      let c = bg.slice(0, 3);
      const step = (v) => (darker ? v * 0.95 : 255 - (255 - v) * 0.95);
      for (let k = 0; k < 60 && ratio(fg, c) < TARGET; k++) c = c.map(step);
      b.style.backgroundColor = b.style.borderColor = `rgb(${c.map(Math.round).join(", ")})`;
      b.dataset.rnnRepaired = "1";
    };
    const sheet = new CSSStyleSheet();
    sheet.replaceSync(%CSS%);
    const roots = (root, out) => {
      out.push(root);
      for (const el of root.querySelectorAll("*")) if (el.shadowRoot) roots(el.shadowRoot, out);
      return out;
    };
    // the elements of the flattened tree in document order (a view's shadow root before its light children)
    const walk = (node, out) => {
      for (const el of node.children) {
        out.push(el);
        if (el.shadowRoot) walk(el.shadowRoot, out);
        walk(el, out);
      }
      return out;
    };
    const shown = (el) => (el.checkVisibility ? el.checkVisibility() : el.getClientRects().length > 0);
    const text = (el) => (el ? el.textContent.replace(/\\s+/g, " ").trim() : "");
    const mainOf = () => {
      for (const frame of document.querySelectorAll(".rnn-frame")) {
        const nav = frame.shadowRoot && frame.shadowRoot.querySelector(".rnn-nav-pane");
        let main = nav && nav.nextElementSibling;
        while (main && main.tagName === "STYLE") main = main.nextElementSibling;
        if (main) return main;
      }
      return null;
    };
    const landmarks = () => {
      const main = mainOf();
      if (main && main.getAttribute("role") !== "main") {
        // No tabindex here: main is a shadow host, and a host with tabindex="-1" takes its whole shadow tree
        // out of the Tab order (Tab from the navigation bar skipped every control of the page).
        main.setAttribute("role", "main");
        main.id = "rnn-main";
      }
      return main;
    };
    const SR_ONLY = "position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap";
    const outline = (main, title) => {
      let headings = walk(document.body, []).filter((el) => /^H[1-6]$/.test(el.tagName) && shown(el));
      if (!headings.length && main && main.shadowRoot) {  // a page without a heading: its title is one
        const h1 = document.createElement("h1");
        h1.className = "rnn-sr-title";
        h1.setAttribute("style", SR_ONLY);
        h1.textContent = title.replace(/ - RNN simulator$/, "");
        main.shadowRoot.prepend(h1);
        headings = [h1];
      } else if (headings.length > 1) {
        for (const extra of headings.filter((h) => h.classList.contains("rnn-sr-title"))) extra.remove();
        headings = headings.filter((h) => h.isConnected);
      }
      let previous = 0;
      for (const h of headings) {
        const own = Number(h.dataset.rnnLevel || h.tagName[1]);
        h.dataset.rnnLevel = String(own);
        const level = previous === 0 ? 1 : Math.min(own, previous + 1);
        if (level !== own) {
          h.setAttribute("role", "heading");
          h.setAttribute("aria-level", String(level));
        } else if (h.hasAttribute("aria-level")) {
          h.removeAttribute("role");
          h.removeAttribute("aria-level");
        }
        previous = level;
      }
    };
    const fix = (model) => {
      if (document.title !== model.page_title) document.title = model.page_title;
      const main = landmarks();
      for (const root of roots(document, [])) {
        if (!root.adoptedStyleSheets.includes(sheet)) root.adoptedStyleSheets = [...root.adoptedStyleSheets, sheet];
        for (const link of root.querySelectorAll(".rnn-skip:not([data-rnn-bound])")) {
          link.dataset.rnnBound = "1";
          link.addEventListener("click", (e) => {
            const target = landmarks();
            if (!target) return;
            e.preventDefault();
            target.setAttribute("tabindex", "-1");  // focusable only while the skip has put the focus there
            target.addEventListener("blur", () => target.removeAttribute("tabindex"), {once: true});
            target.focus();
            target.scrollIntoView();
          });
        }
        for (const handle of root.querySelectorAll(".noUi-handle:not([aria-label])")) {
          const title = text(root.querySelector(".bk-slider-title")).split(":")[0] || "slider";
          handle.setAttribute("aria-label", title);
        }
        const field = text(root.querySelector("label")) || "value";
        for (const [cls, verb] of [["up", "Increase"], ["down", "Decrease"]]) {
          for (const b of root.querySelectorAll(`.bk-spin-btn-${cls}:not([aria-label])`)) {
            b.setAttribute("aria-label", `${verb} ${field}`);
          }
        }
        for (const box of root.querySelectorAll("input[type=checkbox]:not([aria-label])")) {
          const name = text(box.closest("label")) || text(root.querySelector(".bk-label")) || text(box.parentElement);
          if (name) box.setAttribute("aria-label", name);
        }
        for (const b of root.querySelectorAll(".bk-btn")) readable(b);
        // a click on a checkbox's text (or anywhere in its view) ticks the box, as a <label> would
        const host = root.host;
        const box = host && host.classList.contains("bk-Checkbox")
          && [...root.children].find((c) => c.matches("input[type=checkbox]"));
        if (box && !host.dataset.rnnLabelled) {
          host.dataset.rnnLabelled = "1";
          host.addEventListener("click", (e) => { if (e.composedPath()[0] !== box && !box.disabled) box.click(); });
        }
      }
      outline(main, model.page_title);
      return main;
    };
    export function render({ model }) {
      fix(model);
      const timer = setInterval(() => fix(model), 700);  // Bokeh re-renders views (and shadow roots) as pages change
      model.on("remove", () => clearInterval(timer));
      const el = document.createElement("span");
      el.setAttribute("aria-hidden", "true");
      return el;
    }
    """.replace("%CONTRAST%", repr(TEXT_CONTRAST)).replace("%CSS%", json.dumps(FOCUS_CSS))

    def __init__(self, **params):
        super().__init__(height=0, width=0, margin=0, **params)
