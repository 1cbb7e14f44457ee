"""The perturbation grammar of the five architectures (and the CRNN's recurrence): which slip at which site.

One program runs any architecture with the reference cell step (``simulator.cells`` through
``architecture_diagnosis._step``), ``y_t = read(state_t) W_hy + b_y`` under a readout option, with one option per
site (``autograder.grammar``); ``program(case, {})`` is the reference (a test checks it). Sites, in the code's
symbols:

- ``inputs``: which ``X[:, i(t)]`` step t reads (reversed, one step early, a skipped first or last input, one input
  for every step); ``carry``: the state step t starts from (the previous one, zeros, an LSTM's ``h`` or ``c``
  alone carried); ``read``: what the readout reads (``h_t``, an LSTM's ``c_t``, the state before the step);
- ``readout``: ``h W_hy + b_y`` or a slip (no bias, an activation, a softmax, no readout at all);
- ``pick`` (many-to-one): which state ``y`` reads (the last, the first, ``h_{T-2}``, their mean, sum or maximum);
- ``store`` (outputs over time): ``Y[:, t]`` in order, reversed, or time-major;
- generation (one-to-many, the decoder): the first input, the fed-back input (``one_hot_argmax(y_{t-1})`` or a
  softmax, ``y`` itself, zeros, the first input repeated), the number of steps (``T - 1``, ``T + 1``);
- encoder-decoder: the state handed over (all of it, ``h`` alone, nothing, swapped), the decoder's parameters
  (the ``dec_`` ones or the encoder's), and the encoder loop's own input and carry slips.

Not covered: bugs in the student's helpers (``run_step``, ``zero_state``), argmax ties in fed-back outputs, and
slips at more than two sites.
"""

from __future__ import annotations

import numpy as np

from autograder.architecture_diagnosis import (
    DECODER_LINE,
    FEEDBACK_LINE,
    LAST_LINE,
    ORDER_LINE,
    READOUT_LINE,
    START_LINE,
    STATE_LINE,
    _cell,
    _step,
    _zero,
)
from autograder.grammar import Grammar, Site, options
from simulator import architectures
from simulator.losses import softmax

TIMED = ("one_to_many", "many_to_many", "encoder_decoder")
SEQUENCE_IN = ("many_to_one", "many_to_many", "encoder_decoder")
GENERATING = ("one_to_many", "encoder_decoder")


def _inputs(X: np.ndarray, how: str) -> np.ndarray:
    """The inputs a loop slip hands the cell, (B, T', D)."""
    T = X.shape[1]
    return {"t": X, "T-1-t": X[:, ::-1], "t-1": np.roll(X, 1, axis=1), "skip first": X[:, 1:],
            "skip last": X[:, :-1], "every other": X[:, ::2], "first": np.repeat(X[:, :1], T, axis=1),
            "last": np.repeat(X[:, -1:], T, axis=1)}[how]


def _carried(state: tuple, how: str, zero: tuple) -> tuple:
    if len(state) == 1 and how in ("c reset", "h reset", "swapped"):
        raise ValueError("only an LSTM has a cell state")
    return {"state": state, "reset": zero, "c reset": state[:1] + zero[1:], "h reset": zero[:1] + state[1:],
            "swapped": state[::-1]}[how]


def _readout(p: dict, h: np.ndarray, how: str) -> np.ndarray:
    if how == "h":
        return h
    if how == "W transposed":
        if p["W_hy"].shape[0] != p["W_hy"].shape[1]:
            raise ValueError("a transposed W_hy fits only when H = K")
        return h @ p["W_hy"].T + p["b_y"]
    y = h @ p["W_hy"] + (0.0 if how == "no bias" else p["b_y"])
    return {"linear": y, "no bias": y, "tanh": np.tanh(y), "relu": np.maximum(y, 0.0),
            "sigmoid": 0.5 * (1.0 + np.tanh(0.5 * y)), "softmax": softmax(y, axis=-1),
            "softmax batch": softmax(y, axis=0)}[how]


def _read(new: tuple, before: tuple, how: str) -> np.ndarray:
    if how == "c" and len(new) == 1:
        raise ValueError("only an LSTM has a cell state")
    return {"h": new[0], "c": new[-1], "before": before[0]}[how]


