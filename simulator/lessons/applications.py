"""The lesson's four applications, each as data + model + training + held-out evaluation, seeded and CPU-sized.

=====================  ====================================  =========================================
task                   model                                  held-out metric (``Result.metrics``)
=====================  ====================================  =========================================
``train_video``        CRNN (CNN per frame -> cell -> K)      ``accuracy``; ``baseline_accuracy`` of a
                                                              frame-averaging classifier (order-blind)
``train_digits``       CRNN over a row of digit images        ``accuracy`` of the next term
``train_sentiment``    word vectors -> cell -> 2 (many-to-one) ``accuracy``
``train_forecaster``   returns -> cell -> next return         ``rmse`` of prices vs the naive last-value
                       (many-to-one or many-to-many)          forecast's ``naive_rmse``; ``ratio``
=====================  ====================================  =========================================

Every ``train_*`` function takes ``kind`` (``"rnn"``, ``"lstm"``, ``"gru"``), ``seed``, ``iterations``
and ``progress``: a function called after every iteration with the ``simulator.train.Trainer``
(``trainer.iteration``, ``trainer.history.loss``, ``trainer.history.score``); returning False stops
training. Early stopping watches a validation split carved from the training data; the test split
is only used for the reported metrics. Each returns a ``Result`` whose ``model`` has
``forward(X) -> (Y, cache)``, ``backward(dY, cache)`` and ``predict(X)``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from simulator import architectures, conv, losses
from simulator.crnn import CRNN
from simulator.lessons import data
from simulator.optim import Adam
from simulator.train import History, Trainer, minibatches
from simulator.validation import check_option


@dataclass
class SequenceModel:
    """An ``architectures`` model (``many_to_one`` or ``many_to_many``) with its flat ``params`` dict."""

    architecture: str
    params: dict
    activation: str = "tanh"

    @classmethod
    def create(cls, architecture: str, kind: str, input_size: int, hidden_size: int, output_size: int, *,
               seed: int = 0, **cell_init) -> SequenceModel:
        check_option("architecture", architecture, ("many_to_one", "many_to_many"))
        return cls(architecture, architectures.init_params(kind, input_size, hidden_size, output_size, seed=seed,
                                                           **cell_init))

    @property
    def kind(self) -> str:
        return architectures.infer_kind(self.params)

    def forward(self, X) -> tuple[np.ndarray, dict]:
        return architectures.FORWARD[self.architecture](X, self.params, activation=self.activation)

    def backward(self, dY, cache: dict) -> tuple[np.ndarray, dict]:
        return architectures.BACKWARD[self.architecture](dY, cache)

    def predict(self, X, batch_size: int = 512) -> np.ndarray:
        X = np.asarray(X)
        return np.concatenate([self.forward(X[k : k + batch_size])[0] for k in range(0, len(X), batch_size)])


@dataclass
class Result:
    """A trained model, its training history, held-out metrics and the data it saw."""

    task: str
    model: CRNN | SequenceModel
    history: History
    metrics: dict
    data: data.TaskData
    extras: dict = field(default_factory=dict)


def accuracy(logits: np.ndarray, y: np.ndarray) -> float:
    """Fraction of rows whose largest logit is the label."""
    return float(np.mean(np.argmax(logits, axis=-1) == y))


def _validation_split(X: np.ndarray, y: np.ndarray, fraction: float, seed: int):
    """Shuffle once and keep ``fraction`` of the training data aside for early stopping."""
    order = np.random.default_rng([seed, 11]).permutation(len(X))
    n_val = max(1, int(len(X) * fraction))
    val, tr = order[:n_val], order[n_val:]
    return X[tr], y[tr], X[val], y[val]


def train_model(model, X: np.ndarray, y: np.ndarray, *, loss: str, X_val: np.ndarray, y_val: np.ndarray,
                iterations: int, batch_size: int = 32, lr: float = 0.01, clip_norm: float | None = 5.0,
                eval_every: int = 25, patience: int | None = 12, target: float | None = None, seed: int = 0,
                progress: Callable | None = None, transform: Callable | None = None) -> History:
    """Adam on minibatches; score = validation accuracy (``loss="ce"``) or minus validation MSE (``"mse"``).

    ``transform`` maps a batch of stored inputs to model inputs (e.g. word ids -> one-hot vectors).
    """
    check_option("loss", loss, ("ce", "mse"))
    for name, value in (("iterations", iterations), ("batch_size", batch_size)):
        if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
            raise ValueError(f"{name}: expected a positive integer, got {value!r}")
    prep = transform or (lambda a: a)
    loss_fn = losses.softmax_cross_entropy if loss == "ce" else losses.mean_squared_error
    Xv = prep(X_val)

    def loss_and_grads(params, batch):
        Xb, yb = batch
        Y, cache = model.forward(prep(Xb))
        value, dY = loss_fn(Y, yb)
        return value, model.backward(dY, cache)[1]

    def evaluate(params) -> float:
        Y = model.predict(Xv)
        return accuracy(Y, y_val) if loss == "ce" else -losses.mean_squared_error(Y, y_val)[0]

    trainer = Trainer(model.params, loss_and_grads, minibatches((X, y), batch_size), Adam(lr, clip_norm=clip_norm),
                      evaluate=evaluate, eval_every=eval_every, patience=patience, seed=seed)
    return trainer.run(iterations, callback=progress, target=target)


# ----------------------------------------------------------------------------- 1. video classification
VIDEO_CNN = ({"kind": "conv", "filters": 4, "kernel": 3, "padding": 1}, {"kind": "relu"}, {"kind": "pool", "size": 2},
             {"kind": "flatten"}, {"kind": "dense", "units": 16}, {"kind": "relu"})


def frame_average_baseline(task: data.TaskData, *, iterations: int = 600, lr: float = 0.05) -> float:
    """Held-out accuracy of softmax regression on the average frame (``data.frame_average``): order-blind."""
    Xtr, Xte = data.frame_average(task.X_train), data.frame_average(task.X_test)
    K = int(max(task.y_train.max(), task.y_test.max())) + 1
    params = {"W": np.zeros((Xtr.shape[1], K)), "b": np.zeros(K)}
    opt = Adam(lr)
    for _ in range(iterations):  # full batch: a convex problem
        Y, cache = conv.dense_forward(Xtr, params["W"], params["b"])
        _, dY = losses.softmax_cross_entropy(Y, task.y_train)
        opt.step(params, conv.dense_backward(dY, cache)[1])
    return accuracy(conv.dense_forward(Xte, params["W"], params["b"])[0], task.y_test)


def train_video(*, kind: str = "gru", classes: tuple[str, ...] = ("right", "left"), n: int = 600, frames: int = 6,
                size: int = 12, hidden_size: int = 16, iterations: int = 400, seed: int = 0,
                progress: Callable | None = None) -> Result:
    """Video classification by the direction of motion with a CRNN; also fits the frame-averaging baseline."""
    task = data.moving_shapes(n, frames=frames, size=size, classes=classes, seed=seed)
    model = CRNN.create((1, size, size), len(classes), cnn=VIDEO_CNN, kind=kind, hidden_size=hidden_size, seed=seed)
    Xtr, ytr, Xv, yv = _validation_split(task.X_train, task.y_train, 0.15, seed)
    history = train_model(model, Xtr, ytr, loss="ce", X_val=Xv, y_val=yv, iterations=iterations, lr=0.01,
                          target=1.0, seed=seed, progress=progress)
    metrics = {"accuracy": accuracy(model.predict(task.X_test), task.y_test),
               "baseline_accuracy": frame_average_baseline(task), "chance": 1.0 / len(classes)}
    return Result("video", model, history, metrics, task)


# ----------------------------------------------------------------------------- 2. handwritten digit sequences
DIGIT_CNN = ({"kind": "conv", "filters": 8, "kernel": 3, "padding": 1}, {"kind": "relu"}, {"kind": "pool", "size": 2},
             {"kind": "flatten"}, {"kind": "dense", "units": 32}, {"kind": "relu"})


def train_digits(*, kind: str = "lstm", n: int = 2000, terms: int = 4, hidden_size: int = 32, iterations: int = 300,
                 seed: int = 0, progress: Callable | None = None) -> Result:
    """Next term of a sequence of handwritten digits (e.g. 1 2 4 8 -> 16) with a CRNN, tested on unseen handwriting."""
    task = data.digit_sequences(n, terms=terms, seed=seed)
    values = task.info["values"]
    model = CRNN.create((1, 8, 8), len(values), cnn=DIGIT_CNN, kind=kind, hidden_size=hidden_size, seed=seed)
    Xtr, ytr, Xv, yv = _validation_split(task.X_train, task.y_train, 0.15, seed)
    history = train_model(model, Xtr, ytr, loss="ce", X_val=Xv, y_val=yv, iterations=iterations, lr=0.005,
                          seed=seed, progress=progress)
    pred = np.argmax(model.predict(task.X_test), axis=-1)
    metrics = {"accuracy": float(np.mean(pred == task.y_test)), "chance": float(np.bincount(task.y_train).max()
                                                                                 / len(task.y_train))}
    return Result("digits", model, history, metrics, task, {"values": values})


def next_term(result: Result, frames: np.ndarray) -> tuple[int, np.ndarray]:
    """The predicted next term and the class probabilities for one row of digit images (T, 1, 8, 8)."""
    frames = np.asarray(frames, dtype=np.float64)
    if frames.ndim != 4 or frames.shape[1:] != (1, 8, 8):
        raise ValueError(f"frames: expected (T, 1, 8, 8) digit images scaled to [0, 1], got shape {frames.shape}")
    p = losses.softmax(result.model.predict(frames[None]))[0]
    return int(result.extras["values"][int(np.argmax(p))]), p


# ----------------------------------------------------------------------------- 3. text classification
def train_sentiment(*, kind: str = "lstm", variant: str = "short", n: int = 1200, filler: int = 20,
                    distractors: int = 0, embedding: int | None = 8, hidden_size: int = 16, iterations: int = 400,
                    lr: float = 0.01, seed: int = 0, progress: Callable | None = None) -> Result:
    """Sentiment of templated sentences (negation, word order; ``"long"``: the opinion far from the end).

    ``embedding``: the size of fixed random word vectors (``data.word_vectors``, like frozen pretrained
    embeddings), or None for one-hot words (then the cell's input weights are a trainable embedding,
    and a vanilla RNN can learn to silence filler words by shrinking their weights).
    """
    task = data.sentiment_texts(n, variant=variant, filler=filler, distractors=distractors, seed=seed)
    V = len(task.info["vocab"])
    table = np.eye(V) if embedding is None else data.word_vectors(V, embedding, seed=seed)
    table[0] = 0.0  # <pad> reads as the zero vector
    model = SequenceModel.create("many_to_one", kind, table.shape[1], hidden_size, 2, seed=seed)
    Xtr, ytr, Xv, yv = _validation_split(task.X_train, task.y_train, 0.15, seed)

    def transform(ids):
        return table[ids]  # (N, T) -> (N, T, E)

    history = train_model(model, Xtr, ytr, loss="ce", X_val=Xv, y_val=yv, iterations=iterations, lr=lr,
                          batch_size=64, target=1.0, seed=seed, progress=progress, transform=transform)
    metrics = {"accuracy": accuracy(model.predict(transform(task.X_test)), task.y_test), "chance": 0.5}
    return Result("sentiment", model, history, metrics, task, {"word_vectors": table})


def classify_text(result: Result, text: str) -> dict[str, float]:
    """Class probabilities for a typed sentence (unknown words become ``<unk>``)."""
    words = data.tokenize(text)
    if not words:
        raise ValueError("text: is empty; expected a sentence such as 'the movie was not bad'")
    info = result.data.info
    ids = data.encode([words], info["vocab"], max(info["length"], len(words)))
    p = losses.softmax(result.model.predict(result.extras["word_vectors"][ids]))[0]
    return dict(zip(info["classes"], map(float, p), strict=True))


# ----------------------------------------------------------------------------- 4. forecasting
def train_forecaster(*, symbol: str = "AAPL", mode: str = "many_to_one", kind: str = "gru", window: int = 20,
                     hidden_size: int = 8, iterations: int = 300, seed: int = 0,
                     progress: Callable | None = None) -> Result:
    """Next-day price from a window of daily returns, compared with the naive last-value forecast.

    Metrics on the held-out (later) days, in price units: ``rmse`` of the model's next-day price,
    ``naive_rmse`` of ``p_{t+1} = p_t``, ``ratio = rmse / naive_rmse`` (below 1 beats the baseline),
    and ``direction_accuracy``: how often the sign of the predicted return is right (days with a move).
    """
    task = data.stock_windows(symbol, window=window, mode=mode)
    model = SequenceModel.create(mode, kind, 1, hidden_size, 1, seed=seed)
    # NB: the validation split is the last part of the training period (no shuffling across time).
    n_val = max(1, len(task.X_train) // 6)
    Xtr, ytr, Xv, yv = task.X_train[:-n_val], task.y_train[:-n_val], task.X_train[-n_val:], task.y_train[-n_val:]
    history = train_model(model, Xtr, ytr, loss="mse", X_val=Xv, y_val=yv, iterations=iterations, lr=0.003,
                          batch_size=64, seed=seed, progress=progress)
    Y = model.predict(task.X_test)
    r_hat = Y[:, -1, 0] if mode == "many_to_many" else Y[:, 0]  # the next day's scaled return
    info = task.info
    p_hat = data.price_forecast(info["last_price_test"], r_hat, info["scale"])
    p_true, p_last = info["next_price_test"], info["last_price_test"]
    rmse = float(np.sqrt(np.mean((p_hat - p_true) ** 2)))
    naive = float(np.sqrt(np.mean((p_last - p_true) ** 2)))
    moved = p_true != p_last
    direction = float(np.mean(np.sign(r_hat[moved]) == np.sign(p_true[moved] - p_last[moved])))
    metrics = {"rmse": rmse, "naive_rmse": naive, "ratio": rmse / naive, "direction_accuracy": direction}
    return Result("forecast", model, history, metrics, task, {"predicted_price": p_hat})
