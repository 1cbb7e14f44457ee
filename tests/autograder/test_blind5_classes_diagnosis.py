"""The classes blind catalogue 5 left unnamed or misnamed (docs/diagnosis.md), each on variants not in that catalogue:
gradients w.r.t. the post-activation (every cell), a typical eigenvalue size as the radius, hidden states sized like
the input (an rnn_forward that raises), layout errors (reshape vs transpose), precision lost (float32/float16).
Every variant is graded visible and hidden; controls keep full marks and get none of these names.
"""

from __future__ import annotations

import numpy as np
import pytest

from autograder import architecture_checks, bptt_checks, cell_checks
from exercises.answers import bptt as bptt_answers
from simulator import cells
from tests.autograder import graded_message
from tests.autograder.blind5.solution import cell_params, readout, run_step, zero_state

SECRET = b"blind5-classes-test-secret-0123456"


cause = graded_message.cause


def grade(check, *args, hidden=False, **options):
    return graded_message.grade_or_raised(check, *args, secret=SECRET, hidden=hidden, **options)


# ----------------------------------------------------------------------------- post-activation gradients
def lstm_params_from_gate_grads(dh, dc, cache):
    p, i, f, g, o, tanh_c = (cache[k] for k in ("params", "i", "f", "g", "o", "tanh_c"))
    dc_total = dc + dh * o * (1.0 - tanh_c ** 2)
    di, df, dg, do = dc_total * g, dc_total * cache["c_prev"], dc_total * i, dh * tanh_c
    da = np.concatenate([di * i * (1 - i), df * f * (1 - f), dg * (1 - g ** 2), do * o * (1 - o)], axis=1)
    d_gates = np.concatenate([di, df, dg, do], axis=1)  # the gates' own gradients
    grads = {"W_x": cache["x"].T @ d_gates, "W_h": cache["h_prev"].T @ d_gates, "b": d_gates.sum(axis=0)}
    return da @ p["W_x"].T, da @ p["W_h"].T, dc_total * f, grads


def gru_params_from_post_activation(dh, cache):
    dx, dh_prev, _ = cells.gru_step_backward(dh, cache)
    _, _, raw = cells.gru_step_backward(dh, cache, dsigmoid=np.ones_like, dtanh=np.ones_like)
    return dx, dh_prev, raw


def gru_no_derivatives(dh, cache):
    return cells.gru_step_backward(dh, cache, dsigmoid=np.ones_like, dtanh=np.ones_like)


def rnn_params_einsum_from_dh(dh, cache):
    da = dh * (1.0 - cache["h"] ** 2)
    p = cache["params"]
    grads = {"W_xh": np.einsum("bd,bh->dh", cache["x"], dh), "W_hh": np.einsum("bk,bh->kh", cache["h_prev"], dh),
             "b_h": np.sum(dh, axis=0)}
    return da @ p["W_xh"].T, da @ p["W_hh"].T, grads


@pytest.mark.parametrize("check, fn, options", [
    (cell_checks.check_lstm_step_backward, lstm_params_from_gate_grads, {}),
    (cell_checks.check_gru_step_backward, gru_params_from_post_activation, {}),
    (cell_checks.check_gru_step_backward, gru_params_from_post_activation, {"reset_after": False}),
    (cell_checks.check_gru_step_backward, gru_no_derivatives, {}),
    (cell_checks.check_rnn_step_backward, rnn_params_einsum_from_dh, {}),
])
def test_gradients_taken_wrt_the_post_activation_are_named_for_every_cell(check, fn, options):
    for hidden in (False, True):
        message = grade(check, None, fn, hidden=hidden, **options)
        assert message is not None
        if not hidden:
            assert "post-activation" in cause(message), message


# ----------------------------------------------------------------------------- the radius
@pytest.mark.parametrize("fn, word", [
    (lambda W: float(np.exp(np.linalg.slogdet(W)[1] / W.shape[0])), "geometric mean"),
    (lambda W: float(np.mean(np.abs(np.linalg.eigvals(W)))), "mean of |lambda|"),
    (lambda W: float(np.sqrt(np.mean(np.abs(np.linalg.eigvals(W)) ** 2))), "root mean square"),
])
def test_a_typical_eigenvalue_size_is_named_not_the_radius(fn, word):
    message = grade(bptt_checks.check_spectral_radius, fn)
    assert "typical eigenvalue size" in cause(message) and word in cause(message), message
    assert grade(bptt_checks.check_spectral_radius, fn, hidden=True) is not None


# ----------------------------------------------------------------------------- sizes: an rnn_forward that raises
def forward_empty_like(X, h0, params):
    H, h, caches = np.empty_like(X), h0, []
    for t in range(X.shape[1]):
        h, c = cells.rnn_step(X[:, t], h, params)
        H[:, t] = h
        caches.append(c)
    return H, caches


