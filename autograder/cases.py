"""Inputs the checks choose: small fixed cases for visible tests, seeded random shapes for hidden tests.

Every case has random (never zero) biases and random upstream gradients, since zero biases and
all-ones gradients hide bugs. Hidden cases include size-1 batch, input and hidden dimensions.
"""

from __future__ import annotations

import numpy as np

from simulator.cells import param_shapes

VISIBLE_SHAPES = [(2, 3, 4), (1, 2, 3)]
HIDDEN_SEED = 20_241
HIDDEN_TRIALS = 5


def hidden_shapes(n: int = HIDDEN_TRIALS, seed: int = HIDDEN_SEED, high: int = 5) -> list[tuple[int, int, int]]:
    """``n`` seeded random ``(B, D, H)``: the first all ones, the second with ``D == H`` (so a transposed
    ``W_xh`` type-checks and can be diagnosed), the rest drawn from ``1 .. high`` with one size forced to 1.
    """
    rng = np.random.default_rng(seed)
    shapes = [(1, 1, 1)]
    B, D = (int(v) for v in rng.integers(2, high + 1, size=2))
    shapes.append((B, D, D))
    while len(shapes) < n:
        shape = [int(v) for v in rng.integers(1, high + 1, size=3)]
        shape[len(shapes) % 3] = 1
        shapes.append(tuple(shape))
    return shapes[:n]


HIDDEN_SHAPES = hidden_shapes()


def _rng(hidden: bool, k: int) -> np.random.Generator:
    return np.random.default_rng((HIDDEN_SEED if hidden else 7) + 101 * k)


def random_params(kind: str, D: int, H: int, rng: np.random.Generator, scale: float = 0.6) -> dict:
    """Gaussian weights and biases, scaled so that gates are neither saturated nor linear."""
    return {k: scale * rng.standard_normal(s) for k, s in param_shapes(kind, D, H).items()}


def step_cases(kind: str, hidden: bool, T: int | None = None) -> list[dict]:
    """Cases for one step of ``kind``: x (B, D), h_prev (B, H) [c_prev], params, dh [dc] (B, H)."""
    out = []
    for k, (B, D, H) in enumerate(HIDDEN_SHAPES if hidden else VISIBLE_SHAPES):
        rng = _rng(hidden, k)
        case = {"label": f"B={B}, D={D}, H={H}", "x": rng.standard_normal((B, D)),
                "h_prev": 0.8 * rng.standard_normal((B, H)), "params": random_params(kind, D, H, rng),
                "dh": rng.standard_normal((B, H))}
        if kind == "lstm":
            case["c_prev"] = rng.standard_normal((B, H))
            case["dc"] = rng.standard_normal((B, H))
        case["recipe"] = f"step_cases({kind!r}, hidden={hidden})[{k}]"
        out.append(case)
    return out


def sequence_cases(hidden: bool) -> list[dict]:
    """Cases for an RNN over time: X (B, T, D), h0 (B, H), params, dH (B, T, H), dh_last (B, H)."""
    out = []
    Ts = [5, 1, 6, 3, 4] if hidden else [4, 3]
    for k, ((B, D, H), T) in enumerate(zip(HIDDEN_SHAPES if hidden else VISIBLE_SHAPES, Ts, strict=False)):
        rng = _rng(hidden, 50 + k)
        out.append({"label": f"B={B}, T={T}, D={D}, H={H}", "X": rng.standard_normal((B, T, D)),
                    "h0": 0.8 * rng.standard_normal((B, H)), "params": random_params("rnn", D, H, rng),
                    "dH": rng.standard_normal((B, T, H)), "dh_last": rng.standard_normal((B, H)),
                    "recipe": f"sequence_cases(hidden={hidden})[{k}]"})
    return out


def clip_cases(hidden: bool) -> list[dict]:
    """Gradient dicts with global norms above and below ``max_norm``."""
    out = []
    n = 5 if hidden else 2
    for k in range(n):
        rng = _rng(hidden, 80 + k)
        D, H = (int(v) for v in rng.integers(1, 5, size=2)) if hidden else (3, 4)
        grads = {"W_xh": rng.standard_normal((D, H)), "W_hh": rng.standard_normal((H, H)),
                 "b_h": rng.standard_normal(H)}
        norm = float(np.sqrt(sum((g * g).sum() for g in grads.values())))
        max_norm = norm * (0.3 if k % 2 == 0 else 2.0)
        out.append({"label": f"D={D}, H={H}, norm {norm:.3g}, max_norm {max_norm:.3g}", "grads": grads,
                    "max_norm": max_norm})
    return out


def matrix_cases(hidden: bool) -> list[dict]:
    """Non-symmetric square matrices (spectral radius, spectral norm and largest real part differ)."""
    out = []
    sizes = [1, 4, 6, 3, 5] if hidden else [3, 4]
    for k, n in enumerate(sizes):
        rng = _rng(hidden, 90 + k)
        W = rng.standard_normal((n, n)) / np.sqrt(n)
        if k % 2 == 1:
            W = W - 1.5 * np.eye(n)  # a negative-dominated spectrum: modulus and real part part ways
        out.append({"label": f"W {n}x{n}", "W": W})
    return out
