"""Is a student function that *raises* told which sizes or settings it confuses, and never given a false name?

The shape probes (``probes.shape_finding`` for the cells, ``architecture_diagnosis.raise_finding``, the CRNN's
``_raised_call``) rerun a function that raised on grader-chosen sizes with one coincidence each. These tests
write raising bugs of several kinds per class, and functions that raise for reasons no size explains.
"""

from __future__ import annotations

import re

import numpy as np
import pytest

from autograder import cell_checks
from autograder.architecture_checks import check_many_to_one_forward, check_one_to_many_forward
from autograder.checks import (
    check_gru_step,
    check_lstm_step,
    check_lstm_step_backward,
    check_rnn_step,
    check_rnn_step_backward,
)
from autograder.crnn_checks import check_conv2d_forward, check_maxpool_forward
from simulator import cells, conv


def _message(check, *args, **kwargs) -> str:
    with pytest.raises(AssertionError) as info:
        check(*args, **kwargs)
    return str(info.value)


def _rnn(a_fn):
    def rnn_step(x, h_prev, params, activation="tanh"):
        a = a_fn(x, h_prev, params)
        h = np.tanh(a)
        return h, {"x": x, "h_prev": h_prev, "a": a, "h": h, "activation": activation, "params": params}
    return rnn_step


def _lstm_H_from_x(x, h_prev, c_prev, params):
    H = x.shape[1]
    a = x @ params["W_x"] + h_prev @ params["W_h"] + params["b"]
    i, f = cells.sigmoid(a[:, :H]), cells.sigmoid(a[:, H:2 * H])
    g, o = np.tanh(a[:, 2 * H:3 * H]), cells.sigmoid(a[:, 3 * H:])
    c = f * c_prev + i * g
    h = o * np.tanh(c)
    return h, c, {"x": x, "h_prev": h_prev, "c_prev": c_prev, "i": i, "f": f, "g": g, "o": o, "c": c,
                  "tanh_c": np.tanh(c), "params": params}


def _gru_H_from_x(x, h_prev, params, reset_after=True):
    cache_h, cache = cells.gru_step(x, h_prev, params, reset_after=reset_after)
    if x.shape[1] != h_prev.shape[1]:
        # what H = x.shape[1] does to the slices: a broadcast error whenever D != H
        raise ValueError(f"operands could not be broadcast together with shapes {x.shape} {h_prev.shape}")
    return cache_h, cache


def test_a_size_read_from_x_is_named_with_the_condition_it_needs():
    """Does a forward that raises unless D = H and is right then say so, in symbols, for LSTM and GRU?"""
    for check, fn in ((check_lstm_step, _lstm_H_from_x), (check_gru_step, _gru_H_from_x)):
        text = _message(check, fn, cache=True)
        assert "raises unless D = H and then matches the reference" in text, text
        assert "likely bug: a size of D (x's width) used for H" in text, text


def test_exchanged_weights_are_named_where_they_can_run():
    """Is x @ W_hh + h_prev @ W_xh named as exchanged weights (it runs only when D = H)?"""
    text = _message(check_rnn_step, _rnn(lambda x, h, p: x @ p["W_hh"] + h @ p["W_xh"] + p["b_h"]), cache=True)
    assert "(likely bug: weights exchanged)" in text, text


def test_a_missing_transpose_in_the_backward_is_named():
    """Is dx = da @ W_xh (no transpose; it raises unless D = H) named as the transposed weight?"""
    def backward(dh, cache):
        dx, dh_prev, grads = cells.rnn_step_backward(dh, cache)
        da = dh * (1 - cache["h"] ** 2)
        return da @ cache["params"]["W_xh"], dh_prev, grads

    text = _message(check_rnn_step_backward, cells.rnn_step, backward, wrt="inputs")
    assert "raises unless D = H" in text and "dx is computed with W_xh instead of W_xh.T" in text, text


def test_code_written_for_one_example_is_told_so():
    """Is a forward that reshapes x W_xh to (H,) (runs only when B = 1) told it works for one example only?"""
    def a_fn(x, h, p):
        return (x @ p["W_xh"]).reshape(p["W_hh"].shape[0]) + h @ p["W_hh"] + p["b_h"]

    text = _message(check_rnn_step, _rnn(a_fn), cache=True)
    assert "raises unless B = 1" in text and "written for a batch of one" in text, text


