"""RNN, LSTM and GRU cells: one time step forward and backward, written as the lesson's equations.

Notation (DESIGN.md): row-major batches, ``x`` is ``(B, D)``, ``h`` is ``(B, H)``.
The lesson writes column vectors (``W_xh x_t``); our ``W_xh`` is that matrix transposed,
so ``x_t W_xh`` here equals ``W_xh x_t`` there.

Parameters (dicts of arrays, every shape fixed by ``param_shapes``):

* RNN:  ``W_xh (D, H)``, ``W_hh (H, H)``, ``b_h (H,)``.
* LSTM: ``W_x (D, 4H)``, ``W_h (H, 4H)``, ``b (4H,)``; the four column blocks are the gates in
  the order ``GATES["lstm"] = i, f, g, o`` (input, forget, candidate, output), the order of PyTorch
  and Keras: ``W_x = [W_xi | W_xf | W_xg | W_xo]``, likewise ``W_h`` and ``b``.
* GRU:  ``W_x (D, 3H)``, ``W_h (H, 3H)``, ``b_x (3H,)``, ``b_h (3H,)``; blocks ``GATES["gru"] = z, r, n``
  (update, reset, candidate), the order of Keras.

Each step function transcribes its equations line by line with the docstring's symbols and returns
a cache of the named intermediates (the app draws them, the grader diagnoses them, the backward
reads them). The fused, in-place versions that ``sequence`` runs for speed are in ``simulator.fused``,
tested equal to these to 1e-12.

Activation hooks (for the grader's bug hypotheses: "what if sigmoid were tanh here?"). Every forward
step takes keyword-only ``sigmoid=`` and ``tanh=`` callables, used for every gate (``sigmoid``) and
every candidate and state activation (``tanh``); every backward step takes keyword-only
``dsigmoid=`` and ``dtanh=`` callables that map an activation's *output* to its derivative:
``dsigmoid(s) = s * (1 - s)``, ``dtanh(t) = 1 - t**2``. The defaults are this module's ``sigmoid``,
``numpy.tanh``, ``dsigmoid`` and ``dtanh``, so a call without them is the reference. The RNN accepts
``sigmoid=`` and ``dsigmoid=`` too (it has no gate, so they are unused), so that one set of overrides
fits every kind; with ``activation="relu"`` the RNN uses neither ``tanh`` nor ``dtanh``.
Part of the contract, so that a hook can change one site only: each hook is called once per site;
the forward hooks in equation order (LSTM ``sigmoid`` for ``i, f, o`` and ``tanh`` for ``g`` then
``tanh(c)``; GRU ``sigmoid`` for ``z`` then ``r``, ``tanh`` for ``n``; RNN ``tanh`` for ``h``); the
backward hooks on the cache's own arrays (``dsigmoid(cache["i"])``, ``dtanh(cache["g"])``,
``dtanh(cache["tanh_c"])``, ``dsigmoid(cache["z"])``, ...), so a hook can tell the sites apart by identity.
The hooks are for trusted callers: their results are not validated, and students' step functions need
not take them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np

from simulator.validation import as_float_array, check_finite, check_option, check_params, check_shape

KINDS = ("rnn", "lstm", "gru")
ACTIVATIONS = ("tanh", "relu")
GATES = {"rnn": (), "lstm": ("i", "f", "g", "o"), "gru": ("z", "r", "n")}


def sigmoid(a: np.ndarray) -> np.ndarray:
    """Logistic function ``1 / (1 + exp(-a))``, computed as ``(1 + tanh(a/2)) / 2`` (no overflow, keeps dtype)."""
    s = np.tanh(a * 0.5)
    s += 1.0
    s *= 0.5
    return s


def dsigmoid(s: np.ndarray) -> np.ndarray:
    """Derivative of the sigmoid from its output ``s = sigmoid(a)``: ``ds/da = s * (1 - s)``."""
    return s * (1 - s)


def dtanh(t: np.ndarray) -> np.ndarray:
    """Derivative of tanh from its output ``t = tanh(a)``: ``dt/da = 1 - t**2``."""
    return 1 - t**2


def param_shapes(kind: str, input_size: int, hidden_size: int) -> dict[str, tuple[int, ...]]:
    """Names and shapes of a cell's parameters for input size ``D`` and hidden size ``H``."""
    check_option("kind", kind, KINDS)
    D, H = int(input_size), int(hidden_size)
    if kind == "rnn":
        return {"W_xh": (D, H), "W_hh": (H, H), "b_h": (H,)}
    if kind == "lstm":
        return {"W_x": (D, 4 * H), "W_h": (H, 4 * H), "b": (4 * H,)}
    return {"W_x": (D, 3 * H), "W_h": (H, 3 * H), "b_x": (3 * H,), "b_h": (3 * H,)}


