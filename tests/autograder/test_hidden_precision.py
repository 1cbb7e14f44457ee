"""Hidden means hidden for precision: one hidden message whichever wrong dtype or precision is returned.

The precision diagnosis (``autograder.precision_diagnosis``) names float32/float16 on visible cases. On a hidden
case the student's choice of dtype (float32, float16, int64, object, bool) or of a precision-level error must
select nothing in the composed message (``hidden_text.compose_failure``): every wrong dtype says "wrong dtype,
expected float64", and a precision-level difference says what any mismatch at the same entries says (the first
bad entry and its expected value). Each test has a control: the visible messages of the same variants differ
(the diagnosis is there, the channel is real), so equality on the hidden side is not vacuous.

Tuned: rnn_step's ``h`` (the variants were first run there). Held out (written before the fix was run on them,
run once): lstm_step's ``c``, rnn_step_backward's ``grads['W_hh']`` (a dict read) and rnn_forward's ``H`` (the
sequence path, ``precision_diagnosis.diagnose``).
"""

from __future__ import annotations

import numpy as np
import pytest

from autograder import cases, channel, checks, hidden_text
from autograder.compare import close
from simulator import cells
from tests.autograder.bugs.secrets import secret_of

SECRETS = [secret_of("hidden-precision", k) for k in range(2)]
DTYPES = {
    "float32": lambda a: a.astype(np.float32),
    "float16": lambda a: a.astype(np.float16),
    "int64": lambda a: np.rint(a * 1e3).astype(np.int64),
    "object": lambda a: a.astype(object),
    "bool": lambda a: a > 0,
}
# Precision-level errors of a float64 return (each fails the check's rtol = 1e-6 on some entry).
PRECISION = {
    "rounded to float16": lambda a: a.astype(np.float16).astype(np.float64),
    "float32-level relative error": lambda a: a * (1.0 + 4e-6),
}


def _run(check, fn, hidden: bool, secret: bytes) -> tuple[str | None, str]:
    """The check's own message (None: passed) and what the test cell shows (composed when hidden)."""
    with cases.hidden_secret(secret), hidden_text.recording() as facts, channel.redaction_scope(hidden):
        try:
            check(fn, hidden=hidden)
        except AssertionError as exc:
            raw = str(exc)
            return raw, hidden_text.compose_failure(exc, raw, facts, "check(f)", "<test>") if hidden else raw
    return None, hidden_text.compose_pass(facts)


def _bumped(value: np.ndarray, changed: np.ndarray) -> np.ndarray:
    """``value`` with 1.0 added where ``changed`` fails the check's tolerance: a plain bug at the same entries."""
    return value + (~close(value, changed)).astype(np.float64)


# ----------------------------------------------------------------------------- the students
def _rnn_step(change):
    def rnn_step(x, h_prev, params, activation="tanh"):
        h, cache = cells.rnn_step(x, h_prev, params, activation)
        return change(h), cache
    return rnn_step


def _lstm_step(change):
    def lstm_step(x, h_prev, c_prev, params):
        h, c, cache = cells.lstm_step(x, h_prev, c_prev, params)
        return h, change(c), cache
    return lstm_step


def _rnn_step_backward(change):
    def rnn_step_backward(dh, cache):
        dx, dh_prev, grads = cells.rnn_step_backward(dh, cache)
        return dx, dh_prev, {**grads, "W_hh": change(grads["W_hh"])}
    return rnn_step_backward


def _rnn_forward(change):
    from exercises.answers import bptt

    def rnn_forward(X, h0, params):
        H, cache = bptt.rnn_forward(X, h0, params)
        return change(H), cache
    return rnn_forward


CHECKS = {
    "rnn_step": (checks.check_rnn_step, _rnn_step),
    "lstm_step": (checks.check_lstm_step, _lstm_step),
    "rnn_step_backward": (lambda fn, **kw: checks.check_rnn_step_backward(None, fn, **kw), _rnn_step_backward),
    "rnn_forward": (checks.check_rnn_forward, _rnn_forward),
}
TUNED, HELD_OUT = ["rnn_step"], ["lstm_step", "rnn_step_backward", "rnn_forward"]


# ----------------------------------------------------------------------------- tests
@pytest.mark.parametrize("secret", SECRETS, ids=["secret0", "secret1"])
@pytest.mark.parametrize("name", TUNED + HELD_OUT)
def test_a_hidden_test_says_every_wrong_dtype_the_same_way(name, secret):
    """float32, float16, int64, object, bool: one hidden message, values' own, no diagnosis in it?"""
    check, student = CHECKS[name]
    hidden = {d: _run(check, student(change), True, secret)[1] for d, change in DTYPES.items()}
    assert len(set(hidden.values())) == 1, hidden
    shown = hidden["float32"]
    assert "wrong dtype, expected float64" in shown, shown
    assert not any(word in shown for word in ("precision", "float32", "float16", "int64", "object", "likely bug"))
    # control: on visible cases the lower precision is named, an integer dtype is not
    visible = {d: _run(check, student(DTYPES[d]), False, secret)[0] for d in ("float32", "float16", "int64")}
    assert all(visible.values()), visible
    assert "(likely bug: precision lost" in visible["float32"] and "float16" in visible["float16"], visible
    assert "precision lost" not in visible["int64"], visible["int64"]


@pytest.mark.parametrize("secret", SECRETS, ids=["secret0", "secret1"])
@pytest.mark.parametrize("name", TUNED + HELD_OUT)
@pytest.mark.parametrize("how", list(PRECISION))
def test_a_hidden_precision_level_error_shows_what_a_plain_bug_at_the_same_entries_shows(how, name, secret):
    """A float64 return off by float16 rounding or a float32-level error: the hidden message of any mismatch there?"""
    check, student = CHECKS[name]
    change = PRECISION[how]
    raw, precise = _run(check, student(change), True, secret)
    plain_raw, plain = _run(check, student(lambda a: _bumped(a, change(a))), True, secret)
    assert raw is not None and plain_raw is not None, (raw, plain_raw)
    assert precise == plain, (precise, plain)
    assert "differs from the reference; first bad entry at" in precise and "precision" not in precise, precise
    # control: the visible cases do name it (and not the plain bug): the channel exists where it is allowed
    visible, _ = _run(check, student(change), False, secret)
    plain_visible, _ = _run(check, student(lambda a: _bumped(a, change(a))), False, secret)
    assert visible is not None and "(likely bug: precision lost" in visible, visible
    assert plain_visible is not None and "precision lost" not in plain_visible, plain_visible


@pytest.mark.parametrize("name", TUNED + HELD_OUT)
def test_a_float64_return_rounded_to_float32_precision_shows_what_the_reference_shows(name):
    """Rounded to float32 and back (relative error ~6e-8, inside rtol = 1e-6): passes as the reference does?"""
    check, student = CHECKS[name]
    secret = SECRETS[0]
    raw, shown = _run(check, student(lambda a: a.astype(np.float32).astype(np.float64)), True, secret)
    ref_raw, ref_shown = _run(check, student(lambda a: a), True, secret)
    assert raw is None and ref_raw is None, (raw, ref_raw)
    assert shown == ref_shown and shown.startswith("ok:"), (shown, ref_shown)
