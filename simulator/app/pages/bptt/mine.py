"""The BPTT lab's "Compare with my implementation": your ``hidden_grad_norms`` beside the reference's.

``||dL/dh_t||`` over t, for a tanh RNN built from the lab's own settings (hidden size, recurrent scale and
initialisation, seed) and a loss on the last state only: the curve whose slope is vanishing or exploding. Your
function runs once in the grading sandbox (a bptt submission of yours, or pasted code); the reference's curve
comes from the exercise's answer. The first step t, walking back from T-1, where the two part is named.
"""

from __future__ import annotations

import html

import numpy as np
import panel as pn
from bokeh.models import ColumnDataSource, Range1d
from bokeh.plotting import figure

from autograder.server.cases_view import array_reader, reference_hidden_grad_norms
from simulator.app.components.mycode import MyCode
from simulator.app.components.reflow import shrinking, wraps
from simulator.cells import init_params

T, D = 30, 4
INTRO = ("Your `hidden_grad_norms(X, h0, params, dh_last)` runs in the grader's sandbox on a tanh RNN with this "
         "lab's hidden size, recurrent initialisation, scale and seed, for a loss on the last state only; its "
         "‖dL/dh_t‖ over t is drawn beside the reference's.")


def lab_rnn(lab) -> tuple[np.ndarray, np.ndarray, dict, np.ndarray]:
    """(X (1, T, D), h0 (1, H), params, dh_last (1, H)) of a tanh RNN with the lab's settings."""
    rng = np.random.default_rng(lab.seed)
    H = lab.hidden
    params = init_params("rnn", D, H, seed=lab.seed, recurrent_init=lab.recurrent_init,
                         recurrent_scale=lab.recurrent_scale)
    params["b_h"] = 0.1 * rng.standard_normal(H)  # random biases, so a bias bug shows
    X = rng.standard_normal((1, T, D))
    return X, np.zeros((1, H)), params, rng.standard_normal((1, H))


class BPTTMine:
    """A collapsible section of the BPTT lab: your gradient norms over time beside the reference's."""

    def __init__(self, lab, query: dict | None = None):
        self.lab = lab
        self.source = ColumnDataSource({"t": [], "reference": [], "yours": []})
        # Explicit ranges: a log axis with no data yet would make Bokeh warn in the browser's console.
        self.figure = figure(title="‖dL/dh_t‖ over t (loss on the last state)", height=260, width=720,
                             y_axis_type="log", x_axis_label="t", toolbar_location=None,
                             x_range=Range1d(-0.5, T - 0.5), y_range=Range1d(1e-6, 1e2))
        self.figure.line("t", "reference", source=self.source, line_width=3, color="#3b6ea5", legend_label="reference")
        self.figure.scatter("t", "yours", source=self.source, size=7, color="#c0392b", legend_label="yours")
        self.figure.legend.location = "top_left"
        self.text = pn.pane.HTML("", sizing_mode="stretch_width")
        wanted = (query or {}).get("mine")
        self.mine = MyCode(lambda: ("bptt",), self._start, self._show,
                           "def hidden_grad_norms(X, h0, params, dh_last):\n    ...", wanted)
        self.layout = pn.Card(pn.pane.Markdown(INTRO + self.mine.intro()), wraps(self.mine.controls), self.mine.status,
                              shrinking(self.figure), self.text, title="Compare with my implementation",
                              collapsed=not wanted, sizing_mode="stretch_width")
        self._inputs = None
        if wanted and self.mine.source.value:
            self.mine.run()

    def _start(self, user, submission_id, code):
        self._inputs = lab_rnn(self.lab)
        X, h0, params, dh_last = self._inputs
        read = array_reader("hidden_grad_norms' result", (T,))
        return self.mine.server.compare_call(user, "", "hidden_grad_norms", (X, h0, params, dh_last), read,
                                             submission_id=submission_id, code=code)

    def _show(self, result: dict) -> None:
        X, h0, params, dh_last = self._inputs
        ref = reference_hidden_grad_norms(X, h0, params, dh_last)
        got = result["value"]
        tiny = np.finfo(float).tiny  # the log axis cannot draw 0
        self.source.data = {"t": list(range(T)), "reference": np.maximum(ref, tiny).tolist(),
                            "yours": (np.maximum(got, tiny) if got is not None else np.full(T, np.nan)).tolist()}
        shown = np.concatenate([ref, got if got is not None else ref])
        positive = shown[np.isfinite(shown) & (shown > 0)]
        if positive.size:
            self.figure.y_range.update(start=positive.min() / 3, end=positive.max() * 3)
        if result["error"]:
            self.mine.say(f"Your code stopped: {html.escape(result['error'])}", "error")
            return
        bad = ~np.isclose(got, ref, rtol=1e-6, atol=1e-12)
        if not bad.any():
            self.mine.say(f"Your hidden_grad_norms matches the reference at every one of the {T} steps.", "ok")
        else:
            t = int(np.flatnonzero(bad)[-1])  # walking back from T-1, the first step where they part
            self.mine.say(f"Walking back from t = {T - 1}, your ‖dL/dh_t‖ first leaves the reference at t = {t}: "
                          f"the reference has {ref[t]:.6g}, yours {got[t]:.6g}.", "error")
        rows = "".join(f"<tr><td>{t}</td><td>{ref[t]:.6g}</td><td>{got[t]:.6g}</td></tr>" for t in range(T))
        self.text.object = ("<details><summary>Numbers as text</summary><table><thead><tr><th scope='col'>t</th>"
                            "<th scope='col'>reference</th><th scope='col'>yours</th></tr></thead>"
                            f"<tbody>{rows}</tbody></table></details>")
