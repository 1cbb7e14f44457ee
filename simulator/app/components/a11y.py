"""Accessibility fixes every page needs: names for Bokeh's unnamed controls, button colours at 4.5:1, and a
WCAG contrast check used by the tests.

Bokeh renders some controls without an accessible name (a slider's handle, the spinner arrows of a number
field, a checkbox whose text sits outside its label) and colours its primary and success buttons below
4.5:1 (white on #428bca is 3.6:1, on #5cb85c 2.5:1). ``AccessibilityFixes`` is one script, mounted once per
page by ``layout.framed``, that walks the page (shadow roots included) and repairs those classes of defect
wherever they appear: it names what is unnamed from the control's own visible label and darkens exactly the
two default button colours. The principle is "every control has the name its visible label gives it";
it does not invent names for controls without any visible text.

Not covered: the canvas drawings themselves (a screen reader cannot read a canvas; the Cell page adds a
"numbers as text" table for that), and colours a page sets itself (checked by the tests with ``contrast``).
"""

from __future__ import annotations

from panel.custom import JSComponent

# Bokeh's default button backgrounds (as computed styles) -> darker shades with white text at >= 4.5:1
BUTTON_COLORS = {"rgb(66, 139, 202)": "#2f6fa7", "rgb(92, 184, 92)": "#2b7a2b"}


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
    """Repairs the page's unnamed controls and low-contrast default buttons, again whenever the page changes."""

    _esm = """
    const COLORS = %COLORS%;
    const roots = (root, out) => {
      out.push(root);
      for (const el of root.querySelectorAll("*")) if (el.shadowRoot) roots(el.shadowRoot, out);
      return out;
    };
    const text = (el) => (el ? el.textContent.replace(/\\s+/g, " ").trim() : "");
    const fix = () => {
      for (const root of roots(document, [])) {
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
        for (const b of root.querySelectorAll(".bk-btn-primary, .bk-btn-success")) {
          const style = getComputedStyle(b), white = style.color === "rgb(255, 255, 255)";
          if (b.dataset.rnnDarkened && !white) {  // an outline button that is no longer active: its own colours
            b.style.backgroundColor = b.style.borderColor = ""; delete b.dataset.rnnDarkened;
          } else if (!b.dataset.rnnDarkened && white && COLORS[style.backgroundColor]) {  // white text only
            b.style.backgroundColor = b.style.borderColor = COLORS[style.backgroundColor];
            b.dataset.rnnDarkened = "1";
          }
        }
      }
    };
    export function render({ model }) {
      fix();
      const timer = setInterval(fix, 700);  // Bokeh re-renders views (and their shadow roots) as the page changes
      model.on("remove", () => clearInterval(timer));
      const el = document.createElement("span");
      el.setAttribute("aria-hidden", "true");
      return el;
    }
    """.replace("%COLORS%", str(BUTTON_COLORS).replace("'", '"'))

    def __init__(self, **params):
        super().__init__(height=0, width=0, margin=0, **params)
