"""The crnn exercise's checks: the reference passes, common bugs fail with their name, and the notebook
earns full marks through the sandboxed pipeline while its release earns none."""

import copy
import re
from pathlib import Path

import nbformat
import numpy as np
import pytest
from nbgrader.preprocessors import ClearHiddenTests, ClearSolutions

from autograder import crnn_checks as checks
from autograder import crnn_diagnosis as diagnosis
from autograder.pipeline import grade_notebook
from autograder.sandbox import Limits, isolation
from simulator import architectures, cells, conv, crnn
from tests.autograder.bugs.sequences import BUGS, half, outcome

EXERCISES = Path(__file__).resolve().parents[2] / "exercises"
SOURCE = EXERCISES / "source" / "crnn" / "crnn.ipynb"
LIMITS = Limits(wall=60.0, cpu=120, memory=1024 * 2**20, processes=16)


@pytest.mark.parametrize("hidden", [False, True])
def test_reference_passes_every_check(hidden, capsys):
    """Do the reference functions pass the visible and hidden checks?"""
    checks.check_conv2d_forward(conv.conv2d_forward, hidden)
    checks.check_maxpool_forward(conv.maxpool_forward, hidden)
    checks.check_frame_features(crnn.frame_features, hidden)
    checks.check_crnn_forward(crnn.crnn_forward, hidden)
    assert capsys.readouterr().out.count("ok: ") == 4


def _flipped(x, K, b, stride, padding):
    return conv.conv2d_forward(x, K[:, :, ::-1, ::-1].copy(), b, stride=stride, padding=padding)


def _average_pool(x, size, stride=None):  # the notebook's signature: stride defaults to size
    stride = size if stride is None else stride
    N, C, H, W = x.shape
    win = conv.im2col(x.reshape(N * C, 1, H, W), size, size, stride, 0)
    return win.mean(axis=1).reshape(N, C, conv.output_size(H, size, stride, 0), conv.output_size(W, size, stride, 0)), 0


def _no_last_relu(frames, params):
    return crnn.frame_features(frames, params)[1][-1][2]["x"], None


def _reversed(X, params, step):
    return crnn.crnn_forward(X[:, ::-1].copy(), params, step)


def _no_bias(x, K, b, stride, padding):
    return conv.conv2d_forward(x, K, np.zeros_like(b), stride=stride, padding=padding)


def _conv_stride_ignored(x, K, b, stride, padding):
    return conv.conv2d_forward(x, K, b, stride=1, padding=padding)


def _pool_stride_ignored(x, size, stride=None):
    return conv.maxpool_forward(x, size, 1)


def _first_state(X, params, step):
    _, cache = crnn.crnn_forward(X, params, step)
    return cache["H"][:, 0] @ params["W_hy"] + params["b_y"], cache


def _averaged(X, params, step):
    B, T = X.shape[:2]
    feats, _ = crnn.frame_features(X.reshape(B * T, *X.shape[2:]), params)  # (B*T, C, H, W) -> (B*T, M)
    mean = feats.reshape(B, T, -1).mean(axis=1, keepdims=True)  # (B*T, M) -> (B, 1, M)
    return architectures.many_to_one_forward(mean, {k: v for k, v in params.items() if "." not in k}, step)


@pytest.mark.parametrize(
    ("check", "fn", "bug"),
    [
        (checks.check_conv2d_forward, _flipped, "kernel flipped"),
        (checks.check_maxpool_forward, _average_pool, "average instead of max"),
        (checks.check_frame_features, _no_last_relu, "last ReLU missing"),
        (checks.check_crnn_forward, _reversed, "frames reversed"),
        (checks.check_conv2d_forward, _no_bias, "bias dropped"),
        (checks.check_crnn_forward, _first_state, "wrong state read"),
        (checks.check_crnn_forward, _averaged, "frames averaged"),
        (checks.check_conv2d_forward, _conv_stride_ignored, "wrong stride"),
        (checks.check_maxpool_forward, _pool_stride_ignored, "wrong stride"),
    ],
)
@pytest.mark.parametrize("hidden", [False, True])
def test_common_bug_is_named(check, fn, bug, hidden):
    """Does each common bug fail its visible and hidden check with a message that names it?"""
    with pytest.raises(AssertionError, match=f"likely bug: {bug}"):
        check(fn, hidden)


