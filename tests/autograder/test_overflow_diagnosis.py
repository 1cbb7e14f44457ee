"""Hand-written tanh or sigmoid that overflow: caught on the large-pre-activation cases of the cells, rnn_forward, the
five architectures and the CRNN, and named, visibly and on hidden tests; correct solutions keep full marks and get no
such name.

The variants marked TUNING were written with the fix; those marked HELD_OUT were written afterwards and run once,
unchanged (docs/diagnosis.md, "Overflow and state between calls").
"""

from __future__ import annotations

import numpy as np
import pytest

from autograder import architecture_checks, bptt_checks, cases, cell_checks, crnn_checks
from autograder.hypotheses import at_use
from exercises.answers import bptt as answers
from simulator import architectures, cells, crnn
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


# ----------------------------------------------------------------------------- sequences, architectures, the CRNN
def own_rnn_states(X, h0, params, tanh):
    """A student's own RNN loop (not the reference step): H (B, T, H) with the tanh given."""
    h, out = h0, []
    for t in range(X.shape[1]):
        h = tanh(X[:, t] @ params["W_xh"] + h @ params["W_hh"] + params["b_h"])
        out.append(h)
    return np.stack(out, axis=1)  # T x (B, H) -> (B, T, H)


def rnn_forward_exp_tanh(X, h0, params):
    return own_rnn_states(X, h0, params, exp_tanh), []


def many_to_many_own_rnn(X, params, step):
    # the student's own RNN cell from the cells notebook (exp tanh) instead of the step handed in, for RNN params
    if "W_xh" not in params:
        return architectures.many_to_many_forward(X, params, step)
    H = own_rnn_states(X, np.zeros((X.shape[0], params["W_hh"].shape[0])), params, exp2_tanh)
    return H @ params["W_hy"] + params["b_y"], {}


def crnn_own_lstm(X, params, step):
    # the student's own LSTM cell (exp sigmoid) for LSTM params, the frames through the reference CNN
    if "b" not in params:
        return crnn.crnn_forward(X, params, step)
    B, T = X.shape[:2]
    F = crnn.frame_features(X.reshape(B * T, *X.shape[2:]), params)[0].reshape(B, T, -1)  # (B*T, M) -> (B, T, M)
    h = c = np.zeros((B, params["W_h"].shape[0]))
    for t in range(T):
        i, f, g, o = np.split(F[:, t] @ params["W_x"] + h @ params["W_h"] + params["b"], 4, axis=1)
        c = exp_sigmoid(f) * c + exp_sigmoid(i) * np.tanh(g)
        h = exp_sigmoid(o) * np.tanh(c)
    return h @ params["W_hy"] + params["b_y"], {}


def own_gru(x, h, p):
    """A student's own GRU step (reset after the product), its candidate's tanh by exp(2a)."""
    H = h.shape[1]
    ax, ah = x @ p["W_x"] + p["b_x"], h @ p["W_h"] + p["b_h"]
    z = 1 / (1 + np.exp(-(ax[:, :H] + ah[:, :H])))
    r = 1 / (1 + np.exp(-(ax[:, H:2 * H] + ah[:, H:2 * H])))
    n = exp2_tanh(ax[:, 2 * H:] + r * ah[:, 2 * H:])
    return z * h + (1 - z) * n


def encoder_decoder_own_gru(X, params, T_out, step):
    # the student's own GRU loop for GRU params: encoder over X, decoder fed one_hot(argmax y_{t-1}) from zeros
    if "b_x" not in params:
        return architectures.encoder_decoder_forward(X, params, T_out, step)
    dec = {k[len("dec_"):]: v for k, v in params.items() if k.startswith("dec_")}
    h = np.zeros((X.shape[0], params["W_h"].shape[0]))
    for t in range(X.shape[1]):
        h = own_gru(X[:, t], h, params)
    x, Y = np.zeros((X.shape[0], params["W_hy"].shape[1])), []
    for _ in range(T_out):
        h = own_gru(x, h, dec)
        y = h @ params["W_hy"] + params["b_y"]
        Y.append(y)
        x = np.eye(y.shape[1])[np.argmax(y, axis=1)]
    return np.stack(Y, axis=1), {}  # T_out x (B, K) -> (B, T_out, K)