# Which parameters act on the input ``x`` (their gradients are ``x^T dxw``) and which on the state.
INPUT_PARAMS = {"rnn": ("W_xh", "b_h"), "lstm": ("W_x", "b"), "gru": ("W_x", "b_x")}


# ----------------------------------------------------------------------------- validation
def _check_step(kind: str, x, states: Mapping[str, object], params) -> tuple:
    x = as_float_array("x", x, ndim=2)
    B, D = x.shape
    if not isinstance(params, Mapping) or not params:
        raise ValueError(f"params: expected a dict of arrays, got {type(params).__name__}")
    rec = params.get("W_hh" if kind == "rnn" else "W_h")
    if not isinstance(rec, np.ndarray) or rec.ndim != 2:
        name = "W_hh" if kind == "rnn" else "W_h"
        raise ValueError(f"params[{name!r}]: expected a 2-D numpy array, got {type(rec).__name__}")
    H = rec.shape[0]
    w_in = params.get("W_xh" if kind == "rnn" else "W_x")
    if isinstance(w_in, np.ndarray) and w_in.ndim == 2 and w_in.shape[0] != D:
        raise ValueError(f"x: expected shape (B, {w_in.shape[0]}) to match the input weights "
                         f"{w_in.shape}, got {x.shape}")
    check_params(params, param_shapes(kind, D, H), x.dtype)
    check_finite("x", x)
    out = [x]
    for name, value in states.items():
        arr = as_float_array(name, value, ndim=2)
        check_shape(name, arr, (B, H))
        if arr.dtype != x.dtype:
            raise ValueError(f"{name}: dtype {arr.dtype} differs from x's {x.dtype}; expected one float dtype")
        check_finite(name, arr)
        out.append(arr)
    return tuple(out)


def _check_grad(name: str, value, like: np.ndarray) -> np.ndarray:
    arr = as_float_array(name, value, ndim=like.ndim)
    check_shape(name, arr, like.shape)
    check_finite(name, arr)
    return arr.astype(like.dtype, copy=False)


# ----------------------------------------------------------------------------- RNN
def rnn_step(x, h_prev, params, activation: str = "tanh", *, sigmoid: Callable = sigmoid,
             tanh: Callable = np.tanh) -> tuple[np.ndarray, dict]:
    """One vanilla RNN step.

    ``a = x W_xh + h_prev W_hh + b_h``;  ``h = tanh(a)``  (or ``h = relu(a) = max(a, 0)``).

    Inputs:
    - x: (B, D) input at this time step.
    - h_prev: (B, H) previous hidden state.
    - params: ``W_xh (D, H)``, ``W_hh (H, H)``, ``b_h (H,)``.
    - activation: ``"tanh"`` (default) or ``"relu"``.
    - sigmoid, tanh: keyword-only activation hooks (module docstring); ``sigmoid`` is unused here.

    Returns:
    - h: (B, H) new hidden state.
    - cache: ``x``, ``h_prev``, ``a`` (pre-activation), ``h``, ``activation``, ``params``.
    """
    check_option("activation", activation, ACTIVATIONS)
    x, h_prev = _check_step("rnn", x, {"h_prev": h_prev}, params)
    W_xh, W_hh, b_h = params["W_xh"], params["W_hh"], params["b_h"]
    a = x @ W_xh + h_prev @ W_hh + b_h
    h = tanh(a) if activation == "tanh" else np.maximum(a, 0)
    return h, {"x": x, "h_prev": h_prev, "a": a, "h": h, "activation": activation, "params": params}


