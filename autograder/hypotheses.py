"""The bug catalogue: for each graded function, what the reference would return under each common bug.

Every hypothesis is the reference in ``simulator/`` run with something changed, never a second copy
of correct math (DESIGN.md, invariant 1): changed inputs (permuted gate blocks, transposed or zeroed
weights, dropped biases, a zeroed upstream gradient, the other GRU convention, a cache entry swapped
for another), changed activations through the step functions' hooks (``sigmoid=``, ``tanh=`` forward,
``dsigmoid=``, ``dtanh=`` backward; ``at_use`` and ``on`` change one site), or changed chaining of the
reference's steps (BPTT without the carried ``dh``). A few rearrange what the reference returns (a
transposed or zeroed gradient). A student's outputs that match a hypothesis name the bug; gate-order
literals come from ``cells.GATES``. Functions take the check's case (a dict of inputs; a backward case
also holds the reference's ``cache``) and return the outputs under the bug, or None when the bug cannot
be expressed on this case's shapes.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from exercises.answers import bptt as bptt_answers
from simulator import cells, gradients, sequence

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
    output_line: bool = False  # the bug is in the line that builds an output, not in a cached intermediate


# ----------------------------------------------------------------------------- hooks: one changed activation
def at_use(k: int, replacement: Callable, default: Callable) -> Callable:
    """An activation hook that is ``replacement`` at its ``k``-th call (from 0) and ``default`` elsewhere.

    The reference calls its forward hooks in equation order: ``lstm_step`` calls ``tanh`` for ``g``
    then for ``tanh(c)`` and ``sigmoid`` for ``i, f, o``; ``gru_step`` calls ``sigmoid`` for ``z, r``.
    Make a fresh hook for every run (it counts its calls).
    """
    calls = [0]

    def hook(a):
        calls[0] += 1
        return replacement(a) if calls[0] - 1 == k else default(a)

    return hook


def on(target: np.ndarray, replacement: Callable, default: Callable) -> Callable:
    """A derivative hook that is ``replacement`` when called on the cache's array ``target`` itself.

    The reference backward calls ``dtanh(cache["g"])``, ``dsigmoid(cache["z"])`` ... on the cache's own
    arrays, so a hook can change one site's derivative (e.g. only the candidate's).
    """
    return lambda y: replacement(y) if y is target else default(y)


def identity(a: np.ndarray) -> np.ndarray:
    return a


def relu(a: np.ndarray) -> np.ndarray:
    return np.maximum(a, 0.0)


def _with(params: dict, **changes) -> dict:
    return {**params, **changes}


def _zeros_like(params: dict, *names: str) -> dict:
    return _with(params, **{k: np.zeros_like(params[k]) for k in names})


def _block(params: dict, keys: tuple[str, ...], kind: str, gate: str, change: Callable) -> dict:
    """``params`` with ``change`` applied to gate ``gate``'s column block of each of ``keys``."""
    out = dict(params)
    k = cells.GATES[kind].index(gate)
    for key in keys:
        W = params[key].copy()
        width = W.shape[-1] // len(cells.GATES[kind])
        W[..., k * width:(k + 1) * width] = change(W[..., k * width:(k + 1) * width])
        out[key] = W
    return out


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
        blocks = [W[..., k * width:(k + 1) * width] for k in range(n)]
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


def _order_hypotheses(kind: str, keys: tuple[str, ...], run: Callable) -> list[Hypothesis]:
    reference = cells.GATES[kind]
    hyps = []
    for order in itertools.permutations(reference):
        if order != reference:
            hyps.append(Hypothesis("gate order swapped", _order_text(order, reference),
                                   lambda c, o=order: run(c, params=permute_blocks(c["params"], keys, o, reference))))
    # Single swaps first: the likeliest slips, and the message names two gates.
    return sorted(hyps, key=lambda h: "swapped (" not in h.text)


def hypothesis_text(h: Hypothesis, case: dict) -> str:
    """The hypothesis' sentence for this case (the GRU convention's text depends on the case)."""
    return h.text if isinstance(h.text, str) else h.text(case)


# ----------------------------------------------------------------------------- forward: what is returned
QUANTITY = {"h_prev": "h_prev", "c_prev": "c_prev", "h": "the new h", "c": "the new c",
            "tanh_c": "tanh(c)", "i": "the input gate i", "f": "the forget gate f", "g": "the candidate g",
            "o": "the output gate o", "z": "the update gate z", "r": "the reset gate r", "n": "the candidate n"}


# An output equal to a cached quantity that is one factor of it: the other factor is missing.
FACTOR_MISSING = {("h", "tanh_c"): ("output gate dropped", "h is tanh(c): the o factor of h = o * tanh(c) is missing")}


def _returned_as(run: Callable, out: str, key: str) -> Callable[[dict], dict | None]:
    """The reference's result with output ``out`` (and the cache's ``out``) replaced by its cache's ``key``."""
    def outputs(case):
        res = run(case)
        value = res["cache"].get(key)
        if type(value) is not np.ndarray or value.shape != res[out].shape:
            return None
        cache = {**res["cache"], **({out: value} if out in res["cache"] else {})}
        return {**res, out: value, "cache": cache}
    return outputs


def returned_hypotheses(run: Callable, outputs: tuple[str, ...], keys: tuple[str, ...]) -> list[Hypothesis]:
    """An output that is another quantity the step computes, one of its cache's ``keys`` (a variable overwritten
    or reused before the return), or the outputs returned in another order: the reference's own values
    rearranged, never recomputed. (The RNN's ``a`` is left out: h = a is "no activation".)
    """
    hyps = []
    if len(outputs) == 2:
        a, b = outputs

        def swapped(case):
            res = run(case)
            return {**res, a: res[b], b: res[a]}
        hyps.append(Hypothesis("outputs returned in another order",
                               f"{a} and {b} are returned in the other order (return {b}, {a}, cache)", swapped,
                               output_line=True))
    for out in outputs:
        for key in keys:
            what = QUANTITY[key]
            if (out, key) in FACTOR_MISSING:
                hyps.append(Hypothesis(*FACTOR_MISSING[out, key], _returned_as(run, out, key), output_line=True))
            elif key != out:
                hyps.append(Hypothesis("variable reused", f"the returned {out} is {what} instead of {out} (a variable "
                                       f"overwritten or reused before the return?)", _returned_as(run, out, key),
                                       output_line=True))
    return hyps


