"""RNN, LSTM and GRU cells: one time step forward and backward, with named caches.

Notation (DESIGN.md): row-major batches, ``x`` is ``(B, D)``, ``h`` is ``(B, H)``.
The lesson writes column vectors (``W_xh x_t``); our ``W_xh`` is that matrix transposed,
so ``x_t W_xh`` here equals ``W_xh x_t`` there.

Parameters (dicts of arrays, every shape fixed by ``param_shapes``):

* RNN:  ``W_xh (D, H)``, ``W_hh (H, H)``, ``b_h (H,)``.
* LSTM: ``W_x (D, 4H)``, ``W_h (H, 4H)``, ``b (4H,)``; the four column blocks are the gates in
  the order ``i, f, g, o`` (input, forget, candidate, output), the order of PyTorch and Keras.
* GRU:  ``W_x (D, 3H)``, ``W_h (H, 3H)``, ``b_x (3H,)``, ``b_h (3H,)``; blocks ``z, r, n``
  (update, reset, candidate), the order of Keras.

Each forward step is split in two: the input projection ``xw = x W_x + b`` (which a sequence
can compute for all time steps in one matrix product) and a *core* that does the recurrence.
The public step functions compose the two; ``sequence`` reuses the same cores, so every
equation below is written exactly once.
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


def _input_grads(x: np.ndarray, dxw: np.ndarray, W_x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Gradients of ``xw = x W_x + b``: ``dx = dxw W_x^T``, ``dW_x = x^T dxw``, ``db = sum_B dxw``."""
    return dxw @ W_x.T, x.T @ dxw, dxw.sum(axis=0)


# ----------------------------------------------------------------------------- RNN
def rnn_core(xw: np.ndarray, h_prev: np.ndarray, params: Mapping, activation: str = "tanh") -> tuple[np.ndarray, dict]:
    """Recurrence of the RNN given the input projection ``xw = x W_xh + b_h``.

    ``a = xw + h_prev W_hh``; ``h = tanh(a)`` (or ``relu(a)``).
    """
    a = h_prev @ params["W_hh"]
    a += xw  # (B, H)
    h = np.tanh(a) if activation == "tanh" else np.maximum(a, 0)
    return h, {"h_prev": h_prev, "a": a, "h": h, "activation": activation}


def rnn_core_backward(dh: np.ndarray, cache: Mapping, params: Mapping, *, W_hT: np.ndarray | None = None,
                      dxw: np.ndarray | None = None, param_grads: bool = True) -> tuple[np.ndarray, np.ndarray, dict]:
    """Back through ``rnn_core``: returns ``dxw (B, H)``, ``dh_prev (B, H)`` and ``{"W_hh": ...}``.

    ``da = dh * (1 - h^2)`` (tanh) or ``dh * [a > 0]`` (relu); ``dh_prev = da W_hh^T``; ``dW_hh = h_prev^T da``.
    Optional, for speed (``sequence`` uses them): ``W_hT``, a contiguous copy of ``W_hh^T``; ``dxw``, a
    ``(B, H)`` array to write ``da`` into; ``param_grads=False`` returns ``{}`` instead of ``dW_hh``
    (the caller then computes it for all steps in one product).
    """
    h = cache["h"]
    da = np.empty_like(h) if dxw is None else dxw  # (B, H)
    if cache["activation"] == "tanh":
        d = h * h  # contiguous scratch: da may be a strided slice of the caller's (B, T, H) buffer
        np.subtract(1.0, d, out=d)
        np.multiply(d, dh, out=da)
    else:
        np.multiply(dh, cache["a"] > 0, out=da)
    dh_prev = da @ (params["W_hh"].T if W_hT is None else W_hT)
    return da, dh_prev, ({"W_hh": cache["h_prev"].T @ da} if param_grads else {})


