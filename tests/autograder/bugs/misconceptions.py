"""A held-out catalogue of student slips for measuring whether feedback names the misconception, not only the term.

Written (and committed) before the diagnosis was changed for the "name the misconception" work, and run only
at the end: it is never tuned on. The bugs aim at the four classes that catalogue 3 showed weak, in forms
catalogue 3's tuning half does not hold: a bug that *raises* inside the student's function (a weight used
without its transpose, a concatenation along the batch axis, a size read from the wrong array, a division
by a zero norm), a *near miss* (a bias added twice, a derivative factor left out, a value one step late),
bugs that show only on *some shapes or inputs* (a ``squeeze`` when a size is 1, a zero state of batch 1, a
stride left out of one axis), and bugs in test cells that used to mix visible and hidden cases (the
spectral radius, GRU's reset-before convention). A few are classic slips of classes the grader already
knows, in other words, so the table is not only about the hard ones.

Same format and judgement as blind catalogue 3 (``tests/autograder/blind3/catalogue.Bug``, graded through
the sandbox by ``tests/autograder/blind3/runner.grade_bugs``), plus *false*: a lost test of the bug's
function states a cause (``likely bug``, ``Likely cause``, ``Probably``) and no pattern of the bug matches.

``python -m tests.autograder.bugs.misconceptions [-v] [--blind3-tuning]`` grades every bug (or, with
``--blind3-tuning``, blind catalogue 3's tuning half, to count its false names too) and prints caught /
located / named / false per assignment.
"""

from __future__ import annotations

import re
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

from tests.autograder.blind3.catalogue import ASSIGNMENTS, Bug

TRANSPOSE = r"transpos|\.T\b|W_\w+\^T"
TWICE = r"(twice|double|two times|2 ?\*|added again)"
SQUEEZE = r"squeez|size-?1|axis of size 1|(lost|dropped|missing) (an )?axis|axis.{0,30}(lost|dropped|missing)"
CONCAT_AXIS = r"(concatenat|stack|join)\w*.{0,80}(axis|batch|rows)|axis.{0,40}(concatenat|stack)|axis ?= ?0"

