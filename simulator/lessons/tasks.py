"""Seeded synthetic long-range tasks: the answer depends on an input many steps before the end.

Each generator isolates one idea: the network must carry information from an early step to the
last one, across ``T - 1`` steps of distraction, so the gradient must flow back as far.

* ``first_symbol``: classification. ``x_0`` is the one-hot code of a symbol from an alphabet of
  ``K``; the label is that symbol; the other ``T - 1`` inputs are distractors: Gaussian noise
  ``x_t ~ N(0, noise^2 I)`` (default) or random symbols of the same alphabet. Chance accuracy is ``1 / K``.
* ``adding``: regression (Hochreiter and Schmidhuber 1997). ``x_t = (v_t, m_t)`` with values
  ``v_t ~ U(0, 1)`` and a marker ``m_t`` that is 1 at exactly two steps, one in the first half of
  the sequence and one in the second; the target is ``y = sum_t m_t v_t``. Predicting the mean
  (``y = 1``) gives a mean squared error of about ``1/6``.

Sequences are batch-first ``(N, T, D)`` float64, as ``sequence.forward`` takes them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

TASKS = ("first_symbol", "adding")
DISTRACTORS = ("noise", "symbols")
ADDING_TOLERANCE = 0.04  # the adding problem counts a prediction as right when |y_hat - y| < this


@dataclass(frozen=True)
class TaskData:
    """A batch of a task: inputs ``X (N, T, D)``, targets ``y`` and what a metric needs to know.

    ``y`` is ``(N,)`` int class labels for classification and ``(N,)`` floats for regression.
    """

    name: str
    X: np.ndarray
    y: np.ndarray
    kind: str  # "classification" or "regression"
    num_outputs: int  # K classes, or 1 for regression
    chance: float  # accuracy of guessing (classification) or of predicting the mean (regression)


def _check_int(name: str, value, low: int, high: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise ValueError(f"{name}: expected an integer, got {value!r}")
    if value < low or (high is not None and value > high):
        bounds = f">= {low}" if high is None else f"in [{low}, {high}]"
        raise ValueError(f"{name}: expected an integer {bounds}, got {value}")
    return int(value)


def first_symbol(n: int, T: int, K: int = 4, *, distractors: str = "noise", noise: float = 1.0,
                 seed: int = 0) -> TaskData:
    """Remember the first symbol.

    Inputs:
    - n: number of sequences N.
    - T: sequence length (>= 2; the answer is ``T - 1`` steps before the end).
    - K: alphabet size (>= 2); also the input size D and the number of classes.
    - distractors: ``"noise"``: ``x_t ~ N(0, noise^2 I)`` for ``t >= 1``; ``"symbols"``: one-hot codes
      of uniformly random symbols.
    - noise: standard deviation of the noise distractors (>= 0).
    - seed: seeds the generator; the same arguments always give the same data.

    Returns: ``TaskData`` with ``X (N, T, K)`` and ``y (N,)`` = the symbol at ``t = 0``.
    """
    n = _check_int("n", n, 1)
    T = _check_int("T", T, 2, 10_000)
    K = _check_int("K", K, 2, 256)
    if distractors not in DISTRACTORS:
        raise ValueError(f"distractors: got {distractors!r}; expected one of {', '.join(map(repr, DISTRACTORS))}")
    if not isinstance(noise, int | float) or not np.isfinite(noise) or noise < 0:
        raise ValueError(f"noise: expected a finite number >= 0, got {noise!r}")
    rng = np.random.default_rng(seed)
    symbols = rng.integers(0, K, size=(n, T))  # (N, T)
    X = np.eye(K)[symbols]  # (N, T) -> (N, T, K)
    if distractors == "noise":
        X[:, 1:] = noise * rng.standard_normal((n, T - 1, K))
    return TaskData("first_symbol", X, symbols[:, 0].copy(), "classification", K, 1.0 / K)


def adding(n: int, T: int, *, seed: int = 0) -> TaskData:
    """The adding problem.

    Inputs: n sequences of length T (>= 2), seed.
    Returns: ``TaskData`` with ``X (N, T, 2)`` (channel 0 the values, channel 1 the markers) and
    ``y (N,)`` the sum of the two marked values; ``chance`` is the fraction of targets within
    ``ADDING_TOLERANCE`` of 1, the best constant prediction.
    """
    n = _check_int("n", n, 1)
    T = _check_int("T", T, 2, 10_000)
    rng = np.random.default_rng(seed)
    values = rng.uniform(0.0, 1.0, size=(n, T))
    half = T // 2
    first = rng.integers(0, half, size=n)
    second = rng.integers(half, T, size=n)
    markers = np.zeros((n, T))
    rows = np.arange(n)
    markers[rows, first] = 1.0
    markers[rows, second] = 1.0
    X = np.stack([values, markers], axis=2)  # 2 x (N, T) -> (N, T, 2)
    y = values[rows, first] + values[rows, second]
    # the sum of two U(0,1) has density 1 - |y - 1| near 1: P(|y - 1| < tol) = 2 tol - tol^2
    chance = 2 * ADDING_TOLERANCE - ADDING_TOLERANCE**2
    return TaskData("adding", X, y, "regression", 1, chance)


def make(name: str, n: int, T: int, *, K: int = 4, distractors: str = "noise", noise: float = 1.0,
         seed: int = 0) -> TaskData:
    """A task by name (``"first_symbol"`` or ``"adding"``; ``K``, ``distractors``, ``noise`` for the first)."""
    if name == "first_symbol":
        return first_symbol(n, T, K, distractors=distractors, noise=noise, seed=seed)
    if name == "adding":
        return adding(n, T, seed=seed)
    raise ValueError(f"name: got {name!r}; expected one of {', '.join(map(repr, TASKS))}")