def rnn_step(x, h_prev, params, activation: str = "tanh") -> tuple[np.ndarray, dict]:
    """One vanilla RNN step: ``h = tanh(x W_xh + h_prev W_hh + b_h)``.

    Inputs:
    - x: (B, D) input at this time step.
    - h_prev: (B, H) previous hidden state.
    - params: ``W_xh (D, H)``, ``W_hh (H, H)``, ``b_h (H,)``.
    - activation: ``"tanh"`` (default) or ``"relu"``.

    Returns:
    - h: (B, H) new hidden state.
    - cache: ``x``, ``h_prev``, ``a`` (pre-activation), ``h``, ``activation``, ``params``.
    """
    check_option("activation", activation, ACTIVATIONS)
    x, h_prev = _check_step("rnn", x, {"h_prev": h_prev}, params)
    h, cache = rnn_core(x @ params["W_xh"] + params["b_h"], h_prev, params, activation)
    cache.update(x=x, params=params)
    return h, cache


def rnn_step_backward(dh, cache: Mapping) -> tuple[np.ndarray, np.ndarray, dict]:
    """Backward of ``rnn_step``.

    Inputs: dh (B, H), dL/dh for this step (upstream plus the next step's); cache from ``rnn_step``.
    Returns: ``dx (B, D)``, ``dh_prev (B, H)``, grads ``{"W_xh", "W_hh", "b_h"}`` with the params' shapes.
    """
    dh = _check_grad("dh", dh, cache["h"])
    params = cache["params"]
    da, dh_prev, grads = rnn_core_backward(dh, cache, params)
    dx, grads["W_xh"], grads["b_h"] = _input_grads(cache["x"], da, params["W_xh"])
    return dx, dh_prev, grads


# ----------------------------------------------------------------------------- LSTM
def lstm_core(xw, h_prev, c_prev, params) -> tuple[np.ndarray, np.ndarray, dict]:
    """Recurrence of the LSTM given ``xw = x W_x + b`` (B, 4H).

    ``a = xw + h_prev W_h`` split into ``a_i, a_f, a_g, a_o``;
    ``i, f, o = sigmoid(a_i, a_f, a_o)``; ``g = tanh(a_g)``;
    ``c = f * c_prev + i * g``; ``h = o * tanh(c)``.
    Each gate is its own contiguous ``(B, H)`` array (elementwise work on them is fastest that way).
    """
    H = h_prev.shape[1]
    a = h_prev @ params["W_h"]
    a += xw  # (B, 4H)
    half = a * 0.5  # sigmoid(a) = (1 + tanh(a/2)) / 2, as in ``sigmoid``
    i, f, o = (np.tanh(half[:, k * H : (k + 1) * H]) for k in (0, 1, 3))
    for gate in (i, f, o):
        gate += 1.0
        gate *= 0.5
    g = np.tanh(a[:, 2 * H : 3 * H])
    c = f * c_prev
    ig = i * g
    c += ig
    tanh_c = np.tanh(c)
    h = o * tanh_c
    cache = {"h_prev": h_prev, "c_prev": c_prev, "a": a,
             "a_i": a[:, :H], "a_f": a[:, H : 2 * H], "a_g": a[:, 2 * H : 3 * H], "a_o": a[:, 3 * H :],
             "i": i, "f": f, "g": g, "o": o, "c": c, "tanh_c": tanh_c, "h": h}
    return h, c, cache


