"""H14: a reply from the sandbox never writes into the grader's objects (docs/redteam.md, round 4).

A call's answer carries the callee's copies of its arguments as it left them; the grader used to apply
them to its own objects (``channel.sync_inplace``). ``check_rnn_backward`` hands a wrong forward's backward
the prescribed cache built from the reference as it is, and that cache holds the case's own ``params``
and views of its ``X``: a backward that zeroed them there made the reference, computed afterwards on the
case, equal a trivial formula, for full marks. Payloads ``tuned:`` were fixed against; ``held-out:`` were
written before the fix first ran and were not changed after.
"""

from __future__ import annotations

import numpy as np
import pytest

from autograder import bptt_checks, cases, channel
from autograder.sandbox import Limits, Sandbox, isolation

pytestmark = pytest.mark.skipif(isolation.detect() is None, reason="no sandbox isolation on this machine")

# A wrong forward, so that check_rnn_backward hands the backward the prescribed cache built from the reference.
WRONG_FORWARD = '''
import numpy as np

def rnn_forward(X, h0, params):
    return np.full((X.shape[0], X.shape[1], h0.shape[1]), 7.0), None
'''

# What the reference's backward gives once h_prev and the parameters are zero (h = 0 at every step):
# dX = dH W_xh^T with W_xh as left, dh0 = 0, dW_xh = sum_t x_t^T dH_t, dW_hh = 0, db_h = sum dH.
TRIVIAL = '''
def _trivial(dH, caches, W_xh):
    B, T, H = dH.shape
    X = np.stack([np.asarray(c["x"]) for c in caches], axis=1)
    dX = np.einsum("bth,dh->btd", dH, np.asarray(W_xh))
    gW = sum(X[:, t].T @ dH[:, t] for t in range(T))
    return dX, np.zeros((B, H)), {"W_xh": gW, "W_hh": np.zeros((H, H)), "b_h": dH.sum((0, 1))}
'''

BACKWARDS = {
    "tuned: zero the params and h_prev in place": '''
def rnn_backward(dH, caches):
    for c in caches:
        for k in ("W_xh", "W_hh", "b_h"):
            c["params"][k][...] = 0.0
        c["h_prev"][...] = 0.0
    return _trivial(dH, caches, caches[0]["params"]["W_xh"])
''',
    "held-out: replace the params' arrays by lists of zeros": '''
def rnn_backward(dH, caches):
    for c in caches:
        p = c["params"]
        for k in list(p):
            p[k] = np.zeros(np.shape(p[k])).tolist()
        c["h_prev"][...] = 0.0
    return _trivial(dH, caches, caches[0]["params"]["W_xh"])
''',
    "held-out: a new params dict of zeros in every cache": '''
def rnn_backward(dH, caches):
    for c in caches:
        c["params"] = {k: np.zeros_like(v) for k, v in c["params"].items()}
        c["h_prev"][...] = 0.0
    return _trivial(dH, caches, caches[0]["params"]["W_xh"])
''',
    "held-out: zero the inputs through the cache's views and keep W_xh": '''
def rnn_backward(dH, caches):
    for c in caches:
        np.copyto(c["x"], 0.0)
        c["h_prev"] *= 0.0
        c["params"]["W_hh"] *= 0.0
        c["params"]["b_h"] *= 0.0
    return _trivial(dH, caches, caches[0]["params"]["W_xh"])
''',
    "held-out: delete the bias so the reference fails in the grader": '''
def rnn_backward(dH, caches):
    for c in caches:
        c["params"].pop("b_h", None)
    B, T, H = dH.shape
    return np.zeros((B, T, caches[0]["x"].shape[1])), np.zeros((B, H)), {
        "W_xh": np.zeros(caches[0]["params"]["W_xh"].shape), "W_hh": np.zeros((H, H)), "b_h": np.zeros(H)}
''',
}
HIDDEN = "held-out: zero the params and h_prev on hidden cases"


@pytest.fixture(scope="module")
def sandbox():
    with Sandbox(Limits(wall=20.0, memory=1024 * 2**20)) as sb:
        yield sb


def _remote(sandbox, backward: str):
    sandbox.exec_cell(WRONG_FORWARD + "\nimport numpy as np\n" + TRIVIAL + backward, "payload")
    return sandbox.get("rnn_forward"), sandbox.get("rnn_backward")


