"""A many-to-one network on a long-range task: gradient-flow records and a live, stepwise training run.

The network is ``architectures.many_to_one`` (any cell, readout ``y = h_T W_hy + b_y``) with the
loss of ``losses`` (softmax cross-entropy for ``first_symbol``, mean squared error for ``adding``).
Its backward pass is the reference BPTT (``sequence.backward(record=True)``), which stores for every
step ``t`` the total gradient ``dL/dh_t`` (and ``dL/dc_t`` for the LSTM) and that step's contribution
``dW^{(t)}`` to every parameter gradient, ``dW = sum_t dW^{(t)}``.

Because only ``h_T`` is read, ``dL/dh_t = dL/dh_T (dh_T/dh_t)``: the gradient reaching step ``t`` is
the readout's gradient times the product of per-step Jacobians ``J_T ... J_{t+1}``
(``gradients.hidden_jacobians``). When those products shrink (vanish) the early steps get no signal;
when they grow (explode) a step is huge and clipping ``g <- g min(1, c / ||g||)`` keeps it bounded.

Index convention: arrays over time have ``T`` entries, entry ``t`` belongs to the hidden state output
``H[:, t]`` (the state after reading ``x_t``); the last one is ``h_T`` itself (``dh_T/dh_T = I``).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from simulator import architectures, gradients
from simulator.cells import KINDS, Cell
from simulator.lessons import tasks
from simulator.losses import mean_squared_error, softmax_cross_entropy
from simulator.optim import Adam
from simulator.train import Trainer
from simulator.validation import check_option


@dataclass(frozen=True)
class LabConfig:
    """Everything that defines a run; the same config and seed always give the same numbers.

    ``gate_bias`` is the initial bias that makes a gated cell keep its memory: the LSTM forget gate
    ``b_f`` (Keras' ``unit_forget_bias`` uses 1) and the GRU update gate ``b_xz`` (``z -> 1`` keeps
    ``h_{t-1}``); the RNN has no gate. ``clip`` is the global-norm threshold, ``None`` for no clipping.
    """

    kind: str = "lstm"
    task: str = "first_symbol"
    T: int = 30
    K: int = 8
    distractors: str = "noise"
    noise: float = 0.7
    hidden: int = 32
    batch: int = 32
    lr: float = 0.01
    clip: float | None = 1.0
    recurrent_init: str = "orthogonal"
    recurrent_scale: float = 1.0
    activation: str = "tanh"
    gate_bias: float = 3.0
    seed: int = 0
    eval_size: int = 500
    eval_every: int = 10
    probe_size: int = 1

    def __post_init__(self) -> None:
        check_option("kind", self.kind, KINDS)
        check_option("task", self.task, tasks.TASKS)
        check_option("activation", self.activation, ("tanh", "relu"))
        for name, low, high in (("T", 2, 500), ("K", 2, 64), ("hidden", 1, 256), ("batch", 1, 4096),
                                ("eval_size", 1, 100_000), ("eval_every", 1, 100_000), ("probe_size", 1, 64)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | np.integer) or not low <= value <= high:
                raise ValueError(f"{name}: expected an integer in [{low}, {high}], got {value!r}")
        for name in ("lr", "recurrent_scale", "gate_bias", "noise"):
            value = getattr(self, name)
            if not isinstance(value, int | float) or not np.isfinite(value):
                raise ValueError(f"{name}: expected a finite number, got {value!r}")
        if self.lr <= 0:
            raise ValueError(f"lr: expected a positive learning rate, got {self.lr}")
        if self.clip is not None and (not np.isfinite(self.clip) or self.clip <= 0):
            raise ValueError(f"clip: expected a positive threshold or None (no clipping), got {self.clip!r}")

    @property
    def input_size(self) -> int:
        return self.K if self.task == "first_symbol" else 2

    @property
    def output_size(self) -> int:
        return self.K if self.task == "first_symbol" else 1

    def data(self, n: int, seed: int) -> tasks.TaskData:
        """``n`` sequences of this config's task, length ``T``, from ``seed``."""
        return tasks.make(self.task, n, self.T, K=self.K, distractors=self.distractors, noise=self.noise, seed=seed)


