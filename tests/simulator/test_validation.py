"""Bad input: every ValueError names the argument, what was received and what was expected."""

import re

import numpy as np
import pytest

from simulator import cells, sequence, validation
from simulator.cells import Cell


def lstm():
    return Cell.create("lstm", 3, 4, seed=0)


def raises(fn, *pieces):
    """Call ``fn``; assert a ValueError whose message starts with the argument and contains every piece."""
    with pytest.raises(ValueError) as info:
        fn()
    msg = str(info.value)
    for piece in pieces:
        assert piece in msg, f"{piece!r} not in {msg!r}"
    return msg


X = np.zeros((2, 5, 3))


@pytest.mark.parametrize(("call", "pieces"), [
    (lambda: sequence.forward(lstm(), np.zeros((2, 3))), ["X: expected a 3-D array", "got shape (2, 3)"]),
    (lambda: sequence.forward(lstm(), np.zeros((2, 5, 7))), ["X: expected shape (2, 5, 3)", "got (2, 5, 7)"]),
    (lambda: sequence.forward(lstm(), np.zeros((2, 0, 3))), ["X: expected at least one", "got shape (2, 0, 3)"]),
    (lambda: sequence.forward(lstm(), X.astype(np.float16)), ["X: dtype float16", "expected float32 or float64"]),
    (lambda: sequence.forward(lstm(), X.astype(complex)), ["X: dtype complex128", "expected float32 or float64"]),
    (lambda: sequence.forward(lstm(), X.astype(np.float32)),
     ["X: dtype float32 differs from the parameters' float64", "expected one float dtype"]),
    (lambda: sequence.forward(lstm(), [[[1, 2, 3]], [[1]]]), ["X: could not be read as a numeric array"]),
    (lambda: sequence.forward(lstm(), X, np.zeros((2, 4))),
     ["state0: expected a pair (h0, c0) for an LSTM", "got an array of shape (2, 4)"]),
    (lambda: sequence.forward(lstm(), X, (np.zeros((2, 4)),) * 3), ["state0: expected a pair", "got a tuple of 3"]),
    (lambda: sequence.forward(lstm(), X, (np.zeros((2, 4)), np.zeros((2, 5)))),
     ["state0 c0: expected shape (2, 4)", "got (2, 5)"]),
    (lambda: sequence.forward(Cell.create("gru", 3, 4), X, np.zeros((1, 4))),
     ["state0 h0: expected shape (2, 4)", "got (1, 4)"]),
    (lambda: sequence.forward({"kind": "rnn"}, X), ["cell: expected a simulator.cells.Cell", "got dict"]),
])
def test_forward_rejects_bad_sequences_and_states(call, pieces):
    """Are wrong shapes, dtypes and state structures refused, naming argument, received and expected?"""
    raises(call, *pieces)


@pytest.mark.parametrize(("where", "name"), [("X", "X"), ("h0", "state0 h0"), ("c0", "state0 c0")])
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_forward_rejects_nan_and_inf(where, name, bad):
    """Is a NaN or infinity refused with the argument, the value and its index?"""
    Xb = X.copy()
    h0, c0 = np.zeros((2, 4)), np.zeros((2, 4))
    target = {"X": Xb, "h0": h0, "c0": c0}[where]
    index = (1, 2, 0)[: target.ndim]
    target[index] = bad
    msg = raises(lambda: sequence.forward(lstm(), Xb, (h0, c0)), f"{name}: contains {bad}",
                 "expected finite values only")
    assert f"at index {index}" in msg


def test_backward_rejects_bad_gradients():
    """Are a wrongly shaped or non-finite dH and a malformed dstate_T refused by name?"""
    _, cache = sequence.forward(lstm(), X)
    raises(lambda: sequence.backward(np.zeros((2, 5, 3)), cache), "dH: expected shape (2, 5, 4)", "got (2, 5, 3)")
    raises(lambda: sequence.backward(np.zeros((2, 5)), cache), "dH: expected a 3-D array", "got shape (2, 5)")
    dH = np.zeros((2, 5, 4))
    dH[0, 4, 3] = np.nan
    raises(lambda: sequence.backward(dH, cache), "dH: contains nan at index (0, 4, 3)")
    raises(lambda: sequence.backward(np.zeros((2, 5, 4)), cache, np.zeros((2, 4))),
           "dstate_T: expected a pair (dh_T, dc_T)", "got an array of shape (2, 4)")
    raises(lambda: sequence.backward(np.zeros((2, 5, 4)), cache, (np.zeros((2, 4)), np.zeros((3, 4)))),
           "dc_T: expected shape (2, 4)", "got (3, 4)")


