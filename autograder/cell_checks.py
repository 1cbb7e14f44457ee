"""Checks for the cell exercises (rnn_cell, lstm_cell, gru_cell): one step forward and backward.

Backward checks compare with the reference when the student's forward is right; when the forward
has a recognised bug, they check instead that the backward is the exact gradient of the student's own
forward (central finite differences), so each skill earns its own points.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from autograder import cases as case_sets
from autograder import hypotheses as hyp
from autograder.calling import call, header, ok
from autograder.compare import STATE, Layout, all_close, describe_mismatch, tolerance_text
from autograder.diagnose import explain, matching_hypothesis
from autograder.values import as_array, as_array_dict, as_tuple, fail
from simulator import cells

FD_EPS = 1e-5
FD_RTOL = 1e-5
FD_ATOL = 1e-7
FD_DIRECTIONS = 2


# ----------------------------------------------------------------------------- cell specs
@dataclass(frozen=True)
class CellSpec:
    kind: str
    states: tuple[str, ...]        # state inputs after x, e.g. ("h_prev", "c_prev")
    outputs: tuple[str, ...]       # forward outputs before the cache, e.g. ("h", "c")
    upstream: tuple[str, ...]      # backward inputs before the cache, e.g. ("dh", "dc")
    blocks: tuple[str, ...]        # gate names of the column blocks of W and b

    @property
    def step_name(self) -> str:
        return f"{self.kind}_step"

    @property
    def input_grads(self) -> tuple[str, ...]:
        return ("dx",) + tuple(f"d{s}" for s in self.states)

    def param_shapes(self, case: dict) -> dict[str, tuple[int, ...]]:
        return {k: v.shape for k, v in case["params"].items()}

    def layout(self, name: str) -> Layout:
        if name.startswith("W"):
            return Layout(("input row" if name in ("W_x", "W_xh") else "state row", "column"), blocks=self.blocks)
        if name.startswith("b"):
            return Layout(("column",), blocks=self.blocks)
        return STATE if name != "dx" else Layout(("batch", "input"))


SPECS = {
    "rnn": CellSpec("rnn", ("h_prev",), ("h",), ("dh",), ()),
    "lstm": CellSpec("lstm", ("h_prev", "c_prev"), ("h", "c"), ("dh", "dc"), ("i", "f", "g", "o")),
    "gru": CellSpec("gru", ("h_prev",), ("h",), ("dh",), ("z", "r", "n")),
}
FORWARD_HYPOTHESES = {"rnn": hyp.rnn_step_hypotheses, "lstm": hyp.lstm_step_hypotheses,
                      "gru": hyp.gru_step_hypotheses}
BACKWARD_HYPOTHESES = {"rnn": hyp.rnn_step_backward_hypotheses, "lstm": hyp.lstm_step_backward_hypotheses,
                       "gru": hyp.gru_step_backward_hypotheses}


def _kwargs(spec: CellSpec, case: dict) -> dict:
    # Only non-default options are passed, as sequence.forward does, so a stub without them still runs.
    return {"reset_after": False} if spec.kind == "gru" and not case["reset_after"] else {}


def _student_forward(spec: CellSpec, fn: Callable, case: dict, what: str | None = None):
    """Run the student's step on ``case``; returns (outputs dict, opaque cache)."""
    name = what or spec.step_name
    args = (case["x"], *(case[s] for s in spec.states), case["params"])
    out = call(fn, name, args, _kwargs(spec, case), names=("x", *spec.states, "params"))
    items = as_tuple(out, len(spec.outputs) + 1, f"{name} returned", ", ".join((*spec.outputs, "cache")))
    B, H = case["h_prev"].shape
    got = {o: as_array(v, f"{name}: {o}", (B, H)) for o, v in zip(spec.outputs, items, strict=False)}
    return got, items[-1]


def _reference_forward(spec: CellSpec, case: dict) -> dict:
    args = (case["x"], *(case[s] for s in spec.states), case["params"])
    out = getattr(cells, spec.step_name)(*args, **_kwargs(spec, case))
    return dict(zip(spec.outputs, out[:-1], strict=True))


def _reference_backward(spec: CellSpec, case: dict) -> dict:
    args = (case["x"], *(case[s] for s in spec.states), case["params"])
    cache = getattr(cells, spec.step_name)(*args, **_kwargs(spec, case))[-1]
    out = getattr(cells, f"{spec.step_name}_backward")(*(case[u] for u in spec.upstream), cache)
    return {**dict(zip(spec.input_grads, out[:-1], strict=True)), **out[-1]}