def test_wrong_shapes_and_in_place_changes_fail_clearly():
    """Do a wrong output shape and an input changed in place fail with a clear message?"""
    with pytest.raises(AssertionError, match="shape"):
        checks.check_maxpool_forward(lambda x, size, stride=None: (x, None))

    def in_place(x, K, b, stride, padding):
        x += 1.0
        return conv.conv2d_forward(x, K, b, stride=stride, padding=padding)

    with pytest.raises(AssertionError, match="in place"):
        checks.check_conv2d_forward(in_place)


def test_probe_check():
    """Does the training-run check accept a clear separation and refuse an order-blind 'success'?"""
    checks.check_probe_accuracies(0.95, 0.5)
    with pytest.raises(AssertionError, match="probe_accuracy"):
        checks.check_probe_accuracies(0.6, 0.5)
    with pytest.raises(AssertionError, match="average_accuracy"):
        checks.check_probe_accuracies(0.95, 0.9)
    with pytest.raises(AssertionError, match="not an accuracy"):
        checks.check_probe_accuracies(95.0, 0.5)


def _release() -> nbformat.NotebookNode:
    nb = nbformat.read(SOURCE, as_version=4)
    for pre in (ClearSolutions(), ClearHiddenTests()):
        nb, _ = pre.preprocess(copy.deepcopy(nb), {})
    return nb


@pytest.mark.skipif(isolation.detect() is None, reason="no sandbox isolation on this machine")
def test_solution_full_marks_and_release_zero_through_the_sandbox(tmp_path):
    """Does the source notebook earn every point through the sandboxed pipeline, and its release 0?"""
    path = tmp_path / "crnn.ipynb"
    nbformat.write(nbformat.read(SOURCE, as_version=4), path)
    solved = grade_notebook(path, EXERCISES, "crnn", LIMITS)
    failed = [(t.grade_id, t.message) for t in solved.tests if t.score < t.max_score]
    assert failed == [] and solved.max_score == 12
    nbformat.write(_release(), path)
    release = grade_notebook(path, EXERCISES, "crnn", LIMITS)
    assert release.score == 0.0
    assert np.isclose(sum(t.max_score for t in release.tests), 12)


@pytest.mark.skipif(isolation.detect() is None, reason="no sandbox isolation on this machine")
def test_buggy_pooling_loses_its_points_with_the_bug_named(tmp_path):
    """Does a notebook that averages instead of pooling lose the cells that use pooling, keep the rest, and
    read the bug's name in the feedback?"""
    nb = nbformat.read(SOURCE, as_version=4)
    cell = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "maxpool_forward")
    assert cell.source.count(".max(axis=(2, 3))") == 1
    cell.source = cell.source.replace(".max(axis=(2, 3))", ".mean(axis=(2, 3))")
    path = tmp_path / "crnn.ipynb"
    nbformat.write(nb, path)
    report = grade_notebook(path, EXERCISES, "crnn", LIMITS)
    scores = {t.grade_id: t.score for t in report.tests}
    lost = {k for k, v in scores.items() if v == 0}
    assert {"test_maxpool_forward_visible", "test_maxpool_forward_hidden", "test_frame_features_visible",
            "test_crnn_forward_visible"} <= lost
    assert scores["test_conv2d_forward_visible"] == scores["test_conv2d_forward_hidden"] == scores["test_q1"] == 1
    message = next(t.message for t in report.tests if t.grade_id == "test_maxpool_forward_visible")
    assert "likely bug: average instead of max" in message


# ----------------------------------------------------------------------------- suspects and stage probes
SUSPECTS = [("conv", checks.check_conv2d_forward, s) for s in diagnosis.conv_suspects()] + \
    [("pool", checks.check_maxpool_forward, s) for s in diagnosis.pool_suspects()] + \
    [("features", checks.check_frame_features, s) for s in diagnosis.feature_suspects()] + \
    [("crnn", checks.check_crnn_forward, s) for s in diagnosis.crnn_suspects()]
REFERENCE = {"conv": lambda x, K, b, s, p: conv.conv2d_forward(x, K, b, stride=s, padding=p)[0],
             "pool": lambda x, size, s=None: conv.maxpool_forward(x, size, s)[0],
             "features": lambda frames, params: crnn.frame_features(frames, params)[0]}


def _kind(step) -> str:
    return next(k for k, (s, _) in cells.STEP_FUNCTIONS.items() if s is step)