@pytest.mark.parametrize("kind", cells.KINDS)
def test_missing_extra_misshapen_and_mistyped_params(kind):
    """Are missing and extra keys, wrong shapes, mixed dtypes, integer and NaN weights refused by key?"""
    D, H = 3, 4
    good = cells.init_params(kind, D, H)
    keys = sorted(good)
    Xk = np.zeros((2, 5, D))
    for k in keys:
        p = {n: v for n, v in good.items() if n != k}
        raises(lambda p=p: sequence.forward(Cell(kind, p), Xk), f"params: missing ['{k}']", f"expected keys {keys}")
        p = {n: v.astype(np.float32) if n == k else v for n, v in good.items()}
        msg = raises(lambda p=p: sequence.forward(Cell(kind, p), Xk), "float32", "float64")
        assert msg.startswith("params[") or msg.startswith("X: dtype"), msg
        p = {n: v.copy() for n, v in good.items()}
        p[k].reshape(-1)[0] = np.nan
        raises(lambda p=p: sequence.forward(Cell(kind, p), Xk), f"params[{k!r}]: contains nan at index")
    raises(lambda: sequence.forward(Cell(kind, {**good, "W_hy": np.zeros((H, 2))}), Xk),
           "params: unexpected keys ['W_hy']", f"expected keys {keys}")
    bias = keys[-1] if kind != "gru" else "b_x"
    p = {**good, bias: np.zeros(good[bias].size + 1)}
    raises(lambda: sequence.forward(Cell(kind, p), Xk), f"params[{bias!r}]: expected shape {good[bias].shape}",
           f"got {(good[bias].size + 1,)}")
    rec = "W_hh" if kind == "rnn" else "W_h"
    p = {**good, rec: good[rec].astype(int)}
    raises(lambda: sequence.forward(Cell(kind, p), Xk), f"params[{rec!r}]: dtype int64 is not supported",
           "expected float32 or float64")
    p = {**good, rec: good[rec].tolist()}
    raises(lambda: sequence.forward(Cell(kind, p), Xk), f"params[{rec!r}]: expected a 2-D numpy array, got list")


@pytest.mark.parametrize(("call", "pieces"), [
    (lambda: Cell("cnn", {}), ["kind: got 'cnn'", "expected one of 'rnn', 'lstm', 'gru'"]),
    (lambda: Cell("rnn", {}, activation="sigmoid"), ["activation: got 'sigmoid'", "expected one of 'tanh', 'relu'"]),
    (lambda: Cell("gru", {}, reset_after="yes"), ["reset_after: got 'yes'", "expected one of True, False"]),
    (lambda: Cell("gru", []), ["params: expected a dict of arrays", "got list"]),
    (lambda: Cell.create("lstm", 3, 4, recurrent_init="xavier"), ["recurrent_init: got 'xavier'", "'orthogonal'"]),
    (lambda: cells.init_params("rnn", 0, 3), ["input_size and hidden_size: expected positive integers", "D=0"]),
    (lambda: cells.init_params("rnn", 2, 3, forget_bias=np.nan), ["forget_bias", "expected finite numbers"]),
    (lambda: cells.param_shapes("transformer", 2, 3), ["kind: got 'transformer'"]),
    (lambda: cells.rnn_step(np.zeros((1, 2)), np.zeros((1, 3)), cells.init_params("rnn", 2, 3), activation="elu"),
     ["activation: got 'elu'", "expected one of 'tanh', 'relu'"]),
    (lambda: cells.gru_step(np.zeros((1, 2)), np.zeros((1, 3)), cells.init_params("gru", 2, 3), reset_after="no"),
     ["reset_after: got 'no'"]),
])
def test_unknown_options_are_refused(call, pieces):
    """Is every unknown kind, activation, reset convention or initialiser refused with the allowed values?"""
    raises(call, *pieces)


