"""The Cell page showing a visible grading case: the exact inputs, state and weights of a test that failed.

``/cell?case=lstm:1:0`` opens visible case 1 of ``lstm_step`` (numbered from 1, as the feedback says), batch
row 0, as a one-step run from that case's ``h_prev`` [``c_prev``] with the case's weights; the feedback
page's links point here. Hidden cases are never shown. Nothing here computes a gate: the run is the core's.
"""

from __future__ import annotations

import re

import numpy as np
import param

from autograder.server.cases_view import visible_step_case
from simulator import sequence
from simulator.app.pages.cell.model import CellModel, Run
from simulator.cells import Cell

CASE = re.compile(r"^(rnn|lstm|gru):(\d{1,2}):(\d{1,2})$")


def parse_case(text: str) -> tuple[str, int, int]:
    """``'lstm:1:0'`` -> ("lstm", case index 0, batch row 0); ValueError naming the expected form."""
    match = CASE.match(text or "")
    if not match or int(match.group(2)) < 1:
        raise ValueError(f"case: {text[:40]!r}; expected KIND:CASE:ROW such as lstm:1:0 (a visible case of the "
                         "notebook's tests, numbered from 1)")
    return match.group(1), int(match.group(2)) - 1, int(match.group(3))


class CaseCellModel(CellModel):
    """A ``CellModel`` whose one run is a visible grading case instead of the seeded presets."""

    case = param.String(default="", doc="Visible grading case shown, KIND:CASE:ROW (e.g. lstm:1:0); '' = presets.")
    label = param.String(default="", doc="The case as the feedback names it, e.g. 'lstm_step, visible case 1 (B=2…)'.")

    def __init__(self, **params):
        case = params.pop("case", "")
        super().__init__(**params)
        if case:
            self.show_case(case)

    def show_case(self, text: str) -> None:
        try:
            kind, k, b = parse_case(text)
            case = visible_step_case(kind, k)
        except ValueError as exc:
            self.error = str(exc)
            return
        B, D = case["x"].shape
        if b >= B:
            self.error = f"case: row {b}; case {k + 1} of {kind}_step has rows 0 to {B - 1}"
            return
        self._case = (kind, case, b)
        with param.parameterized.discard_events(self):
            self.param.update(case=text, kind=kind, compare=False, D=D, H=case["h_prev"].shape[1], T=1, t=0,
                              label=f"{kind}_step, visible case {k + 1} ({case['label']}), batch row {b}")
        self._recompute()

    def _inputs(self) -> np.ndarray | None:
        if not self.case:
            return super()._inputs()
        _, case, b = self._case
        return case["x"][b:b + 1, None, :]  # (B, D) -> (1, 1, D): one step of row b

    def _run(self, kind: str, X: np.ndarray, edits: str) -> Run:
        if not self.case:
            return super()._run(kind, X, edits)
        _, case, b = self._case
        cell = Cell(kind, {name: value.copy() for name, value in case["params"].items()})
        h0 = case["h_prev"][b:b + 1]
        state0 = (h0, case["c_prev"][b:b + 1]) if kind == "lstm" else h0
        _, cache = sequence.forward(cell, X, state0)
        tr = sequence.trace(cache)
        return Run(kind, X, cache, {name: v[0] for name, v in tr.items()})  # (1, T, n) -> (T, n)