# ----------------------------------------------------------------------------- forward steps
# A forward hypothesis returns {"h": .., ["c": ..], "cache": the reference's cache under the bug}, so a
# student's cached intermediates can confirm or refute it.
def _rnn(case, params=None, **hooks) -> dict:
    h, cache = cells.rnn_step(case["x"], case["h_prev"], params or case["params"], **hooks)
    return {"h": h, "cache": cache}


def _square(case, name: str) -> bool:
    return case["params"][name].shape[0] == case["params"][name].shape[1]


def rnn_step_hypotheses() -> list[Hypothesis]:
    return [
        Hypothesis("transposed weights", "W_hh is used transposed (h_prev @ W_hh.T)",
                   lambda c: _rnn(c, _with(c["params"], W_hh=c["params"]["W_hh"].T))),
        Hypothesis("transposed weights", "W_xh is used transposed (x @ W_xh.T)",
                   lambda c: _rnn(c, _with(c["params"], W_xh=c["params"]["W_xh"].T)) if _square(c, "W_xh") else None),
        Hypothesis("bias dropped", "the bias b_h is left out", lambda c: _rnn(c, _zeros_like(c["params"], "b_h"))),
        Hypothesis("sigmoid/tanh confused", "sigmoid is used where tanh belongs (h = sigmoid(a))",
                   lambda c: _rnn(c, tanh=cells.sigmoid)),
        Hypothesis("wrong activation", "relu is used instead of tanh", lambda c: _rnn(c, tanh=relu)),
        Hypothesis("no activation", "tanh is left out (h = a)", lambda c: _rnn(c, tanh=identity)),
        Hypothesis("recurrence dropped", "h_prev is ignored (the h_prev @ W_hh term is missing)",
                   lambda c: _rnn(c, _zeros_like(c["params"], "W_hh"))),
        *returned_hypotheses(_rnn, ("h",), ("h_prev",)),
    ]


def _lstm(case, params=None, c_prev=None, **hooks) -> dict:
    h, c, cache = cells.lstm_step(case["x"], case["h_prev"], case["c_prev"] if c_prev is None else c_prev,
                                  params or case["params"], **hooks)
    return {"h": h, "c": c, "cache": cache}


def _if_exchanged(case) -> dict:
    """The reference's gates with c = i * c_prev + f * g: its own step on c_prev and g handed to the other gate
    (c_prev scaled by i / f and g by f / i give the same c), so no line of the cell is written twice.
    """
    ref = _lstm(case)["cache"]
    i, f = ref["i"], ref["f"]
    res = _lstm(case, c_prev=case["c_prev"] * i / f, tanh=at_use(0, lambda a: np.tanh(a) * f / i, np.tanh))
    cache = {**res["cache"], "c_prev": case["c_prev"], "g": ref["g"]}
    return {**res, "cache": cache}


def lstm_step_hypotheses() -> list[Hypothesis]:
    sig, tanh = cells.sigmoid, np.tanh

    def state_from_c_prev(case):
        # tanh's second use is tanh(c): hand it c_prev instead (h = o * tanh(c_prev)); c itself is right
        return _lstm(case, tanh=at_use(1, lambda _c: np.tanh(case["c_prev"]), tanh))

    return [
        *_order_hypotheses("lstm", ("W_x", "W_h", "b"), _lstm),
        Hypothesis("sigmoid/tanh confused", "the candidate g uses sigmoid instead of tanh",
                   lambda c: _lstm(c, tanh=at_use(0, sig, tanh))),
        Hypothesis("sigmoid/tanh confused", "the gates i, f, o use tanh instead of sigmoid",
                   lambda c: _lstm(c, sigmoid=tanh)),
        Hypothesis("sigmoid/tanh confused", "sigmoid and tanh are exchanged everywhere in the gates",
                   lambda c: _lstm(c, sigmoid=tanh, tanh=at_use(0, sig, tanh))),
        Hypothesis("missing activation", "tanh of the cell state is left out (h = o * c)",
                   lambda c: _lstm(c, tanh=at_use(1, identity, tanh)), output_line=True),
        Hypothesis("sigmoid/tanh confused", "h = o * sigmoid(c) instead of o * tanh(c)",
                   lambda c: _lstm(c, tanh=at_use(1, sig, tanh)), output_line=True),
        Hypothesis("bias dropped", "the bias b is left out", lambda c: _lstm(c, _zeros_like(c["params"], "b"))),
        Hypothesis("recurrence dropped", "h_prev is ignored (the h_prev @ W_h term is missing)",
                   lambda c: _lstm(c, _zeros_like(c["params"], "W_h"))),
        Hypothesis("forget bias offset", "1 is added to the forget gate's bias (f = sigmoid(a_f + 1)), as TensorFlow's "
                   "forget_bias does; here the initial forget bias is already in b",
                   lambda c: _lstm(c, _block(c["params"], ("b",), "lstm", "f", lambda b: b + 1.0))),
        *[Hypothesis(f"{GATE_NAMES[g]} gate dropped", f"the {GATE_NAMES[g]} gate is left out of the cell update "
                     f"({line} instead of c = f * c_prev + i * g), with the gates themselves computed right",
                     lambda c, k=k: _lstm(c, sigmoid=at_use(k, np.ones_like, sig)), output_line=True)
          for g, k, line in (("i", 0, "c = f * c_prev + g"), ("f", 1, "c = c_prev + i * g"))],
        Hypothesis("cell state dropped", "c_prev is left out of the cell update (c = i * g)",
                   lambda c: _lstm(c, c_prev=np.zeros_like(c["c_prev"]))),
        Hypothesis("previous cell state used", "h is built from the previous cell state (h = o * tanh(c_prev))",
                   state_from_c_prev, output_line=True),
        Hypothesis("gates exchanged in the cell update", "i and f are exchanged in the cell update (c = i * c_prev + "
                   "f * g instead of f * c_prev + i * g), with the gates themselves right", _if_exchanged,
                   output_line=True),
        *returned_hypotheses(_lstm, ("h", "c"), ("h_prev", "c_prev", "i", "f", "g", "o", "c", "tanh_c", "h")),
    ]


def _gru(case, params=None, reset_after=None, **hooks) -> dict:
    ra = case["reset_after"] if reset_after is None else reset_after
    h, cache = cells.gru_step(case["x"], case["h_prev"], params or case["params"], reset_after=ra, **hooks)
    return {"h": h, "cache": cache}


GRU_SIDES = ("W_x", "W_h", "b_x", "b_h")


def _blend_with_r(case) -> dict:
    """The reference GRU with the blend's z replaced by r: z's own weights and bias set to r's, the cache's z kept."""
    ref = _gru(case)["cache"]
    res = _gru(case, _copy_block(case["params"], GRU_SIDES, "gru", "r", "z"))
    if not np.allclose(res["cache"]["r"], ref["r"]):
        return None
    return {**res, "cache": {**res["cache"], "z": ref["z"]}}