def _student_backward(spec: CellSpec, fn: Callable, case: dict, cache) -> dict:
    """Run the student's backward on the upstream gradients and the student's own (opaque) cache."""
    name = f"{spec.step_name}_backward"
    out = call(fn, name, tuple(case[u] for u in spec.upstream), tail=(cache,), names=spec.upstream)
    names = (*spec.input_grads, "grads")
    items = as_tuple(out, len(names), f"{name} returned", ", ".join(names))
    B, H = case["h_prev"].shape
    got = {"dx": as_array(items[0], f"{name}: dx", case["x"].shape)}
    for n_, v in zip(spec.input_grads[1:], items[1:-1], strict=True):
        got[n_] = as_array(v, f"{name}: {n_}", (B, H))
    got.update(as_array_dict(items[-1], f"{name}: grads", spec.param_shapes(case)))
    return got


def _label(key: str, case: dict) -> str:
    return f"grads[{key!r}]" if key in case["params"] else key


def _mismatches(spec: CellSpec, case: dict, expected: dict, got: dict, keys) -> list[str]:
    found = (describe_mismatch(_label(k, case), expected[k], got[k], spec.layout(k)) for k in keys)
    return [m for m in found if m is not None]


def _step_cases(spec: CellSpec, hidden: bool, reset_after: bool = True) -> list[dict]:
    out = case_sets.step_cases(spec.kind, hidden)
    for c in out:
        c["reset_after"] = reset_after
    return out


def _check_step(spec: CellSpec, fn: Callable, hidden: bool, reset_after: bool = True) -> None:
    cases = _step_cases(spec, hidden, reset_after)
    hyps = FORWARD_HYPOTHESES[spec.kind]()
    for k, case in enumerate(cases):
        got, _ = _student_forward(spec, fn, case)
        expected = _reference_forward(spec, case)
        problems = _mismatches(spec, case, expected, got, spec.outputs)
        if problems:
            fail(f"{header(spec.step_name, k, len(cases), case, hidden)}: {'; '.join(problems)}. "
                 f"{explain(got, case, hyps)} Tolerance: {tolerance_text()}.")
    option = "" if reset_after else " with reset_after=False"
    ok(f"{spec.step_name}{option} matches the reference on {len(cases)} {'hidden' if hidden else 'visible'} "
        f"cases ({tolerance_text()})")


WRT = ("all", "inputs", "params")


def _check_step_backward(spec: CellSpec, fn: Callable, fn_b: Callable, hidden: bool, wrt: str,
                         reset_after: bool = True) -> None:
    if wrt not in WRT:
        raise ValueError(f"wrt: got {wrt!r}; expected one of {WRT}")
    name = f"{spec.step_name}_backward"
    cases = _step_cases(spec, hidden, reset_after)
    fwd_hyps = FORWARD_HYPOTHESES[spec.kind]()
    back_hyps = BACKWARD_HYPOTHESES[spec.kind]()
    by_consistency = []
    for k, case in enumerate(cases):
        head = header(name, k, len(cases), case, hidden)
        got_f, cache = _student_forward(spec, fn, case)
        got = _student_backward(spec, fn_b, case, cache)
        params = list(case["params"])
        keys = {"all": [*spec.input_grads, *params], "inputs": list(spec.input_grads), "params": params}[wrt]
        if all(all_close(v, got_f[o]) for o, v in _reference_forward(spec, case).items()):
            expected = _reference_backward(spec, case)
            problems = _mismatches(spec, case, expected, got, keys)
            if problems:
                fail(f"{head}: {'; '.join(problems)}. {explain(got, case, back_hyps)} "
                     f"Tolerance: {tolerance_text()}.")
            continue
        bug = matching_hypothesis(got_f, case, fwd_hyps)
        if bug is None:
            fail(f"{head}: cannot be checked yet because {spec.step_name} differs from the reference in a way the "
                 f"grader does not recognise; make {spec.step_name} pass its test first.")
        _check_consistent(spec, fn, case, got, keys, head)
        by_consistency.append(k + 1)
    note = ""
    if by_consistency:
        note = (f"; {spec.step_name} itself differs from the reference, so on cases {by_consistency} the "
                f"gradients were checked against your own {spec.step_name} by central finite differences "
                f"(eps={FD_EPS:g}, rtol={FD_RTOL:g}, atol={FD_ATOL:g})")
    part = {"all": "all gradients", "inputs": "gradients with respect to the inputs and states",
            "params": "gradients with respect to the parameters"}[wrt]
    ok(f"{name}: {part} match on {len(cases)} {'hidden' if hidden else 'visible'} cases "
        f"({tolerance_text()}){note}")


