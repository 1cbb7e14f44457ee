"""Diagnosis for the architectures exercise: which step reads or emits what, and which wiring bug explains ``Y``.

Suspects run the reference cells of ``simulator.cells`` wired differently (the cell state read instead of
``h``, the state reset at every step, only ``h`` handed to the decoder, inputs or outputs reversed in time) or
recombine the reference's ``Y`` (a time-major stack, an activation on the readout). Probes re-run the
student's function on grader-chosen variants of the failed case: one input changed (which outputs follow
it?), one output step (is the first step right?), input weights switched off (is the state carried right?).
A case is ``{"kind", "args", ...}`` with ``args`` the positional inputs before ``step`` (see
``autograder.architecture_checks``).

Not covered: bugs in the student's own helpers the notebook gives (``run_step``, ``zero_state``) are
reported as the architecture's; an argmax tie in the fed-back output is not diagnosed.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from autograder.sequence_probes import Finding, Probe, Suspect, attempt, differs, same, steps_text
from simulator import architectures, cells
from simulator.losses import softmax

READOUT_LINE = "y_t = h_t W_hy + b_y (no activation on the readout)"
STATE_LINE = "h_t = cell(x_t, h_{t-1}): each step starts from the previous step's state"
FEEDBACK_LINE = "x_t = one_hot_argmax(y_{t-1}) for t >= 1"
LAST_LINE = "y = h_{T-1} W_hy + b_y, read after the last step"
ORDER_LINE = "step t reads X[:, t] and emits Y[:, t]"
START_LINE = "step 0 reads x (one-to-many) or the zero start input (the decoder); step t >= 1 one_hot_argmax(y_{t-1})"
DECODER_LINE = "the decoder starts from the encoder's final state: (h, c) for an LSTM"
TIMED = ("one_to_many", "many_to_many", "encoder_decoder")


# ----------------------------------------------------------------------------- the reference, rewired
def _reference(name: str, case: dict) -> np.ndarray:
    return architectures.FORWARD[name](*case["args"], cells.STEP_FUNCTIONS[case["kind"]][0])[0]


def _cell(case: dict, prefix: str = "") -> dict:
    return {k: case["args"][1][prefix + k] for k in architectures.CELL_KEYS[case["kind"]]}


def _zero(case: dict, B: int) -> tuple:
    H = case["args"][1]["W_hy"].shape[0]
    return tuple(np.zeros((B, H)) for _ in range(2 if case["kind"] == "lstm" else 1))


def _step(case: dict, x: np.ndarray, state: tuple, cp: dict) -> tuple:
    """One reference step: the new state, (h,) or (h, c)."""
    out = cells.STEP_FUNCTIONS[case["kind"]][0](x, *state, cp)
    return tuple(out[:-1])


def _run(case: dict, cp: dict, state: tuple, T: int, inputs: np.ndarray | None = None, x0: np.ndarray | None = None,
         read: int = 0, reset: bool = False) -> tuple[np.ndarray, tuple]:
    """Chain ``T`` reference steps from ``state``: inputs ``inputs[:, t]`` or, without them, ``x0`` then the fed-back
    outputs; ``read`` picks the state part the readout reads (0: h, 1: c); ``reset`` starts every step from zeros.
    Returns Y (B, T, K) and the final state.
    """
    p = case["args"][1]
    B = (inputs if inputs is not None else x0).shape[0]
    x, ys = x0, []
    for t in range(T):
        if inputs is not None:
            x = inputs[:, t]
        state = _step(case, x, _zero(case, B) if reset else state, cp)
        y = state[read] @ p["W_hy"] + p["b_y"]
        ys.append(y)
        x = architectures.feed_back(y, "argmax")
    return np.stack(ys, axis=1), state  # T x (B, K) -> (B, T, K)


def _wired(name: str, case: dict, read: int = 0, reset: bool = False, handover: Callable | None = None) -> np.ndarray:
    """The architecture ``name`` with the reference cell, rewired (see ``_run``; ``handover`` maps the encoder's
    final state to the decoder's first).
    """
    x, cp = case["args"][0], _cell(case)
    B = x.shape[0]
    if name == "one_to_one":
        return _run(case, cp, _zero(case, B), 1, x0=x, read=read, reset=reset)[0][:, 0]
    if name == "one_to_many":
        return _run(case, cp, _zero(case, B), case["args"][2], x0=x, read=read, reset=reset)[0]
    if name in ("many_to_one", "many_to_many"):
        Y, _ = _run(case, cp, _zero(case, B), x.shape[1], inputs=x, read=read, reset=reset)
        return Y[:, -1] if name == "many_to_one" else Y
    _, state = _run(case, cp, _zero(case, B), x.shape[1], inputs=x)
    state = handover(state) if handover else state
    K = case["args"][1]["W_hy"].shape[1]
    dec = _cell(case, architectures.DECODER_PREFIX)
    return _run(case, dec, state, case["args"][2], x0=np.zeros((B, K)), read=read, reset=reset)[0]


def _args(case: dict, **changes) -> dict:
    """The case with positional inputs replaced: ``x`` (first), ``params`` updates, ``T`` (third)."""
    args = list(case["args"])
    if "x" in changes:
        args[0] = changes["x"]
    if "params" in changes:
        args[1] = {**args[1], **changes["params"]}
    if "T" in changes:
        args[2] = changes["T"]
    return {**case, "args": tuple(args)}


def _lstm_only(fn: Callable[[dict], dict]) -> Callable[[dict], dict | None]:
    return lambda c: fn(c) if c["kind"] == "lstm" else None


def suspects(name: str) -> list[Suspect]:
    """Wiring and layout bugs of architecture ``name`` (after the catalogue in ``architecture_checks``)."""

    def ref(c):
        return _reference(name, c)

    out = [Suspect("activation on the readout", "tanh is applied to the readout, y = tanh(h W_hy + b_y)",
                   lambda c: {"Y": np.tanh(ref(c))}, READOUT_LINE),
           Suspect("activation on the readout", "softmax is applied to the readout, y = softmax(h W_hy + b_y)",
                   lambda c: {"Y": softmax(ref(c), axis=-1)}, READOUT_LINE)]
    if name not in ("one_to_many", "encoder_decoder"):  # there y is fed back: an identity readout changes inputs
        out.append(Suspect("readout missing", "the hidden state h is returned instead of y = h W_hy + b_y",
                           lambda c: {"Y": ref(_args(c, params={"W_hy": np.eye(c["args"][1]["W_hy"].shape[0]),
                                                                "b_y": np.zeros(c["args"][1]["W_hy"].shape[0])}))},
                           READOUT_LINE))
    if name == "one_to_many":
        out.append(Suspect("first input not read", "step 0 reads zeros instead of x",
                           lambda c: {"Y": ref(_args(c, x=np.zeros_like(c["args"][0])))}, FEEDBACK_LINE))
    if name in ("one_to_many", "encoder_decoder"):
        T_at = 2
        out += [Suspect("wrong number of steps", f"the loop runs {what} steps instead of T",
                        lambda c, d=d: {"Y": ref(_args(c, T=c["args"][T_at] + d))} if c["args"][T_at] + d >= 1
                        else None, "T outputs: for t in range(T)") for d, what in ((-1, "T-1"), (1, "T+1"))]
    axes = ("batch", "t") if name in TIMED else ("batch",)
    out += [Suspect("softmax over the wrong axis", f"softmax is applied to the readout and normalised over the "
                    f"{what} axis (axis={a}) instead of over the K outputs",
                    lambda c, a=a: {"Y": softmax(ref(c), axis=a)}, READOUT_LINE) for a, what in enumerate(axes)]
    if name in TIMED:
        out.append(Suspect("time-major output", "Y is stacked time first, (T, B, K) (np.stack(ys, axis=0))",
                           lambda c: {"Y": ref(c).swapaxes(0, 1)}, "Y = np.stack(ys, axis=1)  # (B, T, K)"))
    if name != "one_to_one":
        out.append(Suspect("cell state read", "the readout reads the LSTM's cell state c instead of h",
                           _lstm_only(lambda c: {"Y": _wired(name, c, read=1)}), READOUT_LINE))
        out.append(Suspect("state reset at every step", "every step starts from the zero state instead of the "
                           "previous step's", lambda c: {"Y": _wired(name, c, reset=True)}, STATE_LINE))
    if name == "many_to_one":
        out.append(Suspect("states averaged", "y is read from the mean of the states h_t over time instead of the "
                           "last one", lambda c: {"Y": _mean_state_readout(name, c)} if c["args"][0].shape[1] > 1
                           else None, LAST_LINE))
        out.append(Suspect("wrong state read", "y is read from the state before the last step (h_{T-2})",
                           lambda c: {"Y": _run(c, _cell(c), _zero(c, c["args"][0].shape[0]), c["args"][0].shape[1],
                                                inputs=c["args"][0])[0][:, -2]}
                           if c["args"][0].shape[1] > 1 else None, LAST_LINE))
    if name == "many_to_many":
        X = 0  # the input's position in args

        def rev(c, inputs: bool, outputs: bool):
            Y = ref(_args(c, x=c["args"][X][:, ::-1]) if inputs else c)
            return {"Y": Y[:, ::-1] if outputs else Y}

        out += [Suspect("time reversed", "the inputs are read from last to first (step t reads X[:, T-1-t])",
                        lambda c: rev(c, True, False), ORDER_LINE),
                Suspect("time reversed", "the outputs are stored from last to first (Y[:, T-1-t] holds y_t)",
                        lambda c: rev(c, False, True), ORDER_LINE),
                Suspect("time reversed", "the steps run from t=T-1 down to 0", lambda c: rev(c, True, True),
                        ORDER_LINE)]
    if name in ("many_to_one", "encoder_decoder"):
        # NB: many-to-one reading one input is the state reset at every step: a skipped input is named from T=3 on.
        least = 3 if name == "many_to_one" else 1
        out += [Suspect(bug, f"the {'encoder ' if name == 'encoder_decoder' else ''}steps read {what}",
                        lambda c, pick=pick, n=least if "skipped" in bug else 2: {
                            "Y": _read_inputs(name, c, pick(c["args"][0]))} if c["args"][0].shape[1] >= n else None,
                        ORDER_LINE)
                for bug, what, pick in INPUT_VARIANTS]
    if name == "encoder_decoder":
        out.append(Suspect("only h passed to the decoder", "the decoder starts from (h_T, 0): the encoder's cell "
                           "state c is not handed over", _lstm_only(lambda c: {"Y": _wired(
                               name, c, handover=lambda s: (s[0], np.zeros_like(s[1])))}), DECODER_LINE))
    return out


def _mean_state_readout(name: str, case: dict) -> np.ndarray:
    """The readout of the reference's states averaged over time."""
    H = architectures.FORWARD[name](*case["args"], cells.STEP_FUNCTIONS[case["kind"]][0])[1]["H"]  # (B, T, H)
    p = case["args"][1]
    return H.mean(axis=1) @ p["W_hy"] + p["b_y"]


# Changed input sequences a loop bug hands the cell: (bug, what the steps read, X -> the X they read).
INPUT_VARIANTS = (
    ("time reversed", "the inputs from last to first (step t reads X[:, T-1-t])", lambda X: X[:, ::-1]),
    ("first input skipped", "X[:, 1:] only (the loop starts at t=1, x_0 is never read)", lambda X: X[:, 1:]),
    ("last input skipped", "X[:, :-1] only (the loop stops at t=T-2, x_{T-1} is never read)", lambda X: X[:, :-1]),
)


def _read_inputs(name: str, case: dict, X: np.ndarray) -> np.ndarray:
    """Many-to-one or the encoder-decoder with the reference cell reading ``X`` (possibly no step at all)."""
    cp, B = _cell(case), X.shape[0]
    state = _zero(case, B)
    for t in range(X.shape[1]):
        state = _step(case, X[:, t], state, cp)
    p = case["args"][1]
    if name == "many_to_one":
        return state[0] @ p["W_hy"] + p["b_y"]
    dec = _cell(case, architectures.DECODER_PREFIX)
    return _run(case, dec, state, case["args"][2], x0=np.zeros((B, p["W_hy"].shape[1])))[0]


# ----------------------------------------------------------------------------- probes
def probes(name: str, run: Callable[[dict], np.ndarray]) -> list[Probe]:
    """The probes of architecture ``name``; ``run(case)`` is the student's ``Y`` on a probe case (one call)."""
    gate = Probe("output gate closed", lambda c, g: _closed_gate(name, run, c))
    if name in ("many_to_one", "many_to_many"):
        return [gate, Probe("which outputs read which inputs", lambda c, g: _reads(name, run, c, g))]
    if name in ("one_to_many", "encoder_decoder"):
        return [gate, Probe("first output, then inputs off", lambda c, g: _generation(name, run, c))]
    return [gate, Probe("readout", lambda c, g: _readout(run, c))]


CLOSED = -40.0  # an output-gate bias that makes o = sigmoid(...) ~ 4e-18, so h = o * tanh(c) ~ 0


def closed_output_gate(params: dict, prefix: str = "") -> dict:
    """LSTM params whose output gate is shut: the o block of ``b`` (gate order ``cells.GATES``) set to CLOSED."""
    b = params[prefix + "b"].copy()
    H = b.shape[0] // 4
    k = cells.GATES["lstm"].index("o")
    b[k * H : (k + 1) * H] = CLOSED
    return {prefix + "b": b}


def reads_cell_state(run: Callable, reference: Callable, closed: dict, moved: dict) -> Finding | None:
    """With h ~ 0 everywhere (output gate shut), outputs that still follow the inputs read the cell state."""
    a, b = attempt(lambda: run(closed)), attempt(lambda: run(moved))
    if a is None or b is None or same(reference(closed), a):
        return None
    if np.abs(a - b).max() > 1e-6:
        return Finding("with the output gate shut (o ~ 0, so h ~ 0 and y ~ b_y) your outputs still differ and "
                       "follow the inputs: they read the cell state", "cell state read", "the readout reads c "
                       "instead of h = o * tanh(c)", READOUT_LINE)
    return None


def _closed_gate(name: str, run: Callable, case: dict) -> Finding | None:
    if case["kind"] != "lstm":
        return None
    prefix = architectures.DECODER_PREFIX if name == "encoder_decoder" else ""
    closed = _args(case, params=closed_output_gate(case["args"][1], prefix))
    moved = _args(closed, x=case["args"][0] + 1.0)
    return reads_cell_state(run, lambda c: _reference(name, c), closed, moved)


def _changed(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(T,) steps where two outputs (B, T, K) differ, or (1,) for (B, K)."""
    d = np.abs(a - b) > 1e-9
    return d.any(axis=(0, 2)) if d.ndim == 3 else d.any(keepdims=True).reshape(1)


def _reads(name: str, run: Callable, case: dict, got: dict) -> Finding | None:
    """Change one input step (x_0, then x_{T-1}) and see which of the student's outputs follow it."""
    X = case["args"][0]
    T = X.shape[1]
    seen = []
    for s in sorted({T - 1, 0}, reverse=True):
        Xs = X.copy()
        Xs[:, s] += 1.0
        c = _args(case, x=Xs)
        Ys = attempt(lambda c=c: run(c))
        if Ys is None:
            return None
        mine, theirs = _changed(Ys, got["Y"]), _changed(_reference(name, c), _reference(name, case))
        if name == "many_to_one":
            if theirs[0] and not mine[0]:
                if s == T - 1:
                    return Finding(f"changing x_{s} leaves your y unchanged, but y must read the state after the "
                                   "last step", "wrong state read", "y is read before the last step", LAST_LINE)
                return Finding(f"changing x_{s} leaves your y unchanged: the first input does not reach the last "
                               "state", "state not carried between steps", "the state is not carried from step to "
                               "step", STATE_LINE)
            seen.append(f"changing x_{s} changes your y, as in the reference")
            continue
        early = np.flatnonzero(mine[:s])
        if early.size:
            return Finding(f"changing x_{s} changes your Y at {steps_text(early)}, before step {s} reads it: "
                           "outputs read later inputs", "time reversed", "the steps do not run t = 0 .. T-1 in "
                           "order", ORDER_LINE)
        if T > 1 and s == 0 and mine[0] and not mine[1:].any() and theirs[1:].any():
            return Finding("changing x_0 changes only your y_0: nothing is carried to later steps",
                           "state not carried between steps", "the state is not carried from step to step",
                           STATE_LINE)
        if theirs[s] and not mine[s]:
            if not mine[s + 1:].any():  # no later output follows x_s: not yet evidence of a shift
                seen.append(f"changing x_{s} leaves your y_{s} unchanged")
                continue
            # y_s blind to x_s while a later output follows it: evidence of an output emitted one step early.
            return Finding(f"changing x_{s} leaves your y_{s} unchanged and changes later outputs: each output is "
                           "emitted before its step reads its input", "off by one step",
                           "Y[:, t] is read from the state before step t", ORDER_LINE)
        seen.append(f"changing x_{s} changes your Y at {steps_text(np.flatnonzero(mine))}, as in the reference"
                    if np.array_equal(mine, theirs) else
                    f"changing x_{s} changes your Y at {steps_text(np.flatnonzero(mine))}, the reference's at "
                    f"{steps_text(np.flatnonzero(theirs))}")
    return Finding("; ".join(seen)) if seen else None


def _generation(name: str, run: Callable, case: dict) -> Finding | None:
    """One output step first; if it is right, switch the (decoder's) input weights off: feedback or state?"""
    first = _args(case, T=1)
    Y1 = attempt(lambda: run(first))
    if Y1 is None:
        return None
    start = "the encoder's final state or the decoder's first step" if name == "encoder_decoder" else \
        "the first step (x from the zero state) or the readout"
    prefix = architectures.DECODER_PREFIX if name == "encoder_decoder" else ""
    key = prefix + architectures.CELL_KEYS[case["kind"]][0]
    if not same(_reference(name, first), Y1):
        # The first output read with the (decoder's) input weights off: right then means its input is wrong.
        blind = _args(first, params={key: np.zeros_like(case["args"][1][key])})
        Yb = attempt(lambda: run(blind))
        if Yb is not None and same(_reference(name, blind), Yb):
            what = "the zero start input (B, K)" if name == "encoder_decoder" else "x"
            return Finding(f"already with one output step your Y differs, but with {key} = 0 (inputs switched off) "
                           "it matches, so the input of the first output step is wrong", "wrong first input",
                           f"the first output step does not read {what}", START_LINE)
        return Finding(f"already with one output step your Y differs, so {start} is wrong")
    if case["args"][2] < 2:
        return Finding("with one output step your Y matches the reference")
    off = _args(case, params={key: np.zeros_like(case["args"][1][key])})
    Y0 = attempt(lambda: run(off))
    if Y0 is None:
        return None
    ref_off = _reference(name, off)
    bad = np.flatnonzero(differs(ref_off, Y0).any(axis=(0, 2)))
    order = time_permutation(ref_off, Y0)
    if bad.size and order is not None:
        # Every output is right but stored at another step: the storage, not the state, is wrong.
        reversed_ = order == list(range(len(order)))[::-1]
        return Finding(f"with {key} = 0 (inputs switched off) your outputs are the reference's, stored at other "
                       "steps", "time reversed" if reversed_ else "outputs in the "
                       "wrong order", "Y[:, t] does not hold step t's output", ORDER_LINE)
    if bad.size == 0:
        return Finding(f"with one output step your Y matches; with {key} = 0 (inputs switched off) every output "
                       "matches too, so the state is carried right and the input a later step reads is what "
                       "differs", "wrong feedback", "a later step does not read one_hot_argmax(y_{t-1})",
                       FEEDBACK_LINE)
    return Finding(f"with one output step your Y matches; with {key} = 0 (inputs switched off) your Y still differs "
                   f"at {steps_text(bad)}, so the state passed from step to step is wrong",
                   "state not carried between steps", "the state passed from step to step (or the cell a later step "
                   "runs) is wrong", STATE_LINE)


def time_permutation(expected: np.ndarray, got: np.ndarray) -> list[int] | None:
    """``order`` with ``got[:, t] == expected[:, order[t]]`` for every t (a permutation of the steps), or None."""
    if got.shape != expected.shape or got.ndim != 3:
        return None
    T = expected.shape[1]
    order = []
    for t in range(T):
        hits = [s for s in range(T) if same(expected[:, s], got[:, t]) and s not in order]
        if not hits:
            return None
        order.append(hits[0])
    return order


def _readout(run: Callable, case: dict) -> Finding | None:
    """With W_hy = 0 the output is b_y whatever the cell does: is the readout's bias right?"""
    W = case["args"][1]["W_hy"]
    c = _args(case, params={"W_hy": np.zeros_like(W)})
    y = attempt(lambda: run(c))
    if y is None:
        return None
    if same(_reference("one_to_one", c), y):
        return Finding("with W_hy = 0 your y is b_y, as it should be, so the readout's bias is right and h or its "
                       "product with W_hy differs")
    return Finding("with W_hy = 0 your y is not b_y", "wrong readout", "the readout is not h W_hy + b_y",
                   READOUT_LINE)


# ----------------------------------------------------------------------------- a raise: which sizes it confuses
# (B, T, D, H, K) of the shape probes: the generic one (every size different, none 1), then one coincidence each,
# with what a function that raises on the generic sizes and runs on these confuses.
_SIZES = ("B", "T", "D", "H", "K")
_GENERIC = (3, 4, 2, 5, 6)
# What a function that raises on the generic sizes and runs when two sizes agree (or one is 1) confuses.
_PAIR_MEANING = {
    "B = K": "the batch axis B and the output axis K are confused (an argmax, a one-hot or a softmax over axis 0, "
             "the batch, or y.T fed back)",
    "B = H": "the batch axis B and the state's unit axis H are confused (a state or output transposed, or a sum over "
             "the wrong axis)",
    "B = T": "the batch axis B and the time axis T are confused (X[t] read instead of X[:, t], or outputs stacked "
             "time-major)",
    "B = D": "the batch size is read from the input's feature axis D (x.shape[1] or X.shape[2] where x.shape[0] "
             "belongs), or the two axes are exchanged",
    "T = D": "the time axis T and the feature axis D are confused (a loop over X.shape[2], or X[:, :, t])",
    "T = H": "the time axis T and the unit axis H are confused (a loop over a state's width)",
    "T = K": "the time axis T and the output axis K are confused",
    "D = H": "an array of the input's width D used where the state's width H belongs",
    "D = K": "the input's width D and the output's width K are confused (an output fed where an input belongs, or "
             "the reverse)",
    "H = K": "h used where y belongs (the readout left out) or W_hy used transposed",
    "B = 1": "it works for one example only: a state or input built for a batch of 1 (zeros((1, H)), x[0], a "
             "squeeze)",
    "T = 1": "a loop or an index that is right only for one step",
}
_PAIR_BUG = {"B = K": "batch and output axes confused", "B = H": "batch and unit axes confused",
             "B = T": "batch and time axes confused", "B = D": "batch size read from the feature axis",
             "T = D": "time and feature axes confused", "T = H": "time and unit axes confused",
             "T = K": "time and output axes confused", "D = H": "input width used for the state's",
             "D = K": "input and output widths confused", "H = K": "state used for the output",
             "B = 1": "written for a batch of one", "T = 1": "written for one step"}


def _variant(label: str) -> tuple[int, ...]:
    """The generic sizes with the coincidence ``label`` ("B = K": B takes K's value; "T = 1": T is 1)."""
    left, right = label.split(" = ")
    sizes = dict(zip(_SIZES, _GENERIC, strict=True))
    sizes[left] = 1 if right == "1" else sizes[right]
    return tuple(sizes[n] for n in _SIZES)


SIZE_VARIANTS = ((_GENERIC, "B, T, D, H and K all different", ""),
                 *((_variant(label), label, meaning) for label, meaning in _PAIR_MEANING.items()))


def raise_finding(name: str, kind: str, run: Callable[[dict], np.ndarray]) -> Finding | None:
    """Why ``<name>_forward`` raised, from the sizes under which it runs (one student call per size variant).

    ``run`` maps a case to the student's ``Y`` (raising when the student does). None when it raises on every
    variant or runs on the generic one (the sizes do not explain it). Only explains: no score depends on it.
    """
    from autograder.architecture_grammar import probe_case

    ran, right = [], []
    for sizes, label, _ in SIZE_VARIANTS:
        case = probe_case(name, kind, sizes)
        got = attempt(lambda c=case: run(c))
        if got is not None:
            ran.append(label)
            if same(_reference(name, case), got):
                right.append(label)
    if not ran or ran[0] == SIZE_VARIANTS[0][1]:
        return None
    meaning = {label: m for _, label, m in SIZE_VARIANTS}
    tried = ", ".join(label for _, label, _ in SIZE_VARIANTS)
    evidence = (f"on the grader's size probes ({tried}) your function ran only with {' or '.join(ran)}"
                + (f"; it matched the reference with {' or '.join(right)}" if right else ""))
    return Finding(evidence, _SIZE_BUG[ran[0]], f"your {name}_forward raises unless {' or '.join(ran)}: "
                   f"{meaning[ran[0]]}", "the sizes of each array against (B, T, D), (B, H) and (B, K)")


_SIZE_BUG = _PAIR_BUG
