"""BPTT lab: watch gradients flow back through time, vanish and explode, and RNN, LSTM and GRU learn live.

The model is ``simulator.app.pages.bptt.model.BPTTLab`` (no GUI); this module is its view. Every number drawn
is read from the reference records of ``simulator.lessons.bptt_lab`` (the recorded BPTT of ``sequence``, the
Jacobians and spectra of ``gradients``).
"""

from __future__ import annotations

import logging

import numpy as np
import panel as pn
import param

from simulator.app.components.doclock import locked
from simulator.app.components.errors import MessageBox
from simulator.app.components.fields import checked_field
from simulator.app.components.mycode import query_value
from simulator.app.components.player import Player
from simulator.app.components.reflow import narrowing, scrolling, wrapping, wraps
from simulator.app.components.urlstate import UrlState, parse_value, session_query
from simulator.app.pages.bptt.figures import KIND_COLORS, NAMES, Curves, NormMap, ValueGrid, subsample
from simulator.app.pages.bptt.mine import BPTTMine
from simulator.app.pages.bptt.model import NETWORK, BPTTLab
from simulator.app.workpool import Runner, return_memory, session_runner
from simulator.cells import KINDS
from simulator.lessons.bptt_lab import INPUT_KEY, RECURRENT_KEY

FORMULA = {"recurrent": "hₜ₋₁ᵀ daₜ", "input": "xₜᵀ daₜ", "bias": "daₜ"}

TITLE = "BPTT lab"
SUMMARY = ("Back-propagation through time step by step; why gradients vanish or explode; "
           "RNN, LSTM and GRU trained live on a long-range task.")

URL_KEYS = {"task": "task", "T": "T", "hidden": "H", "kind": "kind", "lr": "lr", "clip": "clip",
            "clip_norm": "clip_norm", "activation": "act", "recurrent_init": "init", "recurrent_scale": "scale",
            "gate_bias": "gate_bias", "seed": "seed", "iterations_per_tick": "per_tick", "anim_kind": "anim_kind",
            "anim_length": "anim_T", "anim_hidden": "anim_H", "anim_weight": "anim_weight",
            "anim_step": "anim_step"}
log = logging.getLogger("simulator.app")
MAX_ROWS = 400  # the iteration heatmaps show at most this many (evenly spaced) iterations
TASK_LABELS = {"remember the first symbol": "first_symbol", "adding problem": "adding"}
KIND_OPTIONS = {v: k for k, v in NAMES.items()}


def lab_from_query(query: dict[str, str]) -> BPTTLab:
    """A lab built at once at the URL's network settings: one computation per page load, not one per URL key.

    Values that do not parse are skipped here; ``UrlState`` applies the query afterwards and reports them
    (the good values it sets again are unchanged, so nothing is recomputed).
    """
    kwargs = {}
    for name in (*NETWORK, "kind", "iterations_per_tick"):
        key = URL_KEYS[name]
        if key in query:
            try:
                kwargs[name] = parse_value(BPTTLab.param[name], key, query[key])
            except ValueError:
                continue
    try:
        return BPTTLab(**kwargs)
    except ValueError:
        return BPTTLab()


def sigma_verdict(sigma: float, digits: int = 4) -> str:
    """What ``σ_max`` of ``W_hh`` means for the gradient, judged on the value as shown (``digits`` decimals).

    A value that prints as 1.0000 is called equal to 1, never "above 1", whatever its 17th digit says.
    """
    shown = round(float(sigma), digits)
    if shown < 1:
        return "σ<sub>max</sub> is below 1, so every step can only shrink the gradient (vanishing)"
    if shown == 1:
        return ("σ<sub>max</sub> equals 1 (to the digits shown), so the weights alone keep the gradient's size; "
                "the activation's slope (at most 1 for tanh) can only shrink it")
    return ("σ<sub>max</sub> is above 1, so some directions can grow step after step (exploding when the "
            "activation does not saturate)")