def _loop(case: dict, cp: dict, state: tuple, inputs, ch: dict, T: int, prefix: str = "") -> tuple[list, list, tuple]:
    """Chain reference steps: ``inputs`` (B, T, D), or None to generate from the first input, feeding back."""
    p = case["args"][1]
    zero = _zero(case, (inputs if inputs is not None else case["args"][0]).shape[0])
    reads, ys = [], []
    x = None
    if inputs is None:
        x = _first_input(case, ch)
    for t in range(T):
        if inputs is not None:
            x = inputs[:, t]
        before = state
        state = _step(case, x, _carried(state, ch.get(prefix + "carry", "state"), zero), cp)
        h = _read(state, before, ch.get("read", "h"))
        reads.append(h)
        y = _readout(p, h, ch.get("readout", "linear"))
        ys.append(y)
        if inputs is None:
            x = _fed_back(y, ch, case, h)
    return ys, reads, state


def _first_input(case: dict, ch: dict) -> np.ndarray:
    x = case["args"][0]
    B, K = x.shape[0], case["args"][1]["W_hy"].shape[1]
    how = ch.get("first", "given")
    if x.ndim == 2:  # one-to-many: x itself
        return {"given": x, "zeros": np.zeros_like(x)}[how]
    if how == "last input" and x.shape[2] != K:
        raise ValueError("the last input has another size")
    return {"given": np.zeros((B, K)), "last input": x[:, -1], "ones": np.ones((B, K))}[how]


def _fed_back(y: np.ndarray, ch: dict, case: dict, h: np.ndarray) -> np.ndarray:
    how = ch.get("feedback", "argmax")
    if how == "repeat":
        return _first_input(case, ch)
    if how == "h":
        if h.shape != y.shape:
            raise ValueError("h can be fed back only when H = K")
        return architectures.feed_back(h, "argmax")
    return architectures.feed_back(y, {"zeros": "none"}.get(how, how))


def _stack(ys: list, how: str) -> np.ndarray:
    if how == "concatenated":
        return np.concatenate(ys, axis=1)  # T x (B, K) -> (B, T*K)
    Y = np.stack(ys, axis=1)  # T x (B, K) -> (B, T, K)
    return {"t": Y, "reversed": Y[:, ::-1], "time-major": Y.swapaxes(0, 1), "softmax time": softmax(Y, axis=1),
            "skip first": Y[:, 1:], "skip last": Y[:, :-1], "last only": Y[:, -1]}[how]


def _pick(reads: list, how: str) -> np.ndarray:
    R = np.stack(reads, axis=1)  # T x (B, H) -> (B, T, H)
    pick = {"last": lambda: R[:, -1], "first": lambda: R[:, 0], "before last": lambda: R[:, -2],
            "mean": lambda: R.mean(axis=1), "sum": lambda: R.sum(axis=1), "max": lambda: R.max(axis=1)}[how]
    return pick()


def program(name: str):
    """``run(case, choice) -> {"Y": ...}`` for architecture ``name`` (module docstring)."""

    def run(case: dict, ch: dict) -> dict:
        x, p = case["args"][0], case["args"][1]
        B = x.shape[0]
        cp = _cell(case)
        if name == "one_to_one":
            ys, _, _ = _loop(case, cp, _zero(case, B), x[:, None], ch, 1)
            return {"Y": ys[0]}
        if name == "one_to_many":
            T = case["args"][2] + ch.get("steps", 0)
            if T < 1:
                raise ValueError("no step left")
            ys, _, _ = _loop(case, cp, _zero(case, B), None, ch, T)
            return {"Y": _stack(ys, ch.get("store", "t"))}
        X = _inputs(x, ch.get("inputs", "t"))
        if name in ("many_to_one", "many_to_many"):
            ys, reads, _ = _loop(case, cp, _zero(case, B), X, ch, X.shape[1])
            if name == "many_to_many":
                return {"Y": _stack(ys, ch.get("store", "t"))}
            if ch.get("pick") == "all":
                return {"Y": _stack(ys, "t")}
            h = _pick(reads, ch.get("pick", "last"))
            return {"Y": _readout(p, h, ch.get("readout", "linear"))}
        enc_ch = {k: v for k, v in ch.items() if k not in ("read", "readout", "carry")}
        _, _, state = _loop(case, cp, _zero(case, B), X, {**enc_ch, "carry": ch.get("enc carry", "state")},
                            X.shape[1])
        state = _handover(state, ch.get("handover", "full"), _zero(case, B))
        dec = _cell(case, architectures.DECODER_PREFIX) if ch.get("decoder", "dec") == "dec" else _encoder_as_dec(case)
        T = (X.shape[1] if ch.get("steps") == "T_in" else case["args"][2] + ch.get("steps", 0))
        if T < 1:
            raise ValueError("no step left")
        ys, _, _ = _loop(case, dec, state, None, ch, T)
        return {"Y": _stack(ys, ch.get("store", "t"))}

    return run


