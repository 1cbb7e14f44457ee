"""The perturbation grammars of the bptt references: rnn_forward, rnn_backward, hidden_grad_norms, clipping, radius.

Each ``*_grammar()`` is an :class:`autograder.grammar.Grammar` whose program chains the reference step functions
``simulator.cells.rnn_step`` / ``rnn_step_backward`` (or the reference's norm and eigenvalues) as a choice of one
option per site says; the default of every site is the reference (``program(case, {})`` equals the reference, a
test checks it). The sites, in the code's symbols:

- forward ``h_t = rnn_step(x_{in(t)}, prev(h_{t-1}), params)``, ``H[:, out(t)] = store(h_t)`` over a range of t:
  the input index, the state handed on (carried, h0 every step, zeros), the start state, the range (a step
  skipped, and what fills its slot), the walking order, what is stored (before or after the step, ``a``), the axis;
- backward ``dh_t = alpha dH[:, in(t)] + beta carry``, ``dx, dh_prev, g = rnn_step_backward(dh_t, caches[c(t)])``,
  ``carry = dh_prev``, ``grads = reduce_t g``, ``dX[:, out(t)] = dx``, ``dh0 = carry``: the walking order and range,
  the coefficients ``alpha, beta`` (a term dropped, doubled, negated), the upstream and cache indices, what is
  carried, its start, the reduction over time (sum, mean, overwrite, the first step only, subtracted, a batch
  mean), where ``dx`` is stored, what ``dh0`` is, the axis of ``dX``;
- norms ``norms[out(t)] = nrm(dL/dh_t)`` walked back by ``dh_prev``: the order, before or after the step, the norm
  (squared, L1, max, a mean, per example, the first example), the cache index, the propagation, the loss's steps;
- clipping ``clipped = g * scale(norm)``: the norm (global L2 or a wrong one), the scale, the returned norm;
- spectral radius ``reduce(spectrum(matrix(W)))``.

Not covered: bugs inside the step (the step catalogue's, lifted into sequences by ``bptt_checks``), and slips at
more than two sites.
"""

from __future__ import annotations

import numpy as np

from autograder.grammar import Grammar, Site, options
from simulator import cells

FORWARD_LINE = "h_t = tanh(x_t W_xh + h_{t-1} W_hh + b_h) for t = 0 .. T-1 from h0, H[:, t] = h_t"
BACKWARD_LINE = "dh_t = dH[:, t] + dh_prev(step t+1) for t = T-1 down to 0, dh0 = dh_prev(step 0)"
SUM_LINE = "grads[k] = sum over t of step t's grads[k]"
NORMS_LINE = "norms[t] = ||dL/dh_t|| with dL/dh_{T-1} = dh_last and dL/dh_{t-1} = dh_prev(step t)"
CLIP_LINE = "clipped = g * min(1, max_norm / norm) with norm = sqrt(sum over all g of sum g^2)"
RADIUS_LINE = "rho(W) = max_k |lambda_k(W)|"


def _walk_range(T: int, skip: str, order: str) -> list[int]:
    steps = list(range(T))
    steps = steps[1:] if skip == "first" else steps[:-1] if skip == "last" else steps
    return steps if order == "forward" else steps[::-1]


def _index(t: int, T: int, how: str) -> int:
    """Where a slip moves index ``t``: itself, reversed, one step early (Python wraps -1) or late (clamped)."""
    return {"t": t, "T-1-t": T - 1 - t, "t-1": (t - 1) % T, "t+1": min(t + 1, T - 1),
            "first": 0, "last": T - 1}[how]


# ----------------------------------------------------------------------------- rnn_forward
def _forward(case: dict, ch: dict) -> dict:
    X, h0, p = case["X"], case["h0"], case["params"]
    T = X.shape[1]
    skip, fill = ch.get("range", ("none", None))
    steps = _walk_range(T, skip, ch.get("order", "forward"))
    h = h0 if ch.get("start", "h0") == "h0" else np.zeros_like(h0)
    a = h  # the pre-activation carried by a slip; before the first step it is the start state
    stored = {}
    for t in steps:
        prev = {"h": h, "h0": h0, "zeros": np.zeros_like(h0), "a": a}[ch.get("carry", "h")]
        new, cache = cells.rnn_step(X[:, _index(t, T, ch.get("input", "t"))], prev, p)
        a = cache["a"]
        new = np.tanh(new) if ch.get("post") == "tanh" else new
        stored[t] = {"after": new, "before": prev, "a": cache["a"], "tanh": np.tanh(new)}[ch.get("store", "after")]
        h = new
    keys = [t for t in range(T) if t in stored]
    if ch.get("stored") == "walk order":
        keys = list(stored)  # appended in the order walked
    states = [stored[t] for t in keys]
    if fill is not None:
        states.insert(0 if skip == "first" else len(states), {"zeros": np.zeros_like(h0), "h0": h0}[fill])
    axis = ch.get("axis", 1)
    H = np.concatenate(states, axis=1) if axis == "concatenated" else np.stack(states, axis=axis)  # -> (B, T, H)
    return {"H": H}


