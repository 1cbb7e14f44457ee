"""The Cell page's "Your model" section: animate an uploaded Keras or PyTorch cell with its own weights.

``UploadedCellModel`` is a ``CellModel`` whose runs come from the uploaded stack (``interop.LoadedModel.run``)
instead of a seeded preset cell: the chosen recurrent layer is drawn with its input (the layers below it run
first), and the Dense head's output is read at every step (for a many-to-one classifier, the probability the
model would give if the sentence ended at step ``t``). Inputs: the page's presets (fed to the lowest recurrent
layer, bypassing an Embedding), a typed sentence through the uploaded Embedding and a vocabulary, or an uploaded
CSV sequence. ``UploadedSection`` is the view. Nothing here computes a gate: every number is from the caches.
"""

from __future__ import annotations

import html

import numpy as np
import panel as pn
import param
from bokeh.models import ColumnDataSource, Div, Span
from bokeh.plotting import figure

from simulator import sequence
from simulator.app.components.diagram import LABELS, CellDiagram
from simulator.app.components.doclock import locked
from simulator.app.components.equations import Equations
from simulator.app.components.errors import MessageBox
from simulator.app.components.fields import checked_field
from simulator.app.components.heatmap import HeatmapGrid
from simulator.app.components.model_upload import MAX_CSV_BYTES, FilePicker, ModelUpload, read_csv_sequence
from simulator.app.components.numbers import number_html
from simulator.app.components.player import Player
from simulator.app.components.urlstate import UrlState
from simulator.app.pages.cell import presets
from simulator.app.pages.cell.model import SERIES, VECTORS, CellModel, Run
from simulator.cells import Cell
from simulator.interop import LoadedModel
from simulator.lessons import data

SOURCES = ("preset", "sentence", "csv")
MAX_STEPS = 200  # the page's T bound
MAX_SIZE = 4096
MAX_DRAWN = 128  # vectors longer than this are not drawn (a column of 300 boxes says nothing)
URL_KEYS = {"file": "model"}  # the URL names the file, which it cannot carry
UNKNOWN = ("<unk>", "[UNK]")
NO_MODEL = {"(upload a model first)": ""}  # the vector menu before there are vectors to choose
TITLES = {"h": "hidden state hₜ", "c": "cell state cₜ", "a": "pre-activation aₜ", "f": "forget gate fₜ",
          "i": "input gate iₜ", "g": "candidate gₜ", "o": "output gate oₜ", "z": "update gate zₜ",
          "r": "reset gate rₜ", "n": "candidate nₜ"}


def encode_sentence(text: str, vocabulary: tuple[str, ...]) -> tuple[np.ndarray, list[str]]:
    """Word ids ``(1, T)`` of ``text`` (``data.tokenize``); unknown words map to ``<unk>`` / ``[UNK]`` if the
    vocabulary has one, else they are an error naming them. Returns the ids and the tokens.
    """
    words = data.tokenize(text)
    if not words:
        raise ValueError("sentence: expected at least one word, got an empty sentence")
    if len(words) > MAX_STEPS:
        raise ValueError(f"sentence: {len(words)} words; expected at most {MAX_STEPS}")
    index = {w: k for k, w in enumerate(vocabulary)}
    unk = next((index[u] for u in UNKNOWN if u in index), None)
    missing = [w for w in words if w not in index]
    if missing and unk is None:
        raise ValueError(f"sentence: {', '.join(repr(w) for w in missing[:5])} not in the vocabulary, which has "
                         "no <unk> entry; expected words of the vocabulary")
    return np.array([[index.get(w, unk) for w in words]], dtype=np.int64), words


