"""Buggy submissions: a solution notebook with one common bug edited into its solution code.

Each bug names the assignment, the edits (solution cell grade_id, old text, new text), the test cells that
must fail (all others must pass) and the bug class the feedback must name, as ``(likely bug: ...)``. A cell's
backward is graded on the reference's cache, so a forward bug fails only the forward's tests.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Bug:
    name: str
    assignment: str
    edits: tuple[tuple[str, str, str], ...]
    failing: frozenset[str]
    bug_class: str


BUGS = [
    Bug("bias_dropped", "rnn_cell",
        (("rnn_step", ' + params["b_h"]  # (B, H)', "  # (B, H)"),),
        frozenset({"test_rnn_step_visible", "test_rnn_step_hidden"}),
        "bias dropped"),
    Bug("transposed_weights", "rnn_cell",
        (("rnn_step_backward", 'dh_prev = da @ params["W_hh"].T', 'dh_prev = da @ params["W_hh"]'),),
        frozenset({"test_rnn_step_backward_inputs_visible", "test_rnn_step_backward_inputs_hidden"}),
        "transposed weights"),
    Bug("gate_order_swapped", "lstm_cell",
        (("lstm_step", "i = sigmoid(a[:, :H])", "i = sigmoid(a[:, H:2 * H])"),
         ("lstm_step", "f = sigmoid(a[:, H:2 * H])", "f = sigmoid(a[:, :H])")),
        frozenset({"test_lstm_step_visible", "test_lstm_step_hidden"}),
        "gate order swapped"),
    Bug("sigmoid_tanh_confused", "lstm_cell",
        (("lstm_step", "g = np.tanh(a[:, 2 * H:3 * H])", "g = sigmoid(a[:, 2 * H:3 * H])"),),
        frozenset({"test_lstm_step_visible", "test_lstm_step_hidden"}),
        "sigmoid/tanh confused"),
    Bug("other_gru_convention", "gru_cell",
        (("gru_step", "if reset_after:", "if not reset_after:"),),
        frozenset({"test_gru_step_visible", "test_gru_step_hidden", "test_gru_step_reset_before_visible",
                   "test_gru_step_reset_before_hidden"}),
        "other GRU convention"),
    Bug("missing_dh_accumulation", "bptt",
        (("rnn_backward", "dh = dH[:, t] + dh_next", "dh = dH[:, t]"),),
        frozenset({"test_rnn_backward_visible", "test_rnn_backward_hidden"}),
        "missing accumulation of dh from the next step"),
    Bug("readout_bias_dropped", "architectures",
        (("many_to_one_forward", 'return h @ params["W_hy"] + params["b_y"], None',
          'return h @ params["W_hy"], None'),),
        frozenset({"test_many_to_one_visible", "test_many_to_one_hidden"}),
        "bias dropped"),
]
