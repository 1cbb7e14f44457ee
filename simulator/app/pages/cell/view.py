"""Cell page: watch an RNN, LSTM or GRU cell work one time step at a time, with every number.

The model is ``simulator.app.pages.cell.model.CellModel`` (no GUI); this module is its view.
"""

from __future__ import annotations

import html

import numpy as np
import panel as pn
import param
from bokeh.models import Div

from simulator.app.components.client_player import ClientPlayer, client_latex
from simulator.app.components.diagram import LABELS, CellDiagram
from simulator.app.components.doclock import locked
from simulator.app.components.equations import HIGHLIGHT, Equations, equation_rows
from simulator.app.components.errors import MessageBox
from simulator.app.components.fields import checked_field
from simulator.app.components.heatmap import HeatmapGrid, TimeHeatmap
from simulator.app.components.mycode import query_value
from simulator.app.components.numbers import number_html
from simulator.app.components.reflow import beside, narrowing, shrinking, wrapping, wraps
from simulator.app.components.trajectory import Trajectory
from simulator.app.components.urlstate import UrlState, shown_by_browser
from simulator.app.pages.cell import presets
from simulator.app.pages.cell.case import CaseCellModel
from simulator.app.pages.cell.mine import MineSection
from simulator.app.pages.cell.model import SERIES, VECTORS, CellModel
from simulator.app.pages.cell.uploaded import UploadedSection
from simulator.cells import KINDS

TITLE = "Cell"
SUMMARY = "One RNN, LSTM or GRU cell, step by step: every gate and state with its numbers and equations."

# URL key for each setting, in the order they must be applied (sizes before t, kind before gate).
URL_KEYS = {"kind": "kind", "compare": "compare", "inputs": "inputs", "word": "word", "D": "D", "H": "H",
            "T": "T", "seed": "seed", "weights": "weights", "edits": "edits", "gate": "gate", "unit": "unit",
            "t": "t"}
PLAYER_KEYS = {"speed": "speed"}
VIEW_KEYS = {"slow": "slow"}
NAMES = {"rnn": "RNN", "lstm": "LSTM", "gru": "GRU"}
READOUT_HINT = ('<div style="color:#595959;font-size:12px">Click a box, circle or column to select it; hover a '
                'number or a cell for its exact value. Keys: ← → step, Space play, Home/End.</div>')
COMPARE_SIZE = (600, 440)  # each compare diagram, in pixels: beside its heatmap within a 1400 px window
NO_SPINNER = ".bk-spin-btn { display: none !important; }"  # the arrows only: the wrapper holds the input
TITLES = {"h": "hidden state hₜ", "c": "cell state cₜ", "a": "pre-activation aₜ", "f": "forget gate fₜ",
          "i": "input gate iₜ", "g": "candidate gₜ", "o": "output gate oₜ", "z": "update gate zₜ",
          "r": "reset gate rₜ", "n": "candidate nₜ"}


def sizes_of(model: CellModel, kind: str) -> dict[str, int]:
    """Length of every vector of ``kind`` in the current run (``x`` has D, the rest H)."""
    D = model.runs[kind].X.shape[2]
    return {name: (D if name == "x" else model.H) for name in VECTORS[kind]}


