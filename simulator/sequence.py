"""Unroll any cell over a sequence and back-propagate through time (BPTT), recording every step.

Forward: ``h_t = cell(x_t, h_{t-1})`` for ``t = 0 .. T-1`` (and ``c_t`` for the LSTM).
Backward: the gradient reaching ``h_t`` is the loss's own ``dH[:, t]`` plus what flows back from
step ``t+1``, ``dL/dh_t = dH_t + dh_{t+1} -> dh_t``; each step adds its contribution to every
parameter gradient, ``dW = sum_t dW^{(t)}``.

There is one forward loop and one BPTT loop; each runs over a *step* chosen by the cell. A cell with
step functions (a student's, or the readable ``cells.*_step`` passed explicitly) is stepped through
them. A reference cell is stepped through the fused cores of ``simulator.fused``, set up to compute
the input projection ``X W_x + b`` for all time steps in one product before the loop and the
input-weight gradients ``X^T dXW`` (and, unless per-step records are asked for, ``dW_h``) in one
product after it.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from simulator import cells, fused
from simulator.cells import Cell
from simulator.validation import as_float_array, check_finite, check_shape


def _check_inputs(cell: Cell, X, state0):
    if not isinstance(cell, Cell):
        raise ValueError(f"cell: expected a simulator.cells.Cell, got {type(cell).__name__}")
    cell.check_params()
    X = as_float_array("X", X, ndim=3)
    B, T, D = X.shape
    if B < 1 or T < 1:
        raise ValueError(f"X: expected at least one sequence of at least one step, got shape {X.shape}")
    check_shape("X", X, (B, T, cell.input_size))
    if X.dtype != cell.dtype:
        raise ValueError(f"X: dtype {X.dtype} differs from the parameters' {cell.dtype}; expected one float dtype")
    check_finite("X", X)
    H = cell.hidden_size
    names = ("h0", "c0") if cell.kind == "lstm" else ("h0",)
    if state0 is None:
        states = tuple(np.zeros((B, H), dtype=X.dtype) for _ in names)
    else:
        parts = state0 if cell.kind == "lstm" else (state0,)
        if cell.kind == "lstm" and (not isinstance(state0, tuple | list) or len(state0) != 2):
            raise ValueError(f"state0: expected a pair (h0, c0) for an LSTM, each (B, H), got {_describe(state0)}")
        states = []
        for name, part in zip(names, parts, strict=True):
            arr = as_float_array(f"state0 {name}", part, ndim=2)
            check_shape(f"state0 {name}", arr, (B, H))
            check_finite(f"state0 {name}", arr)
            states.append(arr.astype(X.dtype, copy=False))
        states = tuple(states)
    return X, states


def forward(cell: Cell, X, state0=None) -> tuple[np.ndarray, dict]:
    """Run ``cell`` over every time step of ``X``.

    Inputs:
    - cell: a ``Cell``; its ``params`` are read now.
    - X: (B, T, D) batch-first sequences.
    - state0: initial state, (B, H) for RNN/GRU, the pair ``(h0, c0)`` for the LSTM; zeros if None.

    Returns:
    - H: (B, T, H) hidden states ``h_1 .. h_T``.
    - cache: ``cell``, ``X``, ``state0`` (tuple), ``steps`` (one named cache per step, as the cell
      returns it), ``params`` (the arrays used), ``final`` (tuple: ``h_T`` and for LSTM ``c_T``).
    """
    X, states = _check_inputs(cell, X, state0)
    B, T, _ = X.shape
    params = dict(cell.params)
    step = _fused_step(cell, X, params) if cell.is_reference else _given_step(cell, X, params)
    steps = []
    H_out = np.empty((B, T, cell.hidden_size), dtype=X.dtype)
    state = states
    for t in range(T):
        state, step_cache = step(t, state)
        steps.append(step_cache)
        H_out[:, t] = state[0]
    cache = {"cell": cell, "X": X, "state0": states, "steps": steps, "params": params, "final": state}
    return H_out, cache


def _fused_step(cell: Cell, X: np.ndarray, params: dict) -> Callable:
    """``step(t, state) -> (state, cache)`` through ``fused``'s core, on the input projection of all steps."""
    B, T, D = X.shape
    in_w, in_b = cells.INPUT_PARAMS[cell.kind]
    XW = X.reshape(B * T, D) @ params[in_w]  # (B, T, D) -> (B*T, D) -> (B*T, nH)
    XW += params[in_b]
    XW = XW.reshape(B, T, -1)  # (B*T, nH) -> (B, T, nH)
    core = fused.CORES[cell.kind]
    opts = cell.options()

    def step(t: int, state: tuple) -> tuple[tuple, dict]:
        out = core(XW[:, t], *state, params, **opts)
        out[-1]["x"] = X[:, t]
        return out[:-1], out[-1]

    return step


