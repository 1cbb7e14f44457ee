"""Heatmaps of named vectors over time (unit x time), with a cursor on the current step."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from bokeh.models import ColumnDataSource, HoverTool
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
    """Up to ``capacity`` heatmaps reused across kinds (hidden when unused, never rebuilt)."""

    def __init__(self, capacity: int = 6, width: int = 420, height: int = 150):
        self.cursor = ColumnDataSource({"left": [-0.5], "right": [0.5]}, syncable=False)  # moved by the browser too
        self.maps = [TimeHeatmap(width=width, height=height, cursor=self.cursor) for _ in range(capacity)]

    @property
    def figures(self) -> list:
        return [m.figure for m in self.maps]

    def set_series(self, series: Mapping[str, np.ndarray], titles: Mapping[str, str]) -> None:
        """Show each named ``(T, n)`` array in order; hide the heatmaps left over."""
        names = list(series)[: len(self.maps)]
        for m, name in zip(self.maps, names, strict=False):
            m.set_series(series[name], titles.get(name, name))
            m.figure.visible = True
        for m in self.maps[len(names):]:
            m.figure.visible = False

    def set_t(self, t: int) -> None:
        """Move every heatmap's cursor to step ``t`` (one shared source)."""
        self.maps[0].set_t(t)
