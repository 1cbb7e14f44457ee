"""The sixth blind catalogue: student bugs as text edits of ``solution.py``, with what a grader should call them.

Written before any of them was graded and before any diagnosis message for them was seen, as a student would write
them: off-by-one loops, a state stored before its step, weights of the wrong part of a dict, an argmax over the wrong
axis, in-place mutation of the inputs, clipping inside the loop, a sigmoid for a tanh, a mutable default that keeps
gradients between calls. Each :class:`Bug` replaces, in ``solution.py``, each ``old`` (exactly once) with ``new``;
``function`` is the one whose check grades it; ``patterns`` (case-insensitive regular expressions) count as *named*
when one occurs in the failure's cause. ``half`` is a fixed rank of the key's BLAKE2b hash (salted "blind6"), fixed
before any result was seen: the diagnosis may be tuned on "tune" only; "held-out" is run once, at the end.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass


@dataclass(frozen=True)
class Bug:
    key: str
    function: str
    says: str  # the misconception, in the student's words
    name: str  # what a good grader would call it
    edits: tuple[tuple[str, str], ...]
    patterns: tuple[str, ...]
    options: tuple[tuple[str, object], ...] = ()  # keyword arguments of the check (cache=True, reset_after=False)


def half(key: str) -> str:
    """``"tune"`` or ``"held-out"``: the keys ranked by salted BLAKE2b, the lower half tuned on (fixed, not chosen)."""
    ranked = sorted((b.key for b in BUGS),
                    key=lambda k: hashlib.blake2b(f"blind6:{k}".encode(), digest_size=8).digest())
    return "tune" if ranked.index(key) < len(ranked) // 2 else "held-out"


BUGS: list[Bug] = [
    # ---------------------------------------------------------------- cells, forward
    Bug("lstm_c_without_input_gate", "lstm_step", "the candidate is what gets written to the cell",
        "input gate missing from the cell update (c = f * c_prev + g)",
        (("c = f * c_prev + i * g", "c = f * c_prev + g"),),
        (r"input gate", r"\bi\b.{0,40}(missing|dropped|left out|factor)", r"i \* g", r"\bi = 1")),
    Bug("lstm_candidate_sigmoid", "lstm_step", "all four blocks are gates, so all four get a sigmoid",
        "candidate g uses sigmoid instead of tanh",
        (("g, o = np.tanh(a[:, 2 * H:3 * H]), sigmoid(a[:, 3 * H:])",
          "g, o = sigmoid(a[:, 2 * H:3 * H]), sigmoid(a[:, 3 * H:])"),),
        (r"\bg\b.{0,60}sigmoid", r"candidate.{0,60}sigmoid", r"sigmoid.{0,40}instead of tanh")),
    Bug("gru_candidate_sigmoid", "gru_step", "n is a gate like z and r", "GRU candidate n uses sigmoid instead of tanh",
        (("        n = np.tanh(xw[:, 2 * H:] + r * hw[:, 2 * H:])",
          "        n = sigmoid(xw[:, 2 * H:] + r * hw[:, 2 * H:])"),),
        (r"\bn\b.{0,60}sigmoid", r"candidate.{0,60}sigmoid", r"sigmoid.{0,40}instead of tanh")),
    Bug("gru_blend_keras_pytorch_mix", "gru_step", "z is how much of the new candidate gets in",
        "update gate blend flipped: h = (1 - z) h_prev + z n",
        (("h = z * h_prev + (1.0 - z) * n", "h = (1.0 - z) * h_prev + z * n"),),
        (r"\bz\b.{0,80}(flip|swap|exchang|1 - z|revers|other way)", r"update gate.{0,60}(flip|swap|exchang|revers)",
         r"blend")),
    Bug("gru_before_no_bhn", "gru_step", "with the reset before the product, the bias goes with the input side",
        "reset-before candidate drops b_hn (n = tanh(x W_xn + b_xn + (r h_prev) W_hn))",
        (("(r * h_prev) @ params[\"W_h\"][:, 2 * H:] + params[\"b_h\"][2 * H:])",
          "(r * h_prev) @ params[\"W_h\"][:, 2 * H:])"),),
        (r"b_hn", r"bias.{0,60}(drop|missing|left out|\bn\b)", r"recurrent bias"),
        (("reset_after", False),)),
    # ---------------------------------------------------------------- cells, backward
    Bug("rnnb_tanh_of_h", "rnn_step_backward", "the derivative of tanh is 1 - tanh^2",
        "tanh applied again in the derivative: 1 - tanh(h)^2 instead of 1 - h^2",
        (("da = dh * (1.0 - cache[\"h\"] ** 2)", "da = dh * (1.0 - np.tanh(cache[\"h\"]) ** 2)"),),
        (r"tanh\(h\)", r"tanh.{0,40}twice", r"tanh.{0,40}again", r"derivative.{0,60}(of h|tanh\(h)")),
    Bug("rnnb_dWhh_from_h", "rnn_step_backward", "W_hh multiplies the hidden state, that is h",
        "dW_hh from the new state h_t instead of h_{t-1}",
        (("\"W_hh\": cache[\"h_prev\"].T @ da", "\"W_hh\": cache[\"h\"].T @ da"),),
        (r"new state", r"h_t\b", r"instead of h_prev", r"\bh\b.{0,40}instead of.{0,20}h_prev")),
    Bug("lstmb_df_with_c", "lstm_step_backward", "the forget gate multiplies the cell state",
        "forget gate's gradient from the new c instead of c_prev",
        (("da_f = dc_total * cache[\"c_prev\"] * f * (1 - f)", "da_f = dc_total * cache[\"c\"] * f * (1 - f)"),),
        (r"c_prev", r"forget gate", r"\bda_f\b", r"new c\b")),
    Bug("grub_hw_n_without_bias", "gru_step_backward", "the reset multiplies h_prev W_hn",
        "dr from h_prev W_hn without b_hn (the cached hw_n includes the bias)",
        (("hw_n = cache[\"hw\"][:, 2 * H:]", "hw_n = h_prev @ W_hn"),),
        (r"b_hn", r"bias", r"hw_n", r"reset gate", r"\bdr\b")),
    Bug("grub_before_dWhn_from_h_prev", "gru_step_backward", "W_hn is multiplied by the previous state",
        "reset-before dW_hn from h_prev instead of r * h_prev",
        (("        h_n = r * h_prev\n", "        h_n = h_prev\n"),),
        (r"r \* h_prev", r"\brh\b", r"reset.{0,60}(W_hn|weight|grad)", r"W_hn"),
        (("reset_after", False),)),
    Bug("grub_bh_from_da_n", "gru_step_backward", "both biases get the same gradient",
        "db_h's n block from da_n instead of da_n * r (reset after)",
        (("\"b_x\": dxw.sum(axis=0), \"b_h\": dhw.sum(axis=0)}",
          "\"b_x\": dxw.sum(axis=0), \"b_h\": dxw.sum(axis=0)}"),),
        (r"b_h", r"reset factor", r"\br\b.{0,40}(missing|factor)", r"bias")),
    # ---------------------------------------------------------------- bptt
    Bug("fwd_skip_step0", "rnn_forward", "range(1, T) since step 0 is the initial state",
        "time loop starts at t = 1: step 0 is never computed (H[:, 0] stays zero)",
        (("    for t in range(T):\n        h, cache = rnn_step(X[:, t], h, params)",
          "    for t in range(1, T):\n        h, cache = rnn_step(X[:, t], h, params)"),),
        (r"step 0", r"t ?= ?0", r"first step", r"skip", r"off by one", r"range\(1")),
    Bug("fwd_store_before_step", "rnn_forward", "H[:, t] is the state the step t starts from",
        "H[:, t] holds h_{t-1} (stored before the step)",
        (("        h, cache = rnn_step(X[:, t], h, params)\n        H[:, t] = h",
          "        H[:, t] = h\n        h, cache = rnn_step(X[:, t], h, params)"),),
        (r"before (the|its|each) step", r"h_\{t-1\}", r"previous state", r"off by one", r"one step (late|behind)")),
    Bug("bwd_grads_mutable_default", "rnn_backward", "a default dict saves allocating the gradients",
        "gradients accumulated in a mutable default argument: kept between calls",
        (("def rnn_backward(dH, caches):", "def rnn_backward(dH, caches, _grads={}):"),
         ("    grads = {k: np.zeros_like(v) for k, v in caches[0][\"params\"].items()}\n    dh_next",
          "    for k, v in caches[0][\"params\"].items():\n        _grads.setdefault(k, np.zeros_like(v))\n"
          "    grads = _grads\n    dh_next")),
        (r"state", r"between calls", r"earlier call", r"mutable", r"accumulat")),
    Bug("bwd_clip_inside_loop", "rnn_backward", "clip so the gradient cannot explode",
        "dh_next clipped to [-1, 1] inside the BPTT loop (clipping belongs after the backward pass)",
        (("        for k in grads:\n            grads[k] += g[k]\n    return dX, dh_next, grads",
          "        dh_next = np.clip(dh_next, -1.0, 1.0)\n        for k in grads:\n            grads[k] += g[k]\n"
          "    return dX, dh_next, grads"),),
        (r"clip", r"carr", r"dh_next", r"dh_prev")),
    Bug("clip_in_place", "clip_gradients", "scale the gradients where they are, no copy needed",
        "the grads dict's arrays are scaled in place (the input is mutated)",
        (("    return {k: g * scale for k, g in grads.items()}, norm",
          "    for g in grads.values():\n        g *= scale\n    return grads, norm"),),
        (r"in[ -]place", r"modif", r"mutat", r"overwr", r"changed")),
    Bug("norms_after_step", "hidden_grad_norms", "the norm at step t is of the gradient that reaches h_{t-1}",
        "norm recorded after the backward step (of dh_{t-1}, one step early)",
        (("        norms[t] = np.sqrt((dh * dh).sum())\n        _, dh, _ = rnn_step_backward(dh, caches[t])",
          "        _, dh, _ = rnn_step_backward(dh, caches[t])\n        norms[t] = np.sqrt((dh * dh).sum())"),),
        (r"after (the|its|each) (backward )?step", r"one step", r"off by one", r"before")),
    Bug("rho_eigvalsh", "spectral_radius", "eigvalsh is the faster eigenvalue routine",
        "eigvalsh on a non-symmetric W (reads one triangle as a symmetric matrix)",
        (("return float(np.abs(np.linalg.eigvals(W)).max())", "return float(np.abs(np.linalg.eigvalsh(W)).max())"),),
        (r"eigvalsh", r"symmetric", r"triangle")),
    # ---------------------------------------------------------------- architectures
    Bug("o2m_argmax_batch_axis", "one_to_many_forward", "argmax picks the winning entry",
        "one-hot of the max over the batch axis (axis=0) fed back, not over the classes",
        (("    return np.eye(y.shape[1])[np.argmax(y, axis=1)]",
          "    return (y == y.max(axis=0, keepdims=True)).astype(float)"),),
        (r"axis", r"batch", r"feedback", r"fed back")),
    Bug("ed_decoder_encoder_params", "encoder_decoder_forward", "the decoder is the same RNN, run on",
        "decoder steps with the encoder's parameters instead of dec_*",
        (("        state, h = run_step(step, x, state, dp)", "        state, h = run_step(step, x, state, cp)"),),
        (r"encoder'?s (param|weight)", r"dec_", r"decoder.{0,60}(param|weight)")),
    Bug("m2m_readout_before_step", "many_to_many_forward", "y_t is predicted from what we know before x_t",
        "y_t read out from h_{t-1} (before the step), one step late",
        (("        state, h = run_step(step, X[:, t], state, cp)\n        ys.append(readout(h, params))",
          "        ys.append(readout(state[0] if isinstance(state, tuple) else state, params))\n"
          "        state, h = run_step(step, X[:, t], state, cp)"),),
        (r"off by one", r"one step", r"before (the|its|each) step", r"h_\{t-1\}", r"blind to x_t")),
    Bug("m2o_state_reset_each_step", "many_to_one_forward", "start each step fresh so state does not leak",
        "state reset to zeros at every step (only the last input counts)",
        (("    for t in range(X.shape[1]):\n        state, h = run_step(step, X[:, t], state, cp)\n    return readout",
          "    for t in range(X.shape[1]):\n        state = zero_state(step, X.shape[0], cp)\n"
          "        state, h = run_step(step, X[:, t], state, cp)\n    return readout"),),
        (r"zero state", r"not carried", r"reset", r"last input", r"from zeros")),
    # ---------------------------------------------------------------- crnn
    Bug("crnn_skip_last_frame", "crnn_forward", "T - 1 steps between T frames",
        "the recurrence stops one frame early (range(T - 1))",
        (("    for t in range(T):\n        state, h = run_step(step, F[:, t], state, cp)",
          "    for t in range(T - 1):\n        state, h = run_step(step, F[:, t], state, cp)"),),
        (r"last frame", r"frame.{0,40}skip", r"skip.{0,40}frame", r"one frame", r"off by one", r"T ?- ?1")),
    Bug("conv_stride_rows_only", "conv2d_forward", "the stride moves the window down",
        "stride applied to rows only: columns move by 1",
        (("patch = xp[:, :, i * stride:i * stride + KH, j * stride:j * stride + KW]",
          "patch = xp[:, :, i * stride:i * stride + KH, j:j + KW]"),),
        (r"stride", r"column")),
    Bug("pool_max_over_channels", "maxpool_forward", "the max of the window",
        "max taken over the channels too (every channel gets the window's overall max)",
        (("max(axis=(2, 3))", "max(axis=(1, 2, 3))[:, None]"),),
        (r"channel",)),
]