def _copy_block(params: dict, keys: tuple[str, ...], kind: str, source: str, target: str) -> dict:
    """``params`` with gate ``target``'s column blocks of ``keys`` replaced by gate ``source``'s."""
    gates = cells.GATES[kind]
    H = params[keys[0]].shape[-1] // len(gates)
    s, t = gates.index(source), gates.index(target)
    out = dict(params)
    for k in keys:
        v = params[k].copy()
        v[..., t * H:(t + 1) * H] = params[k][..., s * H:(s + 1) * H]
        out[k] = v
    return out


def gru_step_hypotheses() -> list[Hypothesis]:
    def other(case):
        name = "before" if case["reset_after"] else "after"
        return f"the reset gate is applied {name} the recurrent product (the other GRU convention)"

    def flipped(case):
        # sigmoid(-a) = 1 - sigmoid(a): negated z blocks make the reference's z the student's 1 - z
        return _gru(case, _block(case["params"], GRU_SIDES, "gru", "z", lambda w: -w))

    def flipped_in_blend(case):
        # only the blend line flipped: the run with z's complement, its cache holding the reference's own z
        res, ref = flipped(case), _gru(case)["cache"]
        return {**res, "cache": {**res["cache"], "z": ref["z"]}}

    def no_reset(case):
        # r = 1 exactly: zero r weights, and an r bias far in sigmoid's saturation
        p = _block(case["params"], ("W_x", "W_h", "b_h"), "gru", "r", np.zeros_like)
        return _gru(case, _block(p, ("b_x",), "gru", "r", lambda b: np.full_like(b, 60.0)))

    return [
        Hypothesis("other GRU convention", other, lambda c: _gru(c, reset_after=not c["reset_after"])),
        Hypothesis("update convention flipped", "h = (1 - z) * h_prev + z * n instead of z * h_prev + (1 - z) * n",
                   flipped),
        Hypothesis("update convention flipped", "the blend is written h = (1 - z) * h_prev + z * n (z computed and "
                   "cached right) instead of z * h_prev + (1 - z) * n", flipped_in_blend, output_line=True),
        *_order_hypotheses("gru", GRU_SIDES, _gru),
        Hypothesis("sigmoid/tanh confused", "the candidate n uses sigmoid instead of tanh",
                   lambda c: _gru(c, tanh=cells.sigmoid)),
        Hypothesis("sigmoid/tanh confused", "the gates z and r use tanh instead of sigmoid",
                   lambda c: _gru(c, sigmoid=np.tanh)),
        Hypothesis("bias dropped", "the bias b_x is left out", lambda c: _gru(c, _zeros_like(c["params"], "b_x"))),
        Hypothesis("bias dropped", "the bias b_h is left out", lambda c: _gru(c, _zeros_like(c["params"], "b_h"))),
        Hypothesis("bias dropped", "both biases b_x and b_h are left out",
                   lambda c: _gru(c, _zeros_like(c["params"], "b_x", "b_h"))),
        Hypothesis("reset gate dropped", "the reset gate is left out of the candidate (n computed as if r = 1)",
                   no_reset),
        Hypothesis("reset gate used as the update gate", "the blend uses the reset gate: h = r * h_prev + (1 - r) * n "
                   "instead of z * h_prev + (1 - z) * n", _blend_with_r, output_line=True),
        *returned_hypotheses(_gru, ("h",), ("h_prev", "z", "r", "n")),
    ]


_PARAMS = {"rnn": ("W_xh", "W_hh", "b_h"), "lstm": ("W_x", "W_h", "b"), "gru": ("W_x", "W_h", "b_x", "b_h")}
_TERM = {"W_xh": "the input term x @ W_xh", "W_hh": "the recurrent term h_prev @ W_hh", "b_h": "the bias b_h",
         "W_x": "the input term x @ W_x", "W_h": "the recurrent term h_prev @ W_h", "b": "the bias b",
         "b_x": "the input bias b_x"}
_RUN = {"rnn": _rnn, "lstm": _lstm, "gru": _gru}


def generic_forward_hypotheses(kind: str) -> list[Hypothesis]:
    """Slips any step forward can make at one term of its pre-activation, each the reference on changed parameters:
    the term added twice (its parameter doubled: a bias added once per product, a term written twice), the term
    subtracted (its parameter negated), and the input and recurrent weights exchanged (expressible only when D = H).
    """
    run, (w_x, w_h) = _RUN[kind], _PARAMS[kind][:2]
    out = []
    for p in _PARAMS[kind]:
        out.append(Hypothesis("term added twice", f"{_TERM[p]} is added twice (as if {p} were 2 * {p})",
                              lambda c, p=p: run(c, _with(c["params"], **{p: 2.0 * c["params"][p]}))))
        out.append(Hypothesis("sign flipped", f"{_TERM[p]} is subtracted instead of added",
                              lambda c, p=p: run(c, _with(c["params"], **{p: -c["params"][p]}))))

    # One gate's input or recurrent term left out (only that gate's column block zeroed): the GRU's recurrent side
    # with or without its bias b_h (h_prev W_h + b_h is the product the code keeps, hw).
    sides = {"lstm": (("input", ("W_x",)), ("recurrent", ("W_h",))),
             "gru": (("input", ("W_x", "b_x")), ("recurrent", ("W_h", "b_h")), ("recurrent", ("W_h",)))}.get(kind, ())
    def dropped(c, gate, keys):
        res = run(c, _block(c["params"], keys, kind, gate, np.zeros_like))
        if kind == "gru":  # the product hw = h_prev W_h + b_h is computed (and cached) whole; only its use differs
            res["cache"] = {**res["cache"], "hw": run(c)["cache"]["hw"]}
        return res

    for gate in cells.GATES[kind] if kind != "rnn" else ():
        for side, keys in sides:
            what = " + ".join(f"{'x' if k == 'W_x' else 'h_prev'} {k}" if k.startswith("W") else k for k in keys)
            out.append(Hypothesis("gate term dropped", f"the {side} term of the {GATE_NAMES[gate]} gate {gate} is left "
                                  f"out ({what} missing from {gate}'s pre-activation, its block {gate} only)",
                                  lambda c, gate=gate, keys=keys: dropped(c, gate, keys)))

    def exchanged(c):
        P = c["params"]
        return run(c, _with(P, **{w_x: P[w_h], w_h: P[w_x]})) if P[w_x].shape == P[w_h].shape else None

    out.append(Hypothesis("weights exchanged", f"{w_x} and {w_h} are exchanged (x @ {w_h} + h_prev @ {w_x}): "
                          "the input and recurrent weights swapped", exchanged))
    return out


