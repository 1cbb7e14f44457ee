"""The RNN architectures of the lesson, built on any cell, with a dense readout: forward and backward.

Every architecture runs a cell (RNN, LSTM or GRU; the reference or a student's step function) through
``simulator.sequence`` and reads outputs with the dense readout ``y_t = h_t W_hy + b_y``. The loss is
not part of the architecture: compute it with ``simulator.losses`` on ``Y`` and pass its gradient
``dY`` to the backward function.

=================  ==================================  ==========================  ===================
architecture       forward(...) -> Y, cache            Y                           backward -> dX
=================  ==================================  ==========================  ===================
one_to_one         ``(x, params, step)``               (B, K)                      (B, D)
one_to_many        ``(x, params, T, step)``            (B, T, K)                   (B, D)
many_to_one        ``(X, params, step)``               (B, K)                      (B, T, D)
many_to_many       ``(X, params, step)``               (B, T, K)                   (B, T, D)
encoder_decoder    ``(X, params, T_out, step)``        (B, T_out, K)               (B, T_in, D)
=================  ==================================  ==========================  ===================

Each is a pair ``<name>_forward`` / ``<name>_backward``; ``dX, grads = <name>_backward(dY, cache)``
where ``dY`` has ``Y``'s shape and ``grads`` has exactly the keys and shapes of ``params``.
``FORWARD`` and ``BACKWARD`` map each name to its function; ``objective(architecture, loss)`` gives
the ``loss_and_grads(params, batch)`` that ``simulator.train.Trainer`` takes; ``init_params`` makes
parameters; ``infer_kind``, ``one_hot`` and ``feed_back`` are the small helpers the forward passes use.

* **one_to_one** (image of a musical symbol -> its class): one step from the zero state,
  ``h = cell(x, 0)``, ``y = h W_hy + b_y``; a feed-forward net with one hidden layer.
* **one_to_many** (a first note or a genre -> a sequence of notes): ``T`` steps from the zero state;
  step 0 reads ``x``; step ``t >= 1`` reads ``x_t = f(y_{t-1})`` where ``feedback`` chooses ``f``:
  ``"argmax"`` one-hot of the most likely class (no gradient flows through it), ``"softmax"`` the
  class probabilities, ``"identity"`` the output vector itself (regression; gradient flows through
  both), ``"none"`` zeros (the input drives the first step only). Teacher forcing: given
  ``targets``, step ``t >= 1`` reads ``targets[:, t-1]`` instead (one-hot for class indices
  ``(B, T)``, as-is for real vectors ``(B, T, K)``). Every mode but ``"none"`` needs ``D == K``.
* **many_to_one** (genre from a song): ``T`` steps over ``X``; only the last state is read,
  ``y = h_T W_hy + b_y``.
* **many_to_many** synced (tagging): ``T`` steps over ``X``, one output per input, ``y_t = h_t W_hy + b_y``.
* **encoder_decoder** (notes -> a string of symbols of another length): the encoder reads ``T_in``
  steps of ``X`` and emits nothing; its final state (``h``, and ``c`` for the LSTM) is the decoder's
  initial state; the decoder (its own cell parameters, input size ``K``) runs ``T_out`` steps,
  step 0 reads ``start`` (zeros by default, the "start token"), step ``t >= 1`` reads the feedback
  of ``y_{t-1}`` or, with ``targets``, the previous target (teacher forcing), as in one_to_many.

Parameters (one flat dict of arrays, so ``simulator.optim`` and ``simulator.train`` can update it):
the cell's parameters under their ``cells`` names (RNN ``W_xh, W_hh, b_h``; LSTM ``W_x, W_h, b``;
GRU ``W_x, W_h, b_x, b_h``), the readout ``W_hy (H, K)`` and ``b_y (K,)``; the encoder-decoder
adds the decoder cell's parameters with the prefix ``dec_`` (``dec_W_xh (K, H)``, ...). The cell
kind is read from the keys; ``init_params`` makes a fresh dict. One float dtype for everything.

The cell, argument ``step``:
- ``None``: the reference cell of the kind the params hold (fast path of ``sequence``);
- ``"rnn" | "lstm" | "gru"``: the same, checked against the params;
- a step function with the signature of ``cells.rnn_step`` / ``lstm_step`` / ``gru_step``
  (``h, cache = step(x, h_prev, params)``; LSTM ``h, c, cache = step(x, h_prev, c_prev, params)``),
  e.g. a student's; then ``step_backward`` (signature of ``cells.*_step_backward``) is needed for
  the backward pass (it defaults to the reference backward when ``step`` is a reference function).
Options: ``activation`` (RNN, ``"tanh"`` or ``"relu"``), ``reset_after`` (GRU), passed to the step.

The forward cache (what the app draws; the backward pass reads it too). ``S`` is the number of
steps drawn (``T``, ``1`` or ``T_in + T_out``), ``N`` the number of outputs (``Y``'s time axis, 1 for
one_to_one and many_to_one):
- ``architecture``, ``kind`` (str); ``options``: ``activation``, ``reset_after``, ``feedback``,
  ``teacher_forcing`` (bool).
- ``phase``: list of S str, ``"cell"`` (single-cell architectures), ``"encoder"`` or ``"decoder"``.
- ``input_source``: list of S str, what each step reads: ``"x"`` (the architecture's input),
  ``"start"`` (decoder start input), ``"feedback"`` (previous output fed back), ``"teacher"``
  (previous target), ``"zeros"`` (no input).
- ``reads_input``: (S,) bool, the step reads the architecture's input ``x`` / ``X``.
- ``emits_output``: (S,) bool, the step emits a readout ``y_t``.
- ``takes_loss``: (S,) bool, a loss term is taken at the step (every step that emits an output;
  a loss ``mask`` can drop some).
- ``output_steps``: (N,) int, the step of each output: ``Y[:, j]`` comes from step ``output_steps[j]``.
- ``inputs``: list of S arrays (B, D_s), the input each step actually read.
- ``H``: (B, S, H) the hidden state after every step; ``C``: (B, S, H) LSTM cell states, else None.
- ``Y``: the outputs as returned; ``steps``: list of S per-step cell caches (gates, candidate, ...).
- ``params``: the arrays used; ``segments``: the ``sequence`` caches the backward pass walks.
After ``<name>_backward(dY, cache, record=True)``, ``cache["grads"]`` holds ``dh`` (B, S, H), the
total dL/dh reaching each step, ``dc`` (LSTM, else None) and ``dy`` (B, N, K), the total dL/dy_t
(including what flows back through differentiable feedback).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np

from simulator import cells, sequence
from simulator.cells import Cell
from simulator.losses import mean_squared_error, softmax, softmax_cross_entropy
from simulator.validation import as_float_array, check_finite, check_option, check_params, check_shape

Step = str | Callable | None  # a kind name, a step function, or None for the kind the params hold
ARCHITECTURES = ("one_to_one", "one_to_many", "many_to_one", "many_to_many", "encoder_decoder")
FEEDBACKS = ("argmax", "softmax", "identity", "none")
CELL_KEYS = {"rnn": ("W_xh", "W_hh", "b_h"), "lstm": ("W_x", "W_h", "b"), "gru": ("W_x", "W_h", "b_x", "b_h")}
READOUT_KEYS = ("W_hy", "b_y")
DECODER_PREFIX = "dec_"


# ----------------------------------------------------------------------------- parameters
def infer_kind(params: Mapping, prefix: str = "") -> str:
    """The cell kind (``"rnn"``, ``"lstm"`` or ``"gru"``) whose parameter names ``params`` holds."""
    if not isinstance(params, Mapping):
        raise ValueError(f"params: expected a dict of arrays, got {type(params).__name__}")
    found = [k for k, keys in CELL_KEYS.items() if all(prefix + n in params for n in keys)]
    if len(found) != 1:
        layouts = "; ".join(f"{k}: {', '.join(prefix + n for n in keys)}" for k, keys in CELL_KEYS.items())
        raise ValueError(f"params: keys {sorted(params)} hold {'no' if not found else 'more than one'} "
                         f"cell layout; expected exactly one of {layouts} (plus W_hy, b_y)")
    return found[0]


def init_params(kind: str, input_size: int, hidden_size: int, output_size: int, *, decoder: bool = False,
                seed: int = 0, dtype=np.float64, **cell_init) -> dict[str, np.ndarray]:
    """Fresh parameters for an architecture: the cell's (``cells.init_params``) plus the readout.

    ``W_hy (H, K)`` is Glorot uniform, ``U(-s, s)`` with ``s = sqrt(6 / (H + K))``; ``b_y (K,)`` zeros.
    With ``decoder=True`` (for ``encoder_decoder``) the decoder cell's parameters are added under
    ``dec_`` names, with input size ``K`` (the decoder reads outputs). ``cell_init`` goes to
    ``cells.init_params`` (e.g. ``recurrent_init``, ``forget_bias``).
    """
    H, K = int(hidden_size), int(output_size)
    if K < 1:
        raise ValueError(f"output_size: expected a positive integer, got {output_size}")
    params = cells.init_params(kind, input_size, H, seed=seed, dtype=dtype, **cell_init)
    if decoder:
        dec = cells.init_params(kind, K, H, seed=seed + 1, dtype=dtype, **cell_init)
        params.update({DECODER_PREFIX + k: v for k, v in dec.items()})
    rng = np.random.default_rng([seed, 2])
    s = np.sqrt(6.0 / (H + K))
    params["W_hy"] = rng.uniform(-s, s, size=(H, K)).astype(dtype)
    params["b_y"] = np.zeros(K, dtype=dtype)
    return params


def _split(params, decoder: bool) -> tuple[str, dict, dict | None, np.ndarray, np.ndarray]:
    """Check ``params``' keys and the readout; return kind, cell params, decoder params, W_hy, b_y."""
    kind = infer_kind(params)
    keys = CELL_KEYS[kind]
    expected = [*keys, *READOUT_KEYS, *((DECODER_PREFIX + k for k in keys) if decoder else ())]
    missing = [k for k in expected if k not in params]
    extra = [k for k in params if k not in expected]
    if missing or extra:
        raise ValueError(f"params: {'missing ' + str(missing) if missing else 'unexpected keys ' + str(extra)}; "
                         f"expected keys {expected}")
    cell_params = {k: params[k] for k in keys}
    dec_params = {k: params[DECODER_PREFIX + k] for k in keys} if decoder else None
    rec = cell_params[keys[1]]
    if not isinstance(rec, np.ndarray) or rec.ndim != 2:
        raise ValueError(f"params[{keys[1]!r}]: expected a 2-D numpy array, got {type(rec).__name__}")
    H, dtype = rec.shape[0], rec.dtype
    W_hy, b_y = params["W_hy"], params["b_y"]
    for name, arr, ndim in (("W_hy", W_hy, 2), ("b_y", b_y, 1)):
        if not isinstance(arr, np.ndarray) or arr.ndim != ndim:
            raise ValueError(f"params[{name!r}]: expected a {ndim}-D numpy array, got "
                             f"{getattr(arr, 'shape', type(arr).__name__)}")
        if arr.dtype != dtype:
            raise ValueError(f"params[{name!r}]: dtype {arr.dtype} differs from the cell's {dtype}; "
                             "expected one float dtype")
        check_finite(f"params[{name!r}]", arr)
    K = W_hy.shape[1]
    check_shape("params['W_hy']", W_hy, (H, K))
    check_shape("params['b_y']", b_y, (K,))
    inp = cell_params[keys[0]]
    if not isinstance(inp, np.ndarray) or inp.ndim != 2:
        raise ValueError(f"params[{keys[0]!r}]: expected a 2-D numpy array (D, ...), got {type(inp).__name__}")
    if dtype.type not in (np.float32, np.float64):
        raise ValueError(f"params: dtype {dtype} is not supported; expected float32 or float64")
    check_params(cell_params, cells.param_shapes(kind, inp.shape[0], H), dtype)
    if decoder:
        # the decoder reads the previous output, so its input size is K
        shapes = {DECODER_PREFIX + k: v for k, v in cells.param_shapes(kind, K, H).items()}
        check_params({DECODER_PREFIX + k: v for k, v in dec_params.items()}, shapes, dtype)
    return kind, cell_params, dec_params, W_hy, b_y


