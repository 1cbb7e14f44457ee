"""Bokeh figures for the CRNN and Applications pages: image tiles, vectors as numbered cells, probability bars.

Each class owns one figure and one or two ``ColumnDataSource``s that are updated in place; hover shows
the exact value of every pixel or cell. Images are drawn with row 0 at the top, as they are stored.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np
from bokeh.events import Tap
from bokeh.models import BoxAnnotation, ColumnDataSource, FactorRange, HoverTool, LinearColorMapper
from bokeh.palettes import Greys256
from bokeh.plotting import figure
from bokeh.transform import linear_cmap

from simulator.app.components import palette

INK = tuple(reversed(Greys256))  # 0 white, 1 black: digits and frames look like ink on paper


def _figure(title: str, width: int, height: int, **kwargs):
    fig = figure(title=title, width=width, height=height, tools="", toolbar_location=None, **kwargs)
    fig.min_border = 4
    fig.title.text_font_size = "12px"
    return fig


class ImageTiles:
    """Several 2-D arrays side by side (frames of a video, channels of a feature map), one cursor box.

    ``labels`` name each tile in the hover (``frame 3``, ``channel 2``); ``set_cursor(k)`` outlines tile k.
    """

    def __init__(self, title: str = "", width: int = 620, height: int = 130, ink: bool = True, gap: float = 0.6):
        self.gap, self.ink = gap, ink
        self.figure = _figure(title, width, height, x_range=(0, 1), y_range=(0, 1), match_aspect=True)
        self.figure.axis.visible = False
        self.figure.grid.visible = False
        self.mapper = LinearColorMapper(palette=list(INK), low=0.0, high=1.0) if ink else palette.color_mapper()
        self.source = ColumnDataSource({"image": [], "x": [], "y": [], "dw": [], "dh": [], "tile": []})
        img = self.figure.image("image", x="x", y="y", dw="dw", dh="dh", source=self.source, color_mapper=self.mapper)
        self.figure.add_tools(HoverTool(renderers=[img], tooltips=[("", "@tile"), ("value", "@image{0.0000}")]))
        self.cursor = BoxAnnotation(left=0, right=0, bottom=0, top=0, fill_alpha=0, line_color="#d62728",
                                    line_width=3, visible=False)
        self.figure.add_layout(self.cursor)
        self._shape = (0, 0)

    def set_tiles(self, tiles: Sequence[np.ndarray], labels: Sequence[str], scale: float | None = None) -> None:
        """Show ``tiles`` (each ``(h, w)``) left to right; ``scale`` sets a symmetric colour range (signed maps)."""
        h, w = np.asarray(tiles[0]).shape
        step = w + self.gap
        self.source.data = {"image": [np.ascontiguousarray(np.flipud(np.asarray(a))) for a in tiles],  # row 0 on top
                            "x": [k * step for k in range(len(tiles))], "y": [0] * len(tiles),
                            "dw": [w] * len(tiles), "dh": [h] * len(tiles), "tile": list(labels)}
        self.figure.x_range.update(start=-0.3, end=len(tiles) * step - self.gap + 0.3)
        self.figure.y_range.update(start=-0.3, end=h + 0.3)
        if not self.ink:
            s = float(scale) if scale and np.isfinite(scale) and scale > 0 else 1.0
            self.mapper.update(low=-s, high=s)
        self._shape = (h, w)

    def set_cursor(self, k: int | None) -> None:
        """Outline tile ``k`` (None hides the box)."""
        if k is None:
            self.cursor.visible = False
            return
        h, w = self._shape
        left = k * (w + self.gap)
        self.cursor.update(left=left - 0.15, right=left + w + 0.15, bottom=-0.15, top=h + 0.15, visible=True)


class VectorRows:
    """Named vectors as rows of coloured cells with their rounded values; hover gives the exact float."""

    def __init__(self, title: str = "", width: int = 900, height: int = 150):
        self.figure = _figure(title, width, height, x_range=(-0.5, 0.5), y_range=FactorRange(factors=[""]))
        self.figure.xaxis.visible = False
        self.figure.grid.visible = False
        self.figure.yaxis.major_label_text_font_size = "13px"
        self.source = ColumnDataSource({k: [] for k in ("row", "j", "value", "label", "exact", "text_color")})
        cells = self.figure.rect("j", "row", 0.95, 0.9, source=self.source, line_color="#999",
                                 fill_color=linear_cmap("value", list(palette.PALETTE), palette.LOW, palette.HIGH))
        self.figure.text("j", "row", text="label", source=self.source, text_align="center", text_baseline="middle",
                         text_font_size="9px", text_color="text_color")
        self.figure.add_tools(HoverTool(renderers=[cells], tooltips=[("", "@row[@j]"), ("value", "@exact")]))

    def set_rows(self, rows: Mapping[str, np.ndarray]) -> None:
        """Show each named 1-D vector as a row (first name on top)."""
        names, js, values = [], [], []
        for name, v in rows.items():
            v = np.asarray(v, dtype=np.float64).reshape(-1)
            names += [name] * len(v)
            js += list(range(len(v)))
            values.append(v)
        flat = np.concatenate(values) if values else np.zeros(0)
        self.source.data = {"row": names, "j": js, "value": flat.tolist(), "label": palette.labels(flat),
                            "exact": palette.exact(flat), "text_color": palette.text_colors(flat)}
        self.figure.y_range.factors = list(reversed(list(rows)))
        width = max((len(np.asarray(v).reshape(-1)) for v in rows.values()), default=1)
        self.figure.x_range.update(start=-0.5, end=width - 0.5)

    def values(self, name: str) -> np.ndarray:
        """The values shown in row ``name`` (for tests)."""
        d = self.source.data
        return np.array([v for v, r in zip(d["value"], d["row"], strict=True) if r == name])


class Bars:
    """Probabilities per class as bars, the chosen class highlighted; hover gives the exact probability."""

    def __init__(self, title: str = "", width: int = 360, height: int = 200):
        self.figure = _figure(title, width, height, x_range=FactorRange(factors=[""]), y_range=(0, 1.05))
        self.figure.xgrid.visible = False
        self.figure.yaxis.axis_label = "probability"
        self.source = ColumnDataSource({"label": [], "p": [], "exact": [], "color": []})
        bars = self.figure.vbar("label", top="p", width=0.8, source=self.source, fill_color="color",
                                line_color="#555")
        self.figure.add_tools(HoverTool(renderers=[bars], tooltips=[("", "@label"), ("p", "@exact")]))

    def set_probs(self, labels: Sequence[str], probs: np.ndarray, highlight: int | None = None) -> None:
        p = np.asarray(probs, dtype=np.float64).reshape(-1)
        best = int(np.argmax(p)) if highlight is None else highlight
        labels = [str(v) for v in labels]
        self.source.data = {"label": labels, "p": p.tolist(), "exact": palette.exact(p),
                            "color": ["#d62728" if k == best else "#9ecae1" for k in range(len(p))]}
        self.figure.x_range.factors = labels

    def set_pending(self, labels: Sequence[str], note: str) -> None:
        """The classes without bars yet (the output is not emitted at this step); hover says ``note``."""
        labels = [str(v) for v in labels]
        self.source.data = {"label": labels, "p": [0.0] * len(labels), "exact": [note] * len(labels),
                            "color": ["#dddddd"] * len(labels)}
        self.figure.x_range.factors = labels

    def clear(self) -> None:
        self.source.data = {"label": [], "p": [], "exact": [], "color": []}


class DrawingGrid:
    """An 8x8 grid to draw a digit on: each click cycles a cell through 0, 0.5, 1 (ink)."""

    LEVELS = (0.0, 0.5, 1.0)

    def __init__(self, on_change: Callable[[np.ndarray], None] | None = None, size: int = 8, width: int = 220):
        self.size, self.on_change = size, on_change
        self.cells = np.zeros((size, size))
        self.figure = _figure("Draw a digit (click cells)", width, width + 24, x_range=(-0.5, size - 0.5),
                              y_range=(size - 0.5, -0.5))
        self.figure.axis.visible = False
        self.figure.grid.visible = False
        rows, cols = np.divmod(np.arange(size * size), size)
        self.source = ColumnDataSource({"row": rows.tolist(), "col": cols.tolist(), "value": [0.0] * size * size})
        mapper = LinearColorMapper(palette=list(INK), low=0.0, high=1.0)
        self.renderer = self.figure.rect("col", "row", 0.96, 0.96, source=self.source, line_color="#bbb",
                                         fill_color={"field": "value", "transform": mapper})
        self.figure.add_tools(HoverTool(renderers=[self.renderer], tooltips=[("cell", "(@row, @col)"),
                                                                             ("value", "@value")]))
        self.figure.on_event(Tap, self._tapped)

    def _tapped(self, event) -> None:
        """A click at data coordinates (x, y) is the cell (row, col) = (round(y), round(x))."""
        if event.x is None or event.y is None:
            return
        row, col = int(round(event.y)), int(round(event.x))
        if 0 <= row < self.size and 0 <= col < self.size:
            self.toggle(row, col)

    def toggle(self, row: int, col: int) -> None:
        """The next ink level for cell (row, col)."""
        level = self.LEVELS.index(min(self.LEVELS, key=lambda v: abs(v - self.cells[row, col])))
        self.cells[row, col] = self.LEVELS[(level + 1) % len(self.LEVELS)]
        self._push()

    def set_cells(self, cells: np.ndarray) -> None:
        self.cells = np.clip(np.asarray(cells, dtype=np.float64), 0, 1).copy()
        self._push()

    def _push(self) -> None:
        self.source.patch({"value": [(slice(0, self.size * self.size), self.cells.reshape(-1).tolist())]})
        if self.on_change is not None:
            self.on_change(self.cells.copy())
