"""CRNN page: frames -> feature maps -> feature vectors -> recurrent states -> prediction, one frame at a time.

The model is ``simulator.app.pages.crnn.model.CrnnModel`` (no GUI); this module is its view. Every number drawn
is read from ``simulator.crnn.forward``'s cache (``frame_view``, ``maps``, ``features``, ``H``).
"""

from __future__ import annotations

import html

import numpy as np
import panel as pn
import param

from simulator.app.components.errors import MessageBox
from simulator.app.components.fields import checked_field
from simulator.app.components.heatmap import TimeHeatmap
from simulator.app.components.numbers import number_html
from simulator.app.components.player import Player
from simulator.app.components.reflow import beside, narrowing, scrolling, wrapping, wraps
from simulator.app.components.tiles import Bars, ImageTiles, VectorRows
from simulator.app.components.training_control import TrainingControl
from simulator.app.components.urlstate import UrlState
from simulator.app.pages.crnn.model import LAYERS, CrnnModel
from simulator.app.task_sizes import TASKS
from simulator.app.training import ChunkedTraining
from simulator.app.workpool import Runner

TITLE = "CRNN"
SUMMARY = "A CNN reads every frame, a recurrent cell reads the features in order: watch a CRNN classify a video."

URL_KEYS = {"task": "task", "kind": "kind", "seed": "seed", "sample": "sample", "layer": "layer", "t": "t"}
NAMES = {"rnn": "RNN", "lstm": "LSTM", "gru": "GRU"}
TASK_NAMES = {"video": "Video: direction of motion", "digits": "Handwritten digits: next term"}
LAYER_NAMES = {"conv1": "conv 3×3", "relu1": "after ReLU", "pool1": "after 2×2 max-pool"}