def lstm_core_backward(dh, dc, cache, params, *, W_hT: np.ndarray | None = None, dxw: np.ndarray | None = None,
                       param_grads: bool = True) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict]:
    """Back through ``lstm_core``: returns ``da (B, 4H)``, ``dh_prev``, ``dc_prev`` and ``{"W_h": ...}``.

    ``dc_total = dc + dh * o * (1 - tanh(c)^2)``; ``do = dh * tanh(c)``; ``di = dc_total * g``;
    ``df = dc_total * c_prev``; ``dg = dc_total * i``; ``dc_prev = dc_total * f``;
    ``da = [di i(1-i), df f(1-f), dg (1-g^2), do o(1-o)]``; ``dh_prev = da W_h^T``.
    Optional ``W_hT``, ``dxw`` (where to write ``da``) and ``param_grads``: as in ``rnn_core_backward``.
    """
    i, f, g, o, tanh_c = cache["i"], cache["f"], cache["g"], cache["o"], cache["tanh_c"]
    H = i.shape[1]
    dc_total = tanh_c * tanh_c  # (B, H)
    np.subtract(1.0, dc_total, out=dc_total)
    dc_total *= o
    dc_total *= dh
    dc_total += dc
    da = np.empty_like(cache["a"]) if dxw is None else dxw  # (B, 4H)
    for k, gate, other, up in ((0, i, g, dc_total), (1, f, cache["c_prev"], dc_total), (3, o, tanh_c, dh)):
        d = np.subtract(1.0, gate)  # da_gate = up * other * gate (1 - gate)
        d *= gate
        d *= other
        np.multiply(d, up, out=da[:, k * H : (k + 1) * H])
    d = g * g  # da_g = dc_total * i * (1 - g^2)
    np.subtract(1.0, d, out=d)
    d *= i
    np.multiply(d, dc_total, out=da[:, 2 * H : 3 * H])
    dh_prev = da @ (params["W_h"].T if W_hT is None else W_hT)
    dc_total *= f  # now dc_prev
    return da, dh_prev, dc_total, ({"W_h": cache["h_prev"].T @ da} if param_grads else {})


def lstm_step(x, h_prev, c_prev, params) -> tuple[np.ndarray, np.ndarray, dict]:
    """One LSTM step.

    ``i = sigmoid(x W_xi + h_prev W_hi + b_i)``, likewise ``f`` and ``o``;
    ``g = tanh(x W_xg + h_prev W_hg + b_g)``; ``c = f * c_prev + i * g``; ``h = o * tanh(c)``,
    where ``W_x = [W_xi | W_xf | W_xg | W_xo]`` and the same for ``W_h`` and ``b``.

    Inputs:
    - x: (B, D); h_prev, c_prev: (B, H).
    - params: ``W_x (D, 4H)``, ``W_h (H, 4H)``, ``b (4H,)``, gate blocks in the order i, f, g, o.

    Returns:
    - h, c: (B, H) new hidden and cell states.
    - cache: ``x``, ``h_prev``, ``c_prev``, ``a`` (B, 4H) and its blocks ``a_i .. a_o``,
      gates ``i, f, g, o``, ``c``, ``tanh_c``, ``h``, ``params``.
    """
    x, h_prev, c_prev = _check_step("lstm", x, {"h_prev": h_prev, "c_prev": c_prev}, params)
    h, c, cache = lstm_core(x @ params["W_x"] + params["b"], h_prev, c_prev, params)
    cache.update(x=x, params=params)
    return h, c, cache


def lstm_step_backward(dh, dc, cache: Mapping) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict]:
    """Backward of ``lstm_step``.

    Inputs: dh, dc (B, H): dL/dh and dL/dc reaching this step; cache from ``lstm_step``.
    Returns: ``dx (B, D)``, ``dh_prev (B, H)``, ``dc_prev (B, H)``, grads ``{"W_x", "W_h", "b"}``.
    """
    dh = _check_grad("dh", dh, cache["h"])
    dc = _check_grad("dc", dc, cache["c"])
    params = cache["params"]
    da, dh_prev, dc_prev, grads = lstm_core_backward(dh, dc, cache, params)
    dx, grads["W_x"], grads["b"] = _input_grads(cache["x"], da, params["W_x"])
    return dx, dh_prev, dc_prev, grads