def rnn_step_backward(dh, cache: Mapping, *, dsigmoid: Callable = dsigmoid,
                      dtanh: Callable = dtanh) -> tuple[np.ndarray, np.ndarray, dict]:
    """Backward of ``rnn_step``.

    ``da = dh * (1 - h^2)`` (tanh) or ``da = dh * [a > 0]`` (relu);
    ``dx = da W_xh^T``, ``dh_prev = da W_hh^T``; ``dW_xh = x^T da``, ``dW_hh = h_prev^T da``, ``db_h = sum_B da``.

    Inputs: dh (B, H), dL/dh for this step (upstream plus the next step's); cache from ``rnn_step``;
    keyword-only ``dsigmoid`` (unused), ``dtanh``: derivative hooks (module docstring).
    Returns: ``dx (B, D)``, ``dh_prev (B, H)``, grads ``{"W_xh", "W_hh", "b_h"}`` with the params' shapes.
    """
    dh = _check_grad("dh", dh, cache["h"])
    x, h_prev, a, h, params = cache["x"], cache["h_prev"], cache["a"], cache["h"], cache["params"]
    da = dh * dtanh(h) if cache["activation"] == "tanh" else dh * (a > 0)
    dx = da @ params["W_xh"].T
    dh_prev = da @ params["W_hh"].T
    grads = {"W_xh": x.T @ da, "W_hh": h_prev.T @ da, "b_h": da.sum(axis=0)}
    return dx, dh_prev, grads


# ----------------------------------------------------------------------------- LSTM
def lstm_step(x, h_prev, c_prev, params, *, sigmoid: Callable = sigmoid,
              tanh: Callable = np.tanh) -> tuple[np.ndarray, np.ndarray, dict]:
    """One LSTM step.

    ``a_i = x W_xi + h_prev W_hi + b_i``, likewise ``a_f``, ``a_g``, ``a_o``;
    ``i = sigmoid(a_i)``, ``f = sigmoid(a_f)``, ``g = tanh(a_g)``, ``o = sigmoid(a_o)``;
    ``c = f * c_prev + i * g``; ``h = o * tanh(c)``,
    where ``W_x = [W_xi | W_xf | W_xg | W_xo]`` and the same for ``W_h`` and ``b``.

    Inputs:
    - x: (B, D); h_prev, c_prev: (B, H).
    - params: ``W_x (D, 4H)``, ``W_h (H, 4H)``, ``b (4H,)``, gate blocks in the order i, f, g, o.
    - sigmoid, tanh: keyword-only activation hooks (module docstring).

    Returns:
    - h, c: (B, H) new hidden and cell states.
    - cache: ``x``, ``h_prev``, ``c_prev``, ``a`` (B, 4H) and its blocks ``a_i .. a_o``,
      gates ``i, f, g, o``, ``c``, ``tanh_c``, ``h``, ``params``.
    """
    x, h_prev, c_prev = _check_step("lstm", x, {"h_prev": h_prev, "c_prev": c_prev}, params)
    W_xi, W_xf, W_xg, W_xo = np.split(params["W_x"], 4, axis=1)  # (D, H) each, GATES["lstm"] order
    W_hi, W_hf, W_hg, W_ho = np.split(params["W_h"], 4, axis=1)  # (H, H) each
    b_i, b_f, b_g, b_o = np.split(params["b"], 4)  # (H,) each
    a_i = x @ W_xi + h_prev @ W_hi + b_i
    a_f = x @ W_xf + h_prev @ W_hf + b_f
    a_g = x @ W_xg + h_prev @ W_hg + b_g
    a_o = x @ W_xo + h_prev @ W_ho + b_o
    i = sigmoid(a_i)
    f = sigmoid(a_f)
    g = tanh(a_g)
    o = sigmoid(a_o)
    c = f * c_prev + i * g
    tanh_c = tanh(c)
    h = o * tanh_c
    a = np.concatenate([a_i, a_f, a_g, a_o], axis=1)  # 4 x (B, H) -> (B, 4H)
    cache = {"x": x, "h_prev": h_prev, "c_prev": c_prev, "a": a, "a_i": a_i, "a_f": a_f, "a_g": a_g, "a_o": a_o,
             "i": i, "f": f, "g": g, "o": o, "c": c, "tanh_c": tanh_c, "h": h, "params": params}
    return h, c, cache