FORWARD = {kind: (lambda f=f, kind=kind: [*f(), *generic_forward_hypotheses(kind)])
           for kind, f in (("rnn", rnn_step_hypotheses), ("lstm", lstm_step_hypotheses),
                           ("gru", gru_step_hypotheses))}


# ----------------------------------------------------------------------------- backward steps
# A backward hypothesis runs the reference backward on a changed cache, changed upstream gradients or
# changed derivative hooks, and returns {"dx", "dh_prev", ["dc_prev"], <param names>}.
def _backward(kind: str, upstream: tuple, cache: dict, **hooks) -> dict:
    out = cells.STEP_FUNCTIONS[kind][1](*upstream, cache, **hooks)
    names = {"rnn": ("dx", "dh_prev"), "lstm": ("dx", "dh_prev", "dc_prev"), "gru": ("dx", "dh_prev")}[kind]
    return {**dict(zip(names, out[:-1], strict=True)), **out[-1]}


def _ups(kind: str, case: dict) -> tuple:
    return (case["dh"], case["dc"]) if kind == "lstm" else (case["dh"],)


def _back(kind: str, change_cache: Callable | None = None, hooks: Callable | None = None,
          upstream: Callable | None = None, after: Callable | None = None) -> Callable[[dict], dict]:
    """A backward hypothesis: the reference backward on ``change_cache(cache)``, ``upstream(case)`` and
    ``hooks(cache)``; ``after(result, case)`` rearranges the reference's returned gradients.
    """
    def run(case):
        cache = case["cache"]
        cache = change_cache(cache) if change_cache else cache
        ups = upstream(case) if upstream else _ups(kind, case)
        out = _backward(kind, ups, cache, **(hooks(cache) if hooks else {}))
        return after(out, case) if after else out
    return run


def _one_minus(t):
    return 1.0 - t


def rnn_step_backward_hypotheses() -> list[Hypothesis]:
    def transposed_dW(out, case):
        return {**out, "W_hh": out["W_hh"].T}

    def no_db(out, case):
        return {**out, "b_h": np.zeros_like(out["b_h"])}

    def W_T(cache):
        return {**cache, "params": _with(cache["params"], W_hh=cache["params"]["W_hh"].T)}

    def Wx_T(cache):
        W = cache["params"]["W_xh"]
        return {**cache, "params": _with(cache["params"], W_xh=W.T)} if W.shape[0] == W.shape[1] else None

    def dx_untransposed(case):
        cache = Wx_T(case["cache"])
        return None if cache is None else _backward("rnn", _ups("rnn", case), cache)

    def skipped_on(key):
        # one output built from the upstream dh instead of da = dh * (1 - h^2): the derivative skipped on that path
        def run(case):
            out = _backward("rnn", _ups("rnn", case), case["cache"])
            raw = _backward("rnn", _ups("rnn", case), case["cache"], dtanh=np.ones_like)
            return {**out, key: raw[key]}
        return run

    skipped = [Hypothesis("missing derivative", f"{text} uses dh instead of da = dh * (1 - h^2) in the line {line}: "
                          "the tanh derivative is skipped on that path only", skipped_on(key))
               for key, text, line in (("dx", "dx", "dx = da W_xh^T"), ("dh_prev", "dh_prev", "dh_prev = da W_hh^T"),
                                       ("W_xh", "grads['W_xh']", "dW_xh = x^T da"),
                                       ("W_hh", "grads['W_hh']", "dW_hh = h_prev^T da"),
                                       ("b_h", "grads['b_h']", "db_h = sum_B da"))]
    return [
        *skipped,
        Hypothesis("transposed weights", "dh_prev is computed with W_hh instead of W_hh.T (da @ W_hh)",
                   _back("rnn", change_cache=W_T)),
        Hypothesis("transposed weights", "dx is computed with W_xh instead of W_xh.T (da @ W_xh, which has the right "
                   "shape only when D = H)", dx_untransposed),
        Hypothesis("transposed weights", "grads['W_hh'] is transposed (da.T @ h_prev instead of h_prev.T @ da)",
                   _back("rnn", after=transposed_dW)),
        Hypothesis("missing derivative", "the tanh derivative is left out (da = dh)",
                   _back("rnn", hooks=lambda c: {"dtanh": np.ones_like})),
        Hypothesis("sigmoid/tanh confused", "the sigmoid derivative h*(1-h) is used instead of tanh's (1-h^2)",
                   _back("rnn", hooks=lambda c: {"dtanh": cells.dsigmoid})),
        Hypothesis("wrong derivative", "the tanh derivative is taken of the pre-activation, (1-a^2) instead of (1-h^2)",
                   _back("rnn", hooks=lambda c: {"dtanh": lambda t: 1.0 - c["a"] ** 2})),
        Hypothesis("wrong derivative", "tanh's derivative is written with h instead of h^2: (1 - h) instead of "
                   "(1 - h^2)", _back("rnn", hooks=lambda c: {"dtanh": _one_minus})),
        Hypothesis("bias dropped", "the bias gradient grads['b_h'] is left at zero", _back("rnn", after=no_db)),
        Hypothesis("new state used", "grads['W_hh'] uses the new state h instead of h_prev (h.T @ da)",
                   _back("rnn", change_cache=lambda c: {**c, "h_prev": c["h"]})),
        Hypothesis("wrong derivative", "the ReLU derivative (a > 0) is used instead of tanh's (1 - h^2), as if the "
                   "branches of the activation option were exchanged",
                   _back("rnn", change_cache=lambda c: {**c, "activation": "relu" if c["activation"] == "tanh"
                                                        else "tanh"})),
    ]