BUGS = [
    # rnn_cell
    Bug("rnn_bias_added_twice", "rnn_cell", "rnn_step",
        says="I added the bias for the input part and again for the recurrent part",
        name="bias b_h added twice",
        names=(rf"(bias|b_h).{{0,60}}{TWICE}", rf"{TWICE}.{{0,60}}(bias|b_h)"),
        edits=(('+ params["b_h"]  # (B, H)', '+ params["b_h"] + params["b_h"]  # (B, H)'),)),
    Bug("rnn_whh_transposed", "rnn_cell", "rnn_step",
        says="the lesson writes W_hh h_{t-1}, so I transposed W_hh (it is square, so no error)",
        name="recurrent weight W_hh transposed",
        names=(TRANSPOSE,),
        edits=(('h_prev @ params["W_hh"]', 'h_prev @ params["W_hh"].T'),)),
    Bug("rnnb_dx_without_transpose", "rnn_cell", "rnn_step_backward",
        says="dx is da times the input weight",
        name="dx = da W_xh without the transpose (raises when D != H)",
        names=(TRANSPOSE,),
        edits=(('dx = da @ params["W_xh"].T', 'dx = da @ params["W_xh"]'),)),
    Bug("rnnb_db_wrong_axis", "rnn_cell", "rnn_step_backward",
        says="the bias gradient is the sum of da",
        name="bias gradient summed over the units (axis 1) instead of the batch",
        names=(r"axis", r"sum\w*.{0,40}(units|hidden|wrong)", r"over the (units|batch)"),
        edits=(('"b_h": da.sum(axis=0)', '"b_h": da.sum(axis=1)'),)),
    Bug("rnnb_derivative_of_a", "rnn_cell", "rnn_step_backward",
        says="tanh' is 1 - x^2, and x is the pre-activation",
        name="tanh derivative evaluated on the pre-activation a instead of h",
        names=(r"pre-?activation", r"1 - a\^?2|1 - a \*|\(a\)\^2|of a\b|\ba\b.{0,30}instead of \bh\b"),
        edits=(("da = dh * (1.0 - h * h)", 'da = dh * (1.0 - cache["a"] ** 2)'),)),
    # lstm_cell
    Bug("lstm_H_from_x", "lstm_cell", "lstm_step",
        says="the block size is the width of the input",
        name="gate block size taken from x (D) instead of h_prev (H): right only when D = H",
        names=(r"\bD\b.{0,80}\bH\b", r"x\.shape", r"(input|x)('s)? (width|size)", r"block size"),
        edits=(("H = h_prev.shape[1]", "H = x.shape[1]"),)),
    Bug("lstm_bias_doubled", "lstm_cell", "lstm_step",
        says="there is a bias for x and one for h, and the cell has one b, so it goes in twice",
        name="bias b added twice",
        names=(rf"(bias|\bb\b).{{0,60}}{TWICE}", rf"{TWICE}.{{0,60}}(bias|\bb\b)"),
        edits=(('+ params["b"]  # (B, 4H)', '+ 2 * params["b"]  # (B, 4H)'),)),
    Bug("lstmb_concat_batch_axis", "lstm_cell", "lstm_step_backward",
        says="np.concatenate stacks the four gate gradients",
        name="gate gradients concatenated along the batch axis (axis 0) instead of the columns",
        names=(CONCAT_AXIS,),
        edits=(("da = np.concatenate([da_i, da_f, da_g, da_o], axis=1)",
                "da = np.concatenate([da_i, da_f, da_g, da_o], axis=0)"),)),
    Bug("lstmb_dc_prev_from_dc_only", "lstm_cell", "lstm_step_backward",
        says="c_prev only reaches c, so dc_prev is the incoming dc times f",
        name="dc_prev from the upstream dc only (the path through h is left out)",
        names=(r"dc_total", r"(path|term) (through|from) (h|dh)\b",
               r"\bdh\b.{0,60}(missing|dropped|left out|not added)",
               r"(incoming|upstream) dc"),
        edits=(("dc_prev = dc_total * f", "dc_prev = dc * f"),)),
    Bug("lstmb_do_with_c", "lstm_cell", "lstm_step_backward",
        says="h = o * c, so the output gate's gradient is dh * c",
        name="output-gate gradient uses c instead of tanh(c)",
        names=(r"tanh_c", r"tanh\(c\)", r"\bc\b.{0,30}instead of"),
        edits=(("da_o = dh * tanh_c * o * (1.0 - o)", 'da_o = dh * cache["c"] * o * (1.0 - o)'),)),
    Bug("lstmb_dx_squeezed", "lstm_cell", "lstm_step_backward",
        says="I squeeze dx so it has no stray axes",
        name="dx squeezed (wrong shape when B = 1 or D = 1)",
        names=(SQUEEZE,),
        edits=(('dx = da @ params["W_x"].T', 'dx = (da @ params["W_x"].T).squeeze()'),)),
    # gru_cell
    Bug("gru_z_r_exchanged", "gru_cell", "gru_step",
        says="the gates come in the order r, z",
        name="update and reset gate blocks exchanged (blocks read as r, z, n)",
        names=(r"(swap|exchang|order|block)\w*.{0,80}\b(z|r)\b", r"\b(z|r)\b.{0,60}(swap|exchang|block|order)",
               r"update.{0,40}reset.{0,40}(swap|exchang|order)"),
        edits=(("z = sigmoid(xw[:, :H] + hw_zr[:, :H])", "z = sigmoid(xw[:, H:2 * H] + hw_zr[:, H:])"),
               ("r = sigmoid(xw[:, H:2 * H] + hw_zr[:, H:])", "r = sigmoid(xw[:, :H] + hw_zr[:, :H])"))),
    Bug("gru_before_reset_outside_product", "gru_cell", "gru_step",
        says="reset-before multiplies r into the recurrent term",
        name="reset-before: r multiplies the product h_prev W_hn instead of h_prev",
        names=(r"reset.{0,100}(after|before|product|where|convention)", r"r \* \(h_prev", r"\(r \* h_prev\)"),
        edits=(("hw_n = (r * h_prev) @ W_h[:, 2 * H:] + b_h[2 * H:]",
                "hw_n = r * (h_prev @ W_h[:, 2 * H:]) + b_h[2 * H:]"),)),
    Bug("gru_recurrent_bias_in_input", "gru_cell", "gru_step",
        says="the two biases both belong to the pre-activation, so I add b_h to the input projection as well",
        name="recurrent bias b_h added a second time, in the input projection",
        names=(rf"b_h.{{0,60}}({TWICE}|both|again|second)", rf"{TWICE}.{{0,60}}(bias|b_h)", r"b_x.{0,40}b_h"),
        edits=(('xw = x @ params["W_x"] + params["b_x"]', 'xw = x @ params["W_x"] + params["b_x"] + params["b_h"]'),)),
    Bug("grub_dz_no_sigmoid_prime", "gru_cell", "gru_step_backward",
        says="dz is dh times (h_prev - n), that is the update gate's gradient",
        name="update gate's sigmoid derivative z (1 - z) left out",
        names=(r"(sigmoid|z ?\(1 ?- ?z\)|derivative).{0,80}(\bz\b|update)",
               r"(\bz\b|update).{0,80}(derivative|sigmoid)"),
        edits=(("da_z = dh * (h_prev - n) * z * (1.0 - z)", "da_z = dh * (h_prev - n)"),)),
    Bug("grub_before_drh_no_transpose", "gru_cell", "gru_step_backward",
        says="the gradient of r * h_prev is da_n times W_hn",
        name="reset-before: d(r h_prev) = da_n W_hn without the transpose",
        names=(TRANSPOSE,),
        edits=(("drh = da_n @ W_h[:, 2 * H:].T", "drh = da_n @ W_h[:, 2 * H:]"),)),
    Bug("grub_dxw_batch_axis", "gru_cell", "gru_step_backward",
        says="concatenate the three block gradients",
        name="block gradients concatenated along the batch axis (raises)",
        names=(CONCAT_AXIS,),
        edits=(("dxw = np.concatenate([da_z, da_r, da_n], axis=1)",
                "dxw = np.concatenate([da_z, da_r, da_n], axis=0)"),)),
    # bptt
    Bug("fwd_state_not_updated", "bptt", "rnn_forward",
        says="I store each step's new state",
        name="state not carried: every step starts from h0",
        names=(r"(state|\bh\b).{0,80}(not (carried|passed|updated|handed)|every step from|h0 at every|restart)",
               r"(carr|pass|hand)\w* on", r"from h0", r"recurren"),
        edits=(("h, cache = rnn_step(X[:, t], h, params)", "h_new, cache = rnn_step(X[:, t], h, params)"),
               ("states.append(h)", "states.append(h_new)"))),
    Bug("bwd_grads_overwritten", "bptt", "rnn_backward",
        says="grads is what the step backward returns",
        name="parameter gradients overwritten each step (only step 0's kept), not summed over time",
        names=(r"(sum|accumul|add)\w*.{0,60}(time|steps|over t)", r"only.{0,40}(step 0|first step|one step|t ?= ?0)",
               r"overwrit"),
        edits=(("grads = step_grads if grads is None else {k: grads[k] + step_grads[k] for k in grads}",
                "grads = step_grads"),)),
    Bug("bwd_dX_squeezed", "bptt", "rnn_backward",
        says="squeeze to drop the stray axes of dX",
        name="dX squeezed (wrong shape when B, T or D is 1)",
        names=(SQUEEZE,),
        edits=(("dX = np.stack(dxs, axis=1)", "dX = np.stack(dxs, axis=1).squeeze()"),)),
    Bug("clip_zero_norm_division", "bptt", "clip_gradients",
        says="the scale is max_norm / norm, capped at 1",
        name="divides by the norm when it is zero (ZeroDivisionError on all-zero gradients)",
        names=(r"zero", r"division", r"norm ?(=|==|is) ?0"),
        edits=(("scale = min(1.0, max_norm / norm) if norm > 0 else 1.0", "scale = min(1.0, max_norm / norm)"),)),
    Bug("spec_singular_value", "bptt", "spectral_radius",
        says="the spectral radius is the largest singular value",
        name="largest singular value (2-norm) instead of the largest |eigenvalue|",
        names=(r"singular", r"svd", r"2-norm", r"spectral norm", r"operator norm"),
        edits=(("return float(np.abs(np.linalg.eigvals(W)).max())",
                "return float(np.linalg.svd(W, compute_uv=False).max())"),)),
    Bug("spec_abs_real_part", "bptt", "spectral_radius",
        says="eigenvalues can be complex, so I keep their real part and take the largest absolute value",
        name="largest |real part| of the eigenvalues instead of the largest modulus",
        names=(r"real part", r"\.real", r"imaginary", r"complex"),
        edits=(("return float(np.abs(np.linalg.eigvals(W)).max())",
                "return float(np.abs(np.linalg.eigvals(W).real).max())"),)),
    Bug("hgn_norm_after_step", "bptt", "hidden_grad_norms",
        says="step back, then record the norm",
        name="norm recorded after stepping back (each norm one step early: ||dh_{t-1}|| at t)",
        names=(r"(before|after).{0,60}(step|backward)", r"off by one", r"one step", r"shift"),
        edits=(("        norms[t] = np.sqrt((dh * dh).sum())\n        _, dh, _ = rnn_step_backward(dh, caches[t])",
                "        _, dh, _ = rnn_step_backward(dh, caches[t])\n        norms[t] = np.sqrt((dh * dh).sum())"),)),
    # architectures
    Bug("o2o_zero_state_batch_one", "architectures", "one_to_one_forward",
        says="the initial state is one zero vector",
        name="zero state built for a batch of 1 instead of B (right only when B = 1)",
        names=(r"batch", r"\bB ?= ?1\b", r"zero_state", r"(initial|zero) state.{0,60}(shape|size|rows)"),
        edits=(("zero_state(cp, x.shape[0])", "zero_state(cp, 1)"),)),
    Bug("o2m_argmax_transposed", "architectures", "one_to_many_forward",
        says="one_hot_argmax of y gives the next input",
        name="fed-back one-hot of y.T (argmax over the batch; raises unless B = K)",
        names=(TRANSPOSE, r"argmax.{0,60}(batch|axis|over)", r"axis"),
        edits=(("inp = one_hot_argmax(y)", "inp = one_hot_argmax(y.T)"),)),
    Bug("ed_decoder_from_zero_state", "architectures", "encoder_decoder_forward",
        says="the decoder is its own RNN, so it starts from its own zero state",
        name="encoder's final state not handed to the decoder (decoder starts from zeros)",
        names=(r"(encoder|context|final state|state).{0,80}"
               r"(not (passed|handed|carried)|hand|zero|discard|ignor|reset)",),
        edits=(("inp, ys = np.zeros((B, K)), []", "inp, ys, state = np.zeros((B, K)), [], zero_state(dec, B)"),)),
    Bug("m2o_readout_of_state_pair", "architectures", "many_to_one_forward",
        says="the readout reads the last state",
        name="reads out the first step's h (the loop's h kept from t = 0)",
        names=(r"(first|step 0|t ?= ?0|h_0|x_0)", r"last (step|state|input).{0,40}(ignored|not read|missing)"),
        edits=(("        state, h = run_step(step, X[:, t], state, cp)",
                "        state, h_t = run_step(step, X[:, t], state, cp)\n        h = h_t if t == 0 else h"),)),
    # crnn
    Bug("conv_OH_no_stride", "crnn", "conv2d_forward",
        says="the output height is H + 2p - KH + 1",
        name="stride left out of the output height formula (right only when stride = 1)",
        names=(r"stride", r"output (size|height)", r"\bOH\b"),
        edits=(("OH = (H + 2 * padding - KH) // stride + 1", "OH = (H + 2 * padding - KH) + 1"),)),
    Bug("conv_kernel_axes_swapped", "crnn", "conv2d_forward",
        says="tensordot over channels and the window",
        name="kernel's filter axis contracted against the channels (K read as (C, F, ...))",
        names=(r"(filter|channel)\w*.{0,80}(axis|axes|swap|exchang|transpos|order)", r"axes",
               r"(swap|exchang|transpos)\w*.{0,60}(filter|channel|kernel)"),
        edits=(("np.tensordot(patch, K, axes=([1, 2, 3], [1, 2, 3]))",
                "np.tensordot(patch, K, axes=([1, 2, 3], [0, 2, 3]))"),)),
    Bug("pool_windows_not_strided", "crnn", "maxpool_forward",
        says="window (i, j) starts at row i, column j",
        name="windows not moved by the stride (start at i, j instead of i*stride, j*stride)",
        names=(r"stride",),
        edits=(("x[:, :, i * stride : i * stride + size, j * stride : j * stride + size]",
                "x[:, :, i : i + size, j : j + size]"),)),
    Bug("crnn_state_not_kept", "crnn", "crnn_forward",
        says="each frame goes through the cell",
        name="state not carried between frames (every frame from the zero state)",
        names=(r"(state|\bh\b).{0,80}(not (carried|passed|updated|kept)|every (frame|step) from|reset)",
               r"recurren"),
        edits=(("state, h = run_step(step, F[:, t], state, cp)", "_, h = run_step(step, F[:, t], state, cp)"),)),
]