class BPTTPage(pn.viewable.Viewer):
    """The BPTT lab: backward animation, gradient flow and its cause, live training."""

    lab = param.ClassSelector(class_=BPTTLab, doc="The page's settings and reference results.")

    def __init__(self, lab: BPTTLab | None = None, query: dict[str, str] | None = None, background: bool = True,
                 runner: Runner | None = None, **params):
        """``background``: training batches and recomputes for new settings run in the worker pool, through the
        session's ``workpool.Runner`` (the served page; ``runner`` replaces it in tests); False runs them at once.
        """
        super().__init__(lab=lab or lab_from_query(session_query() if query is None else query), **params)
        self.messages = MessageBox(extra=lambda: [self.lab.error])
        self.runner: Runner = runner or (session_runner() if background else Runner(background=False))
        self.background = self.runner.background
        self._batch_run = None  # the run whose batch is being computed in the pool
        self._step_once = False  # the Step button asked for one batch
        self._busy_note = ""
        self._status = ("", float("nan"))
        self.compute_status = pn.pane.HTML("", css_classes=["bptt-computing"], sizing_mode="stretch_width",
                                           styles={"font-size": "14px"})
        if self.background:
            self.lab.defer = self._defer
        doc = pn.state.curdoc
        if doc is not None and doc.session_context is not None:
            doc.on_session_destroyed(self._session_closed)
        self._build_animation()
        self._build_flow()
        self._build_training()
        lab = self.lab
        self.url = UrlState(lab, URL_KEYS, on_messages=self.messages.reporter("url", append=True), query=query)
        lab.param.watch(self._on_version, ["version"])
        lab.param.watch(self._on_iteration, ["iteration"])
        lab.param.watch(self._on_anim, ["anim_step", "anim_weight"])
        lab.param.watch(self._on_playing, ["playing"])
        lab.param.watch(self._on_computing, ["computing"])
        lab.param.watch(self.messages.refresh, ["error"])
        self._refresh_all()

    # ------------------------------------------------------------------ 1. backward animation
    def _build_animation(self) -> None:
        lab = self.lab
        report = self.messages.reporter("field")
        self.player = Player(lab, "anim_step", label="Backward steps done")
        self.anim_kind = pn.widgets.RadioButtonGroup.from_param(lab.param.anim_kind, options=KIND_OPTIONS,
                                                                color="primary", variant="outline", label="")
        self.anim_status = pn.pane.HTML("", css_classes=["bptt-anim-status"], sizing_mode="stretch_width",
                                        styles={"font-size": "14px"})
        self.grid_dh = ValueGrid("dL/dhₜ (rows: units, columns: t)", width=440, height=190, x_label="t",
                                 y_label="unit")
        self.grid_dc = ValueGrid("dL/dcₜ arriving along the cell state from step t+1 (LSTM)", width=440,
                                 height=190, x_label="t", y_label="unit")
        self.grid_contrib = ValueGrid("this step's contribution", width=900, height=170, x_label="column",
                                      y_label="row")
        self.grid_running = ValueGrid("running sum", width=900, height=170, x_label="column", y_label="row")
        self.anim_view = pn.Column(
            wrapping(self.anim_kind,
                     checked_field(lab, "anim_length", report, label="T (animation)", width=100),
                     checked_field(lab, "anim_hidden", report, label="H (animation)", width=100),
                     pn.widgets.Select.from_param(lab.param.anim_weight, label="Gradient of", width=170,
                                                  options={"recurrent weights": "recurrent",
                                                           "input weights": "input", "bias": "bias"})),
            wraps(self.player.__panel__()), self.anim_status,
            # numbered cells keep their size on a phone (squeezed, their numbers would overlap)
            wrapping(scrolling(self.grid_dh.figure), scrolling(self.grid_dc.figure)),
            scrolling(self.grid_contrib.figure), scrolling(self.grid_running.figure),
        )

    def _refresh_animation(self) -> None:
        lab, w = self.lab, self.lab.walk
        if w is None:
            return
        T, H = w.dh.shape
        k = lab.anim_step
        t = lab.anim_t
        done = np.zeros((H, T), dtype=bool)
        if k:
            done[:, T - k :] = True
        self.grid_dh.set_values(w.dh.T, done, scale=float(np.abs(w.dh).max()) or None)  # (T, H) -> (H, T)
        self.grid_dc.figure.visible = w.dc is not None
        if w.dc is not None:
            self.grid_dc.set_values(w.dc.T, done, scale=float(np.abs(w.dc).max()) or None)
        key = lab.anim_key
        shape = w.contrib[key].shape[1:]
        full = np.abs(w.running[key]).max() or None
        if t is None:
            self.grid_contrib.set_values(np.zeros(shape), np.zeros(shape, dtype=bool),
                                         title=f"d{key}⁽ᵗ⁾: press Step ▶ to run the first backward step")
            self.grid_running.set_values(np.zeros(shape), np.zeros(shape, dtype=bool),
                                         title=f"running sum of d{key}: nothing yet")
        else:
            self.grid_contrib.set_values(w.contrib[key][t], title=f"d{key}⁽{t}⁾: step t = {t}'s contribution "
                                         f"{FORMULA[lab.anim_weight]}")
            self.grid_running.set_values(w.running[key][t], scale=full,
                                         title=f"running sum Σ_(s ≥ {t}) d{key}⁽ˢ⁾" + (" = d" + key if t == 0 else ""))
        self.anim_status.object = self._anim_text(w, t)

    def _anim_text(self, w, t: int | None) -> str:
        lab = self.lab
        T = w.dh.shape[0]
        label = f"symbol {int(w.y)}" if lab.task == "first_symbol" else f"target {float(w.y):.4f}"
        head = (f"<b>{NAMES[lab.anim_kind]}</b>, one sequence of T = {T} ({label}); loss L = "
                f"<code class='bptt-loss'>{w.loss:.6f}</code>. ")
        if t is None:
            return head + ("The forward pass is done. Only h<sub>T</sub> feeds the readout, so BPTT starts from "
                           "dL/dh<sub>T-1</sub> = dL/dy W<sub>hy</sub><sup>T</sup> and walks back one step per "
                           "press of <b>Step ▶</b>.")
        j = int(np.abs(w.dh[t]).argmax())
        norm = float(np.linalg.norm(w.dh[t]))
        key, inp = RECURRENT_KEY[lab.anim_kind], INPUT_KEY[lab.anim_kind]
        tail = (f" After step 0 the running sums equal the full gradients: ||d{key}|| = "
                f"{float(np.linalg.norm(w.grads[key])):.6g}, ||d{inp}|| = "
                f"{float(np.linalg.norm(w.grads[inp])):.6g}." if t == 0 else "")
        return head + (f"Step <b class='bptt-t'>t = {t}</b>: ||dL/dh<sub>t</sub>|| = <code class='bptt-dh-norm'>"
                       f"{norm:.6g}</code> (largest entry dL/dh<sub>t</sub>[{j}] = {float(w.dh[t, j]):.6g}); "
                       f"it is the gradient from step t+1 carried back through that step's Jacobian." + tail)

    # ------------------------------------------------------------------ 2. gradient flow and its cause
    def _build_flow(self) -> None:
        lab = self.lab
        report = self.messages.reporter("field")
        self.map_dh = NormMap("||dL/dhₜ|| (log10), same sequence and seed", width=520, height=170,
                              categorical_rows=KINDS)
        self.map_jac = NormMap("||dh_T/dhₜ|| (log10): product of per-step Jacobians", width=520, height=170,
                               categorical_rows=KINDS)
        self.lines_jac = Curves("||dh_T/dhₜ|| over t", [NAMES[k] for k in KINDS], [KIND_COLORS[k] for k in KINDS],
                                width=420, height=230, y_log=True, x_label="t")
        self.spectrum = Curves("singular values of the recurrent weights", ["RNN W_hh", "LSTM W_hg", "GRU W_hn"],
                               [KIND_COLORS[k] for k in KINDS], width=420, height=230, x_label="index",
                               y_min=0.0)
        self.spectrum.set_reference(1.0)
        self.spectrum_text = narrowing(pn.pane.HTML("", css_classes=["bptt-spectrum"], width=420,
                                                    styles={"font-size": "13px"}))
        lo, hi = lab.param.recurrent_scale.bounds
        scale = pn.widgets.FloatSlider(label="Recurrent weight scale", start=lo, end=hi, step=0.05,
                                       value=lab.recurrent_scale, width=260, css_classes=["bptt-scale"])
        # recompute when the slider is released (three cells, their Jacobians and a new run take ~0.3 s)
        scale.param.watch(lambda e: setattr(lab, "recurrent_scale", e.new), "value_throttled")
        lab.param.watch(lambda e: setattr(scale, "value", e.new), "recurrent_scale")
        self.scale_slider = scale
        self.flow_controls = wrapping(
            scale,
            pn.widgets.Select.from_param(lab.param.recurrent_init, label="Recurrent init", width=120),
            pn.widgets.Select.from_param(lab.param.activation, label="RNN activation", width=110),
            checked_field(lab, "gate_bias", report, widget=pn.widgets.FloatInput,
                          label="Gate bias (LSTM f, GRU z)", width=170),
            checked_field(lab, "hidden", report, label="H", width=70),
            checked_field(lab, "seed", report, label="Seed", width=90),
        )
        self.flow_view = pn.Column(
            self.flow_controls,
            wrapping(pn.Column(pn.pane.Bokeh(self.map_dh.figure), pn.pane.Bokeh(self.map_jac.figure)),
                     pn.pane.Bokeh(self.lines_jac.figure)),
            wrapping(pn.pane.Bokeh(self.spectrum.figure), self.spectrum_text),
        )

    def _refresh_flow(self) -> None:
        lab = self.lab
        if not lab.compare:
            return
        self.map_dh.set_norms(np.stack([lab.compare[k].dh_norm for k in KINDS]))  # 3 x (T,) -> (3, T)
        self.map_jac.set_norms(np.stack([lab.compare[k].jac_norm for k in KINDS]))
        T = lab.compare["rnn"].dh_norm.shape[0]
        for k in KINDS:
            self.lines_jac.set_line(NAMES[k], np.arange(T), np.maximum(lab.compare[k].jac_norm, 1e-300))
        blocks = {"rnn": "W_hh", "lstm": "g", "gru": "n"}
        rows = []
        for k, name in zip(KINDS, self.spectrum.sources, strict=True):
            spec = lab.spectra[k][blocks[k]]
            sv = spec["singular_values"]
            self.spectrum.set_line(name, np.arange(len(sv)), sv)
            radii = ", ".join(f"{b}: {s['spectral_radius']:.3f}" for b, s in lab.spectra[k].items())
            rows.append(f"<tr><td><b>{NAMES[k]}</b></td><td>{radii}</td></tr>")
        rnn = lab.spectra["rnn"]["W_hh"]
        verdict = sigma_verdict(rnn["norm"])
        self.spectrum_text.object = (
            f"<p>RNN W<sub>hh</sub>: spectral radius ρ = <code class='bptt-rho'>{rnn['spectral_radius']:.4f}</code>, "
            f"largest singular value σ<sub>max</sub> = <code class='bptt-sigma'>{rnn['norm']:.4f}</code>: "
            f"{verdict}. Since ||dh<sub>t</sub>/dh<sub>t-1</sub>|| ≤ ||W<sub>hh</sub>|| · max|tanh'| the "
            "product over T steps is bounded by σ<sub>max</sub><sup>T</sup>.</p>"
            "<p>Spectral radius of each recurrent block:</p><table>" + "".join(rows) + "</table>")

    # ------------------------------------------------------------------ 3. live training
    def _build_training(self) -> None:
        lab = self.lab
        report = self.messages.reporter("field")
        self.play = pn.widgets.Button(label="▶ Train", color="primary", width=100, css_classes=["bptt-play"])
        self.play.on_click(lambda e: setattr(lab, "playing", not lab.playing))
        self.step_button = pn.widgets.Button(label="Step", width=70, css_classes=["bptt-step"],
                                             description="Run one batch of iterations")
        self.step_button.on_click(lambda e: self._train_once())
        self.reset_button = pn.widgets.Button(label="Reset", width=70, css_classes=["bptt-reset"])
        self.reset_button.on_click(lambda e: lab.reset())
        self.train_status = pn.pane.HTML("", css_classes=["bptt-status"], sizing_mode="stretch_width",
                                         styles={"font-size": "14px"})
        self.train_controls = wrapping(
            pn.widgets.RadioButtonGroup.from_param(lab.param.kind, options=KIND_OPTIONS, color="primary",
                                                   variant="outline", label="", align="end"),
            pn.widgets.Select.from_param(lab.param.task, options=TASK_LABELS, label="Task", width=190),
            checked_field(lab, "T", report, label="T", width=70),
            checked_field(lab, "lr", report, widget=pn.widgets.FloatInput, label="Learning rate",
                          width=110, step=0.001),
            pn.widgets.Checkbox.from_param(lab.param.clip, label="Clip", align="end"),
            checked_field(lab, "clip_norm", report, widget=pn.widgets.FloatInput, label="at norm",
                          width=80),
            checked_field(lab, "iterations_per_tick", report, label="Iterations / update", width=120),
        )
        self.loss_curve = Curves("training loss", ["loss"], ["#1f77b4"], width=340, height=220, key="bptt-loss")
        self.acc_curve = Curves("held-out accuracy (dashed: chance)", ["accuracy"], ["#2ca02c"], width=340,
                                height=220, y_range=(0, 1.02), key="bptt-accuracy")
        self.norm_curve = Curves("gradient norm ||g||", ["before clipping", "after clipping"], ["#d62728", "#9467bd"],
                                 width=340, height=220, y_log=True)
        self.train_dh = NormMap("||dL/dhₜ|| per iteration (log10)", width=520, height=220, y_label="iteration")
        self.train_jac = NormMap("||dh_T/dhₜ|| once per update (log10)", width=520, height=220, y_label="iteration")
        self.train_view = pn.Column(
            self.train_controls,
            wrapping(self.play, self.step_button, self.reset_button, self.train_status),
            wrapping(pn.pane.Bokeh(self.loss_curve.figure), pn.pane.Bokeh(self.acc_curve.figure),
                     pn.pane.Bokeh(self.norm_curve.figure)),
            wrapping(pn.pane.Bokeh(self.train_dh.figure), pn.pane.Bokeh(self.train_jac.figure)),
        )

    def _refresh_training(self) -> None:
        lab, run = self.lab, self.lab.run
        if run is None:
            return
        if self._training_busy():  # the worker is appending to this history: only the status line changes
            self.train_status.object = self._status_text(None)
            return
        h = run.history
        n = len(h.loss)
        its = np.arange(1, n + 1)
        self.loss_curve.set_line("loss", its, h.loss)
        self.acc_curve.set_line("accuracy", h.accuracy_iteration, h.accuracy)
        self.acc_curve.set_reference(run.chance if lab.task == "first_symbol" else None)
        self.norm_curve.set_line("before clipping", its, np.maximum(h.grad_norm, 1e-300))
        self.norm_curve.set_line("after clipping", its, np.maximum(h.clipped_norm, 1e-300))
        if n:
            rows = subsample(n, MAX_ROWS)
            step = float(rows[1] - rows[0]) if len(rows) > 1 else 1.0
            self.train_dh.set_norms(np.stack([h.dh_norm[i] for i in rows]), y0=1.0, dy=step)
        if h.jac_norm:
            rows = subsample(len(h.jac_norm), MAX_ROWS)
            its = np.asarray(h.jac_iteration)[rows]
            step = float(its[-1] - its[0]) / (len(its) - 1) if len(its) > 1 else 1.0
            self.train_jac.set_norms(np.stack([h.jac_norm[i] for i in rows]), y0=float(its[0]), dy=step)
        last = (f"loss <code class='bptt-last-loss'>{h.loss[-1]:.4f}</code>, ||g|| = {h.grad_norm[-1]:.4g}"
                f"{f' (clipped to {h.clipped_norm[-1]:.4g})' if h.clipped_norm[-1] < h.grad_norm[-1] else ''}, "
                if n else "")
        self._status = (last, h.accuracy[-1])
        self.train_status.object = self._status_text(run.iteration)

    def _status_text(self, iteration: int | None) -> str:
        """The status line; ``iteration`` None keeps the last published numbers (a batch is running)."""
        lab, run = self.lab, self.lab.run
        last, accuracy = self._status
        shown = run.iteration if iteration is None else iteration
        metric = "accuracy" if lab.task == "first_symbol" else f"within ±{0.04} of the sum"
        state = "Training…" if lab.playing else ("Pausing after this batch…" if self._training_busy() else "Paused.")
        return (f"<b>{NAMES[lab.kind]}</b> on T = {lab.T}: iteration <code class='bptt-iteration'>{shown}</code>"
                f", {last}held-out {metric} <code class='bptt-accuracy'>{accuracy:.3f}</code> "
                f"(chance {run.chance:.3f}). {state}{self._busy_note}")

    @locked
    def _on_playing(self, *events) -> None:
        lab = self.lab
        self.play.label = "❚❚ Pause" if lab.playing else "▶ Train"
        if lab.playing and self.background:
            self._request_batch()
        self._refresh_training()

    # ------------------------------------------------------------------ heavy work off the event loop
    def _train_once(self) -> None:
        """The training Step button: one batch, in the worker pool when served (at once in tests)."""
        if not self.background:
            self.lab.train()
            return
        self._step_once = True
        self._request_batch()

    def _request_batch(self) -> None:
        self.runner.request("training", self._admit_batch, on_wait=self._batch_wait, on_error=self._batch_failed)

    def _admit_batch(self):
        """Admitted by the pool: ``(job, publish)`` of one batch, or None (paused meanwhile, or recomputing)."""
        lab = self.lab
        if lab.run is None or lab.computing or not (lab.playing or self._step_once):
            return None
        self._step_once = False
        run, job = lab.steps_job()
        self._batch_run = run
        return job, lambda error: self._batch_done(run, error)

    def _batch_done(self, run, error: str) -> None:
        """On the event loop: publish the batch, then ask for the next one while playing."""
        lab = self.lab
        self._batch_run, self._busy_note = None, ""
        self.messages.report("training", [])
        lab.finish_steps(run, error)
        self._refresh_training()
        if lab.playing:
            self._request_batch()

    def _batch_wait(self, place: int) -> None:
        note = (f" <span class='bptt-queue'>The server is busy: you are number {place} in the queue.</span>"
                if place else "")
        if note != self._busy_note:
            self._busy_note = note
            self._refresh_training()

    def _batch_failed(self, text: str) -> None:
        self._batch_run, self._busy_note = None, ""
        self.lab.playing = False
        self.messages.report("training", [f"Training: {text}; press Reset."])

    def _defer(self, admit) -> None:
        """The lab's recompute for new settings, as the session's "network" job (a newer one replaces it)."""
        self.messages.report("input", [])
        self.runner.request("network", admit, on_wait=self._network_wait, on_error=self._network_failed)

    def _network_wait(self, place: int) -> None:
        self._show_computing(place)

    def _network_failed(self, text: str) -> None:
        self.lab.computing = False
        self.messages.report("input", [f"Computing for the new settings: {text}"])

    @locked
    def _on_computing(self, *events) -> None:
        self._show_computing(self.runner.place())
        self._refresh_training()

    def _show_computing(self, place: int) -> None:
        if not self.lab.computing:
            text = ""
        else:
            queue = (f" <span class='bptt-queue'>The server is busy: you are number {place} in the queue.</span>"
                     if place else "")
            text = (f"<span class='bptt-computing-text'>Computing for the new settings (the figures below still "
                    f"show the previous ones)…</span>{queue}")
        if self.compute_status.object != text:
            self.compute_status.object = text

    def _training_busy(self) -> bool:
        """A batch of the shown run is being computed (its history is being appended to right now)."""
        return self._batch_run is not None and self._batch_run is self.lab.run

    def _session_closed(self, session_context) -> None:
        """The tab closed: the Runner drops queued work (its own hook); free the run and hand the memory back."""
        self.lab.playing = False
        self.runner.close()
        self.lab.defer = None
        self._batch_run = None
        self.lab.run = None  # the largest object of the page; drop it even if something still holds the page
        return_memory()
        log.info("bptt session closed: training stopped, memory returned")

    # ------------------------------------------------------------------ updates
    # NB: these run from widget events too (a keyboard move of the slider arrives without the document lock),
    # and they change plain Bokeh models: ``locked`` moves them to the next tick when the lock is not held.
    @locked
    def _on_version(self, *events) -> None:
        self._refresh_all()

    @locked
    def _on_iteration(self, *events) -> None:
        self._refresh_training()

    @locked
    def _on_anim(self, *events) -> None:
        self._refresh_animation()

    def _refresh_all(self) -> None:
        self._refresh_animation()
        self._refresh_flow()
        self._refresh_training()
        self.messages.refresh()

    # ------------------------------------------------------------------ view
    def __panel__(self):
        intro = pn.pane.Markdown(
            "## Back-propagation through time\n"
            "Press **Step ▶** to walk the gradient back through an unrolled network one step at a time; move "
            "the **recurrent weight scale** to watch it vanish or explode; then press **▶ Train** and see which "
            "cell learns to remember the first symbol of a long sequence.", sizing_mode="stretch_width")
        return pn.Column(
            intro, self.messages.pane, self.compute_status,
            pn.pane.Markdown("### 1. The backward pass, step by step", margin=(10, 5, 0, 5)), self.anim_view,
            pn.pane.Markdown("### 2. Gradient flow: RNN, LSTM and GRU side by side, and the cause",
                             margin=(10, 5, 0, 5)), self.flow_view,
            pn.pane.Markdown("### 3. Live training on a long-range task", margin=(10, 5, 0, 5)), self.train_view,
            sizing_mode="stretch_width",
        )


def create() -> pn.viewable.Viewable:
    """A fresh BPTT lab for one browser session (settings read from the URL; ``mine=ID`` opens the compare section)."""
    page = BPTTPage()
    return pn.Column(page, BPTTMine(page.lab, {"mine": query_value("mine")}).layout, sizing_mode="stretch_width")