class CrnnPage(pn.viewable.Viewer):
    """Controls, player, and the pipeline drawn for the current frame, with every number on hover."""

    model = param.ClassSelector(class_=CrnnModel, doc="The page's settings and reference run.")

    def __init__(self, model: CrnnModel | None = None, query: dict[str, str] | None = None,
                 background: bool = True, runner: Runner | None = None, **params):
        """``background``: train in the worker pool through ``runner`` (default: the session's); False: at once."""
        super().__init__(model=model or CrnnModel(), **params)
        m = self.model
        self.messages = MessageBox()
        self.player = Player(m, "t", label="Frame t")
        # NB: controls 300 + frames 640 + readout 380 (+ margins) fit a 1400 px window
        self.frames = ImageTiles("Frames xₜ (red box: the current frame t)", width=640, height=150)
        self.maps = ImageTiles("Feature maps of frame t, one tile per filter", ink=False, width=640, height=150)
        self.vectors = VectorRows("Frame t: feature vector fₜ = cnn(xₜ), then the cell's state", width=1000,
                                  height=150)
        self.feature_map = TimeHeatmap("feature vectors fₜ over time (rows: features)", width=480, height=210)
        self.state_map = TimeHeatmap("hidden states hₜ over time (rows: units)", width=480, height=210,
                                     cursor=self.feature_map.cursor)  # one shared cursor: one update per step
        self.bars = Bars("Prediction: softmax(y), read out after the last frame", width=360, height=230)
        self.pipeline = pn.pane.HTML("", sizing_mode="stretch_width", styles={"font-size": "14px"})
        self.readout = narrowing(pn.pane.HTML("", css_classes=["rnn-readout"], width=380,
                                              styles={"font-size": "14px"}))
        self.training = TrainingControl(self._make_job, self._trained, self.messages.reporter("training"),
                                        background=background, runner=runner, label="Train the CRNN")
        self.controls = self._controls()
        m.param.watch(self._on_run, ["run"])
        m.param.watch(self._on_frame, ["t", "layer"])
        m.param.watch(lambda *events: self.training.abandon(), ["task", "kind", "seed"])  # its result would not fit
        self._on_run()
        report_url = self.messages.reporter("url", append=True)
        self.url = UrlState(m, URL_KEYS, on_messages=report_url, query=query)
        self.player_url = UrlState(self.player, {"speed": "speed"}, on_messages=report_url, query=query)

    # ------------------------------------------------------------------ controls
    def _controls(self) -> pn.Column:
        m = self.model
        report = self.messages.reporter("field")
        task = pn.widgets.RadioButtonGroup.from_param(m.param.task, options={v: k for k, v in TASK_NAMES.items()},
                                                      color="primary", variant="outline",
                                                      orientation="vertical", width=260)
        kind = pn.widgets.RadioButtonGroup.from_param(m.param.kind, options={v: k for k, v in NAMES.items()},
                                                      color="primary", variant="outline", width=260)
        layer = pn.widgets.Select.from_param(m.param.layer, options={LAYER_NAMES[k]: k for k in LAYERS},
                                             label="Feature maps shown", width=260)
        self.sample_field = checked_field(m, "sample", report, label="Held-out example", width=130)
        return pn.Column(
            pn.pane.Markdown("**Task**", margin=(0, 5)), task,
            pn.pane.Markdown("**Cell**", margin=(8, 5, 0, 5)), kind,
            pn.Row(checked_field(m, "seed", report, label="Seed", width=110), self.sample_field),
            layer,
            pn.pane.Markdown("**Weights**: seeded initialisation until you train (a few seconds).",
                             margin=(8, 5, 0, 5)),
            self.training,
            width=300,
        )

    def _make_job(self) -> ChunkedTraining:
        m = self.model
        settings = TASKS[m.task]
        return ChunkedTraining(settings.train, {**settings.kwargs, "kind": m.kind, "seed": m.seed},
                               name=f"Training the {m.task} CRNN")

    def _trained(self, result) -> None:
        m = self.model
        if result.task != m.task or result.model.kind != m.kind:
            self.messages.report("training", [f"Training finished for {result.task} / {result.model.kind.upper()}, "
                                              "but the settings changed meanwhile; press Train again."])
            return
        m.use_result(result)

    # ------------------------------------------------------------------ updates
    def _on_run(self, *events) -> None:
        """A new forward pass: redraw the whole-video views, then the current frame."""
        run = self.model.run
        c = run.cache
        T = run.T
        self.frames.set_tiles([run.X[0, t, 0] for t in range(T)], [f"frame {t}" for t in range(T)])
        self.feature_map.set_series(c["features"][0])
        self.state_map.set_series(c["H"][0])
        self._describe_pipeline()
        self._on_frame()

    def _describe_pipeline(self) -> None:
        m, run = self.model, self.model.run
        shapes = run.model.shapes
        steps = [f"xₜ {tuple(run.X.shape[2:])}"]
        for layer in run.model.layers:
            name, kind = layer["name"], layer["kind"]
            if kind == "conv":
                what = f"conv {layer['kernel']}×{layer['kernel']}, {layer['filters']} filters"
            elif kind == "pool":
                what = f"max-pool {layer.get('size', 2)}×{layer.get('size', 2)}"
            elif kind == "dense":
                what = f"dense {layer['units']}"
            else:
                what = {"relu": "ReLU", "flatten": "flatten"}[kind]
            steps.append(f"{what} → {shapes[name]}")
        H = run.cache["H"].shape[-1]
        state = "hₜ, cₜ" if m.kind == "lstm" else "hₜ"
        weights = "trained" if m.trained else "untrained (seeded initialisation)"
        self.pipeline.object = (
            f"<div><b>Per frame, the same CNN:</b> {html.escape(' → '.join(steps))} = fₜ</div>"
            f"<div><b>Then the {NAMES[m.kind]} cell</b> reads f₀ … f<sub>T−1</sub> in order ({state}, H = {H}); "
            f"after the last frame y = h<sub>T−1</sub> W<sub>hy</sub> + b<sub>y</sub> and softmax(y) is the "
            f"prediction. Weights: <b class='rnn-weights'>{weights}</b>.</div>")

    def _on_frame(self, *events) -> None:
        """The frame or the layer changed: move the cursor, redraw the maps, vectors and prediction."""
        m, run = self.model, self.model.run
        t, T = m.t, run.T
        view = m.view()
        self.frames.set_cursor(t)
        fmap = view["maps"][m.layer]  # (F, h, w) of this frame
        scale = float(np.abs(run.cache["maps"][m.layer][0]).max())  # one colour scale for the whole video
        self.maps.set_tiles(list(fmap), [f"{m.layer}, filter {k}" for k in range(len(fmap))], scale=scale)
        self.maps.figure.title.text = (f"Feature maps of frame {t}: {LAYER_NAMES[m.layer]} ({m.layer}), "
                                       "one tile per filter")
        rows = {"fₜ (features)": view["features"], "hₜ": view["h"]}
        if view["c"] is not None:
            rows["cₜ"] = view["c"]
        self.vectors.set_rows(rows)
        self.vectors.figure.title.text = f"Frame {t}: feature vector fₜ = cnn(xₜ) and the {NAMES[m.kind]}'s state"
        self.feature_map.set_t(t)
        last = t == T - 1
        if last:
            self.bars.set_probs(run.classes, run.probs)
        else:
            self.bars.set_pending(run.classes, f"read out after frame {T - 1}")
        self.bars.figure.title.text = ("Prediction softmax(y) after the last frame" if last
                                       else f"Prediction: read out after frame {T - 1}")
        best = run.classes[int(np.argmax(run.probs))]
        verdict = (f'prediction <b class="rnn-prediction">{html.escape(str(best))}</b> '
                   f"(p = {float(np.max(run.probs)):.3f}); true: <b>{html.escape(str(run.label))}</b>"
                   if last else f"the prediction appears at the last frame (t = {T - 1}); press Step ▶")
        self.readout.object = (
            f'<div>Frame <b class="rnn-t">t = {t}</b> (of 0–{T - 1}): {verdict}</div>'
            f'<div>hₜ[0] = {number_html(view["h"][0], "rnn-h")}</div>'
            '<div style="color:#666;font-size:12px">Hover any pixel or cell for its exact value. '
            "Keys: ← → step, Space play, Home/End.</div>")

    # ------------------------------------------------------------------ view
    def __panel__(self):
        intro = pn.pane.Markdown(
            "## A CRNN, frame by frame\n"
            "A convolutional network turns each frame into a feature vector; a recurrent cell reads those "
            "vectors in order and, after the last frame, names the class. Press **Step ▶** to follow one "
            "frame through the pipeline, or **Train the CRNN** first to see a network that has learned.",
            sizing_mode="stretch_width")
        return pn.Column(
            intro, self.messages.pane,
            beside(self.controls, pn.Column(
                wraps(self.player.__panel__()), self.pipeline,
                wrapping(pn.Column(pn.pane.Bokeh(self.frames.figure), pn.pane.Bokeh(self.maps.figure)),
                         pn.Column(self.readout, pn.pane.Bokeh(self.bars.figure))),
                # 16 numbered cells a row: squeezed, their numbers would overlap; on a phone the row scrolls
                pn.Column(scrolling(self.vectors.figure), css_classes=["rnn-vectors"]),
                wrapping(pn.pane.Bokeh(self.feature_map.figure), pn.pane.Bokeh(self.state_map.figure)))),
            sizing_mode="stretch_width",
        )


def create() -> pn.viewable.Viewable:
    """A fresh CRNN page for one browser session (settings read from the URL)."""
    return CrnnPage()
