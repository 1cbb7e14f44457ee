"""Blind catalogue 6: a student's correct solutions (loops, explicit slices) that the bugs edit.

Each function has the exercise's signature. ``run_step`` is the helper a student writes to call the step handed in
(``rnn_step``/``gru_step`` take ``h``, ``lstm_step`` takes ``h, c``).
"""

from __future__ import annotations

import numpy as np


def sigmoid(a):
    return 0.5 * (1.0 + np.tanh(0.5 * a))


# ----------------------------------------------------------------------------- cells
def rnn_step(x, h_prev, params, activation="tanh"):
    a = x @ params["W_xh"] + h_prev @ params["W_hh"] + params["b_h"]  # (B, H)
    h = np.tanh(a) if activation == "tanh" else np.maximum(a, 0.0)
    return h, {"x": x, "h_prev": h_prev, "a": a, "h": h, "activation": activation, "params": params}


def rnn_step_backward(dh, cache):
    p = cache["params"]
    da = dh * (1.0 - cache["h"] ** 2) if cache["activation"] == "tanh" else dh * (cache["a"] > 0)
    grads = {"W_xh": cache["x"].T @ da, "W_hh": cache["h_prev"].T @ da, "b_h": da.sum(axis=0)}
    return da @ p["W_xh"].T, da @ p["W_hh"].T, grads


def lstm_step(x, h_prev, c_prev, params):
    H = h_prev.shape[1]
    a = x @ params["W_x"] + h_prev @ params["W_h"] + params["b"]  # (B, 4H): i, f, g, o
    i, f = sigmoid(a[:, :H]), sigmoid(a[:, H:2 * H])
    g, o = np.tanh(a[:, 2 * H:3 * H]), sigmoid(a[:, 3 * H:])
    c = f * c_prev + i * g
    tanh_c = np.tanh(c)
    h = o * tanh_c
    return h, c, {"x": x, "h_prev": h_prev, "c_prev": c_prev, "i": i, "f": f, "g": g, "o": o, "c": c,
                  "tanh_c": tanh_c, "params": params}


def lstm_step_backward(dh, dc, cache):
    p, i, f, g, o, tanh_c = (cache[k] for k in ("params", "i", "f", "g", "o", "tanh_c"))
    dc_total = dc + dh * o * (1.0 - tanh_c ** 2)
    da_i = dc_total * g * i * (1 - i)
    da_f = dc_total * cache["c_prev"] * f * (1 - f)
    da_g = dc_total * i * (1 - g ** 2)
    da_o = dh * tanh_c * o * (1 - o)
    da = np.concatenate([da_i, da_f, da_g, da_o], axis=1)  # (B, 4H)
    grads = {"W_x": cache["x"].T @ da, "W_h": cache["h_prev"].T @ da, "b": da.sum(axis=0)}
    return da @ p["W_x"].T, da @ p["W_h"].T, dc_total * f, grads


def gru_step(x, h_prev, params, reset_after=True):
    H = h_prev.shape[1]
    xw = x @ params["W_x"] + params["b_x"]  # (B, 3H): z, r, n
    hw = h_prev @ params["W_h"] + params["b_h"]
    z = sigmoid(xw[:, :H] + hw[:, :H])
    r = sigmoid(xw[:, H:2 * H] + hw[:, H:2 * H])
    if reset_after:
        n = np.tanh(xw[:, 2 * H:] + r * hw[:, 2 * H:])
    else:
        n = np.tanh(xw[:, 2 * H:] + (r * h_prev) @ params["W_h"][:, 2 * H:] + params["b_h"][2 * H:])
    h = z * h_prev + (1.0 - z) * n
    return h, {"x": x, "h_prev": h_prev, "z": z, "r": r, "n": n, "hw": hw, "reset_after": reset_after,
               "params": params}


def gru_step_backward(dh, cache):
    p, z, r, n, h_prev = (cache[k] for k in ("params", "z", "r", "n", "h_prev"))
    H = h_prev.shape[1]
    W_hz, W_hr, W_hn = p["W_h"][:, :H], p["W_h"][:, H:2 * H], p["W_h"][:, 2 * H:]
    hw_n = cache["hw"][:, 2 * H:]
    dz = dh * (h_prev - n)
    da_n = dh * (1.0 - z) * (1.0 - n ** 2)
    if cache["reset_after"]:
        dr = da_n * hw_n
        dhw_n = da_n * r
        dh_prev_n = dhw_n @ W_hn.T
        h_n = h_prev
    else:
        dhw_n = da_n
        drh = dhw_n @ W_hn.T
        dr = drh * h_prev
        dh_prev_n = drh * r
        h_n = r * h_prev
    da_z = dz * z * (1.0 - z)
    da_r = dr * r * (1.0 - r)
    dh_prev = dh * z + da_z @ W_hz.T + da_r @ W_hr.T + dh_prev_n
    dxw = np.concatenate([da_z, da_r, da_n], axis=1)  # (B, 3H)
    dhw = np.concatenate([da_z, da_r, dhw_n], axis=1)  # (B, 3H)
    grads = {"W_x": cache["x"].T @ dxw,
             "W_h": np.concatenate([h_prev.T @ da_z, h_prev.T @ da_r, h_n.T @ dhw_n], axis=1),
             "b_x": dxw.sum(axis=0), "b_h": dhw.sum(axis=0)}
    return dxw @ p["W_x"].T, dh_prev, grads


# ----------------------------------------------------------------------------- bptt
def rnn_forward(X, h0, params):
    B, T, _ = X.shape
    H = np.zeros((B, T, h0.shape[1]))
    h, caches = h0, []
    for t in range(T):
        h, cache = rnn_step(X[:, t], h, params)
        H[:, t] = h
        caches.append(cache)
    return H, caches