def _handover(state: tuple, how: str, zero: tuple) -> tuple:
    if how in ("h only", "swapped", "c only") and len(state) == 1:
        raise ValueError("only an LSTM hands over a cell state")
    return {"full": state, "zeros": zero, "h only": state[:1] + zero[1:], "c only": zero[:1] + state[1:],
            "swapped": state[::-1]}[how]


def _encoder_as_dec(case: dict) -> dict:
    enc, dec = _cell(case), _cell(case, architectures.DECODER_PREFIX)
    if any(enc[k].shape != dec[k].shape for k in enc):
        raise ValueError("the encoder's parameters do not fit the decoder")
    return enc


def grammar(name: str) -> Grammar:
    """The sites of architecture ``name`` (module docstring)."""
    sites = []
    if name in SEQUENCE_IN:
        enc = "encoder " if name == "encoder_decoder" else ""
        sites.append(Site("inputs", ORDER_LINE, options(
            ("T-1-t", "time reversed", f"the {enc}steps read the inputs from last to first (X[:, T-1-t])"),
            ("t-1", "off by one step", f"{enc}step t reads X[:, t-1] (step 0 reads X[:, -1])"),
            ("skip first", "first input skipped", f"the {enc}loop starts at t=1 (x_0 is never read)"),
            ("skip last", "last input skipped", f"the {enc}loop stops at t=T-2 (x_{{T-1}} is never read)"),
            ("every other", "inputs skipped", f"the {enc}loop reads every other input (t = 0, 2, 4, ...)"),
            ("first", "wrong input step", f"every {enc}step reads x_0"),
            ("last", "wrong input step", f"every {enc}step reads x_{{T-1}}"))))
    carry_site = "enc carry" if name == "encoder_decoder" else "carry"
    carry_what = "encoder step" if name == "encoder_decoder" else "step"
    if name != "one_to_one":
        sites.append(Site(carry_site, STATE_LINE, options(
            ("reset", "state reset at every step", f"every {carry_what} starts from the zero state instead of the "
             "previous step's"),
            ("c reset", "cell state not carried", f"every {carry_what} starts from (h_{{t-1}}, 0): the LSTM's cell "
             "state is not carried"),
            ("h reset", "hidden state not carried", f"every {carry_what} starts from (0, c_{{t-1}}): only the "
             "LSTM's cell state is carried"),
            ("swapped", "h and c swapped", f"every {carry_what} starts from (c_{{t-1}}, h_{{t-1}}): the LSTM's "
             "state is unpacked in the wrong order"))))
    if name == "encoder_decoder":
        sites.append(Site("carry", STATE_LINE, options(
            ("reset", "state reset at every step", "every decoder step starts from the zero state"),
            ("c reset", "cell state not carried", "every decoder step starts from (h_{t-1}, 0)"))))
    sites.append(Site("read", READOUT_LINE, options(
        ("c", "cell state read", "the readout reads the LSTM's cell state c instead of h"),
        *([("before", "off by one step", "y_t is read from the state before step t")] if name != "one_to_one"
          else []))))
    feeds = name in GENERATING
    sites.append(Site("readout", READOUT_LINE, options(
        ("no bias", "bias dropped", "the readout bias b_y is left out"),
        ("W transposed", "transposed weights", "the readout uses W_hy transposed (h W_hy^T + b_y)"),
        ("tanh", "activation on the readout", "tanh is applied to the readout"),
        ("relu", "activation on the readout", "a ReLU is applied to the readout"),
        ("sigmoid", "activation on the readout", "a sigmoid is applied to the readout"),
        ("softmax", "activation on the readout", "softmax over the K outputs is applied to the readout"),
        ("softmax batch", "softmax over the wrong axis", "softmax is applied to the readout over the batch axis "
         "(axis=0) instead of over the K outputs"),
        *([] if feeds else [("h", "readout missing", "the hidden state h is returned instead of h W_hy + b_y")]))))
    if name == "many_to_one":
        sites.append(Site("pick", LAST_LINE, options(
            ("first", "wrong state read", "y is read from the first state h_0 instead of the last"),
            ("before last", "wrong state read", "y is read from the state before the last step (h_{T-2})"),
            ("mean", "states averaged", "y is read from the mean of the states h_t over time"),
            ("sum", "states summed", "y is read from the sum of the states h_t over time"),
            ("max", "states max-pooled", "y is read from the maximum of the states h_t over time"),
            ("all", "every step's output returned", "an output is returned for every step, (B, T, K), instead of "
             "the last one only"))))
    if name in TIMED:
        sites.append(Site("store", "Y = np.stack(ys, axis=1)  # (B, T, K)", options(
            ("reversed", "time reversed", "the outputs are stored from last to first (Y[:, T-1-t] holds y_t)"),
            ("time-major", "time-major output", "Y is stacked time first, (T, B, K)"),
            ("skip first", "first output dropped", "the first output is left out (Y[:, t] holds y_{t+1})"),
            ("skip last", "last output dropped", "the last output is left out"),
            ("last only", "only the last output returned", "only the last step's output is returned, (B, K)"),
            ("concatenated", "outputs concatenated", "the outputs are concatenated, (B, T*K), instead of stacked"),
            ("softmax time", "softmax over the wrong axis", "softmax is applied to Y over the time axis (axis=1) "
             "instead of over the K outputs"))))
    if feeds:
        who = "the decoder's " if name == "encoder_decoder" else ""
        first = (("zeros", "first input not read", "step 0 reads zeros instead of x"),) if name == "one_to_many" else (
            ("last input", "wrong first input", "the decoder's step 0 reads the encoder's last input instead of "
             "the zero start input"),
            ("ones", "wrong first input", "the decoder's step 0 reads ones instead of the zero start input"))
        sites += [
            Site("first", START_LINE, options(*first)),
            Site("feedback", FEEDBACK_LINE, options(
                ("softmax", "wrong feedback", f"{who}step t >= 1 reads softmax(y_{{t-1}}) instead of "
                 "one_hot_argmax(y_{t-1})"),
                ("identity", "wrong feedback", f"{who}step t >= 1 reads y_{{t-1}} itself instead of "
                 "one_hot_argmax(y_{t-1})"),
                ("zeros", "feedback missing", f"{who}steps t >= 1 read zeros instead of one_hot_argmax(y_{{t-1}})"),
                ("repeat", "input repeated", f"{who}step t >= 1 reads the first input again (the outputs are not "
                 "fed back)"),
                ("h", "wrong feedback", f"{who}step t >= 1 reads one_hot_argmax(h_{{t-1}}), the state instead of "
                 "the output"))),
            Site("steps", "T outputs: for t in range(T)", options(
                (-1, "wrong number of steps", "the loop runs T-1 steps instead of T"),
                (1, "wrong number of steps", "the loop runs T+1 steps instead of T"),
                *([("T_in", "wrong number of steps", "the decoder runs one step per input (T_in) instead of T_out")]
                  if name == "encoder_decoder" else [])))]
    if name == "encoder_decoder":
        sites += [
            Site("handover", DECODER_LINE, options(
                ("zeros", "state not passed", "the decoder starts from zeros instead of the encoder's final state"),
                ("h only", "only h passed to the decoder", "the decoder starts from (h_T, 0)"),
                ("c only", "only c passed to the decoder", "the decoder starts from (0, c_T)"),
                ("swapped", "h and c swapped", "the decoder starts from (c_T, h_T)"))),
            Site("decoder", DECODER_LINE, options(
                ("enc", "wrong parameters", "the decoder uses the encoder's parameters instead of the dec_ ones"),))]
    return Grammar(tuple(sites), program(name))