def test_gate_blocks_stacked_as_rows_are_named_from_the_matmul_sizes():
    """Does an LSTM backward that concatenates the gate gradients with axis=0 hear about the axis?"""
    def backward(dh, dc, cache):
        _, _, dc_prev, grads = cells.lstm_step_backward(dh, dc, cache)
        da = np.concatenate([dh, dh, dh, dh], axis=0)
        return da @ cache["params"]["W_x"].T, dh, dc_prev, grads

    text = _message(check_lstm_step_backward, cells.lstm_step, backward, wrt="inputs")
    assert "concatenated along the wrong axis" in text and "axis=1" in text, text


@pytest.mark.parametrize("reason", ["always", "visible only"])
def test_a_raise_no_size_explains_gets_no_shape_name(reason):
    """Does a function that raises everywhere, or only on the graded cases, get no 'raises unless' guess?"""
    graded = {x.shape for case in cell_checks.step_cases(cell_checks.SPECS["rnn"], False) for x in (case["x"],)}

    def rnn_step(x, h_prev, params, activation="tanh"):
        if reason == "always" or x.shape in graded:
            raise RuntimeError("something else went wrong")
        return cells.rnn_step(x, h_prev, params)

    text = _message(check_rnn_step, rnn_step, cache=True)
    assert "raised RuntimeError" in text and "raises unless" not in text and "likely bug" not in text, text


def test_probe_answers_never_change_the_score():
    """A function that raises on graded cases and is right on every probe: does it still fail the check?"""
    def rnn_step(x, h_prev, params, activation="tanh"):
        if x.shape[1] != h_prev.shape[1]:
            raise ValueError("no")
        return cells.rnn_step(x, h_prev, params)

    with pytest.raises(AssertionError, match="raised ValueError"):
        check_rnn_step(rnn_step, cache=True)


def _helpers():
    def cell_params(params, prefix=""):
        return {k: v for k, v in params.items() if k not in ("W_hy", "b_y") and not k.startswith("dec_")}

    def zero_state(cp, B):
        H = (cp["W_hh"] if "W_hh" in cp else cp["W_h"]).shape[0]
        h = np.zeros((B, H))
        return (h, np.zeros((B, H))) if "b" in cp else h

    def run_step(step, x, state, cp):
        if isinstance(state, tuple):
            h, c, _ = step(x, state[0], state[1], cp)
            return (h, c), h
        h, _ = step(x, state, cp)
        return h, h

    return cell_params, zero_state, run_step


def test_a_batch_axis_confused_with_the_outputs_is_named_in_an_architecture():
    """One-to-many feeding back a one-hot built over the batch axis: told B and K are confused?"""
    cell_params, zero_state, run_step = _helpers()

    def one_to_many_forward(x, params, T, step):
        cp = cell_params(params)
        state, inp, ys = zero_state(cp, x.shape[0]), x, []
        for _ in range(T):
            state, h = run_step(step, inp, state, cp)
            y = h @ params["W_hy"] + params["b_y"]
            ys.append(y)
            inp = np.eye(y.shape[1])[y.argmax(axis=0)]
        return np.stack(ys, axis=1), None

    text = _message(check_one_to_many_forward, one_to_many_forward)
    assert "raises unless B = K" in text and "batch and output axes confused" in text, text


def test_a_state_built_for_one_example_is_named_in_an_architecture():
    """Many-to-one whose zero state has one row (it runs only when B = 1): told it is written for one example?"""
    cell_params, zero_state, run_step = _helpers()

    def many_to_one_forward(X, params, step):
        cp = cell_params(params)
        state = zero_state(cp, 1)
        for t in range(X.shape[1]):
            state, h = run_step(step, X[:, t], state, cp)
        return h @ params["W_hy"] + params["b_y"], None

    text = _message(check_many_to_one_forward, many_to_one_forward)
    assert re.search(r"raises unless B = 1\b", text) and "written for a batch of one" in text, text


def test_pooling_by_reshape_is_told_it_needs_stride_equal_to_the_window():
    """A reshape-into-windows max-pool fails where stride != window: is it told it needs them equal?"""
    def maxpool_forward(x, size=2, stride=None):
        stride = size if stride is None else stride
        N, C, H, W = x.shape
        OH, OW = (H - size) // stride + 1, (W - size) // stride + 1
        return x[:, :, :OH * size, :OW * size].reshape(N, C, OH, size, OW, size).max(axis=(3, 5)), None

    check_maxpool_forward(maxpool_forward)  # the visible cases move by the window: they pass
    # In process a hidden case's message is the check's own (through the sandbox hidden_text replaces it).
    text = _message(check_maxpool_forward, maxpool_forward, hidden=True)
    assert "runs only with stride = window" in text and "right only when the stride equals the window" in text, text