def forward_grammar() -> Grammar:
    """Sites of ``rnn_forward`` (module docstring)."""
    line = FORWARD_LINE
    return Grammar((
        Site("input", line, options(
            ("T-1-t", "time reversed", "step t reads X[:, T-1-t] (the inputs in reverse order)"),
            ("t-1", "wrong input step", "step t reads X[:, t-1] (one step early; step 0 reads X[:, -1])"),
            ("t+1", "wrong input step", "step t reads X[:, t+1] (one step late; the last step reads X[:, T-1])"),
            ("first", "wrong input step", "every step reads X[:, 0]"),
            ("last", "wrong input step", "every step reads X[:, -1]"))),
        Site("carry", line, options(
            ("h0", "recurrence dropped", "every step starts from h0 instead of h_{t-1}"),
            ("zeros", "state reset at every step", "every step starts from zeros instead of h_{t-1}"),
            ("a", "pre-activation carried", "step t starts from the pre-activation a_{t-1} instead of h_{t-1} = "
             "tanh(a_{t-1})"))),
        Site("start", line, options(("zeros", "initial state ignored", "h0 is replaced by zeros"),)),
        Site("range", line, options(
            (("first", None), "step 0 skipped", "the loop starts at t=1 (H has T-1 steps)"),
            (("first", "h0"), "step 0 skipped", "the loop starts at t=1 and H[:, 0] holds h0"),
            (("first", "zeros"), "step 0 skipped", "the loop starts at t=1 and H[:, 0] is left at zeros"),
            (("last", None), "last step skipped", "the loop stops at t=T-2 (H has T-1 steps)"),
            (("last", "zeros"), "last step skipped", "the loop stops at t=T-2 and H[:, T-1] is left at zeros"))),
        Site("order", line, options(
            ("backward", "time reversed", "the steps run from t=T-1 down to 0 (H[:, t] holds the state after x_t)"),)),
        Site("stored", line, options(
            ("walk order", "time reversed", "the steps run from t=T-1 down to 0 and H is stored in that order"),)),
        Site("store", line, options(
            ("before", "off by one step", "H[:, t] holds the state before step t (h_{t-1}, appended before the "
             "step)"),
            ("a", "pre-activation stored", "H[:, t] holds the pre-activation a_t instead of h_t = tanh(a_t)"),
            ("tanh", "activation applied twice", "H[:, t] holds tanh(h_t) (tanh applied again before storing)"))),
        Site("post", line, options(
            ("tanh", "activation applied twice", "h_t = tanh(h_t) after each step (tanh applied twice, also to "
             "the state carried on)"),)),
        Site("axis", "H = np.stack(states, axis=1)  # (B, T, H)", options(
            (0, "time-major output", "H is stacked time first, (T, B, H)"),
            ("concatenated", "states concatenated", "the states are concatenated along the units, (B, T*H), "
             "instead of stacked"))),
    ), _forward_with_order)


def _forward_with_order(case: dict, ch: dict) -> dict:
    # "stored in walk order" only differs when the walk runs backward.
    if ch.get("stored") == "walk order":
        ch = {**ch, "order": "backward"}
    return _forward(case, ch)


# ----------------------------------------------------------------------------- rnn_backward
def step_caches(case: dict) -> list[dict]:
    """``caches[t]``: what the reference ``rnn_step`` returns at step t (the cache the notebook prescribes)."""
    h, out = case["h0"], []
    for t in range(case["X"].shape[1]):
        h, cache = cells.rnn_step(case["X"][:, t], h, case["params"])
        out.append(cache)
    return out


