"""Realistic student bugs in the bptt, architectures and crnn solutions, for measuring the feedback's diagnosis.

Each bug edits the solution cells of the source notebook (``(grade_id, old text, new text)``, ``old`` must
occur exactly once in that cell), names the function whose check must catch it and the bug classes a message
may name for it. ``half(bug)`` splits the catalogue by a fixed hash of the bug's name into a half the
diagnosis was tuned on (``"tune"``) and a held-out half (``"held-out"``) that was not looked at while tuning.
``python -m tests.autograder.bugs.sequences [tune|held-out|all|fresh] [--probes-only]`` prints caught / located /
named per assignment and half (see ``outcome``); ``--probes-only`` empties every suspect list first.
Written as student edits, independently of the suspects in ``autograder``: a class here need not be one the
grader knows.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import nbformat

from autograder import (
    architecture_checks,
    architecture_grammar,
    bptt_checks,
    bptt_grammar,
    cases,
    checks,
    crnn_checks,
    crnn_grammar,
)


@dataclass(frozen=True)
class SequenceBug:
    name: str
    assignment: str
    function: str
    edits: tuple[tuple[str, str, str], ...]
    classes: frozenset[str]


def half(bug: SequenceBug) -> str:
    """``"tune"`` or ``"held-out"``, from the first byte of SHA-256 of the bug's name."""
    return "tune" if hashlib.sha256(bug.name.encode()).digest()[0] % 2 == 0 else "held-out"


def _bug(name, assignment, function, edits, *classes):
    return SequenceBug(name, assignment, function, tuple(edits), frozenset(classes))


