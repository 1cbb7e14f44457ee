"""Gradient tools: finite differences, global-norm clipping, Jacobians dh_T/dh_t and spectra of recurrent weights."""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np

from simulator import fused
from simulator.cells import GATES, Cell


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


# ----------------------------------------------------------------------------- Jacobians through time
def _state_size(cell: Cell) -> int:
    return 2 * cell.hidden_size if cell.kind == "lstm" else cell.hidden_size


def _repeat_cache(step_cache: Mapping, B: int, S: int) -> dict:
    """The step cache with every per-example array repeated ``S`` times: batch ``B`` -> ``B*S``."""
    out = {}
    for k, v in step_cache.items():
        if isinstance(v, np.ndarray) and v.ndim >= 1 and v.shape[0] == B:
            v = np.repeat(v, S, axis=0)  # (B, ...) -> (B*S, ...)
        out[k] = v
    return out


def step_jacobians(cache: Mapping) -> np.ndarray:
    """Per-step Jacobians ``J_t = ds_t / ds_{t-1}`` of a forward cache, one matrix per example and step.

    The state ``s_t`` is ``h_t`` (RNN, GRU) or the concatenation ``(h_t, c_t)`` (LSTM), size ``S = H`` or
    ``2H``; ``s_0`` is ``state0`` and ``s_t`` the state after step ``t``. ``J_t[j, k] = d s_t[j] / d s_{t-1}[k]``.
    Computed exactly, not by finite differences: row ``j`` of ``J_t`` is the cell core's backward
    (``fused.*_core_backward``, the same derivative BPTT uses) applied to the one-hot upstream gradient ``e_j``,
    all ``S`` rows at once as a batch of ``B*S``.

    Inputs: cache from ``sequence.forward`` with a reference cell (or the reference step functions).
    Returns: ``J`` (B, T, S, S) with ``J[:, t-1] = ds_t/ds_{t-1}`` for ``t = 1 .. T``.
    Cost: one backward step of batch ``B*S`` per time step, memory ``O(B S^2 T)``: meant for the
    simulator's sizes (H up to a few dozen), not for large layers.
    """
    cell, steps = _jacobian_inputs(cache)
    B = cache["X"].shape[0]
    H, S = cell.hidden_size, _state_size(cell)
    params = cache["params"]
    core_backward = fused.CORE_BACKWARDS[cell.kind]
    eye = np.tile(np.eye(S, dtype=cache["X"].dtype), (B, 1))  # (B*S, S): one-hot upstream rows per example
    J = np.empty((B, len(steps), S, S), dtype=cache["X"].dtype)
    for t, step_cache in enumerate(steps):
        rep = _repeat_cache(step_cache, B, S)
        if cell.kind == "lstm":
            _, dh_prev, dc_prev, _ = core_backward(eye[:, :H], eye[:, H:], rep, params, param_grads=False)
            rows = np.concatenate([dh_prev, dc_prev], axis=1)  # (B*S, 2H)
        else:
            _, rows, _ = core_backward(eye, rep, params, param_grads=False)
        J[:, t] = rows.reshape(B, S, S)  # (B*S, S) -> (B, S, S)
    return J


def state_jacobians(cache: Mapping) -> np.ndarray:
    """``ds_T / ds_t`` for every ``t = 0 .. T``: the product of per-step Jacobians ``J_T J_{T-1} ... J_{t+1}``.

    Returns: (B, T+1, S, S); index ``t`` is the state after ``t`` steps (``0`` is ``state0``), index ``T`` is
    the identity. For the LSTM ``S = 2H`` and the state is ``(h, c)``; see ``hidden_jacobians`` for the blocks.
    This is how much a nudge to the state at step ``t`` moves the final state: vanishing norms mean
    the final state (and so BPTT's gradient) barely depends on early steps.
    """
    J = step_jacobians(cache)
    B, T, S, _ = J.shape
    out = np.empty((B, T + 1, S, S), dtype=J.dtype)
    out[:, T] = np.eye(S, dtype=J.dtype)
    for t in range(T - 1, -1, -1):
        np.matmul(out[:, t + 1], J[:, t], out=out[:, t])  # ds_T/ds_t = ds_T/ds_{t+1} ds_{t+1}/ds_t
    return out