def _missing_backward(*args, **kwargs):
    raise ValueError("step_backward: the forward pass used a custom step function but no step_backward; "
                     "pass step_backward= (signature of cells.*_step_backward) to the forward function")


def _make_cell(kind: str, cell_params: dict, step, step_backward, activation: str, reset_after: bool) -> Cell:
    """A ``sequence`` Cell for ``kind`` running ``step`` (see the module docstring for what ``step`` may be)."""
    if step is None or isinstance(step, str):
        if step is not None:
            check_option("step", step, cells.KINDS)
            if step != kind:
                raise ValueError(f"step: {step!r}, but params hold a {kind} cell (keys {list(CELL_KEYS[kind])})")
        return Cell(kind, cell_params, activation=activation, reset_after=reset_after)
    if not callable(step):
        raise ValueError(f"step: expected None, a cell kind {cells.KINDS} or a step function, "
                         f"got {type(step).__name__}")
    for other, (ref_step, ref_back) in cells.STEP_FUNCTIONS.items():
        if step is ref_step:
            if other != kind:
                raise ValueError(f"step: cells.{other}_step, but params hold a {kind} cell")
            step_backward = step_backward or ref_back
    if step_backward is not None and not callable(step_backward):
        raise ValueError(f"step_backward: expected a function, got {type(step_backward).__name__}")
    return Cell(kind, cell_params, activation=activation, reset_after=reset_after, step=step,
                step_backward=step_backward or _missing_backward)