def lstm_step_backward(dh, dc, cache: Mapping, *, dsigmoid: Callable = dsigmoid,
                       dtanh: Callable = dtanh) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict]:
    """Backward of ``lstm_step``.

    ``do = dh * tanh_c``; ``dc_total = dc + dh * o * (1 - tanh_c^2)`` (the direct ``dc`` plus the path through ``h``);
    ``di = dc_total * g``, ``df = dc_total * c_prev``, ``dg = dc_total * i``, ``dc_prev = dc_total * f``;
    ``da_i = di * i (1 - i)``, ``da_f = df * f (1 - f)``, ``da_g = dg * (1 - g^2)``, ``da_o = do * o (1 - o)``;
    ``da = [da_i | da_f | da_g | da_o]``; ``dx = da W_x^T``, ``dh_prev = da W_h^T``;
    ``dW_x = x^T da``, ``dW_h = h_prev^T da``, ``db = sum_B da``.

    Inputs: dh, dc (B, H): dL/dh and dL/dc reaching this step; cache from ``lstm_step``;
    keyword-only ``dsigmoid``, ``dtanh``: derivative hooks (module docstring).
    Returns: ``dx (B, D)``, ``dh_prev (B, H)``, ``dc_prev (B, H)``, grads ``{"W_x", "W_h", "b"}``.
    """
    dh = _check_grad("dh", dh, cache["h"])
    dc = _check_grad("dc", dc, cache["c"])
    x, h_prev, c_prev, params = cache["x"], cache["h_prev"], cache["c_prev"], cache["params"]
    i, f, g, o, tanh_c = cache["i"], cache["f"], cache["g"], cache["o"], cache["tanh_c"]
    do = dh * tanh_c
    dc_total = dc + dh * o * dtanh(tanh_c)
    di = dc_total * g
    df = dc_total * c_prev
    dg = dc_total * i
    dc_prev = dc_total * f
    da_i = di * dsigmoid(i)
    da_f = df * dsigmoid(f)
    da_g = dg * dtanh(g)
    da_o = do * dsigmoid(o)
    da = np.concatenate([da_i, da_f, da_g, da_o], axis=1)  # 4 x (B, H) -> (B, 4H)
    dx = da @ params["W_x"].T
    dh_prev = da @ params["W_h"].T
    grads = {"W_x": x.T @ da, "W_h": h_prev.T @ da, "b": da.sum(axis=0)}
    return dx, dh_prev, dc_prev, grads