def hidden_jacobians(cache: Mapping) -> np.ndarray:
    """``dh_T / dh_t`` for every ``t = 0 .. T``: (B, T+1, H, H), index ``T`` the identity.

    RNN and GRU: the full ``state_jacobians``. LSTM: the ``(h, h)`` block of ``d(h_T, c_T) / d(h_t, c_t)``,
    i.e. the partial derivative of ``h_T`` with respect to ``h_t`` with ``c_t`` held fixed (paths through
    later cell states are included: the block is taken after the product, not before).
    """
    Js = state_jacobians(cache)
    H = cache["cell"].hidden_size
    return Js[:, :, :H, :H]


def jacobian_norms(J: np.ndarray, ord: int | str = 2) -> np.ndarray:
    """Matrix norm of each Jacobian in ``J`` (..., S, S): ``ord=2`` the largest singular value, ``"fro"`` Frobenius."""
    J = np.asarray(J)
    if J.ndim < 2 or J.shape[-1] != J.shape[-2]:
        raise ValueError(f"J: expected an array of square matrices (..., S, S), got shape {J.shape}")
    if ord == 2:
        return np.linalg.svd(J, compute_uv=False)[..., 0]
    if ord == "fro":
        return np.sqrt((J * J).sum(axis=(-2, -1)))
    raise ValueError(f"ord: got {ord!r}; expected 2 or 'fro'")


def _jacobian_inputs(cache) -> tuple[Cell, list]:
    if not isinstance(cache, Mapping) or not {"cell", "steps", "params", "X"} <= set(cache):
        raise ValueError("cache: expected the cache returned by sequence.forward (keys cell, steps, params, X)")
    cell = cache["cell"]
    needed = {"rnn": ("h", "h_prev", "a"), "lstm": ("i", "f", "g", "o", "tanh_c", "c_prev", "h_prev", "a"),
              "gru": ("z", "r", "n", "h_prev", "hw", "rh", "reset_after")}[cell.kind]
    missing = [k for k in needed if k not in cache["steps"][0]]
    if missing:
        raise ValueError(f"cache: step caches lack {missing}; expected the named intermediates of the reference "
                         f"{cell.kind} cell (Jacobians use the reference derivatives)")
    return cell, cache["steps"]


# ----------------------------------------------------------------------------- spectra of recurrent weights
def singular_values(W: np.ndarray) -> np.ndarray:
    """Singular values of a matrix, largest first."""
    W = np.asarray(W)
    if W.ndim != 2:
        raise ValueError(f"W: expected a 2-D matrix, got shape {W.shape}")
    return np.linalg.svd(W, compute_uv=False)


def spectral_radius(W: np.ndarray) -> float:
    """``max |lambda|`` over the eigenvalues of a square matrix ``W``."""
    W = np.asarray(W)
    if W.ndim != 2 or W.shape[0] != W.shape[1]:
        raise ValueError(f"W: expected a square matrix, got shape {W.shape}")
    return float(np.abs(np.linalg.eigvals(W)).max())


def recurrent_spectrum(cell: Cell) -> dict[str, dict]:
    """Singular values and spectral radius of each recurrent ``(H, H)`` matrix of ``cell``.

    RNN: ``{"W_hh": ...}``; LSTM: one entry per gate block of ``W_h`` (``"i", "f", "g", "o"``);
    GRU: ``"z", "r", "n"``. Each entry: ``{"singular_values": (H,), "spectral_radius": float,
    "norm": float}`` (``norm`` = largest singular value). For ``h_t = tanh(h_{t-1} W_hh + ...)``,
    ``||dh_t/dh_{t-1}|| <= ||W_hh||``, so a largest singular value below 1 guarantees vanishing Jacobians.
    """
    if not isinstance(cell, Cell):
        raise ValueError(f"cell: expected a simulator.cells.Cell, got {type(cell).__name__}")
    cell.check_params()
    H = cell.hidden_size
    if cell.kind == "rnn":
        blocks = {"W_hh": cell.params["W_hh"]}
    else:
        W_h = cell.params["W_h"]
        blocks = {name: W_h[:, k * H : (k + 1) * H] for k, name in enumerate(GATES[cell.kind])}
    out = {}
    for name, W in blocks.items():
        sv = singular_values(W)
        out[name] = {"singular_values": sv, "spectral_radius": spectral_radius(W), "norm": float(sv[0])}
    return out