def lstm_step_backward_hypotheses() -> list[Hypothesis]:
    def dc_prev_without_f(out, case):
        return {**out, "dc_prev": out["dc_prev"] / case["cache"]["f"]}

    def order(student):
        # The student stacks the reference's gate gradients in ``student``'s block order: the reference
        # on weights permuted back gives dx and dh_prev; its weight gradients come out permuted.
        ref = cells.GATES["lstm"]

        def change(cache):
            return {**cache, "params": permute_blocks(cache["params"], ("W_x", "W_h", "b"), ref, student)}

        def after(out, case):
            return {**out, **permute_blocks({k: out[k] for k in ("W_x", "W_h", "b")}, ("W_x", "W_h", "b"), ref,
                                            student)}
        return _back("lstm", change_cache=change, after=after)

    def zero_dc(case):
        return case["dh"], np.zeros_like(case["dc"])

    ref = cells.GATES["lstm"]
    swaps = [tuple(ref[b] if k == a else ref[a] if k == b else g for k, g in enumerate(ref))
             for a, b in itertools.combinations(range(len(ref)), 2)]  # every order with two gates exchanged
    sig, tanh = cells.dsigmoid, cells.dtanh
    return [
        Hypothesis("missing dc", "the incoming dc is ignored (dc_total should be dc + dh * o * (1 - tanh(c)^2))",
                   _back("lstm", upstream=zero_dc)),
        Hypothesis("missing factor", "dc_prev is dc_total instead of dc_total * f",
                   _back("lstm", after=dc_prev_without_f)),
        *[Hypothesis("gate order swapped", "the gradient blocks of da are stacked in the order "
                     f"{', '.join(s)} instead of {', '.join(ref)}", order(s)) for s in swaps],
        Hypothesis("wrong derivative", "the candidate's derivative is sigmoid's, g*(1-g), instead of tanh's (1-g^2)",
                   _back("lstm", hooks=lambda c: {"dtanh": on(c["g"], sig, tanh)})),
        Hypothesis("wrong derivative", "tanh's derivative is written with t instead of t^2: (1 - g) and (1 - tanh(c)) "
                   "instead of (1 - g^2) and (1 - tanh(c)^2)", _back("lstm", hooks=lambda c: {"dtanh": _one_minus})),
        Hypothesis("wrong derivative", "the derivative of tanh(c) is written with tanh(c) instead of its square: "
                   "(1 - tanh(c)) instead of (1 - tanh(c)^2)",
                   _back("lstm", hooks=lambda c: {"dtanh": on(c["tanh_c"], _one_minus, tanh)})),
        Hypothesis("wrong derivative", "the candidate's derivative is written with g instead of g^2: (1 - g) instead "
                   "of (1 - g^2)", _back("lstm", hooks=lambda c: {"dtanh": on(c["g"], _one_minus, tanh)})),
        Hypothesis("wrong derivative", "the gates' derivative is tanh's (1 - s^2) instead of sigmoid's s*(1-s)",
                   _back("lstm", hooks=lambda c: {"dsigmoid": tanh})),
        Hypothesis("new state used", "grads['W_h'] uses the new state h instead of h_prev (h.T @ da)",
                   _back("lstm", change_cache=lambda c: {**c, "h_prev": c["h"]})),
    ]


def gru_step_backward_hypotheses() -> list[Hypothesis]:
    def no_direct(out, case):
        return {**out, "dh_prev": out["dh_prev"] - case["dh"] * case["cache"]["z"]}

    def flip_z(cache):
        return {"dsigmoid": on(cache["z"], lambda s: -sig(s), sig)}

    def without_r(case):
        # r = 1 where the backward multiplies by r; da_r keeps the true r's derivative through the hook
        cache = case["cache"]
        ones = np.ones_like(cache["r"])
        return _backward("gru", _ups("gru", case), {**cache, "r": ones},
                         dsigmoid=on(ones, lambda _s: sig(cache["r"]), sig))

    def r_site(case):
        return ("the reset factor r is missing from the candidate's recurrent gradient (dhw_n = da_n instead of "
                "da_n * r, used for dh_prev, W_hn and b_hn)" if case["reset_after"] else
                "the reset factor r is missing from the n block's share of dh_prev (da_n W_hn^T instead of "
                "(da_n W_hn^T) * r)")

    def hw_n_without_bias(cache):
        # reset after: dr = da_n * hw_n read from a recomputed h_prev W_hn, without b_hn
        if not cache["reset_after"]:
            return None
        hw = cache["hw"].copy()
        H = hw.shape[1] // 3
        hw[:, 2 * H:] -= cache["params"]["b_h"][2 * H:]
        return {**cache, "hw": hw}

    def when(change):
        inner = _back("gru", change_cache=change)
        return lambda case: None if change(case["cache"]) is None else inner(case)

    sig, tanh = cells.dsigmoid, cells.dtanh
    return [
        Hypothesis("recurrent bias missing in dr", "dr is computed from h_prev W_hn without b_hn (dr = da_n * "
                   "(h_prev W_hn) instead of da_n * hw_n, hw_n = h_prev W_hn + b_hn as cached)",
                   when(hw_n_without_bias)),
        Hypothesis("reset factor missing", r_site, without_r),
        Hypothesis("missing term", "dh_prev misses the direct path z * dh (from h = z * h_prev + ...)",
                   _back("gru", after=no_direct)),
        Hypothesis("sign flipped", "the update gate's gradient has the wrong sign (dz = dh * (n - h_prev) instead of "
                   "dh * (h_prev - n))", _back("gru", hooks=flip_z)),
        Hypothesis("wrong derivative", "tanh's derivative is written with n instead of n^2: (1 - n) instead of "
                   "(1 - n^2)", _back("gru", hooks=lambda c: {"dtanh": _one_minus})),
        Hypothesis("wrong derivative", "the candidate's derivative is sigmoid's, n*(1-n), instead of tanh's (1-n^2)",
                   _back("gru", hooks=lambda c: {"dtanh": sig})),
        Hypothesis("wrong derivative", "the gates' derivative is tanh's (1 - s^2) instead of sigmoid's s*(1-s)",
                   _back("gru", hooks=lambda c: {"dsigmoid": tanh})),
        Hypothesis("missing derivative", "the candidate's derivative is left out (da_n = dh * (1 - z))",
                   _back("gru", hooks=lambda c: {"dtanh": np.ones_like})),
    ]


# The (B, H) arrays of each cell's cache, with what they hold (for the sentence): what a backward may read by
# mistake. Where one belongs is only where the reference's backward reads its values (:func:`_read_where`).
_STATE_ENTRIES = {"rnn": ("h_prev", "h"), "lstm": ("h_prev", "c_prev", "i", "f", "g", "o", "c", "tanh_c"),
                  "gru": ("h_prev", "z", "r", "n")}
_NEW_STATE = {("h_prev", "h"), ("c_prev", "c")}


