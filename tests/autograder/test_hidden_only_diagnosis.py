"""Bugs that show on hidden cases only: state kept between calls and an initial state ignored are named in words a
student can act on, also in a hidden test's message; correct solutions keep full marks and get no such name.

Each test grades the visible test, then the hidden one, in one process (as a notebook's cells run). TUNING variants
were written with the fix; HELD_OUT ones afterwards and run once, unchanged (docs/diagnosis.md).
"""

from __future__ import annotations

import numpy as np
import pytest

from autograder import architecture_checks, bptt_checks, cell_checks
from exercises.answers import bptt as answers
from simulator import architectures, cells
from tests.autograder import graded_message

SECRET = b"hidden-only-tests-secret-0123456"
EARLIER = "returned the answer of an earlier call: it keeps state between calls"
SAME_INPUT = "two different answers to the same input: it keeps state between calls"
STATE = "state kept between calls"


def grade(check, *args, hidden: bool, **kwargs) -> str | None:
    """None if the check passes, else its message (graded_message.grade with this file's secret)."""
    return graded_message.grade(check, *args, secret=SECRET, hidden=hidden, **kwargs)


def both(check, *args, **kwargs) -> tuple[str | None, str | None]:
    """The visible test's message, then the hidden test's (None where it passes)."""
    return grade(check, *args, hidden=False, **kwargs), grade(check, *args, hidden=True, **kwargs)


# ----------------------------------------------------------------------------- state kept between calls
def memo_by_hidden_size():
    memo = {}

    def rnn_forward(X, h0, params):
        key = params["W_hh"].shape  # "the answer only depends on the weights' size": an earlier answer comes back
        if key not in memo:
            memo[key] = answers.rnn_forward(X, h0, params)
        return memo[key]
    return rnn_forward


def first_convention():
    def gru_step(x, h_prev, params, reset_after=True, _options={}):  # noqa: B006 - the bug: one dict for every call
        convention = _options.setdefault("reset_after", reset_after)  # the first call's convention is kept
        return cells.gru_step(x, h_prev, params, reset_after=convention)
    return gru_step


def memo_by_batch():
    seen = {}

    def many_to_one_forward(X, params, step):
        if X.shape[0] not in seen:
            seen[X.shape[0]] = architectures.many_to_one_forward(X, params, step)
        return seen[X.shape[0]]
    return many_to_one_forward


def running_step():
    calls = [0]

    def rnn_step(x, h_prev, params, activation="tanh"):
        calls[0] += 1  # the bug: a drift that grows with the number of calls
        h, cache = cells.rnn_step(x, h_prev, params)
        return h + (1e-3 * calls[0] if calls[0] > 3 else 0.0), cache  # the visible test makes 3 calls
    return rnn_step


STATE_TUNING = [("rnn_forward memo by H", bptt_checks.check_rnn_forward, memo_by_hidden_size, EARLIER)]
STATE_HELD_OUT = [
    ("many_to_one memo by B", architecture_checks.check_many_to_one_forward, memo_by_batch, EARLIER),
    ("rnn_step drift after 3 calls", cell_checks.check_rnn_step, running_step, SAME_INPUT),
]


@pytest.mark.parametrize(("label", "check", "make", "words"), STATE_TUNING + STATE_HELD_OUT,
                         ids=[v[0] for v in STATE_TUNING + STATE_HELD_OUT])
def test_state_kept_between_calls_is_named_on_the_hidden_test(label, check, make, words):
    """Does a function that keeps state lose the hidden test, and does the hidden message say it keeps state?"""
    visible, hidden = both(check, make())
    assert hidden is not None, f"{label}: kept full marks on the hidden test"
    assert words in hidden, hidden
    if visible is not None:
        assert STATE in visible, visible


def test_a_convention_kept_from_the_first_call_is_named():
    """Held out (a strict xfail until diagnose.ignored_option): a gru_step that keeps the first call's reset_after in
    a mutable default: its reset-before test fails (after the reset-after tests passed); is it said, visibly and on
    the hidden test, that reset_after=False is not used and that state kept from an earlier call is one cause?
    """
    fn = first_convention()
    assert both(cell_checks.check_gru_step, fn) == (None, None)
    visible, hidden = both(cell_checks.check_gru_step, fn, reset_after=False)
    assert visible is not None and hidden is not None
    assert STATE in visible and STATE in hidden, (visible, hidden)
    assert "reset_after=False passed" in visible and "reset_after=False passed" in hidden, (visible, hidden)


def test_an_ignored_option_names_both_causes_and_a_used_one_neither():
    """After its first call the kept convention is deterministic, so no call tells it from a gru_step that never
    passes reset_after on: both get the same two-cause sentence (the flag not passed on, or state kept). A gru_step
    that always computes reset-before fails the reset-after test without it (reset_after=True is the default it
    was passed, so nothing was ignored)."""
    def never_passed_on(x, h_prev, params, reset_after=True):
        return cells.gru_step(x, h_prev, params)

    def always_before(x, h_prev, params, reset_after=True):
        return cells.gru_step(x, h_prev, params, reset_after=False)

    visible, hidden = both(cell_checks.check_gru_step, never_passed_on, reset_after=False)
    assert "reset_after is not passed on" in visible and "reset_after is not passed on" in hidden
    visible, hidden = both(cell_checks.check_gru_step, always_before)
    assert "other GRU convention" in visible
    assert "passed on" not in visible and "passed on" not in hidden
    assert STATE not in visible and STATE not in hidden


