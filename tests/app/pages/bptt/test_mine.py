"""The BPTT lab's compare section: your hidden_grad_norms beside the reference's, first differing step named."""

import pytest

from autograder.sandbox import isolation
from simulator.app.pages.bptt.mine import BPTTMine, T
from simulator.app.pages.bptt.model import BPTTLab

pytestmark = pytest.mark.skipif(isolation.detect() is None, reason="no sandbox isolation on this machine")

NORMS = '''import numpy as np

def hidden_grad_norms(X, h0, params, dh_last):
    B, T, _ = X.shape
    h, hs = h0, []
    for t in range(T):
        h = np.tanh(X[:, t] @ params["W_xh"] + h @ params["W_hh"] + params["b_h"])
        hs.append(h)
    dh, norms = dh_last, [0.0] * T
    for t in reversed(range(T)):
        norms[t] = float(np.sqrt((dh * dh).sum()))
        dh = (dh * (1 - hs[t] ** 2)) @ params["W_hh"].T
    return np.array(norms)
'''


@pytest.fixture
def section(signed_in_server):

    def run(code: str, **settings):
        part = BPTTMine(BPTTLab(hidden=8, **settings))
        part.mine.paste.value = code
        part.mine.run()
        part.mine.future.result(60)
        part.mine.check()
        return part

    yield run


@pytest.mark.parametrize("scale", [0.5, 1.5])
def test_a_correct_function_matches_vanishing_or_exploding(section, scale):
    part = section(NORMS, recurrent_scale=scale)
    assert f"matches the reference at every one of the {T} steps" in part.mine.status.object
    assert len(part.source.data["reference"]) == T


@pytest.mark.parametrize("edit, words", [
    (("(1 - hs[t] ** 2)", "(1 - hs[t])"), "first leaves the reference at t = 28"),     # tanh' with h, not h^2
    (("for t in reversed(range(T)):", "for t in range(T):"), "first leaves the reference"),  # walked forward
    (("return np.array(norms)", "return np.array(norms[:-1])"), "shape (29,), expected (30,)"),  # wrong length
])
def test_a_bug_is_located_in_time(section, edit, words):
    part = section(NORMS.replace(*edit))
    assert words in part.mine.status.object