def _backward(case: dict, ch: dict) -> dict:
    caches, dH = step_caches(case), case["dH"]
    B, T, _ = dH.shape
    steps = _walk_range(T, ch.get("range", "none"), ch.get("order", "backward"))
    alpha, beta = ch.get("terms", (1.0, 1.0))
    carry = dH[:, T - 1].copy() if ch.get("carry_init") == "dH_last" else np.zeros_like(dH[:, 0])
    dX = np.zeros_like(case["X"])
    grads = {k: np.zeros_like(v) for k, v in case["params"].items()}
    reduce = ch.get("reduce", "sum")
    dh, before = carry, carry
    for n, t in enumerate(steps):
        dh = alpha * dH[:, _index(t, T, ch.get("dH_index", "t"))] + beta * carry
        dx, dh_prev, g = cells.rnn_step_backward(dh, caches[_index(t, T, ch.get("cache_index", "t"))])
        dX[:, _index(t, T, ch.get("dX_index", "t"))] = dx
        carried = {"dh_prev": dh_prev, "dh": dh, "accumulated": carry + dh_prev}[ch.get("carry", "dh_prev")]
        before, carry = carry, carried
        if reduce == "overwrite" or (reduce == "first walked" and n == 0):
            grads = dict(g)
        elif reduce in ("sum", "mean", "batch mean"):
            grads = {k: grads[k] + g[k] for k in grads}
        elif reduce == "subtract":
            grads = {k: grads[k] - g[k] for k in grads}
    scale = {"mean": 1.0 / T, "batch mean": 1.0 / B}.get(reduce, 1.0)
    grads = {k: v * scale for k, v in grads.items()}
    dh0 = {"carry": carry, "dh": dh, "zeros": np.zeros_like(carry), "dH_0": dH[:, 0], "before": before}[
        ch.get("dh0", "carry")]
    if ch.get("axis", 1) == 0:
        dX = dX.swapaxes(0, 1)  # (B, T, D) -> (T, B, D)
    return {"dX": dX, "dh0": dh0, **grads}


def backward_grammar() -> Grammar:
    """Sites of ``rnn_backward`` (module docstring)."""
    line = BACKWARD_LINE
    return Grammar((
        Site("order", line, options(
            ("forward", "BPTT walked forward in time", "the time loop runs in the wrong order, t from 0 up to T-1 "
             "instead of T-1 down to 0"),)),
        Site("range", line, options(
            ("first", "step 0 skipped", "the backward loop stops at t=1 (step 0 is never back-propagated)"),
            ("last", "last step skipped", "the backward loop starts at t=T-2 (the last step is never "
             "back-propagated)"))),
        Site("terms", line, options(
            ((1.0, 0.0), "missing accumulation of dh from the next step", "dh_t = dH[:, t] (the gradient from "
             "step t+1 is not added)"),
            ((0.0, 1.0), "loss gradient dropped", "dh_t = dh_next (the step's own dH[:, t] is not added)"),
            ((2.0, 1.0), "dH counted twice", "dh_t = 2 dH[:, t] + dh_next"),
            ((1.0, 2.0), "carried gradient counted twice", "dh_t = dH[:, t] + 2 dh_next"),
            ((1.0, -1.0), "sign flipped", "dh_t = dH[:, t] - dh_next (the carried gradient subtracted)"),
            ((-1.0, 1.0), "sign flipped", "dh_t = dh_next - dH[:, t] (the loss gradient subtracted)"))),
        Site("dH_index", line, options(
            ("T-1-t", "upstream gradients in the wrong order", "step t receives dH[:, T-1-t]"),
            ("t-1", "upstream gradient one step off", "step t receives dH[:, t-1]"),
            ("t+1", "upstream gradient one step off", "step t receives dH[:, t+1] (the last step its own)"))),
        Site("cache_index", "step t's backward reads caches[t]", options(
            ("T-1-t", "step caches in the wrong order", "step t reads caches[T-1-t]"),
            ("t-1", "step caches in the wrong order", "step t reads caches[t-1] (step 0 the last step's)"),
            ("t+1", "step caches in the wrong order", "step t reads caches[t+1] (the last step its own)"))),
        Site("carry", "dh_next = dh_prev returned by step t", options(
            ("dh", "Jacobian skipped in the carry", "the gradient passed to step t-1 is the dh step t received "
             "instead of the dh_prev it returned"),
            ("accumulated", "carried gradient accumulated", "dh_next += dh_prev: the carried gradient keeps every "
             "later step's dh_prev instead of being replaced"))),
        Site("carry_init", "dh_next = zeros before the loop", options(
            ("dH_last", "last step counted twice", "the carried gradient starts at dH[:, T-1] instead of zeros"),)),
        Site("reduce", SUM_LINE, options(
            ("mean", "gradients averaged over time", "the parameter gradients are divided by T"),
            ("batch mean", "gradients averaged over the batch", "the parameter gradients are divided by B"),
            ("overwrite", "parameter gradients overwritten", "grads = step_grads at every step, so only the last "
             "step walked (t=0) counts instead of the sum over t"),
            ("first walked", "parameter gradients not accumulated", "grads keep the first step walked (t=T-1) only "
             "instead of the sum over t"),
            ("subtract", "sign flipped", "each step's grads are subtracted (grads - step_grads)"))),
        Site("dX_index", "dX[:, t] = the dx that step t returns", options(
            ("T-1-t", "dX stored in the wrong order", "step t's dx is stored at dX[:, T-1-t]"),
            ("t-1", "dX stored in the wrong order", "step t's dx is stored at dX[:, t-1]"),
            ("t+1", "dX stored in the wrong order", "step t's dx is stored at dX[:, t+1]"))),
        Site("dh0", line, options(
            ("dh", "initial-state gradient one step late", "dh0 is the dh that step 0 receives instead of the "
             "dh_prev it returns"),
            ("before", "initial-state gradient one step late", "dh0 is the dh_prev that step 1 returns"),
            ("zeros", "initial-state gradient missing", "dh0 is left at zeros"),
            ("dH_0", "wrong initial-state gradient", "dh0 is dH[:, 0]"))),
        Site("axis", "dX = np.stack(dxs, axis=1)  # (B, T, D)", options(
            (0, "time-major output", "dX is stacked time first, (T, B, D)"),)),
    ), _backward)