_W = 'params["W_hy"] + params["b_y"]'
BUGS = [
    # ------------------------------------------------------------------ bptt: rnn_forward
    _bug("forward_time_major", "bptt", "rnn_forward",
         [("rnn_forward", "np.stack(states, axis=1)", "np.stack(states, axis=0)")], "time-major output"),
    _bug("forward_skips_step_0", "bptt", "rnn_forward",
         [("rnn_forward", "for t in range(X.shape[1]):", "for t in range(1, X.shape[1]):")], "step 0 skipped"),
    _bug("forward_h0_ignored", "bptt", "rnn_forward",
         [("rnn_forward", "h = h0", "h = np.zeros_like(h0)")], "initial state ignored"),
    _bug("forward_reversed", "bptt", "rnn_forward",
         [("rnn_forward", "for t in range(X.shape[1]):", "for t in reversed(range(X.shape[1])):")], "time reversed"),
    _bug("forward_every_step_from_h0", "bptt", "rnn_forward",
         [("rnn_forward", "rnn_step(X[:, t], h, params)", "rnn_step(X[:, t], h0, params)")], "recurrence dropped"),
    _bug("forward_reads_last_input", "bptt", "rnn_forward",
         [("rnn_forward", "rnn_step(X[:, t], h, params)", "rnn_step(X[:, -1], h, params)")], "wrong input step"),
    # ------------------------------------------------------------------ bptt: rnn_backward
    _bug("backward_walks_forward", "bptt", "rnn_backward",
         [("rnn_backward", "for t in reversed(range(T)):", "for t in range(T):")], "BPTT walked forward in time"),
    _bug("backward_skips_step_0", "bptt", "rnn_backward",
         [("rnn_backward", "dxs = [None] * T", "dxs = [np.zeros_like(c['x']) for c in caches]"),
          ("rnn_backward", "for t in reversed(range(T)):", "for t in range(T - 1, 0, -1):")], "step 0 skipped"),
    _bug("backward_dh0_late", "bptt", "rnn_backward",
         [("rnn_backward", "return dX, dh_next, grads", "return dX, dh, grads")],
         "initial-state gradient one step late", "wrong initial-state gradient"),
    _bug("backward_no_carry", "bptt", "rnn_backward",
         [("rnn_backward", "dh = dH[:, t] + dh_next", "dh = dH[:, t]")],
         "missing accumulation of dh from the next step"),
    _bug("backward_grads_overwritten", "bptt", "rnn_backward",
         [("rnn_backward", "grads = step_grads if grads is None else {k: grads[k] + step_grads[k] for k in grads}",
           "grads = step_grads")], "gradients overwritten", "parameter gradients not summed over time"),
    _bug("backward_grads_averaged", "bptt", "rnn_backward",
         [("rnn_backward", "    dX = np.stack(dxs, axis=1)",
           "    grads = {k: v / T for k, v in grads.items()}\n    dX = np.stack(dxs, axis=1)")],
         "gradients averaged over time", "parameter gradients not summed over time"),
    _bug("backward_caches_reversed", "bptt", "rnn_backward",
         [("rnn_backward", "rnn_step_backward(dh, caches[t])", "rnn_step_backward(dh, caches[T - 1 - t])")],
         "step caches in the wrong order"),
    _bug("backward_last_step_twice", "bptt", "rnn_backward",
         [("rnn_backward", "dh_next = np.zeros_like(dH[:, 0])", "dh_next = dH[:, -1].copy()")],
         "last step counted twice"),
    _bug("backward_time_major", "bptt", "rnn_backward",
         [("rnn_backward", "np.stack(dxs, axis=1)", "np.stack(dxs, axis=0)")], "time-major output"),
    _bug("backward_carry_skips_jacobian", "bptt", "rnn_backward",
         [("rnn_backward", "dx, dh_next, step_grads = rnn_step_backward(dh, caches[t])",
           "dx, _, step_grads = rnn_step_backward(dh, caches[t])\n        dh_next = dh")],
         "Jacobian skipped in the carry", "wrong gradient carried back"),
    # ------------------------------------------------------------------ bptt: clipping, norms, radius
    _bug("clip_squared_norm", "bptt", "clip_gradients",
         [("clip_gradients", "norm = float(np.sqrt(sum((g * g).sum() for g in grads.values())))",
           "norm = float(sum((g * g).sum() for g in grads.values()))")], "clipping by the squared norm"),
    _bug("clip_max_for_min", "bptt", "clip_gradients",
         [("clip_gradients", "min(1.0, max_norm / norm)", "max(1.0, max_norm / norm)")], "min/max confused"),
    _bug("clip_by_value", "bptt", "clip_gradients",
         [("clip_gradients", "return {k: g * scale for k, g in grads.items()}, norm",
           "return {k: np.clip(g, -max_norm, max_norm) for k, g in grads.items()}, norm")], "clipped by value"),
    _bug("clip_sum_of_norms", "bptt", "clip_gradients",
         [("clip_gradients", "norm = float(np.sqrt(sum((g * g).sum() for g in grads.values())))",
           "norm = float(sum(np.sqrt((g * g).sum()) for g in grads.values()))")], "norm summed over tensors"),
    _bug("clip_always", "bptt", "clip_gradients",
         [("clip_gradients", "scale = min(1.0, max_norm / norm) if norm > 0 else 1.0", "scale = max_norm / norm")],
         "always rescaled", "rescaled without need"),
    _bug("radius_eigvalsh", "bptt", "spectral_radius",
         [("spectral_radius", "np.linalg.eigvals(W)", "np.linalg.eigvalsh(W)")],
         "symmetric eigenvalues of a non-symmetric matrix"),
    _bug("radius_smallest", "bptt", "spectral_radius",
         [("spectral_radius", "np.abs(np.linalg.eigvals(W)).max()", "np.abs(np.linalg.eigvals(W)).min()")],
         "smallest modulus"),
    _bug("radius_real_part", "bptt", "spectral_radius",
         [("spectral_radius", "np.abs(np.linalg.eigvals(W)).max()", "np.linalg.eigvals(W).real.max()")],
         "real part", "modulus missing"),
    _bug("radius_singular_value", "bptt", "spectral_radius",
         [("spectral_radius", "np.abs(np.linalg.eigvals(W)).max()", "np.linalg.svd(W, compute_uv=False)[0]")],
         "spectral norm"),
    _bug("norms_squared", "bptt", "hidden_grad_norms",
         [("hidden_grad_norms", "norms[t] = np.sqrt((dh * dh).sum())", "norms[t] = (dh * dh).sum()")],
         "squared norm"),
    _bug("norms_mean", "bptt", "hidden_grad_norms",
         [("hidden_grad_norms", "norms[t] = np.sqrt((dh * dh).sum())", "norms[t] = np.sqrt((dh * dh).mean())")],
         "mean instead of sum in the norm"),
    _bug("norms_after_the_step", "bptt", "hidden_grad_norms",
         [("hidden_grad_norms", "norms[t] = np.sqrt((dh * dh).sum())\n        _, dh, _ = rnn_step_backward(dh, "
           "caches[t])", "_, dh, _ = rnn_step_backward(dh, caches[t])\n        norms[t] = np.sqrt((dh * dh).sum())")],
         "off by one step"),
    _bug("norms_loss_every_step", "bptt", "hidden_grad_norms",
         [("hidden_grad_norms", "_, dh, _ = rnn_step_backward(dh, caches[t])",
           "_, dh, _ = rnn_step_backward(dh, caches[t])\n        dh = dh + dh_last")], "loss on every step"),
    # ------------------------------------------------------------------ architectures
    _bug("one_to_one_tanh_readout", "architectures", "one_to_one",
         [("one_to_one_forward", f"return h @ {_W}, None", f"return np.tanh(h @ {_W}), None")],
         "activation on the readout"),
    _bug("many_to_one_cell_state", "architectures", "many_to_one",
         [("many_to_one_forward", f"return h @ {_W}, None",
           f"out = state[1] if isinstance(state, tuple) else h\n    return out @ {_W}, None")], "cell state read"),
    _bug("many_to_one_state_reset", "architectures", "many_to_one",
         [("many_to_one_forward", "run_step(step, X[:, t], state, cp)",
           "run_step(step, X[:, t], zero_state(cp, X.shape[0]), cp)")],
         "state reset at every step", "state not carried between steps"),
    _bug("many_to_one_softmax", "architectures", "many_to_one",
         [("many_to_one_forward", f"return h @ {_W}, None",
           f"y = h @ {_W}\n    y = np.exp(y - y.max(axis=1, keepdims=True))\n"
           "    return y / y.sum(axis=1, keepdims=True), None")], "activation on the readout"),
    _bug("many_to_many_time_major", "architectures", "many_to_many",
         [("many_to_many_forward", "np.stack(ys, axis=1)", "np.stack(ys, axis=0)")], "time-major output"),
    _bug("many_to_many_reversed", "architectures", "many_to_many",
         [("many_to_many_forward", "for t in range(X.shape[1]):", "for t in reversed(range(X.shape[1])):")],
         "time reversed"),
    _bug("many_to_many_output_before_step", "architectures", "many_to_many",
         [("many_to_many_forward", f"state, h = run_step(step, X[:, t], state, cp)\n        ys.append(h @ {_W})",
           f"ys.append((state[0] if isinstance(state, tuple) else state) @ {_W})\n"
           "        state, h = run_step(step, X[:, t], state, cp)")], "off by one step"),
    _bug("many_to_many_cell_state", "architectures", "many_to_many",
         [("many_to_many_forward", f"ys.append(h @ {_W})",
           f"ys.append((state[1] if isinstance(state, tuple) else h) @ {_W})")], "cell state read"),
    _bug("one_to_many_state_reset", "architectures", "one_to_many",
         [("one_to_many_forward", "run_step(step, inp, state, cp)",
           "run_step(step, inp, zero_state(cp, x.shape[0]), cp)")],
         "state reset at every step", "state not carried between steps"),
    _bug("one_to_many_time_major", "architectures", "one_to_many",
         [("one_to_many_forward", "np.stack(ys, axis=1)", "np.stack(ys, axis=0)")], "time-major output"),
    _bug("one_to_many_softmax_feedback", "architectures", "one_to_many",
         [("one_to_many_forward", "inp = one_hot_argmax(y)",
           "inp = np.exp(y) / np.exp(y).sum(axis=1, keepdims=True)")], "wrong feedback"),
    _bug("encoder_decoder_only_h", "architectures", "encoder_decoder",
         [("encoder_decoder_forward", "inp, ys = np.zeros((B, K)), []",
           "inp, ys = np.zeros((B, K)), []\n    if isinstance(state, tuple):\n"
           "        state = (state[0], np.zeros_like(state[1]))")], "only h passed to the decoder"),
    _bug("encoder_decoder_cell_state", "architectures", "encoder_decoder",
         [("encoder_decoder_forward", f"y = h @ {_W}",
           f"y = (state[1] if isinstance(state, tuple) else h) @ {_W}")], "cell state read"),
    _bug("encoder_decoder_no_feedback", "architectures", "encoder_decoder",
         [("encoder_decoder_forward", "inp = one_hot_argmax(y)", "inp = np.zeros_like(y)")],
         "feedback missing", "wrong feedback"),
    _bug("encoder_decoder_time_major", "architectures", "encoder_decoder",
         [("encoder_decoder_forward", "np.stack(ys, axis=1)", "np.stack(ys, axis=0)")], "time-major output"),
    # ------------------------------------------------------------------ crnn
    _bug("conv_kernel_flipped", "crnn", "conv2d_forward",
         [("conv2d_forward", "np.tensordot(patch, K,", "np.tensordot(patch, K[:, :, ::-1, ::-1],")],
         "kernel flipped"),
    _bug("conv_padding_ignored", "crnn", "conv2d_forward",
         [("conv2d_forward", "OH = (H + 2 * padding - KH)", "OH = (H - KH)"),
          ("conv2d_forward", "OW = (W + 2 * padding - KW)", "OW = (W - KW)"),
          ("conv2d_forward", "xp = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))", "xp = x")],
         "padding ignored"),
    _bug("conv_kernel_transposed", "crnn", "conv2d_forward",
         [("conv2d_forward", "np.tensordot(patch, K,", "np.tensordot(patch, K.transpose(0, 1, 3, 2),")],
         "kernel transposed"),
    _bug("conv_windows_unstrided", "crnn", "conv2d_forward",
         [("conv2d_forward", "xp[:, :, i * stride : i * stride + KH, j * stride : j * stride + KW]",
           "xp[:, :, i : i + KH, j : j + KW]")], "wrong stride", "windows misplaced"),
    _bug("conv_bias_dropped", "crnn", "conv2d_forward",
         [("conv2d_forward", "axes=([1, 2, 3], [1, 2, 3])) + b", "axes=([1, 2, 3], [1, 2, 3]))")], "bias dropped",
         "bias term wrong"),
    _bug("pool_average", "crnn", "maxpool_forward",
         [("maxpool_forward", ".max(axis=(2, 3))", ".mean(axis=(2, 3))")], "average instead of max",
         "not the maximum"),
    _bug("pool_minimum", "crnn", "maxpool_forward",
         [("maxpool_forward", ".max(axis=(2, 3))", ".min(axis=(2, 3))")], "minimum instead of max",
         "not the maximum"),
    _bug("pool_stride_is_size", "crnn", "maxpool_forward",
         [("maxpool_forward", "stride = size if stride is None else stride", "stride = size")], "wrong stride"),
    _bug("features_flatten_channels_last", "crnn", "frame_features",
         [("frame_features", "p.reshape(len(p), -1)", "p.transpose(0, 2, 3, 1).reshape(len(p), -1)")],
         "flatten order wrong"),
    _bug("features_first_relu_missing", "crnn", "frame_features",
         [("frame_features", "maxpool_forward(np.maximum(a, 0), 2, 2)", "maxpool_forward(a, 2, 2)")],
         "first ReLU missing"),
    _bug("features_last_relu_missing", "crnn", "frame_features",
         [("frame_features", "return np.maximum(f, 0), None", "return f, None")], "last ReLU missing",
         "dense stage wrong"),
    _bug("features_dense_bias_dropped", "crnn", "frame_features",
         [("frame_features", ' + params["dense1.b"]', "")], "bias dropped", "dense stage wrong"),
    _bug("crnn_frames_reversed", "crnn", "crnn_forward",
         [("crnn_forward", "for t in range(T):", "for t in reversed(range(T)):")], "frames reversed",
         "frames in the wrong order"),
    _bug("crnn_batch_time_mixed", "crnn", "crnn_forward",
         [("crnn_forward", "F = F.reshape(B, T, -1)", "F = F.reshape(T, B, -1).transpose(1, 0, 2)")],
         "batch and time mixed"),
    _bug("crnn_cell_state", "crnn", "crnn_forward",
         [("crnn_forward", f"return h @ {_W}, None",
           f"return (state[1] if isinstance(state, tuple) else h) @ {_W}, None")], "cell state read"),
    _bug("crnn_state_reset", "crnn", "crnn_forward",
         [("crnn_forward", "run_step(step, F[:, t], state, cp)", "run_step(step, F[:, t], zero_state(cp, B), cp)")],
         "state reset at every step"),
    _bug("crnn_readout_bias_dropped", "crnn", "crnn_forward",
         [("crnn_forward", f"return h @ {_W}, None", 'return h @ params["W_hy"], None')], "bias dropped"),
]


