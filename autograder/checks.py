"""Checks that the exercise notebooks' test cells call: compare a student's function with the reference.

Contract (the sandboxed grader relies on it):

- student functions are called only with numpy float arrays, python scalars/str/bool/None, lists,
  tuples and dicts of those, and callables (a reference step function handed to an architecture);
- what they return is read strictly (``autograder.values``): exact float ``np.ndarray`` of the right
  shape and dtype, python floats, exact tuples/lists/dicts; no ``__eq__``/``__array__`` of a student
  object is ever called;
- a cell's backward is graded on the reference's cache of the case (the notebooks prescribe its keys,
  ``cell_checks.CACHE_KEYS``), never on the student's forward, so each function earns its points on its
  own; the forward's cache is read strictly and its prescribed keys compared with the reference's when
  the check is called with ``cache=True`` (as the course's notebooks do);
- inputs are passed as copies and compared afterwards, so in-place changes are reported;
- comparisons use the reference in ``simulator/``, in the grader's process, with the rtol/atol given in
  every message; a failure raises ``AssertionError`` that locates the first differing time step, gate
  and unit and names the likely bug (``autograder.diagnose``); success prints one line starting ``ok:``.

Every check takes ``hidden=False`` (small fixed cases, the notebook's visible tests) or ``hidden=True``
(random shapes including size-1 dimensions, random biases and upstream gradients, several trials, all
drawn from the course's secret ``<course>/.autograder/secret``, which only the grader reads: without it
a hidden check refuses, so nobody can rebuild the hidden cases from the public reference). Backward
checks of the cells take ``wrt="all" | "inputs" | "params"`` so that the gradients
with respect to the inputs and to the parameters can earn points separately.
"""

from autograder.architecture_checks import (
    check_architecture,
    check_encoder_decoder_forward,
    check_many_to_many_forward,
    check_many_to_one_forward,
    check_one_to_many_forward,
    check_one_to_one_forward,
)
from autograder.bptt_checks import (
    check_clip_gradients,
    check_hidden_grad_norms,
    check_rnn_backward,
    check_rnn_forward,
    check_spectral_radius,
)
from autograder.cell_checks import (
    check_gru_step,
    check_gru_step_backward,
    check_lstm_step,
    check_lstm_step_backward,
    check_rnn_step,
    check_rnn_step_backward,
)
from autograder.crnn_checks import (
    check_conv2d_forward,
    check_crnn_forward,
    check_frame_features,
    check_maxpool_forward,
    check_probe_accuracies,
)
from autograder.quiz_checks import check_choice
from autograder.training_checks import check_training_run

__all__ = [
    "check_architecture", "check_choice", "check_clip_gradients", "check_conv2d_forward", "check_crnn_forward",
    "check_encoder_decoder_forward", "check_frame_features", "check_maxpool_forward", "check_probe_accuracies",
    "check_gru_step", "check_gru_step_backward", "check_hidden_grad_norms", "check_lstm_step",
    "check_lstm_step_backward", "check_many_to_many_forward", "check_many_to_one_forward",
    "check_one_to_many_forward", "check_one_to_one_forward", "check_rnn_backward", "check_rnn_forward",
    "check_rnn_step", "check_rnn_step_backward", "check_spectral_radius", "check_training_run",
]
