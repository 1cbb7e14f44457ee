"""The optimiser that updates a dict of parameter arrays in place: Adam, with optional global-norm clipping."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from simulator.gradients import clip_by_global_norm, global_norm


class Adam:
    """Adam (Kingma and Ba 2015): ``m = b1 m + (1-b1) g``, ``v = b2 v + (1-b2) g^2``,
    ``p -= lr * m_hat / (sqrt(v_hat) + eps)``, bias-corrected ``m_hat = m / (1 - b1^t)``,
    ``v_hat = v / (1 - b2^t)``.
    """

    def __init__(self, lr: float = 1e-3, beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8,
                 clip_norm: float | None = None) -> None:
        _check_positive("lr", lr)
        for name, b in (("beta1", beta1), ("beta2", beta2)):
            if not 0 <= b < 1:
                raise ValueError(f"{name}: expected a number in [0, 1), got {b}")
        self.lr, self.beta1, self.beta2, self.eps, self.clip_norm = lr, beta1, beta2, eps, clip_norm
        self.m: dict[str, np.ndarray] = {}
        self.v: dict[str, np.ndarray] = {}
        self.t = 0
        self.last_norm = 0.0

    def step(self, params: Mapping[str, np.ndarray], grads: Mapping[str, np.ndarray]) -> None:
        grads = _clipped(self, grads)
        self.t += 1
        c1 = 1.0 - self.beta1**self.t
        c2 = 1.0 - self.beta2**self.t
        for k, g in grads.items():
            m = self.m.setdefault(k, np.zeros_like(params[k]))
            v = self.v.setdefault(k, np.zeros_like(params[k]))
            m *= self.beta1
            m += (1.0 - self.beta1) * g
            v *= self.beta2
            v += (1.0 - self.beta2) * g * g
            params[k] -= (self.lr / c1) * m / (np.sqrt(v / c2) + self.eps)


def _check_positive(name: str, value: float) -> None:
    if not np.isfinite(value) or value <= 0:
        raise ValueError(f"{name}: expected a positive finite number, got {value}")


def _clipped(opt, grads: Mapping[str, np.ndarray]) -> Mapping[str, np.ndarray]:
    """Clip by global norm when the optimiser has ``clip_norm``; remember the norm before clipping."""
    if opt.clip_norm is None:
        opt.last_norm = global_norm(grads)
        return grads
    clipped, opt.last_norm = clip_by_global_norm(grads, opt.clip_norm)
    return clipped