def rnn_backward(dH, caches):
    T = len(caches)
    dX = np.zeros((dH.shape[0], T, caches[0]["x"].shape[1]))
    grads = {k: np.zeros_like(v) for k, v in caches[0]["params"].items()}
    dh_next = np.zeros_like(dH[:, 0])
    for t in reversed(range(T)):
        dX[:, t], dh_next, g = rnn_step_backward(dH[:, t] + dh_next, caches[t])
        for k in grads:
            grads[k] += g[k]
    return dX, dh_next, grads


def clip_gradients(grads, max_norm):
    norm = float(np.sqrt(sum((g * g).sum() for g in grads.values())))
    scale = min(1.0, max_norm / norm) if norm > 0 else 1.0
    return {k: g * scale for k, g in grads.items()}, norm


def hidden_grad_norms(X, h0, params, dh_last):
    _, caches = rnn_forward(X, h0, params)
    T = len(caches)
    norms = np.zeros(T)
    dh = dh_last
    for t in reversed(range(T)):
        norms[t] = np.sqrt((dh * dh).sum())
        _, dh, _ = rnn_step_backward(dh, caches[t])
    return norms


def spectral_radius(W):
    return float(np.abs(np.linalg.eigvals(W)).max())


# ----------------------------------------------------------------------------- architectures
def cell_params(params, prefix=""):
    return {k[len(prefix):]: v for k, v in params.items()
            if k.startswith(prefix) and k[len(prefix):] not in ("W_hy", "b_y") and (prefix or not k.startswith("dec_"))}


def zero_state(step, B, params):
    H = params["W_h" if "W_h" in params else "W_hh"].shape[0]
    return (np.zeros((B, H)), np.zeros((B, H))) if step.__name__ == "lstm_step" else np.zeros((B, H))


def run_step(step, x, state, cp):
    if isinstance(state, tuple):
        h, c, _ = step(x, state[0], state[1], cp)
        return (h, c), h
    h, _ = step(x, state, cp)
    return h, h


def readout(h, params):
    return h @ params["W_hy"] + params["b_y"]


def one_to_one_forward(x, params, step):
    cp = cell_params(params)
    _, h = run_step(step, x, zero_state(step, x.shape[0], cp), cp)
    return readout(h, params), None


def many_to_one_forward(X, params, step):
    cp = cell_params(params)
    state = zero_state(step, X.shape[0], cp)
    for t in range(X.shape[1]):
        state, h = run_step(step, X[:, t], state, cp)
    return readout(h, params), None


def many_to_many_forward(X, params, step):
    cp = cell_params(params)
    state, ys = zero_state(step, X.shape[0], cp), []
    for t in range(X.shape[1]):
        state, h = run_step(step, X[:, t], state, cp)
        ys.append(readout(h, params))
    return np.stack(ys, axis=1), None


def one_hot_argmax(y):
    return np.eye(y.shape[1])[np.argmax(y, axis=1)]


def one_to_many_forward(x, params, T, step):
    cp = cell_params(params)
    state, ys = zero_state(step, x.shape[0], cp), []
    for _ in range(T):
        state, h = run_step(step, x, state, cp)
        y = readout(h, params)
        ys.append(y)
        x = one_hot_argmax(y)
    return np.stack(ys, axis=1), None


def encoder_decoder_forward(X, params, T_out, step):
    cp, dp = cell_params(params), cell_params(params, "dec_")
    state = zero_state(step, X.shape[0], cp)
    for t in range(X.shape[1]):
        state, _ = run_step(step, X[:, t], state, cp)
    x, ys = np.zeros((X.shape[0], params["W_hy"].shape[1])), []
    for _ in range(T_out):
        state, h = run_step(step, x, state, dp)
        y = readout(h, params)
        ys.append(y)
        x = one_hot_argmax(y)
    return np.stack(ys, axis=1), None


# ----------------------------------------------------------------------------- crnn
def conv2d_forward(x, K, b, stride=1, padding=0):
    N, C, H, W = x.shape
    F, _, KH, KW = K.shape
    xp = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    OH, OW = (H + 2 * padding - KH) // stride + 1, (W + 2 * padding - KW) // stride + 1
    out = np.zeros((N, F, OH, OW))
    for i in range(OH):
        for j in range(OW):
            patch = xp[:, :, i * stride:i * stride + KH, j * stride:j * stride + KW]  # (N, C, KH, KW)
            out[:, :, i, j] = np.tensordot(patch, K, axes=([1, 2, 3], [1, 2, 3])) + b
    return out, None


def maxpool_forward(x, size=2, stride=None):
    stride = size if stride is None else stride
    N, C, H, W = x.shape
    OH, OW = (H - size) // stride + 1, (W - size) // stride + 1
    out = np.zeros((N, C, OH, OW))
    for i in range(OH):
        for j in range(OW):
            out[:, :, i, j] = x[:, :, i * stride:i * stride + size, j * stride:j * stride + size].max(axis=(2, 3))
    return out, None


def crnn_forward(X, params, step):
    from simulator import crnn  # the frames' CNN: the reference frame_features (graded by its own test)

    B, T = X.shape[:2]
    F = crnn.frame_features(X.reshape(B * T, *X.shape[2:]), params)[0].reshape(B, T, -1)  # (B*T, M) -> (B, T, M)
    cp = {k: v for k, v in params.items() if "." not in k and k not in ("W_hy", "b_y")}
    state = zero_state(step, B, cp)
    for t in range(T):
        state, h = run_step(step, F[:, t], state, cp)
    return readout(h, params), None
