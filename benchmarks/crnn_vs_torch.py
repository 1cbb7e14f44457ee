"""Training time per epoch of each application (NumPy reference) against an equivalent torch.nn model, and the ratio.

Run: ``python benchmarks/crnn_vs_torch.py [--batches N] [--repeats R]``.

Baseline: a ``torch.nn`` model of the same architecture and sizes as ``simulator.lessons.applications`` builds
(Conv2d -> ReLU -> MaxPool2d -> Flatten -> Linear -> ReLU per frame, then nn.RNN/LSTM/GRU and a Linear
readout), float64 like the reference, trained with ``torch.optim.Adam`` and global-norm clipping on
the same minibatches (same batch size, same data). One step = forward, loss, backward, Adam update.
Time per epoch = median time of a step x steps per epoch (the median over ``--batches`` steps,
alternating the two sides so that load changes hit both alike). torch runs on ``--threads``
intra-op threads (default 1; printed).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from simulator import losses  # noqa: E402
from simulator.crnn import CRNN  # noqa: E402
from simulator.lessons import (
    applications,  # noqa: E402
    data,  # noqa: E402
)
from simulator.optim import Adam  # noqa: E402


def torch_cnn(spec, frame_shape):
    """The CNN of ``spec`` (``simulator.crnn`` layer dicts) as torch.nn layers, and the feature size."""
    import torch
    from torch import nn

    layers, shape = [], tuple(frame_shape)
    for layer in spec:
        kind = layer["kind"]
        if kind == "conv":
            conv = nn.Conv2d(shape[0], layer["filters"], layer["kernel"], stride=layer.get("stride", 1),
                             padding=layer.get("padding", 0), dtype=torch.float64)
            layers.append(conv)
        elif kind == "relu":
            layers.append(nn.ReLU())
        elif kind == "pool":
            layers.append(nn.MaxPool2d(layer.get("size", 2), layer.get("stride")))
        elif kind == "flatten":
            layers.append(nn.Flatten())
        else:
            layers.append(nn.Linear(shape[0], layer["units"], dtype=torch.float64))
        with torch.no_grad():
            shape = tuple(nn.Sequential(*layers)(torch.zeros(1, *frame_shape, dtype=torch.float64)).shape[1:])
    return nn.Sequential(*layers), shape[0]


class TorchSequenceModel:
    """Optional per-frame CNN -> nn.RNN/LSTM/GRU -> Linear on the last state (or every state)."""

    def __init__(self, kind: str, input_size: int, hidden: int, out: int, *, cnn=None, frame_shape=None,
                 every_step: bool = False) -> None:
        import torch
        from torch import nn

        self.cnn = None
        if cnn is not None:
            self.cnn, input_size = torch_cnn(cnn, frame_shape)
        rnn_class = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}[kind]
        self.rnn = rnn_class(input_size, hidden, batch_first=True, dtype=torch.float64)
        self.head = nn.Linear(hidden, out, dtype=torch.float64)
        self.every_step = every_step
        modules = [m for m in (self.cnn, self.rnn, self.head) if m is not None]
        self.parameters = [p for m in modules for p in m.parameters()]

    def __call__(self, X):
        if self.cnn is not None:
            B, T = X.shape[:2]
            X = self.cnn(X.reshape(B * T, *X.shape[2:])).reshape(B, T, -1)  # (B*T, F) -> (B, T, F)
        H = self.rnn(X)[0]
        return self.head(H if self.every_step else H[:, -1])


def numpy_step(model, opt, Xb, yb, loss: str):
    Y, cache = model.forward(Xb)
    _, dY = (losses.softmax_cross_entropy if loss == "ce" else losses.mean_squared_error)(Y, yb)
    opt.step(model.params, model.backward(dY, cache)[1])


def torch_step(model, opt, Xb, yb, loss: str):
    import torch

    opt.zero_grad()
    Y = model(Xb)
    value = torch.nn.functional.cross_entropy(Y, yb) if loss == "ce" else torch.nn.functional.mse_loss(Y, yb)
    value.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters, 5.0)
    opt.step()


def tasks():
    """(name, numpy model, torch model, X_train as the model reads it, y_train, batch size, loss) per task."""
    video = data.moving_shapes(600, seed=0)
    yield ("video CRNN (GRU 16)", CRNN.create((1, 12, 12), 2, cnn=applications.VIDEO_CNN, kind="gru", hidden_size=16),
           TorchSequenceModel("gru", 0, 16, 2, cnn=applications.VIDEO_CNN, frame_shape=(1, 12, 12)),
           video.X_train, video.y_train, 32, "ce")
    digits = data.digit_sequences(2000, seed=0)
    K = len(digits.info["values"])
    yield ("digits CRNN (LSTM 32)", CRNN.create((1, 8, 8), K, cnn=applications.DIGIT_CNN, kind="lstm", hidden_size=32),
           TorchSequenceModel("lstm", 0, 32, K, cnn=applications.DIGIT_CNN, frame_shape=(1, 8, 8)),
           digits.X_train, digits.y_train, 32, "ce")
    text = data.sentiment_texts(1200, variant="long", seed=0)
    E = data.word_vectors(len(text.info["vocab"]), 8)
    for kind in ("lstm", "rnn"):
        yield (f"long sentiment ({kind.upper()} 16)", applications.SequenceModel.create("many_to_one", kind, 8, 16, 2),
               TorchSequenceModel(kind, 8, 16, 2), E[text.X_train], text.y_train, 64, "ce")
    stocks = data.stock_windows("AAPL", window=20)
    yield ("forecast many-to-one (GRU 8)", applications.SequenceModel.create("many_to_one", "gru", 1, 8, 1),
           TorchSequenceModel("gru", 1, 8, 1), stocks.X_train, stocks.y_train, 64, "mse")


def main() -> None:
    import torch

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=10, help="timed steps per side and task (default 10)")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch intra-op threads (default 1: these models are tiny and extra threads only add "
                             "synchronisation, badly so on a loaded machine)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} intra-op threads; float64 on both sides")
    print(f"{'task':32s} {'steps/epoch':>11s} {'numpy s/epoch':>14s} {'torch s/epoch':>14s} {'numpy/torch':>12s}")
    rng = np.random.default_rng(0)
    for name, ours, theirs, X, y, B, loss in tasks():
        opt_np = Adam(0.01, clip_norm=5.0)
        opt_t = torch.optim.Adam(theirs.parameters, lr=0.01)
        steps = int(np.ceil(len(X) / B))
        tX = torch.from_numpy(np.ascontiguousarray(X))
        ty = torch.from_numpy(y)
        times_np, times_t = [], []
        for k in range(args.batches + 1):
            idx = rng.choice(len(X), size=B, replace=False)
            t0 = time.perf_counter()
            numpy_step(ours, opt_np, X[idx], y[idx], loss)
            t1 = time.perf_counter()
            torch_step(theirs, opt_t, tX[idx], ty[idx], loss)
            t2 = time.perf_counter()
            if k:  # the first step warms up both sides
                times_np.append(t1 - t0)
                times_t.append(t2 - t1)
        a, b = statistics.median(times_np) * steps, statistics.median(times_t) * steps
        print(f"{name:32s} {steps:11d} {a:14.3f} {b:14.3f} {a / b:12.2f}")


if __name__ == "__main__":
    main()