class UploadedCellModel(CellModel):
    """A ``CellModel`` showing recurrent layer ``layer`` of an uploaded model, with the model's own weights."""

    loaded = param.ClassSelector(class_=LoadedModel, default=None, allow_None=True,
                                 doc="The uploaded model (None: the ordinary seeded preset cell).")
    layer = param.Integer(default=0, bounds=(0, None), doc="Which recurrent layer of the stack is shown.")
    source = param.Selector(objects=list(SOURCES), default="preset",
                            doc="Input: a preset sequence, a typed sentence (needs an Embedding and a vocabulary) "
                                "or an uploaded CSV sequence.")
    sentence = param.String(default="the movie was not good", doc="Sentence typed through the Embedding.")
    vocabulary = param.ClassSelector(class_=tuple, default=None, allow_None=True, doc="Word k is Embedding row k.")
    csv = param.Array(default=None, allow_None=True, doc="Uploaded sequence (T, D) of the lowest layer's inputs.")
    head = param.Array(default=None, allow_None=True, doc="The Dense head's output at every step, (T, O).")
    words = param.List(default=[], doc="The typed sentence's tokens, one per step (source='sentence').")
    file = param.String(default="", doc="Name of the model file this view shows (kept in the URL as a reminder).")

    def __init__(self, **params):
        super().__init__(**params)
        for name in ("D", "H"):
            self.param[name].bounds = (1, MAX_SIZE)

    @param.depends("loaded", "layer", "source", "sentence", "vocabulary", "csv", watch=True)
    def _sync(self) -> None:
        """Fit kind, D, H (and T for sentence/CSV) to the chosen layer, then recompute once."""
        if self.loaded is None:
            return
        layers = self.loaded.recurrent
        if not 0 <= self.layer < len(layers):
            self.error = f"layer: got {self.layer}; expected 0 to {len(layers) - 1}"
            return
        cell = layers[self.layer].cell
        if max(cell.input_size, cell.hidden_size) > MAX_DRAWN:
            self.runs, self.error = {}, (
                f"layer {self.layer}: D={cell.input_size}, H={cell.hidden_size}; this page draws layers with at "
                f"most {MAX_DRAWN} inputs and units (interop.load_file computes any size)")
            return
        with param.parameterized.discard_events(self):
            # runs of the previous layer or file must not be shown if these inputs fail
            self.param.update(kind=cell.kind, compare=False, H=cell.hidden_size, D=cell.input_size, runs={})
            if self.inputs == "word":
                self.inputs = "sine"  # one-hot characters do not fit an uploaded layer's inputs
        self._recompute()

    # ------------------------------------------------------------------ CellModel hooks
    def _inputs(self) -> np.ndarray | None:
        if self.loaded is None:
            return super()._inputs()
        D0 = self.loaded.recurrent[0].cell.input_size
        if self.source == "sentence":
            if self.loaded.embedding is None:
                raise ValueError("sentence: this model has no Embedding layer; choose a preset or a CSV sequence")
            if self.vocabulary is None:
                raise ValueError("sentence: no vocabulary yet; upload one (one word per line, line k = id k)")
            ids, words = encode_sentence(self.sentence, self.vocabulary)
            self.words = words
            return ids
        self.words = []
        if self.source == "csv":
            if self.csv is None:
                raise ValueError("csv: no sequence uploaded yet; expected a CSV of T rows of "
                                 f"{D0} numbers")
            if self.csv.ndim != 2 or self.csv.shape[1] != D0:
                raise ValueError(f"csv: shape {self.csv.shape}; expected (T, {D0}) for this model")
            return self.csv[None].astype(self.loaded.dtype)  # (T, D) -> (1, T, D)
        return presets.make_inputs(self.inputs, D0, self.T, seed=self.seed).astype(self.loaded.dtype)

    def _run(self, kind: str, X: np.ndarray, edits: str) -> Run:
        if self.loaded is None:
            return super()._run(kind, X, edits)
        original = self.loaded.recurrent[self.layer].cell
        cell = Cell(original.kind, {k: v.copy() for k, v in original.params.items()}, activation=original.activation,
                    reset_after=original.reset_after, name=original.name)
        presets.apply_edits(cell.params, presets.parse_edits(edits))
        stack = self.loaded.run(X, cells={self.layer: cell})
        cache = stack.caches[self.layer]
        self.head = None if stack.head is None else stack.head[0]  # (1, T, O) -> (T, O)
        tr = sequence.trace(cache)
        return Run(kind, stack.inputs[self.layer], cache, {k: v[0] for k, v in tr.items()})