def test_a_conv_whose_output_size_forgets_the_stride_is_told_so():
    """A conv whose OH leaves out the stride (windows run off the image when stride > 1): named the stride?"""
    def conv2d_forward(x, K, b, stride=1, padding=0):
        N, C, H, W = x.shape
        F, _, KH, KW = K.shape
        OH, OW = H + 2 * padding - KH + 1, (W + 2 * padding - KW) // stride + 1
        xp = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
        out = np.empty((N, F, OH, OW))
        for i in range(OH):
            for j in range(OW):
                patch = xp[:, :, i * stride: i * stride + KH, j * stride: j * stride + KW]
                out[:, :, i, j] = np.tensordot(patch, K, axes=([1, 2, 3], [1, 2, 3])) + b
        return out, None

    with pytest.raises(AssertionError) as info:
        for hidden in (False, True):
            check_conv2d_forward(conv2d_forward, hidden=hidden)
    text = str(info.value)
    assert "runs only with stride 1" in text and "(likely bug: stride ignored)" in text, text


def test_correct_functions_pass_with_no_diagnosis():
    """Do the references pass every check these tests use (no false name on a correct solution)?"""
    check_rnn_step(cells.rnn_step, cache=True)
    check_lstm_step(cells.lstm_step, cache=True)
    check_gru_step(cells.gru_step, cache=True)
    check_maxpool_forward(lambda x, size=2, stride=None: conv.maxpool_forward(x, size, stride))


def test_a_squeezed_or_fully_summed_gradient_is_named_on_a_batch_of_one():
    """dx.squeeze() and a bias gradient summed over every axis break only when B = 1: are both named?"""
    def squeezed(dh, dc, cache):
        dx, dh_prev, dc_prev, grads = cells.lstm_step_backward(dh, dc, cache)
        return dx.squeeze(), dh_prev, dc_prev, grads

    def summed(dh, cache):
        dx, dh_prev, grads = cells.rnn_step_backward(dh, cache)
        da = dh * (1 - cache["h"] ** 2)
        return dx, dh_prev, {**grads, "b_h": da.sum(axis=0) if len(da) > 1 else da.sum()}

    text = _message(check_lstm_step_backward, cells.lstm_step, squeezed, wrt="inputs")
    assert "likely bug: size-1 axes squeezed" in text, text
    text = _message(check_rnn_step_backward, cells.rnn_step, summed, wrt="params")
    assert "likely bug: sum over every axis" in text, text


def test_a_wrong_shape_with_no_size_one_gets_no_squeeze_guess():
    """A dx of the wrong size (not a squeeze) must not be called squeezed."""
    def backward(dh, cache):
        dx, dh_prev, grads = cells.rnn_step_backward(dh, cache)
        return dx[:, :1], dh_prev, grads

    text = _message(check_rnn_step_backward, cells.rnn_step, backward, wrt="inputs")
    assert "squeezed" not in text and "every axis" not in text, text


def test_a_division_by_a_zero_norm_is_named_from_the_all_zero_case():
    """Clipping that divides by the norm without a guard raises only on all-zero gradients: named as such?"""
    from autograder.checks import check_clip_gradients

    def clip_gradients(grads, max_norm):
        norm = float(np.sqrt(sum(float((g * g).sum()) for g in grads.values())))
        factor = max_norm / norm
        return {k: g * (factor if factor < 1 else 1.0) for k, g in grads.items()}, norm

    text = _message(check_clip_gradients, clip_gradients)
    assert "fails only when grads is all zero" in text and "division by zero not guarded" in text, text


def test_a_raise_on_every_case_gets_no_zero_guess():
    """Clipping that always raises is not told it fails on zeros only."""
    from autograder.checks import check_clip_gradients

    def clip_gradients(grads, max_norm):
        raise ZeroDivisionError("always")

    text = _message(check_clip_gradients, clip_gradients)
    assert "raised ZeroDivisionError" in text and "likely bug" not in text, text
