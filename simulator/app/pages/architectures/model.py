"""The Architectures page's state (no GUI): an architecture, a cell, an example, and the reference run.

The run is ``simulator.architectures.<name>_forward``; the output probabilities are
``simulator.losses.softmax`` of its ``Y`` and each loss term is ``losses.softmax_cross_entropy`` of
one output step against the example's target. Nothing here computes a gate or a state.
Trained weights come from ``simulator.train.fit`` with ``architectures.objective`` (Adam, teacher
forcing for the generating architectures) on the example's four inputs, cached per setting.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import param

from simulator import architectures as arch
from simulator import losses, optim, train
from simulator.app.pages.architectures import examples
from simulator.cells import KINDS


@dataclass
class ArchitectureRun:
    """One forward pass of an architecture on its example, with what the page draws."""

    architecture: str
    example: examples.Example
    cache: dict                  # the forward cache (``phase``, ``input_source``, ``H``, ``Y``, ...)
    probs: np.ndarray            # (N, K) softmax of each output
    step_losses: np.ndarray      # (N,) cross-entropy of each output against its target
    loss: float                  # the mean over the outputs, as trained

    @property
    def S(self) -> int:
        """Number of steps drawn."""
        return len(self.cache["phase"])


TRAIN_ITERATIONS = 200
TRAIN_LR = 0.05


@lru_cache(maxsize=64)
def trained_params(architecture: str, kind: str, H: int, seed: int, length: int) -> tuple[dict, float, float]:
    """Parameters trained on every example input of ``architecture`` (one input per batch, Adam).

    Returns the parameters and the mean loss over the examples before and after training. Cached:
    the same settings give the same weights in every session (the caller must not modify them).
    """
    batches_list = []
    for item in range(len(examples.items(architecture))):
        ex = examples.example(architecture, item, length)
        batches_list.append((ex.x, ex.targets))
    first = examples.example(architecture, 0, length)
    params = arch.init_params(kind, first.x.shape[-1], H, len(first.classes),
                              decoder=architecture == "encoder_decoder", seed=seed)
    objective = arch.objective(architecture)

    def mean_loss() -> float:
        return float(np.mean([objective(params, b)[0] for b in batches_list]))

    def batches(rng: np.random.Generator):
        for k in rng.permutation(len(batches_list)):
            yield batches_list[k]

    before = mean_loss()
    train.fit(params, objective, batches, optim.Adam(lr=TRAIN_LR, clip_norm=5.0), iterations=TRAIN_ITERATIONS,
              seed=seed)
    return params, before, mean_loss()


def _length_key(architecture: str, length: int) -> int:
    """Only one-to-many's examples depend on ``length``; the others share one cache entry."""
    return length if architecture == "one_to_many" else 8


def run_architecture(architecture: str, kind: str, H: int, seed: int, item: int, length: int,
                     trained: bool = False) -> ArchitectureRun:
    """Build the example, take seeded (or trained) parameters and run the reference forward pass."""
    ex = examples.example(architecture, item, length)
    K = len(ex.classes)
    D = ex.x.shape[-1]
    if trained:
        params = trained_params(architecture, kind, H, seed, _length_key(architecture, length))[0]
    else:
        params = arch.init_params(kind, D, H, K, decoder=architecture == "encoder_decoder", seed=seed)
    forward = arch.FORWARD[architecture]
    if architecture in ("one_to_many", "encoder_decoder"):  # they generate T_out steps, reading back their argmax
        Y, cache = forward(ex.x, params, ex.T_out, feedback="argmax")
    else:
        Y, cache = forward(ex.x, params)
    Y3 = Y[:, None] if Y.ndim == 2 else Y  # (B, K) -> (B, 1, K)
    targets = ex.targets.reshape(1, -1)    # (1,) -> (1, N)
    probs = losses.softmax(Y3[0], axis=-1)
    step_losses = np.array([losses.softmax_cross_entropy(Y3[:, n], targets[:, n])[0]
                            for n in range(Y3.shape[1])])
    loss = losses.softmax_cross_entropy(Y3, targets)[0]
    return ArchitectureRun(architecture, ex, cache, probs, step_losses, float(loss))


class ArchitectureModel(param.Parameterized):
    """Settings of the Architectures page and the reference run they produce."""

    architecture = param.Selector(objects=list(examples.ARCHITECTURES), default="many_to_one",
                                  doc="Which inputs are read and which outputs are emitted over time.")
    kind = param.Selector(objects=list(KINDS), default="lstm", doc="The cell unrolled in every step.")
    H = param.Integer(default=6, bounds=(1, 16), doc="Hidden size H.")
    seed = param.Integer(default=0, bounds=(0, 2**31 - 1), doc="Seed of the initial weights.")
    trained = param.Boolean(default=True, doc="Train the weights on the example's four inputs first (Adam).")
    item = param.Integer(default=0, bounds=(0, 3), doc="Which example input (symbol, first note or song).")
    length = param.Integer(default=8, bounds=(1, 16), doc="Notes to generate (one-to-many).")
    s = param.Integer(default=0, bounds=(0, 200), doc="The step the animation has reached (0-based).")
    error = param.String(default="", doc="Why the last change could not be applied ('' when all is well).")
    run = param.ClassSelector(class_=ArchitectureRun, doc="The reference run of the current settings.")

    def __init__(self, **params):
        super().__init__(**params)
        self._recompute()

    @param.depends("architecture", "kind", "H", "seed", "item", "length", "trained", watch=True)
    def _recompute(self) -> None:
        try:
            run = run_architecture(self.architecture, self.kind, self.H, self.seed, self.item, self.length,
                                   self.trained)
        except ValueError as exc:
            self.error = str(exc)
            return
        with param.parameterized.batch_call_watchers(self):
            self.param.s.bounds = (0, run.S - 1)
            self.param.update(s=min(self.s, run.S - 1), run=run, error="")

    @property
    def training_losses(self) -> tuple[float, float] | None:
        """Mean loss over the examples before and after training, or None for untrained weights."""
        if not self.trained:
            return None
        key = _length_key(self.architecture, self.length)
        _, before, after = trained_params(self.architecture, self.kind, self.H, self.seed, key)
        return before, after

    def output_index(self, step: int) -> int | None:
        """Which output (index into ``Y``'s time axis) step ``step`` emits, or None."""
        where = np.flatnonzero(self.run.cache["output_steps"] == step)
        return int(where[0]) if len(where) else None