def forward_units_from_X(X, h0, params):
    B, T, n = X.shape  # the number of units read from the input's width
    H, h, caches = np.zeros((B, T, n)), h0, []
    for t in range(T):
        h, c = cells.rnn_step(X[:, t], h, params)
        H[:, t, :] = h
        caches.append(c)
    return H, caches


@pytest.mark.parametrize("fn", [forward_empty_like, forward_units_from_X])
def test_hidden_states_sized_like_the_input_are_named(fn):
    message = grade(bptt_checks.check_rnn_forward, fn)
    assert message.startswith("rnn_forward") and "raised" in message
    assert "hidden states sized like the input" in cause(message) and "D = H" in cause(message), message


def test_a_forward_raising_for_another_reason_gets_no_size_name():
    def broken(X, h0, params):
        raise RuntimeError("not done yet")

    message = grade(bptt_checks.check_rnn_forward, broken)
    assert "not done yet" in message and "likely bug" not in message


# ----------------------------------------------------------------------------- layouts
def m2m_time_major_reshaped(X, params, step):
    cp = cell_params(params)
    state, B, T = zero_state(step, X.shape[0], cp), X.shape[0], X.shape[1]
    Y = None
    for t in range(T):
        state, h = run_step(step, X[:, t], state, cp)
        y = readout(h, params)
        Y = np.zeros((T, B, y.shape[1])) if Y is None else Y
        Y[t] = y
    return Y.reshape(B, T, -1), None


def forward_list_reshaped(X, h0, params):
    hs, h, caches = [], h0, []
    for t in range(X.shape[1]):
        h, c = cells.rnn_step(X[:, t], h, params)
        hs.append(h)
        caches.append(c)
    return np.array(hs).reshape(X.shape[0], X.shape[1], -1), caches


def backward_dX_reshaped(dH, caches):
    dX, dh0, grads = bptt_answers.rnn_backward(dH, caches)
    return dX.transpose(1, 0, 2).copy().reshape(dX.shape), dh0, grads


@pytest.mark.parametrize("check, args", [
    (architecture_checks.check_architecture, ("many_to_many", m2m_time_major_reshaped)),
    (bptt_checks.check_rnn_forward, (forward_list_reshaped,)),
    (bptt_checks.check_rnn_backward, (bptt_answers.rnn_forward, backward_dX_reshaped)),
])
def test_a_reshape_where_a_transpose_was_needed_is_named_a_layout_error(check, args):
    message = grade(check, *args)
    text = cause(message)
    assert "layout error: reshape vs transpose" in text and "time reversed" not in text, message
    assert grade(check, *args, hidden=True) is not None


# ----------------------------------------------------------------------------- precision
def lstm_float16_c(x, h_prev, c_prev, params):
    h, c, cache = cells.lstm_step(x, h_prev, c_prev, params)
    c16 = c.astype(np.float16).astype(np.float64)
    tanh_c = np.tanh(c16)
    return cache["o"] * tanh_c, c16, {**cache, "c": c16, "tanh_c": tanh_c}


def rnn_float32_params(x, h_prev, params, activation="tanh"):
    p32 = {k: np.asarray(v, dtype=np.float32) for k, v in params.items()}
    return cells.rnn_step(x.astype(np.float32), h_prev.astype(np.float32), p32, activation)


def m2o_float16_readout(X, params, step):
    Y, cache = architecture_checks.architectures.many_to_one_forward(X, params, step)
    return Y.astype(np.float16).astype(np.float64), cache


@pytest.mark.parametrize("check, args", [
    (cell_checks.check_lstm_step, (lstm_float16_c,)),
    (cell_checks.check_rnn_step, (rnn_float32_params,)),
    (architecture_checks.check_architecture, ("many_to_one", m2o_float16_readout)),
])
def test_precision_lost_is_named_from_the_dtype_or_the_relative_error(check, args):
    message = grade(check, *args)
    assert "precision lost" in cause(message), message
    assert grade(check, *args, hidden=True) is not None


def test_a_small_real_bug_is_not_called_precision():
    """A bias scaled by 0.9 is a real bug of small effect: its error is far above float16's level on the probe case."""
    def rnn_scaled_bias(x, h_prev, params, activation="tanh"):
        return cells.rnn_step(x, h_prev, {**params, "b_h": 0.9 * params["b_h"]}, activation)

    message = grade(cell_checks.check_rnn_step, rnn_scaled_bias)
    assert "precision lost" not in message


def test_the_references_get_none_of_these_names():
    for hidden in (False, True):
        assert grade(cell_checks.check_lstm_step, cells.lstm_step, hidden=hidden) is None
        assert grade(cell_checks.check_gru_step_backward, None, cells.gru_step_backward, hidden=hidden) is None
        assert grade(bptt_checks.check_rnn_forward, bptt_answers.rnn_forward, hidden=hidden) is None
        assert grade(bptt_checks.check_spectral_radius, bptt_answers.spectral_radius, hidden=hidden) is None