# ----------------------------------------------------------------------------- GRU
def gru_step(x, h_prev, params, reset_after: bool = True, *, sigmoid: Callable = sigmoid,
             tanh: Callable = np.tanh) -> tuple[np.ndarray, dict]:
    """One GRU step.

    Input and recurrent projections per block: ``xw_z = x W_xz + b_xz``, ``hw_z = h_prev W_hz + b_hz``,
    likewise ``xw_r``, ``hw_r`` and ``xw_n``;
    ``z = sigmoid(xw_z + hw_z)``, ``r = sigmoid(xw_r + hw_r)``;
    reset after (PyTorch, Keras default): ``hw_n = h_prev W_hn + b_hn``, ``a_n = xw_n + r * hw_n``;
    reset before (Cho et al. 2014):       ``rh = r * h_prev``, ``hw_n = rh W_hn + b_hn``, ``a_n = xw_n + hw_n``;
    ``n = tanh(a_n)``; ``h = z * h_prev + (1 - z) * n``,
    where ``W_x = [W_xz | W_xr | W_xn]`` and the same for ``W_h``, ``b_x`` and ``b_h``.

    Inputs:
    - x: (B, D); h_prev: (B, H).
    - params: ``W_x (D, 3H)``, ``W_h (H, 3H)``, ``b_x (3H,)``, ``b_h (3H,)``; blocks z, r, n.
    - reset_after: True applies the reset gate after the recurrent product (PyTorch and Keras
      default); False before it (Cho et al. 2014, Keras ``reset_after=False``).
    - sigmoid, tanh: keyword-only activation hooks (module docstring).

    Returns:
    - h: (B, H).
    - cache: ``x``, ``h_prev``, ``xw = [xw_z | xw_r | xw_n]``, ``hw = [hw_z | hw_r | hw_n]`` (B, 3H),
      gates ``z, r``, candidate ``n`` and its pre-activation ``a_n``, ``h``, ``rh`` (reset before only,
      else None), ``reset_after``, ``params``.
    """
    check_option("reset_after", reset_after, (True, False))
    reset_after = bool(reset_after)
    x, h_prev = _check_step("gru", x, {"h_prev": h_prev}, params)
    W_xz, W_xr, W_xn = np.split(params["W_x"], 3, axis=1)  # (D, H) each, GATES["gru"] order
    W_hz, W_hr, W_hn = np.split(params["W_h"], 3, axis=1)  # (H, H) each
    b_xz, b_xr, b_xn = np.split(params["b_x"], 3)  # (H,) each
    b_hz, b_hr, b_hn = np.split(params["b_h"], 3)
    xw_z = x @ W_xz + b_xz
    xw_r = x @ W_xr + b_xr
    xw_n = x @ W_xn + b_xn
    hw_z = h_prev @ W_hz + b_hz
    hw_r = h_prev @ W_hr + b_hr
    z = sigmoid(xw_z + hw_z)
    r = sigmoid(xw_r + hw_r)
    if reset_after:
        rh = None
        hw_n = h_prev @ W_hn + b_hn
        a_n = xw_n + r * hw_n
    else:
        rh = r * h_prev
        hw_n = rh @ W_hn + b_hn
        a_n = xw_n + hw_n
    n = tanh(a_n)
    h = z * h_prev + (1 - z) * n
    xw = np.concatenate([xw_z, xw_r, xw_n], axis=1)  # 3 x (B, H) -> (B, 3H)
    hw = np.concatenate([hw_z, hw_r, hw_n], axis=1)  # 3 x (B, H) -> (B, 3H)
    cache = {"x": x, "h_prev": h_prev, "xw": xw, "hw": hw, "z": z, "r": r, "a_n": a_n, "n": n, "h": h,
             "rh": rh, "reset_after": reset_after, "params": params}
    return h, cache


def gru_step_backward(dh, cache: Mapping, *, dsigmoid: Callable = dsigmoid,
                      dtanh: Callable = dtanh) -> tuple[np.ndarray, np.ndarray, dict]:
    """Backward of ``gru_step``.

    ``dz = dh * (h_prev - n)``, ``dn = dh * (1 - z)``, ``da_n = dn * (1 - n^2)``;
    reset after: ``dr = da_n * hw_n``, ``dhw_n = da_n * r``, and ``h_prev`` gets ``dhw_n W_hn^T``;
    reset before: ``dhw_n = da_n``, ``drh = dhw_n W_hn^T``, ``dr = drh * h_prev``, and ``h_prev`` gets ``drh * r``;
    ``da_z = dz * z (1 - z)``, ``da_r = dr * r (1 - r)``;
    ``dh_prev = dh * z + da_z W_hz^T + da_r W_hr^T + (the n block's share above)``;
    ``dxw = [da_z | da_r | da_n]``, ``dhw = [da_z | da_r | dhw_n]``; ``dx = dxw W_x^T``;
    ``dW_x = x^T dxw``, ``db_x = sum_B dxw``, ``db_h = sum_B dhw``;
    ``dW_h = [h_prev^T da_z | h_prev^T da_r | h_n^T dhw_n]`` with ``h_n`` what ``W_hn`` multiplies
    (``h_prev`` reset after, ``rh`` reset before).

    Inputs: dh (B, H); cache from ``gru_step``; keyword-only ``dsigmoid``, ``dtanh``: derivative hooks.
    Returns: ``dx (B, D)``, ``dh_prev (B, H)``, grads ``{"W_x", "W_h", "b_x", "b_h"}``.
    """
    dh = _check_grad("dh", dh, cache["h"])
    x, h_prev, params, reset_after = cache["x"], cache["h_prev"], cache["params"], cache["reset_after"]
    z, r, n, rh = cache["z"], cache["r"], cache["n"], cache["rh"]
    W_hz, W_hr, W_hn = np.split(params["W_h"], 3, axis=1)  # (H, H) each
    _, _, hw_n = np.split(cache["hw"], 3, axis=1)  # (B, H)
    dz = dh * (h_prev - n)
    dn = dh * (1 - z)
    da_n = dn * dtanh(n)
    if reset_after:
        dr = da_n * hw_n
        dhw_n = da_n * r
        dh_prev_n = dhw_n @ W_hn.T
        h_n = h_prev
    else:
        dhw_n = da_n
        drh = dhw_n @ W_hn.T
        dr = drh * h_prev
        dh_prev_n = drh * r
        h_n = rh
    da_z = dz * dsigmoid(z)
    da_r = dr * dsigmoid(r)
    dh_prev = dh * z + da_z @ W_hz.T + da_r @ W_hr.T + dh_prev_n
    dxw = np.concatenate([da_z, da_r, da_n], axis=1)  # 3 x (B, H) -> (B, 3H)
    dhw = np.concatenate([da_z, da_r, dhw_n], axis=1)  # 3 x (B, H) -> (B, 3H)
    dx = dxw @ params["W_x"].T
    grads = {"W_x": x.T @ dxw, "W_h": np.concatenate([h_prev.T @ da_z, h_prev.T @ da_r, h_n.T @ dhw_n], axis=1),
             "b_x": dxw.sum(axis=0), "b_h": dhw.sum(axis=0)}
    return dx, dh_prev, grads