# Written after all tuning and measured once (docs/diagnosis.md): a check on how far the tuned mechanism reaches.
FRESH = [
    _bug("fresh_forward_store_before_step", "bptt", "rnn_forward",
         [("rnn_forward", "h, cache = rnn_step(X[:, t], h, params)\n        states.append(h)",
           "states.append(h)\n        h, cache = rnn_step(X[:, t], h, params)")], "off by one step"),
    _bug("fresh_backward_carry_sign", "bptt", "rnn_backward",
         [("rnn_backward", "dh = dH[:, t] + dh_next", "dh = dH[:, t] - dh_next")], "wrong gradient carried back"),
    _bug("fresh_backward_dx_stored_reversed", "bptt", "rnn_backward",
         [("rnn_backward", "dxs[t] = dx", "dxs[T - 1 - t] = dx")], "time reversed", "dX stored in the wrong order"),
    _bug("fresh_clip_ratio_inverted", "bptt", "clip_gradients",
         [("clip_gradients", "min(1.0, max_norm / norm)", "min(1.0, norm / max_norm)")], "wrong scale"),
    _bug("fresh_norms_mean_of_example_norms", "bptt", "hidden_grad_norms",
         [("hidden_grad_norms", "norms[t] = np.sqrt((dh * dh).sum())",
           "norms[t] = np.sqrt((dh * dh).sum(axis=1)).mean()")],
         "wrong last norm", "mean instead of sum in the norm"),
    _bug("fresh_radius_of_gram", "bptt", "spectral_radius",
         [("spectral_radius", "np.linalg.eigvals(W)", "np.linalg.eigvals(W.T @ W)")], "squared radius"),
    _bug("fresh_many_to_many_no_bias", "architectures", "many_to_many",
         [("many_to_many_forward", f"ys.append(h @ {_W})", 'ys.append(h @ params["W_hy"])')], "bias dropped"),
    _bug("fresh_one_to_many_repeats_x", "architectures", "one_to_many",
         [("one_to_many_forward", "inp = one_hot_argmax(y)", "inp = x")], "input repeated", "wrong feedback"),
    _bug("fresh_many_to_one_skips_last", "architectures", "many_to_one",
         [("many_to_one_forward", "for t in range(X.shape[1]):", "for t in range(max(X.shape[1] - 1, 1)):")],
         "wrong state read"),
    _bug("fresh_features_reshape_transposed", "crnn", "frame_features",
         [("frame_features", "p.reshape(len(p), -1)", "p.reshape(-1, len(p)).T")], "flatten order wrong"),
    _bug("fresh_crnn_frames_time_major", "crnn", "crnn_forward",
         [("crnn_forward", "X.reshape(B * T, *X.shape[2:])", "X.swapaxes(0, 1).reshape(B * T, *X.shape[2:])")],
         "batch and time mixed"),
    _bug("fresh_crnn_skips_first_frame", "crnn", "crnn_forward",
         [("crnn_forward", "for t in range(T):", "for t in range(1, T) if T > 1 else range(T):")],
         "first frame skipped", "frames in the wrong order"),
]

