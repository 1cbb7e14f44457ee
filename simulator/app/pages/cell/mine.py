"""The Cell page's "Compare with my implementation": your own step function, run on exactly the page's inputs and
weights, beside the reference, with the first step, vector and unit where it parts from it.

Your code never runs in the server process: ``CourseServer.compare`` runs it in the grading sandbox (a
submission of yours, or code pasted here when signed in; guests only if the instructor allows it), one run at
a time per person, and this section polls for the result without blocking the page. The URL names the
submission (``mine=17``, visible to its owner and instructors only), never the code. Nothing here grades.
"""

from __future__ import annotations

import html

import numpy as np
import panel as pn

from autograder.server.trace import SHOWN, STATES, first_divergence
from simulator.app.components.equations import step_latex
from simulator.app.components.heatmap import TimeHeatmap
from simulator.app.components.mycode import MyCode
from simulator.app.components.reflow import wrapping, wraps
from simulator.app.pages.cell.model import CellModel

INTRO = ("Your own step function runs in the grader's sandbox on exactly these inputs and weights, step after step "
         "on its own states; the maps show your vectors beside the reference's and their difference, and the first "
         "step where they part is named below.")
NAMES = {"h": "hₜ", "c": "cₜ", "a": "aₜ", "f": "fₜ", "i": "iₜ", "g": "gₜ", "o": "oₜ", "z": "zₜ", "r": "rₜ", "n": "nₜ"}


