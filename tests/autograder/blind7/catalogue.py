"""The seventh blind catalogue: student bugs as text edits of blind6's ``solution.py``, with what a grader should call
them.

Written before any of them was graded and before any diagnosis message for them was seen, different from blind5's and
blind6's: a transposed weight, stacked gates sliced in another order, a forget bias of one written into the forward,
bias gradients summed over the wrong axis, an upstream gradient not accumulated, a derivative taken at the wrong
value, clipping by value or per array, singular values for eigenvalues, a softmax where logits are asked for,
time-major stacking, a decoder off by one step, a flipped convolution kernel, an output size without its ``+ 1``.
Each :class:`Bug` replaces, in ``tests/autograder/blind6/solution.py`` (reused, not copied), each ``old`` (exactly
once) with ``new``; ``function`` is the one whose check grades it; ``patterns`` (case-insensitive regular expressions)
count as *named* when one occurs in the failure's cause. ``half`` is a fixed rank of the key's BLAKE2b hash (salted
"blind7"), fixed before any result was seen: the diagnosis may be tuned on "tune" only; "held-out" is run once, at the
end.
"""

from __future__ import annotations

import hashlib

from tests.autograder.blind6.catalogue import Bug

__all__ = ["BUGS", "Bug", "half"]


def half(key: str) -> str:
    """``"tune"`` or ``"held-out"``: the keys ranked by salted BLAKE2b, the lower half tuned on (fixed, not chosen)."""
    ranked = sorted((b.key for b in BUGS),
                    key=lambda k: hashlib.blake2b(f"blind7:{k}".encode(), digest_size=8).digest())
    return "tune" if ranked.index(key) < len(ranked) // 2 else "held-out"


_SOFTMAX = ("e = np.exp({y} - {y}.max(axis=1, keepdims=True))\n"
            "{pad}{out} = e / e.sum(axis=1, keepdims=True)")