# ----------------------------------------------------------------------------- initialisation
RECURRENT_INITS = ("orthogonal", "identity", "gaussian")


def _orthogonal(rng: np.random.Generator, n: int) -> np.ndarray:
    q, r = np.linalg.qr(rng.standard_normal((n, n)))
    return q * np.sign(np.diag(r))  # sign fix makes the draw uniform over orthogonal matrices


def init_params(kind: str, input_size: int, hidden_size: int, *, seed: int = 0, dtype=np.float64,
                recurrent_init: str = "orthogonal", recurrent_scale: float = 1.0,
                forget_bias: float = 1.0) -> dict[str, np.ndarray]:
    """Fresh parameters, as Keras initialises them.

    Input weights: Glorot uniform, ``U(-s, s)`` with ``s = sqrt(6 / (D + H))`` per gate block.
    Recurrent weights per gate block: orthogonal (Keras default), identity (Le et al. 2015, for
    relu RNNs) or Gaussian ``N(0, 1/H)``; each multiplied by ``recurrent_scale``.
    Biases zero, except the LSTM forget gate, set to ``forget_bias`` (Keras ``unit_forget_bias``).
    """
    check_option("kind", kind, KINDS)
    check_option("recurrent_init", recurrent_init, RECURRENT_INITS)
    D, H = int(input_size), int(hidden_size)
    if D < 1 or H < 1:
        raise ValueError(f"input_size and hidden_size: expected positive integers, got D={D}, H={H}")
    if not np.isfinite(recurrent_scale) or not np.isfinite(forget_bias):
        raise ValueError(f"recurrent_scale, forget_bias: expected finite numbers, got {recurrent_scale}, {forget_bias}")
    rng = np.random.default_rng(seed)
    blocks = {"rnn": 1, "lstm": 4, "gru": 3}[kind]
    limit = np.sqrt(6.0 / (D + H))
    W_x = rng.uniform(-limit, limit, size=(D, blocks * H))
    recurrent = []
    for _ in range(blocks):
        if recurrent_init == "orthogonal":
            recurrent.append(_orthogonal(rng, H))
        elif recurrent_init == "identity":
            recurrent.append(np.eye(H))
        else:
            recurrent.append(rng.standard_normal((H, H)) / np.sqrt(H))
    W_h = np.concatenate(recurrent, axis=1) * recurrent_scale
    if kind == "rnn":
        params = {"W_xh": W_x, "W_hh": W_h, "b_h": np.zeros(H)}
    elif kind == "lstm":
        b = np.zeros(4 * H)
        b[H : 2 * H] = forget_bias
        params = {"W_x": W_x, "W_h": W_h, "b": b}
    else:
        params = {"W_x": W_x, "W_h": W_h, "b_x": np.zeros(3 * H), "b_h": np.zeros(3 * H)}
    return {k: np.ascontiguousarray(v, dtype=dtype) for k, v in params.items()}


