"""A page's controls beside its drawings on a wide window, above them on a narrow one (a phone, 200 % zoom).

Below ``NARROW`` CSS pixels of window width (media queries in each layout's own shadow root, so a wide window
keeps its layout exactly):

- ``beside(controls, body)`` and ``wrapping(*objects)`` are ``pn.Row``s whose children wrap onto more lines; a
  child that stretches (a body holding a stretch-width text) takes a line of its own instead of shrinking into
  the space left beside the others (the CRNN page's body was squeezed to 90 px beside its controls at 390 px).
  ``wraps(row)`` does the same to a row built elsewhere (the player's).
- ``scrolling(drawing)`` is a box that scrolls sideways inside the page when the drawing is wider than the
  window; the drawing keeps its size (an unrolled network or a grid of numbered cells would overlap if squeezed).
- ``shrinking(drawing)`` is a box in which the drawing shrinks to the window (Bokeh redraws it narrower: plots
  and image tiles read well that way). Both boxes matter in a stretching layout (a page, a card): Panel gives
  such a layout the widest fixed width among its children as a minimum width, up to the page's frame, so one
  900 px drawing held the whole page 900 px wide; a box has no width of its own to pass up.
- ``narrowing(pane)`` lets a text of a fixed width (an HTML pane, a Bokeh ``Div``) narrow to the window, its
  lines wrapping (Panel fixes an HTML pane's inner width too, so it would not shrink by itself).
  ``narrowing(pane, scroll=True)`` also scrolls, inside the pane, what cannot wrap: a table of many columns, a
  display equation (KaTeX's aligned rows are one block), started at the pane's left edge (a centred block wider
  than its box would be cut on the left, out of reach of the scrollbar).
- ``wrapped_buttons(group)`` lets a button group's buttons wrap onto more lines (five architectures' names do not
  fit on one line of a phone).

At 390 px the Applications, Cell, CRNN, Architectures and BPTT pages do not scroll sideways as a whole.

Not covered: a scrolling box cannot be scrolled with the keyboard where a player's shortcuts take the arrow keys
(touch, wheel and scrollbar work), and it does not follow the current step. A ``narrowing(scroll=True)`` pane is
made a Tab stop (and takes ← →) only on a page with a ``ClientPlayer`` (the Cell page), whose key handler does it;
elsewhere only Chromium's own focusable scrollers reach it. The Cell page's compare card (``cell/mine.py``) does
not wrap yet (1140 px open at 390).
"""

from __future__ import annotations

import json

import panel as pn

NARROW = 900  # CSS px of window width below which the controls go above the drawings


def _narrow(rules: str) -> str:
    """``rules`` applied only on a window narrower than ``NARROW``."""
    return f"@media (max-width: {NARROW}px) {{ {rules} }}"


# flex-wrap, not a column: Bokeh lays a row's children out as a row (a column drew the CRNN page's plots over each
# other: a stretching child's flex basis is 0, its height in a column). A stretching child's basis 0 would also
# keep it on the first line, squeezed beside the others; basis auto puts it on a line of its own, at most as wide
# as the row (``max-width: 100%``, Bokeh's own rule). A fixed-width child's basis is its width either way.
# A child wider than the row (a 480 px text on a 390 px phone) may shrink, its margins included (``max-width: 100%``
# alone left it a margin too wide); children that fit are not shrunk, they wrap.
WRAP_CSS = _narrow(":host { flex-wrap: wrap !important; } "
                   ":host > * { flex-basis: auto !important; flex-shrink: 1 !important; }")
# the box scrolls, its drawing keeps its width (Bokeh's ``max-width: 100%`` would squeeze it to the box)
SCROLL_CSS = _narrow(":host { max-width: 100% !important; overflow-x: auto !important; } "
                     ":host > * { max-width: none !important; flex-shrink: 0 !important; }")
# at most the width Panel gives a stretching pane (its margins are at most 10 px a side)
TEXT_CSS = _narrow(":host { min-width: 0 !important; max-width: calc(100% - 20px) !important; } "
                   ":host > div { width: 100% !important; min-width: 0 !important; }")
# the same, and what cannot wrap scrolls inside the pane from its left edge (``safe``-less centring would cut it)
TEXT_SCROLL_CSS = _narrow(":host { overflow-x: auto !important; } "
                          ".katex-display, .katex-display > .katex, caption { text-align: left !important; } "
                          "math[display=block] { margin-left: 0 !important; margin-right: auto !important; }")
BUTTONS_CSS = _narrow(".bk-btn-group { flex-wrap: wrap; } .bk-btn-group > .bk-btn { flex: 0 0 auto; }")


def wrapping(*objects, **kwargs) -> pn.Row:
    """``pn.Row(*objects)`` whose items wrap onto more lines on a window narrower than ``NARROW``."""
    return pn.Row(*objects, stylesheets=[WRAP_CSS], css_classes=["rnn-wrap"], **kwargs)


def beside(controls, body, **kwargs) -> pn.Row:
    """``pn.Row(controls, body)`` that puts ``body`` under ``controls`` on a window narrower than ``NARROW``."""
    return pn.Row(controls, body, stylesheets=[WRAP_CSS], css_classes=["rnn-reflow"], **kwargs)


def wraps(row: pn.Row) -> pn.Row:
    """``row`` itself, its items now wrapping onto more lines on a window narrower than ``NARROW``."""
    row.stylesheets = [*row.stylesheets, WRAP_CSS]
    row.css_classes = [*row.css_classes, "rnn-wrap"]
    return row


def scrolling(drawing, **kwargs) -> pn.Column:
    """``drawing`` (a Bokeh figure or pane) in a box that scrolls sideways on a window narrower than ``NARROW``."""
    return pn.Column(pn.panel(drawing), stylesheets=[SCROLL_CSS], css_classes=["rnn-scroll"], **kwargs)


def shrinking(drawing, **kwargs) -> pn.Column:
    """``drawing`` (a Bokeh figure or pane) in a box it shrinks to fit (it keeps its width when there is room)."""
    return pn.Column(pn.panel(drawing), css_classes=["rnn-shrink"], **kwargs)


def narrowing(pane, scroll: bool = False, label: str = ""):
    """``pane`` (a fixed-width HTML pane, Bokeh ``Div`` or KaTeX model) itself, narrowing to a window narrower than
    ``NARROW``; with ``scroll`` what is still wider than the pane (a table, an equation) scrolls inside it.

    While it scrolls, the page's script (``client_player.BrowserKeys``) makes such a pane a Tab stop, a region
    named ``label`` (read from the CSS variable ``--rnn-scroll-label``), whose ← → scroll it.
    """
    if not scroll and label:
        raise ValueError(f"narrowing: label={label!r} names a scrolling region; expected scroll=True with it")
    extra = [TEXT_SCROLL_CSS, f":host {{ --rnn-scroll-label: {json.dumps(label)}; }}"] if scroll else []
    pane.stylesheets = [*pane.stylesheets, TEXT_CSS, *extra]
    if scroll:
        pane.css_classes = [*pane.css_classes, "rnn-scroll-text"]
    return pane


def wrapped_buttons(group):
    """``group`` (a button group widget) itself, its buttons wrapping on a window narrower than ``NARROW``."""
    group.stylesheets = [*group.stylesheets, BUTTONS_CSS]
    return group