SEQUENCE_TUNING = [("rnn_forward exp tanh", bptt_checks.check_rnn_forward, (rnn_forward_exp_tanh,), {})]
SEQUENCE_HELD_OUT = [
    ("many_to_many own RNN cell", architecture_checks.check_many_to_many_forward, (many_to_many_own_rnn,), {}),
    ("crnn own LSTM cell", crnn_checks.check_crnn_forward, (crnn_own_lstm,), {}),
    ("encoder_decoder own GRU cell", architecture_checks.check_encoder_decoder_forward, (encoder_decoder_own_gru,), {}),
]


@pytest.mark.parametrize("hidden", [False, True])
@pytest.mark.parametrize(("label", "check", "args", "kwargs"), SEQUENCE_TUNING + SEQUENCE_HELD_OUT,
                         ids=[v[0] for v in SEQUENCE_TUNING + SEQUENCE_HELD_OUT])
def test_an_overflowing_sequence_function_is_caught_and_named(label, check, args, kwargs, hidden):
    """Does a sequence-level function with a hand-written tanh or sigmoid lose the test on its large case (the
    ordinary ones pass), and does the message name the overflow class, visibly and on hidden tests?"""
    message = grade(check, *args, hidden=hidden, **kwargs)
    assert message is not None, f"{label}: kept full marks"
    assert "on large pre-activations" in message.split(":")[0], message
    assert NAME in message and "np.tanh or a stable form" in message, message


SEQUENCE_CONTROLS = [
    ("rnn_forward", bptt_checks.check_rnn_forward, (answers.rnn_forward,), "1 with large pre-activations"),
    *[(name, architecture_checks.check_architecture, (name, architectures.FORWARD[name]),
       "3 with large pre-activations") for name in architecture_checks.SIGNATURES],
    ("crnn_forward", crnn_checks.check_crnn_forward, (crnn.crnn_forward,), "3 with large pre-activations"),
    ("rnn_forward, naive sigmoid-based tanh", bptt_checks.check_rnn_forward,
     (lambda X, h0, p: (own_rnn_states(X, h0, p, lambda a: 2 * naive_sigmoid(2 * a) - 1), []),),
     "1 with large pre-activations"),
]


@pytest.mark.parametrize("hidden", [False, True])
@pytest.mark.parametrize(("label", "check", "args", "count"), SEQUENCE_CONTROLS, ids=[c[0] for c in SEQUENCE_CONTROLS])
def test_a_correct_sequence_function_passes_its_large_cases(label, check, args, count, hidden, capsys):
    """Does a correct function (also one whose tanh is 2 sigmoid(2a) - 1 with the finite naive sigmoid) keep full
    marks, its ordinary cases numbered as before?"""
    assert grade(check, *args, hidden=hidden) is None
    out = capsys.readouterr().out
    assert count in out and f"on {5 if hidden else 2} {'hidden' if hidden else 'visible'} cases" in out, out


def _sequence_pre_activations(kind: str, X: np.ndarray, h0, params: dict) -> list[np.ndarray]:
    """The input term x_t W_x of every step (B, kH) of the reference run: the part the large cases make large."""
    return [X[:, t] @ params[cases.input_weight(kind)] for t in range(X.shape[1])]


@pytest.mark.parametrize("hidden", [False, True])
def test_the_large_sequence_cases_reach_900_in_every_block(hidden):
    """Does every gate block reach |x W_x| >= 900 at every step of rnn_forward's large case (both signs), and over
    the inputs of each architecture's and the CRNN's large cases?"""
    with cases.hidden_secret(SECRET):
        case = cases.large_sequence_cases(hidden)[0]
        for a in _sequence_pre_activations("rnn", case["X"], case["h0"], case["params"]):
            assert a.max() >= 0.99 * cases.LARGE_REACH and a.min() <= -0.99 * cases.LARGE_REACH
        for name in architecture_checks.SIGNATURES:
            for c in architecture_checks.large_cases(name, hidden):
                x, p = c["args"][0], c["args"][1]
                x = x.reshape(-1, x.shape[-1])
                H = p["W_hy"].shape[0]
                feeds = np.concatenate([x, np.eye(p["W_hy"].shape[1])]) if name == "one_to_many" else x
                assert cases.block_reach(feeds, p[cases.input_weight(c["kind"])], H) >= 0.99 * cases.LARGE_REACH
        for c in crnn_checks.large_crnn_cases(hidden):
            X, p = c["args"]
            F = crnn.frame_features(X.reshape(-1, *X.shape[2:]), p)[0]
            H = p["W_hy"].shape[0]
            assert cases.block_reach(F, p[cases.input_weight(c["kind"])], H) >= 0.99 * cases.LARGE_REACH
