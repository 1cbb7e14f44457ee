"""A training loop any model can use: seeded batches, an optimiser, early stopping and a progress callback.

A model is two functions: ``loss_and_grads(params, batch) -> (loss, grads)`` and, for early stopping,
``evaluate(params) -> score`` (higher is better, e.g. held-out accuracy). ``Trainer`` advances one
iteration at a time, so a web page can train live and pause between iterations; ``fit`` runs it to the end.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field

import numpy as np


@dataclass
class History:
    """What training did: one loss per iteration, one score per evaluation, the best score and when."""

    loss: list[float] = field(default_factory=list)
    grad_norm: list[float] = field(default_factory=list)
    score: list[float] = field(default_factory=list)
    score_iteration: list[int] = field(default_factory=list)
    best_score: float = -np.inf
    best_iteration: int = -1
    stopped_early: bool = False


class Trainer:
    """Train ``params`` (a dict of arrays, updated in place) one iteration at a time.

    Inputs:
    - params: dict of arrays; the optimiser updates them in place.
    - loss_and_grads: ``(params, batch) -> (loss, grads)`` with grads keyed like params.
    - batches: ``rng -> iterator of batches``; called again whenever it runs out (a new epoch).
    - optimizer: an object with ``step(params, grads)`` (``simulator.optim``).
    - evaluate: optional ``params -> score`` (higher is better), run every ``eval_every`` iterations.
    - patience: stop after this many evaluations without improvement and restore the best params.
    - seed: seeds the batch order.
    """

    def __init__(self, params: dict, loss_and_grads: Callable, batches: Callable[[np.random.Generator], Iterator],
                 optimizer, *, evaluate: Callable[[Mapping], float] | None = None, eval_every: int = 50,
                 patience: int | None = None, seed: int = 0) -> None:
        if eval_every < 1:
            raise ValueError(f"eval_every: expected a positive integer, got {eval_every}")
        if patience is not None and patience < 1:
            raise ValueError(f"patience: expected a positive integer or None, got {patience}")
        self.params, self.loss_and_grads, self.batches = params, loss_and_grads, batches
        self.optimizer, self.evaluate, self.eval_every, self.patience = optimizer, evaluate, eval_every, patience
        self.rng = np.random.default_rng(seed)
        self.history = History()
        self.iteration = 0
        self._iter: Iterator | None = None
        self._best: dict | None = None
        self._since_best = 0

    @property
    def done(self) -> bool:
        return self.history.stopped_early

    def _next_batch(self):
        for _ in range(2):
            if self._iter is None:
                self._iter = iter(self.batches(self.rng))
            try:
                return next(self._iter)
            except StopIteration:
                self._iter = None
        raise ValueError("batches: produced no batch; expected at least one batch per epoch")

    def step(self) -> float:
        """One iteration: a batch, its loss and gradients, an optimiser step; evaluate when due. Returns the loss."""
        loss, grads = self.loss_and_grads(self.params, self._next_batch())
        if not np.isfinite(loss):
            raise ValueError(f"loss: became {loss} at iteration {self.iteration}; "
                             "expected a finite value (lower the learning rate or clip gradients)")
        self.optimizer.step(self.params, grads)
        self.iteration += 1
        self.history.loss.append(float(loss))
        self.history.grad_norm.append(float(getattr(self.optimizer, "last_norm", np.nan)))
        if self.evaluate is not None and self.iteration % self.eval_every == 0:
            self._record_score(float(self.evaluate(self.params)))
        return float(loss)

    def _record_score(self, score: float) -> None:
        h = self.history
        h.score.append(score)
        h.score_iteration.append(self.iteration)
        if score > h.best_score:
            h.best_score, h.best_iteration = score, self.iteration
            self._best = {k: v.copy() for k, v in self.params.items()}
            self._since_best = 0
            return
        self._since_best += 1
        if self.patience is not None and self._since_best >= self.patience:
            h.stopped_early = True
            self.restore_best()

    def restore_best(self) -> None:
        """Copy the best-scoring parameters seen so far back into ``params``."""
        if self._best is not None:
            for k, v in self._best.items():
                self.params[k][...] = v

    def run(self, iterations: int, callback: Callable[[Trainer], bool | None] | None = None,
            target: float | None = None) -> History:
        """Up to ``iterations`` steps; stops early on patience, on reaching ``target`` score, or when
        ``callback(trainer)`` returns False. Restores the best parameters when evaluation was used.
        """
        for _ in range(iterations):
            self.step()
            if callback is not None and callback(self) is False:
                break
            if self.done or (target is not None and self.history.score and self.history.score[-1] >= target):
                break
        if self.evaluate is not None and self.history.best_iteration >= 0 and not self.done:
            self.restore_best()
        return self.history


def fit(params: dict, loss_and_grads: Callable, batches: Callable, optimizer, *, iterations: int,
        evaluate: Callable | None = None, eval_every: int = 50, patience: int | None = None,
        target: float | None = None, seed: int = 0, callback: Callable | None = None) -> History:
    """Train to the end (see ``Trainer``); returns the ``History``."""
    trainer = Trainer(params, loss_and_grads, batches, optimizer, evaluate=evaluate, eval_every=eval_every,
                      patience=patience, seed=seed)
    return trainer.run(iterations, callback=callback, target=target)


def minibatches(arrays: tuple[np.ndarray, ...], batch_size: int) -> Callable[[np.random.Generator], Iterator]:
    """A ``batches`` function that shuffles ``arrays`` (same first axis) each epoch and yields tuples."""
    n = len(arrays[0])
    if any(len(a) != n for a in arrays):
        raise ValueError(f"arrays: expected the same first dimension, got {[len(a) for a in arrays]}")
    if batch_size < 1:
        raise ValueError(f"batch_size: expected a positive integer, got {batch_size}")

    def batches(rng: np.random.Generator) -> Iterator:
        order = rng.permutation(n)
        for start in range(0, n, batch_size):
            idx = order[start : start + batch_size]
            yield tuple(a[idx] for a in arrays)

    return batches