@pytest.mark.parametrize("kind", cells.KINDS)
def test_step_functions_reject_bad_input(kind):
    """Do the public step functions and their backwards refuse bad shapes, dtypes and values by name?"""
    p = cells.init_params(kind, 2, 3)
    fwd, back = cells.STEP_FUNCTIONS[kind]
    extra = (np.zeros((4, 3)),) if kind == "lstm" else ()
    raises(lambda: fwd(np.zeros(2), np.zeros((4, 3)), *extra, p), "x: expected a 2-D array", "got shape (2,)")
    raises(lambda: fwd(np.zeros((4, 5)), np.zeros((4, 3)), *extra, p),
           "x: expected shape (B, 2) to match the input weights", "got (4, 5)")
    raises(lambda: fwd(np.zeros((4, 2)), np.zeros((5, 3)), *extra, p), "h_prev: expected shape (4, 3)", "got (5, 3)")
    raises(lambda: fwd(np.zeros((4, 2)), np.zeros((4, 3), np.float32), *extra, p),
           "h_prev: dtype float32 differs from x's float64")
    raises(lambda: fwd(np.full((4, 2), np.inf), np.zeros((4, 3)), *extra, p), "x: contains inf at index (0, 0)")
    raises(lambda: fwd(np.zeros((4, 2)), np.zeros((4, 3)), *extra, None), "params: expected a dict", "got NoneType")
    if kind == "lstm":
        raises(lambda: fwd(np.zeros((4, 2)), np.zeros((4, 3)), np.zeros((4, 2)), p),
               "c_prev: expected shape (4, 3)", "got (4, 2)")
    out = fwd(np.zeros((4, 2)), np.zeros((4, 3)), *extra, p)
    cache = out[-1]
    ups = (np.zeros((4, 3)),) * (2 if kind == "lstm" else 1)
    raises(lambda: back(np.zeros((4, 2)), *ups[1:], cache), "dh: expected shape (4, 3)", "got (4, 2)")
    raises(lambda: back(np.full((4, 3), np.nan), *ups[1:], cache), "dh: contains nan")
    if kind == "lstm":
        raises(lambda: back(np.zeros((4, 3)), np.zeros((3,)), cache), "dc: expected a 2-D array", "got shape (3,)")


def test_validation_helpers():
    """Do the shared helpers promote integers, refuse other dtypes and report shapes and the first bad index?"""
    assert validation.as_float_array("a", [1, 2]).dtype == np.float64
    assert validation.as_float_array("a", np.zeros(2, np.float32)).dtype == np.float32
    raises(lambda: validation.as_float_array("a", np.zeros(2, np.float16)), "a: dtype float16 is not supported")
    raises(lambda: validation.as_float_array("a", np.zeros(2), ndim=2), "a: expected a 2-D array, got shape (2,)")
    raises(lambda: validation.check_shape("w", np.zeros((2, 3)), (3, 2)), "w: expected shape (3, 2), got (2, 3)")
    bad = np.zeros((3, 3))
    bad[2, 1] = -np.inf
    msg = raises(lambda: validation.check_finite("m", bad), "m: contains -inf at index (2, 1)")
    assert re.match(r"^m: ", msg)
    raises(lambda: validation.check_option("mode", "x", ("a", "b")), "mode: got 'x'; expected one of 'a', 'b'")


def test_boolean_options_refuse_integers():
    """Is reset_after=1 refused (an int is not the bool the option expects)?"""
    with pytest.raises(ValueError, match=r"reset_after: got 1; expected one of True, False"):
        cells.Cell.create("gru", 2, 3, reset_after=1)


def test_cell_dtype_message_names_the_recurrent_weights():
    """Does a mixed-dtype Cell say which dtype the others must match?"""
    cell = cells.Cell.create("rnn", 2, 3)
    cell.params["b_h"] = cell.params["b_h"].astype(np.float32)
    expected = r"params\['b_h'\]: dtype float32 differs from float64, the dtype of the recurrent weights"
    with pytest.raises(ValueError, match=expected):
        cell.check_params()
