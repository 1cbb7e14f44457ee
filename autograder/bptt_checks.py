"""Checks for the ``bptt`` exercise: an RNN over time, back-propagation through time, clipping, gradient norms.

Each function earns its points on its own (DESIGN invariant 7). ``rnn_backward`` is called on the cache of the
student's ``rnn_forward`` when that forward matches the reference on the case; otherwise (a wrong, raising,
wrong-shaped or in-place forward) on the cache the notebook prescribes, built from the reference: the list of
the ``T`` caches ``rnn_step`` returned, ``caches[t]`` for step ``t``. A failure is explained by
``autograder.sequence_probes``: suspects (the catalogue of ``autograder.hypotheses`` plus the changed-order and
changed-input suspects below), then probes (one step, a loss on one step only, switched-off recurrence).
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import numpy as np

from autograder import bptt_grammar
from autograder import cases as case_sets
from autograder import hypotheses as hyp
from autograder.calling import call, header, ok
from autograder.cell_checks import graded_with_large, overflow, raised_text
from autograder.channel import ChannelClosedError, ChannelTimeoutError, ProtocolError
from autograder.compare import SEQUENCE, SEQUENCE_GRAD, STATE, Layout, all_close, describe_mismatch, tolerance_text
from autograder.layout_diagnosis import layout_suspects
from autograder.precision_diagnosis import as_array, as_array_dict, diagnose
from autograder.sequence_probes import (
    Confirmation,
    Finding,
    Probe,
    Suspect,
    attempt,
    differs,
    layout_probe,
    loose_array,
    same,
    steps_text,
    wrong_shape,
)
from autograder.state_diagnosis import rerun_finding
from autograder.values import as_float, as_tuple, fail, type_name
from exercises.answers import bptt as bptt_answers
from simulator import cells, sequence

PARAM_LAYOUT = Layout(("row", "column"))
TIME = Layout(("t",), time_axis=0)
FORWARD_LINE = "h_t = tanh(x_t W_xh + h_{t-1} W_hh + b_h) for t = 0 .. T-1 from h0, H[:, t] = h_t"
BACKWARD_LINE = "dh_t = dH[:, t] + dh_prev(step t+1) for t = T-1 down to 0, dh0 = dh_prev(step 0)"
SUM_LINE = "grads[k] = sum over t of step t's grads[k]"
CLIP_LINE = "clipped = g * min(1, max_norm / norm) with norm = sqrt(sum over all g of sum g^2)"
NORMS_LINE = "norms[t] = ||dL/dh_t|| with dL/dh_{T-1} = dh_last and dL/dh_{t-1} = dh_prev(step t)"
RADIUS_LINE = "rho(W) = max_k |lambda_k(W)|"


def _kind(hidden: bool) -> str:
    return "hidden" if hidden else "visible"


def _problems(pairs) -> list[str]:
    return [m for name, exp, got, layout in pairs if (m := describe_mismatch(name, exp, got, layout)) is not None]


def _with(case: dict, **changes) -> dict:
    return {**case, **changes}


def _params(case: dict, **changes) -> dict:
    return {**case["params"], **changes}


# ----------------------------------------------------------------------------- the reference, re-chained
def _ref_H(case: dict) -> np.ndarray:
    return bptt_answers.rnn_forward(case["X"], case["h0"], case["params"])[0]


def step_caches(case: dict) -> list[dict]:
    """The cache the notebook prescribes, from the reference: ``caches[t]`` is what ``rnn_step`` returns at t."""
    h, out = case["h0"], []
    for t in range(case["X"].shape[1]):
        h, cache = cells.rnn_step(case["X"][:, t], h, case["params"])
        out.append(cache)
    return out


def _walk(case: dict, ts, dh_of=None, cache_of=None, carry=None, jacobian: bool = True, step_backward=None):
    """Reference step backwards chained over the steps ``ts`` (in that order).

    ``dh_of(dH_t, carry)`` is what step t receives (default ``dH_t + carry``), ``cache_of(t)`` the step cache
    it reads (default step t's), ``carry`` the gradient before the first step walked (default zeros);
    ``jacobian=False`` passes the received ``dh`` itself on instead of the step's ``dh_prev``;
    ``step_backward(dh, cache) -> (dx, dh_prev, grads)`` replaces the reference step (a step-level bug).
    Returns dX, the last carry, the summed grads and the ``dh`` the last walked step received.
    """
    caches = step_caches(case)
    dH = case["dH"]
    dX = np.zeros_like(case["X"])
    grads = {k: np.zeros_like(v) for k, v in case["params"].items()}
    carry = np.zeros_like(case["h0"]) if carry is None else carry
    dh = carry
    back = cells.rnn_step_backward if step_backward is None else step_backward
    for t in ts:
        dh = dH[:, t] + carry if dh_of is None else dh_of(dH[:, t], carry)
        dX[:, t], dh_prev, g = back(dh, caches[t if cache_of is None else cache_of(t)])
        carry = dh_prev if jacobian else dh
        grads = {k: grads[k] + g[k] for k in grads}
    return dX, carry, grads, dh


def _grads(dX, dh0, grads) -> dict:
    return {"dX": dX, "dh0": dh0, **grads}


def _T(case: dict) -> int:
    return case["X"].shape[1]


def _lifted_forward(h: hyp.Hypothesis, case: dict) -> dict | None:
    """The reference unrolled with the step-level bug ``h`` (a hypothesis of ``rnn_step``) at every step."""
    def step(x, h_prev, params):
        out = h.outputs({"x": x, "h_prev": h_prev, "params": params})
        if out is None:
            raise ValueError("the step bug cannot be expressed on these shapes")
        return out["h"], out.get("cache")

    try:
        return {"H": sequence.forward(cells.Cell("rnn", case["params"], step=step), case["X"], case["h0"])[0]}
    except ValueError:
        return None


def rnn_forward_suspects() -> list[Suspect]:
    """The catalogue's forward bugs, then the loop and layout bugs (a wrong-shaped H is diagnosed too), then every
    bug of the step's catalogue made a sequence bug (an inline step written with it at every t).
    """

    def ref(c, **changes):
        return _ref_H(_with(c, **changes))

    line = FORWARD_LINE
    return [
        *[Suspect(h.bug, h.text, h.outputs, line) for h in hyp.rnn_forward_hypotheses()],
        Suspect("time-major output", "H is stacked time first, (T, B, H) (np.stack(states, axis=0))",
                lambda c: {"H": ref(c).swapaxes(0, 1)}, "H = np.stack(states, axis=1)  # (B, T, H)"),
        Suspect("step 0 skipped", "the loop starts at t=1 (x_0 is never read and H has T-1 steps)",
                lambda c: {"H": ref(c, X=c["X"][:, 1:])} if _T(c) > 1 else None, line),
        Suspect("time reversed", "the steps run from t=T-1 down to 0 and H[:, t] holds the state after x_t",
                lambda c: {"H": ref(c, X=c["X"][:, ::-1])[:, ::-1]}, line),
        Suspect("time reversed", "the steps run from t=T-1 down to 0 and H is stored in that order",
                lambda c: {"H": ref(c, X=c["X"][:, ::-1])}, line),
        *[Suspect(h.bug, f"each step has this bug: {h.text}", lambda c, h=h: _lifted_forward(h, c), line)
          for h in hyp.rnn_step_hypotheses()],
    ]


def lifted_step(h: hyp.Hypothesis) -> Callable:
    """The reference step backward under the step-level bug ``h`` (a hypothesis of ``rnn_step_backward``)."""

    def back(dh, cache):
        out = h.outputs({"dh": dh, "cache": cache})
        return out["dx"], out["dh_prev"], {k: out[k] for k in ("W_xh", "W_hh", "b_h")}

    return back


def _changes(h: hyp.Hypothesis, reads: tuple[str, ...]) -> bool:
    """Does the step bug ``h`` change any of the step outputs ``reads`` (on one fixed, grader-chosen step)?"""
    rng = np.random.default_rng(2024)
    params = {"W_xh": rng.standard_normal((2, 3)), "W_hh": rng.standard_normal((3, 3)), "b_h": rng.standard_normal(3)}
    _, cache = cells.rnn_step(rng.standard_normal((2, 2)), rng.standard_normal((2, 3)), params)
    dh = rng.standard_normal((2, 3))
    dx, dh_prev, grads = cells.rnn_step_backward(dh, cache)
    right = {"dx": dx, "dh_prev": dh_prev, **grads}
    wrong = h.outputs({"dh": dh, "cache": cache})
    if wrong is None:  # a bug expressible only on square weights (D = H) is not lifted
        return False
    return any(not same(right[k], wrong[k]) for k in reads)


def step_bug_suspects(walk: Callable[[dict, Callable], dict | None], line: str,
                      reads: tuple[str, ...] = ("dx", "dh_prev", "W_xh", "W_hh", "b_h")) -> list[Suspect]:
    """Every bug of the step backward's catalogue, made a sequence bug: ``walk(case, step_backward)`` chains the
    reference over time with the buggy step, so any step-level bug a student writes inline in BPTT (or in the
    gradient-norm walk) is named as that step bug. ``reads``: the step outputs the walk uses (a step bug that
    changes none of them cannot show, and is left out).
    """
    return [Suspect(h.bug, f"each step's backward has this bug: {h.text}",
                    lambda c, h=h: walk(c, lifted_step(h)), line)
            for h in hyp.rnn_step_backward_hypotheses() if _changes(h, reads)]


def rnn_backward_suspects() -> list[Suspect]:
    """The catalogue's BPTT bugs, then steps chained in a wrong order or from a wrong start, then step bugs."""

    def back(c):
        return range(_T(c) - 1, -1, -1)

    def forward_in_time(c):
        dX, carry, g, _ = _walk(c, range(_T(c)))
        return _grads(dX, carry, g)

    def skip_zero(c):
        if _T(c) < 2:
            return None
        dX, carry, g, _ = _walk(c, range(_T(c) - 1, 0, -1))
        return _grads(dX, carry, g)

    def dh0_is_dh(c):
        dX, _, g, dh = _walk(c, back(c))
        return _grads(dX, dh, g)

    def dh0_from_step1(c):
        dX, _, g, _ = _walk(c, back(c))
        return _grads(dX, _walk(c, range(_T(c) - 1, 0, -1))[1], g)

    def caches_reversed(c):
        T = _T(c)
        return _grads(*_walk(c, back(c), cache_of=lambda t: T - 1 - t)[:3])

    def last_twice(c):
        return _grads(*_walk(c, back(c), carry=c["dH"][:, -1])[:3])

    def averaged(c):
        dX, carry, g, _ = _walk(c, back(c))
        return _grads(dX, carry, {k: v / _T(c) for k, v in g.items()})

    def no_jacobian(c):
        return _grads(*_walk(c, back(c), jacobian=False)[:3])

    def loss_dropped(c):
        return _grads(*_walk(c, back(c), dh_of=lambda dH_t, carry: carry)[:3])

    def time_major(c):
        dX, carry, g, _ = _walk(c, back(c))
        return _grads(dX.swapaxes(0, 1), carry, g)

    def dH_twice(c):
        return _grads(*_walk(c, back(c), dh_of=lambda dH_t, carry: 2.0 * dH_t + carry)[:3])

    def other_cache(shift: int, wrap: bool):
        def run(c):
            T = _T(c)
            if T < 2:
                return None
            return _grads(*_walk(c, back(c), cache_of=lambda t: (t + shift) % T if wrap
                                 else min(max(t + shift, 0), T - 1))[:3])
        return run

    def with_step(c, step_backward):
        return _grads(*_walk(c, back(c), step_backward=step_backward)[:3])

    line = BACKWARD_LINE
    return [
        *[Suspect(h.bug, h.text, h.outputs, line if "accumulation" in h.bug else SUM_LINE)
          for h in hyp.rnn_backward_hypotheses()],
        Suspect("BPTT walked forward in time", "the time loop runs in the wrong order, t from 0 up to T-1 instead "
                "of T-1 down to 0 (each step receives the gradient of the step before it instead of the step after "
                "it)", forward_in_time, line),
        Suspect("step 0 skipped", "the backward loop stops at t=1 (step 0 is never back-propagated: dX[:, 0] "
                "stays 0 and dh0 is what step 1 returned)", skip_zero, line),
        Suspect("initial-state gradient one step late", "dh0 is the dh that step 0 receives (dH[:, 0] + "
                "dh_prev of step 1) instead of the dh_prev that step 0 returns", dh0_is_dh, line),
        Suspect("initial-state gradient one step late", "dh0 is the dh_prev that step 1 returns instead of the "
                "one step 0 returns", dh0_from_step1, line),
        Suspect("step caches in the wrong order", "step t reads the cache of step T-1-t (caches[T-1-t] instead "
                "of caches[t])", caches_reversed, line),
        Suspect("last step counted twice", "the carried gradient starts at dH[:, T-1] instead of zeros, so the "
                "last step receives 2 dH[:, T-1]", last_twice, "dh_next = zeros before the loop"),
        Suspect("gradients averaged over time", "the parameter gradients are divided by T (averaged) instead of "
                "summed over the steps", averaged, SUM_LINE),
        Suspect("Jacobian skipped in the carry", "the gradient passed to step t-1 is the dh step t received "
                "instead of the dh_prev it returned", no_jacobian, "dh_next = dh_prev returned by step t"),
        Suspect("loss gradient dropped", "each step receives only the carried gradient, without its own "
                "dH[:, t]", loss_dropped, line),
        Suspect("time-major output", "dX is stacked time first, (T, B, D)", time_major,
                "dX = np.stack(dxs, axis=1)  # (B, T, D)"),
        Suspect("upstream gradients in the wrong order", "step t receives dH[:, T-1-t] (the loss gradients are "
                "read in reversed time order)", lambda c: _reference_backward(_with(c, dH=c["dH"][:, ::-1])), line),
        Suspect("dH counted twice", "each step receives 2 dH[:, t] + dh_next (dH[:, t] is added to the carried "
                "gradient and then again)", dH_twice, line),
        *[Suspect("step caches in the wrong order", f"step t reads the cache of step {what}", other_cache(s, w),
                  "step t's backward reads caches[t]")
          for s, w, what in ((-1, True, "t-1 (caches[t - 1], so step 0 reads the last step's)"),
                             (-1, False, "t-1 (step 0 its own)"), (1, True, "t+1 (caches[t + 1], wrapping)"),
                             (1, False, "t+1 (the last step its own)"))],
        *step_bug_suspects(with_step, "the step backward: da = dh * (1 - h_t^2), dx = da W_xh^T, "
                           "dh_prev = da W_hh^T, dW_xh = x_t^T da, dW_hh = h_{t-1}^T da, db_h = sum_B da"),
    ]


def clip_suspects() -> list[Suspect]:
    """The catalogue's clipping bugs, then a wrong norm or a wrong scale (each expressed through the reference)."""

    def ref(grads, m):
        return bptt_answers.clip_gradients(grads, m)

    def norm(c):
        return ref(c["grads"], c["max_norm"])[1]

    def squared(c):
        n = norm(c)
        clipped, _ = ref(c["grads"], c["max_norm"] / n)  # scale min(1, max_norm / n^2)
        return {**clipped, "norm": n * n}

    def inverted(c):
        n = norm(c)
        return {**{k: g * max(1.0, c["max_norm"] / n) for k, g in c["grads"].items()}, "norm": n}

    def by_value(c):
        m = c["max_norm"]
        return {**{k: np.clip(g, -m, m) for k, g in c["grads"].items()}, "norm": norm(c)}

    def summed(c):
        n = sum(ref({k: g}, c["max_norm"])[1] for k, g in c["grads"].items())  # sum of the per-tensor norms
        clipped, _ = ref(c["grads"], c["max_norm"] * norm(c) / n)  # scale min(1, max_norm / n)
        return {**clipped, "norm": n}

    def rms(c):
        size = sum(g.size for g in c["grads"].values())
        n = norm(c) / np.sqrt(size)
        clipped, _ = ref(c["grads"], c["max_norm"] * np.sqrt(size))
        return {**clipped, "norm": n}

    def other_norm(c, n):
        # the reference's clipping with the norm n: scale min(1, max_norm / n) = min(1, m' / norm)
        clipped, _ = ref(c["grads"], c["max_norm"] * norm(c) / n) if n > 0 else (dict(c["grads"]), 0.0)
        return {**clipped, "norm": n}

    def l1(c):
        # the L1 norm, the reference's norm of the square roots of |g|, squared
        return other_norm(c, ref({k: np.sqrt(np.abs(g)) for k, g in c["grads"].items()}, 1.0)[1] ** 2)

    def max_abs(c):
        return other_norm(c, max(float(np.abs(g).max()) for g in c["grads"].values()))

    return [
        *[Suspect(h.bug, h.text, h.outputs, CLIP_LINE) for h in hyp.clip_gradients_hypotheses()],
        Suspect("not clipped", "the gradients are returned unscaled (the scale is always 1)",
                lambda c: {**{k: g.copy() for k, g in c["grads"].items()}, "norm": norm(c)}, CLIP_LINE),
        Suspect("L1 norm instead of L2", "the norm is the sum of |g| over all entries (L1) instead of "
                "sqrt(sum of g^2)", l1, CLIP_LINE),
        Suspect("sum squared instead of sum of squares", "the norm is sqrt(sum over tensors of (sum of g)^2): "
                "each tensor's entries are summed before squaring", lambda c: other_norm(
                    c, ref({k: np.array([g.sum()]) for k, g in c["grads"].items()}, 1.0)[1]), CLIP_LINE),
        Suspect("max-abs norm instead of L2", "the norm is the largest |g| (max norm) instead of sqrt(sum of g^2)",
                max_abs, CLIP_LINE),
        Suspect("clipping by the squared norm", "the norm is the sum of squares without the square root (the "
                "returned norm is norm^2 and the scale min(1, max_norm / norm^2))", squared, CLIP_LINE),
        Suspect("min/max confused", "the scale is max(1, max_norm / norm) (or the test norm > max_norm is "
                "inverted): large gradients pass unchanged and small ones are scaled up", inverted, CLIP_LINE),
        Suspect("clipped by value", "each entry is clipped to [-max_norm, max_norm] (np.clip) instead of "
                "rescaling all gradients by one factor", by_value, CLIP_LINE),
        Suspect("norm summed over tensors", "the norm is the sum of the per-tensor norms instead of the square "
                "root of the sum of all squares", summed, CLIP_LINE),
        Suspect("mean instead of sum in the norm", "the norm is sqrt(mean of squares) over all entries instead "
                "of sqrt(sum of squares)", rms, CLIP_LINE),
    ]


def norms_suspects() -> list[Suspect]:
    """The catalogue's gradient-norm bugs, then a loss on every step or a mean instead of a sum."""

    def ref(c, **changes):
        c = _with(c, **changes)
        return bptt_answers.hidden_grad_norms(c["X"], c["h0"], c["params"], c["dh_last"])

    def every_step(c):
        dH = np.repeat(c["dh_last"][:, None], _T(c), axis=1)  # (B, H) -> (B, T, H): dh_last at every step
        _, cache = bptt_answers.rnn_forward(c["X"], c["h0"], c["params"])
        sequence.backward(dH, cache, record=True)
        dh = cache["grads"]["dh"]
        return {"norms": np.sqrt((dh * dh).sum(axis=(0, 2)))}

    def walked(c, ts, step_backward=None):
        # the reference's chain of step backwards from dh_last, over the steps ts in that order
        caches, dh, norms = step_caches(c), c["dh_last"], np.zeros(_T(c))
        for t in ts:
            norms[t] = np.sqrt((dh * dh).sum())
            _, dh, _ = (step_backward or cells.rnn_step_backward)(dh, caches[t])
        return {"norms": norms}

    def back(c):
        return range(_T(c) - 1, -1, -1)

    return [
        *[Suspect(h.bug, h.text, h.outputs, NORMS_LINE) for h in hyp.hidden_grad_norms_hypotheses()],
        Suspect("first example only", "norms[t] is the norm of example 0's dL/dh_t only, not of the whole batch",
                lambda c: {"norms": ref(c, X=c["X"][:1], h0=c["h0"][:1], dh_last=c["dh_last"][:1])}
                if c["X"].shape[0] > 1 else {"norms": ref(c)}, NORMS_LINE),  # B = 1: no other example
        Suspect("mean instead of sum in the norm", "norms[t] is the mean over the batch of each example's norm instead "
                "of the norm over the whole batch", lambda c: {"norms": np.mean(
                    [ref(c, X=c["X"][b:b + 1], h0=c["h0"][b:b + 1], dh_last=c["dh_last"][b:b + 1])
                     for b in range(c["X"].shape[0])], axis=0)}, NORMS_LINE),
        Suspect("gradient not propagated", "dh is never sent back through the steps: every entry is ||dh_last||",
                lambda c: {"norms": np.full(_T(c), ref(c)[-1])}, NORMS_LINE),
        Suspect("walked forward in time", "dh_last is carried from t=0 up to T-1 (norms[0] = ||dh_last||, then "
                "through the caches of steps 0, 1, ...) instead of from T-1 down to 0",
                lambda c: walked(c, range(_T(c))), NORMS_LINE),
        *step_bug_suspects(lambda c, b: walked(c, back(c), b), "dL/dh_{t-1} = (dL/dh_t * (1 - h_t^2)) W_hh^T",
                           reads=("dh_prev",)),
        Suspect("loss on every step", "dh_last is added at every step (as if each state had a loss) instead of "
                "reaching only the last one", every_step, NORMS_LINE),
        Suspect("mean instead of sum in the norm", "norms[t] is sqrt(mean of squares) over batch and units "
                "instead of sqrt(sum of squares)", lambda c: {"norms": ref(c) / np.sqrt(c["dh_last"].size)},
                NORMS_LINE),
        Suspect("norms one step late", "norms[t] holds ||dL/dh_{t+1}|| (the norm is taken after the step "
                "back and the last entry is 0)",
                lambda c: {"norms": np.r_[ref(c)[1:], 0.0]}, NORMS_LINE),
    ]


def radius_suspects() -> list[Suspect]:
    """The catalogue's spectral-radius bugs, then other matrices handed to the reference."""

    def rho(W):
        return bptt_answers.spectral_radius(W)

    def lower_symmetric(c):
        L = np.tril(c["W"])
        return {"rho": rho(L + np.tril(c["W"], -1).T)}  # what eigvalsh reads: the lower triangle, mirrored

    def smallest(c):
        return {"rho": 1.0 / rho(np.linalg.inv(c["W"]))}  # min |lambda(W)| = 1 / max |lambda(W^-1)|

    return [
        *[Suspect(h.bug, h.text, h.outputs, RADIUS_LINE) for h in hyp.spectral_radius_hypotheses()],
        Suspect("symmetric eigenvalues of a non-symmetric matrix", "eigvalsh is used: it reads only the lower "
                "triangle of W as if W were symmetric", lower_symmetric, RADIUS_LINE),
        Suspect("smallest modulus", "the smallest |eigenvalue| is returned instead of the largest", smallest,
                RADIUS_LINE),
        Suspect("real part", "the largest |real part| of the eigenvalues is returned instead of the largest modulus",
                lambda c: {"rho": rho(np.diag(np.linalg.eigvals(c["W"]).real))}, RADIUS_LINE),
        Suspect("Frobenius norm", "the Frobenius norm sqrt(sum W^2) is returned instead of the largest |eigenvalue|",
                lambda c: {"rho": np.sqrt(rho(np.array([[np.sum(c["W"] * c["W"])]])))}, RADIUS_LINE),
        Suspect("squared radius", "the largest |eigenvalue| of W W^T (the squared spectral norm) is returned",
                lambda c: {"rho": rho(c["W"] @ c["W"].T)}, RADIUS_LINE),
    ]


# ----------------------------------------------------------------------------- probes
def _cut(case: dict, T: int) -> dict:
    """The case's first ``T`` steps (inputs and upstream gradients)."""
    return _with(case, X=case["X"][:, :T], dH=case["dH"][:, :T])


def _forward_probes(fn: Callable) -> list[Probe]:
    """One step (is the step itself right?), then W_hh = 0 (are the inputs read and stored at the right t?)."""

    def run(c):
        return _student_forward(fn, c)[0]

    def chain(case, got):
        T = _T(case)
        one = _cut(case, 1) if T > 1 else None
        H1 = attempt(lambda: run(one)) if one is not None else None
        flat = _with(case, params=_params(case, W_hh=np.zeros_like(case["params"]["W_hh"])))
        H0 = attempt(lambda: run(flat))
        if H1 is not None and not all_close(_ref_H(one), H1):
            # A location, not a cause: the step's math, its input or what it stores may be wrong.
            return Finding("already with one step (T=1) your H differs, so step 0 (rnn_step(X[:, 0], h0, params)) or "
                           "what is stored for it is wrong")
        if H0 is None:
            return None
        bad = differs(_ref_H(flat), H0).any(axis=(0, 2))
        if bad.any():
            where = f"with W_hh = 0 (no recurrence) your H still differs at {steps_text(np.flatnonzero(bad))}"
            if H1 is None:  # no one-step run to clear the step itself: evidence only
                return Finding(where)
            return Finding(f"with one step (T=1) your H matches; {where}", "wrong input step",
                           "step t does not read X[:, t] or does not write H[:, t]", FORWARD_LINE)
        first = "with one step (T=1) your H matches; " if H1 is not None else ""
        return Finding(f"{first}with W_hh = 0 (no recurrence) your H matches, so each x_t is read and stored at the "
                       "right t and the recurrent term is what differs", "recurrent term wrong",
                       "the recurrent term h_{t-1} W_hh of the steps after the first is wrong (a wrong h_{t-1}, or "
                       "W_hh used wrongly)", FORWARD_LINE)

    return [Probe("chain", chain)]


def _backward_probes(backward: Callable, cache_for: Callable[[dict], object]) -> list[Probe]:
    """One step; a loss on the last step only; a loss on the first step only (does the error go back in time?)."""

    def run(c):
        return _student_backward(backward, c, cache_for(c))

    def ref(c):
        return _reference_backward(c)

    def one_hot(case, s):
        dH = np.zeros_like(case["dH"])
        dH[:, s] = case["dH"][:, s]
        return _with(case, dH=dH)

    def one_step(case, got):
        if _T(case) < 2:
            return None
        c = _cut(case, 1)
        out = attempt(lambda: run(c))
        if out is None:
            return None
        expected = ref(c)
        bad = [k for k in expected if not all_close(expected[k], out[k])]
        if not bad:
            return Finding("with one step (T=1) your dX, dh0 and grads match the reference, so the error is in how "
                           "the steps are chained")
        return Finding(f"already with one step (T=1) your {', '.join(_label(k) for k in bad)} differ")

    def last_only(case, got):
        T = _T(case)
        if T < 2:
            return None
        c = one_hot(case, T - 1)
        out = attempt(lambda: run(c))
        if out is None:
            return None
        e = ref(c)["dX"]
        bad = differs(e, out["dX"]).any(axis=(0, 2))
        if not bad.any():
            return None
        silent = np.abs(out["dX"][:, :-1]).max() <= 1e-12 < np.abs(e[:, :-1]).max()
        if silent:
            return Finding(f"with a loss on the last step only, your dX is zero at {steps_text(range(T - 1))}: "
                           "nothing flows back in time", "missing accumulation of dh from the next step",
                           "the gradient from step t+1 is not added to dH[:, t]", BACKWARD_LINE)
        if not bad[-1]:
            return Finding(f"with a loss on the last step only, your dX matches at t={T - 1} and differs at "
                           f"{steps_text(np.flatnonzero(bad))}: the gradient carried back from step t+1 is wrong",
                           "wrong gradient carried back", "the dh_next passed from step t+1 to step t is wrong",
                           BACKWARD_LINE)
        return Finding(f"with a loss on the last step only, your dX already differs at t={T - 1}")

    def first_only(case, got):
        T = _T(case)
        if T < 2:
            return None
        c = one_hot(case, 0)
        out = attempt(lambda: run(c))
        if out is None:
            return None
        later = np.abs(out["dX"][:, 1:]).max(axis=(0, 2)) > 1e-12  # the reference's are exactly 0
        if later.any():
            return Finding(f"with a loss on step 0 only, your dX is nonzero at {steps_text(1 + np.flatnonzero(later))}"
                           ", which step 0 cannot influence: your gradient travels forward in time",
                           "BPTT walked forward in time", "the backward loop runs t = 0 .. T-1",
                           "for t in reversed(range(T)): dh = dH[:, t] + dh_next")
        e = ref(c)
        if all_close(e["dX"], out["dX"]) and not all_close(e["dh0"], out["dh0"]):
            if all_close(_reference_backward(case)["dX"], got["dX"]):  # only dh0 is wrong, on the case too
                return Finding("with a loss on step 0 only, your dX matches but dh0 differs", "wrong initial-state "
                               "gradient", "dh0 is not the dh_prev that step 0 returns", BACKWARD_LINE)
            return Finding("with a loss on step 0 only, your dX matches but dh0 differs")
        return None

    # NB: first_only comes before last_only: a forward walk also leaves earlier steps silent.
    return [Probe("one step", one_step), Probe("first step only", first_only), Probe("last step only", last_only)]


def factor_finding(expected: dict[str, np.ndarray], got: dict[str, np.ndarray],
                   sizes: dict[str, tuple[int, str]]) -> Finding | None:
    """Are the wrong outputs the reference's times one common factor r? (no student call)

    ``sizes`` names the sizes a factor may be (``{"B": (4, "the batch"), "T": (5, "time")}``): r = 1/B reads as a
    mean over the batch, r = 1/T as a mean over time, r = 2 as a term counted twice, r = -1 as a sign flipped.
    At least two nonzero entries must share r (four for an unnamed factor); only a named r is shown (a grader
    constant), never an input and never an unnamed factor.
    """
    wrong = [k for k in expected if not all_close(expected[k], got[k])]
    if not wrong:
        return None
    e = np.concatenate([np.asarray(expected[k], dtype=np.float64).ravel() for k in wrong])
    g = np.concatenate([np.asarray(got[k], dtype=np.float64).ravel() for k in wrong])
    big = np.abs(e) > 1e-6
    names = ", ".join(_label(k) for k in wrong)
    if big.any() and np.allclose(g, 0.0, atol=1e-12):
        return Finding(f"your {names} {'is' if len(wrong) == 1 else 'are'} all zeros", "left at zero",
                       f"{names} {'is' if len(wrong) == 1 else 'are'} never filled in (left at zeros)", BACKWARD_LINE)
    if big.sum() < 2 or not np.allclose(g[~big], 0.0, atol=1e-6):
        return None
    r = g[big] / e[big]
    if not np.allclose(r, r[0], rtol=1e-6):
        return None
    r = float(r[0])
    known = [(2.0, "counted twice", "a term is added twice (each step's upstream gradient, or the carry)"),
             (-1.0, "sign flipped", "the sign is flipped (a gradient subtracted instead of added)")]
    for letter, (n, what) in sizes.items():
        if n > 1:
            known += [(1.0 / n, f"averaged over {what}", f"a mean over {what} ({letter}) is taken instead of a sum"),
                      (float(n), f"multiplied by {letter}", f"the result is multiplied by {letter} ({what})")]
    for value, bug, cause in known:
        if np.isclose(r, value, rtol=1e-6, atol=1e-9):
            return Finding(f"your {names} are the reference's times {r:.6g}", bug, cause, SUM_LINE)
    if big.sum() < 4:
        return None
    # No number here: an unnamed factor is the student's value, not the grader's (hidden messages quote none).
    return Finding(f"your {names} are the reference's times one common factor", "wrong constant factor",
                   "the wrong outputs are off by one constant factor (a scale, a mean or a doubled term)", SUM_LINE)


def _parts_finding(by_key: dict[str, str | None], T: int = 2) -> Finding | None:
    """Which outputs are wrong tells which part of BPTT is (no probe call needed); ``T`` is the case's length."""
    params_ok = all(v is None for k, v in by_key.items() if k not in ("dX", "dh0"))
    wrong_params = sorted(k for k, v in by_key.items() if k not in ("dX", "dh0") and v is not None)
    if by_key["dX"] is None and by_key["dh0"] is None and len(wrong_params) == 1 and len(by_key) > 3:
        k = wrong_params[0]
        state = {"W_hh": "h_{t-1}", "W_xh": "x_t", "b_h": "the batch sum"}.get(k, "the step's input")
        return Finding(f"dX, dh0 and the other parameter gradients match, only grads[{k!r}] differs",
                       f"grads[{k!r}] wrong", f"grads[{k!r}] pairs da_t with the wrong factor (it should use "
                       f"{state} of the same step, summed over t)", SUM_LINE)
    if by_key["dX"] is None and by_key["dh0"] is None:
        return Finding("dX and dh0 match, only the parameter gradients differ", "parameter gradients not summed "
                       "over time", "the parameter gradients are not the sum of every step's", SUM_LINE)
    if by_key["dX"] is None and params_ok:
        if T < 2:  # one step: a slip in the step's own dh_prev looks the same, so no cause is named
            return Finding("dX and every parameter gradient match, only dh0 (step 0's dh_prev) differs")
        return Finding("dX and every parameter gradient match, only dh0 differs", "wrong initial-state gradient",
                       "dh0 is not the dh_prev that step 0 returns", BACKWARD_LINE)
    if by_key["dh0"] is None and params_ok:
        # The chain of steps is right (dh0 and the sums over steps are): only where each dx lands is not.
        return Finding("dh0 and every parameter gradient match, only dX differs", "dX stored in the wrong order",
                       "each step's dx is right but stored at the wrong t (or stacked wrongly)",
                       "dX[:, t] = the dx that step t returns")
    return None


# ----------------------------------------------------------------------------- calling the student
def _student_forward(rnn_forward: Callable, case: dict, name: str = "rnn_forward", suspects=None, head: str = "",
                     confirm: Confirmation | None = None):
    out = call(rnn_forward, name, (case["X"], case["h0"], case["params"]), names=("X", "h0", "params"))
    H, cache = as_tuple(out, 2, f"{name} returned", "H, cache")
    B, T, _ = case["X"].shape
    shape = (B, T, case["h0"].shape[1])
    if case.get("large"):
        overflow(H, _ref_H(case), case, f"{name}: H", who=name, head=head)
    if suspects is not None and (odd := wrong_shape(H, shape)) is not None:
        message = diagnose(head, [f"H has shape {odd.shape}, expected {shape}"], {"H": odd}, case, suspects,
                           [layout_probe("H", _ref_H, ("batch", "t", "unit"))], confirm=confirm,
                           reference=lambda c: {"H": _ref_H(c)})
        if "likely bug" in message:
            fail(message)
    return as_array(H, f"{name}: H", shape), cache


def _label(key: str) -> str:
    return key if key in ("dX", "dh0") else f"grads[{key!r}]"


def _student_backward(rnn_backward: Callable, case: dict, cache, suspects=None, head: str = "",
                      confirm: Confirmation | None = None) -> dict:
    out = call(rnn_backward, "rnn_backward", (case["dH"],), tail=(cache,), names=("dH",))
    dX, dh0, grads = as_tuple(out, 3, "rnn_backward returned", "dX, dh0, grads")
    if suspects is not None and (odd := wrong_shape(dX, case["X"].shape)) is not None:
        message = diagnose(head, [f"dX has shape {odd.shape}, expected {case['X'].shape}"], {"dX": odd}, case,
                           suspects, [layout_probe("dX", _reference_dX, ("batch", "t", "input"))], confirm=confirm,
                           reference=_reference_backward)
        if "likely bug" in message:
            fail(message)
    return {"dX": as_array(dX, "rnn_backward: dX", case["X"].shape),
            "dh0": as_array(dh0, "rnn_backward: dh0", case["h0"].shape),
            **as_array_dict(grads, "rnn_backward: grads", {n: v.shape for n, v in case["params"].items()})}


def _reference_dX(case: dict) -> np.ndarray:
    return _reference_backward(case)["dX"]


def _reference_backward(case: dict) -> dict:
    _, cache = bptt_answers.rnn_forward(case["X"], case["h0"], case["params"])
    dX, dh0, grads = bptt_answers.rnn_backward(case["dH"], cache)
    return _grads(dX, dh0, grads)


def _forward_cache(rnn_forward: Callable, case: dict):
    return _student_forward(rnn_forward, case)[1]


def _same_data(got, want) -> bool:
    """Is ``got`` (a student's return, plain data) ``want`` (the reference's): same structure, arrays allclose?"""
    if isinstance(want, dict):
        return (type(got) is dict and set(dict.keys(got)) == set(want)
                and all(_same_data(dict.__getitem__(got, k), v) for k, v in want.items()))
    if isinstance(want, (list, tuple)):
        return type(got) in (list, tuple) and len(got) == len(want) and all(map(_same_data, got, want))
    if isinstance(want, str):
        return type(got) is str and got == want
    try:
        got_array = np.asarray(got, dtype=float)
    except (TypeError, ValueError):
        return False
    return got_array.shape == np.shape(want) and all_close(np.asarray(want, dtype=float), got_array)


def _prescribed_form(got, want: list[dict]) -> bool:
    """Has ``got`` the form of the prescribed cache ``want``: a list of T dicts with ``rnn_step``'s keys?"""
    return (type(got) in (list, tuple) and len(got) == len(want)
            and all(type(g) is dict and set(dict.keys(g)) == set(w) for g, w in zip(got, want, strict=True)))


def _own_cache(rnn_forward: Callable, case: dict):
    """The student's own cache if their rnn_forward is right on ``case``, else None (the prescribed one is used).

    Right: H matches the reference, and a cache in the prescribed form (a list of the T step caches) holds the
    reference's step caches. A forward that returns the right states with wrong caches (every cache the last
    step's; blind catalogue 4) must not cost the backward its points. A cache of another form (the student's own
    design, e.g. ``sequence.forward``'s dict) cannot be compared and is used as it is when H matches.
    """
    try:
        H, cache = _student_forward(rnn_forward, case)
    except Exception:  # noqa: BLE001 - a forward that fails in any way is graded by its own test
        return None
    if not all_close(_ref_H(case), H):
        return None
    want = step_caches(case)
    if _prescribed_form(cache, want) and not _same_data(cache, want):
        return None
    return cache


# ----------------------------------------------------------------------------- confirmations (one student call)
def _forward_confirmation(fn: Callable) -> Confirmation:
    def run(c):
        out = call(fn, "rnn_forward", (c["X"], c["h0"], c["params"]), names=("X", "h0", "params"))
        return {"H": loose_array(as_tuple(out, 2, "rnn_forward returned", "H, cache")[0])}

    return Confirmation(bptt_grammar.probe_sequence_case(), run, bptt_grammar.separating_sequence_cases())


def _backward_confirmation(fn: Callable, cache_for: Callable[[dict], object]) -> Confirmation:
    def run(c):
        out = call(fn, "rnn_backward", (c["dH"],), tail=(cache_for(c),), names=("dH",))
        dX, dh0, grads = as_tuple(out, 3, "rnn_backward returned", "dX, dh0, grads")
        if not isinstance(grads, dict):
            raise ValueError("grads is not a dict")
        return {"dX": loose_array(dX), "dh0": loose_array(dh0), **{k: loose_array(grads[k]) for k in c["params"]}}

    return Confirmation(bptt_grammar.probe_sequence_case(), run, bptt_grammar.separating_sequence_cases())


def _norms_confirmation(fn: Callable) -> Confirmation:
    def run(c):
        out = call(fn, "hidden_grad_norms", (c["X"], c["h0"], c["params"], c["dh_last"]),
                   names=("X", "h0", "params", "dh_last"))
        return {"norms": loose_array(out)}

    return Confirmation(bptt_grammar.probe_sequence_case(), run, bptt_grammar.separating_sequence_cases())


def _reference_norms(c: dict) -> dict:
    return {"norms": bptt_answers.hidden_grad_norms(c["X"], c["h0"], c["params"], c["dh_last"])}


def _clip_confirmation(fn: Callable) -> Confirmation:
    def run(c):
        out = call(fn, "clip_gradients", (c["grads"], c["max_norm"]), names=("grads", "max_norm"))
        clipped, norm = as_tuple(out, 2, "clip_gradients returned", "clipped grads, norm")
        shapes = {n: v.shape for n, v in c["grads"].items()}
        return {**as_array_dict(clipped, "clip_gradients: clipped", shapes),
                "norm": np.array(as_float(norm, "clip_gradients: norm"))}

    return Confirmation(bptt_grammar.probe_clip_case(), run, bptt_grammar.separating_clip_cases())


def _reference_clip(c: dict) -> dict:
    clipped, norm = bptt_answers.clip_gradients(c["grads"], c["max_norm"])
    return {**clipped, "norm": np.array(norm)}


def _radius_confirmation(fn: Callable) -> Confirmation:
    def run(c):
        return {"rho": np.array(as_float(call(fn, "spectral_radius", (c["W"],), names=("W",)),
                                         "spectral_radius returned"))}

    return Confirmation(bptt_grammar.probe_matrix_case(), run, bptt_grammar.separating_matrix_cases())


# ----------------------------------------------------------------------------- a raise: which sizes it confuses
_FORWARD_SIZES = ("B", "T", "D", "H")
_FORWARD_GENERIC = (3, 4, 2, 5)
# What an rnn_forward that raises on the generic sizes and runs when two sizes agree (or one is 1) confuses.
_FORWARD_MEANING = {
    "D = H": ("hidden states sized like the input", "an array or a size of the input's width D is used where the "
              "state's width H belongs (H = np.zeros_like(X) or np.empty_like(X) for the states, or X.shape[2] for "
              "the number of units)"),
    "B = T": ("batch and time axes confused", "the batch axis B and the time axis T are confused (X[t] read instead "
              "of X[:, t], or H allocated as (T, B, H))"),
    "T = H": ("time and unit axes confused", "the time axis T and the state's width H are confused (H allocated "
              "(B, H, T), or a loop over h0.shape[1])"),
    "T = D": ("time and feature axes confused", "the time axis T and the input's width D are confused (a loop over "
              "X.shape[2], or X[:, :, t])"),
    "B = H": ("batch and unit axes confused", "the batch axis B and the state's width H are confused (a state "
              "transposed, or h0.shape[0] used for the units)"),
    "B = D": ("batch size read from the feature axis", "the batch size is read from the input's width D, or the "
              "two axes are exchanged"),
    "B = 1": ("written for a batch of one", "it works for one example only (x[0], zeros((1, H)), a squeeze)"),
    "T = 1": ("written for one step", "a loop or an index that is right only for one step"),
}


def _forward_size_case(label: str) -> dict:
    """The generic (B, T, D, H) with the coincidence ``label`` (``"D = H"``: D takes H's value), seeded."""
    from autograder.cases import random_params

    sizes = dict(zip(_FORWARD_SIZES, _FORWARD_GENERIC, strict=True))
    if label:
        left, right = label.split(" = ")
        sizes[left] = 1 if right == "1" else sizes[right]
    B, T, D, H = (sizes[n] for n in _FORWARD_SIZES)
    rng = np.random.default_rng(20261215)
    return {"label": "probe", "X": rng.standard_normal((B, T, D)), "h0": 0.5 * rng.standard_normal((B, H)),
            "params": random_params("rnn", D, H, rng)}


def forward_raise_finding(fn: Callable) -> str | None:
    """Why ``rnn_forward`` raised, from the sizes under which it runs (one student call per size variant, only
    after the check has failed; explaining only). None when it raises on every variant, or runs on the generic one
    (the sizes do not explain it). Named (``likely bug``) only when it then also matches the reference there.
    """
    def run(case):
        out = call(fn, "rnn_forward", (case["X"], case["h0"], case["params"]), names=("X", "h0", "params"))
        return loose_array(as_tuple(out, 2, "rnn_forward returned", "H, cache")[0])

    if attempt(lambda: run(_forward_size_case(""))) is not None:
        return None
    ran, right = [], []
    for label in _FORWARD_MEANING:
        case = _forward_size_case(label)
        got = attempt(lambda c=case: run(c))
        if got is not None:
            ran.append(label)
            if same(_ref_H(case), got):
                right.append(label)
    if not ran:
        return None
    bug, meaning = _FORWARD_MEANING[ran[0]]
    tried = ", ".join(_FORWARD_MEANING)
    evidence = (f"on the grader's size probes (B, T, D, H all different, then {tried}) your function ran only with "
                f"{' or '.join(ran)}" + (f" and matched the reference with {' or '.join(right)}" if right else ""))
    if ran[0] in right:
        return (f"It raises unless {ran[0]}: {meaning} (likely bug: {bug}); check the shape of each array against "
                f"X (B, T, D), h0 (B, H) and H (B, T, H). Evidence: {evidence}.")
    return f"It raises unless {' or '.join(ran)}: probably {meaning}. Evidence: {evidence}."


# ----------------------------------------------------------------------------- public checks
def check_rnn_forward(rnn_forward: Callable, hidden: bool = False) -> None:
    """Does ``rnn_forward(X, h0, params)`` return the reference ``(H, cache)``?"""
    cases = case_sets.sequence_cases(hidden)
    suspects = [*rnn_forward_suspects(), *bptt_grammar.grammar_suspects("rnn_forward"),
                *layout_suspects("H", lambda c: {"H": _ref_H(c)}, ("batch", "t", "unit"))]
    confirm = _forward_confirmation(rnn_forward)
    for head, case in graded_with_large("rnn_forward", cases, case_sets.large_sequence_cases(hidden), hidden):
        try:
            H, _ = _student_forward(rnn_forward, case, suspects=suspects, head=head, confirm=confirm)
        except (AssertionError, ChannelClosedError, ChannelTimeoutError, ProtocolError):
            raise
        except Exception as exc:  # the student's own raise: state from an earlier call, or the sizes, else passed on
            finding = (rerun_finding(confirm.run, lambda c: {"H": _ref_H(c)}, cases[0])
                       if case is not cases[0] else None)
            finding = f"{finding}." if finding else forward_raise_finding(rnn_forward)
            if finding is None:
                raise
            fail(f"{head}: {raised_text('rnn_forward', exc)}. {finding}")
        problems = _problems([("H", _ref_H(case), H, SEQUENCE)])
        if problems:
            fail(diagnose(head, problems, {"H": H}, case, suspects, _forward_probes(rnn_forward), confirm=confirm,
                          reference=lambda c: {"H": _ref_H(c)}))
    ok(f"rnn_forward matches the reference on {len(cases)} {_kind(hidden)} cases and 1 with large pre-activations "
       f"({tolerance_text()})")



def check_rnn_backward(rnn_forward: Callable, rnn_backward: Callable, hidden: bool = False) -> None:
    """Does ``rnn_backward(dH, cache)`` return the reference ``(dX, dh0, grads)``?

    The cache is the one the student's ``rnn_forward`` returned when that forward is right on the case, else
    the prescribed list of step caches built from the reference, so a wrong forward costs only its own test.
    """
    cases = case_sets.sequence_cases(hidden)
    suspects = [*rnn_backward_suspects(), *bptt_grammar.grammar_suspects("rnn_backward"),
                *layout_suspects("dX", _reference_backward, ("batch", "t", "input"))]
    prescribed = []
    for k, case in enumerate(cases):
        head = header("rnn_backward", k, len(cases), case, hidden)
        own = _own_cache(rnn_forward, case)
        if own is None:
            cache_for = step_caches
            prescribed.append(k + 1)
            confirm = _backward_confirmation(rnn_backward, cache_for)
            try:
                got = _student_backward(rnn_backward, case, step_caches(case), suspects, head, confirm)
            except AssertionError:
                raise
            except Exception as exc:  # noqa: BLE001 - say which cache the student's code could not read
                fail(f"{head}: your rnn_forward (its H or its cache) differs from the reference here, so "
                     "rnn_backward was called with "
                     "the cache the notebook prescribes, built from the reference (a list of the T caches "
                     f"rnn_step returned, caches[t] for step t); on it your rnn_backward raised "
                     f"{type(exc).__name__}: {str(exc)[:300]}")
        else:
            cache_for = functools.partial(_forward_cache, rnn_forward)
            confirm = _backward_confirmation(rnn_backward, cache_for)
            try:
                got = _student_backward(rnn_backward, case, own, suspects, head, confirm)
            except (AssertionError, ChannelClosedError, ChannelTimeoutError, ProtocolError):
                raise
            except Exception as exc:  # the student's own raise: state from an earlier call?, else passed on
                state = rerun_finding(confirm.run, _reference_backward, cases[0]) if k > 0 else None
                if state is None:
                    raise
                fail(f"{head}: {raised_text('rnn_backward', exc)}. {state}.")
        expected = _reference_backward(case)
        layouts = {"dX": SEQUENCE_GRAD, "dh0": STATE}
        by_key = {key: describe_mismatch(_label(key), expected[key], got[key], layouts.get(key, PARAM_LAYOUT))
                  for key in expected}
        problems = [m for m in by_key.values() if m is not None]
        if problems:
            sizes = {"B": (case["X"].shape[0], "the batch"), "T": (_T(case), "time")}
            probes = [Probe("factor", lambda c, g, e=expected, sizes=sizes: factor_finding(e, g, sizes)),
                      Probe("parts", lambda c, g, by_key=by_key: _parts_finding(by_key, _T(c))),
                      *_backward_probes(rnn_backward, cache_for)]
            fail(diagnose(head, problems, got, case, suspects, probes, confirm=confirm, reference=_reference_backward))
    note = ""
    if prescribed:
        note = (f"; your rnn_forward (its H or its cache) differs from the reference on cases {prescribed}, so "
                "there rnn_backward was "
                "checked on the prescribed cache built from the reference")
    ok(f"rnn_backward matches the reference on {len(cases)} {_kind(hidden)} cases ({tolerance_text()}){note}")


def zero_inputs(case: dict, keys: tuple[str, ...]) -> list[str]:
    """The inputs among ``keys`` of ``case`` that are all zeros (a dict of arrays counts as one input)."""
    out = []
    for k in keys:
        v = case.get(k)
        arrays = list(v.values()) if isinstance(v, dict) else [v]
        if arrays and all(type(a) is np.ndarray and a.size and not a.any() for a in arrays):
            out.append(k)
    return out


def explained_call(fn: Callable, name: str, args: tuple, names: tuple[str, ...], head: str, case: dict,
                   probe: dict | None = None):
    """``call`` the student's function; if it raises, fail with the error, its line and what explains it.

    The explanation (only after the case has failed; one more student call, on the grader's ``probe`` args) says
    whether the function also raises on the probe case, and, when it runs there, what this case has that the probe
    case has not: inputs that are all zero (a ZeroDivisionError there is a division by a quantity the zeros make 0).
    """
    try:
        return call(fn, name, args, names=names)
    except (AssertionError, ChannelClosedError, ChannelTimeoutError, ProtocolError):
        raise
    except Exception as exc:  # noqa: BLE001 - any failure of student code is reported, not propagated
        kind = getattr(exc, "kind", None) or type_name(exc)
        text = f"{head}: {raised_text(name, exc)}"
        zeros = zero_inputs(case, names)
        runs = probe is not None and attempt(lambda: call(fn, name, probe, names=names)) is not None
        if zeros and runs:
            what = " and ".join(zeros)
            divide = kind == "ZeroDivisionError" or "divide" in str(exc)
            text += (f". Probably your {name} fails only when {what} {'is' if len(zeros) == 1 else 'are'} all zero "
                     f"(it runs on the grader's probe case, whose inputs are not): "
                     + ("a division by a quantity that is 0 here, such as the norm (likely bug: division by zero "
                        "not guarded); test for it before dividing" if divide else
                        "something computed from them is 0 here and your code cannot take it (likely bug: zero "
                        "input not handled)"))
        elif runs:
            text += (f". Your {name} runs on the grader's probe case (other sizes and values), so this case's sizes or "
                     "values trigger the error: look for code that depends on a size of 1, a length, or a value of 0")
        fail(text)


def check_clip_gradients(clip_gradients: Callable, hidden: bool = False) -> None:
    """Does ``clip_gradients(grads, max_norm)`` return the reference ``(clipped, norm)``?"""
    cases = case_sets.clip_cases(hidden)
    suspects = [*clip_suspects(), *bptt_grammar.grammar_suspects("clip_gradients")]
    for k, case in enumerate(cases):
        head = header("clip_gradients", k, len(cases), case, hidden)
        probe = _clip_confirmation(clip_gradients).case
        out = explained_call(clip_gradients, "clip_gradients", (case["grads"], case["max_norm"]), ("grads", "max_norm"),
                             head, case, (probe["grads"], probe["max_norm"]))
        clipped, norm = as_tuple(out, 2, "clip_gradients returned", "clipped grads, norm")
        shapes = {n: v.shape for n, v in case["grads"].items()}
        got = {**as_array_dict(clipped, "clip_gradients: clipped", shapes),
               "norm": np.array(as_float(norm, "clip_gradients: norm"))}
        e_clipped, e_norm = bptt_answers.clip_gradients(case["grads"], case["max_norm"])
        pairs = [(f"clipped[{n!r}]", e_clipped[n], got[n], PARAM_LAYOUT) for n in shapes]
        pairs.append(("norm", np.array(e_norm), got["norm"], None))
        problems = _problems(pairs)
        if problems:
            probes = [Probe("no clipping needed", lambda c, g: _clip_unneeded(clip_gradients, c)),
                      Probe("parts", _clip_parts)]
            fail(diagnose(head, problems, got, case, suspects,
                          probes, confirm=_clip_confirmation(clip_gradients), reference=_reference_clip))
    ok(f"clip_gradients matches the reference on {len(cases)} {_kind(hidden)} cases ({tolerance_text()})")


def _clip_parts(case: dict, got: dict) -> Finding | None:
    """Which of the two outputs is wrong, and whether the student rescaled by one common factor."""
    e_clipped, e_norm = bptt_answers.clip_gradients(case["grads"], case["max_norm"])
    norm_ok = all_close(np.array(e_norm), got["norm"])
    ratios = np.concatenate([(got[k] / np.where(g == 0, np.nan, g)).ravel() for k, g in case["grads"].items()])
    ratios = ratios[np.isfinite(ratios)]
    common = ratios.size > 0 and np.allclose(ratios, ratios[0], rtol=1e-6)
    if norm_ok and common:
        # No numbers here: the factor would tell a hidden case's max_norm / norm.
        return Finding("your norm is right and you rescale every gradient by one common factor, but not by the "
                       "reference's min(1, max_norm / norm)", "wrong scale",
                       "the scale is not min(1, max_norm / norm)", CLIP_LINE)
    if norm_ok:
        return Finding("your norm is right but your gradients are not one common rescaling of the inputs",
                       "not one common factor", "the gradients are not all multiplied by the same factor", CLIP_LINE)
    n = float(got["norm"])
    if not norm_ok and n > 0 and np.isfinite(n):
        own = bptt_answers.clip_gradients(case["grads"], case["max_norm"] * e_norm / n)[0]  # min(1, max_norm / n)
        if all(all_close(own[k], got[k]) for k in case["grads"]):
            return Finding("your clipped gradients are g * min(1, max_norm / norm) with your own norm, so the scale "
                           "is right and the norm is what is computed wrongly", "wrong norm",
                           "the norm is not sqrt(sum over all tensors of sum g^2)", CLIP_LINE)
    if all(all_close(e_clipped[k], got[k]) for k in case["grads"]):
        return Finding("your clipped gradients are right and only the returned norm differs", "wrong norm returned",
                       "the returned norm is not the global norm before clipping", CLIP_LINE)
    return None


def _clip_unneeded(clip_gradients: Callable, case: dict) -> Finding | None:
    """With max_norm far above the norm nothing may change: does the student's code leave the gradients alone?"""
    m = 10.0 * bptt_answers.clip_gradients(case["grads"], 1.0)[1]

    def run():
        out = call(clip_gradients, "clip_gradients", (case["grads"], m), names=("grads", "max_norm"))
        clipped, _ = as_tuple(out, 2, "clip_gradients returned", "clipped grads, norm")
        return as_array_dict(clipped, "clip_gradients: clipped", {n: v.shape for n, v in case["grads"].items()})

    clipped = attempt(run)
    if clipped is None:
        return None
    if all(all_close(g, clipped[k]) for k, g in case["grads"].items()):
        return Finding("with max_norm ten times the norm your gradients come back unchanged, as they should")
    return Finding("with max_norm ten times the norm (no clipping needed) your gradients still change",
                   "rescaled without need", "gradients below max_norm are changed", CLIP_LINE)


def check_hidden_grad_norms(hidden_grad_norms: Callable, hidden: bool = False) -> None:
    """Does ``hidden_grad_norms(X, h0, params, dh_last)`` return the reference (T,) norms?"""
    cases = case_sets.sequence_cases(hidden)
    suspects = [*norms_suspects(), *bptt_grammar.grammar_suspects("hidden_grad_norms")]
    for k, case in enumerate(cases):
        out = call(hidden_grad_norms, "hidden_grad_norms", (case["X"], case["h0"], case["params"], case["dh_last"]),
                   names=("X", "h0", "params", "dh_last"))
        T = case["X"].shape[1]
        got = {"norms": as_array(out, "hidden_grad_norms returned", (T,))}
        expected = bptt_answers.hidden_grad_norms(case["X"], case["h0"], case["params"], case["dh_last"])
        problems = _problems([("norms", expected, got["norms"], TIME)])
        if problems:
            fail(diagnose(header("hidden_grad_norms", k, len(cases), case, hidden), problems, got, case, suspects,
                          _norms_probes(hidden_grad_norms), confirm=_norms_confirmation(hidden_grad_norms),
                          reference=_reference_norms))
    ok(f"hidden_grad_norms matches the reference on {len(cases)} {_kind(hidden)} cases ({tolerance_text()})")


def _norms_probes(fn: Callable) -> list[Probe]:
    def run(c):
        out = call(fn, "hidden_grad_norms", (c["X"], c["h0"], c["params"], c["dh_last"]),
                   names=("X", "h0", "params", "dh_last"))
        return as_array(out, "hidden_grad_norms returned", (_T(c),))

    def last_entry(case, got):
        e = bptt_answers.hidden_grad_norms(case["X"], case["h0"], case["params"], case["dh_last"])
        last = f"norms[{_T(case) - 1}]"
        if all_close(e[-1:], got["norms"][-1:]):
            return Finding(f"{last} = ||dh_last|| matches; the entries before it differ, so the step back in time is "
                           "wrong")
        n, size = e[-1], case["dh_last"].size
        for value, what, bug in ((n * n, "||dh_last||^2", "squared norm"),
                                 (n / np.sqrt(size), "sqrt(mean(dh_last^2))", "mean instead of sum in the norm")):
            if np.isclose(got["norms"][-1], value):
                return Finding(f"your {last} is {what} instead of ||dh_last||", bug, f"the norm is {what}", NORMS_LINE)
        return Finding(f"already norms[{_T(case) - 1}] differs, which must be ||dh_last||")  # a location only

    def no_recurrence(case, got):
        c = _with(case, params=_params(case, W_hh=np.zeros_like(case["params"]["W_hh"])))
        norms = attempt(lambda: run(c))
        if norms is None or _T(case) < 2:
            return None
        e = bptt_answers.hidden_grad_norms(c["X"], c["h0"], c["params"], c["dh_last"])
        if all_close(e, norms):
            return Finding("with W_hh = 0 (every earlier norm is 0) your norms match the reference")
        return Finding(f"with W_hh = 0 your norms differ at {steps_text(np.flatnonzero(differs(e, norms)))}, where "
                       "the reference has 0 before the last step")

    return [Probe("last entry", last_entry), Probe("no recurrence", no_recurrence)]


def check_spectral_radius(spectral_radius: Callable, hidden: bool = False) -> None:
    """Does ``spectral_radius(W)`` return the reference ``max |eigenvalue|``?"""
    cases = case_sets.matrix_cases(hidden)
    suspects = [*radius_suspects(), *bptt_grammar.grammar_suspects("spectral_radius")]
    for k, case in enumerate(cases):
        out = call(spectral_radius, "spectral_radius", (case["W"],), names=("W",))
        got = {"rho": np.array(as_float(out, "spectral_radius returned"))}
        expected = np.array(bptt_answers.spectral_radius(case["W"]))
        problems = _problems([("the spectral radius", expected, got["rho"], None)])
        if problems:
            fail(diagnose(header("spectral_radius", k, len(cases), case, hidden), problems, got, case, suspects,
                          [Probe("diagonal", lambda c, g: _radius_diagonal(spectral_radius, c))],
                          confirm=_radius_confirmation(spectral_radius),
                          reference=lambda c: {"rho": np.array(bptt_answers.spectral_radius(c["W"]))}))
    ok(f"spectral_radius matches the reference on {len(cases)} {_kind(hidden)} cases ({tolerance_text()})")


def _radius_diagonal(fn: Callable, case: dict) -> Finding | None:
    """On a diagonal matrix whose largest |entry| is negative, the radius is that |entry|: is the modulus taken?"""
    n = case["W"].shape[0]
    d = np.linspace(0.5, 1.5, n) * np.where(np.arange(n) == n - 1, -1.0, 1.0)
    out = attempt(lambda: as_float(call(fn, "spectral_radius", (np.diag(d),), names=("W",)),
                                   "spectral_radius returned"))
    if out is None:
        return None
    if np.isclose(out, bptt_answers.spectral_radius(np.diag(d))):
        return Finding("on a diagonal matrix your radius is right, so the error shows only when eigenvalues are "
                       "complex or W is not symmetric")
    known = [(d.max(), "you return the largest eigenvalue itself", "modulus missing", "the largest |lambda| is "
              "not taken"),
             (np.abs(d).min(), "you return the smallest |eigenvalue|", "smallest modulus", "the smallest |lambda| is "
              "taken"),
             (np.abs(d).max() ** 2, "you return the square of the radius", "squared radius", "rho is squared")]
    for value, what, bug, cause in known:
        if np.isclose(out, value):
            return Finding(f"on a diagonal matrix (eigenvalues on the diagonal, the largest |lambda| negative) {what}",
                           bug, cause, RADIUS_LINE)
    return Finding("even on a diagonal matrix your radius differs")
