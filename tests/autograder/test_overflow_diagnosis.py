"""Hand-written tanh or sigmoid that overflow: caught on the cells' large-pre-activation case and named, visibly and
on hidden tests; correct solutions keep full marks and get no such name.

The variants marked TUNING were written with the fix; those marked HELD_OUT were written afterwards and run once,
unchanged (docs/diagnosis.md, "Overflow and state between calls").
"""

from __future__ import annotations

import numpy as np
import pytest

from autograder import cases, cell_checks
from autograder.hypotheses import at_use
from simulator import cells
from tests.autograder import graded_message

SECRET = b"overflow-tests-secret-0123456789"
NAME = "overflow for large pre-activations"


def exp_tanh(a):
    return (np.exp(a) - np.exp(-a)) / (np.exp(a) + np.exp(-a))


def exp_sigmoid(a):
    return np.exp(a) / (1 + np.exp(a))


def exp2_tanh(a):
    return (np.exp(2 * a) - 1) / (np.exp(2 * a) + 1)


def neg_exp2_tanh(a):
    return (1 - np.exp(-2 * a)) / (1 + np.exp(-2 * a))


def naive_sigmoid(a):
    return 1 / (1 + np.exp(-a))  # inf in the denominator gives 0: finite, right


def grade(check, *args, hidden: bool = False, **kwargs) -> str | None:
    """None if the check passes, else its message (graded_message.grade with this file's secret)."""
    return graded_message.grade(check, *args, secret=SECRET, hidden=hidden, **kwargs)


# ----------------------------------------------------------------------------- the variants
def rnn_exp_tanh(x, h_prev, params, activation="tanh"):
    return cells.rnn_step(x, h_prev, params, tanh=exp_tanh)


def lstm_exp_sigmoid(x, h_prev, c_prev, params):
    return cells.lstm_step(x, h_prev, c_prev, params, sigmoid=exp_sigmoid)


def gru_exp2_tanh(x, h_prev, params, reset_after=True):
    return cells.gru_step(x, h_prev, params, reset_after=reset_after, tanh=exp2_tanh)


def lstm_tanh_c_by_exp(x, h_prev, c_prev, params):
    # only tanh(c) hand-written (the second tanh the step takes); the candidate uses np.tanh
    return cells.lstm_step(x, h_prev, c_prev, params, tanh=at_use(1, neg_exp2_tanh, np.tanh))


def rnn_backward_exp_tanh(dh, cache):
    a, p = cache["a"], cache["params"]
    da = dh * (1 - exp_tanh(a) ** 2)
    grads = {"W_xh": cache["x"].T @ da, "W_hh": cache["h_prev"].T @ da, "b_h": da.sum(axis=0)}
    return da @ p["W_xh"].T, da @ p["W_hh"].T, grads


def lstm_backward_exp_tanh_c(dh, dc, cache):
    return cells.lstm_step_backward(dh, dc, {**cache, "tanh_c": exp_tanh(cache["c"])})


TUNING = [
    ("rnn exp tanh", cell_checks.check_rnn_step, (rnn_exp_tanh,), {}),
    ("lstm exp sigmoid", cell_checks.check_lstm_step, (lstm_exp_sigmoid,), {"cache": True}),
]
HELD_OUT = [
    ("gru exp(2a) tanh, reset before", cell_checks.check_gru_step, (gru_exp2_tanh,), {"reset_after": False}),
    ("lstm tanh(c) by exp", cell_checks.check_lstm_step, (lstm_tanh_c_by_exp,), {}),
    ("rnn backward exp tanh", cell_checks.check_rnn_step_backward, (None, rnn_backward_exp_tanh), {"wrt": "inputs"}),
    ("lstm backward exp tanh(c)", cell_checks.check_lstm_step_backward, (None, lstm_backward_exp_tanh_c), {}),
]


@pytest.mark.parametrize("hidden", [False, True])
@pytest.mark.parametrize(("label", "check", "args", "kwargs"), TUNING + HELD_OUT, ids=[v[0] for v in TUNING + HELD_OUT])
def test_an_overflowing_activation_is_caught_and_named(label, check, args, kwargs, hidden):
    """Does a tanh or sigmoid written with exp lose the test, and does the message name the overflow class?"""
    message = grade(check, *args, hidden=hidden, **kwargs)
    assert message is not None, f"{label}: kept full marks"
    assert "large pre-activations" in message.split(":")[0], message  # it is the large case that fails
    assert NAME in message and "np.tanh or a stable form" in message, message


# ----------------------------------------------------------------------------- controls
def lstm_naive_sigmoid(x, h_prev, c_prev, params):
    return cells.lstm_step(x, h_prev, c_prev, params, sigmoid=naive_sigmoid)


def gru_naive_sigmoid(x, h_prev, params, reset_after=True):
    return cells.gru_step(x, h_prev, params, reset_after=reset_after, sigmoid=naive_sigmoid)


CONTROLS = [
    ("rnn step", cell_checks.check_rnn_step, (cells.rnn_step,), {"cache": True}),
    ("lstm step, 1 / (1 + exp(-a))", cell_checks.check_lstm_step, (lstm_naive_sigmoid,), {"cache": True}),
    ("gru step, 1 / (1 + exp(-a))", cell_checks.check_gru_step, (gru_naive_sigmoid,), {"cache": True}),
    ("gru step reset before", cell_checks.check_gru_step, (cells.gru_step,), {"reset_after": False}),
    ("rnn backward", cell_checks.check_rnn_step_backward, (None, cells.rnn_step_backward), {}),
    ("lstm backward", cell_checks.check_lstm_step_backward, (None, cells.lstm_step_backward), {}),
    ("gru backward", cell_checks.check_gru_step_backward, (None, cells.gru_step_backward), {}),
]


@pytest.mark.parametrize("hidden", [False, True])
@pytest.mark.parametrize(("label", "check", "args", "kwargs"), CONTROLS, ids=[c[0] for c in CONTROLS])
def test_a_correct_cell_passes_the_large_case(label, check, args, kwargs, hidden, capsys):
    """Does a correct cell (np.tanh, or the naive but finite 1 / (1 + exp(-a))) keep full marks on the large case?"""
    assert grade(check, *args, hidden=hidden, **kwargs) is None
    assert "1 with large pre-activations" in capsys.readouterr().out


def test_a_nan_on_an_ordinary_case_is_not_called_overflow():
    """Is the overflow name kept for the large case (a NaN on an ordinary case has another cause)?"""
    def nan_step(x, h_prev, params, activation="tanh"):
        h, cache = cells.rnn_step(x, h_prev, params)
        return h * np.nan, cache

    message = grade(cell_checks.check_rnn_step, nan_step)
    assert message is not None and "visible case 1 of 2" in message
    assert NAME not in message


def test_the_large_case_has_large_pre_activations_of_both_signs_in_every_gate():
    """Does every gate block reach |a| >= 900 with both signs (so exp overflows whichever way it is written)?"""
    from autograder import probes

    with cases.hidden_secret(SECRET):
        for kind in ("rnn", "lstm", "gru"):
            for hidden in (False, True):
                case = {**cases.large_step_cases(kind, hidden)[0], "reset_after": True}
                pre = probes.pre_activations(kind, cell_checks.backward_cache(kind, case))
                for name, a in pre.items():
                    assert a.max() >= 0.99 * cases.LARGE_REACH and a.min() <= -0.99 * cases.LARGE_REACH, (kind, name)
