"""A third catalogue of sequence bugs (bptt, architectures, crnn), written to measure the grammar of slips.

Written after ``autograder/grammar.py`` and its bptt and architecture grammars, and committed before its first
run: about half of these bugs are one slip at a site of those grammars, the other half are not (a carry scaled by
0.5, outputs stored reversed by a forward loop, ``tanh`` applied twice, a trace as the radius, an argmin fed back,
a conv padded on one side only), so the table tells how far naming reaches beyond what the grammar lists. Same
format and runner as ``sequences_independent`` (``failing``, ``may_fail``, ``where``, ``cause``); split by SHA-256
of ``slips:<name>`` into a tune half and a held-out half.

``python -m tests.autograder.bugs.sequences_slips [tune|held-out|all] [-v] [--probes-only|--grammar]``.
"""

from __future__ import annotations

import hashlib
import sys
from contextlib import nullcontext
from dataclasses import dataclass

from tests.autograder.bugs import sequences_independent as independent


@dataclass(frozen=True)
class SlipBug(independent.IndependentSequenceBug):
    @property
    def half(self) -> str:
        return "tune" if hashlib.sha256(f"slips:{self.name}".encode()).digest()[0] % 2 == 0 else "held-out"


def _b(name, function, edits, where, cause, cell=None):
    b = independent._b(name, function, edits, where, cause, cell)
    return SlipBug(b.name, b.assignment, b.function, b.edits, b.failing, b.may_fail, b.where, b.cause)


_FWD_STEP = "h, cache = rnn_step(X[:, t], h, params)"
_BWD_STEP = "dx, dh_next, step_grads = rnn_step_backward(dh, caches[t])"
_SCALE = "scale = min(1.0, max_norm / norm) if norm > 0 else 1.0"
_NORM_T = "norms[t] = np.sqrt((dh * dh).sum())"
_RHO = "return float(np.abs(np.linalg.eigvals(W)).max())"
_READ = 'h @ params["W_hy"] + params["b_y"]'
_GRADS = "grads = step_grads if grads is None else {k: grads[k] + step_grads[k] for k in grads}"
_BWDS = r"dh0|dX|W_hh|W_xh|b_h"

