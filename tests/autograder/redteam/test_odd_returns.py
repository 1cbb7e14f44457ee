"""Round 5: an odd return in any place of a check fails as a message, never as an error of the grader.

Each of 22 odd values (other dtypes, shapes and types, NaN, 1e308, a 4 000-digit int) is returned in each place of
13 checks, in-process (the checks see the same plain types the channel decodes). A check may fail only with an
``AssertionError`` naming what was wrong; any other exception is a grader error whose message is a traceback.
Run once as a fuzz in round 5 with no error found; kept as a regression test (no tuned/held-out split: no fix).
"""

from __future__ import annotations

import numpy as np
import pytest

from autograder import architecture_checks as ac
from autograder import bptt_checks as bc
from autograder import calling
from autograder import cell_checks as cc
from autograder import crnn_checks as kc
from simulator import cells

ODD = {
    "complex": lambda s: np.zeros(s, complex), "bool": lambda s: np.zeros(s, bool),
    "int": lambda s: np.zeros(s, np.int64),
    "f16": lambda s: np.zeros(s, np.float16), "f32": lambda s: np.zeros(s, np.float32),
    "empty": lambda s: np.zeros((0, *s)), "scalar": lambda s: np.float64(1.0), "0d": lambda s: np.array(1.0),
    "none": lambda s: None, "str": lambda s: "x", "bytes": lambda s: b"x", "bigint": lambda s: 10**4000,
    "list": lambda s: np.zeros(s).tolist(), "tuple1": lambda s: (np.zeros(s),), "dictint": lambda s: {1: np.zeros(s)},
    "nan": lambda s: np.full(s, np.nan), "huge": lambda s: np.full(s, 1e308),
    "transposed": lambda s: np.zeros(s[::-1]), "extra_axis": lambda s: np.zeros((*s, 1)), "float": lambda s: 1.0,
    "nested": lambda s: [[[]]], "bool_py": lambda s: True,
}


def _forward_with(v):
    def rnn_step(x, h_prev, params, activation="tanh"):
        a = x @ params["W_xh"] + h_prev @ params["W_hh"] + params["b_h"]
        h = np.tanh(a)
        return h, {"x": x, "h_prev": h_prev, "a": v(a.shape), "h": h, "activation": activation, "params": params}
    return rnn_step


def _backward_with(v):
    def rnn_step_backward(dh, cache):
        return v(cache["x"].shape), v(cache["h_prev"].shape), {k: v(w.shape) for k, w in cache["params"].items()}
    return rnn_step_backward


PLACES = {
    "rnn_step h": lambda v: cc.check_rnn_step(lambda x, h, p, activation="tanh": (v((x.shape[0], p["W_hh"].shape[0])),
                                                                                    {"x": x}), cache=True),
    "rnn_step cache['a']": lambda v: cc.check_rnn_step(_forward_with(v), cache=True),
    "rnn_step cache": lambda v: cc.check_rnn_step(lambda x, h, p, activation="tanh": (cells.rnn_step(x, h, p)[0],
                                                                                       v((1,))), cache=True),
    "backward parts": lambda v: cc.check_rnn_step_backward(cells.rnn_step, _backward_with(v)),
    "backward whole": lambda v: cc.check_rnn_step_backward(cells.rnn_step, lambda dh, c: v(dh.shape)),
    "clip parts": lambda v: bc.check_clip_gradients(lambda g, m: {k: v(a.shape) for k, a in g.items()}),
    "clip whole": lambda v: bc.check_clip_gradients(lambda g, m: v((2,))),
    "spectral radius": lambda v: bc.check_spectral_radius(lambda W: v(())),
    "hidden grad norms": lambda v: bc.check_hidden_grad_norms(lambda X, h0, p, d: v((X.shape[1],))),
    "rnn_forward": lambda v: bc.check_rnn_forward(lambda X, h0, p: (v((X.shape[0], X.shape[1], h0.shape[1])), [])),
    "conv2d": lambda v: kc.check_conv2d_forward(lambda *a: (v((2, 3, 4, 4)), {})),
    "maxpool": lambda v: kc.check_maxpool_forward(lambda *a: (v((2, 3, 2, 2)), {})),
    "many_to_one": lambda v: ac.check_many_to_one_forward(lambda *a: (v((2, 3)), {})),
}


@pytest.mark.parametrize("place", sorted(PLACES))
def test_every_odd_return_fails_as_a_message(place):
    errors = []
    for kind, value in ODD.items():
        with calling.scope():
            try:
                PLACES[place](value)
            except AssertionError as exc:
                assert str(exc).strip(), (place, kind)
            except Exception as exc:  # noqa: BLE001 - the point: no other exception may escape a check
                errors.append(f"{kind}: {type(exc).__name__}: {str(exc)[:200]}")
            else:
                errors.append(f"{kind}: passed")
    assert not errors, (place, errors)
