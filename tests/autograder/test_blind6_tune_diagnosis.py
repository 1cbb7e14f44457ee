"""Classes added while tuning on blind catalogue 6's tune half (docs/blind6.md), each on variants not in it: the GRU
blend flipped with z cached right, a backward reading one cache entry where another belongs, and state kept between
calls seen through a raise. Controls: the references pass and a stateless raise gets no state name.
"""

from __future__ import annotations

import numpy as np
import pytest

from autograder import bptt_checks, cell_checks
from exercises.answers import bptt as bptt_answers
from simulator import cells
from tests.autograder import graded_message

SECRET = b"blind6-tune-classes-secret-98765432"


cause = graded_message.cause


def grade(check, *args, hidden=False, **options):
    return graded_message.grade_or_raised(check, *args, secret=SECRET, hidden=hidden, **options)


def gru_blend_as_lerp(x, h_prev, params, reset_after=True):
    h, cache = cells.gru_step(x, h_prev, params, reset_after)
    z, n = cache["z"], cache["n"]
    return n + (h_prev - n) * (1.0 - z), cache  # an interpolation written from the wrong end


@pytest.mark.parametrize("reset_after", [True, False])
def test_a_gru_blend_flipped_with_z_cached_right_is_named(reset_after):
    message = grade(cell_checks.check_gru_step, gru_blend_as_lerp, reset_after=reset_after)
    assert "update convention flipped" in cause(message), message


def lstm_backward_reads_f_for_i(dh, dc, cache):
    return cells.lstm_step_backward(dh, dc, {**cache, "i": cache["f"]})


def gru_backward_reads_r_for_z(dh, cache):
    return cells.gru_step_backward(dh, {**cache, "z": cache["r"]})


def lstm_backward_tanh_c_from_c_prev(dh, dc, cache):
    return cells.lstm_step_backward(dh, dc, {**cache, "tanh_c": cache["c_prev"]})


@pytest.mark.parametrize("check, fn, entries", [
    (cell_checks.check_lstm_step_backward, lstm_backward_reads_f_for_i, ("'f'", "'i'")),
    (cell_checks.check_gru_step_backward, gru_backward_reads_r_for_z, ("'r'", "'z'")),
    (cell_checks.check_lstm_step_backward, lstm_backward_tanh_c_from_c_prev, ("'c_prev'", "'tanh_c'")),
])
def test_a_backward_reading_the_wrong_cache_entry_is_named_with_both_entries(check, fn, entries):
    text = cause(grade(check, None, fn))
    assert "likely bug" in text and all(e in text for e in entries), text


_CARRY: dict = {}


def forward_carried_state(X, h0, params):
    """The state carried over from the previous call ("the sequence goes on"): right on the first call only."""
    H, h, caches = np.zeros((X.shape[0], X.shape[1], h0.shape[1])), _CARRY.get("h", h0), []
    for t in range(X.shape[1]):
        h, c = cells.rnn_step(X[:, t], h, params)
        H[:, t] = h
        caches.append(c)
    _CARRY["h"] = h
    return H, caches


def backward_global_accumulator(dH, caches, _acc={}):  # noqa: B006 - the bug under test
    dX, dh0, grads = bptt_answers.rnn_backward(dH, caches)
    for k, g in grads.items():
        _acc[k] = _acc.get(k, 0) + g
    return dX, dh0, dict(_acc)


def test_state_kept_between_calls_is_named_when_it_makes_a_later_case_raise():
    _CARRY.clear()
    message = grade(bptt_checks.check_rnn_forward, forward_carried_state)
    assert "raised" in message and "state kept between calls" in cause(message), message


def test_a_global_accumulator_is_named_state_kept_between_calls():
    message = grade(bptt_checks.check_rnn_backward, bptt_answers.rnn_forward, backward_global_accumulator)
    assert "state kept between calls" in cause(message), message


def test_a_stateless_raise_gets_no_state_name_and_the_references_pass():
    def raises_on_short(X, h0, params):
        if X.shape[1] < 4:
            raise RuntimeError("too short")
        return bptt_answers.rnn_forward(X, h0, params)

    message = grade(bptt_checks.check_rnn_forward, raises_on_short)
    assert message is not None and "state kept" not in message
    for hidden in (False, True):
        assert grade(cell_checks.check_gru_step, cells.gru_step, hidden=hidden) is None
        assert grade(cell_checks.check_lstm_step_backward, None, cells.lstm_step_backward, hidden=hidden) is None
        assert grade(bptt_checks.check_rnn_backward, bptt_answers.rnn_forward, bptt_answers.rnn_backward,
                     hidden=hidden) is None
