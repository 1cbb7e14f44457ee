"""Checks for the ``bptt`` exercise: an RNN over time, back-propagation through time, clipping, gradient norms."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from autograder import cases as case_sets
from autograder import hypotheses as hyp
from autograder.calling import call, header, ok
from autograder.compare import SEQUENCE, SEQUENCE_GRAD, STATE, Layout, all_close, describe_mismatch, tolerance_text
from autograder.diagnose import explain
from autograder.values import as_array, as_array_dict, as_float, as_tuple, fail
from exercises.answers import bptt as bptt_answers

PARAM_LAYOUT = Layout(("row", "column"))
TIME = Layout(("t",), time_axis=0)


def _fail(head: str, problems: list[str], got: dict, case: dict, hyps) -> None:
    fail(f"{head}: {'; '.join(problems)}. {explain(got, case, hyps)} Tolerance: {tolerance_text()}.")


def _problems(pairs) -> list[str]:
    return [m for name, exp, got, layout in pairs if (m := describe_mismatch(name, exp, got, layout)) is not None]


def _student_forward(rnn_forward: Callable, case: dict, name: str = "rnn_forward"):
    out = call(rnn_forward, name, (case["X"], case["h0"], case["params"]), names=("X", "h0", "params"))
    H, cache = as_tuple(out, 2, f"{name} returned", "H, cache")
    B, T, _ = case["X"].shape
    return as_array(H, f"{name}: H", (B, T, case["h0"].shape[1])), cache


def _kind(hidden: bool) -> str:
    return "hidden" if hidden else "visible"


def check_rnn_forward(rnn_forward: Callable, hidden: bool = False) -> None:
    """Does ``rnn_forward(X, h0, params)`` return the reference ``(H, cache)``?"""
    cases = case_sets.sequence_cases(hidden)
    hyps = hyp.rnn_forward_hypotheses()
    for k, case in enumerate(cases):
        H, _ = _student_forward(rnn_forward, case)
        expected, _ = bptt_answers.rnn_forward(case["X"], case["h0"], case["params"])
        problems = _problems([("H", expected, H, SEQUENCE)])
        if problems:
            _fail(header("rnn_forward", k, len(cases), case, hidden), problems, {"H": H}, case, hyps)
    ok(f"rnn_forward matches the reference on {len(cases)} {_kind(hidden)} cases ({tolerance_text()})")


def check_rnn_backward(rnn_forward: Callable, rnn_backward: Callable, hidden: bool = False) -> None:
    """Does ``rnn_backward(dH, cache)`` return the reference ``(dX, dh0, grads)``?

    The cache comes from the student's own ``rnn_forward`` and is passed back untouched.
    """
    cases = case_sets.sequence_cases(hidden)
    hyps = hyp.rnn_backward_hypotheses()
    for k, case in enumerate(cases):
        head = header("rnn_backward", k, len(cases), case, hidden)
        H, cache = _student_forward(rnn_forward, case)
        ref_H, ref_cache = bptt_answers.rnn_forward(case["X"], case["h0"], case["params"])
        if not all_close(ref_H, H):
            fail(f"{head}: cannot be checked yet because rnn_forward differs from the reference; "
                 "make rnn_forward pass its test first.")
        out = call(rnn_backward, "rnn_backward", (case["dH"],), tail=(cache,), names=("dH",))
        dX, dh0, grads = as_tuple(out, 3, "rnn_backward returned", "dX, dh0, grads")
        got = {"dX": as_array(dX, "rnn_backward: dX", case["X"].shape),
               "dh0": as_array(dh0, "rnn_backward: dh0", case["h0"].shape),
               **as_array_dict(grads, "rnn_backward: grads", {n: v.shape for n, v in case["params"].items()})}
        e_dX, e_dh0, e_grads = bptt_answers.rnn_backward(case["dH"], ref_cache)
        pairs = [("dX", e_dX, got["dX"], SEQUENCE_GRAD), ("dh0", e_dh0, got["dh0"], STATE)]
        pairs += [(f"grads[{n!r}]", e_grads[n], got[n], PARAM_LAYOUT) for n in e_grads]
        problems = _problems(pairs)
        if problems:
            _fail(head, problems, got, case, hyps)
    ok(f"rnn_backward matches the reference on {len(cases)} {_kind(hidden)} cases ({tolerance_text()})")


def check_clip_gradients(clip_gradients: Callable, hidden: bool = False) -> None:
    """Does ``clip_gradients(grads, max_norm)`` return the reference ``(clipped, norm)``?"""
    cases = case_sets.clip_cases(hidden)
    hyps = hyp.clip_gradients_hypotheses()
    for k, case in enumerate(cases):
        out = call(clip_gradients, "clip_gradients", (case["grads"], case["max_norm"]), names=("grads", "max_norm"))
        clipped, norm = as_tuple(out, 2, "clip_gradients returned", "clipped grads, norm")
        shapes = {n: v.shape for n, v in case["grads"].items()}
        got = {**as_array_dict(clipped, "clip_gradients: clipped", shapes),
               "norm": np.array(as_float(norm, "clip_gradients: norm"))}
        e_clipped, e_norm = bptt_answers.clip_gradients(case["grads"], case["max_norm"])
        pairs = [(f"clipped[{n!r}]", e_clipped[n], got[n], PARAM_LAYOUT) for n in shapes]
        pairs.append(("norm", np.array(e_norm), got["norm"], None))
        problems = _problems(pairs)
        if problems:
            _fail(header("clip_gradients", k, len(cases), case, hidden), problems, got, case, hyps)
    ok(f"clip_gradients matches the reference on {len(cases)} {_kind(hidden)} cases ({tolerance_text()})")


def check_hidden_grad_norms(hidden_grad_norms: Callable, hidden: bool = False) -> None:
    """Does ``hidden_grad_norms(X, h0, params, dh_last)`` return the reference (T,) norms?"""
    cases = case_sets.sequence_cases(hidden)
    hyps = hyp.hidden_grad_norms_hypotheses()
    for k, case in enumerate(cases):
        out = call(hidden_grad_norms, "hidden_grad_norms", (case["X"], case["h0"], case["params"], case["dh_last"]),
                   names=("X", "h0", "params", "dh_last"))
        T = case["X"].shape[1]
        got = {"norms": as_array(out, "hidden_grad_norms returned", (T,))}
        expected = bptt_answers.hidden_grad_norms(case["X"], case["h0"], case["params"], case["dh_last"])
        problems = _problems([("norms", expected, got["norms"], TIME)])
        if problems:
            _fail(header("hidden_grad_norms", k, len(cases), case, hidden), problems, got, case, hyps)
    ok(f"hidden_grad_norms matches the reference on {len(cases)} {_kind(hidden)} cases ({tolerance_text()})")


def check_spectral_radius(spectral_radius: Callable, hidden: bool = False) -> None:
    """Does ``spectral_radius(W)`` return the reference ``max |eigenvalue|``?"""
    cases = case_sets.matrix_cases(hidden)
    hyps = hyp.spectral_radius_hypotheses()
    for k, case in enumerate(cases):
        out = call(spectral_radius, "spectral_radius", (case["W"],), names=("W",))
        got = {"rho": np.array(as_float(out, "spectral_radius returned"))}
        expected = np.array(bptt_answers.spectral_radius(case["W"]))
        problems = _problems([("the spectral radius", expected, got["rho"], None)])
        if problems:
            _fail(header("spectral_radius", k, len(cases), case, hidden), problems, got, case, hyps)
    ok(f"spectral_radius matches the reference on {len(cases)} {_kind(hidden)} cases ({tolerance_text()})")
