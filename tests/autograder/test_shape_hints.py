"""Does a gradient of the wrong size say what the size means (the weight it went back through, the axis summed)?"""

import numpy as np
import pytest

from autograder import cell_checks
from simulator import cells


def _message(check, *args) -> str:
    with pytest.raises(AssertionError) as err:
        check(*args)
    return str(err.value)


def rnn_dx_through_w_hh(dh, cache):
    dx, dh_prev, grads = cells.rnn_step_backward(dh, cache)
    da = dh * (1 - cache["h"] ** 2)
    return da @ cache["params"]["W_hh"].T, dh_prev, grads


def rnn_dh_prev_through_w_xh(dh, cache):
    dx, dh_prev, grads = cells.rnn_step_backward(dh, cache)
    da = dh * (1 - cache["h"] ** 2)
    return dx, da @ cache["params"]["W_xh"].T, grads


def rnn_db_over_units(dh, cache):
    dx, dh_prev, grads = cells.rnn_step_backward(dh, cache)
    da = dh * (1 - cache["h"] ** 2)
    return dx, dh_prev, {**grads, "b_h": da.sum(axis=1)}


def lstm_dx_through_w_h(dh, dc, cache):
    """dx = da @ W_h^T: the reference's dh_prev is exactly that product."""
    dx, dh_prev, dc_prev, grads = cells.lstm_step_backward(dh, dc, cache)
    return dh_prev.copy(), dh_prev, dc_prev, grads


@pytest.mark.parametrize("backward, words", [
    (rnn_dx_through_w_hh, "likely bug: dx through the recurrent weight"),
    (rnn_dh_prev_through_w_xh, "likely bug: dh_prev through the input weight"),
])
def test_an_input_gradient_of_the_other_inputs_size_names_the_weight(backward, words):
    message = _message(cell_checks.check_rnn_step_backward, cells.rnn_step, backward)
    assert words in message, message


def test_a_bias_gradient_with_one_number_per_example_names_the_axis():
    message = _message(cell_checks.check_rnn_step_backward, cells.rnn_step, rnn_db_over_units)
    assert "likely bug: bias gradient summed over the wrong axis" in message, message


def test_a_gated_cells_dx_of_the_hidden_size_names_the_weight_too():
    message = _message(cell_checks.check_lstm_step_backward, cells.lstm_step, lstm_dx_through_w_h)
    assert "likely bug: dx through the recurrent weight" in message, message


def test_the_control_the_reference_backward_names_nothing(capsys):
    cell_checks.check_rnn_step_backward(cells.rnn_step, cells.rnn_step_backward)
    cell_checks.check_lstm_step_backward(cells.lstm_step, cells.lstm_step_backward)
    assert "likely bug" not in capsys.readouterr().out


def test_sizes_that_coincide_say_nothing():
    """With D = H a dx through W_hh has the right shape: the hint reads shapes only, so it must stay silent."""
    value = np.zeros((2, 4))
    assert cell_checks._through_hint(value, (2, 4), "dx", 4, 4) == ""
    assert cell_checks._through_hint(np.zeros((2, 5)), (2, 3), "dx", 3, 4) == ""  # a size that is neither