def _suspect_student(stage, s):
    def student(*args):
        if stage == "crnn":
            *inputs, step = args
            case = {"args": tuple(inputs), "kind": _kind(step)}
            out = s.outputs(case)
            return (crnn.crnn_forward(*args)[0] if out is None else out["y"]), None
        if stage == "pool" and len(args) == 2:
            args = (*args, args[1])  # the stride left out: its default is the window size
        out = s.outputs({"args": args})
        return (REFERENCE[stage](*args) if out is None else next(iter(out.values()))), None
    return student


@pytest.mark.parametrize(("stage", "check", "s"), SUSPECTS, ids=[f"{st}-{s.text[:30]}" for st, _, s in SUSPECTS])
def test_suspect_is_named(stage, check, s):
    """Does a function returning a suspect's output (of another shape too) fail its hidden check with its name?"""
    with pytest.raises(AssertionError, match=re.escape(f"(likely bug: {s.bug})")):
        check(_suspect_student(stage, s), True)


def _flipped_features(frames, params):
    return crnn.frame_features(frames, {**params, "conv1.K": params["conv1.K"][:, :, ::-1].copy()})  # rows only


def _pool_then_scale(frames, params):
    layers = crnn.standard_layers(params)
    p, _ = crnn.cnn_forward(layers[:3], params, frames)  # conv1 -> ReLU -> pool
    p = np.sqrt(p)  # a stray transform between pooling and flattening
    return crnn.cnn_forward(layers[3:], params, p)[0], None


def _dense_squared(frames, params):
    return crnn.frame_features(frames, {**params, "dense1.W": params["dense1.W"] ** 2})


def _videos_mixed(X, params, step):
    B = X.shape[0]
    return crnn.crnn_forward(np.roll(X, 1, axis=0) if B > 1 else X, params, step)[0], None  # another video's frames


def _frames_shuffled(X, params, step):
    T = X.shape[1]
    order = [(t * 2) % T for t in range(T)] if T % 2 else [*range(1, T), 0]  # frames out of order
    return crnn.crnn_forward(X[:, order].copy(), params, step)


@pytest.mark.parametrize(("check", "fn", "bug"), [
    (checks.check_frame_features, _flipped_features, "convolution stage wrong"),
    (checks.check_frame_features, _dense_squared, "dense stage wrong"),
    (checks.check_crnn_forward, _videos_mixed, "batch and time mixed"),
    (checks.check_crnn_forward, _frames_shuffled, "frames in the wrong order"),
], ids=["features-conv", "features-dense", "crnn-videos", "crnn-order"])
def test_stage_probes_name_bugs_without_suspects(check, fn, bug, monkeypatch):
    """With every suspect removed, do the stage probes (identity layers, one video, a still video) name the stage?"""
    for name in ("feature_hypotheses", "crnn_hypotheses"):
        monkeypatch.setattr(checks, name, lambda: [])
    for name in ("feature_suspects", "crnn_suspects"):
        monkeypatch.setattr(checks, name, lambda: [])
    with pytest.raises(AssertionError) as err:
        check(fn, True)
    assert "Probably" in str(err.value) and f"(likely bug: {bug})" in str(err.value), str(err.value)


def test_a_stage_after_pooling_is_not_blamed_on_the_convolution(monkeypatch):
    """Does a transform between pooling and dense, with no suspect for it, avoid naming the conv or pool stage?"""
    for name in ("feature_hypotheses", "feature_suspects"):
        monkeypatch.setattr(checks, name, lambda: [])
    with pytest.raises(AssertionError) as err:
        checks.check_frame_features(_pool_then_scale, True)
    assert "convolution stage wrong" not in str(err.value) and "pooling stage wrong" not in str(err.value)


# ----------------------------------------------------------------------------- the catalogue
@pytest.mark.parametrize("bug", [b for b in BUGS if b.assignment == "crnn"], ids=lambda b: f"{half(b)}-{b.name}")
def test_catalogue_bug_is_caught_and_located(bug):
    """Does every crnn bug of the catalogue fail the edited function's check with a located message?"""
    result = outcome(bug)
    assert result.caught and result.located, result.message


def test_tune_half_is_named():
    """Are at least 90% of the tune half's crnn bugs named?"""
    results = [outcome(b) for b in BUGS if b.assignment == "crnn" and half(b) == "tune"]
    assert sum(r.named for r in results) >= 0.9 * len(results), [r.bug.name for r in results if not r.named]