def _setup(params, step, step_backward, activation, reset_after, decoder=False):
    kind, cell_params, dec_params, W_hy, b_y = _split(params, decoder)
    cell = _make_cell(kind, cell_params, step, step_backward, activation, reset_after)
    dec_cell = _make_cell(kind, dec_params, step, step_backward, activation, reset_after) if decoder else None
    return kind, cell, dec_cell, W_hy, b_y


# ----------------------------------------------------------------------------- inputs
def _input(name: str, value, ndim: int, cell: Cell) -> np.ndarray:
    arr = as_float_array(name, value, ndim=ndim)
    lead = "(B, D)" if ndim == 2 else "(B, T, D)"
    if any(n < 1 for n in arr.shape[:-1]) or arr.shape[-1] != cell.input_size:
        raise ValueError(f"{name}: expected shape {lead} with D={cell.input_size} (the cell's input size) and "
                         f"B, T >= 1, got {arr.shape}")
    if arr.dtype != cell.dtype:
        raise ValueError(f"{name}: dtype {arr.dtype} differs from the parameters' {cell.dtype}; "
                         "expected one float dtype")
    check_finite(name, arr)
    return arr


def _length(name: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
        raise ValueError(f"{name}: expected a positive integer number of steps, got {value!r}")
    return int(value)


def one_hot(indices, K: int, dtype=np.float64) -> np.ndarray:
    """``(...,)`` integer indices -> ``(..., K)`` one-hot rows."""
    idx = np.asarray(indices)
    if idx.dtype.kind not in "iu" or (idx.size and (idx.min() < 0 or idx.max() >= K)):
        raise ValueError(f"indices: expected integers in [0, {K}), got dtype {idx.dtype}")
    out = np.zeros((*idx.shape, K), dtype=dtype)
    np.put_along_axis(out, idx[..., None], 1.0, axis=-1)
    return out


def _teacher_inputs(targets, B: int, T: int, K: int, dtype) -> np.ndarray:
    """The inputs of steps 1 .. T-1 under teacher forcing: (B, T-1, K), the targets of steps 0 .. T-2."""
    y = np.asarray(targets)
    if y.dtype.kind in "iu":
        check_shape("targets", y, (B, T))
        if y.min() < 0 or y.max() >= K:
            raise ValueError(f"targets: class index out of range [{y.min()}, {y.max()}]; expected 0 <= index < K={K}")
        return one_hot(y[:, : T - 1], K, dtype)
    y = as_float_array("targets", y)
    if y.ndim != 3:
        raise ValueError(f"targets: expected integer classes (B, T) or real vectors (B, T, K) with B={B}, T={T}, "
                         f"K={K}; got dtype {y.dtype}, shape {y.shape}")
    check_shape("targets", y, (B, T, K))
    check_finite("targets", y)
    return y[:, : T - 1].astype(dtype, copy=False)


# ----------------------------------------------------------------------------- feedback
def feed_back(y: np.ndarray, feedback: str) -> np.ndarray:
    """The next step's input from this step's output ``y`` (B, K): see ``one_to_many`` in the module docstring."""
    if feedback == "argmax":
        return one_hot(y.argmax(axis=1), y.shape[1], y.dtype)
    if feedback == "softmax":
        return softmax(y, axis=1)
    if feedback == "identity":
        return y.copy()
    return np.zeros_like(y)


def _feed_back_backward(dx: np.ndarray, y: np.ndarray, feedback: str) -> np.ndarray | None:
    """dL/dy through ``feed_back``; None where no gradient flows (argmax, none).

    softmax: ``dy = p * (dx - sum_k dx_k p_k)``; identity: ``dy = dx``.
    """
    if feedback == "softmax":
        p = softmax(y, axis=1)
        return p * (dx - (dx * p).sum(axis=1, keepdims=True))
    if feedback == "identity":
        return dx
    return None


# ----------------------------------------------------------------------------- running the cells
def _state(seq_cache: dict, kind: str):
    """The final state of a ``sequence`` run in the form ``state0`` takes: ``h`` or ``(h, c)``."""
    final = seq_cache["final"]
    return tuple(final) if kind == "lstm" else final[0]


def _segment(phase: str, start: int, prefix: str, H: np.ndarray, seq_cache: dict) -> dict:
    return {"phase": phase, "start": start, "stop": start + H.shape[1], "prefix": prefix, "H": H, "seq": seq_cache}


def _decode(cell: Cell, x0: np.ndarray, T: int, state0, W_hy, b_y, feedback: str, teacher, first: str,
            phase: str, start: int, prefix: str) -> tuple[list, list, np.ndarray]:
    """Run ``T`` steps from ``state0``: step 0 reads ``x0`` (B, D); step t >= 1 reads ``teacher[:, t-1]``
    when given, else the feedback of ``y_{t-1}``. Returns segments, input sources, Y (B, T, K).
    """
    B = x0.shape[0]
    if teacher is not None or feedback == "none":
        rest = teacher if teacher is not None else np.zeros((B, T - 1, x0.shape[1]), dtype=x0.dtype)
        Xd = np.concatenate([x0[:, None, :], rest], axis=1)  # (B, 1, D) + (B, T-1, D) -> (B, T, D)
        Hd, seq = sequence.forward(cell, Xd, state0)
        sources = [first] + ["teacher" if teacher is not None else "zeros"] * (T - 1)
        return [_segment(phase, start, prefix, Hd, seq)], sources, Hd @ W_hy + b_y
    segments, Y = [], np.empty((B, T, W_hy.shape[1]), dtype=x0.dtype)
    x, state = x0, state0
    for t in range(T):
        Ht, seq = sequence.forward(cell, x[:, None, :], state)  # (B, D) -> (B, 1, D)
        segments.append(_segment(phase, start + t, prefix, Ht, seq))
        Y[:, t] = Ht[:, 0] @ W_hy + b_y
        x, state = feed_back(Y[:, t], feedback), _state(seq, cell.kind)
    return segments, [first] + ["feedback"] * (T - 1), Y


def _cache(architecture: str, kind: str, cell: Cell, options: dict, segments: list, sources: list,
           output_steps: list, Y: np.ndarray, params: Mapping) -> dict:
    """Assemble the forward cache described in the module docstring."""
    S = segments[-1]["stop"]
    steps, inputs = [], []
    for seg in segments:
        steps.extend(seg["seq"]["steps"])
        X = seg["seq"]["X"]
        inputs.extend(X[:, t] for t in range(X.shape[1]))
    H = np.concatenate([seg["H"] for seg in segments], axis=1)  # S x (B, L, H) -> (B, S, H)
    C = None
    if kind == "lstm" and all(isinstance(s, Mapping) and "c" in s for s in steps):
        C = np.stack([s["c"] for s in steps], axis=1)  # S x (B, H) -> (B, S, H)
    emits = np.zeros(S, dtype=bool)
    emits[output_steps] = True
    return {"architecture": architecture, "kind": kind,
            "options": {"activation": cell.activation, "reset_after": cell.reset_after, **options},
            "phase": [seg["phase"] for seg in segments for _ in range(seg["stop"] - seg["start"])],
            "input_source": sources, "reads_input": np.array([s == "x" for s in sources]),
            "emits_output": emits, "takes_loss": emits.copy(), "output_steps": np.asarray(output_steps),
            "inputs": inputs, "H": H, "C": C, "Y": Y, "steps": steps, "params": dict(params),
            "segments": segments}


def _options(feedback, targets) -> dict:
    return {"feedback": feedback, "teacher_forcing": targets is not None}


# ----------------------------------------------------------------------------- forward passes
def one_to_one_forward(x: np.ndarray, params: Mapping[str, np.ndarray], step: Step = None,
                       *, step_backward: Callable | None = None, activation: str = "tanh",
                       reset_after: bool = True) -> tuple[np.ndarray, dict]:
    """One input, one output: ``h = cell(x, 0)``, ``y = h W_hy + b_y`` (a feed-forward net).

    Inputs:
    - x: (B, D) one input per example (e.g. a flattened image of a musical symbol).
    - params: cell params + ``W_hy (H, K)``, ``b_y (K,)``.
    - step, step_backward, activation, reset_after: the cell (module docstring).

    Returns:
    - y: (B, K) outputs (logits for classes).
    - cache: S = 1 step (module docstring).
    """
    kind, cell, _, W_hy, b_y = _setup(params, step, step_backward, activation, reset_after)
    x = _input("x", x, 2, cell)
    H, seq = sequence.forward(cell, x[:, None, :])  # (B, D) -> (B, 1, D)
    y = H[:, 0] @ W_hy + b_y
    segments = [_segment("cell", 0, "", H, seq)]
    return y, _cache("one_to_one", kind, cell, _options(None, None), segments, ["x"], [0], y, params)


def one_to_many_forward(x: np.ndarray, params: Mapping[str, np.ndarray], T: int, step: Step = None,
                        *, feedback: str = "argmax", targets=None,
                        step_backward: Callable | None = None, activation: str = "tanh",
                        reset_after: bool = True) -> tuple[np.ndarray, dict]:
    """One input, ``T`` outputs: step 0 reads ``x``, step t >= 1 reads ``f(y_{t-1})`` or the previous target.

    ``h_0 = cell(x, 0)``; ``h_t = cell(x_t, h_{t-1})`` with ``x_t = feed_back(y_{t-1})``
    (``targets[:, t-1]`` under teacher forcing); ``y_t = h_t W_hy + b_y``.

    Inputs:
    - x: (B, D) the single input (a first note, a genre).
    - params: cell params + ``W_hy (H, K)``, ``b_y (K,)``; ``D == K`` unless ``feedback="none"``
      without ``targets``.
    - T: number of steps (and outputs), >= 1.
    - feedback: ``"argmax"``, ``"softmax"``, ``"identity"`` or ``"none"`` (module docstring).
    - targets: optional teacher forcing, integer classes (B, T) or real vectors (B, T, K).
    - step, step_backward, activation, reset_after: the cell (module docstring).

    Returns:
    - Y: (B, T, K).
    - cache: S = T steps (module docstring).
    """
    check_option("feedback", feedback, FEEDBACKS)
    kind, cell, _, W_hy, b_y = _setup(params, step, step_backward, activation, reset_after)
    x = _input("x", x, 2, cell)
    T = _length("T", T)
    K = W_hy.shape[1]
    if (feedback != "none" or targets is not None) and cell.input_size != K:
        raise ValueError(f"params: feedback={feedback!r}{' with targets' if targets is not None else ''} feeds "
                         f"K={K} outputs back as inputs, so the cell's input size D must be K; got D={cell.input_size}")
    teacher = None if targets is None else _teacher_inputs(targets, x.shape[0], T, K, x.dtype)
    segments, sources, Y = _decode(cell, x, T, None, W_hy, b_y, feedback, teacher, "x", "cell", 0, "")
    return Y, _cache("one_to_many", kind, cell, _options(feedback, targets), segments, sources, list(range(T)),
                     Y, params)


def many_to_one_forward(X: np.ndarray, params: Mapping[str, np.ndarray], step: Step = None,
                        *, step_backward: Callable | None = None, activation: str = "tanh",
                        reset_after: bool = True) -> tuple[np.ndarray, dict]:
    """A sequence in, one output from the last state: ``y = h_T W_hy + b_y``.

    Inputs:
    - X: (B, T, D) input sequences (e.g. a song, frame by frame).
    - params: cell params + ``W_hy (H, K)``, ``b_y (K,)``.
    - step, step_backward, activation, reset_after: the cell (module docstring).

    Returns:
    - y: (B, K).
    - cache: S = T steps, the last one emits (module docstring).
    """
    kind, cell, _, W_hy, b_y = _setup(params, step, step_backward, activation, reset_after)
    X = _input("X", X, 3, cell)
    H, seq = sequence.forward(cell, X)
    y = H[:, -1] @ W_hy + b_y
    T = X.shape[1]
    segments = [_segment("cell", 0, "", H, seq)]
    return y, _cache("many_to_one", kind, cell, _options(None, None), segments, ["x"] * T, [T - 1], y, params)


def many_to_many_forward(X: np.ndarray, params: Mapping[str, np.ndarray], step: Step = None,
                         *, step_backward: Callable | None = None, activation: str = "tanh",
                         reset_after: bool = True) -> tuple[np.ndarray, dict]:
    """Synced many-to-many (tagging): one output per input, ``y_t = h_t W_hy + b_y``.

    Inputs:
    - X: (B, T, D).
    - params: cell params + ``W_hy (H, K)``, ``b_y (K,)``.
    - step, step_backward, activation, reset_after: the cell (module docstring).

    Returns:
    - Y: (B, T, K).
    - cache: S = T steps, all emit (module docstring).
    """
    kind, cell, _, W_hy, b_y = _setup(params, step, step_backward, activation, reset_after)
    X = _input("X", X, 3, cell)
    H, seq = sequence.forward(cell, X)
    Y = H @ W_hy + b_y  # (B, T, H) @ (H, K) -> (B, T, K)
    T = X.shape[1]
    segments = [_segment("cell", 0, "", H, seq)]
    return Y, _cache("many_to_many", kind, cell, _options(None, None), segments, ["x"] * T, list(range(T)), Y, params)


def encoder_decoder_forward(X: np.ndarray, params: Mapping[str, np.ndarray], T_out: int, step: Step = None,
                            *, feedback: str = "argmax", targets=None, start=None,
                            step_backward: Callable | None = None, activation: str = "tanh",
                            reset_after: bool = True) -> tuple[np.ndarray, dict]:
    """Encoder reads ``T_in`` steps; its final state starts a decoder that emits ``T_out`` outputs.

    Encoder: ``h^e_t = cell(x_t, h^e_{t-1})`` from zeros, no outputs. Decoder (params ``dec_*``):
    ``h^d_{-1} = h^e_{T_in}`` (and ``c``); step 0 reads ``start``, step t >= 1 reads
    ``feed_back(y_{t-1})`` or ``targets[:, t-1]`` under teacher forcing; ``y_t = h^d_t W_hy + b_y``.

    Inputs:
    - X: (B, T_in, D) input sequences (e.g. notes).
    - params: encoder cell params, decoder cell params with the prefix ``dec_`` (input size K),
      ``W_hy (H, K)``, ``b_y (K,)``.
    - T_out: number of decoder steps (and outputs), >= 1.
    - feedback: ``"argmax"``, ``"softmax"``, ``"identity"`` or ``"none"`` (module docstring).
    - targets: optional teacher forcing, integer classes (B, T_out) or real vectors (B, T_out, K).
    - start: optional (B, K) first decoder input; zeros by default.
    - step, step_backward, activation, reset_after: the cell, used for encoder and decoder.

    Returns:
    - Y: (B, T_out, K).
    - cache: S = T_in + T_out steps, the decoder's emit (module docstring).
    """
    check_option("feedback", feedback, FEEDBACKS)
    kind, enc, dec, W_hy, b_y = _setup(params, step, step_backward, activation, reset_after, decoder=True)
    X = _input("X", X, 3, enc)
    T_out = _length("T_out", T_out)
    B, T_in, _ = X.shape
    K = W_hy.shape[1]
    x0 = np.zeros((B, K), dtype=X.dtype) if start is None else _input("start", start, 2, dec)
    check_shape("start", x0, (B, K))
    He, seq = sequence.forward(enc, X)
    teacher = None if targets is None else _teacher_inputs(targets, B, T_out, K, X.dtype)
    dec_segments, dec_sources, Y = _decode(dec, x0, T_out, _state(seq, kind), W_hy, b_y, feedback, teacher,
                                           "start", "decoder", T_in, DECODER_PREFIX)
    segments = [_segment("encoder", 0, "", He, seq), *dec_segments]
    return Y, _cache("encoder_decoder", kind, enc, _options(feedback, targets), segments,
                     ["x"] * T_in + dec_sources, list(range(T_in, T_in + T_out)), Y, params)


# ----------------------------------------------------------------------------- backward passes
def _backward(architecture: str, dY, cache: Mapping, record: bool) -> tuple[np.ndarray, dict]:
    """BPTT through the readout and the cell(s), walking the segments from the last step to the first.

    ``dy_t`` = the loss's ``dY`` at the step, plus (differentiable feedback) what step ``t+1``'s input
    sends back through ``feed_back``; ``dW_hy = sum_t h_t^T dy_t``, ``db_y = sum_t dy_t``; each segment's
    states get ``dh_t = dy_t W_hy^T`` and ``sequence.backward`` carries the state gradient across segments.
    """
    if not isinstance(cache, Mapping) or cache.get("architecture") != architecture:
        got = cache.get("architecture") if isinstance(cache, Mapping) else type(cache).__name__
        raise ValueError(f"cache: expected the cache of {architecture}_forward, got one of {got!r}")
    Y, params, segments = cache["Y"], cache["params"], cache["segments"]
    dY = as_float_array("dY", dY, ndim=Y.ndim)
    check_shape("dY", dY, Y.shape)
    check_finite("dY", dY)
    W_hy = params["W_hy"]
    B, K = Y.shape[0], Y.shape[-1]
    Y3 = Y.reshape(B, -1, K)  # (B, K) -> (B, 1, K) for single outputs
    dy = dY.astype(Y.dtype, copy=True).reshape(B, -1, K)  # (B, N, K)
    out_of = np.full(cache["emits_output"].shape[0], -1)
    out_of[cache["output_steps"]] = np.arange(len(cache["output_steps"]))
    feedback = cache["options"]["feedback"]
    grads = {k: np.zeros_like(v) for k, v in params.items()}
    dX_steps: list = [None] * len(out_of)
    dh_rec, dc_rec = [], []
    carry = None
    for seg in reversed(segments):
        s0, s1, seq = seg["start"], seg["stop"], seg["seq"]
        dH = np.zeros_like(seg["H"])  # (B, L, H)
        for t in range(s0, s1):
            if out_of[t] >= 0:
                dH[:, t - s0] = dy[:, out_of[t]] @ W_hy.T
        dXs, dcell, carry = sequence.backward(dH, seq, carry, record=record)
        for k, g in dcell.items():
            grads[seg["prefix"] + k] += g
        for t in range(s0, s1):
            dX_steps[t] = dXs[:, t - s0]
        if cache["input_source"][s0] == "feedback":
            dy_prev = _feed_back_backward(dXs[:, 0], Y3[:, out_of[s0 - 1]], feedback)
            if dy_prev is not None:
                dy[:, out_of[s0 - 1]] += dy_prev
        if record:
            dh_rec.append(seq["grads"]["dh"])
            dc_rec.append(seq["grads"].get("dc"))
    H_out = cache["H"][:, cache["output_steps"]]  # (B, N, H)
    grads["W_hy"] += H_out.reshape(-1, H_out.shape[2]).T @ dy.reshape(-1, K)  # (B*N, H)^T (B*N, K)
    grads["b_y"] += dy.sum(axis=(0, 1))
    if record:
        lstm = cache["kind"] == "lstm"
        cache["grads"] = {"dh": np.concatenate(dh_rec[::-1], axis=1),  # per segment (B, L, H) -> (B, S, H)
                          "dc": np.concatenate(dc_rec[::-1], axis=1) if lstm else None, "dy": dy}
    if architecture in ("one_to_one", "one_to_many"):
        return dX_steps[0], grads
    T_in = int(np.sum(cache["reads_input"]))
    return np.stack(dX_steps[:T_in], axis=1), grads  # T_in x (B, D) -> (B, T_in, D)


def one_to_one_backward(dy: np.ndarray, cache: Mapping, *, record: bool = False) -> tuple[np.ndarray, dict]:
    """Backward of ``one_to_one_forward``.

    Inputs: dy (B, K), dL/dy; cache from the forward; record (store per-step gradients, module docstring).
    Returns: ``dx (B, D)``, grads with the keys and shapes of ``params``.
    """
    return _backward("one_to_one", dy, cache, record)


def one_to_many_backward(dY: np.ndarray, cache: Mapping, *, record: bool = False) -> tuple[np.ndarray, dict]:
    """Backward of ``one_to_many_forward``, through differentiable feedback (softmax, identity) too.

    Inputs: dY (B, T, K); cache from the forward; record (module docstring).
    Returns: ``dx (B, D)``, grads with the keys and shapes of ``params``.
    """
    return _backward("one_to_many", dY, cache, record)


def many_to_one_backward(dy: np.ndarray, cache: Mapping, *, record: bool = False) -> tuple[np.ndarray, dict]:
    """Backward of ``many_to_one_forward``: only ``h_T`` receives ``dy W_hy^T``; BPTT carries it back.

    Inputs: dy (B, K); cache from the forward; record (module docstring).
    Returns: ``dX (B, T, D)``, grads with the keys and shapes of ``params``.
    """
    return _backward("many_to_one", dy, cache, record)


def many_to_many_backward(dY: np.ndarray, cache: Mapping, *, record: bool = False) -> tuple[np.ndarray, dict]:
    """Backward of ``many_to_many_forward``: ``dh_t = dy_t W_hy^T`` at every step, plus BPTT.

    Inputs: dY (B, T, K); cache from the forward; record (module docstring).
    Returns: ``dX (B, T, D)``, grads with the keys and shapes of ``params``.
    """
    return _backward("many_to_many", dY, cache, record)


def encoder_decoder_backward(dY: np.ndarray, cache: Mapping, *, record: bool = False) -> tuple[np.ndarray, dict]:
    """Backward of ``encoder_decoder_forward``: through the decoder, then its initial-state gradient
    into the encoder's final state and back through the encoder.

    Inputs: dY (B, T_out, K); cache from the forward; record (module docstring).
    Returns: ``dX (B, T_in, D)``, grads with the keys and shapes of ``params`` (``dec_*`` included).
    """
    return _backward("encoder_decoder", dY, cache, record)


FORWARD = {"one_to_one": one_to_one_forward, "one_to_many": one_to_many_forward,
           "many_to_one": many_to_one_forward, "many_to_many": many_to_many_forward,
           "encoder_decoder": encoder_decoder_forward}
BACKWARD = {"one_to_one": one_to_one_backward, "one_to_many": one_to_many_backward,
            "many_to_one": many_to_one_backward, "many_to_many": many_to_many_backward,
            "encoder_decoder": encoder_decoder_backward}


# ----------------------------------------------------------------------------- training objective
LOSSES = {"cross_entropy": softmax_cross_entropy, "mse": mean_squared_error}


def objective(architecture: str, loss: str = "cross_entropy", *, teacher_forcing: bool = True,
              **options) -> Callable[[dict, tuple], tuple[float, dict]]:
    """A ``loss_and_grads(params, batch) -> (loss, grads)`` for ``simulator.train.Trainer``.

    ``batch`` is ``(inputs, targets)`` or ``(inputs, targets, mask)``: ``inputs`` as the forward
    function takes them; ``targets`` integer classes (``loss="cross_entropy"``) or real vectors
    (``loss="mse"``) with ``Y``'s item shape; ``mask`` the loss's weights (``simulator.losses``).
    For one_to_many and encoder_decoder the number of output steps is ``targets.shape[1]`` and, with
    ``teacher_forcing``, the targets are also fed as the next inputs. ``options`` go to the forward
    function (``step``, ``step_backward``, ``activation``, ``reset_after``, ``feedback``, ``start``).
    """
    check_option("architecture", architecture, ARCHITECTURES)
    check_option("loss", loss, tuple(LOSSES))
    forward, backward, loss_fn = FORWARD[architecture], BACKWARD[architecture], LOSSES[loss]
    generates = architecture in ("one_to_many", "encoder_decoder")

    def loss_and_grads(params: dict, batch: tuple) -> tuple[float, dict]:
        if not isinstance(batch, tuple | list) or len(batch) not in (2, 3):
            raise ValueError("batch: expected (inputs, targets) or (inputs, targets, mask), "
                             f"got {type(batch).__name__}")
        inputs, targets = batch[0], batch[1]
        mask = batch[2] if len(batch) == 3 else None
        if generates:
            if np.ndim(targets) < 2:
                raise ValueError("targets: expected (B, T) classes or (B, T, K) vectors, "
                                 f"got shape {np.shape(targets)}")
            extra = {"targets": targets} if teacher_forcing else {}
            Y, cache = forward(inputs, params, np.shape(targets)[1], **extra, **options)
        else:
            Y, cache = forward(inputs, params, **options)
        value, dY = loss_fn(Y, targets, mask)
        return value, backward(dY, cache)[1]

    return loss_and_grads