def _check_consistent(spec: CellSpec, fn: Callable, case: dict, got: dict, keys: list[str], head: str) -> None:
    """Directional derivatives of ``L = sum_k <upstream_k, output_k>`` of the student's forward vs ``got``."""
    rng = np.random.default_rng(12345)

    def loss(c: dict) -> float:
        outs, _ = _student_forward(spec, fn, c)
        return float(sum((c[u] * outs[o]).sum() for u, o in zip(spec.upstream, spec.outputs, strict=True)))

    for key in keys:
        for _ in range(FD_DIRECTIONS):
            is_param = key in case["params"]
            base = case["params"][key] if is_param else case[key[1:]]
            v = rng.standard_normal(base.shape)

            def shifted(sign: float, key=key, is_param=is_param, base=base, v=v) -> dict:
                c = dict(case)
                if is_param:
                    c["params"] = {**case["params"], key: base + sign * FD_EPS * v}
                else:
                    c[key[1:]] = base + sign * FD_EPS * v
                return c

            fd = (loss(shifted(1.0)) - loss(shifted(-1.0))) / (2 * FD_EPS)
            analytic = float((got[key] * v).sum())
            if abs(fd - analytic) > FD_ATOL + FD_RTOL * max(abs(fd), abs(analytic)):
                label = _label(key, case)
                fail(f"{head}: {label} is not the gradient of your own {spec.step_name}: along a random direction v, "
                     f"finite differences give dL/dv = {fd:.6g} but your {label} gives {analytic:.6g} "
                     f"(L = sum of upstream gradients times outputs; eps={FD_EPS:g}, rtol={FD_RTOL:g}, "
                     f"atol={FD_ATOL:g}). Your {spec.step_name} differs from the reference, so the backward is "
                     "checked against it; a parameter your forward ignores has gradient 0.")


# ----------------------------------------------------------------------------- public checks: cells
def check_rnn_step(rnn_step: Callable, hidden: bool = False) -> None:
    """Does ``rnn_step(x, h_prev, params)`` return the reference ``(h, cache)``?"""
    _check_step(SPECS["rnn"], rnn_step, hidden)


def check_rnn_step_backward(rnn_step: Callable, rnn_step_backward: Callable, hidden: bool = False,
                            wrt: str = "all") -> None:
    """Does ``rnn_step_backward(dh, cache)`` return the reference ``(dx, dh_prev, grads)``?

    ``wrt`` restricts the comparison to ``"inputs"`` (dx, dh_prev) or ``"params"`` (grads).
    """
    _check_step_backward(SPECS["rnn"], rnn_step, rnn_step_backward, hidden, wrt)


def check_lstm_step(lstm_step: Callable, hidden: bool = False) -> None:
    """Does ``lstm_step(x, h_prev, c_prev, params)`` return the reference ``(h, c, cache)``?"""
    _check_step(SPECS["lstm"], lstm_step, hidden)


def check_lstm_step_backward(lstm_step: Callable, lstm_step_backward: Callable, hidden: bool = False,
                             wrt: str = "all") -> None:
    """Does ``lstm_step_backward(dh, dc, cache)`` return the reference ``(dx, dh_prev, dc_prev, grads)``?"""
    _check_step_backward(SPECS["lstm"], lstm_step, lstm_step_backward, hidden, wrt)


def check_gru_step(gru_step: Callable, hidden: bool = False, reset_after: bool = True) -> None:
    """Does ``gru_step(x, h_prev, params, reset_after)`` return the reference ``(h, cache)``?"""
    _check_step(SPECS["gru"], gru_step, hidden, reset_after)


def check_gru_step_backward(gru_step: Callable, gru_step_backward: Callable, hidden: bool = False,
                            wrt: str = "all", reset_after: bool = True) -> None:
    """Does ``gru_step_backward(dh, cache)`` return the reference ``(dx, dh_prev, grads)``?"""
    _check_step_backward(SPECS["gru"], gru_step, gru_step_backward, hidden, wrt, reset_after)
