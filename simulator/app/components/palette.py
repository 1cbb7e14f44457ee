"""One colour scale for every value the app draws: blue for -1, white for 0, red for +1 (clipped beyond), and
the text colour that keeps each cell's number readable on its own colour.

The scale has ``N = len(PALETTE)`` equal bins on ``[LOW, HIGH]``, as Bokeh's ``LinearColorMapper`` draws it:
a value ``v`` takes colour ``k = clip(floor((v - LOW) / (HIGH - LOW) * N), 0, N - 1)``. Its number is written
in ``TEXT_ON[k]``, whichever of black and white contrasts more with bin ``k``'s colour (WCAG ratio at least
4.5:1 on every bin of RdBu11, checked by the tests), so the text colour follows the colour actually drawn, not
a threshold of its own. The number is always written: colour is never the only carrier of a value.

Not covered: a value exactly on a bin edge may be drawn by the browser in the neighbouring bin (floating-point
rounding of the edge), and NaN cells, written black on the scale's middle colour.
"""

from __future__ import annotations

import numpy as np
from bokeh.models import LinearColorMapper
from bokeh.palettes import RdBu11

from simulator.app.components.a11y import contrast

PALETTE = tuple(RdBu11)  # Bokeh lists RdBu from blue to red: negative blue, positive red
LOW, HIGH = -1.0, 1.0
TEXT_ON = tuple("black" if contrast("#000000", c) >= contrast("#ffffff", c) else "white" for c in PALETTE)


def color_mapper() -> LinearColorMapper:
    """A mapper from values to ``PALETTE`` on ``[-1, 1]``; values outside take the end colours."""
    return LinearColorMapper(palette=list(PALETTE), low=LOW, high=HIGH)


def bins(values: np.ndarray) -> np.ndarray:
    """The palette index ``k`` each value is drawn with (NaN: the middle bin)."""
    v = np.nan_to_num(np.asarray(values, dtype=float), nan=(LOW + HIGH) / 2)
    n = len(PALETTE)
    return np.clip(np.floor((v - LOW) / (HIGH - LOW) * n), 0, n - 1).astype(int)


def text_colors(values: np.ndarray) -> list[str]:
    """The readable text colour on each value's cell: ``TEXT_ON[bins(values)]``."""
    return [TEXT_ON[k] for k in bins(values).ravel().tolist()]


def labels(values: np.ndarray, digits: int = 2) -> list[str]:
    """Rounded numbers as drawn in the cells (hover shows the exact value)."""
    return [f"{v:.{digits}f}" for v in values.tolist()]


def exact(values: np.ndarray) -> list[str]:
    """The shortest text that reads back to the same float64 (what hover shows)."""
    return [repr(v) for v in values.tolist()]
