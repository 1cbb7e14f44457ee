"""The compare view's trace: the student's step over a sequence in the sandbox, and where it leaves the reference."""

import numpy as np
import pytest

from autograder.sandbox import Limits, isolation
from autograder.server.trace import TraceError, first_divergence, reference, trace
from simulator import cells

pytestmark = pytest.mark.skipif(isolation.detect() is None, reason="no sandbox isolation on this machine")

LSTM = '''
import numpy as np

def sigmoid(a):
    return 1 / (1 + np.exp(-a))

def lstm_step(x, h_prev, c_prev, params):
    H = h_prev.shape[1]
    z = x @ params["W_x"] + h_prev @ params["W_h"] + params["b"]
    i, f, g, o = (z[:, k * H:(k + 1) * H] for k in range(4))
    i, f, g, o = sigmoid(i), sigmoid(f), np.tanh(g), sigmoid(o)
    c = f * c_prev + i * g
    h = o * np.tanh(c)
    return h, c, {"i": i, "f": f, "g": g, "o": o, "c": c, "h": h}
'''


def _case(kind="lstm", T=6, B=1, D=3, H=4, seed=0):
    rng = np.random.default_rng(seed)
    params = cells.init_params(kind, D, H, seed=seed)
    params = {k: v + 0.1 * rng.standard_normal(v.shape) for k, v in params.items()}
    return rng.standard_normal((B, T, D)), 0.5 * rng.standard_normal((B, H)), 0.5 * rng.standard_normal((B, H)), params


def _param_names_match():
    X, h0, c0, params = _case()
    assert set(params) == {"W_x", "W_h", "b"}, params.keys()  # the reference's LSTM parameter names


def test_a_correct_lstm_shows_no_difference():
    _param_names_match()
    X, h0, c0, params = _case()
    got = trace([("lstm_step", LSTM)], "lstm", X, h0, c0, params)
    assert got["error"] is None and len(got["steps"]) == X.shape[1]
    assert first_divergence(reference("lstm", X, h0, c0, params), got["steps"]) is None


@pytest.mark.parametrize("edit, t, vector", [
    (("i, f, g, o = (z", "f, i, g, o = (z"), 0, "i"),                  # gate order
    (("h = o * np.tanh(c)", "h = o * c"), 0, "h"),                     # missing tanh on c_t
    (("c = f * c_prev + i * g", "c = f * c_prev + i * g * (c_prev.sum() < 99)"), None, None),  # same values
])
def test_a_known_bug_diverges_first_at_the_right_step_and_vector(edit, t, vector):
    X, h0, c0, params = _case()
    got = trace([("lstm_step", LSTM.replace(*edit))], "lstm", X, h0, c0, params)
    assert got["error"] is None
    where = first_divergence(reference("lstm", X, h0, c0, params), got["steps"])
    if t is None:
        assert where is None
    else:
        assert (where["t"], where["vector"]) == (t, vector) and where["expected"] != where["got"]


def test_a_bug_that_shows_only_later_is_found_at_its_step():
    """c_prev ignored: step 0 starts from c0 = 0 and agrees; the run parts at t=1 in c."""
    X, h0, _, params = _case()
    c0 = np.zeros_like(h0)
    got = trace([("lstm_step", LSTM.replace("c = f * c_prev + i * g", "c = i * g"))], "lstm", X, h0, c0, params)
    where = first_divergence(reference("lstm", X, h0, c0, params), got["steps"])
    assert (where["t"], where["vector"]) == (1, "c")


@pytest.mark.parametrize("code, words", [
    ("def lstm_step(x, h, c, p):\n    while True:\n        pass\n", "sandbox stopped"),
    ("import numpy as np\ndef lstm_step(x, h, c, p):\n    return np.zeros((300, 300)), c, {}\n", "step t=0: h"),
    ("def lstm_step(x, h, c, p):\n    return 'h', 'c', {}\n", "step t=0: h"),
    ("def lstm_step(x, h, c, p):\n    return h\n", "expected (h, c, cache)"),
    ("def lstm_step(x, h, c, p):\n    raise ValueError('nope')\n", "ValueError"),
    ("import numpy as np\ndef lstm_step(x, h, c, p):\n    return np.zeros((10**5, 10**5)), c, {}\n", "MemoryError"),
    ("x = 1\n", "defines no function lstm_step"),
    ("import os\ndef lstm_step(x, h, c, p):\n    os._exit(3)\n", "sandbox stopped"),
])
def test_hostile_or_broken_code_gives_a_message(code, words):
    X, h0, c0, params = _case(T=3)
    got = trace([("lstm_step", code)], "lstm", X, h0, c0, params, limits=Limits(wall=3.0, notebook=20.0))
    assert got["error"] and words in got["error"], got["error"]


def test_sizes_and_code_length_are_checked_before_any_sandbox():
    X, h0, c0, params = _case(T=3)
    with pytest.raises(TraceError, match="at most"):
        trace([("c", "x" * (70 * 1024))], "lstm", X, h0, c0, params)
    X, h0, c0, params = _case(T=100)
    with pytest.raises(TraceError, match="T=100"):
        trace([("c", LSTM)], "lstm", X, h0, c0, params)


def test_the_server_compares_a_submission_or_pasted_code_for_whom_it_may(server, people):
    """A student's own submission, pasted code; guests only when allowed; one run at a time per asker."""
    from autograder.server.submissions import RefusedError
    from tests.autograder.fixtures import course as fx
    from tests.autograder.server.conftest import notebook_bytes

    ada, bo, prof = (people[n][0] for n in ("ada", "bo", "prof"))
    X, h0, _, params = _case("rnn", T=4, D=2, H=5)
    sid = server.submit(ada, fx.ASSIGNMENT, "rnn_cell.ipynb", notebook_bytes(fx.solved_notebook()))
    got = server.compare(ada, "ada", "rnn", X, h0, None, params, submission_id=sid).result(60)
    assert got["error"] is None and first_divergence(reference("rnn", X, h0, None, params), got["steps"]) is None
    with pytest.raises(RefusedError) as err:  # another student's submission: as if it did not exist
        server.compare(bo, "bo", "rnn", X, h0, None, params, submission_id=sid)
    assert err.value.status == 404
    assert server.compare(prof, "prof", "rnn", X, h0, None, params, submission_id=sid).result(60)["error"] is None
    code = ("import numpy as np\ndef rnn_step(x, h, p):\n    a = x @ p['W_xh'] + h @ p['W_hh']\n"
            "    return np.tanh(a), {}\n")
    with pytest.raises(RefusedError) as err:
        server.compare(None, "session-1", "rnn", X, h0, None, params, code=code)
    assert err.value.status == 403
    server.set_option(prof, "anonymous_compare", "on")
    got = server.compare(None, "session-1", "rnn", X, h0, None, params, code=code).result(60)
    assert first_divergence(reference("rnn", X, h0, None, params), got["steps"])["t"] == 0  # no bias: parts at once
    with pytest.raises(RefusedError):
        server.set_option(ada, "anonymous_compare", "off")
    slow = "def rnn_step(x, h, p):\n    import time\n    time.sleep(2)\n    return h, {}\n"
    first = server.compare(ada, "ada", "rnn", X, h0, None, params, code=slow)
    with pytest.raises(RefusedError) as err:
        server.compare(ada, "ada", "rnn", X, h0, None, params, code=slow)
    assert err.value.status == 429 and "still running" in err.value.message
    first.result(60)
