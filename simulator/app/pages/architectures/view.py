"""Architectures page: one-to-one, one-to-many, many-to-one, many-to-many (synced and encoder-decoder), unrolled.

The model is ``simulator.app.pages.architectures.model.ArchitectureModel`` (no GUI); this module is its view.
"""

from __future__ import annotations

import html

import panel as pn
import param
from bokeh.models import Div

from simulator.app.components.diagram import CellDiagram
from simulator.app.components.doclock import locked
from simulator.app.components.errors import MessageBox
from simulator.app.components.fields import checked_field
from simulator.app.components.mycode import query_value
from simulator.app.components.numbers import number_html
from simulator.app.components.player import Player
from simulator.app.components.reflow import narrowing, scrolling, wrapped_buttons, wrapping, wraps
from simulator.app.components.unrolled_diagram import UnrolledDiagram
from simulator.app.components.urlstate import UrlState
from simulator.app.pages.architectures import examples
from simulator.app.pages.architectures.mine import ArchitecturesMine
from simulator.app.pages.architectures.model import TRAIN_ITERATIONS, ArchitectureModel
from simulator.app.pages.cell.model import ALL_VECTORS, VECTORS
from simulator.app.pages.cell.uploaded import UploadedSection

TITLE = "Architectures"
SUMMARY = "The five ways to wire a recurrent cell (one-to-one ... encoder-decoder), animated on the lesson's examples."

URL_KEYS = {"architecture": "arch", "kind": "kind", "H": "H", "seed": "seed", "trained": "trained", "item": "item",
            "length": "length", "s": "s"}
NAMES = {"one_to_one": "One-to-one", "one_to_many": "One-to-many", "many_to_one": "Many-to-one",
         "many_to_many": "Many-to-many (synced)", "encoder_decoder": "Many-to-many (encoder-decoder)"}
LESSONS = {
    "one_to_one": "One input, one output, a single step from the zero state: a feed-forward network. "
                  "Classify an image of a musical symbol.",
    "one_to_many": "One input, then the cell keeps running: each output is fed back as the next input. "
                   "Generate a melody from its first note.",
    "many_to_one": "Read the whole sequence; only the last state is read out, so the loss is taken once, "
                   "at the end. The genre of a song.",
    "many_to_many": "One output per input, at every step; a loss term at every step. Tag each note with its "
                    "solfege symbol.",
    "encoder_decoder": "The encoder reads every input and emits nothing; its final state starts the decoder, "
                       "which emits an output sequence of another length. Notes to chord symbols.",
}
SOURCES = {"x": "reads the input", "feedback": "reads its previous output (fed back)",
           "start": "reads the start token", "teacher": "reads the previous target", "zeros": "reads nothing (zeros)"}


