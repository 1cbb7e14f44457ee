"""Classes added while tuning on blind catalogue 7's tune half and on blind6's held-out misses (docs/blind7.md), each
on variants in neither catalogue, with controls: the reference gets no message, and a different bug does not get
the class's name.
"""

from __future__ import annotations

import numpy as np
import pytest

from autograder import cell_checks
from simulator import cells
from tests.autograder import graded_message

SECRET = b"blind7-tune-classes-secret-13572468"
cause = graded_message.cause


def grade(check, *args, hidden=False, **options):
    return graded_message.grade_or_raised(check, *args, secret=SECRET, hidden=hidden, **options)


# ------------------------------------------------------------------ activation applied again in its derivative
def gru_backward_tanh_of_n(dh, cache):
    return cells.gru_step_backward(dh, cache, dtanh=lambda t: 1.0 - np.tanh(t) ** 2)


def lstm_backward_sigmoid_of_o(dh, dc, cache):
    o = cache["o"]
    return cells.lstm_step_backward(dh, dc, cache, dsigmoid=lambda s: cells.dsigmoid(cells.sigmoid(s)) if s is o
                                    else cells.dsigmoid(s))


def lstm_backward_helpers_on_outputs(dh, dc, cache):
    """A student's helpers written for pre-activations (1 - tanh(x)^2, sigmoid(x)(1 - sigmoid(x))), called on the
    cached outputs everywhere."""
    return cells.lstm_step_backward(dh, dc, cache, dtanh=lambda t: 1.0 - np.tanh(t) ** 2,
                                    dsigmoid=lambda s: cells.sigmoid(s) * (1.0 - cells.sigmoid(s)))


@pytest.mark.parametrize("check, fn, site", [
    (cell_checks.check_gru_step_backward, gru_backward_tanh_of_n, "tanh(n)"),
    (cell_checks.check_lstm_step_backward, lstm_backward_sigmoid_of_o, "sigmoid(o)"),
    (cell_checks.check_lstm_step_backward, lstm_backward_helpers_on_outputs, "tanh(tanh_c)"),
])
def test_an_activation_applied_again_in_its_derivative_is_named_with_its_site(check, fn, site):
    for hidden in (False, True):
        message = grade(check, None, fn, hidden=hidden)
        assert message is not None, fn.__name__
    text = cause(grade(check, None, fn))
    assert "activation applied twice in the derivative" in text and site in text, text


def rnn_backward_one_minus_h(dh, cache):
    return cells.rnn_step_backward(dh, cache, dtanh=lambda t: 1.0 - t)


@pytest.mark.parametrize("check, fn", [
    (cell_checks.check_rnn_step_backward, rnn_backward_one_minus_h),  # another derivative bug: its own name
    (cell_checks.check_gru_step_backward, lambda dh, cache: cells.gru_step_backward(dh, cache,
                                                                                    dsigmoid=lambda s: 1.0 - s * s)),
])
def test_a_different_derivative_bug_is_not_called_an_activation_applied_twice(check, fn):
    text = cause(grade(check, None, fn))
    assert "likely bug" in text and "applied twice" not in text, text


@pytest.mark.parametrize("check, fn", [
    (cell_checks.check_rnn_step_backward, cells.rnn_step_backward),
    (cell_checks.check_lstm_step_backward, cells.lstm_step_backward),
    (cell_checks.check_gru_step_backward, cells.gru_step_backward),
])
def test_the_reference_backwards_pass(check, fn):
    for hidden in (False, True):
        assert grade(check, None, fn, hidden=hidden) is None


# ----------------------------------------------------------------------------- a gate left out of the cell update
def lstm_forget_gate_dropped(x, h_prev, c_prev, params):
    _, _, cache = cells.lstm_step(x, h_prev, c_prev, params)
    c = c_prev + cache["i"] * cache["g"]  # the gates computed (and cached) right, f left out of the update
    tanh_c = np.tanh(c)
    h = cache["o"] * tanh_c
    return h, c, {**cache, "c": c, "tanh_c": tanh_c, "h": h}


def lstm_cell_state_dropped(x, h_prev, c_prev, params):
    _, _, cache = cells.lstm_step(x, h_prev, c_prev, params)
    c = cache["i"] * cache["g"]
    tanh_c = np.tanh(c)
    h = cache["o"] * tanh_c
    return h, c, {**cache, "c": c, "tanh_c": tanh_c, "h": h}


def test_a_gate_left_out_of_the_cell_update_is_named_with_the_gate():
    text = cause(grade(cell_checks.check_lstm_step, lstm_forget_gate_dropped))
    assert "forget gate dropped" in text and "c = c_prev + i * g" in text, text
    assert grade(cell_checks.check_lstm_step, lstm_forget_gate_dropped, hidden=True) is not None