@functools.cache
def _read_where(kind: str) -> dict[str, str]:
    """The entries of :data:`_STATE_ENTRIES` whose *values* the reference backward uses, each with where (" in
    da_f", " in da_i, da_g", "" when no gate's gradient or no gate): on one small case, an entry filled with NaN
    (same shape) makes some returned gradient NaN, and the bias gradient's blocks say which gates'. LSTM's ``c``
    is read only for ``dc``'s shape (``tanh_c`` holds what the gradient needs): reading another array there changes
    nothing, so "reads X where c belongs" is no bug and is not catalogued.
    """
    B, D, H = 2, 3, 4
    rng = np.random.default_rng(0)
    params = cells.init_params(kind, D, H, seed=0)
    x, h_prev = rng.standard_normal((B, D)), rng.standard_normal((B, H))
    states = (h_prev, rng.standard_normal((B, H))) if kind == "lstm" else (h_prev,)
    cache = cells.STEP_FUNCTIONS[kind][0](x, *states, params)[-1]
    ups = (rng.standard_normal((B, H)),) * (2 if kind == "lstm" else 1)
    where = {}
    for k in _STATE_ENTRIES[kind]:
        sites = _sites(kind, k, cache, ups)
        if sites is not None:
            where[k] = f" in {', '.join(f'da_{g}' for g in sites)}" if sites else ""
    return where


# The gate blocks of the bias gradient (the gate order of the reference's pre-activation a).
_GATE_BLOCKS = {"lstm": ("b", "ifgo"), "gru": ("b_x", "zrn")}


def _sites(kind: str, k: str, cache: dict, ups: tuple) -> tuple[str, ...] | None:
    """Where the reference backward reads ``cache[k]``'s values: the gates whose gradient ``da_<gate>`` turns NaN
    when the entry is NaN (``()`` for the RNN, or when only other gradients do); None if nothing does.
    """
    out = _backward(kind, ups, {**cache, k: np.full_like(cache[k], np.nan)})
    if all(np.isfinite(v).all() for v in out.values()):
        return None
    if kind not in _GATE_BLOCKS:
        return ()
    name, gates = _GATE_BLOCKS[kind]
    blocks = np.split(out[name], len(gates))
    return tuple(g for g, block in zip(gates, blocks, strict=True) if not np.isfinite(block).all())


def _wrong_entry_hypotheses(kind: str) -> list[Hypothesis]:
    """One cache entry read where another belongs, for every ordered pair of the cell's (B, H) entries: the
    reference backward on the cache with ``cache[k]`` replaced by ``cache[k2]`` (``c`` for ``c_prev`` in the forget
    gate's gradient, ``f`` for ``i``, ...). ``h`` for ``h_prev`` is the catalogue's "new state used" already.
    """
    def run(k, k2):
        inner = _back(kind, change_cache=lambda c: {**c, k: c[k2]})

        def outputs(case):
            cache = case["cache"]
            if k not in cache or k2 not in cache or np.shape(cache[k]) != np.shape(cache[k2]):
                return None
            return inner(case)
        return outputs

    out = []
    names = _STATE_ENTRIES[kind]
    for k, k2 in itertools.permutations(names, 2):
        if (k, k2) == ("h_prev", "h") or k not in _read_where(kind):
            continue
        new = (k, k2) in _NEW_STATE
        out.append(Hypothesis("new state used" if new else "wrong cache entry read",
                              f"the backward reads cache[{k2!r}] where cache[{k!r}] belongs{_read_where(kind)[k]}"
                              + (f" (the new {k2} instead of {k})" if new else ""), run(k, k2)))
    return out + _one_site_entry_hypotheses(kind)


def _derivative_of(kind: str, k: str) -> str | None:
    """The derivative hook the reference backward calls on ``cache[k]`` (``"dtanh"``, ``"dsigmoid"``), or None."""
    return next((hook for hook, key in _DERIVED[kind] if key == k), None)


@functools.cache
def _read_directly(kind: str) -> frozenset[str]:
    """The entries whose values the reference backward reads outside their derivative too (``o`` in ``dc_total =
    dh * o * tanh'(c)``, ``tanh_c`` in ``do = dh * tanh_c``): with the entry NaN and its derivative hook answering
    the true derivative, some gradient is still NaN.
    """
    B, D, H = 2, 3, 4
    rng = np.random.default_rng(1)
    params = cells.init_params(kind, D, H, seed=1)
    x, h_prev = rng.standard_normal((B, D)), rng.standard_normal((B, H))
    states = (h_prev, rng.standard_normal((B, H))) if kind == "lstm" else (h_prev,)
    cache = cells.STEP_FUNCTIONS[kind][0](x, *states, params)[-1]
    ups = (rng.standard_normal((B, H)),) * (2 if kind == "lstm" else 1)
    out = set()
    for k in _STATE_ENTRIES[kind]:
        hook = _derivative_of(kind, k)
        if hook is None:
            continue
        nan = np.full_like(cache[k], np.nan)
        d = getattr(cells, hook)
        got = _backward(kind, ups, {**cache, k: nan}, **{hook: on(nan, lambda _y, k=k, d=d: d(cache[k]), d)})
        if not all(np.isfinite(v).all() for v in got.values()):
            out.add(k)
    return frozenset(out)


def _one_site_entry_hypotheses(kind: str) -> list[Hypothesis]:
    """A cache entry read where another belongs at one kind of site only, for an entry the reference reads both
    directly and inside its activation's derivative: in the products only (``da_o = dh * c * o(1-o)`` where
    ``tanh_c`` belongs, ``tanh'(c)`` right), or in the derivative only (``1 - c^2`` where ``1 - tanh_c^2`` belongs,
    the products right: the derivative taken at the wrong value). The reference backward on the cache with the entry
    replaced by a copy of the other and the derivative hook on that copy answering the true derivative, or on the true
    cache with the hook on the entry answering the other's derivative.
    """
    out = []
    for k, k2 in itertools.permutations(_STATE_ENTRIES[kind], 2):
        hook = _derivative_of(kind, k)
        if hook is None or k not in _read_directly(kind):
            continue
        d = getattr(cells, hook)
        formula = _FORWARD_OF[hook][2]

        def products(case, k=k, k2=k2, d=d, hook=hook):
            cache = case["cache"]
            if k2 not in cache or np.shape(cache[k2]) != np.shape(cache[k]):
                return None
            other = np.array(cache[k2], dtype=np.float64, copy=True)
            return _backward(kind, _ups(kind, case), {**cache, k: other},
                             **{hook: on(other, lambda _y: d(cache[k]), d)})

        def derivative(case, k=k, k2=k2, d=d, hook=hook):
            cache = case["cache"]
            if k2 not in cache or np.shape(cache[k2]) != np.shape(cache[k]):
                return None
            return _backward(kind, _ups(kind, case), cache, **{hook: on(cache[k], lambda _y: d(cache[k2]), d)})

        out.append(Hypothesis("wrong cache entry read", f"the backward reads cache[{k2!r}] where cache[{k!r}] belongs "
                              f"in the products (its derivative {formula.format(k=k)} right)", products))
        out.append(Hypothesis("derivative taken at the wrong value", f"the derivative at {k} is taken of {k2}: "
                              f"{formula.format(k=k2)} instead of {formula.format(k=k)}", derivative))
    return out