class UploadedSection(pn.viewable.Viewer):
    """Upload, layer and input choosers, then the chosen cell's diagram, equations, heatmaps and head output.

    The body (player, diagram, equations, six heatmaps and the head plot: about 400 Bokeh models) is built on
    the first upload, so a page on which nobody uploads a model never builds or sends it.
    """

    model = param.ClassSelector(class_=UploadedCellModel, doc="The section's settings and runs.")

    def __init__(self, model: UploadedCellModel | None = None, upload: ModelUpload | None = None,
                 query: dict[str, str] | None = None, **params):
        super().__init__(model=model or UploadedCellModel(), **params)
        m = self.model
        self.upload = upload or ModelUpload()
        self.messages = MessageBox(extra=self._notes)
        self.csv_picker = FilePicker(self._load_csv, accept=".csv,text/csv,text/plain", max_bytes=MAX_CSV_BYTES,
                                     label="Upload a CSV sequence (one row of D numbers per time step)")
        self.csv_picker.visible = False
        self._layout_key = None
        self.controls = self._controls()
        self.body = pn.Column(visible=False)
        self.upload.param.watch(self._on_upload, ["loaded", "layer", "vocabulary"])
        m.param.watch(self._on_runs, ["runs"])
        m.param.watch(self._on_step, ["t", "unit", "gate"])
        m.param.watch(self.messages.refresh, ["error"])
        self.url = UrlState(m, URL_KEYS, on_messages=self.messages.reporter("url"), query=query)
        if self.upload.loaded is not None:
            self._on_upload()
        self.messages.refresh()

    @property
    def built(self) -> bool:
        return bool(self.body.objects)

    def build(self) -> None:
        """Make the body (once): the player, diagram, equations, heatmaps and the Dense head's plot."""
        if self.built:
            return
        m = self.model
        self.player = Player(m, "t", label="Time step t (your model)")
        self.diagram = CellDiagram(on_select=self._select, width=640, height=470)
        self.equations = Equations(width=820)
        self.readout = Div(text="", css_classes=["rnn-upload-readout"], width=900, styles={"font-size": "14px"})
        self.heatmaps = HeatmapGrid(capacity=6, width=990)
        self.head_source = ColumnDataSource({"t": [], "y": [], "unit": []})
        self.head_figure = figure(width=660, height=220, title="Dense head output at each step", tools="",
                                  toolbar_location=None, x_axis_label="t", y_axis_label="output")
        self.head_figure.scatter("t", "y", source=self.head_source, size=6)
        self.head_lines = ColumnDataSource({"xs": [], "ys": []})
        self.head_figure.multi_line("xs", "ys", source=self.head_lines, line_width=2)
        self.head_cursor = Span(location=0, dimension="height", line_color="black", line_dash="dashed")
        self.head_figure.add_layout(self.head_cursor)
        p = self.player  # its buttons without its keyboard shortcuts, which belong to the page's own player
        self.body.objects = [
            pn.Row(p.first, p.back, p.play, p.forward, p.last, p.slider, p.speed_select, align="center"),
            pn.pane.Bokeh(self.readout), pn.pane.Bokeh(self.diagram.figure),
            pn.pane.Bokeh(self.head_figure), self.equations.pane,
            pn.pane.Bokeh(self.heatmaps.figure)]

    def _notes(self) -> list[str]:
        m = self.model
        notes = [m.error] if m.loaded is not None else []
        if m.file and (m.loaded is None or m.loaded.file != m.file):
            notes.append(f"This view was made with the model file {m.file!r}: a link cannot carry the file, so "
                         "upload it below to see the same view.")
        return notes

    # ------------------------------------------------------------------ controls
    def _controls(self) -> pn.Column:
        m = self.model
        source = pn.widgets.RadioButtonGroup.from_param(
            m.param.source, options={"Preset": "preset", "Typed sentence": "sentence", "CSV sequence": "csv"},
            color="primary", variant="outline", label="")
        self.sentence = pn.widgets.TextInput.from_param(m.param.sentence, label="Sentence (through the Embedding)",
                                                        width=280, visible=False)
        self.preset = inputs = pn.widgets.Select.from_param(
            m.param.inputs, label="Preset input (to the lowest recurrent layer)", width=280,
            options={"sine wave": "sine", "step": "step", "impulse": "impulse", "random": "random"})
        report = self.messages.reporter("field")
        self.steps = steps = checked_field(m, "T", report, label="T (preset steps)", width=120)
        unit = checked_field(m, "unit", report, label="Unit j in the equations", width=120)
        self.gate_select = pn.widgets.Select(label="Selected vector", options=NO_MODEL, width=280)
        self.gate_select.param.watch(lambda e: self._select(e.new), "value")
        # Controls of a view that is not drawn yet: disabled (not silently inert) until a model is loaded.
        self.needs_model = [source, inputs, steps, self.sentence, self.gate_select, unit]
        m.param.watch(self._show_source, ["source"])
        self._show_source()
        return pn.Column(source, inputs, steps, self.sentence, self.csv_picker, self.gate_select, unit, width=300)

    def _show_source(self, *events) -> None:
        for w in self.needs_model:
            w.disabled = self.model.loaded is None
        if self.model.loaded is None:
            self.gate_select.options, self._layout_key = NO_MODEL, None
        self.preset.visible = self.steps.visible = self.model.source == "preset"
        self.sentence.visible = self.model.source == "sentence"
        self.csv_picker.visible = self.model.source == "csv"

    def _select(self, name: str) -> None:
        if name in VECTORS[self.model.kind]:
            self.model.gate = name

    def _load_csv(self, name: str, content: bytes | None, size: int) -> None:
        report = self.messages.reporter("input")
        if content is None:
            report([f"{name}: {size:,} bytes; expected at most {MAX_CSV_BYTES:,} (the CSV size cap)"])
            return
        m = self.model
        if m.loaded is None:
            report([f"{name}: upload a model first; the CSV must have as many columns as its input size"])
            return
        try:
            X = read_csv_sequence(name, content, m.loaded.recurrent[0].cell.input_size, MAX_STEPS)
        except ValueError as exc:
            report([str(exc)])
            return
        report([])
        m.csv = X

    # ------------------------------------------------------------------ updates
    def _on_upload(self, *events) -> None:
        u, m = self.upload, self.model
        if u.loaded is not None:
            self.build()  # NB: before the model update below, whose runs the body draws
        source = m.source
        if u.loaded is not None and u.loaded.embedding is not None and u.vocabulary is not None:
            source = "sentence"
        elif source == "sentence" and (u.loaded is None or u.loaded.embedding is None):
            source = "preset"
        changes = {"loaded": u.loaded, "layer": u.layer if u.loaded is not None else 0, "vocabulary": u.vocabulary,
                   "source": source, "t": 0}
        if u.loaded is not None:
            changes["file"] = u.loaded.file
        m.param.update(**changes)  # one _sync for all of them
        self._show_source()
        self.body.visible = m.loaded is not None
        self.messages.refresh()

    @locked
    def _on_runs(self, *events) -> None:
        self._refresh_runs()

    def _refresh_runs(self) -> None:
        m = self.model
        if not self.built:
            return
        if m.loaded is None or m.kind not in m.runs:
            self.readout.text = ""
            return
        run = m.run
        key = (m.kind, run.X.shape[2], m.H)
        if key != self._layout_key:
            self.diagram.set_layout(m.kind, {n: (run.X.shape[2] if n == "x" else m.H) for n in VECTORS[m.kind]},
                                    VECTORS[m.kind])
            self.gate_select.options = {LABELS[n]: n for n in VECTORS[m.kind]}
            self._layout_key = key
        self.heatmaps.set_series({n: run.series[n] for n in SERIES[m.kind]}, TITLES)
        head = m.head
        if head is None:
            self.head_source.data = {"t": [], "y": [], "unit": []}
            self.head_lines.data = {"xs": [], "ys": []}
        else:
            T, O = head.shape
            top = m.loaded.recurrent[-1].options.get("return_sequences", True)
            self.head_figure.title.text = (
                "Dense head output at each step (many-to-many: every step is an output)" if top else
                "Dense head output if the sequence ended at t (many-to-one: the last is the answer)")
            ts = list(range(T))
            self.head_lines.data = {"xs": [ts] * O, "ys": [head[:, k].tolist() for k in range(O)]}
            self.head_figure.xaxis.major_label_overrides = {k: w for k, w in enumerate(m.words)}
            self.head_source.data = {"t": ts * O, "y": head.T.ravel().tolist(), "unit": [k for k in range(O)
                                                                                      for _ in ts]}
        self._on_step()

    @locked
    def _on_step(self, *events) -> None:
        m = self.model
        if not self.built or m.loaded is None or m.kind not in m.runs:
            return
        run, t, selected = m.run, m.t, m.selected
        if self.gate_select.value != selected and selected in self.gate_select.options.values():
            self.gate_select.value = selected
        self.diagram.set_values({n: run.vector(n, t) for n in VECTORS[m.kind]})
        self.diagram.set_selected(selected)
        self.heatmaps.set_t(t)
        self.head_cursor.location = t
        step = run.cache["steps"][t]
        self.equations.update(m.kind, step, t, m.unit, selected, run.cache["cell"].options())
        self._update_readout(step, t)

    def _update_readout(self, step: dict, t: int) -> None:
        m = self.model
        j = min(m.unit, m.H - 1)
        h = float(step["h"][0, j])
        word = f' (word <b>{html.escape(m.words[t])}</b>)' if m.words and t < len(m.words) else ""
        head = ""
        if m.head is not None:
            values = ", ".join(number_html(v, "rnn-upload-head") for v in m.head[t])
            act = m.loaded.dense[-1].options["activation"]
            head = f" &nbsp;·&nbsp; Dense head ({html.escape(act)}) output [{values}]"
        layer = m.loaded.recurrent[m.layer]
        self.readout.text = (
            f"<div class=\"rnn-upload-text\"><b>{html.escape(m.loaded.file)}</b>, "
            f"layer {m.layer} <b>{html.escape(layer.name)}</b> "
            f"({m.kind.upper()}), step <b class=\"rnn-upload-t\">t = {t}</b> (of 0–{m.run.T - 1}){word} &nbsp;·&nbsp; "
            f"hₜ[{j}] = {number_html(h, 'rnn-upload-h')}{head}</div>")

    def __panel__(self):
        return pn.Column(
            pn.pane.Markdown("## Your model\nUpload a recurrent model you trained (Keras or PyTorch) and watch its "
                             "own weights work, step by step.", sizing_mode="stretch_width"),
            self.messages.pane,
            pn.Row(pn.Column(self.upload, self.controls, width=320), self.body),
            sizing_mode="stretch_width", css_classes=["rnn-your-model"])

