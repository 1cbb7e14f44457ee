"""One colour scale for every value the app draws: blue for -1, white for 0, red for +1 (clipped beyond)."""

from __future__ import annotations

import numpy as np
from bokeh.models import LinearColorMapper
from bokeh.palettes import RdBu11

PALETTE = tuple(RdBu11)  # Bokeh lists RdBu from blue to red: negative blue, positive red
LOW, HIGH = -1.0, 1.0


def color_mapper() -> LinearColorMapper:
    """A mapper from values to ``PALETTE`` on ``[-1, 1]``; values outside take the end colours."""
    return LinearColorMapper(palette=list(PALETTE), low=LOW, high=HIGH)


def text_colors(values: np.ndarray) -> list[str]:
    """Black numbers on light cells, white on the dark ends of the scale."""
    return np.where(np.abs(values) > 0.62, "white", "black").tolist()


def labels(values: np.ndarray, digits: int = 2) -> list[str]:
    """Rounded numbers as drawn in the cells (hover shows the exact value)."""
    return [f"{v:.{digits}f}" for v in values.tolist()]


def exact(values: np.ndarray) -> list[str]:
    """The shortest text that reads back to the same float64 (what hover shows)."""
    return [repr(v) for v in values.tolist()]