# ----------------------------------------------------------------------------- GRU
def gru_core(xw, h_prev, params, reset_after: bool = True) -> tuple[np.ndarray, dict]:
    """Recurrence of the GRU given ``xw = x W_x + b_x`` (B, 3H), blocks ``z, r, n``.

    ``z = sigmoid(xw_z + h_prev W_hz + b_hz)``, ``r = sigmoid(xw_r + h_prev W_hr + b_hr)``;
    reset after (PyTorch, Keras default): ``n = tanh(xw_n + r * (h_prev W_hn + b_hn))``;
    reset before (Cho et al. 2014):      ``n = tanh(xw_n + (r * h_prev) W_hn + b_hn)``;
    ``h = z * h_prev + (1 - z) * n``, computed as ``n + z * (h_prev - n)``.
    ``hw`` in the cache is the recurrent projection ``(B, 3H)`` whose n block is the one that
    enters the formula above (``h_prev W_hn + b_hn`` or ``(r * h_prev) W_hn + b_hn``).
    """
    H = h_prev.shape[1]
    W_h, b_h = params["W_h"], params["b_h"]
    if reset_after:
        hw = h_prev @ W_h
        hw += b_h  # (B, 3H)
        pre = xw + hw  # (B, 3H); only the z and r blocks are used
    else:
        hw = np.empty_like(xw)  # (B, 3H)
        hw_zr = hw[:, : 2 * H]
        np.matmul(h_prev, W_h[:, : 2 * H], out=hw_zr)
        hw_zr += b_h[: 2 * H]
        pre = xw[:, : 2 * H] + hw_zr  # (B, 2H)
    z, r = (np.multiply(pre[:, k * H : (k + 1) * H], 0.5) for k in (0, 1))  # contiguous (B, H) each
    for gate in (z, r):  # sigmoid = (1 + tanh(a/2)) / 2, as in ``sigmoid``
        np.tanh(gate, out=gate)
        gate += 1.0
        gate *= 0.5
    if reset_after:
        rh = None
        a_n = r * hw[:, 2 * H :]
    else:
        rh = r * h_prev
        hw_n = hw[:, 2 * H :]
        np.matmul(rh, W_h[:, 2 * H :], out=hw_n)
        hw_n += b_h[2 * H :]
        a_n = hw_n.copy()
    a_n += xw[:, 2 * H :]
    n = np.tanh(a_n)
    h = h_prev - n
    h *= z
    h += n
    cache = {"h_prev": h_prev, "xw": xw, "hw": hw, "z": z, "r": r, "a_n": a_n, "n": n, "h": h,
             "rh": rh, "reset_after": reset_after}
    return h, cache