class CellPage(pn.viewable.Viewer):
    """The Cell page: controls, player, diagram, equations, heatmaps, trajectory and compare view."""

    model = param.ClassSelector(class_=CellModel, doc="The page's settings and reference runs.")
    slow = param.Boolean(default=False, doc="While playing, light up one vector after another within each step.")

    def __init__(self, model: CellModel | None = None, query: dict[str, str] | None = None, **params):
        super().__init__(model=model or CellModel(), **params)
        m = self.model
        self.messages = MessageBox(extra=lambda: [self.model.error])
        self.player = ClientPlayer(m, "t", substep=self._substep)
        self._quiet = False  # True while applying the browser's report (it has drawn that step already)
        self.diagram = CellDiagram(on_select=self._select, width=640, height=470)
        self.equations = Equations(width=820, pane=client_latex(width=820, styles={"font-size": "15px"}))
        # on a phone the equations (one 620 px block of aligned rows) scroll inside their pane, the texts narrow
        narrowing(self.equations.pane.model, scroll=True, label="Equations of this step")
        self.readout = narrowing(Div(text="", css_classes=["rnn-readout"], width=900, styles={"font-size": "14px"},
                                     syncable=False))  # the browser rewrites it at each step
        self.heatmaps = HeatmapGrid(capacity=6, width=990)
        # every number of the diagram as an HTML table (screen readers cannot read the canvas); the browser fills it
        self.numbers_table = narrowing(Div(text="", css_classes=["rnn-numbers"], width=900, syncable=False,
                                           styles={"font-size": "13px"}), scroll=True,
                                       label="Numbers as text")  # H + 1 columns
        self.trajectory = Trajectory(width=330, height=300)
        self.compare_diagrams: dict[str, CellDiagram] = {}
        self.compare_heatmaps: dict[str, TimeHeatmap] = {}
        self.compare_view = pn.Column(visible=False)
        self.single_view = wrapping(pn.pane.Bokeh(self.diagram.figure), pn.pane.Bokeh(self.trajectory.figure))
        self.heat_section = pn.Column(
            pn.pane.Markdown("#### States and gates over time (rows: units, columns: t; the box is the current step)",
                             margin=(10, 5, 0, 5)),
            shrinking(self.heatmaps.figure),
        )
        self.controls = self._controls()
        self._layout_key = None
        self._compare_bound = False
        self.player.bind(keys=["single"], cells=[self.diagram.cells], highlights=[self.diagram.highlight],
                         cursors=[self.heatmaps.cursor], marker=self.trajectory.marker, readout=self.readout,
                         equations=self.equations.pane.model, table=self.numbers_table, on_report=self._reported,
                         url_keys={"t": URL_KEYS["t"], "gate": URL_KEYS["gate"]})
        self._refresh_runs()
        m.param.watch(self._on_runs, ["runs"])
        m.param.watch(self._on_step, ["t", "unit", "gate"])
        m.param.watch(self.messages.refresh, ["error"])
        report_url = self.messages.reporter("url", append=True)
        self.url = UrlState(m, URL_KEYS, on_messages=report_url, query=query)
        self.player_url = UrlState(self.player, PLAYER_KEYS, on_messages=report_url, query=query)
        self.view_url = UrlState(self, VIEW_KEYS, on_messages=report_url, query=query)
        self.messages.refresh()

    # ------------------------------------------------------------------ controls
    def _controls(self) -> pn.Column:
        m = self.model
        report = self.messages.reporter("field")
        kind = pn.widgets.RadioButtonGroup.from_param(m.param.kind, options={v: k for k, v in NAMES.items()},
                                                      color="primary", variant="outline", label="")
        self.word = pn.widgets.TextInput.from_param(m.param.word, label="Word (one-hot characters)",
                                                    visible=m.inputs == "word", width=280)
        inputs = pn.widgets.Select.from_param(m.param.inputs, label="Input sequence",
                                              options={"sine wave": "sine", "step": "step", "impulse": "impulse",
                                                       "characters of a word": "word", "random": "random"},
                                              width=280)
        weights = pn.widgets.Select.from_param(m.param.weights, label="Weights",
                                               options={v: k for k, v in presets.SITUATION_LABELS.items()}, width=280)
        self.param_name = pn.widgets.Select(label="Weight", options=[], width=70)
        # NB: no spinner arrows (16 px tall, below WCAG 2.2's 24 px targets); the arrow keys still step the value
        self.row_input = pn.widgets.IntInput(label="row", value=0, width=50, stylesheets=[NO_SPINNER])
        self.col_input = pn.widgets.IntInput(label="col", value=0, width=50, stylesheets=[NO_SPINNER])
        self.value_input = pn.widgets.TextInput(label="value", value="0.5", width=56)
        set_weight = pn.widgets.Button(label="Set weight", color="default", width=100)
        set_weight.on_click(self._set_weight)
        clear = pn.widgets.Button(label="Clear edits", width=100)
        clear.on_click(lambda e: setattr(m, "edits", ""))
        edits = pn.widgets.TextInput.from_param(m.param.edits, label="Edited weights", width=280)
        self.gate_select = pn.widgets.Select(label="Selected vector", options=self._gate_options(), value=m.selected,
                                             width=280)
        self.gate_select.param.watch(lambda e: self._select(e.new), "value")
        compare = pn.widgets.Checkbox.from_param(m.param.compare, label="Compare RNN, LSTM and GRU side by side")
        slow = pn.widgets.Checkbox.from_param(self.param.slow, label="Slow play: one vector after another")
        self.param.watch(lambda e: self.player.set_slow(e.new), "slow")
        m.param.watch(lambda e: setattr(self.word, "visible", e.new == "word"), "inputs")
        return pn.Column(
            pn.pane.Markdown("**Cell**", margin=(0, 5)), kind, compare,
            pn.pane.Markdown("**Input**", margin=(8, 5, 0, 5)), inputs, self.word,
            pn.Row(checked_field(m, "D", report, label="D (input)", width=70),
                   checked_field(m, "H", report, label="H (hidden)", width=70),
                   checked_field(m, "T", report, label="T (steps)", width=70)),
            pn.pane.Markdown("**Weights**", margin=(8, 5, 0, 5)),
            checked_field(m, "seed", report, label="Seed", width=120), weights,
            pn.Row(self.param_name, self.row_input, self.col_input, self.value_input), pn.Row(set_weight, clear),
            edits,
            pn.pane.Markdown("**Look at**", margin=(8, 5, 0, 5)), self.gate_select, slow,
            checked_field(m, "unit", report, label="Unit j in the equations", width=120),
            width=300,
        )

    def _gate_options(self) -> dict[str, str]:
        return {LABELS[n]: n for n in VECTORS[self.model.kind]}

    def _substep(self) -> bool:
        """Slow mode: select the next vector of this step in drawing order; False after the last one."""
        if not self.slow:
            return False
        order = VECTORS[self.model.kind]
        k = order.index(self.model.selected)
        if k + 1 < len(order):
            self.model.gate = order[k + 1]
            return True
        if self.model.t < self.model.param.t.bounds[1]:
            self.model.gate = order[0]
        return False

    def _select(self, name: str) -> None:
        if name in VECTORS[self.model.kind]:
            self.model.gate = name

    def _set_weight(self, event=None) -> None:
        m = self.model
        report = self.messages.reporter("field")
        text = self.value_input.value.strip()
        try:
            value = float(text)
        except ValueError:
            report([f"Weight value: got {text!r}, which is not a number; expected e.g. 0.5"])
            return
        if not np.isfinite(value):
            report([f"Weight value: got {text!r}; expected a finite number (no NaN or infinity)"])
            return
        name = self.param_name.value
        arr = m.run.cache["params"].get(name)
        index = (self.row_input.value,) if arr is not None and arr.ndim == 1 else (self.row_input.value,
                                                                                   self.col_input.value)
        if arr is None or any(i is None or not 0 <= i < n for i, n in zip(index, arr.shape, strict=True)):
            shape = "?" if arr is None else arr.shape
            report([f"Weight index: {name}{list(index)} is outside the parameter of shape {shape}"])
            return
        edits = presets.parse_edits(m.edits) + [(name, tuple(int(i) for i in index), value)]
        report([])
        m.edits = presets.format_edits(edits)

    # ------------------------------------------------------------------ updates
    @locked
    def _on_runs(self, *events) -> None:
        self._refresh_runs()

    def _refresh_runs(self) -> None:
        """New runs (settings changed): re-layout when the shapes changed, then redraw everything."""
        m = self.model
        run = m.run
        key = (m.kind, run.X.shape[2], m.H)
        if key != self._layout_key:
            self.diagram.set_layout(m.kind, sizes_of(m, m.kind), VECTORS[m.kind])
            self.gate_select.options = self._gate_options()
            self.param_name.options = list(run.cache["params"])
            if self.param_name.value not in self.param_name.options:
                self.param_name.value = self.param_name.options[0]
            self._layout_key = key
        self.heatmaps.set_series({n: run.series[n] for n in SERIES[m.kind]}, TITLES)
        self.trajectory.set_states(run.series["h"])
        self._refresh_compare()
        self._on_step()
        self._send_timeline()

    def _refresh_compare(self) -> None:
        m = self.model
        self.compare_view.visible = m.compare
        self.single_view.visible = self.heat_section.visible = not m.compare
        if not m.compare:
            return
        if not self.compare_diagrams:
            w, h = COMPARE_SIZE
            for kind in KINDS:
                self.compare_diagrams[kind] = CellDiagram(on_select=self._select, width=w, height=h,
                                                          title=NAMES[kind])
                self.compare_heatmaps[kind] = TimeHeatmap(title=f"{NAMES[kind]}: hₜ over time", width=420,
                                                          height=180)
            # one row per cell, so each diagram is drawn as large as the single view and its numbers stay legible
            self.compare_view.objects = [
                wrapping(pn.pane.Bokeh(self.compare_diagrams[k].figure),
                         pn.pane.Bokeh(self.compare_heatmaps[k].figure), align="center")
                for k in KINDS]
            self.player.bind(keys=list(KINDS), cells=[self.compare_diagrams[k].cells for k in KINDS],
                             highlights=[self.compare_diagrams[k].highlight for k in KINDS],
                             cursors=[self.compare_heatmaps[k].cursor for k in KINDS])
        for kind in KINDS:
            self.compare_diagrams[kind].set_layout(kind, sizes_of(m, kind), VECTORS[kind])
            self.compare_heatmaps[kind].set_series(m.runs[kind].series["h"])

    @locked
    def _on_step(self, *events) -> None:
        """The time step, unit or selection changed: patch values, move cursors, rewrite the equations.

        A change the browser reported (``_quiet``) is already on the screen: only the selector follows.
        """
        m = self.model
        t, selected = m.t, m.selected
        if self.gate_select.value != selected:
            self.gate_select.value = selected
        if self._quiet:
            return
        self.player.show_step(t, m.run.T - 1)
        if any(getattr(e, "name", "") in ("unit", "gate") for e in events):
            self._send_timeline()
        if m.compare:
            for kind, diagram in self.compare_diagrams.items():
                run = m.runs[kind]
                diagram.set_values({n: run.vector(n, t) for n in VECTORS[kind]})
                diagram.set_selected(selected)
                self.compare_heatmaps[kind].set_t(t)
        else:
            run = m.run
            self.diagram.set_values({n: run.vector(n, t) for n in VECTORS[m.kind]})
            self.diagram.set_selected(selected)
            self.heatmaps.set_t(t)
            self.trajectory.set_t(t)
        step = m.run.cache["steps"][t]
        self.equations.update(m.kind, step, t, m.unit, selected, m.run.cache["cell"].options())
        self._update_readout(step, t, selected)

    # ------------------------------------------------------------------ steps in the browser
    def timeline(self) -> dict:
        """Everything the browser needs to draw any step of the current run itself (see ``ClientPlayer``).

        Per diagram: every step's values in the cells' order, the selection outlines and the cells' slices;
        the equations' rows of unit ``j`` per step (``equations.rows``), the trajectory's points, the labels.
        """
        m = self.model
        diagrams = {}
        shown = ({k: (self.compare_diagrams[k], m.runs[k]) for k in KINDS} if m.compare
                 else {"single": (self.diagram, m.run)})
        for key, (diagram, run) in shown.items():
            order = VECTORS[run.kind]
            diagrams[key] = {
                "values": [np.concatenate([run.vector(n, t) for n in order]).tolist() for t in range(run.T)],
                "rects": {n: diagram.selection_rects(n) for n in order}, "slices": diagram.slices()}
        options = m.run.cache["cell"].options()
        return {"T": m.run.T, "name": NAMES[m.kind], "unit": m.unit, "selected": m.selected,
                "order": list(VECTORS[m.kind]), "labels": dict(LABELS), "main": m.kind if m.compare else "single",
                "diagrams": diagrams, "highlight": HIGHLIGHT, "hint": READOUT_HINT,
                "rows": [[list(r) for r in equation_rows(m.kind, step, m.unit, options)]
                         for step in m.run.cache["steps"]],
                "xy": None if m.compare else self.trajectory.points()}

    def _send_timeline(self) -> None:
        self.player.set_timeline(self.timeline())

    def _reported(self, t: int, gate: str, search: str = "") -> None:
        """The browser's throttled report of the step it shows: move the model quietly; the URL follows, and is
        not sent back when the browser shows it already (``search``).
        """
        m = self.model
        self._quiet = True
        try:
            with shown_by_browser(search):
                m.param.update(t=int(np.clip(t, 0, m.run.T - 1)), gate=gate if gate in VECTORS[m.kind] else m.gate)
        finally:
            self._quiet = False

    def _update_readout(self, step: dict, t: int, selected: str) -> None:
        m = self.model
        j = min(m.unit, len(step[selected][0]) - 1)
        value = float(step[selected][0, j])
        h = float(step["h"][0, m.unit])
        if selected == "h" and j == m.unit:  # the same number: say it once
            numbers = f'hₜ[{m.unit}] = {number_html(h, "rnn-selected rnn-h")}'
        else:
            numbers = (f'{html.escape(LABELS[selected])}[{j}] = {number_html(value, "rnn-selected")} &nbsp;·&nbsp; '
                       f'hₜ[{m.unit}] = {number_html(h, "rnn-h")}')
        self.readout.text = (
            f'<div><b>{NAMES[m.kind]}</b>, step <b class="rnn-t">t = {t}</b> (of 0–{m.run.T - 1}) &nbsp;·&nbsp; '
            f'{numbers}</div>' + READOUT_HINT)

    # ------------------------------------------------------------------ view
    def __panel__(self):
        intro = pn.pane.Markdown(
            "## One recurrent cell, step by step\n"
            "Choose a cell and an input, then press **Step ▶** (or the → key) to advance one time step. "
            "Yellow boxes are learned layers, pink circles elementwise operations; each column below "
            "shows a vector's numbers at this step.", sizing_mode="stretch_width")
        return pn.Column(
            intro, self.messages.pane,
            beside(self.controls, pn.Column(wraps(self.player.__panel__()), pn.pane.Bokeh(self.readout),
                                            self.single_view,
                                            self.compare_view, self.equations.pane, self.heat_section,
                                            pn.pane.Markdown("#### Numbers as text", margin=(10, 5, 0, 5)),
                                            pn.pane.Bokeh(self.numbers_table))),
            sizing_mode="stretch_width",
        )


def create() -> pn.viewable.Viewable:
    """A fresh Cell page for one browser session (settings read from the URL).

    ``case=kind:k:row`` shows a visible grading case (the feedback page links here); ``mine=ID`` opens the
    "Compare with my implementation" section on that submission of yours.
    """
    case = query_value("case")
    page = CellPage(model=CaseCellModel(case=case) if case else None)
    parts = [page]
    if case and page.model.label:
        parts.insert(0, pn.pane.Alert(f"Showing **{html.escape(page.model.label)}**: the inputs, state and weights "
                                      "of that test case, one step. [Back to the presets](/cell)",
                                      alert_type="info"))
    parts.append(MineSection(page.model, {"mine": query_value("mine")}).layout)
    parts.append(UploadedSection())  # "Your model": an uploaded Keras/PyTorch model (docs/models.md)
    return pn.Column(*parts, sizing_mode="stretch_width")
