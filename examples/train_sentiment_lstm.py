"""Train the lesson's Keras LSTM text classifier (Embedding -> LSTM -> Dense) on the project's sentiment data.

The data are ``simulator.lessons.data.sentiment_texts`` (templated sentences built locally: nothing is fetched).
The model is the lesson's::

    keras.Sequential([Input((None,), int32), Embedding(V, 8), LSTM(8), Dense(1, activation="sigmoid")])

It writes ``<out>.keras`` and ``<out>.vocab.txt`` (one word per line; line k is word id k), the two files the
Cell page's "Your model" section takes: the model, and the vocabulary that turns a typed sentence into ids.

    KERAS_BACKEND=torch python examples/train_sentiment_lstm.py --out build/sentiment_lstm
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "torch")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from simulator.lessons import data  # noqa: E402


def build_model(vocab_size: int, embed: int = 8, hidden: int = 8, seed: int = 0):
    """The lesson's classifier, untrained: ids (B, T) -> P(positive) (B, 1)."""
    import keras

    keras.utils.set_random_seed(seed)
    return keras.Sequential([
        keras.Input((None,), dtype="int32"),
        keras.layers.Embedding(vocab_size, embed),
        keras.layers.LSTM(hidden),
        keras.layers.Dense(1, activation="sigmoid"),
    ])


def train(out: Path, *, n: int = 1200, epochs: int = 25, seed: int = 0) -> dict:
    """Train on ``sentiment_texts(n)``, save ``out.keras`` and ``out.vocab.txt``; returns the held-out accuracy."""
    import keras

    task = data.sentiment_texts(n, seed=seed)
    vocab = task.info["vocab"]
    model = build_model(len(vocab), seed=seed)
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="binary_crossentropy", metrics=["accuracy"])
    model.fit(task.X_train, task.y_train.astype("float32"), epochs=epochs, batch_size=32, verbose=0)
    p = np.asarray(model.predict(task.X_test, verbose=0))[:, 0]
    accuracy = float(((p > 0.5) == task.y_test).mean())
    out.parent.mkdir(parents=True, exist_ok=True)
    model.save(out.with_suffix(".keras"))
    out.with_suffix(".vocab.txt").write_text("\n".join(vocab) + "\n", encoding="utf-8")
    return {"accuracy": accuracy, "model": out.with_suffix(".keras"), "vocabulary": out.with_suffix(".vocab.txt")}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("build/sentiment_lstm"), help="path without extension")
    parser.add_argument("--epochs", type=int, default=25)
    parser.add_argument("--n", type=int, default=1200, help="number of sentences (a quarter held out)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    result = train(args.out, n=args.n, epochs=args.epochs, seed=args.seed)
    print(f"held-out accuracy {result['accuracy']:.3f}; wrote {result['model']} and {result['vocabulary']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