# ----------------------------------------------------------------------------- hidden_grad_norms
def _norm(dh: np.ndarray, how: str) -> float:
    """sqrt(sum dh^2) over batch and units, or what a slip computes instead."""
    if how == "L2":
        return float(np.sqrt((dh * dh).sum()))
    if how == "spectral":
        return float(np.linalg.norm(dh, 2))  # the largest singular value of the (B, H) matrix
    per_example = np.sqrt((dh * dh).sum(axis=1))  # (B,)
    return float({"squared": (dh * dh).sum(), "L1": np.abs(dh).sum(), "max": np.abs(dh).max(),
                  "rms": np.sqrt((dh * dh).mean()), "example mean": per_example.mean(),
                  "example sum": per_example.sum(), "first example": per_example[0]}[how])


def _norms(case: dict, ch: dict) -> dict:
    caches, dh = step_caches(case), case["dh_last"]
    T = case["X"].shape[1]
    norms = np.zeros(T)
    for t in _walk_range(T, ch.get("range", "none"), ch.get("order", "backward")):
        if ch.get("when", "before") == "after":
            _, dh, _ = cells.rnn_step_backward(dh, caches[_index(t, T, ch.get("cache_index", "t"))])
        norms[_index(t, T, ch.get("store", "t"))] = _norm(dh, ch.get("norm", "L2"))
        if ch.get("when", "before") == "before":
            _, dh_prev, _ = cells.rnn_step_backward(dh, caches[_index(t, T, ch.get("cache_index", "t"))])
            dh = {"dh_prev": dh_prev, "none": dh, "plus loss": dh_prev + case["dh_last"]}[
                ch.get("propagate", "dh_prev")]
    return {"norms": norms}


