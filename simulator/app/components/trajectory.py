"""The hidden-state trajectory: ``h_t`` over time projected on its two principal axes, current step marked."""

from __future__ import annotations

import numpy as np
from bokeh.models import ColumnDataSource, HoverTool, LinearColorMapper
from bokeh.palettes import Viridis256
from bokeh.plotting import figure


def principal_plane(h: np.ndarray) -> np.ndarray:
    """Coordinates ``(T, 2)`` of the rows of ``h (T, H)`` on their two principal axes (PCA, centred).

    With ``H == 1`` the second coordinate is 0. The projection is only a view: the hover shows ``h_t``.
    """
    centred = h - h.mean(axis=0)
    if h.shape[1] == 1 or not np.any(centred):
        return np.column_stack([centred[:, 0], np.zeros(len(h))])
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    out = centred @ vt[:2].T  # (T, H) @ (H, 2) -> (T, 2)
    return out if out.shape[1] == 2 else np.column_stack([out[:, 0], np.zeros(len(h))])


def _vector_text(row: list[float]) -> str:
    """``[0.176, -0.085, 1.127]``: a hidden state for the hover, 3 decimals.

    ``np.array2string`` did the same in 1.6 ms of each setting change (T = 20); this takes 0.05 ms.
    """
    return "[" + ", ".join(f"{v:.3f}" for v in row) + "]"


class Trajectory:
    """A line through ``h_0 .. h_{T-1}`` in the principal plane, dots coloured by ``t``, a ring at the step."""

    def __init__(self, width: int = 360, height: int = 320, title: str = "Hidden-state trajectory (PCA of hₜ)"):
        self.figure = figure(width=width, height=height, title=title, tools="", toolbar_location=None,
                             x_axis_label="PC 1", y_axis_label="PC 2")
        self.figure.title.text_font_size = "12px"
        self.path = ColumnDataSource({"x": [], "y": [], "t": [], "h": []})
        self.figure.line("x", "y", source=self.path, line_color="#999", line_width=1.5)
        mapper = LinearColorMapper(palette=Viridis256, low=0, high=1)
        dots = self.figure.scatter("x", "y", source=self.path, size=7, line_color=None,
                                   fill_color={"field": "t", "transform": mapper})
        self._mapper = mapper
        self.figure.add_tools(HoverTool(renderers=[dots], tooltips=[("t", "@t"), ("h", "@h")]))
        self.marker = ColumnDataSource({"x": [0.0], "y": [0.0]}, syncable=False)  # moved by the browser too
        self.figure.scatter("x", "y", source=self.marker, size=16, fill_alpha=0, line_color="#d35400",
                            line_width=3)
        self._xy = np.zeros((1, 2))

    def set_states(self, h: np.ndarray) -> None:
        """Draw the trajectory of ``h (T, H)`` (the reference's hidden states)."""
        self._xy = principal_plane(h)
        T = len(h)
        self._mapper.high = max(T - 1, 1)
        self.path.data = {"x": self._xy[:, 0].tolist(), "y": self._xy[:, 1].tolist(), "t": list(range(T)),
                          "h": [_vector_text(row) for row in h.tolist()]}

    def points(self) -> list[list[float]]:
        """The ring's position at every step, ``(T, 2)`` as lists (for steps drawn in the browser)."""
        return [[float(x), float(y)] for x, y in self._xy]

    def set_t(self, t: int) -> None:
        """Move the ring to step ``t``."""
        self.marker.data = {"x": [float(self._xy[t, 0])], "y": [float(self._xy[t, 1])]}
