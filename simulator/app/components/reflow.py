"""A page's controls beside its drawings on a wide window, above them on a narrow one (a phone, 200 % zoom).

``beside(controls, body)`` and ``wrapping(*objects)`` are ``pn.Row``s whose children wrap onto more lines below
``NARROW`` CSS pixels of window width (a media query in the row's own shadow root): at 390 px, or 1400 px
zoomed to 200 %, the Cell and Applications pages' controls no longer sit in a 300 px column beside a 1000 px
drawing (the Cell page was three screen widths wide on a phone), and the Cell page's diagram and trajectory
wrap.

Not covered: the drawings themselves keep their width in pixels (a canvas does not reflow), so below their
width they still scroll sideways (WCAG 1.4.10 allows this for content that needs two dimensions); only the
page around them reflows. The CRNN, Architectures and BPTT pages and the player's row are not reflowed: in a
body without a width of its own (the CRNN page's) wrapped items let the body shrink, squeezing its plots.
"""

from __future__ import annotations

import panel as pn

NARROW = 900  # CSS px of window width below which the controls go above the drawings
# flex-wrap, not a column: Bokeh lays a row's children out as a row (a column drew the CRNN page's plots over
# each other). So a child must have a width of its own to wrap: one without (the CRNN page's body) shrinks to
# the space left beside the controls instead, and that page is not reflowed.
WRAP_CSS = f"@media (max-width: {NARROW}px) {{ :host {{ flex-wrap: wrap !important; }} }}"


def wrapping(*objects, **kwargs) -> pn.Row:
    """``pn.Row(*objects)`` of fixed-width items that wrap onto more lines on a window narrower than ``NARROW``."""
    return pn.Row(*objects, stylesheets=[WRAP_CSS], css_classes=["rnn-wrap"], **kwargs)


def beside(controls, body, **kwargs) -> pn.Row:
    """``pn.Row(controls, body)`` that puts ``body`` under ``controls`` on a window narrower than ``NARROW``."""
    return pn.Row(controls, body, stylesheets=[WRAP_CSS], css_classes=["rnn-reflow"], **kwargs)