BUGS = [
    # ------------------------------------------------------------------ rnn_forward
    _b("s_fwd_reset_each_step", "rnn_forward", [(_FWD_STEP, "h, cache = rnn_step(X[:, t], np.zeros_like(h), params)")],
       r"\bH\b", r"reset|zero|recurren|carr|h_\{?t-1\}?|previous"),
    _b("s_fwd_stored_reversed", "rnn_forward", [("np.stack(states, axis=1)", "np.stack(states[::-1], axis=1)")],
       r"\bH\b", r"revers|order|backwards"),
    _b("s_fwd_carry_doubled", "rnn_forward", [(_FWD_STEP, "h, cache = rnn_step(X[:, t], 2 * h, params)")],
       r"\bH\b", r"h_\{?t-1\}?|recurren|carr|previous"),
    _b("s_fwd_reads_x0", "rnn_forward", [(_FWD_STEP, "h, cache = rnn_step(X[:, 0], h, params)")],
       r"\bH\b", r"input|x_0|X\[:, 0\]|wrong step"),
    _b("s_fwd_stores_tanh_h", "rnn_forward", [("states.append(h)", "states.append(np.tanh(h))")],
       r"\bH\b", r"tanh|activation|stor"),
    _b("s_fwd_h0_first", "rnn_forward", [("np.stack(states, axis=1)", "np.stack([h0] + states[:-1], axis=1)")],
       r"\bH\b", r"before|off by one|one step|h_\{?t-1\}?|shift|late"),
    # ------------------------------------------------------------------ rnn_backward
    _b("s_bwd_half_carry", "rnn_backward", [("dh = dH[:, t] + dh_next", "dh = dH[:, t] + 0.5 * dh_next")],
       _BWDS, r"dh_next|carr|t ?\+ ?1|later step|from step"),
    _b("s_bwd_grads_overwritten", "rnn_backward", [(_GRADS, "grads = step_grads")],
       r"W_hh|W_xh|b_h", r"overwrit|accumul|sum|only|last"),
    _b("s_bwd_dX_reversed", "rnn_backward", [("np.stack(dxs, axis=1)", "np.stack(dxs[::-1], axis=1)")],
       r"dX", r"revers|order|stored"),
    _b("s_bwd_dh0_plus_dH0", "rnn_backward", [("return dX, dh_next, grads", "return dX, dH[:, 0] + dh_next, grads")],
       r"dh0", r"dh0|initial"),
    _b("s_bwd_last_dH_everywhere", "rnn_backward", [("dh = dH[:, t] + dh_next", "dh = dH[:, -1] + dh_next")],
       _BWDS, r"dH|upstream|loss gradient|wrong step"),
    _b("s_bwd_caches_reversed", "rnn_backward", [(_BWD_STEP, "dx, dh_next, step_grads = rnn_step_backward(dh, "
                                                 "caches[T - 1 - t])")],
       _BWDS, r"cache|order|revers"),
    _b("s_bwd_skips_last_step", "rnn_backward", [("for t in reversed(range(T)):", "for t in reversed(range(T - 1)):")],
       _BWDS, r"last step|skip|T-1|T - 1|range"),
    # ------------------------------------------------------------------ clip_gradients
    _b("s_clip_scale_squared_norm", "clip_gradients",
       [(_SCALE, "scale = min(1.0, max_norm / norm ** 2) if norm > 0 else 1.0")], r"clipped", r"squar|norm"),
    _b("s_clip_each_tensor", "clip_gradients",
       [("return {k: g * scale for k, g in grads.items()}, norm",
         "return {k: g * min(1.0, max_norm / np.sqrt((g * g).sum())) for k, g in grads.items()}, norm")],
       r"clipped", r"per.tensor|each|own norm|global"),
    _b("s_clip_always_scaled", "clip_gradients", [(_SCALE, "scale = max_norm / norm if norm > 0 else 1.0")],
       r"clipped", r"min|always|below|without need|even when"),
    _b("s_clip_returns_clipped_norm", "clip_gradients",
       [("return {k: g * scale for k, g in grads.items()}, norm",
         "return {k: g * scale for k, g in grads.items()}, min(norm, max_norm)")], r"norm", r"after|clipped|norm"),
    # ------------------------------------------------------------------ hidden_grad_norms
    _b("s_norms_mean_of_examples", "hidden_grad_norms",
       [(_NORM_T, "norms[t] = np.sqrt((dh * dh).sum(axis=1)).mean()")], r"norms", r"mean|example|batch|average"),
    _b("s_norms_after_step", "hidden_grad_norms",
       [(f"{_NORM_T}\n        _, dh, _ = rnn_step_backward(dh, caches[t])",
         f"_, dh, _ = rnn_step_backward(dh, caches[t])\n        {_NORM_T}")], r"norms", r"late|after|one step|shift"),
    _b("s_norms_per_unit_summed", "hidden_grad_norms",
       [(_NORM_T, "norms[t] = np.linalg.norm(dh, axis=0).sum()")], r"norms", r"norm|sum|axis|unit"),
    # ------------------------------------------------------------------ spectral_radius
    _b("s_radius_largest_real", "spectral_radius", [(_RHO, "return float(np.linalg.eigvals(W).real.max())")],
       r"radius", r"modulus|abs|real"),
    _b("s_radius_trace", "spectral_radius", [(_RHO, "return float(abs(np.trace(W)))")],
       r"radius", r"trace|eigen"),
    _b("s_radius_two_norm", "spectral_radius", [(_RHO, "return float(np.linalg.norm(W, 2))")],
       r"radius", r"singular|svd|spectral norm|2-norm|operator"),
    # ------------------------------------------------------------------ architectures
    _b("s_o2o_zero_input", "one_to_one",
       [("run_step(step, x, zero_state(cp, x.shape[0]), cp)", "run_step(step, np.zeros_like(x), zero_state(cp, "
         "x.shape[0]), cp)")], r"\bY\b|\by\b", r"input|\bx\b"),
    _b("s_m2o_reads_c", "many_to_one",
       [(f"return {_READ}, None", 'return (state[1] if isinstance(state, tuple) else h) @ params["W_hy"] + '
         'params["b_y"], None')], r"\bY\b|\by\b", r"cell state|\bc\b"),
    _b("s_m2o_sum_of_states", "many_to_one",
       [("state, h = run_step(step, X[:, t], state, cp)\n    return",
         "state, h = run_step(step, X[:, t], state, cp)\n        acc = h if t == 0 else acc + h\n    return"),
        (f"return {_READ}, None", 'return acc @ params["W_hy"] + params["b_y"], None')],
       r"\bY\b|\by\b", r"sum|states|last"),
    _b("s_m2m_readout_before_step", "many_to_many",
       [("state, h = run_step(step, X[:, t], state, cp)\n        ys.append(h @ params[\"W_hy\"] + params[\"b_y\"])",
         "ys.append((state[0] if isinstance(state, tuple) else state) @ params[\"W_hy\"] + params[\"b_y\"])\n"
         "        state, h = run_step(step, X[:, t], state, cp)")],
       r"\bY\b", r"before|off by one|one step|late|shift"),
    _b("s_m2m_relu_readout", "many_to_many",
       [(f"ys.append({_READ})", f"ys.append(np.maximum({_READ}, 0))")], r"\bY\b", r"relu|ReLU|activation|readout"),
    _b("s_m2m_next_input", "many_to_many",
       [("run_step(step, X[:, t], state, cp)\n        ys", "run_step(step, X[:, min(t + 1, X.shape[1] - 1)], state, "
         "cp)\n        ys")], r"\bY\b", r"off by one|wrong input|x_\{?t ?\+ ?1|early|late|shift|step"),
    _b("s_o2m_argmin_fed", "one_to_many", [("inp = one_hot_argmax(y)", "inp = one_hot_argmax(-y)")],
       r"\bY\b", r"feed|fed|argmax|one_hot"),
    _b("s_o2m_first_output_dropped", "one_to_many",
       [("for _ in range(T):", "for _ in range(T + 1):"),
        ("return np.stack(ys, axis=1), None", "return np.stack(ys[1:], axis=1), None")],
       r"\bY\b", r"first (output|step)|shift|off by one|one step|number of steps"),
    _b("s_o2m_state_reset", "one_to_many",
       [("state, h = run_step(step, inp, state, cp)", "state, h = run_step(step, inp, zero_state(cp, x.shape[0]), "
         "cp)")], r"\bY\b", r"reset|zero|carr|state"),
    _b("s_ed_zero_feedback", "encoder_decoder", [("inp = one_hot_argmax(y)", "inp = np.zeros((B, K))")],
       r"\bY\b", r"feed|fed|zeros"),
    _b("s_ed_h_only_handover", "encoder_decoder",
       [("inp, ys = np.zeros((B, K)), []", "state = (state[0], np.zeros_like(state[1])) if isinstance(state, tuple) "
         "else state\n    inp, ys = np.zeros((B, K)), []")], r"\bY\b", r"cell state|\bc\b|only h|handed|pass"),
    _b("s_ed_encoder_skips_last", "encoder_decoder",
       [("for t in range(X.shape[1]):", "for t in range(X.shape[1] - 1):")], r"\bY\b", r"last|skip|x_\{?T-1"),
    _b("s_ed_outputs_reversed", "encoder_decoder",
       [("return np.stack(ys, axis=1), None", "return np.stack(ys[::-1], axis=1), None")],
       r"\bY\b", r"revers|order"),
    # ------------------------------------------------------------------ crnn
    _b("s_crnn_first_state", "crnn_forward",
       [("state, h = run_step(step, F[:, t], state, cp)",
         "state, h = run_step(step, F[:, t], state, cp)\n        first = h if t == 0 else first"),
        (f"return {_READ}, None", 'return first @ params["W_hy"] + params["b_y"], None')],
       r"\by\b", r"first|state read|last"),
    _b("s_crnn_frames_reversed", "crnn_forward",
       [("run_step(step, F[:, t], state, cp)", "run_step(step, F[:, T - 1 - t], state, cp)")],
       r"\by\b", r"revers|order"),
    _b("s_crnn_tanh_readout", "crnn_forward", [(f"return {_READ}, None", f"return np.tanh({_READ}), None")],
       r"\by\b", r"tanh|activation|readout"),
    _b("s_crnn_time_major_features", "crnn_forward",
       [("F = F.reshape(B, T, -1)", "F = F.reshape(T, B, -1).transpose(1, 0, 2)")],
       r"\by\b", r"batch and time|mixed|reshape|order"),
    _b("s_conv_stride_ignored_in_window", "conv2d_forward",
       [("xp[:, :, i * stride : i * stride + KH, j * stride : j * stride + KW]", "xp[:, :, i : i + KH, j : j + KW]")],
       r"out", r"stride|window"),
    _b("s_conv_pad_one_side", "conv2d_forward",
       [("(padding, padding), (padding, padding)", "(0, 2 * padding), (0, 2 * padding)")], r"out", r"pad"),
    _b("s_conv_kernel_flipped", "conv2d_forward",
       [("np.tensordot(patch, K,", "np.tensordot(patch, K[:, :, ::-1, ::-1],")], r"out", r"flip|convolution|kernel"),
    _b("s_pool_mean", "maxpool_forward", [(".max(axis=(2, 3))", ".mean(axis=(2, 3))")], r"out", r"mean|average|max"),
    _b("s_pool_default_stride_one", "maxpool_forward",
       [("stride = size if stride is None else stride", "stride = 1 if stride is None else stride")],
       r"out|shape", r"stride|default"),
    _b("s_ff_no_dense_relu", "frame_features", [("return np.maximum(f, 0), None", "return f, None")],
       r"\bf\b|features", r"ReLU|relu|activation"),
    _b("s_ff_channels_last_flatten", "frame_features",
       [("p.reshape(len(p), -1) @", "p.transpose(0, 2, 3, 1).reshape(len(p), -1) @")],
       r"\bf\b|features", r"flatten|order|channel"),
]


def main(argv: list[str]) -> None:
    from autograder import cases
    from tests.autograder.bugs.sequences import probes_only

    half = next((a for a in argv if a in ("tune", "held-out", "all")), "tune")
    mode = (probes_only() if "--probes-only" in argv else probes_only(grammar=True) if "--grammar" in argv
            else nullcontext())
    with cases.hidden_secret(b"measuring the slips catalogue"), mode:
        table = independent.measure([b for b in BUGS if half in ("all", b.half)], verbose="-v" in argv)
    print(f"{'assignment':14} {'half':9} bugs caught exact located named false")
    for a, row in table.items():
        print(f"{a:14} {half:9} {row['bugs']:4} {row['caught']:6} {row['exact']:5} {row['located']:7} "
              f"{row['named']:5} {row['false']:5}")


if __name__ == "__main__":
    main(sys.argv[1:])
