"""Losses on a readout's outputs: softmax cross-entropy and mean squared error, each with its gradient.

Both take outputs with a leading *item* shape, ``(B, K)`` (one output per sequence) or ``(B, T, K)``
(one per time step), and an optional ``mask`` of non-negative weights with that item shape
(``(B,)`` or ``(B, T)``; booleans are fine). The loss is the weighted mean over the counted items,
``L = sum_i w_i l_i / sum_i w_i``, so a 0/1 mask averages over the items it keeps and no mask
averages over all of them, the ``reduction="mean"`` of PyTorch.
"""

from __future__ import annotations

import numpy as np

from simulator.validation import as_float_array, check_finite, check_shape


def softmax(Z, axis: int = -1) -> np.ndarray:
    """``p_k = exp(z_k - max z) / sum_j exp(z_j - max z)`` along ``axis``; stable for any finite ``Z``, keeps dtype."""
    Z = as_float_array("logits", Z)
    e = np.exp(Z - Z.max(axis=axis, keepdims=True))
    e /= e.sum(axis=axis, keepdims=True)
    return e


def log_softmax(Z, axis: int = -1) -> np.ndarray:
    """``log p_k = z_k - max z - log sum_j exp(z_j - max z)`` along ``axis`` (no overflow, no log of 0)."""
    Z = as_float_array("logits", Z)
    shifted = Z - Z.max(axis=axis, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))


def _outputs(name: str, value) -> np.ndarray:
    arr = as_float_array(name, value)
    if arr.ndim not in (2, 3) or arr.shape[-1] < 1 or arr.size == 0:
        raise ValueError(f"{name}: expected shape (B, K) or (B, T, K) with K >= 1, got {arr.shape}")
    check_finite(name, arr)
    return arr


def _weights(mask, item_shape: tuple[int, ...], dtype) -> np.ndarray | None:
    """The mask as float weights of ``item_shape``, or None; refuses negative weights and an all-zero mask."""
    if mask is None:
        return None
    w = as_float_array("mask", mask)
    check_shape("mask", w, item_shape)
    check_finite("mask", w)
    if (w < 0).any():
        raise ValueError(f"mask: contains negative weight {w.min()}; expected weights >= 0 (or booleans)")
    if w.sum() <= 0:
        raise ValueError(f"mask: counts no item (all weights 0) among {w.size}; expected at least one positive weight")
    return w.astype(dtype, copy=False)


def softmax_cross_entropy(logits, targets, mask=None) -> tuple[float, np.ndarray]:
    """Softmax cross-entropy with integer class targets, averaged over the counted items.

    ``p_i = softmax(z_i)``; ``l_i = -log p_i[y_i]``; ``L = sum_i w_i l_i / sum_i w_i``;
    ``dL/dz_i = w_i (p_i - onehot(y_i)) / sum_i w_i`` (``w_i = 1`` without a mask).

    Inputs:
    - logits: (B, K) or (B, T, K) unnormalised scores ``z``.
    - targets: integer class indices in ``[0, K)``, shape (B,) or (B, T) (the logits' item shape).
    - mask: optional weights of the item shape, >= 0 (booleans select items); at least one positive.

    Returns:
    - loss: a float.
    - dlogits: gradient of the loss, the logits' shape and dtype.
    """
    Z = _outputs("logits", logits)
    K = Z.shape[-1]
    y = np.asarray(targets)
    if y.dtype.kind not in "iu":
        raise ValueError(f"targets: expected integer class indices, got dtype {y.dtype}")
    check_shape("targets", y, Z.shape[:-1])
    if y.size and (y.min() < 0 or y.max() >= K):
        bad = y.min() if y.min() < 0 else y.max()
        raise ValueError(f"targets: class index {bad} out of range; expected 0 <= index < K = {K}")
    w = _weights(mask, Z.shape[:-1], Z.dtype)
    logp = log_softmax(Z)
    nll = -np.take_along_axis(logp, y[..., None], axis=-1)[..., 0]  # (...,) the items' losses
    dZ = np.exp(logp)  # p
    np.put_along_axis(dZ, y[..., None], np.take_along_axis(dZ, y[..., None], axis=-1) - 1.0, axis=-1)
    if w is None:
        n = nll.size
        return float(nll.sum() / n), dZ / Z.dtype.type(n)
    total = w.sum()
    return float((w * nll).sum() / total), dZ * (w / total)[..., None]


def mean_squared_error(Y, targets, mask=None) -> tuple[float, np.ndarray]:
    """Mean squared error over the counted items and all K components.

    ``L = sum_i w_i sum_k (y_ik - t_ik)^2 / (K sum_i w_i)``; ``dL/dy_ik = 2 w_i (y_ik - t_ik) / (K sum_i w_i)``
    (``w_i = 1`` without a mask, which is the mean over every element).

    Inputs:
    - Y: (B, K) or (B, T, K) predictions.
    - targets: the same shape as ``Y``.
    - mask: optional weights of shape (B,) or (B, T), >= 0; at least one positive.

    Returns:
    - loss: a float.
    - dY: gradient of the loss, ``Y``'s shape and dtype.
    """
    Y = _outputs("Y", Y)
    T = as_float_array("targets", targets)
    check_shape("targets", T, Y.shape)
    check_finite("targets", T)
    diff = Y - T.astype(Y.dtype, copy=False)
    K = Y.shape[-1]
    w = _weights(mask, Y.shape[:-1], Y.dtype)
    if w is None:
        n = diff.size
        return float(np.vdot(diff, diff) / n), diff * Y.dtype.type(2.0 / n)
    denom = K * w.sum()
    sq = (diff * diff).sum(axis=-1)
    return float((w * sq).sum() / denom), diff * (2.0 * w / denom)[..., None]