class MineSection:
    """A collapsible section under the Cell page: pick a submission or paste code, press Compare.

    Built on first use: until the card is opened (or the URL names a submission, or a test reaches for its
    picker), the card holds one line of text, so a page nobody compares on costs neither the three heatmaps
    nor the submission query.
    """

    def __init__(self, model: CellModel, query: dict | None = None):
        self.model = model
        self.result: dict | None = None
        self._mine: MyCode | None = None
        self._wanted = (query or {}).get("mine")
        model.param.watch(lambda _e: self._stale(), ["kind", "inputs", "word", "D", "H", "T", "seed", "weights",
                                                     "edits"])
        model.param.watch(lambda _e: self._show_step(), ["t"])
        self.layout = pn.Card(pn.pane.Markdown(INTRO), title="Compare with my implementation",
                              collapsed=not self._wanted, sizing_mode="stretch_width")
        self.layout.param.watch(self._opened, "collapsed")
        if self._wanted:
            self.build()
            if self.mine.source.value:
                self.mine.run()

    @property
    def built(self) -> bool:
        return self._mine is not None

    def _opened(self, event) -> None:
        if not event.new:
            self.build()

    def build(self) -> None:
        """Make the picker, the maps and the text views and put them in the card (once)."""
        if self._mine is not None:
            return
        self.maps = {name: TimeHeatmap(title=title, width=380, height=150)
                     for name, title in (("ref", "reference"), ("mine", "yours"), ("diff", "yours − reference"))}
        self.equation = pn.pane.LaTeX("", renderer="katex", styles={"font-size": "14px"})
        self.text_view = pn.pane.HTML("", sizing_mode="stretch_width")
        self._mine = MyCode(lambda: (f"{self.model.kind}_cell",), self._start, self._show,
                            "def lstm_step(x, h_prev, c_prev, params):\n    ...", self._wanted)
        figures = wrapping(*(pn.pane.Bokeh(m.figure) for m in self.maps.values()))  # one per line on a phone
        self.layout.objects = [pn.pane.Markdown(INTRO + self._mine.intro()), wraps(self._mine.controls),
                               self._mine.status,
                               figures, self.equation, self.text_view]

    # the MyCode picker's names, kept for the tests and the page
    @property
    def mine(self) -> MyCode:
        self.build()
        return self._mine

    @property
    def status(self):
        return self.mine.status

    @property
    def paste(self):
        return self.mine.paste

    @property
    def future(self):
        return self.mine.future

    def run(self) -> None:
        self.mine.run()

    def _check(self) -> None:
        self.mine.check()

    def _start(self, user, submission_id, code):
        run = self.model.run
        cache = run.cache
        state0 = cache["state0"]
        states = tuple(state0) if isinstance(state0, tuple | list) else (state0,)
        h0, c0 = states[0], (states[1] if len(states) > 1 else None)
        if h0 is None:
            h0 = np.zeros((1, self.model.H))
        if self.model.kind == "lstm" and c0 is None:
            c0 = np.zeros((1, self.model.H))
        return self.mine.server.compare(user, "", self.model.kind, run.X, np.asarray(h0),
                                        None if c0 is None else np.asarray(c0), dict(cache["params"]),
                                        submission_id=submission_id, code=code)

    def _stale(self) -> None:
        self.result = None
        if not self.built:
            return
        self.mine.refill()
        self.mine.say("The settings changed: press Compare to run your code on the new inputs.")
        for m in self.maps.values():
            m.set_series(np.zeros((1, 1)))
        self.equation.object, self.text_view.object = "", ""

    # ------------------------------------------------------------------ showing
    def _reference_rows(self) -> list[dict]:
        kind = self.model.kind
        keep = STATES[kind] + SHOWN[kind]
        return [{k: s[k] for k in keep if k in s} for s in self.model.run.cache["steps"]]

    def _show(self, result: dict) -> None:
        self.result = result
        res, kind = self.result, self.model.kind
        ref = self._reference_rows()
        got = res["steps"]
        where = first_divergence(ref, got)
        vector = where["vector"] if where else "h"
        T = len(ref)
        refs = np.stack([r[vector][0] for r in ref])  # (T, H)
        mine = np.full_like(refs, np.nan)
        for t, row in enumerate(got):
            if vector in row:
                mine[t] = row[vector][0]
        self.maps["ref"].set_series(refs, f"reference {NAMES.get(vector, vector)}")
        self.maps["mine"].set_series(np.nan_to_num(mine), f"yours {NAMES.get(vector, vector)}")
        self.maps["diff"].set_series(np.nan_to_num(mine - refs), f"yours − reference, {NAMES.get(vector, vector)}")
        parts = []
        if res["error"]:
            parts.append(f"Your code stopped: {html.escape(res['error'])}")
        if where is None and not res["error"]:
            self.mine.say(f"Your {kind}_step matches the reference at every one of the {T} steps.", "ok")
        elif where is None:
            self.mine.say(f"Your code ran {len(got)} of {T} steps, matching the reference; then: "
                      f"{html.escape(res['error'])}", "error")
        else:
            self.mine.say(f"Your cell first leaves the reference at step t = {where['t']}, in "
                      f"{NAMES.get(vector, vector)} (unit {where['unit']}): the reference has "
                      f"{where['expected']:.6g}, yours {where['got']:.6g}. Until then every vector agrees.", "error")
            self.model.param.update(t=where["t"], unit=where["unit"],
                                    gate=vector if vector in self.model.param.gate.objects else "h")
        if res.get("diagnosis"):
            parts.append(f"The grader's visible check says: <em>{html.escape(res['diagnosis'])}</em>")
        self.text_view.object = "".join(f"<p>{p}</p>" for p in parts) + self._table(ref, got, vector)
        self._show_step()

    def _show_step(self) -> None:
        if not self.result:
            return
        t = self.model.t
        for m in self.maps.values():
            m.set_t(t)
        steps = self.model.run.cache["steps"]
        where = first_divergence(self._reference_rows(), self.result["steps"])
        if t < len(steps):
            vector = where["vector"] if where else "h"
            j = min(self.model.unit, steps[t]["h"].shape[1] - 1)
            mine = self.result["steps"][t].get(vector) if t < len(self.result["steps"]) else None
            yours = rf"\\ \text{{yours: }} {vector}_t[j] = {mine[0, j]:.3f}" if mine is not None else ""
            latex = step_latex(self.model.kind, steps[t], t, j, selected=vector)
            self.equation.object = latex.replace(r"\end{aligned}$$", yours + r"\end{aligned}$$")

    def _table(self, ref: list[dict], got: list[dict], vector: str) -> str:
        """The same numbers as text, for screen readers and for reading: step, reference, yours, difference."""
        rows = []
        for t, r in enumerate(ref):
            mine = got[t].get(vector) if t < len(got) else None
            shown = ", ".join(f"{v:.4f}" for v in mine[0]) if mine is not None else "not computed"
            diff = f"{np.abs(mine[0] - r[vector][0]).max():.2e}" if mine is not None else ""
            rows.append(f"<tr><td>{t}</td><td>{', '.join(f'{v:.4f}' for v in r[vector][0])}</td><td>{shown}</td>"
                        f"<td>{diff}</td></tr>")
        return (f"<details><summary>Numbers as text ({html.escape(vector)} at every step)</summary><table>"
                "<thead><tr><th scope='col'>t</th><th scope='col'>reference</th><th scope='col'>yours</th>"
                f"<th scope='col'>largest difference</th></tr></thead><tbody>{''.join(rows)}</tbody></table></details>")
