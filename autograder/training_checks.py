"""The crnn assignment's training-run point, resting only on trusted values (DESIGN invariant 7).

The lesson's claim: a CRNN's last state ``h_T`` separates videos by the direction of motion, while the same
CNN features averaged over the frames cannot. The point goes to the student's ``crnn_forward`` and
``frame_features`` when, on the training run's very videos and weights, each single return equals the
reference's (``simulator.crnn``); the accuracies are then computed here, by the instructor's readout, on the
*reference's* states. So a function that fakes good states, reads the answer off the pixels, or returns a huge
or odd array earns nothing and makes the grader compute nothing on it: every return is read strictly
(``autograder.values``: exact float64 arrays of the expected shape) before any arithmetic.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from autograder.calling import call, ok
from autograder.compare import all_close, describe_mismatch, tolerance_text
from autograder.values import as_array, as_tuple, fail
from simulator import crnn

N_TRAIN, N_TEST = 160, 80


def _same_as_reference(what: str, got: np.ndarray, expected: np.ndarray) -> None:
    if not all_close(expected, got):
        fail(f"{what} differs from the reference's on the training run's own inputs, so the run cannot be "
             f"graded on it: {describe_mismatch(what, expected, got)}. Make crnn_forward and frame_features pass "
             "their tests first (the training run then uses the reference's values).")


def check_training_run(crnn_forward: Callable, frame_features: Callable, step: Callable, make_videos: Callable,
                       random_crnn_params: Callable, train_readout: Callable, min_probe: float = 0.8,
                       max_average: float = 0.7) -> None:
    """Does the readout on CRNN states beat ``min_probe`` held out, and the frame average stay below ``max_average``?

    ``make_videos``, ``random_crnn_params``, ``train_readout`` and ``step`` are the notebook's locked helpers
    (the grader's own copies); ``crnn_forward`` and ``frame_features`` are the student's, each called once per
    split and compared with the reference before anything is computed from them.
    """
    X_train, y_train = make_videos(N_TRAIN, seed=1)
    X_test, y_test = make_videos(N_TEST, seed=2)
    params = random_crnn_params(seed=0)
    states, averages = {}, {}
    for split, X in (("training", X_train), ("held-out", X_test)):
        expected, _ = crnn.crnn_forward(X, params, step)  # (B, H) with the notebook's identity readout
        out = as_tuple(call(crnn_forward, "crnn_forward", (X, params, step), names=("X", "params", "step")), 2,
                       "crnn_forward", "(y, cache)")
        got = as_array(out[0], f"crnn_forward's y on the {split} videos", expected.shape)
        _same_as_reference(f"crnn_forward's y on the {split} videos", got, expected)
        B, T = X.shape[:2]
        frames = X.reshape(B * T, *X.shape[2:])  # (B, T, C, S, S) -> (B*T, C, S, S)
        f_ref, _ = crnn.frame_features(frames, params)  # (B*T, M)
        out = as_tuple(call(frame_features, "frame_features", (frames, params), names=("frames", "params")), 2,
                       "frame_features", "(features, caches)")
        f_got = as_array(out[0], f"frame_features on the {split} frames", f_ref.shape)
        _same_as_reference(f"frame_features on the {split} frames", f_got, f_ref)
        states[split] = expected
        averages[split] = f_ref.reshape(B, T, -1).mean(axis=1)  # (B*T, M) -> (B, T, M) -> (B, M)
    probe = float(train_readout(states["training"], y_train, states["held-out"], y_test))
    average = float(train_readout(averages["training"], y_train, averages["held-out"], y_test))
    if probe < min_probe:
        fail(f"the readout on the CRNN's states reached {probe:.3f} held out, expected at least {min_probe}; your "
             "functions match the reference, so this is the course's set-up: tell your instructor")
    if average > max_average:
        fail(f"the readout on averaged frames reached {average:.3f}, expected at most {max_average}")
    ok(f"your CRNN matches the reference on the training run ({tolerance_text()}): its states separate the "
       f"directions ({probe:.2f} held out); averaged frames do not ({average:.2f})")
