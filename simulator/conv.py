"""Convolutional layers for the CRNN: conv2d (im2col), ReLU, max-pool, flatten and dense, forward and backward.

Layout: **NCHW**, the layout of PyTorch (``torch.nn.functional.conv2d``): a batch of images is
``x (N, C, H, W)`` with ``N`` images of ``C`` channels, ``H`` rows and ``W`` columns. (Keras defaults to
NHWC; ``x.transpose(0, 3, 1, 2)`` converts.) Convolution kernels are ``K (F, C, KH, KW)``, PyTorch's
layout; dense weights are ``W (D, M)`` used as ``x W + b``, the row-major notation of the cells.

Every forward returns ``(out, cache)`` where the cache holds named intermediates (the input, the
im2col matrix, the pooling switches, the output) that the simulator draws and the backward uses.
Every backward takes ``(dout, cache)`` and returns ``dx`` (and a dict of parameter gradients).
"""

from __future__ import annotations

import numpy as np

from simulator.validation import as_float_array, check_finite, check_shape


def output_size(n: int, k: int, stride: int, padding: int) -> int:
    """Output length along one axis: ``floor((n + 2 padding - k) / stride) + 1``."""
    return (n + 2 * padding - k) // stride + 1


def _check_int(name: str, value, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < minimum:
        raise ValueError(f"{name}: expected an integer >= {minimum}, got {value!r}")
    return int(value)


def _check_images(name: str, x) -> np.ndarray:
    x = as_float_array(name, x, ndim=4)
    if min(x.shape) < 1:
        raise ValueError(f"{name}: expected a non-empty (N, C, H, W) batch, got shape {x.shape}")
    check_finite(name, x)
    return x


def _check_grad(dout, like: np.ndarray) -> np.ndarray:
    dout = as_float_array("dout", dout, ndim=like.ndim)
    check_shape("dout", dout, like.shape)
    check_finite("dout", dout)
    return dout.astype(like.dtype, copy=False)


# ----------------------------------------------------------------------------- im2col
def im2col(x: np.ndarray, KH: int, KW: int, stride: int, padding: int, fill: float = 0.0) -> np.ndarray:
    """Patches of ``x`` as rows: ``cols[(n, oh, ow), (c, i, j)] = xp[n, c, oh*stride + i, ow*stride + j]``.

    ``xp`` is ``x`` padded with ``fill`` on every side by ``padding``.
    Inputs: x (N, C, H, W). Returns: cols (N*OH*OW, C*KH*KW).
    """
    N, C, H, W = x.shape
    OH, OW = output_size(H, KH, stride, padding), output_size(W, KW, stride, padding)
    xp = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)), constant_values=fill)
    cols = np.empty((N, C, KH, KW, OH, OW), dtype=x.dtype)
    for i in range(KH):
        for j in range(KW):
            cols[:, :, i, j] = xp[:, :, i : i + stride * OH : stride, j : j + stride * OW : stride]
    return cols.transpose(0, 4, 5, 1, 2, 3).reshape(N * OH * OW, C * KH * KW)  # (N, OH, OW, C, KH, KW) -> rows


def col2im(dcols: np.ndarray, x_shape: tuple, KH: int, KW: int, stride: int, padding: int) -> np.ndarray:
    """Adjoint of ``im2col``: add each patch's gradient back where the patch came from.

    Inputs: dcols (N*OH*OW, C*KH*KW). Returns: dx (N, C, H, W); overlapping patches sum.
    """
    N, C, H, W = x_shape
    OH, OW = output_size(H, KH, stride, padding), output_size(W, KW, stride, padding)
    d = dcols.reshape(N, OH, OW, C, KH, KW).transpose(0, 3, 4, 5, 1, 2)  # -> (N, C, KH, KW, OH, OW)
    dxp = np.zeros((N, C, H + 2 * padding, W + 2 * padding), dtype=dcols.dtype)
    for i in range(KH):
        for j in range(KW):
            dxp[:, :, i : i + stride * OH : stride, j : j + stride * OW : stride] += d[:, :, i, j]
    return dxp[:, :, padding : padding + H, padding : padding + W]