def test_controls_for_a_gate_left_out_of_the_cell_update():
    text = cause(grade(cell_checks.check_lstm_step, lstm_cell_state_dropped))
    assert "likely bug" in text and "gate dropped" not in text, text
    for hidden in (False, True):
        assert grade(cell_checks.check_lstm_step, cells.lstm_step, hidden=hidden) is None


# ------------------------------------------------------------------ blind6's held-out GRU backward misses
def gru_backward_b_x_from_dhw(dh, cache):
    """db_x copied from db_h's line (the reverse of blind6's grub_bh_from_da_n)."""
    dx, dh_prev, grads = cells.gru_step_backward(dh, cache)
    return dx, dh_prev, {**grads, "b_x": grads["b_h"].copy()}


def gru_backward_dr_recomputed(dh, cache):
    """Reset after: hw_n recomputed as h_prev @ W_hn for dr, its bias forgotten."""
    H = cache["h_prev"].shape[1]
    hw = cache["hw"].copy()
    hw[:, 2 * H:] = cache["h_prev"] @ cache["params"]["W_h"][:, 2 * H:]
    return cells.gru_step_backward(dh, {**cache, "hw": hw})


@pytest.mark.parametrize("fn, options, name", [
    (gru_backward_b_x_from_dhw, {}, "gradient copied from another parameter"),
    (gru_backward_dr_recomputed, {}, "recurrent bias missing in dr"),
])
def test_gru_backward_classes_from_blind6s_held_out_are_named(fn, options, name):
    text = cause(grade(cell_checks.check_gru_step_backward, None, fn, **options))
    assert f"likely bug: {name}" in text, text


def test_gru_backward_classes_are_not_given_to_another_convention_or_another_bug():
    for options in ({}, {"reset_after": False}):
        for hidden in (False, True):
            assert grade(cell_checks.check_gru_step_backward, None, cells.gru_step_backward, hidden=hidden,
                         **options) is None
    # The "no direct path" bug keeps its own name under both conventions.
    for options in ({}, {"reset_after": False}):
        text = cause(grade(cell_checks.check_gru_step_backward, None,
                           lambda dh, cache: (lambda o: (o[0], o[1] - dh * cache["z"], o[2]))(
                               cells.gru_step_backward(dh, cache)), **options))
        assert "likely bug: missing term" in text, text


# ------------------------------------------------------------------ a cache entry misread at one kind of site
def lstm_backward_dg_from_f(dh, dc, cache):
    """dg = dc_total * f (f where i belongs in the product; i's own derivative right)."""
    f_copy = cache["f"].copy()
    return cells.lstm_step_backward(dh, dc, {**cache, "i": f_copy},
                                    dsigmoid=lambda s: cells.dsigmoid(cache["i"]) if s is f_copy else cells.dsigmoid(s))


def lstm_backward_dtanh_at_c(dh, dc, cache):
    """dc_total = dc + dh * o * (1 - c^2): the derivative of tanh(c) taken at c."""
    tc = cache["tanh_c"]
    return cells.lstm_step_backward(dh, dc, cache, dtanh=lambda t: 1.0 - cache["c"] ** 2 if t is tc else 1.0 - t * t)


def gru_backward_dhw_n_with_z(dh, cache):
    """Reset after: dhw_n = da_n * z (z where r belongs in the product; r's derivative right)."""
    z_copy = cache["z"].copy()
    return cells.gru_step_backward(dh, {**cache, "r": z_copy},
                                   dsigmoid=lambda s: cells.dsigmoid(cache["r"]) if s is z_copy else cells.dsigmoid(s))


@pytest.mark.parametrize("check, fn, words", [
    (cell_checks.check_lstm_step_backward, lstm_backward_dg_from_f, ("'f'", "'i'", "in the products")),
    (cell_checks.check_lstm_step_backward, lstm_backward_dtanh_at_c, ("derivative taken at the wrong value",
                                                                       "1 - c^2")),
    (cell_checks.check_gru_step_backward, gru_backward_dhw_n_with_z, ("'z'", "'r'", "in the products")),
])
def test_a_cache_entry_misread_at_one_kind_of_site_is_named(check, fn, words):
    text = cause(grade(check, None, fn))
    assert "likely bug" in text and all(w in text for w in words), text


def test_a_different_lstm_backward_bug_keeps_its_own_name():
    def no_dc(dh, dc, cache):
        return cells.lstm_step_backward(dh, np.zeros_like(dc), cache)
    text = cause(grade(cell_checks.check_lstm_step_backward, None, no_dc))
    assert "likely bug: missing dc" in text, text
