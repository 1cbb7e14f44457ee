"""The fifth blind catalogue: student bugs as text edits of ``solution.py``, with what a grader should call them.

Written before any of them was graded, from the exercises' equations and a list of the earlier catalogues' bug
names only (none of these is among them). Each :class:`Bug` replaces, in the source of ``solution.py``, each
``old`` (which must occur exactly once) with ``new``; ``function`` is the one whose check grades it. ``patterns``
(case-insensitive regular expressions) count as *named* when one occurs in the failure's cause. ``half`` is a fixed
rank of the key's hash (:func:`half`), fixed before any result was seen: the diagnosis may be tuned on "tune" only.
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
    """``"tune"`` or ``"held-out"``: the keys ranked by BLAKE2b, the lower half tuned on (fixed, not chosen)."""
    ranked = sorted((b.key for b in BUGS), key=lambda k: hashlib.blake2b(k.encode(), digest_size=8).digest())
    return "tune" if ranked.index(key) < len(ranked) // 2 else "held-out"


BUGS: list[Bug] = [
    # ---------------------------------------------------------------- cells
    Bug("lstm_blocks_igfo", "lstm_step", "TensorFlow's BasicLSTMCell splits the blocks as i, j, f, o",
        "gate blocks read as i, g, f, o (g and f exchanged)",
        (("i, f = sigmoid(a[:, :H]), sigmoid(a[:, H:2 * H])",
          "i, f = sigmoid(a[:, :H]), sigmoid(a[:, 2 * H:3 * H])"),
         ("g, o = np.tanh(a[:, 2 * H:3 * H]), sigmoid(a[:, 3 * H:])",
          "g, o = np.tanh(a[:, H:2 * H]), sigmoid(a[:, 3 * H:])")),
        (r"block", r"order", r"columns", r"exchang", r"swap")),
    Bug("gru_r_no_recurrent", "gru_step", "the reset gate decides from the input what to forget",
        "reset gate without its recurrent term h_prev W_hr + b_hr",
        (("r = sigmoid(xw[:, H:2 * H] + hw[:, H:2 * H])", "r = sigmoid(xw[:, H:2 * H])"),),
        (r"\br\b.{0,80}(recurren|h_prev)", r"reset gate.{0,80}(recurren|h_prev|term)")),
    Bug("gru_cache_n_pre_activation", "gru_step", "the cache keeps the candidate before its tanh, for the backward",
        "cache's n holds the candidate's pre-activation",
        (('"n": n, "hw"', '"n": np.arctanh(np.clip(n, -0.999999, 0.999999)), "hw"'),),
        (r"cache.{0,80}\bn\b", r"\bn\b.{0,80}cache", r"pre-?activation"), (("cache", True),)),
    Bug("rnnb_grads_without_tanh_prime", "rnn_step_backward", "the weights' gradient is the input times dh",
        "parameter gradients from dh instead of da = dh * (1 - h^2)",
        (('grads = {"W_xh": cache["x"].T @ da, "W_hh": cache["h_prev"].T @ da, "b_h": da.sum(axis=0)}',
          'grads = {"W_xh": cache["x"].T @ dh, "W_hh": cache["h_prev"].T @ dh, "b_h": dh.sum(axis=0)}'),),
        (r"grad.{0,100}(\bdh\b|tanh'|derivative|1 - h)", r"(\bdh\b|tanh'|derivative).{0,100}grad")),
    Bug("lstmb_do_no_sigmoid_prime", "lstm_step_backward", "o multiplies tanh(c), so da_o is dh * tanh(c)",
        "output gate's gradient without the sigmoid derivative o (1 - o)",
        (("da_o = dh * tanh_c * o * (1 - o)", "da_o = dh * tanh_c"),),
        (r"\bo\b.{0,80}(sigmoid|deriv)", r"output gate", r"da_o", r"sigmoid'")),
    # ---------------------------------------------------------------- bptt
    Bug("fwd_float32_states", "rnn_forward", "float32 is what GPUs use", "H stored as float32 (truncated)",
        (("H = np.zeros((B, T, h0.shape[1]))", "H = np.zeros((B, T, h0.shape[1]), dtype=np.float32)"),),
        (r"float32", r"dtype", r"precision")),
    Bug("fwd_h0_written_in_place", "rnn_forward", "h starts as h0 and I update it each step",
        "h0 overwritten in place (h = h0, then h[:] = ...)",
        (("h, caches = h0, []", "h, caches = h0, []\n    h_buf = h0"),
         ("        h, cache = rnn_step(X[:, t], h, params)\n        H[:, t] = h",
          "        h_new, cache = rnn_step(X[:, t], h, params)\n        h_buf[:] = h_new\n        h = h_buf\n"
          "        H[:, t] = h")),
        (r"in[ -]place", r"modif", r"mutat", r"overwr", r"changed.{0,20}input")),
    Bug("fwd_H_like_X", "rnn_forward", "H has one row per input step, like X", "H allocated with X's shape (D, not H)",
        (("H = np.zeros((B, T, h0.shape[1]))", "H = np.zeros_like(X)"),),
        (r"shape", r"\bD\b.{0,40}\bH\b", r"zeros_like", r"size")),
    Bug("fwd_input_shifted", "rnn_forward", "step t reads the input before it", "step t reads x_{t-1} (wraps around)",
        (("h, cache = rnn_step(X[:, t], h, params)", "h, cache = rnn_step(X[:, t - 1], h, params)"),),
        (r"shift", r"off by one", r"previous input", r"x_\{t-1\}", r"t - 1", r"roll")),
    Bug("bwd_dH_last_only", "rnn_backward", "the loss is at the end, only the last step gets dH",
        "only dH[:, T-1] enters; the upstream gradients of earlier steps are dropped",
        (("rnn_step_backward(dH[:, t] + dh_next, caches[t])",
          "rnn_step_backward((dH[:, t] if t == T - 1 else 0) + dh_next, caches[t])"),),
        (r"dH.{0,80}(last|only|every step|earlier)", r"upstream", r"loss at every step")),
    Bug("clip_skips_biases", "clip_gradients", "clipping is for the weight matrices",
        "only the W gradients are scaled; the bias gradient is returned unclipped",
        (("return {k: g * scale for k, g in grads.items()}, norm",
          "return {k: (g * scale if k.startswith('W') else g) for k, g in grads.items()}, norm"),),
        (r"bias", r"b_h", r"not (all|every)", r"only.{0,30}W")),
    Bug("clip_square_of_sum", "clip_gradients", "the norm is the square root of the squared sum",
        "norm from (sum g)^2 instead of sum g^2",
        (("norm = float(np.sqrt(sum((g * g).sum() for g in grads.values())))",
          "norm = float(np.sqrt(sum(g.sum() ** 2 for g in grads.values())))"),),
        (r"square of (the|its|each) sum", r"sum\(g\)", r"\(sum g\)", r"sum of (the )?entries", r"squared sum")),
    Bug("norms_max_abs", "hidden_grad_norms", "the size of a gradient is its largest entry",
        "max |entry| per step instead of the Frobenius norm",
        (("norms[t] = np.sqrt((dh * dh).sum())", "norms[t] = np.abs(dh).max()"),),
        (r"\bmax", r"largest", r"infinity", r"frobenius")),
    Bug("rho_det_root", "spectral_radius", "the typical eigenvalue size is |det W|^(1/n)",
        "|det W|^(1/n) (the geometric mean of |lambda|) instead of the largest |lambda|",
        (("return float(np.abs(np.linalg.eigvals(W)).max())",
          "return float(np.abs(np.linalg.det(W)) ** (1.0 / W.shape[0]))"),),
        (r"\bdet", r"geometric", r"product")),
    # ---------------------------------------------------------------- architectures
    Bug("m2o_last_input_only", "many_to_one_forward", "only the last input matters for the last output",
        "one step on the last input only, from zeros",
        (("    for t in range(X.shape[1]):\n        state, h = run_step(step, X[:, t], state, cp)\n    return readout",
          "    state, h = run_step(step, X[:, -1], state, cp)\n    return readout"),),
        (r"last input", r"only the last", r"one step", r"single step", r"X\[:, -1\]")),
    Bug("m2m_reshape_not_transpose", "many_to_many_forward", "reshape puts the time axis second",
        "outputs stacked (T, B, K) and reshaped, not transposed, to (B, T, K)",
        (("        ys.append(readout(h, params))\n    return np.stack(ys, axis=1), None",
          "        ys.append(readout(h, params))\n    return np.stack(ys).reshape(X.shape[0], X.shape[1], -1), None"),),
        (r"reshape", r"transpos", r"time[- ]major", r"\baxes\b", r"order")),
    Bug("o2m_feedback_from_h", "one_to_many_forward", "the next input is the most active unit",
        "one_hot(argmax h_{t-1}) of the state fed back instead of argmax y_{t-1}",
        (("        ys.append(y)\n        x = one_hot_argmax(y)\n    return np.stack(ys, axis=1), None\n\n\ndef encoder",
          "        ys.append(y)\n        x = np.eye(y.shape[1])[np.argmax(h, axis=1) % y.shape[1]]\n"
          "    return np.stack(ys, axis=1), None\n\n\ndef encoder"),),
        (r"\bh\b.{0,60}instead of.{0,30}\by", r"argmax.{0,60}(state|\bh\b)", r"hidden state.{0,40}fed")),
    Bug("ed_encoder_reversed", "encoder_decoder_forward", "encoders read the sentence backwards (Sutskever)",
        "encoder reads X from last to first",
        (("        state, _ = run_step(step, X[:, t], state, cp)",
          "        state, _ = run_step(step, X[:, -1 - t], state, cp)"),),
        (r"revers", r"last to first", r"backward in time")),
    Bug("ed_state_after_first_step", "encoder_decoder_forward", "the decoder starts from the encoder's state",
        "decoder starts from the encoder's state after step 0, not the final one",
        (("    for t in range(X.shape[1]):\n        state, _ = run_step(step, X[:, t], state, cp)\n    x, ys",
          "    state, _ = run_step(step, X[:, 0], state, cp)\n    x, ys"),),
        (r"first (encoder )?(state|step)", r"after (the )?first step", r"step 0", r"only.{0,30}first")),
    # ---------------------------------------------------------------- crnn
    Bug("crnn_relu_readout", "crnn_forward", "a ReLU after every layer", "ReLU on the readout y",
        (("        state, h = run_step(step, F[:, t], state, cp)\n    return readout(h, params), None\n",
          "        state, h = run_step(step, F[:, t], state, cp)\n"
          "    return np.maximum(readout(h, params), 0.0), None\n"),),
        (r"relu", r"clamp", r"negative", r"max\(0")),
    Bug("conv_edge_padding", "conv2d_forward", "padding repeats the border so the edges are not dark",
        "padding with the edge values instead of zeros",
        (("(padding, padding), (padding, padding)))", "(padding, padding), (padding, padding)), mode=\"edge\")"),),
        (r"pad.{0,60}(zero|edge|replicat|border)", r"zero[- ]padding")),
    Bug("pool_rows_columns_exchanged", "maxpool_forward", "i is the column index",
        "window rows and columns exchanged (the output transposed)",
        (("out[:, :, i, j] = x[:, :, i * stride:i * stride + size, j * stride:j * stride + size].max(axis=(2, 3))",
          "out[:, :, i, j] = x[:, :, j * stride:j * stride + size, i * stride:i * stride + size].max(axis=(2, 3))"),),
        (r"transpos", r"rows? and columns?", r"swap", r"exchang")),
]