def init_params(config: LabConfig) -> dict[str, np.ndarray]:
    """Cell parameters (``cells.init_params`` with the config's init) plus the readout ``W_hy, b_y``."""
    c = config
    extra = {"forget_bias": c.gate_bias} if c.kind == "lstm" else {}
    params = architectures.init_params(c.kind, c.input_size, c.hidden, c.output_size, seed=c.seed,
                                       recurrent_init=c.recurrent_init, recurrent_scale=c.recurrent_scale, **extra)
    if c.kind == "gru":
        params["b_x"][: c.hidden] = c.gate_bias  # update gate z: bias towards keeping h_{t-1}
    return params


def cell_of(params: dict, config: LabConfig) -> Cell:
    """The reference ``Cell`` holding (not copying) the cell's parameters of ``params``."""
    keys = architectures.CELL_KEYS[config.kind]
    return Cell(config.kind, {k: params[k] for k in keys}, activation=config.activation)


def _options(config: LabConfig) -> dict:
    return {"activation": config.activation} if config.kind == "rnn" else {}


def _loss(config: LabConfig, Y: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
    if config.task == "first_symbol":
        return softmax_cross_entropy(Y, y)
    return mean_squared_error(Y, y[:, None])


def correct(config: LabConfig, Y: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Which predictions are right: ``argmax y_hat == y`` (classes) or ``|y_hat - y| < tol`` (adding)."""
    if config.task == "first_symbol":
        return Y.argmax(axis=1) == y
    return np.abs(Y[:, 0] - y) < tasks.ADDING_TOLERANCE


@dataclass
class FlowRecord:
    """One forward and backward pass of the reference, with what the gradient-flow views draw.

    - loss (float), Y (B, K) outputs, grads (the keys of params): the reference gradients.
    - dh (B, T, H): total ``dL/dh_t``; dc (B, T, H) ``dL/dc_t`` for the LSTM, else None.
    - contrib: list of T dicts, step ``t``'s contribution to each cell parameter gradient.
    - dh_norm (T,): ``||dL/dh_t||`` averaged over the batch.
    - jacobians (B, T, H, H): ``dh_T/dh_t`` (None unless asked); jac_norm (T,): their largest singular
      value (the 2-norm) averaged over the batch.
    - seq: the ``sequence`` cache of the cell (its steps hold every gate).
    """

    loss: float
    Y: np.ndarray
    grads: dict
    dh: np.ndarray
    dc: np.ndarray | None
    contrib: list
    dh_norm: np.ndarray
    seq: dict
    jacobians: np.ndarray | None = None
    jac_norm: np.ndarray | None = None


def flow(params: dict, config: LabConfig, X: np.ndarray, y: np.ndarray, *, jacobians: bool = True) -> FlowRecord:
    """Forward, loss and recorded BPTT of the network on ``(X, y)``; optionally the Jacobians ``dh_T/dh_t``.

    Inputs: params (``init_params``), config, X (B, T, D), y (B,) labels or targets.
    Returns: a ``FlowRecord`` (every array read from the reference caches).
    """
    Y, cache = architectures.many_to_one_forward(X, params, **_options(config))
    loss, dY = _loss(config, Y, y)
    _, grads = architectures.many_to_one_backward(dY, cache, record=True)
    seq = cache["segments"][0]["seq"]
    rec = seq["grads"]
    dh = rec["dh"]
    record = FlowRecord(loss=loss, Y=Y, grads=grads, dh=dh, dc=rec.get("dc"), contrib=rec["contrib"],
                        dh_norm=np.linalg.norm(dh, axis=2).mean(axis=0), seq=seq)
    if jacobians:
        J = gradients.hidden_jacobians(seq)[:, 1:]  # (B, T+1, H, H) -> (B, T, H, H): entry t is dh_T/dh_t
        record.jacobians = J
        record.jac_norm = gradients.jacobian_norms(J).mean(axis=0)
    return record


def spectrum(params: dict, config: LabConfig) -> dict[str, dict]:
    """Singular values and spectral radius of each recurrent block (``gradients.recurrent_spectrum``)."""
    return gradients.recurrent_spectrum(cell_of(params, config))


def compare_cells(config: LabConfig, kinds: tuple[str, ...] = KINDS, n: int | None = None) -> dict[str, FlowRecord]:
    """The same ``n`` probe sequences and seed through each cell kind, freshly initialised by ``config``."""
    data = config.data(n or config.probe_size, seed=config.seed + 1)
    out = {}
    for kind in kinds:
        c = replace(config, kind=kind)
        out[kind] = flow(init_params(c), c, data.X, data.y)
    return out


@dataclass
class RunHistory:
    """Per iteration: loss, gradient norms before and after clipping, and ``||dL/dh_t||`` over t.

    ``accuracy`` holds held-out accuracies at the iterations in ``accuracy_iteration``; ``jac_norm``
    holds ``||dh_T/dh_t||`` over t on the probe sequences, measured before the iterations in
    ``jac_iteration`` (every ``jacobian_every`` iterations: the Jacobians cost more than a training step).
    """

    loss: list[float] = field(default_factory=list)
    grad_norm: list[float] = field(default_factory=list)
    clipped_norm: list[float] = field(default_factory=list)
    dh_norm: list[np.ndarray] = field(default_factory=list)
    jac_norm: list[np.ndarray] = field(default_factory=list)
    jac_iteration: list[int] = field(default_factory=list)
    accuracy: list[float] = field(default_factory=list)
    accuracy_iteration: list[int] = field(default_factory=list)


class LongRangeRun:
    """Live training of the network on the task, one iteration at a time (Adam, optional clipping).

    Each iteration draws a fresh batch (seeded) and records ``||dL/dh_t||`` of that batch and the
    gradient norm before and after clipping; every ``jacobian_every`` iterations it also records
    ``||dh_T/dh_t||`` on fixed probe sequences (the first ``probe_size`` held-out ones).
    Held-out accuracy (``eval_size`` sequences never trained on) is measured every ``eval_every``
    iterations and at iteration 0.
    """

    def __init__(self, config: LabConfig, *, jacobian_every: int = 1) -> None:
        if jacobian_every < 1:
            raise ValueError(f"jacobian_every: expected a positive integer, got {jacobian_every}")
        self.config = config
        self.jacobian_every = jacobian_every
        self.params = init_params(config)
        self.optimizer = Adam(lr=config.lr, clip_norm=config.clip)
        held_out = config.data(config.eval_size, seed=config.seed + 1)
        self.eval_X, self.eval_y = held_out.X, held_out.y
        self.probe_X, self.probe_y = held_out.X[: config.probe_size], held_out.y[: config.probe_size]
        self.chance = held_out.chance
        self.history = RunHistory()
        self.last: FlowRecord | None = None
        self.trainer = Trainer(self.params, self._loss_and_grads, self._batches, self.optimizer,
                               evaluate=self.accuracy, eval_every=config.eval_every, seed=config.seed)
        self._record_accuracy(0, self.accuracy(self.params))

    @property
    def iteration(self) -> int:
        return self.trainer.iteration

    def _batches(self, rng: np.random.Generator):
        while True:
            d = self.config.data(self.config.batch, seed=int(rng.integers(2**31)))
            yield d.X, d.y

    def _loss_and_grads(self, params: dict, batch: tuple) -> tuple[float, dict]:
        self.last = flow(params, self.config, *batch, jacobians=False)
        return self.last.loss, self.last.grads

    def accuracy(self, params: dict | None = None) -> float:
        """Held-out accuracy of the current parameters."""
        Y, _ = architectures.many_to_one_forward(self.eval_X, params or self.params, **_options(self.config))
        return float(correct(self.config, Y, self.eval_y).mean())

    def probe(self) -> FlowRecord:
        """The gradient flow (with Jacobians) of the current parameters on the fixed probe sequences."""
        return flow(self.params, self.config, self.probe_X, self.probe_y)

    def _record_accuracy(self, iteration: int, value: float) -> None:
        self.history.accuracy.append(value)
        self.history.accuracy_iteration.append(iteration)

    def step(self, n: int = 1) -> float:
        """``n`` training iterations; returns the last loss. Raises ``ValueError`` if the loss diverges."""
        h, th = self.history, self.trainer.history
        loss = float("nan")
        for _ in range(n):
            if self.iteration % self.jacobian_every == 0:
                h.jac_norm.append(self.probe().jac_norm)
                h.jac_iteration.append(self.iteration + 1)
            loss = self.trainer.step()
            norm = th.grad_norm[-1]
            h.loss.append(loss)
            h.grad_norm.append(norm)
            clip = self.config.clip
            h.clipped_norm.append(norm if clip is None else min(norm, clip))
            h.dh_norm.append(self.last.dh_norm)
            if len(th.score) > len(h.accuracy) - 1:
                self._record_accuracy(th.score_iteration[-1], th.score[-1])
        return loss

    def train(self, iterations: int) -> float:
        """Train ``iterations`` more; returns the held-out accuracy at the end."""
        self.step(iterations)
        return self.accuracy()


RECURRENT_KEY = {"rnn": "W_hh", "lstm": "W_h", "gru": "W_h"}
INPUT_KEY = {"rnn": "W_xh", "lstm": "W_x", "gru": "W_x"}
BIAS_KEY = {"rnn": "b_h", "lstm": "b", "gru": "b_x"}
WEIGHT_KEYS = {"recurrent": RECURRENT_KEY, "input": INPUT_KEY, "bias": BIAS_KEY}


@dataclass
class BackwardWalk:
    """BPTT of one sequence, step by step from ``t = T-1`` back to ``0``, as the backward animation shows it.

    - X (T, D), y (label or target), loss, dy (K,) = dL/dy (the readout's gradient).
    - dh (T, H): total ``dL/dh_t``; dc (T, H) for the LSTM, else None.
    - contrib: dict parameter name -> (T, *shape): step ``t``'s contribution ``dW^{(t)}`` (cell params).
    - running: the same keys, ``running[k][t] = sum_{s >= t} contrib[k][s]``: the sum after the backward
      pass has processed steps ``T-1 .. t``; ``running[k][0]`` is the full gradient ``grads[k]``.
    - grads: the reference gradients of every parameter (readout included).
    - record: the ``FlowRecord`` everything was read from.
    """

    X: np.ndarray
    y: object
    loss: float
    dy: np.ndarray
    dh: np.ndarray
    dc: np.ndarray | None
    contrib: dict
    running: dict
    grads: dict
    record: FlowRecord


def backward_walk(config: LabConfig, params: dict | None = None, *, seed: int | None = None) -> BackwardWalk:
    """One sequence of the task (``seed``, default ``config.seed + 2``) forward, then the recorded BPTT.

    The running sums add the reference's per-step contributions in the order BPTT produces them.
    """
    params = init_params(config) if params is None else params
    data = config.data(1, seed=config.seed + 2 if seed is None else seed)
    rec = flow(params, config, data.X, data.y, jacobians=False)
    contrib = {k: np.stack([c[k] for c in rec.contrib]) for k in rec.contrib[0]}  # T x shape -> (T, *shape)
    running = {k: np.cumsum(v[::-1], axis=0)[::-1] for k, v in contrib.items()}  # sum over s >= t
    _, dY = _loss(config, rec.Y, data.y)
    return BackwardWalk(X=data.X[0], y=data.y[0], loss=rec.loss, dy=dY[0], dh=rec.dh[0],
                        dc=None if rec.dc is None else rec.dc[0], contrib=contrib, running=running,
                        grads=rec.grads, record=rec)
