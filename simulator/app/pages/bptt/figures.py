"""Bokeh drawings of the BPTT lab: numbered value grids, log-scale norm heatmaps and growing curves.

Each class owns one figure and its ``ColumnDataSource``; ``set_*`` methods replace the data (the values
come from the reference records of ``simulator.lessons.bptt_lab``; nothing here computes a gradient).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from bokeh.models import (
    ColorBar,
    ColumnDataSource,
    HoverTool,
    Legend,
    LinearColorMapper,
    NumeralTickFormatter,
    Range1d,
    Span,
)
from bokeh.palettes import Category10, Viridis256
from bokeh.plotting import figure

from simulator.app.components import palette
from simulator.app.components.log_axis import set_log_ticks

KIND_COLORS = {"rnn": Category10[10][3], "lstm": Category10[10][0], "gru": Category10[10][2]}
NAMES = {"rnn": "RNN", "lstm": "LSTM", "gru": "GRU"}


def _fig(title: str, width: int, height: int, **kwargs):
    f = figure(title=title, width=width, height=height, tools="", toolbar_location=None, **kwargs)
    f.title.text_font_size = "12px"
    f.min_border = 4
    return f


def log10_norms(values: np.ndarray) -> np.ndarray:
    """``log10`` of non-negative norms, with exact zeros shown as the floor ``-300`` (no ``-inf`` in JSON)."""
    v = np.asarray(values, dtype=float)
    with np.errstate(divide="ignore"):
        return np.where(v > 0, np.log10(np.maximum(v, 1e-300)), -300.0)


class ValueGrid:
    """A matrix as coloured cells with their numbers (blue negative, red positive, scaled to the max |value|).

    Rows are drawn top to bottom; cells whose mask is False are left blank (not yet computed).
    """

    def __init__(self, title: str = "", width: int = 420, height: int = 180, digits: int = 3,
                 x_label: str = "", y_label: str = ""):
        self.digits = digits
        self.figure = _fig(title, width, height, x_range=(-0.5, 0.5), y_range=(0.5, -0.5),
                           x_axis_label=x_label, y_axis_label=y_label)
        self.figure.grid.visible = False
        self.figure.xaxis.ticker.min_interval = 1
        self.figure.yaxis.ticker.min_interval = 1
        self.mapper = LinearColorMapper(palette=list(palette.PALETTE), low=-1, high=1, nan_color="#f4f4f4")
        self.source = ColumnDataSource({"x": [], "y": [], "value": [], "label": [], "exact": [], "text_color": []})
        cells = self.figure.rect("x", "y", 0.96, 0.92, source=self.source, line_color=None,
                                 fill_color={"field": "value", "transform": self.mapper})
        self.figure.text("x", "y", text="label", source=self.source, text_align="center", text_baseline="middle",
                         text_font_size="9px", text_color="text_color")
        self.figure.add_tools(HoverTool(renderers=[cells], tooltips=[("column", "@x"), ("row", "@y"),
                                                                     ("value", "@exact")]))

    def set_values(self, values: np.ndarray, mask: np.ndarray | None = None, title: str | None = None,
                   scale: float | None = None) -> None:
        """Show ``values (rows, cols)``; ``mask`` (same shape, bool) hides the False cells; ``scale`` fixes the
        colour range to ``[-scale, scale]`` (default: the largest |value| shown).
        """
        values = np.atleast_2d(np.asarray(values, dtype=float))
        rows, cols = values.shape
        mask = np.ones_like(values, dtype=bool) if mask is None else np.atleast_2d(np.asarray(mask, dtype=bool))
        yy, xx = np.mgrid[0:rows, 0:cols]
        shown = values[mask]
        top = scale or (float(np.abs(shown).max()) if shown.size else 1.0) or 1.0
        self.mapper.update(low=-top, high=top)
        v = np.where(mask, values, np.nan).ravel()
        labels = ["" if not m else f"{x:.{self.digits}f}" for x, m in zip(values.ravel(), mask.ravel(), strict=True)]
        exact = ["not yet computed" if not m else repr(float(x)) for x, m in zip(values.ravel(), mask.ravel(),
                                                                                strict=True)]
        colors = palette.text_colors(np.nan_to_num(v) / top)  # the text colour of the bin drawn (4.5:1 on each)
        self.source.data = {"x": xx.ravel().tolist(), "y": yy.ravel().tolist(), "value": v.tolist(),
                            "label": labels, "exact": exact, "text_color": colors}
        self.figure.x_range.update(start=-0.5, end=cols - 0.5)
        self.figure.y_range.update(start=rows - 0.5, end=-0.5)
        if title is not None:
            self.figure.title.text = title


class NormMap:
    """Norms on a log colour scale: an image whose x is ``t`` and y a row label (cell kind or iteration)."""

    def __init__(self, title: str = "", width: int = 420, height: int = 170, y_label: str = "",
                 categorical_rows: Sequence[str] | None = None):
        self.rows = list(categorical_rows or [])
        self.figure = _fig(title, width, height, x_range=(-0.5, 0.5), y_range=(-0.5, 0.5), x_axis_label="t",
                           y_axis_label=y_label)
        self.figure.xaxis.ticker.min_interval = 1
        # NB: blank (NaN, drawn light grey) until set_norms: zeros drew a solid yellow map that looked like data
        self.mapper = LinearColorMapper(palette=Viridis256, low=-6, high=0, nan_color="#f4f4f4")
        self.source = ColumnDataSource({"image": [np.full((1, 1), np.nan)], "norm": [np.full((1, 1), np.nan)],
                                        "y0": [-0.5], "dw": [1], "dh": [1]})
        img = self.figure.image("image", x=-0.5, y="y0", dw="dw", dh="dh", source=self.source,
                                color_mapper=self.mapper)
        self.figure.add_tools(HoverTool(renderers=[img], tooltips=[("t", "$x{0}"), ("row", "$y{0}"),
                                                                   ("log10 norm", "@image{0.00}"),
                                                                   ("norm", "@norm{0.000e0}")]))
        self.figure.add_layout(ColorBar(color_mapper=self.mapper, width=8, title="log10"), "right")
        if self.rows:
            self.figure.yaxis.ticker = list(range(len(self.rows)))
            self.figure.yaxis.major_label_overrides = {i: NAMES.get(r, r) for i, r in enumerate(self.rows)}

    def set_norms(self, norms: np.ndarray, y0: float = 0.0, dy: float = 1.0, title: str | None = None) -> None:
        """Show ``norms (rows, T)``: row ``i`` spans ``y0 + i dy``; colours are ``log10`` of the norms."""
        norms = np.atleast_2d(np.asarray(norms, dtype=float))
        rows, T = norms.shape
        logs = log10_norms(norms)
        finite = logs[logs > -300]
        if finite.size:
            lo, hi = float(finite.min()), float(finite.max())
            self.mapper.update(low=min(lo, hi - 1.0), high=hi)
        self.source.data = {"image": [np.ascontiguousarray(logs)], "norm": [np.ascontiguousarray(norms)],
                            "y0": [y0 - dy / 2], "dw": [T], "dh": [rows * dy]}
        self.figure.x_range.update(start=-0.5, end=T - 0.5)
        self.figure.y_range.update(start=y0 - dy / 2, end=y0 + (rows - 0.5) * dy)
        if title is not None:
            self.figure.title.text = title


class Curves:
    """Named lines that grow (loss, accuracy, norms); optional horizontal reference line.

    The ranges are explicit and follow the data (``set_line``): an empty figure with automatic ranges makes
    the browser log "could not set initial ranges" on every load. ``y_range`` fixes the y range; ``y_min``
    fixes only its start (e.g. 0 for singular values).
    With ``key``, each line's source is named ``"<key>:<line name>"`` (browser tests find it by that name).
    """

    def __init__(self, title: str, names: Sequence[str], colors: Sequence[str], width: int = 360, height: int = 220,
                 y_log: bool = False, x_label: str = "iteration", y_label: str = "", y_range=None,
                 y_min: float | None = None, key: str = ""):
        self.y_log, self.y_min, self.fixed_y = y_log, y_min, y_range is not None
        kwargs = {"y_axis_type": "log"} if y_log else {}
        empty_y = (0.1, 10.0) if y_log else (0.0, 1.0)
        self.figure = _fig(title, width, height, x_axis_label=x_label, y_axis_label=y_label,
                           x_range=Range1d(0, 1), y_range=Range1d(*(y_range or empty_y)), **kwargs)
        self.sources = {}
        items = []
        for name, color in zip(names, colors, strict=True):
            src = ColumnDataSource({"x": [], "y": []}, name=f"{key}:{name}" if key else None)
            items.append((name, [self.figure.line("x", "y", source=src, color=color, line_width=2)]))
            self.sources[name] = src
        if len(names) > 1:  # one line needs no legend: the title names it
            self.figure.add_layout(Legend(items=items, label_text_font_size="10px", orientation="horizontal",
                                          margin=0, padding=2, spacing=8), "above")
        # Title, x-axis and (with several lines) the legend above take about this many of the height's pixels.
        self.plot_pixels = height - (90 if len(names) > 1 else 70)
        if y_log:
            set_log_ticks(self.figure, self.plot_pixels)
        else:
            self.figure.yaxis.formatter = NumeralTickFormatter(format="0.00")
        self.figure.add_tools(HoverTool(tooltips=[("x", "@x"), ("y", "@y{0.0000}")]))
        self.reference = Span(location=0, dimension="width", line_dash="dashed", line_color="gray", visible=False)
        self.figure.add_layout(self.reference)

    def set_line(self, name: str, x, y) -> None:
        self.sources[name].data = {"x": list(map(float, x)), "y": list(map(float, y))}
        self._fit()

    def _fit(self) -> None:
        """Ranges around every line's data (5 % margin; a decade either side on a log axis)."""
        xs = np.concatenate([np.asarray(s.data["x"], dtype=float) for s in self.sources.values()])
        ys = np.concatenate([np.asarray(s.data["y"], dtype=float) for s in self.sources.values()])
        xs, ys = xs[np.isfinite(xs)], ys[np.isfinite(ys)]
        if xs.size:
            lo, hi = float(xs.min()), float(xs.max())
            self.figure.x_range.update(start=lo, end=hi if hi > lo else lo + 1.0)
        if self.fixed_y:
            return
        if self.y_log:
            ys = ys[ys > 0]
            if ys.size:
                lo, hi = float(ys.min()), float(ys.max())
                self.figure.y_range.update(start=lo / (1.2 if hi > lo else 10.0), end=hi * (1.2 if hi > lo else 10.0))
                set_log_ticks(self.figure, self.plot_pixels)
        elif ys.size:
            lo = float(ys.min()) if self.y_min is None else min(self.y_min, float(ys.min()))
            hi = float(ys.max())
            pad = 0.05 * (hi - lo) or 0.5
            self.figure.y_range.update(start=lo if self.y_min is not None else lo - pad, end=hi + pad)

    def set_reference(self, value: float | None) -> None:
        """A dashed horizontal line at ``value`` (e.g. chance accuracy); None hides it."""
        self.reference.visible = value is not None
        if value is not None:
            self.reference.location = value

def subsample(n: int, limit: int) -> np.ndarray:
    """At most ``limit`` evenly spaced indices of ``range(n)``, always keeping the last."""
    if n <= limit:
        return np.arange(n)
    return np.unique(np.linspace(0, n - 1, limit).round().astype(int))