class ArchitecturesPage(pn.viewable.Viewer):
    """Controls, player, the unrolled drawing, the current step's cell, and what happens at the step."""

    model = param.ClassSelector(class_=ArchitectureModel, doc="The page's settings and reference run.")
    gate = param.Selector(objects=list(ALL_VECTORS), default="h", doc="Vector selected in the step's cell drawing.")

    def __init__(self, model: ArchitectureModel | None = None, query: dict[str, str] | None = None, **params):
        super().__init__(model=model or ArchitectureModel(), **params)
        m = self.model
        self.messages = MessageBox(extra=lambda: [self.model.error])
        self.player = Player(m, "s", label="Step")
        self.unrolled = UnrolledDiagram(width=1080, height=420)
        self.cell = CellDiagram(on_select=self._select, width=520, height=380)
        self._cell_key = None
        self.lesson = pn.pane.Markdown("", sizing_mode="stretch_width", styles={"font-size": "15px"})
        self.readout = narrowing(Div(text="", css_classes=["rnn-readout"], width=480, styles={"font-size": "14px"}))
        self.item_select = pn.widgets.Select(label="Example input", options={}, width=250)
        self.item_select.param.watch(lambda e: setattr(m, "item", e.new) if e.new is not None else None, "value")
        self.length_field = checked_field(m, "length", self.messages.reporter("field"), label="Notes to generate",
                                          width=120)
        m.param.watch(self._on_run, ["run"])
        m.param.watch(self._on_step, ["s"])
        m.param.watch(self.messages.refresh, ["error"])
        self._on_run()
        report_url = self.messages.reporter("url", append=True)
        self.url = UrlState(m, URL_KEYS, on_messages=report_url, query=query)
        self.player_url = UrlState(self.player, {"speed": "speed"}, on_messages=report_url, query=query)
        self.view_url = UrlState(self, {"gate": "gate"}, on_messages=report_url, query=query)
        self.param.watch(lambda e: self._on_step(), ["gate"])

    def _select(self, name: str) -> None:
        if name in VECTORS[self.model.kind]:
            self.gate = name

    @locked
    def _on_run(self, *events) -> None:
        m = self.model
        run = m.run
        self.unrolled.set_run(run, m.kind)
        losses = m.training_losses
        if losses is None:
            weights = (f"The weights are random (seed {m.seed}), not trained: watch which steps read, emit and "
                       "take a loss, not the answer.")
        else:
            weights = (f"The weights were trained here on the four example inputs ({TRAIN_ITERATIONS} Adam steps "
                       f"from seed {m.seed}; mean loss {losses[0]:.3f} → {losses[1]:.4f}).")
        self.lesson.object = (f"**{NAMES[m.architecture]}**: {LESSONS[m.architecture]}  \n"
                              f"Example: {html.escape(run.example.title)}. {weights}")
        options = {label: k for k, label in enumerate(examples.items(m.architecture))}
        if self.item_select.options != options:
            self.item_select.options = options
        self.item_select.value = m.item
        self.length_field.visible = m.architecture == "one_to_many"
        self._cell_key = None
        self._on_step()

    @locked
    def _on_step(self, *events) -> None:
        m = self.model
        run, s = m.run, m.s
        self.unrolled.set_step(s)
        step = run.cache["steps"][s]
        names = VECTORS[m.kind]
        sizes = {n: step[n].shape[1] for n in names}
        key = (m.kind, tuple(sizes.items()))
        if key != self._cell_key:
            self.cell.set_layout(m.kind, sizes, names)
            self._cell_key = key
        self.cell.set_values({n: step[n][0] for n in names})
        self.cell.set_selected(self.gate if self.gate in names else "h")
        self.readout.text = self._describe(s)

    def _describe(self, s: int) -> str:
        m = self.model
        run = m.run
        cache = run.cache
        phase = cache["phase"][s]
        # "of 0–11", as the Cell and CRNN pages say it: "of 11" read as 11 steps when there are 12.
        lines = [f'<div><b>Step <span class="rnn-s">{s}</span></b> (of 0–{run.S - 1})'
                 f'{"" if phase == "cell" else f", {phase}"}: {SOURCES[cache["input_source"][s]]}.</div>']
        h = cache["H"][0, s]
        lines.append(f'<div>h[0] after this step = {number_html(h[0], "rnn-h")}</div>')
        n = m.output_index(s)
        if n is None:
            lines.append("<div>No output at this step, so no loss term.</div>")
        else:
            p = run.probs[n]
            best = int(p.argmax())
            lines.append(f"<div>Emits ŷ: most likely <b>{html.escape(run.example.classes[best])}</b> "
                         f'(p = <code class="rnn-p">{float(p[best]):.4f}</code>)</div>')
            if cache["takes_loss"][s]:
                target = run.example.classes[int(run.example.targets.reshape(-1)[n])]
                lines.append(f"<div>Loss term here: −log p({html.escape(target)}) = "
                             f'<code class="rnn-loss">{run.step_losses[n]:.4f}</code></div>')
        lines.append(f"<div>Training loss (mean over the outputs): {run.loss:.4f}</div>")
        return "".join(lines)

    def _controls(self) -> pn.Row:
        m = self.model
        report = self.messages.reporter("field")
        architecture = pn.widgets.RadioButtonGroup.from_param(
            m.param.architecture, options={v: k for k, v in NAMES.items()}, color="primary",
            variant="outline", label="")
        kind = pn.widgets.RadioButtonGroup.from_param(m.param.kind, options={"RNN": "rnn", "LSTM": "lstm",
                                                                             "GRU": "gru"},
                                                      color="primary", variant="outline", label="")
        return pn.Column(wrapped_buttons(architecture),
                         wrapping(kind, checked_field(m, "H", report, label="H (hidden)", width=90),
                                  checked_field(m, "seed", report, label="Seed", width=110),
                                  pn.widgets.Checkbox.from_param(m.param.trained, label="Trained weights",
                                                                 align="center"),
                                  self.item_select, self.length_field))

    def __panel__(self):
        intro = pn.pane.Markdown(
            "## Architectures, unrolled in time\n"
            "Pick an architecture and press **Step ▶**: yellow inputs are read, pink outputs are emitted, red "
            "diamonds are where the loss is taken; each cell box shows its hidden state hₜ as coloured cells.",
            sizing_mode="stretch_width")
        # the unrolled network and the cell keep their size on a phone (squeezed, their labels would overlap)
        return pn.Column(intro, self.messages.pane, self._controls(), self.lesson, wraps(self.player.__panel__()),
                         scrolling(self.unrolled.figure),
                         wrapping(pn.Column(pn.pane.Markdown("#### Inside the cell at this step (click a vector)"),
                                            scrolling(self.cell.figure)), pn.pane.Bokeh(self.readout)),
                         sizing_mode="stretch_width")


def create() -> pn.viewable.Viewable:
    """A fresh Architectures page for one browser session (settings read from the URL; ``mine=ID`` opens the
    compare section).
    """
    page = ArchitecturesPage()
    return pn.Column(page, ArchitecturesMine(page.model, {"mine": query_value("mine")}).layout,
                     UploadedSection(),  # "Your model": many-to-one or many-to-many, with its own weights
                     sizing_mode="stretch_width")
