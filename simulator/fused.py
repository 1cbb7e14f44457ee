"""The fused, in-place fast versions of the cells' recurrences, for loops where speed matters.

``simulator.cells`` writes each step as the lesson's equations, one line each; this module computes the
same numbers (equal to 1e-12, ``tests/simulator/test_fused.py``) with fewer temporaries, in-place
elementwise work on contiguous ``(B, H)`` arrays and optional preallocated outputs. ``sequence``
uses it for reference cells; ``gradients`` for exact Jacobians.

Each forward *core* takes the input projection ``xw = x W_x + b`` already computed (a sequence
computes it for all time steps in one matrix product) and returns the same named cache as the
matching ``cells.*_step`` (without ``x`` and ``params``, which the caller adds). Each backward core
returns the gradient of ``xw`` (``da`` / ``dxw``) instead of ``dx`` and the input-weight gradients,
which a sequence computes for all steps at once (``input_grads`` does it for one step).
The symbols are those of ``cells``; ``sigmoid(a)`` is computed as ``(1 + tanh(a/2)) / 2``,
exactly as ``cells.sigmoid``. Inputs are trusted here: the callers validate them.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np


def input_grads(x: np.ndarray, dxw: np.ndarray, W_x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Gradients of ``xw = x W_x + b``: ``dx = dxw W_x^T``, ``dW_x = x^T dxw``, ``db = sum_B dxw``."""
    return dxw @ W_x.T, x.T @ dxw, dxw.sum(axis=0)


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
    half = a * 0.5  # sigmoid(a) = (1 + tanh(a/2)) / 2, as in ``cells.sigmoid``
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
    for gate in (z, r):  # sigmoid = (1 + tanh(a/2)) / 2, as in ``cells.sigmoid``
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


CORES = {"rnn": rnn_core, "lstm": lstm_core, "gru": gru_core}
CORE_BACKWARDS = {"rnn": rnn_core_backward, "lstm": lstm_core_backward, "gru": gru_core_backward}