def gru_core_backward(dh, cache, params, *, W_hT: np.ndarray | None = None, dxw: np.ndarray | None = None,
                      dhw: np.ndarray | None = None, param_grads: bool = True) -> tuple[np.ndarray, np.ndarray, dict]:
    """Back through ``gru_core``: returns ``dxw (B, 3H)``, ``dh_prev`` and ``{"W_h", "b_h"}``.

    ``dn = dh (1 - z)``, ``dz = dh (h_prev - n)``, ``da_n = dn (1 - n^2)``;
    reset after: ``dr = da_n * hw_n`` and the n block of ``dhw`` is ``da_n * r``;
    reset before: ``d(r h_prev) = da_n W_hn^T``, ``dr = d(r h_prev) * h_prev``;
    ``da_z = dz z (1 - z)``, ``da_r = dr r (1 - r)``; ``dhw`` (gradient of ``hw``) equals ``dxw`` except
    for the reset-after n block; ``dW_h = h_prev^T dhw`` (reset before: ``rh^T da_n`` for the n block).
    Optional ``W_hT``, ``dxw`` and ``param_grads``: as in ``rnn_core_backward``; ``dhw``: a ``(B, 3H)``
    array to write ``dhw`` into (reset after only; reset before it is ``dxw``).
    """
    z, r, n, h_prev, hw = cache["z"], cache["r"], cache["n"], cache["h_prev"], cache["hw"]
    H = z.shape[1]
    W_hT = params["W_h"].T if W_hT is None else W_hT  # (3H, H)
    dxw = np.empty_like(hw) if dxw is None else dxw  # (B, 3H)
    one_minus_z = np.subtract(1.0, z)
    da_n = n * n  # (B, H), contiguous; copied into dxw's n block below
    np.subtract(1.0, da_n, out=da_n)
    da_n *= one_minus_z
    da_n *= dh
    da_z = np.subtract(h_prev, n)
    da_z *= dh
    da_z *= z
    da_z *= one_minus_z
    da_r = np.subtract(1.0, r)
    da_r *= r
    dh_prev = np.multiply(dh, z)
    reset_after = cache["reset_after"]
    if reset_after:
        da_r *= hw[:, 2 * H :]
        da_r *= da_n
    else:
        drh = da_n @ W_hT[2 * H :]  # (B, H)
        da_r *= h_prev
        da_r *= drh
    targets = (dxw,)
    if reset_after:
        dhw = np.empty_like(dxw) if dhw is None else dhw  # (B, 3H)
        targets = (dxw, dhw)
    for target in targets:
        target[:, :H] = da_z
        target[:, H : 2 * H] = da_r
    dxw[:, 2 * H :] = da_n
    if reset_after:
        np.multiply(da_n, r, out=dhw[:, 2 * H :])
        dh_prev += dhw @ W_hT
        grads = {"W_h": h_prev.T @ dhw, "b_h": dhw.sum(axis=0)} if param_grads else {}
    else:
        dh_prev += dxw[:, : 2 * H] @ W_hT[: 2 * H]
        drh *= r
        dh_prev += drh
        grads = ({"W_h": np.concatenate([h_prev.T @ dxw[:, : 2 * H], cache["rh"].T @ da_n], axis=1),
                  "b_h": dxw.sum(axis=0)} if param_grads else {})
    return dxw, dh_prev, grads


def gru_step(x, h_prev, params, reset_after: bool = True) -> tuple[np.ndarray, dict]:
    """One GRU step (equations in ``gru_core``).

    Inputs:
    - x: (B, D); h_prev: (B, H).
    - params: ``W_x (D, 3H)``, ``W_h (H, 3H)``, ``b_x (3H,)``, ``b_h (3H,)``; blocks z, r, n.
    - reset_after: True applies the reset gate after the recurrent product (PyTorch and Keras
      default); False before it (Cho et al. 2014, Keras ``reset_after=False``).

    Returns:
    - h: (B, H).
    - cache: ``x``, ``h_prev``, ``xw``, ``hw``, gates ``z, r``, candidate ``n`` and its
      pre-activation ``a_n``, ``h``, ``rh`` (reset before only), ``reset_after``, ``params``.
    """
    check_option("reset_after", reset_after, (True, False))
    x, h_prev = _check_step("gru", x, {"h_prev": h_prev}, params)
    h, cache = gru_core(x @ params["W_x"] + params["b_x"], h_prev, params, bool(reset_after))
    cache.update(x=x, params=params)
    return h, cache


def gru_step_backward(dh, cache: Mapping) -> tuple[np.ndarray, np.ndarray, dict]:
    """Backward of ``gru_step``.

    Inputs: dh (B, H); cache from ``gru_step``.
    Returns: ``dx (B, D)``, ``dh_prev (B, H)``, grads ``{"W_x", "W_h", "b_x", "b_h"}``.
    """
    dh = _check_grad("dh", dh, cache["h"])
    params = cache["params"]
    dxw, dh_prev, grads = gru_core_backward(dh, cache, params)
    dx, grads["W_x"], grads["b_x"] = _input_grads(cache["x"], dxw, params["W_x"])
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
        """True when the reference step functions are used (``sequence`` then takes its fast path)."""
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
