"""A cell drawn in the grammar of the classic LSTM figures, with every vector as coloured, numbered cells.

Top band: learned layers are yellow boxes, pointwise operations pink circles, the cell state (LSTM)
or hidden state (GRU) a line along the top. Bottom band: one column of ``n`` coloured cells per
vector (``x_t``, ``h_{t-1}``, each gate, the candidate, ``c_t``, ``h_t``) with its rounded values;
hover shows the exact float. ``set_layout`` is called when the kind or sizes change, ``set_values``
at every step (it patches the value columns only), ``set_selected`` when the selected vector changes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np
from bokeh.models import ColumnDataSource, HoverTool, TapTool
from bokeh.plotting import figure

from simulator.app.components import palette

LABELS = {"x": "xₜ", "h_prev": "hₜ₋₁", "c_prev": "cₜ₋₁", "a": "aₜ", "f": "fₜ", "i": "iₜ", "g": "gₜ",
          "o": "oₜ", "c": "cₜ", "tanh_c": "tanh(cₜ)", "h": "hₜ", "z": "zₜ", "r": "rₜ", "n": "nₜ"}
WIDTH, HEIGHT = 860, 620
BAND_TOP = 300  # the vector columns live below this y, the figure above it
BOX_W, BOX_H, OP_R = 64, 36, 17

# Per kind: boxes (vector, label, x, y), ops (vector or "", symbol, x, y), wires (polylines),
# texts (label, x, y, align): the cell's figure in data coordinates of a WIDTH x HEIGHT canvas.
GEOMETRY = {
    "rnn": {
        "boxes": [("h", "tanh", 430, 440)],
        "ops": [],
        "wires": [[(0, 370), (430, 370), (430, 422)], [(150, 335), (150, 370)],
                  [(430, 458), (430, 520), (700, 520), (700, 370), (860, 370)], [(700, 520), (700, 612)]],
        "texts": [("hₜ₋₁", 4, 380, "left"), ("xₜ", 160, 340, "left"), ("hₜ", 856, 380, "right"),
                  ("hₜ", 710, 600, "left")],
    },
    "lstm": {
        "boxes": [("f", "σ", 250, 440), ("i", "σ", 330, 440), ("g", "tanh", 410, 440), ("o", "σ", 530, 440)],
        "ops": [("", "×", 250, 580), ("", "×", 410, 510), ("c", "+", 410, 580), ("tanh_c", "tanh", 640, 510),
                ("h", "×", 640, 440)],
        "wires": [[(0, 580), (860, 580)], [(0, 370), (530, 370)], [(150, 335), (150, 370)],
                  [(250, 370), (250, 422)], [(330, 370), (330, 422)], [(410, 370), (410, 422)],
                  [(530, 370), (530, 422)], [(250, 458), (250, 563)], [(330, 458), (330, 510), (393, 510)],
                  [(410, 458), (410, 493)], [(410, 527), (410, 563)], [(640, 580), (640, 527)],
                  [(640, 493), (640, 457)], [(562, 440), (623, 440)],
                  [(640, 423), (640, 370), (860, 370)], [(740, 370), (740, 612)]],
        "texts": [("cₜ₋₁", 4, 590, "left"), ("hₜ₋₁", 4, 380, "left"), ("xₜ", 160, 340, "left"),
                  ("cₜ", 856, 590, "right"), ("hₜ", 856, 380, "right"), ("hₜ", 730, 612, "right")],
    },
    "gru": {
        "boxes": [("r", "σ", 240, 440), ("z", "σ", 340, 440), ("n", "tanh", 520, 440)],
        "ops": [("", "×", 440, 580), ("", "×", 440, 440), ("", "1−", 580, 530), ("", "×", 680, 530),
                ("h", "+", 680, 580)],
        "wires": [[(0, 580), (860, 580)], [(120, 580), (120, 370), (520, 370)], [(170, 335), (170, 370)],
                  [(240, 370), (240, 422)], [(340, 370), (340, 422)], [(520, 370), (520, 422)],
                  [(440, 370), (440, 423)], [(240, 458), (240, 500), (420, 500), (432, 455)],
                  [(457, 440), (488, 440)], [(340, 458), (340, 530), (440, 530), (440, 563)],
                  [(440, 530), (563, 530)], [(597, 530), (663, 530)],
                  [(520, 458), (520, 480), (680, 480), (680, 513)], [(680, 547), (680, 563)],
                  [(780, 580), (780, 612)]],
        "texts": [("hₜ₋₁", 4, 590, "left"), ("xₜ", 180, 340, "left"), ("hₜ", 856, 590, "right"),
                  ("hₜ", 770, 612, "right")],
    },
}


def _empty(*names: str) -> dict[str, list]:
    return {k: [] for k in names}


class CellDiagram:
    """The Bokeh figure of one cell; ``figure`` is the model to embed (e.g. in ``pn.pane.Bokeh``).

    Parameters
    ----------
    on_select : called with a vector name when the user taps a box, an operation or a column.
    width, height : screen size in pixels (the drawing keeps its aspect ratio).
    """

    def __init__(self, on_select: Callable[[str], None] | None = None, width: int = 640, height: int = 470,
                 title: str = ""):
        self.on_select = on_select
        self.scale = height / (HEIGHT + 40)  # screen pixels per data unit (vertically)
        self.kind = ""
        self.order: tuple[str, ...] = ()
        self._slices: dict[str, slice] = {}
        self.figure = figure(width=width, height=height, x_range=(-10, WIDTH + 10), y_range=(-30, HEIGHT + 10),
                             tools="", toolbar_location=None, title=title, x_axis_type=None,
                             y_axis_type=None)
        fig = self.figure
        fig.grid.visible = False
        fig.outline_line_color = None
        fig.min_border = 4
        self.frame = ColumnDataSource(_empty("x", "y", "w", "h"))
        fig.rect("x", "y", "w", "h", source=self.frame, fill_color="#e8f3e8", line_color="#9cc29c", line_width=1.5)
        self.wires = ColumnDataSource(_empty("xs", "ys"))
        fig.multi_line("xs", "ys", source=self.wires, line_color="#333", line_width=2)
        self.boxes = ColumnDataSource(_empty("x", "y", "label", "name", "line"))
        fig.rect("x", "y", BOX_W, BOX_H, source=self.boxes, fill_color="#ffd966", line_color="line",
                 line_width=2)
        fig.text("x", "y", "label", source=self.boxes, text_align="center", text_baseline="middle",
                 text_font_size=f"{max(9, round(13 * width / 640))}px")
        self.ops = ColumnDataSource(_empty("x", "y", "label", "name", "line"))
        fig.scatter("x", "y", size=2 * OP_R * width / (WIDTH + 20), source=self.ops, fill_color="#f4b6c2",
                    line_color="line", line_width=2)
        op_font = max(7, round(11 * width / 640))  # "tanh" must fit its circle in small drawings
        fig.text("x", "y", "label", source=self.ops, text_align="center", text_baseline="middle",
                 text_font_size=f"{op_font}px")
        self.texts = ColumnDataSource(_empty("x", "y", "label", "align"))
        self.label_px = max(9, round(13 * width / 640))  # wire labels shrink with the drawing, so they never collide
        fig.text("x", "y", "label", source=self.texts, text_align="align", text_baseline="middle",
                 text_font_size=f"{self.label_px}px", text_font_style="italic")
        self.cells = ColumnDataSource(_empty("x", "y", "w", "h", "name", "label", "j", "value", "text",
                                             "text_color", "exact"))
        cells = fig.rect("x", "y", "w", "h", source=self.cells, line_color="white",
                         fill_color={"field": "value", "transform": palette.color_mapper()})
        self.numbers = fig.text("x", "y", "text", source=self.cells, text_align="center", text_baseline="middle",
                                text_font_size="9px", text_color="text_color")
        self.heads = ColumnDataSource(_empty("x", "y", "label", "name", "color"))
        self.head_px = max(8, round(12 * width / 640))
        fig.text("x", "y", "label", source=self.heads, text_align="center", text_baseline="bottom",
                 text_font_size=f"{self.head_px}px", text_color="color", text_font_style="bold")
        self.highlight = ColumnDataSource(_empty("x", "y", "w", "h"), syncable=False)  # the browser moves it too
        fig.rect("x", "y", "w", "h", source=self.highlight, fill_alpha=0, line_color="#d35400", line_width=3)
        fig.add_tools(HoverTool(renderers=[cells], tooltips=[("", "@label[@j] = @exact")]))
        fig.add_tools(TapTool())
        for src in (self.boxes, self.ops, self.cells):
            src.selected.on_change("indices", self._tapped(src))

    # ------------------------------------------------------------------ layout
    def set_layout(self, kind: str, sizes: Mapping[str, int], order: tuple[str, ...]) -> None:
        """Draw ``kind``'s figure and empty columns for the vectors in ``order`` with lengths ``sizes``."""
        geo = GEOMETRY[kind]
        self.kind, self.order = kind, tuple(order)
        self.frame.data = {"x": [440], "y": [475], "w": [700], "h": [270]}
        self.wires.data = {"xs": [[p[0] for p in w] for w in geo["wires"]],
                           "ys": [[p[1] for p in w] for w in geo["wires"]]}
        self.boxes.data = {"x": [b[2] for b in geo["boxes"]], "y": [b[3] for b in geo["boxes"]],
                           "label": [b[1] for b in geo["boxes"]], "name": [b[0] for b in geo["boxes"]],
                           "line": ["#7f6000"] * len(geo["boxes"])}
        self.ops.data = {"x": [o[2] for o in geo["ops"]], "y": [o[3] for o in geo["ops"]],
                         "label": [o[1] for o in geo["ops"]], "name": [o[0] for o in geo["ops"]],
                         "line": ["#8e3b4c"] * len(geo["ops"])}
        self.texts.data = {"x": [t[1] for t in geo["texts"]], "y": [t[2] for t in geo["texts"]],
                           "label": [t[0] for t in geo["texts"]], "align": [t[3] for t in geo["texts"]]}
        n_max = max(sizes[k] for k in order)
        ch = min(26.0, (BAND_TOP - 40) / n_max)  # cell height in data units
        step = WIDTH / len(order)
        cw = min(70.0, step * 0.86)
        cols = {k: [] for k in ("x", "y", "w", "h", "name", "label", "j")}
        heads = _empty("x", "y", "label", "name", "color")
        self._slices = {}
        for k, name in enumerate(order):
            n, x = sizes[name], step * (k + 0.5)
            start = len(cols["x"])
            self._slices[name] = slice(start, start + n)
            cols["x"] += [x] * n
            cols["y"] += (BAND_TOP - 30 - ch * (np.arange(n) + 0.5)).tolist()
            cols["w"] += [cw] * n
            cols["h"] += [ch * 0.94] * n
            cols["name"] += [name] * n
            cols["label"] += [LABELS[name]] * n
            cols["j"] += list(range(n))
            heads["x"].append(x)
            heads["y"].append(BAND_TOP - 24)
            heads["label"].append(LABELS[name])
            heads["name"].append(name)
            heads["color"].append("#222")
        total = len(cols["x"])
        cols.update(value=[0.0] * total, text=[""] * total, text_color=["black"] * total, exact=[""] * total)
        self.cells.data = cols
        self.heads.data = heads
        ch_px, cw_px = ch * self.scale, cw * self.figure.width / (WIDTH + 20)
        font = min(11, int(ch_px * 0.75), int(cw_px / 3.3))
        self.numbers.glyph.text_font_size = f"{font}px" if font >= 7 else "0px"  # too small: hover only
        self._selected = None

    # ------------------------------------------------------------------ per step
    def set_values(self, vectors: Mapping[str, np.ndarray]) -> None:
        """Show the values of every vector in the layout (each ``(n,)``, from the reference cache)."""
        values = np.concatenate([np.asarray(vectors[name], dtype=float).ravel() for name in self.order])
        whole = slice(0, len(values))
        self.cells.patch({"value": [(whole, values.tolist())], "text": [(whole, palette.labels(values))],
                          "text_color": [(whole, palette.text_colors(values))],
                          "exact": [(whole, palette.exact(values))]})

    def set_selected(self, name: str) -> None:
        """Outline the selected vector's column and the box or operation that produces it."""
        self.highlight.data = self.selection_rects(name)

    def selection_rects(self, name: str) -> dict[str, list[float]]:
        """The outline rectangles ``set_selected(name)`` draws (also sent to the browser for client-side steps)."""
        sl = self._slices.get(name)
        if sl is None:
            return _empty("x", "y", "w", "h")
        d = self.cells.data
        ys = d["y"][sl]
        ch = d["h"][sl.start] / 0.94
        rects = {"x": [d["x"][sl.start]], "y": [(max(ys) + min(ys)) / 2], "w": [d["w"][sl.start] + 8],
                 "h": [max(ys) - min(ys) + ch + 6]}
        for src, w, h in ((self.boxes, BOX_W, BOX_H), (self.ops, 2 * OP_R, 2 * OP_R)):
            for x, y, nm in zip(src.data["x"], src.data["y"], src.data["name"], strict=True):
                if nm == name:
                    rects["x"].append(x)
                    rects["y"].append(y)
                    rects["w"].append(w + 10)
                    rects["h"].append(h + 10)
        return rects

    def slices(self) -> dict[str, tuple[int, int]]:
        """Vector name -> (start, stop) of its cells in the ``cells`` source's columns."""
        return {name: (sl.start, sl.stop) for name, sl in self._slices.items()}

    def _tapped(self, src: ColumnDataSource):
        def callback(attr, old, new):
            if not new:
                return
            name = src.data["name"][new[0]]
            src.selected.indices = []
            if name and self.on_select is not None:
                self.on_select(name)

        return callback
