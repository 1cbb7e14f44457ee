"""The Cell page's "Compare with my implementation": your own step function, run on exactly the page's inputs and
weights, beside the reference, with the first step, vector and unit where it parts from it.

Your code never runs in the server process: ``CourseServer.compare`` runs it in the grading sandbox (a
submission of yours, or code pasted here when signed in; guests only if the instructor allows it), one run at
a time per person, and this section polls for the result without blocking the page. The URL names the
submission (``mine=17``, visible to its owner and instructors only), never the code. Nothing here grades.
"""

from __future__ import annotations

import html
import logging

import numpy as np
import panel as pn

from autograder.server.submissions import RefusedError, parse_id
from autograder.server.trace import SHOWN, STATES, TraceError, first_divergence
from simulator.app.components.equations import step_latex
from simulator.app.components.heatmap import TimeHeatmap
from simulator.app.pages.cell.model import CellModel
from simulator.app.pages.course import context

log = logging.getLogger(__name__)
POLL_MS = 200
MAX_PASTE = 64 * 1024
NAMES = {"h": "hₜ", "c": "cₜ", "a": "aₜ", "f": "fₜ", "i": "iₜ", "g": "gₜ", "o": "oₜ", "z": "zₜ", "r": "rₜ", "n": "nₜ"}


def _label(row: dict) -> str:
    score = f"{row['score']:g}/{row['max_score']:g}" if row["score"] is not None else row["status"]
    return f"#{row['id']} · {row['assignment']} · {score}"