# ----------------------------------------------------------------------------- conv2d
def conv2d_forward(x, K, b, stride: int = 1, padding: int = 0) -> tuple[np.ndarray, dict]:
    """2-D convolution (cross-correlation, as in PyTorch and Keras), computed as one matrix product.

    ``out[n, f, oh, ow] = b[f] + sum_{c, i, j} K[f, c, i, j] xp[n, c, oh*stride + i, ow*stride + j]``,
    i.e. ``out = cols K_mat^T + b`` with ``cols = im2col(x)`` (N*OH*OW, C*KH*KW) and
    ``K_mat = K.reshape(F, C*KH*KW)``.

    Inputs:
    - x: (N, C, H, W) images; K: (F, C, KH, KW) kernels; b: (F,) biases.
    - stride, padding: integers (same for rows and columns); zero padding.

    Returns:
    - out: (N, F, OH, OW) with ``OH = floor((H + 2 padding - KH) / stride) + 1`` (likewise ``OW``).
    - cache: ``x``, ``cols``, ``K``, ``b``, ``stride``, ``padding``, ``out``.
    """
    x = _check_images("x", x)
    K = as_float_array("K", K, ndim=4)
    b = as_float_array("b", b, ndim=1)
    stride = _check_int("stride", stride, 1)
    padding = _check_int("padding", padding, 0)
    N, C, H, W = x.shape
    F, _, KH, KW = K.shape
    check_shape("K", K, (F, C, KH, KW))
    check_shape("b", b, (F,))
    if H + 2 * padding < KH or W + 2 * padding < KW:
        raise ValueError(f"K: kernel {KH}x{KW} is larger than the padded image {H + 2 * padding}x{W + 2 * padding}; "
                         "expected a smaller kernel or more padding")
    OH, OW = output_size(H, KH, stride, padding), output_size(W, KW, stride, padding)
    cols = im2col(x, KH, KW, stride, padding)
    out = cols @ K.reshape(F, -1).T + b  # (N*OH*OW, F)
    out = out.reshape(N, OH, OW, F).transpose(0, 3, 1, 2)  # -> (N, F, OH, OW)
    out = np.ascontiguousarray(out)
    return out, {"x": x, "cols": cols, "K": K, "b": b, "stride": stride, "padding": padding, "out": out}


def conv2d_backward(dout, cache: dict) -> tuple[np.ndarray, dict]:
    """Backward of ``conv2d_forward``.

    With ``dO = dout`` as rows (N*OH*OW, F): ``dK_mat = dO^T cols``, ``db = sum_rows dO``,
    ``dcols = dO K_mat`` and ``dx = col2im(dcols)``.

    Inputs: dout (N, F, OH, OW); cache from ``conv2d_forward``.
    Returns: dx (N, C, H, W) and ``{"K": (F, C, KH, KW), "b": (F,)}``.
    """
    dout = _check_grad(dout, cache["out"])
    K, cols, x = cache["K"], cache["cols"], cache["x"]
    F, _, KH, KW = K.shape
    dO = dout.transpose(0, 2, 3, 1).reshape(-1, F)  # (N, F, OH, OW) -> (N*OH*OW, F)
    dK = (dO.T @ cols).reshape(K.shape)
    db = dO.sum(axis=0)
    dx = col2im(dO @ K.reshape(F, -1), x.shape, KH, KW, cache["stride"], cache["padding"])
    return dx, {"K": dK, "b": db}


# ----------------------------------------------------------------------------- ReLU
def relu_forward(x) -> tuple[np.ndarray, dict]:
    """``out = max(x, 0)`` elementwise, any shape. Cache: ``x``, ``out``."""
    x = as_float_array("x", x)
    out = np.maximum(x, 0)
    return out, {"x": x, "out": out}


def relu_backward(dout, cache: dict) -> np.ndarray:
    """``dx = dout * [x > 0]``."""
    dout = _check_grad(dout, cache["out"])
    return dout * (cache["x"] > 0)


