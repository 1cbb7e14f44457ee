"""Gradient tools: central finite differences, global norms and global-norm clipping."""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np


def numerical_gradient(f: Callable[[], float], x: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """Central finite differences of a scalar ``f()`` with respect to the array ``x``, edited in place.

    ``df/dx[i] ~ (f(x + eps e_i) - f(x - eps e_i)) / (2 eps)``; ``x`` is restored after each probe.
    """
    if not isinstance(x, np.ndarray):
        raise ValueError(f"x: expected a numpy array to perturb in place, got {type(x).__name__}")
    grad = np.zeros_like(x, dtype=np.float64)
    flat = x.reshape(-1)  # a view: edits reach x
    if not np.shares_memory(flat, x):
        raise ValueError("x: expected a contiguous array (a reshape of it must be a view)")
    for k in range(flat.size):
        old = flat[k]
        flat[k] = old + eps
        up = float(f())
        flat[k] = old - eps
        down = float(f())
        flat[k] = old
        grad.reshape(-1)[k] = (up - down) / (2 * eps)
    return grad


def global_norm(grads: Mapping[str, np.ndarray]) -> float:
    """``||g|| = sqrt(sum_k sum(g_k^2))`` over every array in ``grads``."""
    return float(np.sqrt(sum(float(np.vdot(g, g)) for g in grads.values())))


def clip_by_global_norm(grads: Mapping[str, np.ndarray], max_norm: float) -> tuple[dict[str, np.ndarray], float]:
    """Scale every gradient by ``min(1, max_norm / ||g||)``; returns the clipped dict and the norm before clipping."""
    if not np.isfinite(max_norm) or max_norm <= 0:
        raise ValueError(f"max_norm: expected a positive finite number, got {max_norm}")
    norm = global_norm(grads)
    scale = min(1.0, max_norm / norm) if norm > 0 else 1.0
    return {k: g * scale for k, g in grads.items()}, norm