def norms_grammar() -> Grammar:
    """Sites of ``hidden_grad_norms`` (module docstring)."""
    line = NORMS_LINE
    return Grammar((
        Site("order", line, options(
            ("forward", "walked forward in time", "dh_last is carried from t=0 up to T-1"),)),
        Site("range", line, options(
            ("first", "step 0 skipped", "the loop stops at t=1 (norms[0] stays 0)"),
            ("last", "last step skipped", "the loop starts at t=T-2 (norms[T-1] stays 0)"))),
        Site("when", line, options(
            ("after", "norms one step late", "norms[t] is taken after the step back, ||dL/dh_{t-1}||"),)),
        Site("norm", line, options(
            ("squared", "squared norm", "each norm is the sum of squares without the square root"),
            ("L1", "L1 norm instead of L2", "each norm is sum |dh| (L1)"),
            ("max", "max-abs norm instead of L2", "each norm is max |dh|"),
            ("rms", "mean instead of sum in the norm", "each norm is sqrt(mean of dh^2)"),
            ("example mean", "mean instead of sum in the norm", "each norm is the mean over the batch of each "
             "example's norm"),
            ("example sum", "norm summed over examples", "each norm is the sum over the batch of each example's "
             "norm"),
            ("first example", "first example only", "each norm is example 0's only"),
            ("spectral", "matrix 2-norm instead of the Frobenius norm", "each norm is np.linalg.norm(dh, 2), the "
             "largest singular value of the (B, H) matrix, instead of sqrt(sum of squares)"))),
        Site("cache_index", "step t's backward reads caches[t]", options(
            ("T-1-t", "step caches in the wrong order", "step t reads caches[T-1-t]"),
            ("t-1", "step caches in the wrong order", "step t reads caches[t-1]"),
            ("t+1", "step caches in the wrong order", "step t reads caches[t+1]"))),
        Site("propagate", line, options(
            ("none", "gradient not propagated", "dh is never sent back through the steps"),
            ("plus loss", "loss on every step", "dh_last is added again at every step back"))),
        Site("store", line, options(
            ("T-1-t", "norms stored in the wrong order", "norms are stored reversed (norms[T-1-t])"),)),
    ), _norms)


# ----------------------------------------------------------------------------- clip_gradients
def _global(grads: dict, how: str) -> float:
    gs = list(grads.values())
    per = [float(np.sqrt((g * g).sum())) for g in gs]
    return float({"L2": np.sqrt(sum(p * p for p in per)), "squared": sum(p * p for p in per),
                  "L1": sum(np.abs(g).sum() for g in gs), "max": max(np.abs(g).max() for g in gs),
                  "rms": np.sqrt(sum(p * p for p in per) / sum(g.size for g in gs)), "tensor sum": sum(per),
                  "tensor rms": np.sqrt(sum(float((g * g).mean()) for g in gs)),
                  "tensor mean": sum(per) / len(per), "tensor max": max(per),
                  "sum squared": np.sqrt(sum(float(g.sum()) ** 2 for g in gs)),
                  "spectral": np.sqrt(sum(float(np.linalg.norm(g, 2)) ** 2 if g.ndim == 2 else
                                          float((g * g).sum()) for g in gs))}[how])


def _clip(case: dict, ch: dict) -> dict:
    grads, m = case["grads"], case["max_norm"]
    n = _global(grads, ch.get("norm", "L2"))
    if n == 0:
        raise ZeroDivisionError("a zero norm")
    scale = {"min": min(1.0, m / n), "max": max(1.0, m / n), "inverted": min(1.0, n / m), "always": m / n,
             "never": 1.0, "inverted test": m / n if n < m else 1.0}[ch.get("scale", "min")]
    if ch.get("per_tensor"):
        clipped = {k: g * min(1.0, m / max(float(np.sqrt((g * g).sum())), 1e-300)) for k, g in grads.items()}
    elif ch.get("apply") == "divide":
        clipped = {k: g / scale for k, g in grads.items()}
    elif ch.get("apply") == "value":
        clipped = {k: np.clip(g, -m, m) for k, g in grads.items()}
    else:
        clipped = {k: g * scale for k, g in grads.items()}
    returned = {"before": n, "after": n * scale if not ch.get("per_tensor") else _global(clipped, "L2"),
                "squared": n * n, "scale": scale}[ch.get("returned", "before")]
    return {**clipped, "norm": np.array(returned)}