@pytest.mark.parametrize("name", list(BACKWARDS))
def test_a_backward_cannot_choose_the_inputs_of_the_reference(sandbox, name):
    """Does a backward that rewrites the cache it was handed still fail (no points), with a values message?"""
    forward, backward = _remote(sandbox, BACKWARDS[name])
    with pytest.raises(AssertionError) as failed:
        bptt_checks.check_rnn_backward(forward, backward)
    assert "rnn_backward, visible case 1 of" in str(failed.value)
    assert "KeyError" not in str(failed.value)  # the reference ran on the grader's own, intact case


def test_a_backward_cannot_choose_the_inputs_of_the_reference_on_hidden_cases(sandbox):
    """The same on hidden cases (drawn from a course secret)."""
    forward, backward = _remote(sandbox, BACKWARDS["tuned: zero the params and h_prev in place"])
    with cases.hidden_secret(b"round-4-secret-" * 3), pytest.raises(AssertionError, match="hidden case 1 of"):
        bptt_checks.check_rnn_backward(forward, backward, hidden=True)


def test_control_the_trivial_formula_is_what_the_reference_gives_on_zeroed_inputs(sandbox):
    """Control: were the payloads' returns right for the inputs they left (so a write-back would have scored)?"""
    forward, backward = _remote(sandbox, BACKWARDS["tuned: zero the params and h_prev in place"])
    before, sandbox.peer.write_back = sandbox.peer.write_back, True  # the grader as it was before the fix
    try:
        bptt_checks.check_rnn_backward(forward, backward)
    finally:
        sandbox.peer.write_back = before


# ----------------------------------------------------------------------------- the channel, any caller
MUTATORS = {
    "tuned: an array argument changed with +=": ("def f(a, d, l, t):\n    a += 1\n", {}),
    "held-out: a dict's entry replaced, a key deleted and one added": (
        "def f(a, d, l, t):\n    d['w'] = 'student'\n    del d['k']\n    d['new'] = np.zeros(3)\n", {}),
    "held-out: a list appended to, an item replaced and an array in it zeroed": (
        "def f(a, d, l, t):\n    l.append(99)\n    l[0] = None\n    l[1][...] = 0\n", {}),
    "held-out: an array inside a tuple changed through out=": (
        "def f(a, d, l, t):\n    np.multiply(t[0], 0, out=t[0])\n    t[1]['z'][0] = 5\n", {}),
    "held-out: a keyword argument changed in place": ("def f(a, d, l, t, kw=None):\n    kw *= 0\n",
                                                     {"kw": True}),
}


def _grader_objects():
    return (np.arange(3.0), {"w": np.ones(2), "k": 1}, [1.0, np.ones(2)], (np.ones(2), {"z": np.ones(1)}))


@pytest.mark.parametrize("name", list(MUTATORS))
def test_a_reply_never_changes_what_the_grader_passed(sandbox, name):
    """Whatever a student function does to its arguments, are the grader's objects unchanged after the call?"""
    code, extra = MUTATORS[name]
    sandbox.exec_cell("import numpy as np\n" + code, "mutator")
    objects = _grader_objects()
    kwargs = {"kw": np.full(2, 3.0)} if extra.get("kw") else {}
    with channel.arguments_reported() as reported:
        sandbox.get("f")(*objects, **kwargs)
    fresh = _grader_objects()
    assert np.array_equal(objects[0], fresh[0])
    assert set(objects[1]) == {"w", "k"} and np.array_equal(objects[1]["w"], fresh[1]["w"])
    assert len(objects[2]) == 2 and objects[2][0] == 1.0 and np.array_equal(objects[2][1], fresh[2][1])
    assert np.array_equal(objects[3][0], fresh[3][0]) and np.array_equal(objects[3][1]["z"], fresh[3][1]["z"])
    assert not kwargs or np.array_equal(kwargs["kw"], [3.0, 3.0])
    assert len(reported) == 1  # the change is reported to the caller that asked


def test_calling_call_still_reports_an_in_place_change_made_in_the_sandbox(sandbox):
    """Control: does ``calling.call`` still fail a function that changes its input, from the reported copy?"""
    from autograder.calling import call

    sandbox.exec_cell("def g(x, y):\n    y[0, 0] = 42.0\n    return x\n", "control")
    x, y = np.zeros((2, 2)), np.ones((2, 2))
    with pytest.raises(AssertionError, match=r"changed its input in place: y was modified in place \(first changed "
                                             r"entry \(0, 0\): was 1, now 42\)"):
        call(sandbox.get("g"), "g", (x, y), names=("x", "y"))
    assert y[0, 0] == 1.0
