"""Heatmaps of named vectors over time (unit x time), with a cursor on the current step."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from bokeh.models import ColumnDataSource, CustomJSHover, FixedTicker, HoverTool
from bokeh.plotting import figure

from simulator.app.components import palette


class TimeHeatmap:
    """One vector's values over time as an image: x is ``t``, y is the unit ``j``; hover gives exact values."""

    def __init__(self, title: str = "", width: int = 420, height: int = 150, cursor: ColumnDataSource | None = None):
        self.figure = figure(width=width, height=height, title=title, tools="", toolbar_location=None,
                             x_axis_label="t", y_axis_label="unit", x_range=(-0.5, 0.5), y_range=(-0.5, 0.5))
        self.figure.min_border = 2
        self.figure.xaxis.ticker.min_interval = 1  # steps and units are whole numbers
        self.figure.yaxis.ticker.min_interval = 1
        self.figure.title.text_font_size = "12px"
        self.source = ColumnDataSource({"image": [np.zeros((1, 1))], "dw": [1], "dh": [1]})
        img = self.figure.image("image", x=-0.5, y=-0.5, dw="dw", dh="dh", source=self.source,
                                color_mapper=palette.color_mapper())
        self.figure.add_tools(HoverTool(renderers=[img], tooltips=[("t", "$x{0}"), ("unit", "$y{0}"),
                                                                   ("value", "@image{%.17g}")],
                                        formatters={"@image": "printf"}))
        # the cursor is a source that several heatmaps may share, so moving it is one update for all
        self.cursor = cursor if cursor is not None else ColumnDataSource({"left": [-0.5], "right": [0.5]},
                                                                         syncable=False)
        self.figure.quad(left="left", right="right", bottom=-1e6, top=1e6, source=self.cursor, fill_alpha=0,
                         line_color="black", line_width=2)

    def set_series(self, values: np.ndarray, title: str | None = None) -> None:
        """Show ``values (T, n)`` (from ``sequence.trace``); the image is its transpose ``(n, T)``."""
        T, n = values.shape
        self.source.data = {"image": [np.ascontiguousarray(values.T)], "dw": [T], "dh": [n]}  # (T, n) -> (n, T)
        self.figure.x_range.update(start=-0.5, end=T - 0.5)
        self.figure.y_range.update(start=-0.5, end=n - 0.5)
        if title is not None:
            self.figure.title.text = title

    def set_t(self, t: int) -> None:
        """Move the cursor to step ``t``."""
        self.cursor.data = {"left": [t - 0.5], "right": [t + 0.5]}


class HeatmapGrid:
    """Up to ``capacity`` named vectors over time in ONE figure: bands stacked on a shared ``t`` axis.

    Band ``k`` (top first) shows ``values_k (T, n)`` as the image ``values_k.T (n, T)`` with its bottom row at
    ``y0_k = (K - 1 - k) * (n + GAP)``, so unit ``j`` of band ``k`` is the row at ``y = y0_k + j``; the y axis names
    each band at its centre. One image renderer, one cursor and one hover serve every band (six separate
    figures cost about 45 Bokeh models each; this one costs about as much as one of them), and the cursor is a
    source the browser moves too.
    """

    GAP = 0.6  # blank rows between bands, as a fraction of a band's height

    def __init__(self, capacity: int = 6, width: int = 990, band_height: int = 52):
        self.capacity, self.band_height = capacity, band_height
        self.figure = figure(width=width, height=self._height(1), tools="", toolbar_location=None,
                             x_axis_label="t", x_range=(-0.5, 0.5), y_range=(-0.5, 0.5))
        fig = self.figure
        fig.min_border = 2
        fig.xaxis.ticker.min_interval = 1
        fig.ygrid.visible = False
        fig.yaxis.ticker = FixedTicker(ticks=[])
        fig.yaxis.major_label_text_font_size = "12px"
        self.source = ColumnDataSource({"image": [np.zeros((1, 1))], "x": [-0.5], "y": [-0.5], "dw": [1], "dh": [1],
                                        "name": [""]})
        img = fig.image("image", x="x", y="y", dw="dw", dh="dh", source=self.source,
                        color_mapper=palette.color_mapper())
        # the row and column under the pointer within its band: BokehJS's image_index (i: column t, j: row unit)
        unit = CustomJSHover(code="const k = special_vars.image_index; return k == null ? '' : String(k.j);")
        fig.add_tools(HoverTool(renderers=[img], tooltips=[("", "@name"), ("t", "$x{0}"), ("unit", "$y{unit}"),
                                                           ("value", "@image{%.17g}")],
                                formatters={"@image": "printf", "$y": unit}))
        self.cursor = ColumnDataSource({"left": [-0.5], "right": [0.5]}, syncable=False)  # moved by the browser too
        fig.quad(left="left", right="right", bottom=-1e6, top=1e6, source=self.cursor, fill_alpha=0,
                 line_color="black", line_width=2)
        self.names: list[str] = []

    def _height(self, bands: int) -> int:
        return 40 + bands * self.band_height

    @property
    def figures(self) -> list:
        return [self.figure]

    def set_series(self, series: Mapping[str, np.ndarray], titles: Mapping[str, str]) -> None:
        """Show each named ``(T, n)`` array as one band, in order (at most ``capacity``)."""
        names = list(series)[: self.capacity]
        K = len(names)
        T = max(series[n].shape[0] for n in names)
        step = max(series[n].shape[1] for n in names) * (1 + self.GAP)
        y0 = [(K - 1 - k) * step for k in range(K)]
        self.source.data = {
            "image": [np.ascontiguousarray(series[n].T) for n in names],  # (T, n) -> (n, T)
            "x": [-0.5] * K, "y": [y - 0.5 for y in y0], "dw": [series[n].shape[0] for n in names],
            "dh": [series[n].shape[1] for n in names], "name": [titles.get(n, n) for n in names]}
        # NB: the ticker's ticks change in place: a new ticker model would make Bokeh walk the whole document
        self.figure.yaxis.ticker.ticks = [y + (series[n].shape[1] - 1) / 2 for y, n in zip(y0, names, strict=True)]
        self.figure.yaxis.major_label_overrides = {y + (series[n].shape[1] - 1) / 2: titles.get(n, n)
                                                   for y, n in zip(y0, names, strict=True)}
        self.figure.x_range.update(start=-0.5, end=T - 0.5)
        self.figure.y_range.update(start=-0.5 - 0.1 * step, end=y0[0] + step)
        self.figure.height = self._height(K)
        self.names = names

    def band(self, name: str) -> np.ndarray:
        """The image ``(n, T)`` shown for ``name`` (KeyError if it is not shown)."""
        return self.source.data["image"][self.names.index(name)]

    def set_t(self, t: int) -> None:
        """Move the cursor (one box across every band) to step ``t``."""
        self.cursor.data = {"left": [t - 0.5], "right": [t + 0.5]}