# Where each cell's backward calls a derivative hook on a cached activation output (``tanh_c`` included: it is
# dc_total's tanh'(c)), with the activation itself.
_DERIVED = {"rnn": (("dtanh", "h"),),
            "lstm": (("dsigmoid", "i"), ("dsigmoid", "f"), ("dtanh", "g"), ("dsigmoid", "o"), ("dtanh", "tanh_c")),
            "gru": (("dsigmoid", "z"), ("dsigmoid", "r"), ("dtanh", "n"))}
_FORWARD_OF = {"dtanh": (np.tanh, "tanh", "1 - {k}^2", "1 - tanh({k})^2"),
               "dsigmoid": (cells.sigmoid, "sigmoid", "{k}*(1-{k})", "sigmoid({k})*(1-sigmoid({k}))")}


def activation_again_hypotheses(kind: str) -> list[Hypothesis]:
    """A derivative taken of the activation of a cached *output*: ``1 - tanh(h)^2`` where ``1 - h^2`` belongs (``h``
    already is ``tanh(a)``; the formula for the pre-activation applied to the post-activation), at one site, at every
    site of that activation, or at every site (a helper ``dtanh(x) = 1 - np.tanh(x)**2`` called on cached outputs).
    The reference backward with the hook at those sites fed ``activation(cache[k])``.
    """
    sites = _DERIVED[kind]

    def hooks_for(chosen):
        def hooks(c):
            out = {}
            for hook in ("dtanh", "dsigmoid"):
                mine = [c[k] for h, k in chosen if h == hook]
                if mine:
                    f, default = _FORWARD_OF[hook][0], getattr(cells, hook)
                    out[hook] = (lambda y, mine=mine, f=f, default=default:
                                 default(f(y)) if any(y is m for m in mine) else default(y))
            return out
        return hooks

    def text(chosen):
        parts = [_FORWARD_OF[h][3].format(k=k) + " instead of " + _FORWARD_OF[h][2].format(k=k) for h, k in chosen]
        return ("the activation is applied again inside its derivative (" + "; ".join(parts) + f"): "
                f"{', '.join(k for _, k in chosen)} already {'is' if len(chosen) == 1 else 'are'} the activation's "
                "output, whose derivative is written in terms of it")

    # tanh_c alone is left out: its error is fourth order in tanh_c (tanh(t) ~ t - t^3/3 inside 1 - t^2), at the float32
    # level on small cells' states, where a hidden case cannot tell it from lost precision.
    choices = [(s,) for s in sites if s != ("dtanh", "tanh_c")]
    for hook in ("dtanh", "dsigmoid"):
        same = tuple(s for s in sites if s[0] == hook)
        if len(same) > 1:
            choices.append(same)
    if len({h for h, _ in sites}) > 1:
        choices.append(sites)
    return [Hypothesis("activation applied twice in the derivative", text(ch), _back(kind, hooks=hooks_for(ch)))
            for ch in choices]


def generic_backward_hypotheses(kind: str) -> list[Hypothesis]:
    """Slips any step backward can make, one site at a time: a parameter gradient divided by the batch size (a mean
    over the batch instead of the sum), and one gate's sigmoid derivative written as tanh's (``on`` the cache's own
    gate array, so only that gate's derivative changes).
    """
    params = {"rnn": ("W_xh", "W_hh", "b_h"), "lstm": ("W_x", "W_h", "b"), "gru": ("W_x", "W_h", "b_x", "b_h")}[kind]

    def batch_mean(k):
        return lambda out, case: {**out, k: out[k] / out["dx"].shape[0]}

    def copied(k, k2):
        return lambda out, case: {**out, k: out[k2]} if np.shape(out[k]) == np.shape(out[k2]) else None

    out = [*_wrong_entry_hypotheses(kind), *activation_again_hypotheses(kind)]
    # One bias's gradient returned as the other's (a copied line: GRU's b_h from dxw like b_x); the biases are the
    # only gradients whose shapes always agree (W_x and W_h only when D = H: not catalogued).
    out += [Hypothesis("gradient copied from another parameter", f"grads[{k!r}] is grads[{k2!r}] (computed like "
                       f"{k2}'s gradient, as if the line for {k2} were copied)", _back(kind, after=copied(k, k2)))
            for k, k2 in itertools.permutations(params, 2) if k.startswith("b") and k2.startswith("b")]
    out += [Hypothesis("averaged over the batch", f"grads[{k!r}] is divided by B (a mean over the batch instead of "
                      "the sum)", _back(kind, after=batch_mean(k))) for k in params]
    for g in {"rnn": (), "lstm": ("i", "f", "o"), "gru": ("z", "r")}[kind]:
        out.append(Hypothesis("wrong derivative", f"the {GATE_NAMES[g]} gate's derivative is tanh's (1 - {g}^2) "
                              f"instead of sigmoid's {g}*(1-{g})",
                              _back(kind, hooks=lambda c, g=g: {"dsigmoid": on(c[g], lambda s: 1.0 - s * s,
                                                                               cells.dsigmoid)})))
        out.append(Hypothesis("missing derivative", f"the {GATE_NAMES[g]} gate's gradient misses the sigmoid "
                              f"derivative {g}*(1-{g}) (da_{g} is the gradient of {g} itself)",
                              _back(kind, hooks=lambda c, g=g: {"dsigmoid": on(c[g], np.ones_like, cells.dsigmoid)})))
    return out


# The sites whose derivative turns a gradient w.r.t. an activation's output into one w.r.t. its pre-activation: the
# hook and the cache entry it is called on (``tanh_c`` is not one: it is inside dc_total, not a gate block of da).
_ACTIVATED = {"rnn": (("dtanh", "h"),),
              "lstm": (("dsigmoid", "i"), ("dsigmoid", "f"), ("dtanh", "g"), ("dsigmoid", "o")),
              "gru": (("dsigmoid", "z"), ("dsigmoid", "r"), ("dtanh", "n"))}
_DA = {"rnn": "da = dh * (1 - h^2)", "lstm": "da = [da_i | da_f | da_g | da_o], each gate's gradient times its "
       "activation's derivative", "gru": "da = [da_z | da_r | da_n], each gate's gradient times its activation's "
       "derivative"}