# ----------------------------------------------------------------------------- measuring
ROOT = Path(__file__).resolve().parents[3]
SKIPPED_CELLS = ("training_run", "worked_example")  # a training run and printouts no check needs
CHECKS = {
    "rnn_forward": lambda ns, h: checks.check_rnn_forward(ns["rnn_forward"], h),
    "rnn_backward": lambda ns, h: checks.check_rnn_backward(ns["rnn_forward"], ns["rnn_backward"], h),
    "clip_gradients": lambda ns, h: checks.check_clip_gradients(ns["clip_gradients"], h),
    "spectral_radius": lambda ns, h: checks.check_spectral_radius(ns["spectral_radius"], h),
    "hidden_grad_norms": lambda ns, h: checks.check_hidden_grad_norms(ns["hidden_grad_norms"], h),
    **{n: (lambda ns, h, n=n: checks.check_architecture(n, ns[f"{n}_forward"], h))
       for n in ("one_to_one", "one_to_many", "many_to_one", "many_to_many", "encoder_decoder")},
    "conv2d_forward": lambda ns, h: crnn_checks.check_conv2d_forward(ns["conv2d_forward"], h),
    "maxpool_forward": lambda ns, h: crnn_checks.check_maxpool_forward(ns["maxpool_forward"], h),
    "frame_features": lambda ns, h: crnn_checks.check_frame_features(ns["frame_features"], h),
    "crnn_forward": lambda ns, h: crnn_checks.check_crnn_forward(ns["crnn_forward"], h),
}
FUNCTIONS = {"bptt": ("rnn_forward", "rnn_backward", "clip_gradients", "spectral_radius", "hidden_grad_norms"),
             "architectures": ("one_to_one", "one_to_many", "many_to_one", "many_to_many", "encoder_decoder"),
             "crnn": ("conv2d_forward", "maxpool_forward", "frame_features", "crnn_forward")}