# ----------------------------------------------------------------------------- initial state ignored
def forward_from_zeros(X, h0, params):
    return answers.rnn_forward(X, np.zeros_like(h0), params)


def norms_from_zeros(X, h0, params, dh_last):
    return answers.hidden_grad_norms(X, np.zeros_like(h0), params, dh_last)


def step_without_h_prev(x, h_prev, params, activation="tanh"):
    return cells.rnn_step(x, np.zeros_like(h_prev), params)


def lstm_without_c_prev(x, h_prev, c_prev, params):
    return cells.lstm_step(x, h_prev, np.zeros_like(c_prev), params)


H0_TUNING = [
    ("rnn_forward from zeros", bptt_checks.check_rnn_forward, forward_from_zeros, "h0"),
    ("hidden_grad_norms from zeros", bptt_checks.check_hidden_grad_norms, norms_from_zeros, "h0"),
]
H0_HELD_OUT = [
    ("rnn_step without h_prev", cell_checks.check_rnn_step, step_without_h_prev, "h_prev"),
    ("lstm_step without c_prev", cell_checks.check_lstm_step, lstm_without_c_prev, "c_prev"),
]


@pytest.mark.parametrize(("label", "check", "fn", "key"), H0_TUNING + H0_HELD_OUT,
                         ids=[v[0] for v in H0_TUNING + H0_HELD_OUT])
def test_an_ignored_initial_state_is_named_on_the_hidden_test(label, check, fn, key):
    """Does the hidden message say the result does not depend on the initial state?"""
    _, hidden = both(check, fn)
    assert hidden is not None
    assert f"the result does not depend on {key}" in hidden, hidden


def test_hidden_grad_norms_from_zeros_is_named_on_the_visible_test_too():
    """Is the visible message of hidden_grad_norms with h0 zeroed the h0 sentence (it said no common bug fits)?"""
    visible = grade(bptt_checks.check_hidden_grad_norms, norms_from_zeros, hidden=False)
    assert visible is not None and "The result does not depend on h0" in visible


# ----------------------------------------------------------------------------- controls
CORRECT = [
    ("rnn_forward", bptt_checks.check_rnn_forward, (answers.rnn_forward,)),
    ("hidden_grad_norms", bptt_checks.check_hidden_grad_norms, (answers.hidden_grad_norms,)),
    ("many_to_one", architecture_checks.check_many_to_one_forward, (architectures.many_to_one_forward,)),
    ("rnn_step", cell_checks.check_rnn_step, (cells.rnn_step,)),
    ("lstm_step", cell_checks.check_lstm_step, (cells.lstm_step,)),
]


@pytest.mark.parametrize(("label", "check", "args"), CORRECT, ids=[c[0] for c in CORRECT])
def test_a_correct_function_keeps_full_marks(label, check, args):
    """Does a correct function pass its visible and hidden tests?"""
    assert both(check, *args) == (None, None)


def bias_dropped(X, h0, params):
    return answers.rnn_forward(X, h0, {**params, "b_h": np.zeros_like(params["b_h"])})


def all_zeros(X, h0, params):
    H, cache = answers.rnn_forward(X, h0, params)
    return np.zeros_like(H), cache


@pytest.mark.parametrize("fn", [bias_dropped, all_zeros, forward_from_zeros])
def test_a_deterministic_bug_is_not_said_to_keep_state(fn):
    """Is a wrong but deterministic function (a dropped bias, zeros everywhere, h0 ignored) never said to keep state?"""
    visible, hidden = both(bptt_checks.check_rnn_forward, fn)
    assert visible is not None and hidden is not None
    assert STATE not in visible and STATE not in hidden


@pytest.mark.parametrize("fn", [bias_dropped, all_zeros])
def test_a_bug_that_reads_h0_is_not_said_to_ignore_it(fn):
    """Is the h0 sentence kept for functions whose result does not depend on h0?"""
    visible, hidden = both(bptt_checks.check_rnn_forward, fn)
    assert "does not depend on h0" not in visible and "does not depend on h0" not in hidden


def test_an_answer_kept_from_the_first_call_is_named_on_the_visible_test():
    """Tuning: a forward that returns its first answer forever fails visible case 2 with case 1's shape; is the
    visible message the state sentence (not only the shape)?
    """
    first = []

    def rnn_forward(X, h0, params):
        if not first:
            first.append(answers.rnn_forward(X, h0, params))
        return first[0]

    visible = grade(bptt_checks.check_rnn_forward, rnn_forward, hidden=False)
    assert visible is not None and "visible case 2 of 2" in visible and EARLIER in visible, visible