def clip_grammar() -> Grammar:
    """Sites of ``clip_gradients`` (module docstring)."""
    line = CLIP_LINE
    return Grammar((
        Site("norm", line, options(
            ("squared", "clipping by the squared norm", "the norm is the sum of squares without the square root"),
            ("L1", "L1 norm instead of L2", "the norm is the sum of |g| over all entries"),
            ("max", "max-abs norm instead of L2", "the norm is the largest |g|"),
            ("rms", "mean instead of sum in the norm", "the norm is sqrt(mean of g^2) over all entries"),
            ("tensor rms", "mean instead of sum in the norm", "the norm is sqrt(sum over tensors of the mean of "
             "g^2): each tensor's squares averaged, not summed"),
            ("tensor sum", "norm summed over tensors", "the norm is the sum of the per-tensor norms"),
            ("tensor mean", "norm averaged over tensors", "the norm is the mean of the per-tensor norms"),
            ("tensor max", "largest tensor norm", "the norm is the largest per-tensor norm"),
            ("sum squared", "sum squared instead of sum of squares", "the norm is sqrt(sum over tensors of "
             "(sum of g)^2)"),
            ("spectral", "matrix 2-norm instead of the Frobenius norm", "each matrix's norm is np.linalg.norm(g, 2), "
             "its largest singular value, instead of sqrt(sum of g^2)"))),
        Site("scale", line, options(
            ("max", "min/max confused", "the scale is max(1, max_norm / norm)"),
            ("inverted", "inverted ratio", "the scale is min(1, norm / max_norm) (the ratio upside down)"),
            ("always", "clipped without the min", "the scale is max_norm / norm even when norm <= max_norm"),
            ("never", "not clipped", "the gradients are returned unscaled"),
            ("inverted test", "comparison inverted", "the gradients are scaled only when norm < max_norm"))),
        Site("per_tensor", line, options(
            (True, "clipped per tensor", "each tensor is clipped by its own norm instead of the global one"),)),
        Site("apply", line, options(
            ("divide", "inverted ratio", "the gradients are divided by the scale instead of multiplied"),
            ("value", "clipped by value", "each entry is clipped to [-max_norm, max_norm]"))),
        Site("returned", "norm = the global norm before clipping", options(
            ("after", "norm after clipping returned", "the returned norm is the norm after clipping"),
            ("squared", "squared norm returned", "the returned norm is norm^2"),
            ("scale", "scale returned as the norm", "the returned value is the scale min(1, max_norm / norm), not "
             "the norm"))),
    ), _clip)


# ----------------------------------------------------------------------------- spectral_radius
def _radius(case: dict, ch: dict) -> dict:
    W = case["W"]
    M = {"W": W, "WWT": W @ W.T, "lower": np.tril(W) + np.tril(W, -1).T}[ch.get("matrix", "W")]
    spec = {"eig": np.linalg.eigvals(M), "svd": np.linalg.svd(M, compute_uv=False),
            "real": np.linalg.eigvals(M).real, "entries": M.ravel()}[ch.get("spectrum", "eig")]
    value = {"max abs": np.abs(spec).max(), "max": spec.real.max(), "min abs": np.abs(spec).min(),
             "sum abs": np.abs(spec).sum(), "squared": np.abs(spec).max() ** 2, "sum": abs(spec.sum().real),
             "product": abs(np.prod(spec).real),
             # a "typical size" of the eigenvalues instead of the largest one: |det W|^(1/n) is their geometric mean
             "geometric mean": float(np.exp(np.log(np.abs(spec)).mean())) if np.all(spec != 0) else 0.0,
             "mean abs": np.abs(spec).mean(), "rms": float(np.sqrt((np.abs(spec) ** 2).mean())),
             "median abs": float(np.median(np.abs(spec)))}[ch.get("reduce", "max abs")]
    return {"rho": np.array(float(value))}


def radius_grammar() -> Grammar:
    """Sites of ``spectral_radius`` (module docstring)."""
    line = RADIUS_LINE
    return Grammar((
        Site("matrix", line, options(
            ("WWT", "squared radius", "the eigenvalues are those of W W^T"),
            ("lower", "symmetric eigenvalues of a non-symmetric matrix", "eigvalsh reads only the lower triangle"))),
        Site("spectrum", line, options(
            ("svd", "singular value instead of eigenvalue", "the singular values (svd, the spectral norm) are used "
             "instead of the eigenvalues"),
            ("real", "real part", "the real parts of the eigenvalues are used instead of their moduli"),
            ("entries", "entries instead of eigenvalues", "W's entries are used instead of its eigenvalues"))),
        Site("reduce", line, options(
            ("max", "modulus missing", "the largest eigenvalue itself is returned, not the largest |lambda|"),
            ("min abs", "smallest modulus", "the smallest |lambda| is returned"),
            ("sum abs", "sum of moduli", "the sum of |lambda| is returned"),
            ("squared", "squared radius", "the radius is squared"),
            ("sum", "trace instead of the radius", "|the sum of the eigenvalues| (the trace) is returned"),
            ("product", "determinant instead of the radius", "|the product of the eigenvalues| (the determinant) "
             "is returned"),
            ("geometric mean", "typical eigenvalue size instead of the largest",
             "the geometric mean of |lambda| is returned, |det W|^(1/n) (the product of the moduli, to the 1/n), "
             "not the largest |lambda|"),
            ("mean abs", "typical eigenvalue size instead of the largest", "the mean of |lambda| is returned, not "
             "the largest"),
            ("rms", "typical eigenvalue size instead of the largest", "the root mean square of |lambda| is returned "
             "(sqrt(trace(W W^*)/n) for a normal W), not the largest |lambda|"),
            ("median abs", "typical eigenvalue size instead of the largest", "the median |lambda| is returned, not "
             "the largest"))),
    ), _radius)