LOCATED = re.compile(r"differs (from step t=|at )|shape \(")


def solution_cells(assignment: str) -> list[tuple[str | None, str]]:
    """(grade_id, source) of the source notebook's code cells that are not tests, in notebook order."""
    nb = nbformat.read(ROOT / "exercises" / "source" / assignment / f"{assignment}.ipynb", as_version=4)
    out = []
    for cell in nb.cells:
        gid = cell.metadata.get("nbgrader", {}).get("grade_id")
        if cell.cell_type == "code" and gid and not gid.startswith("test_") and gid not in SKIPPED_CELLS:
            out.append((gid, cell.source))
    return out


def namespace(assignment: str, edits=()) -> dict:
    """The solution's functions after ``edits`` (each ``old`` must occur exactly once in its cell)."""
    cells = dict(solution_cells(assignment))
    for gid, old, new in edits:
        if cells[gid].count(old) != 1:
            raise ValueError(f"edit of {gid!r}: {old!r} occurs {cells[gid].count(old)} times, expected once")
        cells[gid] = cells[gid].replace(old, new)
    ns: dict = {}
    for source in cells.values():
        exec(compile(source, f"<{assignment}>", "exec"), ns)  # noqa: S102 - the course's own solution code
    return ns


def messages(ns: dict, function: str) -> list[str]:
    """The failure messages of ``function``'s visible and hidden checks (empty: both pass)."""
    out = []
    for hidden in (False, True):
        try:
            with contextlib.redirect_stdout(io.StringIO()):
                CHECKS[function](ns, hidden)
        except Exception as exc:  # noqa: BLE001 - a raising check is a caught bug too
            out.append(str(exc))
    return out