# ----------------------------------------------------------------------------- max-pool
def maxpool_forward(x, size: int = 2, stride: int | None = None) -> tuple[np.ndarray, dict]:
    """Max-pooling over ``size x size`` windows: ``out[n, c, oh, ow] = max_{i, j < size} x[n, c, oh*s + i, ow*s + j]``.

    Inputs: x (N, C, H, W); size; stride ``s`` (defaults to ``size``, as in PyTorch). No padding;
    rows and columns that do not fill a window are dropped (PyTorch's ``ceil_mode=False``).

    Returns:
    - out: (N, C, OH, OW) with ``OH = floor((H - size) / s) + 1``.
    - cache: ``x``, ``argmax`` (N, C, OH, OW): the winning position ``i * size + j`` in each window
      (the first one on ties, like PyTorch), ``size``, ``stride``, ``out``.
    """
    x = _check_images("x", x)
    size = _check_int("size", size, 1)
    stride = size if stride is None else _check_int("stride", stride, 1)
    N, C, H, W = x.shape
    if H < size or W < size:
        raise ValueError(f"x: image {H}x{W} is smaller than the pooling window {size}x{size}; expected larger images")
    windows = im2col(x.reshape(N * C, 1, H, W), size, size, stride, 0)  # (N*C*OH*OW, size*size)
    OH, OW = output_size(H, size, stride, 0), output_size(W, size, stride, 0)
    argmax = windows.argmax(axis=1)
    out = windows[np.arange(len(windows)), argmax].reshape(N, C, OH, OW)
    return out, {"x": x, "argmax": argmax.reshape(N, C, OH, OW), "size": size, "stride": stride, "out": out}


def maxpool_backward(dout, cache: dict) -> np.ndarray:
    """The gradient goes to the winner of each window: ``dx[n, c, oh*s + i*, ow*s + j*] += dout[n, c, oh, ow]``."""
    dout = _check_grad(dout, cache["out"])
    x, size, stride = cache["x"], cache["size"], cache["stride"]
    N, C, H, W = x.shape
    argmax = cache["argmax"].reshape(-1)
    dwin = np.zeros((argmax.size, size * size), dtype=dout.dtype)  # (N*C*OH*OW, size*size)
    dwin[np.arange(argmax.size), argmax] = dout.reshape(-1)
    return col2im(dwin, (N * C, 1, H, W), size, size, stride, 0).reshape(N, C, H, W)


# ----------------------------------------------------------------------------- flatten
def flatten_forward(x) -> tuple[np.ndarray, dict]:
    """``(N, C, H, W) -> (N, C*H*W)`` in C order (channel, then row, then column), as ``torch.flatten(x, 1)``."""
    x = as_float_array("x", x)
    if x.ndim < 2:
        raise ValueError(f"x: expected at least 2 dimensions (N, ...), got shape {x.shape}")
    out = x.reshape(len(x), -1)  # (N, C, H, W) -> (N, C*H*W)
    return out, {"shape": x.shape, "out": out}


def flatten_backward(dout, cache: dict) -> np.ndarray:
    """Reshape the gradient back: ``(N, C*H*W) -> (N, C, H, W)``."""
    dout = _check_grad(dout, cache["out"])
    return dout.reshape(cache["shape"])


# ----------------------------------------------------------------------------- dense
def dense_forward(x, W, b) -> tuple[np.ndarray, dict]:
    """Fully connected layer ``y = x W + b``.

    Inputs: x (N, D); W (D, M); b (M,). (PyTorch's ``nn.Linear.weight`` is ``W^T``.)
    Returns: y (N, M) and cache ``x``, ``W``, ``b``, ``out``.
    """
    x = as_float_array("x", x, ndim=2)
    W = as_float_array("W", W, ndim=2)
    b = as_float_array("b", b, ndim=1)
    if W.shape[0] != x.shape[1]:
        raise ValueError(f"W: expected {x.shape[1]} rows to match x's {x.shape[1]} features, got shape {W.shape}")
    check_shape("b", b, (W.shape[1],))
    check_finite("x", x)
    out = x @ W + b
    return out, {"x": x, "W": W, "b": b, "out": out}


def dense_backward(dout, cache: dict) -> tuple[np.ndarray, dict]:
    """``dx = dy W^T``, ``dW = x^T dy``, ``db = sum_N dy``. Returns dx (N, D) and ``{"W", "b"}``."""
    dout = _check_grad(dout, cache["out"])
    return dout @ cache["W"].T, {"W": cache["x"].T @ dout, "b": dout.sum(axis=0)}