def _given_step(cell: Cell, X: np.ndarray, params: dict) -> Callable:
    """``step(t, state) -> (state, cache)`` through the cell's own step function (e.g. a student's)."""
    step_fn, _ = cell.step_functions()
    opts = _non_default_options(cell)
    B = X.shape[0]

    def step(t: int, state: tuple) -> tuple[tuple, dict]:
        out = step_fn(X[:, t], *state, params, **opts)
        return _student_state(out, cell, t, B), out[-1]

    return step


def _non_default_options(cell: Cell) -> dict:
    """Options to pass to a student's step function: only those that differ from the defaults."""
    defaults = {"activation": "tanh", "reset_after": True}
    return {k: v for k, v in cell.options().items() if defaults[k] != v}


def _student_state(out, cell: Cell, t: int, B: int) -> tuple:
    n = 3 if cell.kind == "lstm" else 2
    if not isinstance(out, tuple) or len(out) != n:
        raise ValueError(f"step function at t={t}: expected a tuple of {n} values "
                         f"({'h, c, cache' if n == 3 else 'h, cache'}), got {type(out).__name__}")
    state = tuple(np.asarray(s) for s in out[:-1])
    for name, s in zip(("h", "c"), state, strict=False):
        check_shape(f"step function at t={t}: {name}", s, (B, cell.hidden_size))
    return state


def backward(dH, cache: dict, dstate_T=None, *, record: bool = False) -> tuple[np.ndarray, dict, object]:
    """Back-propagate through time.

    Inputs:
    - dH: (B, T, H) gradient of the loss with respect to every hidden state output.
    - cache: from ``forward``.
    - dstate_T: optional gradient reaching the final state (``dh_T``, or ``(dh_T, dc_T)`` for LSTM).
    - record: if True, store in ``cache["grads"]`` what the simulator draws: ``dh`` (B, T, H), the
      total ``dL/dh_t`` reaching each step; for LSTM ``dc`` (B, T, H); and ``contrib``, a list of
      per-step parameter-gradient dicts whose sum is ``dparams``.

    Returns:
    - dX: (B, T, D); dparams: the keys and shapes of ``cell.params``;
    - dstate0: ``dh0`` (B, H), or ``(dh0, dc0)`` for LSTM.
    """
    cell: Cell = cache["cell"]
    X = cache["X"]
    B, T, _ = X.shape
    Hs = cell.hidden_size
    dH = as_float_array("dH", dH, ndim=3)
    check_shape("dH", dH, (B, T, Hs))
    check_finite("dH", dH)
    dH = dH.astype(X.dtype, copy=False)
    lstm = cell.kind == "lstm"
    carry = _initial_carry(dstate_T, lstm, B, Hs, X.dtype)
    step, finish = _fused_backward(cache, record) if cell.is_reference else _given_backward(cache)
    rec_dh = np.empty_like(dH) if record else None
    rec_dc = np.empty_like(dH) if record and lstm else None
    contrib = [None] * T if record else None
    for t in reversed(range(T)):
        dh = dH[:, t] + carry[0]
        if record:
            rec_dh[:, t] = dh
            if lstm:
                rec_dc[:, t] = carry[1]
        carry, grads = step(t, dh, *carry[1:])
        if record:
            contrib[t] = grads
    dX, dparams = finish()
    if record:
        cache["grads"] = {"dh": rec_dh, "contrib": contrib, **({"dc": rec_dc} if lstm else {})}
    dstate0 = tuple(carry) if lstm else carry[0]
    return dX, dparams, dstate0


def _given_backward(cache: dict) -> tuple[Callable, Callable]:
    """BPTT through the cell's own step-backward function: ``step(t, dh[, dc]) -> (carry, grads)``, ``finish()``."""
    _, step_backward = cache["cell"].step_functions()
    steps = cache["steps"]
    dX = np.empty_like(cache["X"])
    dparams = {k: np.zeros_like(v) for k, v in cache["params"].items()}

    def step(t: int, dh: np.ndarray, *dstate: np.ndarray) -> tuple[tuple, dict]:
        out = step_backward(dh, *dstate, steps[t])
        dX[:, t], carry, grads = out[0], tuple(out[1:-1]), out[-1]
        for k in dparams:
            dparams[k] += grads[k]
        return carry, grads

    def finish() -> tuple[np.ndarray, dict]:
        return dX, dparams

    return step, finish


