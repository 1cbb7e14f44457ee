"""The Architectures page's "Compare with my implementation": your ``<architecture>_forward`` on the page's example.

Your function runs once in the grading sandbox (an architectures submission of yours, or pasted code) on
exactly the example, weights and cell the page shows, with the reference's step function handed to it; its
outputs are drawn beside the reference's (the page's own run, never recomputed), step by step, and the first
output step where they part is named, with what that step reads.
"""

from __future__ import annotations

import html

import numpy as np
import panel as pn
from bokeh.models import ColumnDataSource
from bokeh.plotting import figure

from autograder.server.cases_view import pair_reader
from simulator.app.components.mycode import MyCode
from simulator.app.components.reflow import shrinking, wraps
from simulator.cells import STEP_FUNCTIONS

INTRO = ("Your architecture function runs in the grader's sandbox on exactly this example, these weights and this "
         "cell (the reference's step function is handed to it); each output step's largest difference from the "
         "reference is drawn below.")
SIGNATURES = {"one_to_one": "x, params, step", "one_to_many": "x, params, T, step", "many_to_one": "X, params, step",
              "many_to_many": "X, params, step", "encoder_decoder": "X, params, T_out, step"}


class ArchitecturesMine:
    """A collapsible section of the Architectures page: your outputs beside the reference's."""

    def __init__(self, model, query: dict | None = None):
        self.model = model
        self.source = ColumnDataSource({"n": [], "diff": []})
        self.figure = figure(title="largest |yours − reference| per output step", height=220, width=720,
                             x_axis_label="output step", toolbar_location=None)
        self.figure.vbar(x="n", top="diff", width=0.7, source=self.source, color="#c0392b")
        self.text = pn.pane.HTML("", sizing_mode="stretch_width")
        wanted = (query or {}).get("mine")
        self.mine = MyCode(lambda: ("architectures",), self._start, self._show,
                           "def many_to_one_forward(X, params, step):\n    ...", wanted)
        self.layout = pn.Card(pn.pane.Markdown(INTRO + self.mine.intro()), wraps(self.mine.controls), self.mine.status,
                              shrinking(self.figure), self.text, title="Compare with my implementation",
                              collapsed=not wanted, sizing_mode="stretch_width")
        self._expected = None
        model.param.watch(lambda _e: self._stale(), ["architecture", "kind", "H", "seed", "trained", "item",
                                                     "length"])

    def _stale(self) -> None:
        self.source.data = {"n": [], "diff": []}
        self.text.object = ""
        self.mine.say("The settings changed: press Compare to run your code on the new example.")

    def _start(self, user, submission_id, code):
        run, m = self.model.run, self.model
        name = f"{m.architecture}_forward"
        x = run.example.x
        params = {k: v for k, v in run.cache["params"].items()}
        step = STEP_FUNCTIONS[m.kind][0]
        if m.architecture in ("one_to_many", "encoder_decoder"):
            args = (x, params, run.example.T_out, step)
        else:
            args = (x, params, step)
        self._expected = np.asarray(run.cache["Y"])
        shape = self._expected.shape
        read = pair_reader(name, f"{name}'s outputs", shape)
        self.mine.paste.placeholder = f"def {name}({SIGNATURES[m.architecture]}):\n    ..."
        return self.mine.server.compare_call(user, "", name, args, read, submission_id=submission_id, code=code)

    def _show(self, result: dict) -> None:
        name = f"{self.model.architecture}_forward"
        if result["error"]:
            self.mine.say(f"Your code stopped: {html.escape(result['error'])}", "error")
            return
        ref, got = self._expected, result["value"]
        ref3 = ref[:, None] if ref.ndim == 2 else ref  # (B, K) -> (B, 1, K): one output step
        got3 = got[:, None] if got.ndim == 2 else got
        diff = np.abs(got3 - ref3).max(axis=(0, 2))  # (N,) over the output steps
        self.source.data = {"n": list(range(len(diff))), "diff": diff.tolist()}
        bad = ~np.isclose(got3, ref3, rtol=1e-6, atol=1e-8).all(axis=(0, 2))
        if not bad.any():
            self.mine.say(f"Your {name} matches the reference at every one of its {len(diff)} output steps.", "ok")
        else:
            n = int(np.flatnonzero(bad)[0])
            steps = self.model.run.cache.get("output_steps")
            at = f" (time step {int(steps[n])} of the unrolled network)" if steps is not None else ""
            self.mine.say(f"Your outputs first leave the reference at output step {n}{at}: largest difference "
                          f"{diff[n]:.3g}. The steps before it agree.", "error")
        rows = "".join(f"<tr><td>{n}</td><td>{', '.join(f'{v:.4f}' for v in ref3[0, n])}</td>"
                       f"<td>{', '.join(f'{v:.4f}' for v in got3[0, n])}</td></tr>" for n in range(ref3.shape[1]))
        self.text.object = ("<details><summary>Numbers as text</summary><table><thead><tr><th scope='col'>output "
                            "step</th><th scope='col'>reference</th><th scope='col'>yours</th></tr></thead>"
                            f"<tbody>{rows}</tbody></table></details>")