BUGS: list[Bug] = [
    # ---------------------------------------------------------------- cells, forward
    Bug("rnn_whh_transposed", "rnn_step", "PyTorch stores W_hh as (out, in), so I transpose it",
        "recurrent weight transposed: h_prev @ W_hh.T",
        (("h_prev @ params[\"W_hh\"] + params[\"b_h\"]", "h_prev @ params[\"W_hh\"].T + params[\"b_h\"]"),),
        (r"transpos", r"W_hh\.T", r"W_hh\^T")),
    Bug("lstm_slices_ifog", "lstm_step", "the stacked blocks are i, f, o, g (as in Karpathy's code)",
        "gate blocks sliced in the order i, f, o, g (o and g exchanged)",
        (("g, o = np.tanh(a[:, 2 * H:3 * H]), sigmoid(a[:, 3 * H:])",
          "o, g = sigmoid(a[:, 2 * H:3 * H]), np.tanh(a[:, 3 * H:])"),),
        (r"order", r"i, ?f, ?o, ?g", r"ifog", r"(swap|exchang).{0,60}(\bo\b|\bg\b|output|candidate)", r"block")),
    Bug("lstm_forget_bias_plus_one", "lstm_step", "the forget gate's bias starts at 1 so the cell remembers",
        "forget-gate pre-activation shifted by a hard-coded + 1 in the forward",
        (("i, f = sigmoid(a[:, :H]), sigmoid(a[:, H:2 * H])",
          "i, f = sigmoid(a[:, :H]), sigmoid(a[:, H:2 * H] + 1.0)"),),
        (r"forget.{0,80}(bias|\+ ?1|offset|shift|constant)", r"\+ ?1\b", r"b_f")),
    Bug("lstm_h_without_tanh_c", "lstm_step", "the output gate reads the cell directly",
        "h = o * c: the tanh of the cell is missing",
        (("    h = o * tanh_c\n", "    h = o * c\n"),),
        (r"tanh\(c\)", r"tanh.{0,40}(missing|dropped|left out)", r"without.{0,20}tanh", r"o \* c\b")),
    Bug("gru_z_r_slices_swapped", "gru_step", "the blocks are r, z, n (the paper's order)",
        "z and r read from each other's blocks of the stacked weights",
        (("z = sigmoid(xw[:, :H] + hw[:, :H])\n    r = sigmoid(xw[:, H:2 * H] + hw[:, H:2 * H])",
          "r = sigmoid(xw[:, :H] + hw[:, :H])\n    z = sigmoid(xw[:, H:2 * H] + hw[:, H:2 * H])"),),
        (r"order", r"r, ?z, ?n", r"(swap|exchang).{0,60}(\bz\b|\br\b|update|reset)", r"block")),
    Bug("gru_reset_on_input_too", "gru_step", "the reset gate scales the whole candidate pre-activation",
        "reset gate applied to the input term too: n = tanh(r (x W_xn + h W_hn))",
        (("n = np.tanh(xw[:, 2 * H:] + r * hw[:, 2 * H:])", "n = np.tanh(r * (xw[:, 2 * H:] + hw[:, 2 * H:]))"),),
        (r"reset.{0,80}(input|x W|x @|both)", r"\br\b.{0,80}(input|x W|x @|both)")),
    # ---------------------------------------------------------------- cells, backward
    Bug("rnnb_db_axis1", "rnn_step_backward", "sum the gradient to get the bias",
        "db_h summed over the hidden axis (axis=1) instead of the batch",
        (("\"b_h\": da.sum(axis=0)}", "\"b_h\": da.sum(axis=1)}"),),
        (r"axis", r"batch", r"sum(med)? over")),
    Bug("rnnb_dh_prev_no_transpose", "rnn_step_backward", "W_hh is square, so no transpose is needed",
        "dh_prev = da @ W_hh (not W_hh^T)",
        (("da @ p[\"W_hh\"].T, grads", "da @ p[\"W_hh\"], grads"),),
        (r"transpos", r"W_hh\.T", r"W_hh\^T", r"W_hh\b.{0,40}instead")),
    Bug("rnnb_derivative_at_a", "rnn_step_backward", "tanh'(a) = 1 - a^2",
        "tanh derivative evaluated at the pre-activation: 1 - a^2 instead of 1 - h^2",
        (("(1.0 - cache[\"h\"] ** 2)", "(1.0 - cache[\"a\"] ** 2)"),),
        (r"pre-?activation", r"1 - a\^2", r"\ba\b'?\]?.{0,60}(where|instead of).{0,30}\bh\b",
         r"derivative.{0,60}\ba\b")),
    Bug("lstmb_dc_prev_without_f", "lstm_step_backward", "c_prev goes straight into c",
        "dc_prev = dc_total (the forget gate's factor missing)",
        (("dc_total * f, grads", "dc_total, grads"),),
        (r"forget", r"\bf\b.{0,40}(missing|factor|dropped)", r"dc_prev")),
    Bug("lstmb_dc_not_accumulated", "lstm_step_backward", "dc comes from h, so it is dh * o * tanh'(c)",
        "the incoming dc is not added to the cell gradient",
        (("dc_total = dc + dh * o * (1.0 - tanh_c ** 2)", "dc_total = dh * o * (1.0 - tanh_c ** 2)"),),
        (r"\bdc\b.{0,80}(dropped|missing|not added|ignored|upstream|incoming)", r"accumul", r"incoming")),
    Bug("lstmb_tanh_of_tanh_c", "lstm_step_backward", "tanh'(c) = 1 - tanh(.)^2 of the cached tanh_c",
        "tanh applied again in the cell's derivative: 1 - tanh(tanh_c)^2",
        (("dc_total = dc + dh * o * (1.0 - tanh_c ** 2)", "dc_total = dc + dh * o * (1.0 - np.tanh(tanh_c) ** 2)"),),
        (r"tanh\(tanh", r"tanh.{0,40}(twice|again)", r"derivative.{0,60}(tanh_c|tanh\(c)")),
    Bug("lstmb_dg_sigmoid_prime", "lstm_step_backward", "every gate's derivative is g (1 - g)",
        "the candidate's derivative taken as a sigmoid's: g (1 - g) instead of 1 - g^2",
        (("da_g = dc_total * i * (1 - g ** 2)", "da_g = dc_total * i * g * (1 - g)"),),
        (r"sigmoid", r"1 - g\^2", r"candidate.{0,60}(derivative|tanh)")),
    Bug("grub_dz_sign", "gru_step_backward", "dh/dz = n - h_prev, as in h = h_prev + z (n - h_prev)",
        "dz with its sign flipped: dh (n - h_prev) for h = z h_prev + (1 - z) n",
        (("dz = dh * (h_prev - n)", "dz = dh * (n - h_prev)"),),
        (r"sign", r"n - h_prev", r"\bdz\b", r"flip|revers|other way|convention")),
    Bug("grub_dh_prev_no_direct", "gru_step_backward", "h_prev reaches h only through the gates",
        "dh_prev without the direct term dh * z",
        (("dh_prev = dh * z + da_z", "dh_prev = da_z"),),
        (r"dh \* z", r"direct", r"\bz\b.{0,40}(term|path|missing)", r"(skip|carry).{0,20}path")),
    Bug("grub_dr_tanh_prime", "gru_step_backward", "the reset gate is squashed like the candidate",
        "reset gate's derivative as tanh's: 1 - r^2 instead of r (1 - r)",
        (("da_r = dr * r * (1.0 - r)", "da_r = dr * (1.0 - r ** 2)"),),
        (r"\br\b.{0,60}(sigmoid|tanh)", r"reset.{0,60}(sigmoid|derivative|tanh)", r"1 - r\^2")),
    # ---------------------------------------------------------------- bptt
    Bug("fwd_h0_ignored", "rnn_forward", "the state always starts from zeros",
        "h0 ignored: the recurrence starts from zeros",
        (("h, caches = h0, []", "h, caches = np.zeros_like(h0), []"),),
        (r"h0", r"initial state", r"zeros? (state|start)")),
    Bug("bwd_dh_next_not_added", "rnn_backward", "each step has its own dH",
        "dh_next not added to dH[:, t]: the gradient through time is dropped",
        (("rnn_step_backward(dH[:, t] + dh_next, caches[t])", "rnn_step_backward(dH[:, t], caches[t])"),),
        (r"dh_next", r"carr", r"not (added|accumulated)", r"through time", r"truncat")),
    Bug("bwd_grads_overwritten", "rnn_backward", "each step gives the gradients",
        "the parameters' gradients overwritten at every step (only step 0's kept)",
        (("            grads[k] += g[k]", "            grads[k] = g[k]"),),
        (r"accumul", r"overwr", r"step 0", r"one step", r"\+=", r"summed over")),
    Bug("clip_by_value", "clip_gradients", "clipping caps each gradient at max_norm",
        "clipped by value (each entry to [-max_norm, max_norm]) instead of by the global norm",
        (("    return {k: g * scale for k, g in grads.items()}, norm",
          "    return {k: np.clip(g, -max_norm, max_norm) for k, g in grads.items()}, norm"),),
        (r"by value", r"element", r"np\.clip", r"entr(y|ies)")),
    Bug("clip_per_array", "clip_gradients", "each gradient is clipped to max_norm",
        "each array clipped by its own norm, not by the global norm",
        (("    return {k: g * scale for k, g in grads.items()}, norm",
          "    return {k: g * min(1.0, max_norm / max(float(np.sqrt((g * g).sum())), 1e-12))\n"
          "            for k, g in grads.items()}, norm"),),
        (r"per[- ](array|tensor|gradient|matrix|parameter)", r"(each|its) own", r"separately", r"global")),
    Bug("norms_squared", "hidden_grad_norms", "the norm is the sum of squares",
        "squared norm recorded (no square root)",
        (("norms[t] = np.sqrt((dh * dh).sum())", "norms[t] = (dh * dh).sum()"),),
        (r"squar", r"sqrt", r"\^2")),
    Bug("rho_singular_values", "spectral_radius", "the spectral radius is the largest singular value",
        "largest singular value (the spectral norm) instead of the largest |eigenvalue|",
        (("return float(np.abs(np.linalg.eigvals(W)).max())",
          "return float(np.linalg.svd(W, compute_uv=False).max())"),),
        (r"singular", r"svd", r"spectral norm", r"2-norm", r"operator norm")),
    Bug("rho_real_part", "spectral_radius", "the largest eigenvalue",
        "largest real part instead of the largest modulus",
        (("return float(np.abs(np.linalg.eigvals(W)).max())", "return float(np.linalg.eigvals(W).real.max())"),),
        (r"real part", r"modul", r"abs", r"complex", r"magnitude")),
    # ---------------------------------------------------------------- architectures
    Bug("m2o_softmax_output", "many_to_one_forward", "a classifier outputs probabilities",
        "softmax applied to the output (logits expected)",
        (("        state, h = run_step(step, X[:, t], state, cp)\n    return readout(h, params), None",
          "        state, h = run_step(step, X[:, t], state, cp)\n    y = readout(h, params)\n    "
          + _SOFTMAX.format(y="y", pad="    ", out="p") + "\n    return p, None"),),
        (r"softmax", r"probabilit", r"logit")),
    Bug("m2m_time_major", "many_to_many_forward", "RNN outputs are (T, B, Y)",
        "outputs stacked time-major (T, B, Y) instead of (B, T, Y)",
        (("        ys.append(readout(h, params))\n    return np.stack(ys, axis=1), None",
          "        ys.append(readout(h, params))\n    return np.stack(ys, axis=0), None"),),
        (r"axis", r"time[- ]major", r"\(T, B", r"transpos", r"time.{0,40}batch")),
    Bug("o2m_no_feedback", "one_to_many_forward", "x is the input, fed at every step",
        "the first input fed at every step: the prediction is never fed back",
        (("        ys.append(y)\n        x = one_hot_argmax(y)\n    return np.stack(ys, axis=1), None\n\n\ndef enc",
          "        ys.append(y)\n    return np.stack(ys, axis=1), None\n\n\ndef enc"),),
        (r"feedback", r"fed back", r"same input", r"first input", r"never")),
    Bug("ed_decoder_extra_first_step", "encoder_decoder_forward", "the first decoder step only primes the state",
        "decoder runs T_out + 1 steps and drops its first output (outputs one step late)",
        (("    for _ in range(T_out):\n", "    for _ in range(T_out + 1):\n"),
         ("    return np.stack(ys, axis=1), None\n\n\n# ---", "    return np.stack(ys[1:], axis=1), None\n\n\n# ---")),
        (r"off by one", r"one step", r"shift", r"first (decoder )?(step|output)", r"extra step", r"late")),
    Bug("ed_decoder_zero_state", "encoder_decoder_forward", "the decoder is a new RNN, it starts from zeros",
        "decoder starts from a zero state: the encoder's final state is not passed on",
        (("    x, ys = np.zeros((X.shape[0], params[\"W_hy\"].shape[1])), []",
          "    state = zero_state(step, X.shape[0], dp)\n"
          "    x, ys = np.zeros((X.shape[0], params[\"W_hy\"].shape[1])), []"),),
        (r"encoder'?s (final |last )?state", r"zero", r"context", r"not (passed|carried)", r"encoder.{0,40}ignored")),
    # ---------------------------------------------------------------- crnn
    Bug("conv_kernel_flipped", "conv2d_forward", "a convolution flips the kernel",
        "true convolution (kernel flipped) instead of the cross-correlation deep learning calls convolution",
        (("np.tensordot(patch, K, axes=", "np.tensordot(patch, K[:, :, ::-1, ::-1], axes="),),
        (r"flip", r"cross-?correlat", r"rotat", r"180")),
    Bug("conv_output_size_no_plus_one", "conv2d_forward", "the output has (H + 2p - K) / s positions",
        "output size without its + 1: one row and one column short",
        (("OH, OW = (H + 2 * padding - KH) // stride + 1, (W + 2 * padding - KW) // stride + 1",
          "OH, OW = (H + 2 * padding - KH) // stride, (W + 2 * padding - KW) // stride"),),
        (r"\+ ?1", r"output size", r"off by one", r"one (row|column)", r"short")),
    Bug("pool_default_stride_one", "maxpool_forward", "a window slides one pixel at a time",
        "default stride 1 instead of the window size (overlapping windows)",
        (("stride = size if stride is None else stride", "stride = 1 if stride is None else stride"),),
        (r"stride", r"overlap")),
    Bug("crnn_frames_time_major", "crnn_forward", "reshape back as (T, B) since time is the outer loop",
        "frame features reshaped as (T, B, M) and transposed: frames of different sequences mixed",
        (("[0].reshape(B, T, -1)", "[0].reshape(T, B, -1).transpose(1, 0, 2)"),),
        (r"reshape", r"transpos", r"order", r"batch.{0,40}time", r"time.{0,40}batch", r"mix")),
]