CAUSE = re.compile(r"likely bug|likely cause|probably", re.IGNORECASE)


def false_name(outcome) -> bool:
    """Does a lost test of the bug's own function state a cause that none of the bug's patterns matches?"""
    from tests.autograder.blind3.runner import _test_of, diagnosis_text

    if outcome.named:
        return False
    own = [m for g, m in outcome.lost.items() if _test_of(g, outcome.bug.function)]
    return any(CAUSE.search(diagnosis_text(m)) for m in own)


def main(argv=None) -> int:
    from tests.autograder.blind3 import runner

    argv = sys.argv[1:] if argv is None else argv
    verbose = "-v" in argv
    if "--blind3-tuning" in argv:
        from tests.autograder.blind3 import catalogue

        bugs = catalogue.load("tuning")
    else:
        bugs = BUGS
    runner.check_edits(bugs)
    with tempfile.TemporaryDirectory() as tmp:
        outcomes = runner.grade_bugs(bugs, Path(tmp) / "course")
    rows = defaultdict(lambda: [0, 0, 0, 0, 0])
    for o in outcomes:
        for key in (o.bug.assignment, "all"):
            r = rows[key]
            r[0] += 1
            r[1] += o.caught
            r[2] += o.caught and o.located
            r[3] += o.named
            r[4] += false_name(o)
    print("| assignment | bugs | caught | located | named | false |\n|---|---|---|---|---|---|")
    for key in (*ASSIGNMENTS, "all"):
        if key in rows:
            print("| " + " | ".join([key, *map(str, rows[key])]) + " |")
    for o in outcomes:
        if verbose or not o.named:
            flags = f"caught={o.caught} located={o.located} named={o.named} false={false_name(o)}"
            print(f"\n{o.bug.key} ({o.bug.function}, {o.score:g}/{o.full:g}): {flags}; expected: {o.bug.name}")
            for g, m in o.lost.items():
                print(f"  {g}: {' '.join(m.split())[:600]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