# ----------------------------------------------------------------------------- probe cases and suspects
def probe_sequence_case() -> dict:
    """A fixed grader-chosen sequence case with generic sizes (B, T, D, H) = (3, 4, 2, 5): no size 1, no two equal."""
    from autograder.cases import random_params

    rng = np.random.default_rng(20261202)
    B, T, D, H = 3, 4, 2, 5
    return {"label": "probe", "X": rng.standard_normal((B, T, D)), "h0": 0.8 * rng.standard_normal((B, H)),
            "params": random_params("rnn", D, H, rng), "dH": rng.standard_normal((B, T, H)),
            "dh_last": rng.standard_normal((B, H))}


def separating_sequence_cases() -> tuple[dict, ...]:
    """Further grader-chosen sequence cases that can tell apart suspects the probe case did not (other sizes, one
    example).
    """
    from autograder.cases import random_params

    out = []
    for k, (B, T, D, H) in enumerate(((2, 5, 3, 4), (1, 3, 4, 2))):
        rng = np.random.default_rng(20261210 + k)
        out.append({"label": "probe", "X": rng.standard_normal((B, T, D)), "h0": 0.8 * rng.standard_normal((B, H)),
                    "params": random_params("rnn", D, H, rng), "dH": rng.standard_normal((B, T, H)),
                    "dh_last": rng.standard_normal((B, H))})
    return tuple(out)


def separating_clip_cases() -> tuple[dict, ...]:
    """A clipping case whose norm is below ``max_norm`` (nothing may change) and one far above it."""
    rng = np.random.default_rng(20261211)
    grads = {"W_xh": rng.standard_normal((3, 2)), "W_hh": rng.standard_normal((2, 2)), "b_h": rng.standard_normal(2)}
    n = _global(grads, "L2")
    return ({"label": "probe", "grads": grads, "max_norm": 2.5 * n},
            {"label": "probe", "grads": grads, "max_norm": 0.05 * n})


def separating_matrix_cases() -> tuple[dict, ...]:
    """A non-symmetric 4x4 matrix whose largest |eigenvalue| is a complex pair and whose most negative real part
    has the largest |real part|: modulus, real part and |real part| all disagree.
    """
    rng = np.random.default_rng(20261212)
    theta = np.arccos(0.3)
    A = np.zeros((4, 4))
    A[:2, :2] = 1.5 * np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])
    A[2, 2], A[3, 3] = -0.9, 0.3  # max real part 0.45, max |real part| 0.9, max modulus 1.5
    P = rng.standard_normal((4, 4)) + 2.0 * np.eye(4)
    return ({"label": "probe", "W": P @ A @ np.linalg.inv(P)},)


def probe_clip_case() -> dict:
    """Gradients of three sizes whose global norm is above ``max_norm`` (clipping active)."""
    rng = np.random.default_rng(20261203)
    grads = {"W_xh": rng.standard_normal((2, 5)), "W_hh": rng.standard_normal((5, 5)), "b_h": rng.standard_normal(5)}
    return {"label": "probe", "grads": grads, "max_norm": 0.4 * _global(grads, "L2")}


def probe_matrix_case() -> dict:
    """A 5x5 non-symmetric matrix with complex eigenvalues and a negative-dominated spectrum."""
    rng = np.random.default_rng(20261204)
    return {"label": "probe", "W": rng.standard_normal((5, 5)) / np.sqrt(5) - 0.9 * np.eye(5)}


GRAMMARS = {"rnn_forward": forward_grammar, "rnn_backward": backward_grammar, "hidden_grad_norms": norms_grammar,
            "clip_gradients": clip_grammar, "spectral_radius": radius_grammar}


def grammar_suspects(name: str) -> list:
    """Every one- and two-slip suspect of ``name``'s grammar (one-slip first)."""
    return GRAMMARS[name]().suspects(pairs=True)