@dataclass
class Outcome:
    bug: SequenceBug
    caught: bool
    located: bool
    named: bool
    message: str
    false: bool = False  # some message names a cause, none of them one of the bug's classes


def outcome(bug: SequenceBug) -> Outcome:
    """Caught: some check of the assignment fails. Located: the edited function's check fails with a message
    giving the first differing entry or the wrong shape. Named: every failing message of that check names one of
    the bug's classes as ``(likely bug: ...)``.
    """
    ns = namespace(bug.assignment, bug.edits)
    own = messages(ns, bug.function)
    caught = bool(own) or any(messages(ns, f) for f in FUNCTIONS[bug.assignment] if f != bug.function)
    located = bool(own) and all(LOCATED.search(m) for m in own)
    named = bool(own) and all(any(f"(likely bug: {c})" in m for c in bug.classes) for m in own)
    false = any("(likely bug:" in m and not any(f"(likely bug: {c})" in m for c in bug.classes) for m in own)
    return Outcome(bug, caught, located, named, own[0] if own else "", false)


def _half(bug: SequenceBug) -> str:
    return "fresh" if bug in FRESH else half(bug)


def table(outcomes: list[Outcome]) -> str:
    """Markdown rows: assignment, half, bugs, caught, located, named, other name (a message names a class that is
    not one of the bug's: a wrong name, or a right one this catalogue's exact class list does not spell)."""
    rows = ["| assignment | half | bugs | caught | located | named | other name |", "|---|---|---|---|---|---|---|"]
    for assignment in FUNCTIONS:
        for h in ("tune", "held-out", "fresh"):
            sel = [o for o in outcomes if o.bug.assignment == assignment and _half(o.bug) == h]
            if sel:
                rows.append(f"| {assignment} | {h} | {len(sel)} | {sum(o.caught for o in sel)} | "
                            f"{sum(o.located for o in sel)} | {sum(o.named for o in sel)} | "
                            f"{sum(o.false for o in sel)} |")
    return "\n".join(rows)


