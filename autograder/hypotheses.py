"""The bug catalogue: for each graded function, what the reference would return under each common bug.

Each hypothesis is computed in the grader from the reference in ``simulator/`` by one of three moves:
changing the reference's inputs (permuted gate blocks, transposed or zeroed weights, dropped biases,
the other GRU convention), recombining the reference's cached intermediates differently (an activation
swapped for another), or changing how the reference's steps are chained (BPTT without the carried
``dh``). A student's outputs that match a hypothesis name the bug. Functions take the check's case
(a dict of inputs) and return the outputs under the bug, or None when the bug cannot be told apart
from the reference on this case's shapes.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from exercises.answers import bptt as bptt_answers
from simulator import cells
from simulator.cells import sigmoid

GATE_NAMES = {"i": "input", "f": "forget", "g": "candidate", "o": "output",
              "z": "update", "r": "reset", "n": "candidate"}


@dataclass(frozen=True)
class Hypothesis:
    """A named bug: ``bug`` is its class (as listed in docs/exercises.md), ``text`` (or a function of the
    case giving it) completes "your result matches the reference if ...", ``outputs`` maps a case to the
    outputs under the bug.
    """

    bug: str
    text: str | Callable[[dict], str]
    outputs: Callable[[dict], dict | None]


def _with(params: dict, **changes) -> dict:
    return {**params, **changes}


def _zeros_like(params: dict, *names: str) -> dict:
    return _with(params, **{k: np.zeros_like(params[k]) for k in names})


def permute_blocks(params: dict, keys: tuple[str, ...], student_order: tuple[str, ...],
                   reference_order: tuple[str, ...]) -> dict:
    """Parameters under which the reference computes what a student who reads the column blocks in
    ``student_order`` computes: reference gate ``j`` takes the block where the student reads ``j``.
    """
    out = dict(params)
    n = len(reference_order)
    for key in keys:
        W = params[key]
        width = W.shape[-1] // n
        blocks = [W[..., k * width : (k + 1) * width] for k in range(n)]
        out[key] = np.concatenate([blocks[student_order.index(g)] for g in reference_order], axis=-1)
    return out


def _order_text(order: tuple[str, ...], reference: tuple[str, ...]) -> str:
    moved = [g for g, r in zip(order, reference, strict=True) if g != r]
    if len(moved) == 2:
        a, b = moved
        return (f"the {GATE_NAMES[a]} and {GATE_NAMES[b]} gate blocks are swapped ({a} and {b}; "
                f"you read the blocks as {', '.join(order)}, the course uses {', '.join(reference)})")
    note = " (the order CS231n uses)" if order == ("i", "f", "o", "g") else ""
    return f"the gate blocks are read in the order {', '.join(order)}{note} instead of {', '.join(reference)}"


def _order_hypotheses(step: Callable, keys: tuple[str, ...], reference: tuple[str, ...],
                      outputs: Callable) -> list[Hypothesis]:
    hyps = []
    for order in itertools.permutations(reference):
        if order == reference:
            continue

        def run(case, order=order):
            return outputs(step(case, permute_blocks(case["params"], keys, order, reference)))

        hyps.append(Hypothesis("gate order swapped", _order_text(order, reference), run))
    # Single swaps first: the likeliest slips, and the message names two gates.
    return sorted(hyps, key=lambda h: "swapped (" not in h.text)


# ----------------------------------------------------------------------------- RNN step
def _rnn(case, params=None, h_prev=None):
    h, cache = cells.rnn_step(case["x"], case["h_prev"] if h_prev is None else h_prev, params or case["params"])
    return h, cache


def _square(name: str) -> Callable[[dict], bool]:
    return lambda case: case["params"][name].shape[0] == case["params"][name].shape[1]


def rnn_step_hypotheses() -> list[Hypothesis]:
    def act(f):
        return lambda case: {"h": f(_rnn(case)[1]["a"])}

    return [
        Hypothesis("transposed weights", "W_hh is used transposed (h_prev @ W_hh.T)",
                   lambda c: {"h": _rnn(c, _with(c["params"], W_hh=c["params"]["W_hh"].T))[0]}),
        Hypothesis("transposed weights", "W_xh is used transposed (x @ W_xh.T)",
                   lambda c: {"h": _rnn(c, _with(c["params"], W_xh=c["params"]["W_xh"].T))[0]}
                   if _square("W_xh")(c) else None),
        Hypothesis("bias dropped", "the bias b_h is left out",
                   lambda c: {"h": _rnn(c, _zeros_like(c["params"], "b_h"))[0]}),
        Hypothesis("sigmoid/tanh confused", "sigmoid is used where tanh belongs (h = sigmoid(a))", act(sigmoid)),
        Hypothesis("wrong activation", "relu is used instead of tanh", act(lambda a: np.maximum(a, 0))),
        Hypothesis("no activation", "tanh is left out (h = a)", act(lambda a: a)),
        Hypothesis("recurrence dropped", "h_prev is ignored (the h_prev @ W_hh term is missing)",
                   lambda c: {"h": _rnn(c, _zeros_like(c["params"], "W_hh"))[0]}),
    ]


def _rnn_back_from_da(case, da, dh_prev=None):
    p = case["params"]
    return {"dx": da @ p["W_xh"].T, "dh_prev": da @ p["W_hh"].T if dh_prev is None else dh_prev,
            "W_xh": case["x"].T @ da, "W_hh": case["h_prev"].T @ da, "b_h": da.sum(axis=0)}


def rnn_step_backward_hypotheses() -> list[Hypothesis]:
    def ref(case):
        h, cache = _rnn(case)
        return h, cache, case["dh"] * (1.0 - h * h)

    def transposed_dh_prev(case):
        _, _, da = ref(case)
        return _rnn_back_from_da(case, da, dh_prev=da @ case["params"]["W_hh"])

    def transposed_dW(case):
        _, _, da = ref(case)
        out = _rnn_back_from_da(case, da)
        out["W_hh"] = out["W_hh"].T
        return out

    def with_da(f):
        def run(case):
            h, cache, _ = ref(case)
            return _rnn_back_from_da(case, f(case["dh"], h, cache["a"]))
        return run

    def no_db(case):
        out = _rnn_back_from_da(case, ref(case)[2])
        out["b_h"] = np.zeros_like(out["b_h"])
        return out

    return [
        Hypothesis("transposed weights", "dh_prev is computed with W_hh instead of W_hh.T (da @ W_hh)",
                   transposed_dh_prev),
        Hypothesis("transposed weights", "grads['W_hh'] is transposed (da.T @ h_prev instead of h_prev.T @ da)",
                   transposed_dW),
        Hypothesis("missing derivative", "the tanh derivative is left out (da = dh)", with_da(lambda dh, h, a: dh)),
        Hypothesis("sigmoid/tanh confused", "the sigmoid derivative h*(1-h) is used instead of tanh's (1-h^2)",
                   with_da(lambda dh, h, a: dh * h * (1 - h))),
        Hypothesis("wrong derivative", "the tanh derivative is taken of the pre-activation, (1-a^2) instead of (1-h^2)",
                   with_da(lambda dh, h, a: dh * (1 - a * a))),
        Hypothesis("bias dropped", "the bias gradient grads['b_h'] is left at zero", no_db),
    ]


# ----------------------------------------------------------------------------- LSTM step
def _lstm_step(case, params):
    h, c, cache = cells.lstm_step(case["x"], case["h_prev"], case["c_prev"], params)
    return h, c, cache


def _lstm_combine(case, i, f, g, o, squash=np.tanh):
    c = f * case["c_prev"] + i * g
    return {"h": o * squash(c), "c": c}


def lstm_step_hypotheses() -> list[Hypothesis]:
    def pre(case):
        return _lstm_step(case, case["params"])[2]

    def g_sigmoid(case):
        k = pre(case)
        return _lstm_combine(case, k["i"], k["f"], sigmoid(k["a_g"]), k["o"])

    def gates_tanh(case):
        k = pre(case)
        return _lstm_combine(case, np.tanh(k["a_i"]), np.tanh(k["a_f"]), k["g"], np.tanh(k["a_o"]))

    def all_swapped(case):
        k = pre(case)
        return _lstm_combine(case, np.tanh(k["a_i"]), np.tanh(k["a_f"]), sigmoid(k["a_g"]), np.tanh(k["a_o"]))

    def no_tanh_c(case):
        k = pre(case)
        return _lstm_combine(case, k["i"], k["f"], k["g"], k["o"], squash=lambda c: c)

    def sigmoid_c(case):
        k = pre(case)
        return _lstm_combine(case, k["i"], k["f"], k["g"], k["o"], squash=sigmoid)

    def outputs(res):
        return {"h": res[0], "c": res[1]}

    return [
        *_order_hypotheses(_lstm_step, ("W_x", "W_h", "b"), ("i", "f", "g", "o"), outputs),
        Hypothesis("sigmoid/tanh confused", "the candidate g uses sigmoid instead of tanh", g_sigmoid),
        Hypothesis("sigmoid/tanh confused", "the gates i, f, o use tanh instead of sigmoid", gates_tanh),
        Hypothesis("sigmoid/tanh confused", "sigmoid and tanh are exchanged everywhere in the gates", all_swapped),
        Hypothesis("missing activation", "tanh of the cell state is left out (h = o * c)", no_tanh_c),
        Hypothesis("sigmoid/tanh confused", "h = o * sigmoid(c) instead of o * tanh(c)", sigmoid_c),
        Hypothesis("bias dropped", "the bias b is left out",
                   lambda c: outputs(_lstm_step(c, _zeros_like(c["params"], "b")))),
        Hypothesis("recurrence dropped", "h_prev is ignored (the h_prev @ W_h term is missing)",
                   lambda c: outputs(_lstm_step(c, _zeros_like(c["params"], "W_h")))),
    ]


def _lstm_back_from_da(case, da, dc_prev):
    p = case["params"]
    return {"dx": da @ p["W_x"].T, "dh_prev": da @ p["W_h"].T, "dc_prev": dc_prev,
            "W_x": case["x"].T @ da, "W_h": case["h_prev"].T @ da, "b": da.sum(axis=0)}


def lstm_step_backward_hypotheses() -> list[Hypothesis]:
    def ref(case, dh=None, dc=None):
        _, _, cache = _lstm_step(case, case["params"])
        dh = case["dh"] if dh is None else dh
        dc = case["dc"] if dc is None else dc
        da, _, dc_prev, _ = cells.lstm_core_backward(dh, dc, cache, case["params"])
        return cache, da, dc_prev

    def ignore_dc(case):
        _, da, dc_prev = ref(case, dc=np.zeros_like(case["dc"]))
        return _lstm_back_from_da(case, da, dc_prev)

    def dc_prev_without_f(case):
        cache, da, dc_prev = ref(case)
        return _lstm_back_from_da(case, da, dc_prev / cache["f"])

    def order(student):
        def run(case):
            _, da, dc_prev = ref(case)
            # The student's da has the reference's gate gradients in the student's block order.
            moved = permute_blocks({"da": da}, ("da",), ("i", "f", "g", "o"), student)["da"]
            return _lstm_back_from_da(case, moved, dc_prev)
        return run

    swaps = [("f", "i", "g", "o"), ("i", "f", "o", "g"), ("i", "o", "g", "f"), ("g", "f", "i", "o")]
    return [
        Hypothesis("missing dc", "the incoming dc is ignored (dc_total should be dc + dh * o * (1 - tanh(c)^2))",
                   ignore_dc),
        Hypothesis("missing factor", "dc_prev is dc_total instead of dc_total * f", dc_prev_without_f),
        *[Hypothesis("gate order swapped", "the gradient blocks of da are stacked in the order "
                     f"{', '.join(s)} instead of i, f, g, o", order(s)) for s in swaps],
    ]


# ----------------------------------------------------------------------------- GRU step
def _gru_step(case, params=None, reset_after=None):
    ra = case["reset_after"] if reset_after is None else reset_after
    return cells.gru_step(case["x"], case["h_prev"], params or case["params"], reset_after=ra)


def gru_step_hypotheses() -> list[Hypothesis]:
    def cached(case):
        return _gru_step(case)[1]

    def flipped_update(case):
        k = cached(case)
        return {"h": (1 - k["z"]) * case["h_prev"] + k["z"] * k["n"]}

    def n_sigmoid(case):
        k = cached(case)
        return {"h": k["z"] * case["h_prev"] + (1 - k["z"]) * sigmoid(k["a_n"])}

    def gates_tanh(case):
        k, H = cached(case), case["h_prev"].shape[1]
        a = k["xw"] + k["hw"]  # the z and r blocks are the gates' pre-activations in both conventions
        z, r = np.tanh(a[:, :H]), np.tanh(a[:, H : 2 * H])
        if case["reset_after"]:
            n = np.tanh(k["xw"][:, 2 * H :] + r * k["hw"][:, 2 * H :])
        else:
            p = case["params"]
            n = np.tanh(k["xw"][:, 2 * H :] + (r * case["h_prev"]) @ p["W_h"][:, 2 * H :] + p["b_h"][2 * H :])
        return {"h": z * case["h_prev"] + (1 - z) * n}

    def other(case):
        ra = case["reset_after"]
        name = "before" if ra else "after"
        return f"the reset gate is applied {name} the recurrent product (the other GRU convention)"

    def other_convention(case):
        return {"h": _gru_step(case, reset_after=not case["reset_after"])[0]}

    def outputs(res):
        return {"h": res[0]}

    return [
        Hypothesis("other GRU convention", other, other_convention),
        Hypothesis("update convention flipped", "h = (1 - z) * h_prev + z * n instead of z * h_prev + (1 - z) * n",
                   flipped_update),
        *_order_hypotheses(lambda c, p: _gru_step(c, p), ("W_x", "W_h", "b_x", "b_h"), ("z", "r", "n"), outputs),
        Hypothesis("sigmoid/tanh confused", "the candidate n uses sigmoid instead of tanh", n_sigmoid),
        Hypothesis("sigmoid/tanh confused", "the gates z and r use tanh instead of sigmoid", gates_tanh),
        Hypothesis("bias dropped", "the bias b_x is left out",
                   lambda c: outputs(_gru_step(c, _zeros_like(c["params"], "b_x")))),
        Hypothesis("bias dropped", "the bias b_h is left out",
                   lambda c: outputs(_gru_step(c, _zeros_like(c["params"], "b_h")))),
        Hypothesis("bias dropped", "both biases b_x and b_h are left out",
                   lambda c: outputs(_gru_step(c, _zeros_like(c["params"], "b_x", "b_h")))),
    ]


def hypothesis_text(h: Hypothesis, case: dict) -> str:
    """The hypothesis' sentence for this case (the GRU convention's text depends on the case)."""
    return h.text if isinstance(h.text, str) else h.text(case)


def gru_step_backward_hypotheses() -> list[Hypothesis]:
    def no_direct(case):
        h, cache = _gru_step(case)
        dx, dh_prev, grads = cells.gru_step_backward(case["dh"], cache)
        return {"dx": dx, "dh_prev": dh_prev - case["dh"] * cache["z"], **grads}

    return [Hypothesis("missing term", "dh_prev misses the direct path z * dh (from h = z * h_prev + ...)",
                       no_direct)]


# ----------------------------------------------------------------------------- BPTT
def _steps(case, h0=None, carry=True, params=None):
    """Reference steps chained over time; ``carry=False`` starts every step from ``h0``."""
    params = params or case["params"]
    h = case["h0"] if h0 is None else h0
    start, Hs, caches = h, [], []
    for t in range(case["X"].shape[1]):
        h, cache = cells.rnn_step(case["X"][:, t], h if carry else start, params)
        Hs.append(h)
        caches.append(cache)
    return np.stack(Hs, axis=1), caches  # T x (B, H) -> (B, T, H)


def rnn_forward_hypotheses() -> list[Hypothesis]:
    p = "params"
    return [
        Hypothesis("initial state ignored", "h0 is ignored (the first step starts from zeros)",
                   lambda c: {"H": _steps(c, h0=np.zeros_like(c["h0"]))[0]}),
        Hypothesis("recurrence dropped", "every step starts from h0 instead of the previous step's h",
                   lambda c: {"H": _steps(c, carry=False)[0]}),
        Hypothesis("off by one step", "H[:, t] holds h_{t-1} (the state before step t) instead of h_t",
                   lambda c: {"H": np.concatenate([c["h0"][:, None], _steps(c)[0][:, :-1]], axis=1)}),
        Hypothesis("transposed weights", "W_hh is used transposed",
                   lambda c: {"H": _steps(c, params=_with(c[p], W_hh=c[p]["W_hh"].T))[0]}),
        Hypothesis("bias dropped", "the bias b_h is left out",
                   lambda c: {"H": _steps(c, params=_zeros_like(c[p], "b_h"))[0]}),
    ]


def _bptt(case, accumulate=True, keep="all"):
    _, caches = _steps(case)
    dH = case["dH"]
    B, T, _ = dH.shape
    carry = np.zeros_like(case["h0"])
    dX = np.empty_like(case["X"])
    grads = {k: np.zeros_like(v) for k, v in case["params"].items()}
    for t in reversed(range(T)):
        dh = dH[:, t] + carry if accumulate else dH[:, t]
        dX[:, t], carry, g = cells.rnn_step_backward(dh, caches[t])
        for k in grads:
            grads[k] = grads[k] + g[k] if keep == "all" else g[k]
    return {"dX": dX, "dh0": carry, **grads}


def rnn_backward_hypotheses() -> list[Hypothesis]:
    return [
        Hypothesis("missing accumulation of dh from the next step",
                   "each step uses only dH[:, t] and drops the gradient flowing back from step t+1 "
                   "(dh_t should be dH[:, t] + dh_prev returned by step t+1)",
                   lambda c: _bptt(c, accumulate=False)),
        Hypothesis("gradients overwritten", "the parameter gradients keep only the last computed step (t=0) "
                   "instead of summing over all steps", lambda c: _bptt(c, keep="last")),
    ]


def clip_gradients_hypotheses() -> list[Hypothesis]:
    def per_tensor(case):
        m = case["max_norm"]
        out = {}
        for k, g in case["grads"].items():
            n = float(np.sqrt((g * g).sum()))
            out[k] = g * min(1.0, m / n) if n > 0 else g
        return {**out, "norm": bptt_answers.clip_gradients(case["grads"], m)[1]}

    def always(case):
        _, norm = bptt_answers.clip_gradients(case["grads"], case["max_norm"])
        return {**{k: g * (case["max_norm"] / norm) for k, g in case["grads"].items()}, "norm": norm}

    def norm_after(case):
        clipped, _ = bptt_answers.clip_gradients(case["grads"], case["max_norm"])
        return {**clipped, "norm": float(np.sqrt(sum((g * g).sum() for g in clipped.values())))}

    return [
        Hypothesis("per-tensor clipping", "each gradient is clipped by its own norm instead of the global norm",
                   per_tensor),
        Hypothesis("always rescaled", "gradients are rescaled to max_norm even when their norm is already smaller "
                   "(the scale is max_norm / norm, it should be min(1, max_norm / norm))", always),
        Hypothesis("norm after clipping", "the returned norm is measured after clipping instead of before",
                   norm_after),
    ]


def hidden_grad_norms_hypotheses() -> list[Hypothesis]:
    def ref(case):
        return bptt_answers.hidden_grad_norms(case["X"], case["h0"], case["params"], case["dh_last"])

    def shifted(case):
        # norms of dL/dh_{t-1}: what reaches the step's input state, one step earlier
        _, caches = _steps(case)
        T = case["X"].shape[1]
        carry = case["dh_last"]
        out = np.empty(T)
        for t in reversed(range(T)):
            _, carry, _ = cells.rnn_step_backward(carry, caches[t])
            out[t] = np.sqrt((carry * carry).sum())
        return {"norms": out}

    return [
        Hypothesis("time reversed", "the norms are listed from t=T-1 down to 0 instead of t=0 up to T-1",
                   lambda c: {"norms": ref(c)[::-1].copy()}),
        Hypothesis("off by one step", "entry t holds ||dL/dh_{t-1}|| (the gradient leaving step t) instead of "
                   "||dL/dh_t||", shifted),
        Hypothesis("squared norm", "the squared norms are returned (the square root is missing)",
                   lambda c: {"norms": ref(c) ** 2}),
    ]


def spectral_radius_hypotheses() -> list[Hypothesis]:
    return [
        Hypothesis("spectral norm", "the largest singular value (the spectral norm) is returned instead of the "
                   "largest |eigenvalue|", lambda c: {"rho": float(np.linalg.svd(c["W"], compute_uv=False)[0])}),
        Hypothesis("real part", "the largest real part of the eigenvalues is returned instead of the largest modulus",
                   lambda c: {"rho": float(np.linalg.eigvals(c["W"]).real.max())}),
    ]