class MineSection:
    """A collapsible section under the Cell page: pick a submission or paste code, press Compare."""

    def __init__(self, model: CellModel, query: dict | None = None):
        self.model = model
        self.server, self.user = context.server(), context.current_user()
        self.future = None
        self.result: dict | None = None
        self._poll = None
        self.status = pn.pane.HTML("", sizing_mode="stretch_width")
        self.maps = {name: TimeHeatmap(title=title, width=380, height=150)
                     for name, title in (("ref", "reference"), ("mine", "yours"), ("diff", "yours − reference"))}
        self.equation = pn.pane.LaTeX("", renderer="katex", styles={"font-size": "14px"})
        self.text_view = pn.pane.HTML("", sizing_mode="stretch_width")
        self.source = pn.widgets.Select(name="Your code", width=320)
        self.paste = pn.widgets.TextAreaInput(name="…or paste a step function (at most 64 KiB)", height=160,
                                              width=520, max_length=MAX_PASTE,
                                              placeholder="def lstm_step(x, h_prev, c_prev, params):\n    ...")
        self.button = pn.widgets.Button(name="Compare", button_type="primary", width=140, height=40)
        self.button.on_click(lambda _e: self.run())
        self._fill_sources()
        wanted = parse_id((query or {}).get("mine"))  # None for anything but 1-10 ASCII digits
        if wanted is not None and wanted in self.source.values:
            self.source.value = wanted
        model.param.watch(lambda _e: self._stale(), ["kind", "inputs", "word", "D", "H", "T", "seed", "weights",
                                                     "edits"])
        model.param.watch(lambda _e: self._show_step(), ["t"])
        figures = pn.Row(*(pn.pane.Bokeh(m.figure) for m in self.maps.values()))
        self.layout = pn.Card(
            pn.pane.Markdown(self._intro()), pn.Row(self.source, self.paste, self.button), self.status,
            figures, self.equation, self.text_view,
            title="Compare with my implementation", collapsed=not wanted, sizing_mode="stretch_width")
        if wanted and self.source.value:
            self.run()

    # ------------------------------------------------------------------ inputs
    def _intro(self) -> str:
        if self.server is None:
            return "This server has no course, so there is no code of yours to run."
        who = "" if self.user else (" [Sign in](/login?next=/cell) to use one of your submissions." +
                                    ("" if self.server.option("anonymous_compare", "off") == "on" else
                                     " Guests cannot run pasted code on this server."))
        return ("Your own step function runs in the grader's sandbox on exactly these inputs and weights, step after "
                "step on its own states; the maps show your vectors beside the reference's and their difference, "
                f"and the first step where they part is named below.{who}")

    def _fill_sources(self) -> None:
        options = {"pasted code": None}
        if self.server is not None and self.user is not None:
            try:
                rows = self.server.submissions_of(self.user, student=self.user.name)
            except Exception as exc:  # noqa: BLE001 - the section says so; the page keeps working
                log.warning("compare: cannot list submissions: %s", exc)
                rows = []
            kinds = (f"{self.model.kind}_cell",)
            mine = [r for r in rows if r["assignment"] in kinds and r["student"] == self.user.name]
            options = {_label(r): r["id"] for r in mine} | options
        self.source.options = options
        self.source.value = next(iter(options.values()))

    def _say(self, text: str, kind: str = "info") -> None:
        colour = {"info": "#1a1a1a", "error": "#a10000", "ok": "#1e6b2e"}[kind]
        self.status.object = f"<p role='status' aria-live='polite' style='color:{colour}'>{text}</p>"

    # ------------------------------------------------------------------ running
    def run(self) -> None:
        if self.server is None:
            return self._say("This server has no course.", "error")
        if self.future is not None and not self.future.done():
            return self._say("Your comparison is still running…")
        run = self.model.run
        cache = run.cache
        state0 = cache["state0"]
        h0, c0 = (state0 if isinstance(state0, tuple) else (state0, None))
        if h0 is None:
            h0 = np.zeros((1, self.model.H))
        if self.model.kind == "lstm" and c0 is None:
            c0 = np.zeros((1, self.model.H))
        who = self.user.name if self.user else "guest"  # the server counts guests together whatever this says
        code = None if self.source.value is not None else self.paste.value
        if self.source.value is None and not (code or "").strip():
            return self._say("Paste a step function first (or sign in and pick a submission).", "error")
        try:
            self.future = self.server.compare(self.user, who, self.model.kind, run.X, np.asarray(h0),
                                              None if c0 is None else np.asarray(c0), dict(cache["params"]),
                                              submission_id=self.source.value, code=code)
        except RefusedError as exc:
            return self._say(html.escape(exc.message), "error")
        if self.source.value is not None and pn.state.location is not None:
            pn.state.location.update_query(mine=self.source.value)
        self._say("Running your code in the sandbox…")
        if self._poll is None:
            self._poll = pn.state.add_periodic_callback(self._check, period=POLL_MS)

    def _check(self) -> None:
        if self.future is None or not self.future.done():
            return
        self._poll.stop()
        self._poll = None
        try:
            self.result = self.future.result()
        except TraceError as exc:
            self.result = None
            return self._say(html.escape(str(exc)), "error")
        except RefusedError as exc:
            self.result = None
            return self._say(html.escape(exc.message), "error")
        except Exception as exc:  # noqa: BLE001 - the reference view stays usable; the log gets one line
            log.warning("compare: the run failed: %s", exc)
            self.result = None
            return self._say("Your code could not be run right now; try again in a moment.", "error")
        self._show()

    def _stale(self) -> None:
        self.result = None
        self._fill_sources()
        self._say("The settings changed: press Compare to run your code on the new inputs.")
        for m in self.maps.values():
            m.set_series(np.zeros((1, 1)))
        self.equation.object, self.text_view.object = "", ""

    # ------------------------------------------------------------------ showing
    def _reference_rows(self) -> list[dict]:
        kind = self.model.kind
        keep = STATES[kind] + SHOWN[kind]
        return [{k: s[k] for k in keep if k in s} for s in self.model.run.cache["steps"]]

    def _show(self) -> None:
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
            self._say(f"Your {kind}_step matches the reference at every one of the {T} steps.", "ok")
        elif where is None:
            self._say(f"Your code ran {len(got)} of {T} steps, matching the reference; then: "
                      f"{html.escape(res['error'])}", "error")
        else:
            self._say(f"Your cell first leaves the reference at step t = {where['t']}, in "
                      f"{NAMES.get(vector, vector)} (unit {where['unit']}): the reference has "
                      f"{where['expected']:.6g}, yours {where['got']:.6g}. Until then every vector agrees.", "error")
            self.model.param.update(t=where["t"], unit=where["unit"],
                                    gate=vector if vector in self.model.param.gate.objects else "h")
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