def _post_activation(cache: dict, kind: str) -> dict:
    """Hooks under which the reference backward uses the gradients w.r.t. the activations' outputs (h, or the gates
    and the candidate) where the pre-activations' ``da`` belongs: every listed site's derivative is 1.
    """
    hooks: dict = {}
    for hook, key in _ACTIVATED[kind]:
        default = hooks.get(hook, cells.dsigmoid if hook == "dsigmoid" else cells.dtanh)
        hooks[hook] = on(cache[key], np.ones_like, default)
    return hooks


def post_activation_hypotheses(kind: str) -> list[Hypothesis]:
    """Gradients taken w.r.t. the post-activation instead of the pre-activation, for every cell: the parameter
    gradients only (``dW = x^T dh``: the inputs' gradients right), or every gradient (the derivative never applied).
    The reference backward with the activations' derivative hooks set to 1 at each site of :data:`_ACTIVATED`.
    """
    params = _PARAMS[kind]

    def params_only(case):
        right = _backward(kind, _ups(kind, case), case["cache"])
        raw = _backward(kind, _ups(kind, case), case["cache"], **_post_activation(case["cache"], kind))
        return {**right, **{k: raw[k] for k in params}}

    def everywhere(case):
        return _backward(kind, _ups(kind, case), case["cache"], **_post_activation(case["cache"], kind))

    post = "gradient taken w.r.t. the post-activation"
    out = [Hypothesis(post, f"the parameter gradients use the gradient of the activation's output (dh, or the gates' "
                      f"own gradients) instead of the pre-activation's {_DA[kind]}: dW = x^T dh instead of x^T da, "
                      "while dx and dh_prev are right", params_only)]
    if kind != "rnn":  # the RNN's "tanh derivative left out" is this same computation
        out.append(Hypothesis(post, "every gate's activation derivative is left out: the gradients of the gates' "
                              f"outputs are used where {_DA[kind]} belongs (for parameters and inputs)", everywhere))
    return out


BACKWARD = {kind: (lambda f=f, kind=kind: [*f(), *generic_backward_hypotheses(kind), *post_activation_hypotheses(kind)])
            for kind, f in (("rnn", rnn_step_backward_hypotheses), ("lstm", lstm_step_backward_hypotheses),
                            ("gru", gru_step_backward_hypotheses))}


# ----------------------------------------------------------------------------- BPTT
# The reference's own loop (``simulator.sequence``) with a changed step function, initial state,
# parameters or upstream gradient; a few rearrange what it returns or records.
def _unroll(case, h0=None, params=None, step=None) -> tuple[np.ndarray, dict]:
    """``sequence.forward`` of an RNN cell on ``case`` (``step`` replaces the reference's step function)."""
    cell = cells.Cell("rnn", params or case["params"], step=step)
    return sequence.forward(cell, case["X"], case["h0"] if h0 is None else h0)


def rnn_forward_hypotheses() -> list[Hypothesis]:
    p = "params"

    def from_h0(case):
        # every step is handed h0 instead of the previous step's state
        return _unroll(case, step=lambda x, h_prev, params: cells.rnn_step(x, case["h0"], params))[0]

    return [
        Hypothesis("initial state ignored", "h0 is ignored (the first step starts from zeros)",
                   lambda c: {"H": _unroll(c, h0=np.zeros_like(c["h0"]))[0]}),
        Hypothesis("recurrence dropped", "every step starts from h0 instead of the previous step's h",
                   lambda c: {"H": from_h0(c)}),
        Hypothesis("off by one step", "H[:, t] holds h_{t-1} (the state before step t) instead of h_t",
                   lambda c: {"H": np.concatenate([c["h0"][:, None], _unroll(c)[0][:, :-1]], axis=1)}),
        Hypothesis("transposed weights", "W_hh is used transposed",
                   lambda c: {"H": _unroll(c, params=_with(c[p], W_hh=c[p]["W_hh"].T))[0]}),
        Hypothesis("bias dropped", "the bias b_h is left out",
                   lambda c: {"H": _unroll(c, params=_zeros_like(c[p], "b_h"))[0]}),
    ]


def _bptt(case, accumulate=True, keep="all"):
    """``sequence.backward`` of the reference unroll; ``accumulate=False`` drops the ``dh`` carried from step
    t+1 (each step then sees only ``dH[:, t]``), ``keep="last"`` keeps only step 0's parameter gradients.
    """
    carried: list[np.ndarray] = []

    def no_carry(dh, cache):
        dx, dh_prev, grads = cells.rnn_step_backward(dh, cache)
        carried.append(dh_prev)  # what the student returns as dh0 at the last call (t = 0)
        return dx, np.zeros_like(dh_prev), grads

    _, cache = _unroll(case, step=None if accumulate else cells.rnn_step)  # the step's own named caches
    if not accumulate:
        cache["cell"] = cells.Cell("rnn", case["params"], step=cells.rnn_step, step_backward=no_carry)
    dX, grads, dh0 = sequence.backward(case["dH"], cache, record=keep != "all")
    if keep != "all":
        grads = cache["grads"]["contrib"][0]
    return {"dX": dX, "dh0": carried[-1] if carried else dh0, **grads}


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
    clip = bptt_answers.clip_gradients

    def per_tensor(case):
        # the reference clipping each tensor alone (a dict of one gradient); the norm returned is the global one
        m = case["max_norm"]
        return {**{k: clip({k: g}, m)[0][k] for k, g in case["grads"].items()}, "norm": clip(case["grads"], m)[1]}

    def always(case):
        # the reference on gradients scaled up past max_norm: its scale max_norm / norm then always applies
        norm = clip(case["grads"], case["max_norm"])[1]
        big = 2.0 * case["max_norm"] / norm if norm > 0 else 1.0
        scaled = clip({k: big * g for k, g in case["grads"].items()}, case["max_norm"])[0]
        return {**scaled, "norm": norm}

    def norm_after(case):
        clipped, _ = clip(case["grads"], case["max_norm"])
        return {**clipped, "norm": gradients.global_norm(clipped)}  # the reference's norm, of the clipped

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
        # norms of dL/dh_{t-1}: what reaches the step's input state, one step earlier; the reference's
        # recorded dL/dh_t (only dh_last upstream) shifted by one step, with dL/dh0 first
        _, cache = _unroll(case)
        _, _, dh0 = sequence.backward(np.zeros((*case["X"].shape[:2], case["h0"].shape[1])), cache,
                                      case["dh_last"], record=True)
        dh = cache["grads"]["dh"]  # (B, T, H)
        before = np.concatenate([dh0[:, None], dh[:, :-1]], axis=1)  # dL/dh_{t-1} for t = 0 .. T-1
        return {"norms": np.sqrt((before * before).sum(axis=(0, 2)))}

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
