"""The four data sets: shapes, labels that follow their rule, order-only classes, held-out splits, bad input."""

import numpy as np
import pytest
from numpy.testing import assert_allclose

from simulator.lessons import data


def _centre_x(frames):
    """Horizontal centre of mass of each frame (T, 1, S, S) -> (T,)."""
    w = np.clip(frames[:, 0], 0, None)
    return (w.sum(axis=1) * np.arange(w.shape[2])).sum(axis=1) / w.sum(axis=(1, 2))


def test_videos_move_in_the_labelled_direction():
    """Does every 'right' video move right and every 'left' video move left?"""
    task = data.moving_shapes(80, noise=0.0, seed=1)
    assert task.X_train.shape == (60, 6, 1, 12, 12) and task.X_test.shape == (20, 6, 1, 12, 12)
    for X, y in ((task.X_train, task.y_train), (task.X_test, task.y_test)):
        for video, label in zip(X, y, strict=True):
            step = np.diff(_centre_x(video))
            assert (step > 0).all() if label == 0 else (step < 0).all()


def test_grow_and_shrink_videos_change_area():
    """Do 'grow' videos get bigger and 'shrink' videos smaller, frame after frame?"""
    task = data.moving_shapes(40, classes=("grow", "shrink", "up"), noise=0.0, seed=2)
    for video, label in zip(task.X_train, task.y_train, strict=True):
        area = video.sum(axis=(1, 2, 3))
        if label == 0:
            assert (np.diff(area) >= 0).all() and area[-1] > area[0]
        elif label == 1:
            assert (np.diff(area) <= 0).all() and area[-1] < area[0]


def test_frames_are_order_free_evidence():
    """Is the average frame the same in both classes (so only the order of frames tells them apart)?"""
    task = data.moving_shapes(2000, noise=0.0, test_fraction=0.1, seed=3)
    mean = data.frame_average(task.X_train)
    cx = (mean.reshape(-1, 12, 12).sum(axis=1) * np.arange(12)).sum(axis=1) / mean.sum(axis=1)
    right, left = cx[task.y_train == 0], cx[task.y_train == 1]
    assert abs(right.mean() - left.mean()) < 0.15  # both centred alike; the spread of positions is ~2 pixels
    assert abs(right.std() - left.std()) < 0.15
    assert abs(mean[task.y_train == 0].mean() - mean[task.y_train == 1].mean()) < 0.01


def test_digit_sequences_follow_their_rules():
    """Is each label the next term of the sequence the frames show, with 1 2 4 8 -> 16 among them?"""
    task = data.digit_sequences(400, seed=0)
    info = task.info
    assert task.X_train.shape == (300, 4, 1, 8, 8) and 0 <= task.X_train.min() and task.X_train.max() <= 1
    for terms, rule, y in zip(info["terms_train"], info["rules_train"], task.y_train, strict=True):
        nxt = info["values"][y]
        if rule == "double":
            assert list(terms) == [1, 2, 4, 8] and nxt == 16
        else:
            d = int(rule.split()[1])
            assert list(np.diff(terms)) == [d] * 3 and nxt == terms[-1] + d
    assert "double" in info["rules_train"]


def test_digit_frames_are_real_handwriting_and_test_writers_are_held_out():
    """Are frames the scikit-learn images of the right digit, and no test image used in training?"""
    images, labels = data.load_digit_images()
    lookup = {img.tobytes(): lab for img, lab in zip(images, labels, strict=True)}
    task = data.digit_sequences(300, seed=5)
    train = {f.tobytes() for f in task.X_train.reshape(-1, 8, 8)}
    test = {f.tobytes() for f in task.X_test.reshape(-1, 8, 8)}
    assert not train & test
    for frames, terms in zip(task.X_test, task.info["terms_test"], strict=True):
        assert [lookup[f.tobytes()] for f in frames[:, 0]] == list(terms)
    assert data.digits_row(task.X_test[0]).shape == (8, 32)