def _fused_backward(cache: dict, record: bool) -> tuple[Callable, Callable]:
    """BPTT through ``fused``'s backward core: ``step(t, dh[, dc]) -> (carry, grads or None)``, ``finish()``.

    Each step writes its ``dxw`` into one ``(B, T, nH)`` buffer; ``finish`` turns it into ``dX = dXW W_x^T``,
    ``dW_x = X^T dXW`` and ``db = sum dXW`` in one product each, and (without ``record``)
    ``dW_h = sum_t h_{t-1}^T dhw_t`` likewise. With ``record`` each step also returns its own parameter
    gradients, the recurrent ones summed as they come.
    """
    cell, X, params, steps = cache["cell"], cache["X"], cache["params"], cache["steps"]
    B, T, D = X.shape
    in_w, in_b = cells.INPUT_PARAMS[cell.kind]
    W_x = params[in_w]
    core_backward = fused.CORE_BACKWARDS[cell.kind]
    rec = "W_hh" if cell.kind == "rnn" else "W_h"
    W_hT = np.ascontiguousarray(params[rec].T)  # (nH, H), once instead of a strided operand per step
    DXW = np.empty((B, T, W_x.shape[1]), dtype=X.dtype)  # (B, T, nH)
    # dhw differs from dxw only for the reset-after GRU; elsewhere W_h's gradient uses dxw itself
    gru_after = cell.kind == "gru" and cell.reset_after
    DHW = np.empty_like(DXW) if gru_after else DXW
    dparams = {k: np.zeros_like(v) for k, v in params.items()}
    extra = {}  # the reset-after GRU's dhw slice, set per step

    def step(t: int, dh: np.ndarray, *dstate: np.ndarray) -> tuple[tuple, dict | None]:
        if gru_after:
            extra["dhw"] = DHW[:, t]
        out = core_backward(dh, *dstate, steps[t], params, W_hT=W_hT, dxw=DXW[:, t], param_grads=record, **extra)
        if not record:
            return out[1:-1], None
        grads = out[-1]
        for k, g in grads.items():
            dparams[k] += g
        _, grads[in_w], grads[in_b] = fused.input_grads(X[:, t], DXW[:, t], W_x)
        return out[1:-1], grads

    def finish() -> tuple[np.ndarray, dict]:
        DXW2 = DXW.reshape(B * T, -1)  # (B, T, nH) -> (B*T, nH)
        dX = (DXW2 @ W_x.T).reshape(B, T, D)  # (B*T, D) -> (B, T, D)
        dparams[in_w] += X.reshape(B * T, D).T @ DXW2
        dparams[in_b] += DXW2.sum(axis=0)
        if not record:
            _recurrent_grads(cell, steps, DHW, dparams)
        return dX, dparams

    return step, finish


def _recurrent_grads(cell: Cell, steps: list, DHW: np.ndarray, dparams: dict) -> None:
    """Add ``dW_h = sum_t h_{t-1}^T dhw_t`` (and the GRU's ``db_h``) to ``dparams`` as one product over all steps."""
    B, T, nH = DHW.shape
    H = cell.hidden_size
    # T x (B, H) side by side is (B, T*H), the memory of (B, T, H): cheaper than np.stack's per-array views
    Hprev = np.concatenate([s["h_prev"] for s in steps], axis=1).reshape(B * T, H)  # (B, T*H) -> (B*T, H)
    DHW2 = DHW.reshape(B * T, nH)  # (B, T, nH) -> (B*T, nH)
    if cell.kind == "rnn":
        dparams["W_hh"] += Hprev.T @ DHW2
        return
    if cell.kind == "gru":
        dparams["b_h"] += DHW2.sum(axis=0)
        if not cell.reset_after:  # the n block multiplies r * h_prev, not h_prev
            RH = np.concatenate([s["rh"] for s in steps], axis=1).reshape(B * T, H)  # (B, T*H) -> (B*T, H)
            dparams["W_h"][:, : 2 * H] += Hprev.T @ DHW2[:, : 2 * H]
            dparams["W_h"][:, 2 * H :] += RH.T @ DHW2[:, 2 * H :]
            return
    dparams["W_h"] += Hprev.T @ DHW2


def _describe(value) -> str:
    """Short description of a received value for error messages: type and length or shape."""
    if isinstance(value, np.ndarray):
        return f"an array of shape {value.shape}"
    if isinstance(value, tuple | list):
        return f"a {type(value).__name__} of {len(value)}"
    return type(value).__name__


def _initial_carry(dstate_T, lstm: bool, B: int, H: int, dtype) -> tuple:
    names = ("dh_T", "dc_T") if lstm else ("dh_T",)
    if dstate_T is None:
        return tuple(np.zeros((B, H), dtype=dtype) for _ in names)
    parts = dstate_T if lstm else (dstate_T,)
    if lstm and (not isinstance(dstate_T, tuple | list) or len(dstate_T) != 2):
        raise ValueError(f"dstate_T: expected a pair (dh_T, dc_T) for an LSTM, each (B, H), got {_describe(dstate_T)}")
    out = []
    for name, part in zip(names, parts, strict=True):
        arr = as_float_array(name, part, ndim=2)
        check_shape(name, arr, (B, H))
        check_finite(name, arr)
        out.append(arr.astype(dtype, copy=True))
    return tuple(out)


def trace(cache: dict, names: tuple[str, ...] | None = None) -> dict[str, np.ndarray]:
    """Stack the named per-step intermediates of a forward cache over time: name -> (B, T, ...).

    Only array entries present at every step are stacked (e.g. ``h``, ``c``, ``i``, ``f``, ``g``, ``o``).
    """
    steps = cache["steps"]
    first = steps[0]
    keys = names or tuple(k for k, v in first.items()
                          if isinstance(v, np.ndarray) and k != "params" and v.ndim == 2)
    return {k: np.stack([s[k] for s in steps], axis=1) for k in keys}