def grammar_suspects(name: str) -> list:
    """Every one- and two-slip suspect of architecture ``name`` (one-slip first)."""
    return grammar(name).suspects(pairs=True)


def probe_case(name: str, kind: str, sizes: tuple[int, ...] = (3, 4, 2, 5, 3), seed: int = 0,
               extra_out: int = 1) -> dict:
    """A fixed grader-chosen case of architecture ``name`` with generic sizes (B, T, D, H, K), by default
    (3, 4, 2, 5, 3): no size 1, no two equal.
    """
    from autograder.cases import random_params

    rng = np.random.default_rng(20261205 + seed)
    B, T, D, H, K = sizes
    if name == "one_to_many":
        D = K  # outputs are fed back as inputs
    params = random_params(kind, D, H, rng)
    if name == "encoder_decoder":
        params.update({f"{architectures.DECODER_PREFIX}{n}": v for n, v in random_params(kind, K, H, rng).items()})
    params["W_hy"] = rng.standard_normal((H, K))
    params["b_y"] = rng.standard_normal(K)
    x = rng.standard_normal((B, T, D) if name in SEQUENCE_IN else (B, D))
    # The decoder emits T_in + extra_out outputs: T_out differs from T_in (and, with extra_out > 1, from T_in + 1).
    args = (x, params, T + extra_out if name == "encoder_decoder" else T) if name in GENERATING else (x, params)
    return {"label": "probe", "kind": kind, "args": args}