def test_sentiment_negation_and_word_order():
    """Does 'not' flip the label, and do 'good , not bad' and 'bad , not good' (same words) get opposite labels?"""
    task = data.sentiment_texts(600, seed=0)
    vocab = task.info["vocab"]
    texts = task.info["sentences_train"]
    for text, y in zip(texts, task.y_train, strict=True):
        words = text.split()
        polar = [w for w in words if w in data.POSITIVE or w in data.NEGATIVE]
        first = 1 if polar[0] in data.POSITIVE else 0
        negated = "not" in words and words.index("not") < words.index(polar[0])
        assert y == (1 - first if negated else first), text
    contrast = [t for t in texts if ", not" in t]
    assert contrast and len({frozenset(t.split()) for t in contrast}) < len(contrast) + 1
    ids = data.encode([["the", "movie", "was", "not", "bad"]], vocab, 7)
    assert ids[0, 0] == 0 and ids[0, 1] == 0 and vocab[ids[0, -1]] == "bad"
    x = data.one_hot(ids, len(vocab))
    assert x.shape == (1, 7, len(vocab)) and x[0, :2].sum() == 0 and x[0, 2:].sum() == 5
    assert data.encode([["zebra"]], vocab, 2)[0, 1] == 1  # unknown word


def test_long_sentiment_puts_the_opinion_first():
    """In the long variant, is the label the first opinion, however many words follow?"""
    task = data.sentiment_texts(200, variant="long", filler=30, distractors=2, seed=4)
    assert task.X_train.shape[1] == 2 + 3 + 30 + 2 * 4  # "the movie" "was good ." + filler + two remarks
    for text, y in zip(task.info["sentences_train"], task.y_train, strict=True):
        words = text.split()
        opinion = words[words.index("was") + 1]
        assert y == (opinion in data.POSITIVE), text
        assert len(words) >= 35


@pytest.mark.parametrize("mode", ["many_to_one", "many_to_many"])
def test_stock_windows_split_in_time(mode):
    """Are windows scaled log returns, targets the next day, and every held-out day after the training days?"""
    task = data.stock_windows("MSFT", window=10, mode=mode)
    info = task.info
    dates, prices = info["dates"], info["prices"]
    s = info["scale"]
    r = np.diff(np.log(prices))
    assert task.X_train.shape[1:] == (10, 1)
    assert_allclose(task.X_train[0, :, 0] * s, r[:10])
    if mode == "many_to_many":
        assert_allclose(task.y_train[:, :-1], task.X_train[:, 1:])  # the next day at every step
        assert task.y_train.shape[1:] == (10, 1)
    else:
        assert_allclose(task.y_train[0, 0] * s, r[10])
    n_train = len(task.X_train)
    last_train_target_day = dates[n_train + 10]  # window k ends at r[k+9], its target is r[k+10] = p[k+11]/p[k+10]
    assert (info["dates_test"] > last_train_target_day).all()
    # the held-out targets: next price over last price is exp(scaled target * s)
    target = task.y_test[:, -1, 0] if mode == "many_to_many" else task.y_test[:, 0]
    assert_allclose(info["next_price_test"] / info["last_price_test"], np.exp(target * s))
    assert_allclose(data.price_forecast(info["last_price_test"], np.zeros(len(target)), s), info["last_price_test"])
    assert abs(np.std(task.X_train) - 1) < 0.05


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: data.moving_shapes(10, classes=("right", "sideways")), "classes"),
        (lambda: data.moving_shapes(10, classes=("right",)), "classes"),
        (lambda: data.moving_shapes(2), "n"),
        (lambda: data.moving_shapes(10, test_fraction=1.5), "test_fraction"),
        (lambda: data.digit_sequences(10, terms=9), "terms"),
        (lambda: data.sentiment_texts(10, variant="poem"), "variant"),
        (lambda: data.stock_windows("TSLA"), "symbol"),
        (lambda: data.stock_windows(mode="one_to_many"), "mode"),
        (lambda: data.stock_windows(window=1), "window"),
        (lambda: data.tokenize(3), "text"),
    ],
)
def test_bad_input_raises_value_error(call, match):
    """Does bad input raise a ValueError naming the argument?"""
    with pytest.raises(ValueError, match=match):
        call()
