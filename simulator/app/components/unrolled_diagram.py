"""An architecture unrolled over time: one column per step with its input, cell, output and loss.

Rows from the bottom: what the step reads (the input ``x``, the fed-back output, a start token or
nothing), the cell with its hidden state as coloured cells, the output ``y`` with its most likely
class, and a red diamond where a loss term is taken. Steps after the current one are faded; the
current one is boxed. ``set_run`` draws a new run, ``set_step`` only patches the alpha columns.
"""

from __future__ import annotations

import numpy as np
from bokeh.models import BoxAnnotation, ColumnDataSource, HoverTool
from bokeh.plotting import figure

from simulator.app.components import palette

Y_IN, Y_CELL, Y_OUT, Y_LOSS = 0.0, 1.4, 2.8, 3.75
PHASE_COLORS = {"cell": "#e8f3e8", "encoder": "#dbe9f6", "decoder": "#fbe5d6"}
SOURCE_COLORS = {"x": "#ffd966", "feedback": "#f4b6c2", "teacher": "#c9daf8", "start": "#d9d9d9", "zeros": "#f3f3f3"}
FADED = 0.13


class UnrolledDiagram:
    """The Bokeh figure of an unrolled architecture; ``figure`` is the model to embed."""

    def __init__(self, width: int = 1100, height: int = 430):
        self.figure = figure(width=width, height=height, tools="", toolbar_location=None,
                             x_range=(-0.7, 1.7), y_range=(-0.75, 4.25), x_axis_type=None, y_axis_type=None)
        fig = self.figure
        fig.grid.visible = False
        fig.outline_line_color = None
        self.current = BoxAnnotation(left=-0.5, right=0.5, fill_color="#fff2cc", fill_alpha=0.6, line_alpha=0,
                                     level="underlay")
        fig.add_layout(self.current)
        self.sources: dict[str, ColumnDataSource] = {}
        self.wires = self._source("wires", "x0", "y0", "x1", "y1", "dash", "step")
        fig.segment("x0", "y0", "x1", "y1", source=self.wires, line_color="#444", line_width=2, line_dash="dash",
                    line_alpha="alpha")
        self.heads = self._source("heads", "x", "y", "angle", "step")
        fig.scatter("x", "y", source=self.heads, marker="triangle", angle="angle", size=9, fill_color="#444",
                    line_color=None, alpha="alpha")
        self.cells = self._source("cells", "x", "y", "color", "label", "step")
        fig.rect("x", "y", 0.72, 0.62, source=self.cells, fill_color="color", line_color="#6a8f6a", line_width=2,
                 alpha="alpha")
        fig.text("x", "y", "label", source=self.cells, text_align="center", text_baseline="bottom",
                 text_font_size="12px", y_offset=-8, alpha="alpha")
        self.state = self._source("state", "x", "y", "w", "value", "exact", "j", "step")
        st = fig.rect("x", "y", "w", 0.2, source=self.state, line_color="white", alpha="alpha",
                      fill_color={"field": "value", "transform": palette.color_mapper()})
        self.inputs = self._source("inputs", "x", "y", "color", "label", "source_name", "step")
        fig.scatter("x", "y", source=self.inputs, size=34, fill_color="color", line_color="#7f6000", alpha="alpha")
        fig.text("x", "y", "label", source=self.inputs, text_align="center", text_baseline="middle",
                 text_font_size="11px", alpha="alpha")
        self.image = ColumnDataSource({"image": [], "x": [], "y": []})
        fig.image("image", x="x", y="y", dw=0.6, dh=0.6, source=self.image, palette=["#ffffff", "#000000"])
        self.outputs = self._source("outputs", "x", "y", "label", "probs", "step")
        out = fig.rect("x", "y", 0.8, 0.45, source=self.outputs, fill_color="#f4cccc", line_color="#990000",
                       alpha="alpha")
        fig.text("x", "y", "label", source=self.outputs, text_align="center", text_baseline="middle",
                 text_font_size="11px", alpha="alpha")
        self.losses = self._source("losses", "x", "y", "label", "target", "step")
        loss = fig.scatter("x", "y", source=self.losses, marker="diamond", size=30, fill_color="#cc0000",
                           line_color=None, alpha="alpha")
        fig.text("x", "y", "label", source=self.losses, text_align="center", text_baseline="bottom",
                 text_font_size="11px", y_offset=-16, alpha="alpha")
        self.legend = ColumnDataSource({"x": [], "y": [], "label": []})
        fig.text("x", "y", "label", source=self.legend, text_align="right", text_baseline="middle",
                 text_font_size="12px", text_font_style="italic", text_color="#555")
        fig.add_tools(HoverTool(renderers=[st], tooltips=[("", "h_@step[@j] = @exact")]))
        fig.add_tools(HoverTool(renderers=[out], tooltips=[("step", "@step"), ("p", "@probs")]))
        fig.add_tools(HoverTool(renderers=[loss], tooltips=[("loss", "@label"), ("target", "@target")]))

    def _source(self, key: str, *columns: str) -> ColumnDataSource:
        src = ColumnDataSource({c: [] for c in (*columns, "alpha")})
        self.sources[key] = src
        return src

    # ------------------------------------------------------------------ a new run
    def set_run(self, run, kind: str) -> None:
        """Draw ``run`` (an ``ArchitectureRun``): the static parts and every value; step 0 current."""
        cache, ex = run.cache, run.example
        S, H = run.S, cache["H"]
        self.figure.x_range.update(start=-1.6, end=S - 0.35)
        wires, heads = {k: [] for k in ("x0", "y0", "x1", "y1", "dash", "step")}, {k: [] for k in ("x", "y", "angle",
                                                                                                   "step")}

        def wire(x0, y0, x1, y1, step):
            for k, v in zip(("x0", "y0", "x1", "y1", "dash", "step"), (x0, y0, x1, y1, "solid", step), strict=True):
                wires[k].append(v)
            heads["x"].append(x1)
            heads["y"].append(y1)
            heads["angle"].append(float(np.arctan2(y1 - y0, x1 - x0) - np.pi / 2))
            heads["step"].append(step)

        cells = {k: [] for k in ("x", "y", "color", "label", "step")}
        inputs = {k: [] for k in ("x", "y", "color", "label", "source_name", "step")}
        labels = iter(ex.input_labels)
        for s in range(S):
            phase, source = cache["phase"][s], cache["input_source"][s]
            cells["x"].append(s)
            cells["y"].append(Y_CELL)
            cells["color"].append(PHASE_COLORS[phase])
            cells["label"].append(f"{kind.upper()}" + (f" ({phase})" if phase != "cell" and S < 10 else ""))
            cells["step"].append(s)
            if source == "x":
                label = next(labels, "x")
            else:
                label = {"feedback": "ŷ↩", "start": "start", "teacher": "target", "zeros": "0"}[source]
            if not (ex.image is not None and source == "x"):
                inputs["x"].append(s)
                inputs["y"].append(Y_IN)
                inputs["color"].append(SOURCE_COLORS[source])
                inputs["label"].append(label)
                inputs["source_name"].append(source)
                inputs["step"].append(s)
            wire(s, Y_IN + 0.3, s, Y_CELL - 0.33, s)
            if s > 0:
                wire(s - 0.64, Y_CELL, s - 0.37, Y_CELL, s)
            if source == "feedback":
                wire(s - 1 + 0.2, Y_OUT - 0.25, s - 0.2, Y_IN + 0.2, s)
        outputs = {k: [] for k in ("x", "y", "label", "probs", "step")}
        loss = {k: [] for k in ("x", "y", "label", "target", "step")}
        for n, s in enumerate(cache["output_steps"].tolist()):
            p = run.probs[n]
            best = int(np.argmax(p))
            outputs["x"].append(s)
            outputs["y"].append(Y_OUT)
            outputs["label"].append(f"{ex.classes[best]} {p[best]:.2f}")
            outputs["probs"].append(", ".join(f"{c} {v:.3f}" for c, v in zip(ex.classes, p, strict=True)))
            outputs["step"].append(s)
            wire(s, Y_CELL + 0.33, s, Y_OUT - 0.24, s)
            if cache["takes_loss"][s]:
                target = ex.classes[int(ex.targets.reshape(-1)[n])]
                loss["x"].append(s)
                loss["y"].append(Y_LOSS)
                loss["label"].append(f"L={run.step_losses[n]:.2f}")
                loss["target"].append(target)
                loss["step"].append(s)
                wire(s, Y_OUT + 0.24, s, Y_LOSS - 0.2, s)
        state = {k: [] for k in ("x", "y", "w", "value", "exact", "j", "step")}
        n_h = H.shape[2]
        w = 0.62 / n_h
        for s in range(S):
            values = H[0, s]
            state["x"] += (s - 0.31 + w * (np.arange(n_h) + 0.5)).tolist()
            state["y"] += [Y_CELL - 0.14] * n_h
            state["w"] += [w * 0.92] * n_h
            state["value"] += values.tolist()
            state["exact"] += palette.exact(values)
            state["j"] += list(range(n_h))
            state["step"] += [s] * n_h
        for src, data in ((self.wires, wires), (self.heads, heads), (self.cells, cells), (self.inputs, inputs),
                          (self.outputs, outputs), (self.losses, loss), (self.state, state)):
            data["alpha"] = [1.0] * len(data["step"])
            src.data = data
        if ex.image is not None:
            self.image.data = {"image": [ex.image[::-1].copy()], "x": [-0.3], "y": [Y_IN - 0.3]}  # row 0 on top
        else:
            self.image.data = {"image": [], "x": [], "y": []}
        self.legend.data = {"x": [-0.55] * 4, "y": [Y_IN, Y_CELL, Y_OUT, Y_LOSS],
                            "label": ["input", "cell, hₜ", "output ŷ", "loss"]}

    # ------------------------------------------------------------------ per step
    def set_step(self, s: int) -> None:
        """Fade the steps after ``s`` and box step ``s``."""
        self.current.update(left=s - 0.5, right=s + 0.5)
        for src in self.sources.values():
            steps = np.asarray(src.data["step"])
            if len(steps):
                src.patch({"alpha": [(slice(0, len(steps)), np.where(steps <= s, 1.0, FADED).tolist())]})