SUSPECT_LISTS = ((bptt_checks, ("rnn_forward_suspects", "rnn_backward_suspects", "clip_suspects", "norms_suspects",
                                 "radius_suspects")),
                 (crnn_checks, ("conv_hypotheses", "conv_suspects", "pool_hypotheses", "pool_suspects",
                                "feature_hypotheses", "feature_suspects", "crnn_hypotheses", "crnn_suspects")))


GRAMMAR_LISTS = ((bptt_grammar, "grammar_suspects"), (architecture_grammar, "grammar_suspects"),
                 (crnn_grammar, "grammar_suspects"), (crnn_grammar, "stage_suspects"))


@contextlib.contextmanager
def probes_only(grammar: bool = False):
    """Every hand-written suspect list empty (the catalogue's too), so that only the probes can name a bug, or with
    ``grammar`` the probes and the grammar's generated suspects (``autograder.grammar``): the mechanisms that do not
    list bugs.
    """
    saved = [(m, n, getattr(m, n)) for m, names in SUSPECT_LISTS for n in names]
    saved.append((architecture_checks, "hypotheses", architecture_checks.hypotheses))
    if not grammar:
        saved += [(m, n, getattr(m, n)) for m, n in GRAMMAR_LISTS]
    try:
        for m, n, _ in saved:
            setattr(m, n, (lambda *name: []) if n in ("hypotheses", "grammar_suspects", "stage_suspects")
                    else (lambda: []))
        yield
    finally:
        for m, n, f in saved:
            setattr(m, n, f)


if __name__ == "__main__":
    which = sys.argv[1] if len(sys.argv) > 1 else "tune"
    mode = (probes_only() if "--probes-only" in sys.argv else probes_only(grammar=True) if "--grammar" in sys.argv
            else contextlib.nullcontext())
    with cases.hidden_secret(b"the autograder's test suite: not a course secret"), mode:
        if which == "fresh":
            results = [outcome(b) for b in FRESH]
        else:
            results = [outcome(b) for b in BUGS if which == "all" or half(b) == which]
    print(table(results))
    for o in results:
        if not (o.caught and o.located and o.named):
            print(f"\n{o.bug.name} ({sorted(o.bug.classes)}): caught={o.caught} located={o.located} "
                  f"named={o.named}\n  {o.message[:900]}")
