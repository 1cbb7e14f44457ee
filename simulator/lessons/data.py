"""Data sets for the lesson's applications, built locally and seeded (nothing is downloaded at run time).

1. ``moving_shapes``: generated videos whose class depends only on the ORDER of the frames
   (a shape moving right vs left, down vs up, growing vs shrinking). Every video of one direction is
   a time-reversed video of the other, so the set of frames has the same distribution in every
   class and any classifier that ignores order (for example one that averages the frames) is at chance.
2. ``digit_sequences``: number sequences such as ``1, 2, 4, 8 -> 16`` written with real handwritten
   digits from scikit-learn's bundled ``load_digits`` (the UCI optical-digits test set, 1,797 8x8
   images, E. Alpaydin and C. Kaynak 1998), one digit image per frame; the task is the next term.
   Training and test sequences are drawn with disjoint sets of digit images (held-out handwriting).
3. ``sentiment_texts``: short sentences for sentiment classification where word order matters
   (negation: "not bad" is positive; "good , not bad" and "bad , not good" have the same words).
   The texts come from this module: hand-written templates and word lists below (``SUBJECTS``,
   ``POSITIVE``, ``NEGATIVE``, ``FILLER``), combined at random. The ``"long"`` variant puts the
   sentiment word first and follows it with neutral filler, a long-range dependency.
4. ``stock_windows``: daily adjusted closing prices of AAPL, GOOG, IBM, MSFT (2000-2013; GOOG from
   2004) from the ``bokeh_sampledata`` package (``bokeh_sampledata.stocks``), cut into windows of
   log returns for many-to-one (next day) and many-to-many (next day at every step) forecasts, split
   in time (held-out days come after every training day), with the naive last-value baseline.

Every function returns a ``TaskData``; all arrays are float64 (inputs) or int64 (class labels).
scikit-learn and bokeh_sampledata are imported inside the functions that read their files.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class TaskData:
    """Training and held-out arrays of one task plus what a page needs to show them (``info``)."""

    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    info: dict = field(default_factory=dict)


def _check_count(name: str, value, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < minimum:
        raise ValueError(f"{name}: expected an integer >= {minimum}, got {value!r}")
    return int(value)


def _check_fraction(name: str, value: float) -> float:
    if not isinstance(value, int | float) or not 0 < value < 1:
        raise ValueError(f"{name}: expected a number strictly between 0 and 1, got {value!r}")
    return float(value)


def _split(n: int, test_fraction: float) -> int:
    n_test = max(1, int(round(n * test_fraction)))
    if n_test >= n:
        raise ValueError(f"test_fraction: leaves no training sample out of {n}; expected a smaller fraction")
    return n - n_test


# ----------------------------------------------------------------------------- 1. videos
MOTIONS = ("right", "left", "down", "up", "grow", "shrink")
SHAPES = ("square", "disk", "plus")


def _draw(shape: str, cy: float, cx: float, r: float, S: int) -> np.ndarray:
    """A filled shape of half-size ``r`` centred at ``(cy, cx)`` on an ``S x S`` canvas, values 0 or 1."""
    yy, xx = np.mgrid[0:S, 0:S]
    dy, dx = np.abs(yy - cy), np.abs(xx - cx)
    if shape == "square":
        mask = (dy <= r) & (dx <= r)
    elif shape == "disk":
        mask = dy**2 + dx**2 <= (r + 0.3) ** 2
    else:
        arm = max(0.5, r / 3)
        mask = ((dy <= r) & (dx <= arm)) | ((dx <= r) & (dy <= arm))
    return mask.astype(np.float64)


def _forward_video(kind: str, rng: np.random.Generator, T: int, S: int) -> np.ndarray:
    """One video of the *forward* motion of ``kind`` (``"x"``, ``"y"`` or ``"scale"``): (T, S, S)."""
    shape = SHAPES[rng.integers(len(SHAPES))]
    if kind == "scale":
        r = np.linspace(1.0, 0.35 * (S - 1), T) * rng.uniform(0.8, 1.0)
        margin = r[-1]
        cy, cx = rng.uniform(margin, S - 1 - margin, size=2)
        return np.stack([_draw(shape, cy, cx, rk, S) for rk in r])
    r = rng.uniform(1.0, 2.0)
    room = (S - 1 - 2 * r) / (T - 1)  # the largest speed that keeps the shape inside
    speed = rng.uniform(min(1.0, room), room)
    start = rng.uniform(r, S - 1 - r - speed * (T - 1))
    path = start + speed * np.arange(T)
    other = rng.uniform(r, S - 1 - r)
    if kind == "x":
        return np.stack([_draw(shape, other, p, r, S) for p in path])
    return np.stack([_draw(shape, p, other, r, S) for p in path])


def moving_shapes(n: int = 600, *, frames: int = 6, size: int = 12, classes: tuple[str, ...] = ("right", "left"),
                  noise: float = 0.1, test_fraction: float = 0.25, seed: int = 0) -> TaskData:
    """Videos of one shape (square, disk or plus) whose class is the direction of its motion.

    Inputs:
    - n: number of videos; frames ``T``; size ``S`` (frames are ``S x S``, one channel).
    - classes: any of ``MOTIONS`` (``right, left, down, up, grow, shrink``); the label is the index.
    - noise: standard deviation of Gaussian pixel noise added to every frame.

    Returns ``TaskData`` with ``X (n, T, 1, S, S)`` and ``y (n,)``; ``info``: ``classes``, ``source``.
    Each backward motion (left, up, shrink) is drawn as a forward one and played in reverse, so
    the frames of a class pair have one distribution and only their order tells the classes apart.
    """
    n = _check_count("n", n, 4)
    T = _check_count("frames", frames, 2)
    S = _check_count("size", size, 8)
    if S < 2 * T:
        raise ValueError(f"size: {S} pixels leave no room for {T} frames of motion; expected size >= 2 * frames")
    test_fraction = _check_fraction("test_fraction", test_fraction)
    if not isinstance(classes, tuple | list) or len(classes) < 2 or len(set(classes)) != len(classes):
        raise ValueError(f"classes: expected at least two distinct names from {MOTIONS}, got {classes!r}")
    for c in classes:
        if c not in MOTIONS:
            raise ValueError(f"classes: got {c!r}; expected names from {MOTIONS}")
    if not np.isfinite(noise) or noise < 0:
        raise ValueError(f"noise: expected a non-negative number, got {noise!r}")
    rng = np.random.default_rng(seed)
    kinds = {"right": ("x", False), "left": ("x", True), "down": ("y", False), "up": ("y", True),
             "grow": ("scale", False), "shrink": ("scale", True)}
    y = rng.permutation(np.arange(n) % len(classes))
    X = np.empty((n, T, 1, S, S))
    for k in range(n):
        kind, reverse = kinds[classes[y[k]]]
        video = _forward_video(kind, rng, T, S)
        X[k, :, 0] = video[::-1] if reverse else video
    X += noise * rng.standard_normal(X.shape)
    n_train = _split(n, test_fraction)
    info = {"classes": tuple(classes), "source": "generated by simulator.lessons.data.moving_shapes (seeded)",
            "layout": "X (N, T, C, H, W): NCHW frames in time order"}
    return TaskData(X[:n_train], y[:n_train].astype(np.int64), X[n_train:], y[n_train:].astype(np.int64), info)


def frame_average(X: np.ndarray) -> np.ndarray:
    """The order-blind summary of a video batch: the mean frame, flattened. (N, T, C, H, W) -> (N, C*H*W)."""
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 5:
        raise ValueError(f"X: expected videos (N, T, C, H, W), got shape {X.shape}")
    return X.mean(axis=1).reshape(len(X), -1)  # (N, C, H, W) -> (N, C*H*W)


# ----------------------------------------------------------------------------- 2. digit sequences
def _rule_sequences(T: int) -> list[tuple[str, tuple[int, ...], int]]:
    """Every sequence of ``T`` single-digit terms under the rules, with its next term (>= 0).

    Arithmetic: ``a, a+d, ..., a+(T-1)d -> a+Td`` for ``d`` in -3..3; doubling:
    ``a, 2a, 4a, ... -> a 2^T`` (for ``T = 4`` only ``1, 2, 4, 8 -> 16``, the lesson's example).
    """
    out = []
    for d in range(-3, 4):
        for a in range(10):
            terms = tuple(a + k * d for k in range(T))
            if all(0 <= t <= 9 for t in terms) and a + T * d >= 0:
                out.append((f"add {d:+d}", terms, a + T * d))
    for a in range(1, 10):
        terms = tuple(a * 2**k for k in range(T))
        if all(t <= 9 for t in terms):
            out.append(("double", terms, a * 2**T))
    return out


def load_digit_images() -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's bundled handwritten digits: images (1797, 8, 8) scaled to [0, 1] and labels (1797,)."""
    from sklearn.datasets import load_digits  # ships the data file; no network

    digits = load_digits()
    return digits.images / 16.0, digits.target.astype(np.int64)


def digit_sequences(n: int = 2000, *, terms: int = 4, test_fraction: float = 0.25, seed: int = 0) -> TaskData:
    """Next-term prediction from a row of handwritten digits, e.g. images of ``1 2 4 8`` -> 16.

    Each sequence follows one rule of ``_rule_sequences`` (arithmetic progressions with step -3..3
    and doubling); every term is drawn as a random handwritten image of that digit. Training videos
    use only images from one part of the digit set and test videos only from the other part
    (``test_fraction`` of each digit's images), so the test measures reading unseen handwriting.

    Returns ``TaskData`` with ``X (n, T, 1, 8, 8)`` (one digit per frame, the row image sliced into
    segments) and ``y`` the class of the next term; ``info``: ``values`` (class -> next-term value),
    ``terms_train``/``terms_test`` (the numbers drawn), ``rules_train``/``rules_test``, ``source``.
    """
    n = _check_count("n", n, 4)
    T = _check_count("terms", terms, 2)
    if T > 6:
        raise ValueError(f"terms: expected 2..6 (longer single-digit progressions hardly exist), got {T}")
    test_fraction = _check_fraction("test_fraction", test_fraction)
    images, labels = load_digit_images()
    rng = np.random.default_rng(seed)
    pools_train, pools_test = [], []
    for digit in range(10):
        idx = rng.permutation(np.flatnonzero(labels == digit))
        cut = int(round(len(idx) * (1 - test_fraction)))
        pools_train.append(idx[:cut])
        pools_test.append(idx[cut:])
    sequences = _rule_sequences(T)
    values = sorted({nxt for _, _, nxt in sequences})
    cls = {v: k for k, v in enumerate(values)}
    n_train = _split(n, test_fraction)

    def make(count: int, pools: list[np.ndarray]):
        pick = rng.integers(len(sequences), size=count)
        X = np.empty((count, T, 1, 8, 8))
        nums = np.empty((count, T), dtype=np.int64)
        for k, s in enumerate(pick):
            _, seq, _ = sequences[s]
            nums[k] = seq
            for t, digit in enumerate(seq):
                X[k, t, 0] = images[rng.choice(pools[digit])]
        y = np.array([cls[sequences[s][2]] for s in pick], dtype=np.int64)
        return X, y, nums, [sequences[s][0] for s in pick]

    Xtr, ytr, ntr, rtr = make(n_train, pools_train)
    Xte, yte, nte, rte = make(n - n_train, pools_test)
    info = {"values": tuple(values), "terms_train": ntr, "terms_test": nte, "rules_train": rtr, "rules_test": rte,
            "n_sequences": len(sequences),
            "source": "scikit-learn load_digits (UCI optical recognition of handwritten digits, test set)"}
    return TaskData(Xtr, ytr, Xte, yte, info)


def digits_row(frames: np.ndarray) -> np.ndarray:
    """Glue the frames of one digit sequence side by side: (T, 1, 8, 8) -> (8, 8T), the lesson's row image."""
    frames = np.asarray(frames)
    if frames.ndim != 4:
        raise ValueError(f"frames: expected (T, 1, H, W), got shape {frames.shape}")
    return np.concatenate(list(frames[:, 0]), axis=1)  # (T, H, W) -> (H, T*W)


# ----------------------------------------------------------------------------- 3. sentiment texts
SUBJECTS = ("the movie", "the film", "the book", "the food", "the service", "the hotel", "the show", "the game",
            "this phone", "the concert", "the trip", "the meal")
POSITIVE = ("good", "great", "excellent", "fun", "wonderful", "enjoyable", "pleasant", "lovely")
NEGATIVE = ("bad", "awful", "boring", "terrible", "dull", "poor", "horrible", "annoying")
INTENSIFIERS = ("very", "really", "quite", "so")
FILLER = ("and", "then", "we", "walked", "to", "the", "station", "after", "that", "it", "was", "a", "long", "day",
          "in", "city", "took", "bus", "home", "evening", "ticket", "on", "street", "morning", "next", "week",
          "with", "friends", "later", "talked", "about", "weather", "train", "left", "at", "noon")
OTHER_THINGS = ("weather", "bus", "coffee", "traffic", "seat", "street")
PAD, UNK = "<pad>", "<unk>"


def _short_sentence(rng: np.random.Generator) -> tuple[list[str], int]:
    """One templated sentence and its label (1 positive, 0 negative)."""
    subj = SUBJECTS[rng.integers(len(SUBJECTS))].split()
    pos = bool(rng.integers(2))
    adj = (POSITIVE if pos else NEGATIVE)[rng.integers(len(POSITIVE))]
    other = (NEGATIVE if pos else POSITIVE)[rng.integers(len(NEGATIVE))]
    template = rng.integers(5)
    if template == 0:  # the movie was good
        return [*subj, "was", adj], int(pos)
    if template == 1:  # the movie was not good -> negative
        return [*subj, "was", "not", adj], int(not pos)
    if template == 2:  # the movie was really good
        return [*subj, "was", INTENSIFIERS[rng.integers(len(INTENSIFIERS))], adj], int(pos)
    if template == 3:  # the movie was good , not bad: same words as "bad , not good"
        return [*subj, "was", adj, ",", "not", other], int(pos)
    return [*subj, "was", "not", adj, "at", "all"], int(not pos)


def _long_sentence(rng: np.random.Generator, filler: int, distractors: int) -> tuple[list[str], int]:
    """The opinion first, then ``filler`` other words: ``the movie was good . then we walked to ...``.

    The filler is neutral words plus ``distractors`` short remarks about other things
    (``the weather was awful``) with random polarity: they say nothing about the subject, so the
    label is the first opinion and the network must keep it across the whole filler.
    """
    subj = SUBJECTS[rng.integers(len(SUBJECTS))].split()
    pos = bool(rng.integers(2))
    adj = (POSITIVE if pos else NEGATIVE)[rng.integers(len(POSITIVE))]
    words = [FILLER[k] for k in rng.integers(len(FILLER), size=filler)]
    for at in sorted(rng.integers(0, filler + 1, size=distractors), reverse=True):
        other = OTHER_THINGS[rng.integers(len(OTHER_THINGS))]
        remark = (POSITIVE, NEGATIVE)[rng.integers(2)][rng.integers(len(POSITIVE))]
        words[at:at] = ["the", other, "was", remark]
    return [*subj, "was", adj, ".", *words], int(pos)


def build_vocab() -> tuple[str, ...]:
    """Every word the generators can write, after ``<pad>`` (id 0) and ``<unk>`` (id 1)."""
    words = {w for s in SUBJECTS for w in s.split()} | set(POSITIVE) | set(NEGATIVE) | set(INTENSIFIERS)
    words |= set(FILLER) | set(OTHER_THINGS) | {"was", "not", "at", "all", ",", "."}
    return (PAD, UNK, *sorted(words))


def tokenize(text: str) -> list[str]:
    """Lower-case words, with ``,`` and ``.`` as separate tokens."""
    if not isinstance(text, str):
        raise ValueError(f"text: expected a string, got {type(text).__name__}")
    return text.lower().replace(",", " , ").replace(".", " . ").split()


def encode(sentences: list[list[str]], vocab: tuple[str, ...], length: int) -> np.ndarray:
    """Word ids, padded with ``<pad>`` at the START (Keras ``pad_sequences`` default) so the last step is the
    last word; longer sentences keep their last ``length`` words; unknown words map to ``<unk>``. -> (N, length).
    """
    index = {w: k for k, w in enumerate(vocab)}
    ids = np.zeros((len(sentences), length), dtype=np.int64)
    for k, words in enumerate(sentences):
        tail = [index.get(w, 1) for w in words][-length:]
        if tail:
            ids[k, length - len(tail) :] = tail
    return ids


def one_hot(ids: np.ndarray, size: int) -> np.ndarray:
    """``(N, T)`` word ids -> ``(N, T, V)`` one-hot vectors; ``<pad>`` (id 0) becomes the zero vector."""
    ids = np.asarray(ids)
    out = np.zeros((*ids.shape, size))
    np.put_along_axis(out, ids[..., None], 1.0, axis=-1)
    out[..., 0] = 0.0
    return out


def word_vectors(vocab_size: int, dim: int, *, seed: int = 0) -> np.ndarray:
    """Fixed random word vectors ``E (V, dim)``, rows ``N(0, I / dim)``, ``<pad>`` (row 0) zero.

    A stand-in for pretrained, frozen embeddings: every word, filler included, reaches the cell as a
    dense vector the model cannot retrain, so ignoring a word must be learned by the cell itself.
    ``E[ids]`` turns ``(N, T)`` ids into ``(N, T, dim)`` inputs.
    """
    V, dim = _check_count("vocab_size", vocab_size, 2), _check_count("dim", dim, 1)
    E = np.random.default_rng([seed, 13]).standard_normal((V, dim)) / np.sqrt(dim)
    E[0] = 0.0
    return E


def sentiment_texts(n: int = 1200, *, variant: str = "short", filler: int = 20, distractors: int = 0,
                    test_fraction: float = 0.25, seed: int = 0) -> TaskData:
    """Sentiment of templated sentences (1 positive, 0 negative).

    Inputs:
    - variant: ``"short"`` (negation and word order: "was not bad", "good , not bad") or ``"long"``
      (the opinion first, then ``filler`` neutral words and ``distractors`` remarks about other
      things, see ``_long_sentence``: the first opinion must be remembered to the end).

    Returns ``TaskData`` with ``X`` word ids ``(n, L)`` (pre-padded with id 0) and ``y (n,)``; ``info``:
    ``vocab`` (id -> word), ``sentences_train``/``sentences_test`` (the texts), ``length`` ``L``, ``source``.
    ``one_hot(X, len(vocab))`` gives the ``(n, L, V)`` inputs a cell reads.
    """
    n = _check_count("n", n, 4)
    if variant not in ("short", "long"):
        raise ValueError(f"variant: got {variant!r}; expected 'short' or 'long'")
    filler = _check_count("filler", filler, 0)
    distractors = _check_count("distractors", distractors, 0)
    test_fraction = _check_fraction("test_fraction", test_fraction)
    rng = np.random.default_rng(seed)
    pairs = [_short_sentence(rng) if variant == "short" else _long_sentence(rng, filler, distractors) for _ in range(n)]
    sentences = [" ".join(w) for w, _ in pairs]
    vocab = build_vocab()
    length = max(len(w) for w, _ in pairs)
    X = encode([w for w, _ in pairs], vocab, length)
    y = np.array([label for _, label in pairs], dtype=np.int64)
    n_train = _split(n, test_fraction)
    info = {"vocab": vocab, "length": length, "sentences_train": sentences[:n_train],
            "sentences_test": sentences[n_train:], "classes": ("negative", "positive"),
            "source": ("templates and word lists written for simulator.lessons.data "
                       "(SUBJECTS, POSITIVE, NEGATIVE, FILLER)")}
    return TaskData(X[:n_train], y[:n_train], X[n_train:], y[n_train:], info)


# ----------------------------------------------------------------------------- 4. stock prices
SYMBOLS = ("AAPL", "GOOG", "IBM", "MSFT")


def load_prices(symbol: str = "AAPL") -> tuple[np.ndarray, np.ndarray]:
    """Daily dates (str) and adjusted closing prices from ``bokeh_sampledata.stocks`` (ships the CSV files)."""
    if symbol not in SYMBOLS:
        raise ValueError(f"symbol: got {symbol!r}; expected one of {SYMBOLS}")
    from bokeh_sampledata import stocks  # package data file, read locally

    table = getattr(stocks, symbol)
    dates = np.array(table["date"])
    prices = np.asarray(table["adj_close"], dtype=np.float64)
    order = np.argsort(dates)  # the files are in date order; sorting makes sure
    return dates[order], prices[order]


def stock_windows(symbol: str = "AAPL", *, window: int = 20, mode: str = "many_to_one", test_fraction: float = 0.2,
                  stride: int = 1) -> TaskData:
    """Windows of daily log returns to forecast the next day's return (hence price).

    ``r_t = log(p_t / p_{t-1})``, scaled by the training returns' standard deviation ``s``:
    ``x_t = r_t / s``. Many-to-one: input ``x_{t-w+1} .. x_t`` (w, 1), target ``x_{t+1}`` (1,);
    many-to-many: target ``x_{t-w+2} .. x_{t+1}``, the next day at every step (w, 1).
    The naive last-value baseline says ``p_{t+1} = p_t``, i.e. ``r_{t+1} = 0``.
    The split is in time: every held-out target day comes after every training target day.

    Returns ``TaskData`` with ``X (N, w, 1)``, ``y (N, 1)`` or ``(N, w, 1)``; ``info``: ``scale`` ``s``,
    ``last_price_test`` (``p_t`` of each held-out window), ``next_price_test`` (``p_{t+1}``),
    ``dates_test`` (the day ``t+1``), ``dates``/``prices`` (the whole series), ``symbol``, ``mode``, ``source``.
    """
    w = _check_count("window", window, 2)
    stride = _check_count("stride", stride, 1)
    if mode not in ("many_to_one", "many_to_many"):
        raise ValueError(f"mode: got {mode!r}; expected 'many_to_one' or 'many_to_many'")
    test_fraction = _check_fraction("test_fraction", test_fraction)
    dates, prices = load_prices(symbol)
    r = np.diff(np.log(prices))  # r[k] = log(p[k+1] / p[k])
    ends = np.arange(w - 1, len(r) - 1)  # a window r[e-w+1 .. e] predicts r[e+1]
    n_train = _split(len(ends), test_fraction)
    train_ends = ends[:n_train][::stride]
    # NB: held-out windows start w - 1 days later, so that no held-out target (in either mode) is a training target.
    test_ends = ends[n_train + w - 1 :]
    if len(test_ends) < 1:
        raise ValueError(f"window: {w} leaves no held-out window; expected a shorter window or a larger test_fraction")
    scale = float(r[: train_ends[-1] + 2].std())

    def make(end_idx: np.ndarray):
        X = np.stack([r[e - w + 1 : e + 1] for e in end_idx])[..., None] / scale  # (N, w) -> (N, w, 1)
        if mode == "many_to_one":
            y = r[end_idx + 1][:, None] / scale  # (N, 1)
        else:
            y = np.stack([r[e - w + 2 : e + 2] for e in end_idx])[..., None] / scale  # (N, w, 1)
        return X, y

    Xtr, ytr = make(train_ends)
    Xte, yte = make(test_ends)
    info = {"scale": scale, "symbol": symbol, "mode": mode, "window": w,
            "last_price_test": prices[test_ends + 1], "next_price_test": prices[test_ends + 2],
            "dates_test": dates[test_ends + 2], "dates": dates, "prices": prices,
            "source": "bokeh_sampledata.stocks (daily adjusted close, package data)"}
    return TaskData(Xtr, ytr, Xte, yte, info)


def price_forecast(last_price: np.ndarray, predicted_scaled_return: np.ndarray, scale: float) -> np.ndarray:
    """Turn a predicted scaled return into a price: ``p_{t+1} = p_t exp(s x_{t+1})``."""
    return np.asarray(last_price) * np.exp(scale * np.asarray(predicted_scaled_return).reshape(-1))