# ----------------------------------------------------------------------------- the Cell object
STEP_FUNCTIONS = {"rnn": (rnn_step, rnn_step_backward), "lstm": (lstm_step, lstm_step_backward),
                  "gru": (gru_step, gru_step_backward)}


@dataclass
class Cell:
    """A cell kind, its options and its parameters: what ``sequence.forward`` unrolls.

    ``step`` / ``step_backward`` default to the reference functions above; pass a student's
    ``lstm_step`` / ``lstm_step_backward`` (same signatures) to unroll theirs instead.
    ``params`` is read at every forward call, so editing an entry in place changes the next result.
    """

    kind: str
    params: dict
    activation: str = "tanh"
    reset_after: bool = True
    step: Callable | None = None
    step_backward: Callable | None = None
    name: str = field(default="")

    def __post_init__(self) -> None:
        check_option("kind", self.kind, KINDS)
        check_option("activation", self.activation, ACTIVATIONS)
        check_option("reset_after", self.reset_after, (True, False))
        if not isinstance(self.params, dict):
            raise ValueError(f"params: expected a dict of arrays, got {type(self.params).__name__}")

    @classmethod
    def create(cls, kind: str, input_size: int, hidden_size: int, *, seed: int = 0, dtype=np.float64,
               activation: str = "tanh", reset_after: bool = True, **init) -> Cell:
        """A reference cell with freshly initialised parameters (see ``init_params``)."""
        params = init_params(kind, input_size, hidden_size, seed=seed, dtype=dtype, **init)
        return cls(kind, params, activation=activation, reset_after=reset_after)

    @property
    def is_reference(self) -> bool:
        """True when no step functions were given (``sequence`` then runs ``fused``'s cores, not the steps above)."""
        return self.step is None and self.step_backward is None

    @property
    def hidden_size(self) -> int:
        return self.params["W_hh" if self.kind == "rnn" else "W_h"].shape[0]

    @property
    def input_size(self) -> int:
        return self.params["W_xh" if self.kind == "rnn" else "W_x"].shape[0]

    @property
    def dtype(self) -> np.dtype:
        return self.params["W_hh" if self.kind == "rnn" else "W_h"].dtype

    def check_params(self) -> None:
        """Raise ``ValueError`` if the parameters' keys, shapes, dtypes or values are wrong."""
        keys = sorted(param_shapes(self.kind, 1, 1))
        arrays = []
        for name in ("W_xh", "W_hh") if self.kind == "rnn" else ("W_x", "W_h"):
            if name not in self.params:
                raise ValueError(f"params: missing {[name]}; expected keys {keys} for a {self.kind} cell")
            arr = self.params[name]
            if not isinstance(arr, np.ndarray) or arr.ndim != 2:
                got = f"shape {arr.shape}" if isinstance(arr, np.ndarray) else type(arr).__name__
                raise ValueError(f"params[{name!r}]: expected a 2-D numpy array, got {got}")
            if arr.dtype.type not in (np.float32, np.float64):
                raise ValueError(f"params[{name!r}]: dtype {arr.dtype} is not supported; expected float32 or float64")
            arrays.append(arr)
        inp, rec = arrays
        check_params(self.params, param_shapes(self.kind, inp.shape[0], rec.shape[0]), rec.dtype,
                     dtype_of="the recurrent weights")

    def options(self) -> dict:
        """Keyword options the step functions take for this kind."""
        if self.kind == "rnn":
            return {"activation": self.activation}
        if self.kind == "gru":
            return {"reset_after": self.reset_after}
        return {}

    def step_functions(self) -> tuple[Callable, Callable]:
        """The (forward, backward) step functions this cell unrolls."""
        ref_step, ref_back = STEP_FUNCTIONS[self.kind]
        return self.step or ref_step, self.step_backward or ref_back
