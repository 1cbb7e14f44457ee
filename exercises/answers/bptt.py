"""Reference answers for the ``bptt`` exercise: the functions students write, with their exact signatures.

Thin wrappers over ``sequence`` (unroll and BPTT) and ``gradients`` (clipping); nothing is re-derived.
Notation (DESIGN.md): ``X`` is ``(B, T, D)`` batch-first, ``h0`` and every ``h_t`` are ``(B, H)``,
``H`` stacks ``h_0 .. h_{T-1}`` (the states after each step) as ``(B, T, H)``.

- ``rnn_forward``:  ``h_t = tanh(x_t W_xh + h_{t-1} W_hh + b_h)`` for ``t = 0 .. T-1``, starting from ``h0``.
- ``rnn_backward``: ``dL/dh_t = dH_t + (dL/dh_{t+1} -> h_t)``; every step adds to ``dW_xh, dW_hh, db_h``.
- ``clip_gradients``: ``g <- g * min(1, max_norm / ||g||)`` with the global norm over all gradients.
- ``hidden_grad_norms``: ``||dL/dh_t||`` for each ``t`` when the loss reaches only the last state.
- ``spectral_radius``: ``max |eigenvalue(W)|``, the factor that governs vanishing and exploding gradients.
"""

from __future__ import annotations

import numpy as np

from simulator import gradients, sequence
from simulator.cells import Cell
from simulator.validation import as_float_array, check_finite, check_shape


def rnn_forward(X, h0, params) -> tuple[np.ndarray, dict]:
    """Run a tanh RNN over a batch of sequences.

    Inputs:
    - X: (B, T, D) input sequences; h0: (B, H) initial state.
    - params: ``W_xh (D, H)``, ``W_hh (H, H)``, ``b_h (H,)``.

    Returns:
    - H: (B, T, H), ``H[:, t]`` is ``h_t``.
    - cache: what ``rnn_backward`` needs (the ``sequence.forward`` cache).
    """
    if not isinstance(params, dict):
        raise ValueError(f"params: expected a dict of arrays, got {type(params).__name__}")
    return sequence.forward(Cell("rnn", params), X, h0)


def rnn_backward(dH, cache: dict) -> tuple[np.ndarray, np.ndarray, dict]:
    """Back-propagate through time.

    Inputs: dH (B, T, H), ``dL/dh_t`` from the loss at every step; cache from ``rnn_forward``.
    Returns: ``dX (B, T, D)``, ``dh0 (B, H)``, grads ``{"W_xh", "W_hh", "b_h"}`` summed over time.
    """
    dX, grads, dh0 = sequence.backward(dH, cache)
    return dX, dh0, grads


def clip_gradients(grads: dict, max_norm: float) -> tuple[dict, float]:
    """Global-norm clipping: returns the clipped gradients (new arrays) and the norm before clipping."""
    if not isinstance(grads, dict):
        raise ValueError(f"grads: expected a dict of arrays, got {type(grads).__name__}")
    return gradients.clip_by_global_norm(grads, max_norm)


def hidden_grad_norms(X, h0, params, dh_last) -> np.ndarray:
    """How the gradient of a loss on the last state shrinks or grows as it flows back in time.

    The loss reaches only the last state: ``dL/dh_{T-1} = dh_last`` (B, H) and ``dH_t = 0`` before.
    Returns a (T,) array, entry ``t`` the Frobenius norm over the batch of ``dL/dh_t``.
    """
    H, cache = rnn_forward(X, h0, params)
    dh_last = as_float_array("dh_last", dh_last, ndim=2)
    check_shape("dh_last", dh_last, H[:, -1].shape)
    check_finite("dh_last", dh_last)
    dH = np.zeros_like(H)
    dH[:, -1] = dh_last
    sequence.backward(dH, cache, record=True)
    dh = cache["grads"]["dh"]  # (B, T, H)
    return np.sqrt((dh * dh).sum(axis=(0, 2)))


def spectral_radius(W) -> float:
    """``max_k |lambda_k(W)|`` of a square matrix ``W`` (H, H)."""
    W = as_float_array("W", W, ndim=2)
    if W.shape[0] != W.shape[1]:
        raise ValueError(f"W: expected a square matrix, got shape {W.shape}")
    check_finite("W", W)
    return float(np.abs(np.linalg.eigvals(W)).max())
