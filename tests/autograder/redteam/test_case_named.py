"""A strict read that fails (a NaN, a wrong key, a wrong dtype) names the test case, or the call, it happened on.

``check_clip_gradients`` composed a case's header only when values differed, so a NaN in ``clipped`` said
``clip_gradients: clipped['W_hh']: holds nan at index (0, 1)`` and nothing about which case. The reader
now asks ``calling.returned_by``: the header the check composed for the call's very inputs, else the call
(its inputs' shapes and, on visible tests, which of its calls in the test cell it was).
"""

from __future__ import annotations

import numpy as np
import pytest

from autograder import bptt_checks, channel, checks, hidden_text
from autograder.calling import call, header
from autograder.values import as_array_dict, as_tuple
from simulator import cells


def _clip_breaking_on(call_no: int, how: str):
    calls = []

    def clip_gradients(grads, max_norm):
        calls.append(1)
        from exercises.answers import bptt

        out, norm = bptt.clip_gradients(grads, max_norm)
        if len(calls) == call_no:
            if how == "nan":
                out["W_hh"][0, 0] = np.nan
            elif how == "key":
                out["W_extra"] = out.pop("b_h")
            elif how == "dtype":
                out["b_h"] = out["b_h"].astype(np.float32)
            elif how == "tuple":
                return out, norm, 0.0
        return out, norm

    return clip_gradients


def _toy_check(fn, hidden: bool = False, named: bool = False) -> None:
    """A check in the shape of check_clip_gradients: three cases, each read strictly; a header first if ``named``."""
    for k in range(3):
        grads = {"W_xh": np.ones((3, 4)) * k, "W_hh": np.ones((4, 4)), "b_h": np.ones(4)}
        case = {"label": f"toy {k}", "grads": grads, "max_norm": 1.0}
        if named:
            header("clip_gradients", k, 3, case, hidden)
        out = call(fn, "clip_gradients", (case["grads"], case["max_norm"]), names=("grads", "max_norm"))
        clipped, _ = as_tuple(out, 2, "clip_gradients returned", "clipped grads, norm")
        as_array_dict(clipped, "clip_gradients: clipped", {n: v.shape for n, v in grads.items()})


def _failure(check, fn, hidden: bool = False, **options) -> tuple[str, str]:
    """The visible message and the composed hidden message of one failing test cell running ``check``."""
    with hidden_text.recording() as facts, channel.redaction_scope(hidden):
        with pytest.raises(AssertionError) as failed:
            check(fn, hidden=hidden, **options)
    raw = str(failed.value)
    return raw, hidden_text.compose_failure(failed.value, raw, facts, "check(f)", "<test>")


@pytest.mark.parametrize("how", ["nan", "key", "dtype", "tuple"])
@pytest.mark.parametrize("call_no", [1, 3])
def test_a_failed_read_names_the_call_it_happened_on(how, call_no):
    """A check that composes no header: does the message say which call returned the bad value, on what inputs?"""
    raw, _ = _failure(_toy_check, _clip_breaking_on(call_no, how))
    assert raw.startswith("clip_gradients called on grads {'W_xh': (3, 4), 'W_hh': (4, 4), 'b_h': (4,)}, "
                          f"max_norm a number (its call {call_no} in this test): clip_gradients")


@pytest.mark.parametrize("how", ["nan", "key", "dtype", "tuple"])
def test_a_check_that_names_its_cases_gets_the_case_once(how):
    """The same check composing each case's header first: is the case named, once, and no call added?"""
    raw, _ = _failure(_toy_check, _clip_breaking_on(2, how), named=True)
    assert raw.startswith("clip_gradients, visible case 2 of 3 (toy 1): clip_gradients")
    assert raw.count("visible case") == 1 and "called on" not in raw


@pytest.mark.parametrize("how", ["nan", "key", "dtype"])
def test_check_clip_gradients_names_the_case_or_the_call(how):
    """The course's check (whichever way it composes its headers): is the third case or call named?"""
    raw, _ = _failure(bptt_checks.check_clip_gradients, _clip_breaking_on(3, how))
    assert raw.startswith(("clip_gradients, visible case 3 of", "clip_gradients called on grads")), raw
    assert "visible case 3 of" in raw or "(its call 3 in this test)" in raw


@pytest.mark.parametrize("how", ["nan", "key", "dtype"])
def test_on_hidden_cases_the_call_is_named_by_shapes_only(how):
    """Hidden: the call's shapes pass the whitelist (no fallback sentence); no call number, no student value."""
    raw, composed = _failure(_toy_check, _clip_breaking_on(2, how), hidden=True)
    assert raw.startswith("clip_gradients called on grads")
    assert composed.startswith("clip_gradients called on grads {'W_xh': (3, 4)")
    assert hidden_text.FALLBACK not in composed
    assert "its call" not in composed and "nan" not in composed.lower()


def test_a_read_inside_a_check_that_names_its_case_names_it_once():
    """A cell check prefixes its header itself: is it said once, with nothing added?"""
    def backward(dh, cache):
        dx, dh_prev, grads = cells.rnn_step_backward(dh, cache)
        grads["b_h"] = grads["b_h"] * np.nan
        return dx, dh_prev, grads

    with hidden_text.recording(), pytest.raises(AssertionError) as failed:
        checks.check_rnn_step_backward(None, backward)
    text = str(failed.value)
    assert text.startswith("rnn_step_backward, visible case 1 of 2 (B=2, D=3, H=4): rnn_step_backward: grads['b_h']")
    assert text.count("visible case") == 1 and "called on" not in text


def test_a_read_of_something_no_call_returned_names_nothing():
    """Control: a value the check did not get from a call (the student's own data) is read as before."""
    from autograder.values import as_array

    with hidden_text.recording(), pytest.raises(AssertionError) as failed:
        as_array(np.array([np.nan]), "answer", (1,))
    assert str(failed.value).startswith("answer: holds nan at index (0,)")
