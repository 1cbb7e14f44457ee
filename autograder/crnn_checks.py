"""Checks for the ``crnn`` exercise: conv2d, max-pooling, the CNN of one frame, the CRNN over frames, the probe.

Same contract as ``autograder.checks`` (inputs are plain arrays, dicts and reference step functions;
results are read strictly; the reference in ``simulator/`` is the judge, in the grader's process).
Student functions have the reference's names and positional arguments:

- ``conv2d_forward(x, K, b, stride, padding) -> (out, cache)``: ``simulator.conv.conv2d_forward``;
- ``maxpool_forward(x, size, stride) -> (out, cache)``: ``simulator.conv.maxpool_forward``;
- ``frame_features(frames, params) -> (features, cache)``: ``simulator.crnn.frame_features``;
- ``crnn_forward(X, params, step) -> (y, cache)``: ``simulator.crnn.crnn_forward``.

Only the first returned value is compared; a cache is never inspected.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from autograder import cases as case_sets
from autograder import crnn_grammar
from autograder.calling import call, header, ok
from autograder.cell_checks import graded_with_large, overflow, raised_text
from autograder.channel import ChannelClosedError, ChannelTimeoutError, ProtocolError
from autograder.compare import Layout, describe_mismatch, tolerance_text
from autograder.crnn_diagnosis import (
    conv_probes,
    conv_shape_finding,
    conv_suspects,
    crnn_probes,
    crnn_suspects,
    feature_probes,
    feature_suspects,
    pool_probes,
    pool_shape_finding,
    pool_suspects,
)
from autograder.hypotheses import Hypothesis
from autograder.precision_diagnosis import as_array, diagnose
from autograder.quiz_checks import check_choice
from autograder.sequence_probes import Confirmation, Probe, attempt, layout_probe, loose_array, wrong_shape
from autograder.values import as_float, as_tuple, fail
from simulator import architectures, cells, conv, crnn

__all__ = ["check_choice", "check_conv2d_forward", "check_crnn_forward", "check_frame_features",
           "check_maxpool_forward", "check_probe_accuracies"]

MAPS = Layout(("image", "channel", "row", "column"))
ROWS = Layout(("row", "feature"))
OUTPUTS = Layout(("batch", "output"))


def _rng(hidden: bool, k: int) -> np.random.Generator:
    return case_sets.hidden_rng("crnn", k) if hidden else np.random.default_rng(5 + 97 * k)


def _fail_if_different(fname: str, what: str, k: int, cases: list, case: dict, hidden: bool, expected: np.ndarray,
                       got: np.ndarray, layout: Layout, hyps: list[Hypothesis], probes=(), confirm=None,
                       reference=None) -> None:
    problem = describe_mismatch(what, expected, got, layout)
    if problem:
        # NB: features come out of a ReLU, so all-zero features match any bug that clamps them: no suspect then.
        fail(diagnose(header(fname, k, len(cases), case, hidden), [problem], {what: got}, case, hyps, probes,
                      zeros_match=what != "features", confirm=confirm, reference=reference))


def _output(value, what: str, key: str, expected: np.ndarray, case: dict, hyps: list[Hypothesis],
            head: str = "", probes=(), confirm=None, reference=None) -> np.ndarray:
    """``as_array`` of a student's output; a wrong shape that one of the named bugs produces (a stride or a
    padding ignored changes the output's size) also names that bug, since the values cannot be compared.
    """
    if (odd := wrong_shape(value, expected.shape)) is not None:
        message = diagnose(head or what, [f"{key} has shape {odd.shape}, expected {expected.shape}"], {key: odd},
                           case, hyps, probes, confirm=confirm, reference=reference)
        if "likely bug" in message:
            fail(message)
    return as_array(value, what, expected.shape)


def _confirmation(fn: Callable, fname: str, key: str, case: dict, args=None, tail=None,
                  more: tuple[dict, ...] = ()) -> Confirmation:
    """The student's ``key`` output on the grader's probe ``case``, read loosely (any shape; one call); ``more``:
    further grader-chosen cases (``Confirmation.more``).
    """

    def run(c: dict) -> dict:
        extra = () if tail is None else (tail(c),)
        out, _ = as_tuple(call(fn, fname, c["args"] if args is None else args(c), tail=extra), 2,
                          f"{fname} returned", f"{key}, cache")
        return {key: loose_array(out)}

    return Confirmation(case, run, more)


def _reader(fn: Callable, fname: str, key: str, reference: Callable[[dict], np.ndarray], tail=None):
    """The student's output on a probe case, read strictly (one call)."""

    def run(case: dict) -> np.ndarray:
        args = case["args"]
        extra = () if tail is None else (tail(case),)
        out, _ = as_tuple(call(fn, fname, args, tail=extra), 2, f"{fname} returned", f"{key}, cache")
        return as_array(out, f"{fname}: {key}", reference(case).shape)

    return run


# ----------------------------------------------------------------------------- a raise: which setting it needs
def _raised_call(fn: Callable, fname: str, args: tuple, head: str, variants: Callable[[], list[tuple]]):
    """``call(fn, fname, args)``; if the student's code raises, fail with the error and the settings under which
    it runs (``variants()``: ``(label, args, meaning)`` of grader-chosen probe cases, the first the generic one).
    The variants only explain (one student call each, after the case has failed); no score depends on them.
    """
    try:
        return call(fn, fname, args)
    except (AssertionError, ChannelClosedError, ChannelTimeoutError, ProtocolError):
        raise
    except Exception as exc:  # noqa: BLE001 - any failure of student code is reported, not propagated
        text = f"{head}: {raised_text(fname, exc)}"
        tried = variants()
        runs = [(label, bug, meaning) for label, a, bug, meaning in tried
                if attempt(lambda a=a: call(fn, fname, a)) is not None]
        if runs and runs[0][0] != tried[0][0]:
            ran = " or ".join(label for label, _, _ in runs)
            text += (f". Probably your {fname} runs only with {ran}: {runs[0][2]} (likely bug: {runs[0][1]}). "
                     f"Evidence: on the grader's probe cases ({'; '.join(v[0] for v in tried)}) it ran only with {ran}")
        fail(text)


def _pool_variants() -> list[tuple]:
    """``(label, args, bug, meaning)``: the pooling probe case, then one setting changed each."""
    x, size, stride = probe_pool_case()["args"]
    return [("a 3x3 window moved by 2", (x, size, stride), "", ""),
            ("stride = window", (x, size, size), "right only when the stride equals the window",
             "windows that do not overlap assumed (a reshape into windows, or an index that moves by the window "
             "instead of the stride)"),
            ("stride 1", (x, size, 1), "stride ignored", "windows that move by 1 assumed: the stride left out"),
            ("sizes that are multiples of the window", (x[:, :, :6, :6], size, size),
             "right only when the size is a multiple of the window", "a reshape into whole windows")]


def _conv_variants() -> list[tuple]:
    """``(label, args, bug, meaning)``: the conv probe case, then one setting changed each."""
    x, K, b, stride, padding = probe_conv_case()["args"]
    K3 = np.concatenate([K, K[:1]], axis=0)  # F = C = 3
    return [("stride 2, padding 1", (x, K, b, stride, padding), "", ""),
            ("stride 1", (x, K, b, 1, padding), "stride ignored",
             "the stride left out of the output size or of the window's index"),
            ("padding 0", (x, K, b, stride, 0), "padding mishandled",
             "the padding left out of the output size, or applied twice"),
            ("as many filters as channels", (x, K3, np.concatenate([b, b[:1]]), stride, padding),
             "filter and channel axes confused", "the kernel read as (C, F, KH, KW) instead of (F, C, KH, KW)"),
            ("square images", (x[:, :, :6, :6], K, b, stride, padding), "height and width confused",
             "an H where W belongs (or the reverse) in a size or an index")]


# ----------------------------------------------------------------------------- conv2d
def _conv_cases(hidden: bool) -> list[dict]:
    shapes = ([(1, 1, 1, 1, 1, 1, 0), (3, 2, 5, 4, 3, 2, 1), (2, 3, 6, 6, 1, 2, 2), (1, 2, 7, 5, 2, 3, 0),
               (2, 1, 4, 4, 3, 1, 2)] if hidden else [(2, 1, 5, 5, 2, 1, 1), (1, 2, 7, 5, 3, 2, 0)])
    # NB: the second visible case has OH != OW (7x5 input), so a width computed from the height fails visibly
    out = []
    for k, (N, C, H, W, F, stride, padding) in enumerate(shapes):
        rng = _rng(hidden, k)
        kh = min(3, H + 2 * padding)
        out.append({"label": f"N={N}, C={C}, H={H}, W={W}, F={F}, kernel {kh}x{kh}, stride {stride}, padding {padding}",
                    "args": (rng.standard_normal((N, C, H, W)), rng.standard_normal((F, C, kh, kh)),
                             rng.standard_normal(F), stride, padding)})
    return out


def _conv(case: dict, **changes) -> np.ndarray:
    x, K, b, stride, padding = case["args"]
    args = {"x": x, "K": K, "b": b, "stride": stride, "padding": padding, **changes}
    return conv.conv2d_forward(args["x"], args["K"], args["b"], stride=args["stride"], padding=args["padding"])[0]


def conv_hypotheses() -> list[Hypothesis]:
    """What conv2d returns under its common bugs."""
    return [
        Hypothesis("kernel flipped", "the kernel is flipped (true convolution; PyTorch and Keras do not flip)",
                   lambda c: {"out": _conv(c, K=c["args"][1][:, :, ::-1, ::-1].copy())}),
        Hypothesis("bias dropped", "the bias b is left out",
                   lambda c: {"out": _conv(c, b=np.zeros_like(c["args"][2]))}),
        Hypothesis("wrong stride", "the stride is ignored (always 1)", lambda c: {"out": _conv(c, stride=1)}),
        *[Hypothesis("padding not zeros", f"the border is padded with np.pad's mode={mode!r} ({what}) instead of "
                     "zeros", lambda c, mode=mode: _padded_by(c, mode)) for mode, what in _PAD_MODES],
        Hypothesis("rows and columns exchanged", "out[i, j] is computed from the window at row j, column i (the "
                   "loop indices exchanged): the output of the transposed image",
                   lambda c: {"out": _conv(c, x=c["args"][0].swapaxes(2, 3), K=c["args"][1].swapaxes(2, 3))}
                   if _square_out(_conv(c)) else None),
    ]


_PAD_MODES = (("edge", "the border values repeated"), ("reflect", "a mirror image without the border"),
              ("symmetric", "a mirror image with the border"), ("wrap", "the opposite side"))


def _padded_by(case: dict, mode: str) -> dict | None:
    """conv2d of ``x`` padded by ``np.pad(..., mode=mode)`` instead of zeros (None without padding)."""
    x, _, _, _, padding = case["args"]
    if not padding:
        return None
    xp = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)), mode=mode)
    return {"out": _conv(case, x=xp, padding=0)}


def _square_out(out: np.ndarray) -> bool:
    """Is the output square (rows and columns exchanged keep its shape)?"""
    return out.shape[2] == out.shape[3]


def check_conv2d_forward(conv2d_forward: Callable, hidden: bool = False) -> None:
    """Does ``conv2d_forward(x, K, b, stride, padding)`` return the reference output (N, F, OH, OW)?"""
    fname = "conv2d_forward"
    cases, hyps = _conv_cases(hidden), [*conv_hypotheses(), *conv_suspects(), *crnn_grammar.stage_suspects(fname)]
    probes = conv_probes(_reader(conv2d_forward, fname, "out", _conv))
    confirm = _confirmation(conv2d_forward, fname, "out", probe_conv_case(), more=(square_conv_case(),))

    def reference(c):
        return {"out": _conv(c)}

    for k, case in enumerate(cases):
        head = header(fname, k, len(cases), case, hidden)
        out, _ = as_tuple(_raised_call(conv2d_forward, fname, case["args"], head, _conv_variants), 2,
                          f"{fname} returned", "out, cache")
        expected = _conv(case)
        got = _output(out, f"{fname}: out", "out", expected, case, hyps, head,
                      [Probe("size", conv_shape_finding), layout_probe("out", _conv, MAPS.axes)], confirm, reference)
        _fail_if_different(fname, "out", k, cases, case, hidden, expected, got, MAPS, hyps, probes, confirm,
                           reference)
    ok(f"{fname} matches the reference on {len(cases)} {'hidden' if hidden else 'visible'} cases "
       f"(strides and padding; {tolerance_text()})")


def probe_conv_case() -> dict:
    """A fixed grader-chosen conv case with generic sizes: 2 images 3x7x6, 2 filters 3x3, stride 2, padding 1."""
    rng = np.random.default_rng(20261207)
    return {"label": "probe", "args": (rng.standard_normal((2, 3, 7, 6)), rng.standard_normal((2, 3, 3, 3)),
                                       rng.standard_normal(2), 2, 1)}


def square_conv_case() -> dict:
    """A fixed grader-chosen conv case with a square output (2 images 3x6x6, 2 filters 3x3, stride 2, padding 1:
    3x3 outputs), where a bug that exchanges rows and columns can be expressed.
    """
    rng = np.random.default_rng(20261209)
    return {"label": "probe", "args": (rng.standard_normal((2, 3, 6, 6)), rng.standard_normal((2, 3, 3, 3)),
                                       rng.standard_normal(2), 2, 1)}


# ----------------------------------------------------------------------------- max-pool
def square_pool_case(default_stride: bool = False) -> dict:
    """:func:`probe_pool_case` on 7x7 images (3x3 outputs with stride 2): rows and columns exchanged expressible."""
    rng = np.random.default_rng(20261210)
    return {"label": "probe", "args": (rng.standard_normal((2, 3, 7, 7)), 3, 3 if default_stride else 2),
            "default_stride": default_stride}


def probe_pool_case(default_stride: bool = False) -> dict:
    """A fixed grader-chosen pooling case: 2 images 3x7x6, a 3x3 window moved by 2 (windows overlap), or, to
    confirm a case that leaves the stride out, moved by its default (the window) with the stride left out too:
    a probe calls the student the way the failing case did.
    """
    rng = np.random.default_rng(20261208)
    return {"label": "probe", "args": (rng.standard_normal((2, 3, 7, 6)), 3, 3 if default_stride else 2),
            "default_stride": default_stride}


def _pool_cases(hidden: bool) -> list[dict]:
    shapes = ([(1, 1, 1, 1, 1, 1), (2, 3, 5, 4, 2, 2), (1, 2, 6, 6, 3, 3), (2, 1, 5, 5, 3, 2), (3, 2, 4, 7, 2, 1)]
              if hidden else [(2, 2, 4, 4, 2, 2), (1, 1, 5, 6, 2, 2)])
    out = []
    for k, (N, C, H, W, size, stride) in enumerate(shapes):
        rng = _rng(hidden, 40 + k)
        # The first case whose stride is its window leaves the stride out: the default (stride = size) is graded.
        default = stride == size > 1 and not any(c.get("default_stride") for c in out)
        out.append({"label": f"N={N}, C={C}, H={H}, W={W}, window {size}, "
                             + ("stride left out (default: the window)" if default else f"stride {stride}"),
                    "args": (rng.standard_normal((N, C, H, W)), size, stride), "default_stride": default})
    return out


def _pool_args(case: dict) -> tuple:
    """The positional arguments a student's maxpool_forward is called with on ``case``."""
    return case["args"][:2] if case.get("default_stride") else case["args"]


def pool_hypotheses() -> list[Hypothesis]:
    """What max-pooling returns under its common bugs."""

    def average(c):
        x, size, stride = c["args"]
        N, C, H, W = x.shape
        win = conv.im2col(x.reshape(N * C, 1, H, W), size, size, stride, 0)
        OH, OW = conv.output_size(H, size, stride, 0), conv.output_size(W, size, stride, 0)
        return {"out": win.mean(axis=1).reshape(N, C, OH, OW)}

    return [Hypothesis("average instead of max", "each window is averaged instead of taking its maximum", average),
            Hypothesis("wrong stride", lambda c: "the windows move by 1 instead of the stride" + (
                " (left out here: its default is the window size, stride = size)" if c.get("default_stride") else ""),
                       lambda c: {"out": conv.maxpool_forward(c["args"][0], c["args"][1], 1)[0]}),
            Hypothesis("rows and columns exchanged", "out[i, j] is the maximum of the window at row j, column i (the "
                       "loop indices exchanged): the output of the transposed image", _pool_transposed)]


def _pool_transposed(case: dict) -> dict | None:
    """Max-pooling of the image with rows and columns exchanged (None when the output is not square)."""
    x, size, stride = case["args"]
    out = conv.maxpool_forward(x.swapaxes(2, 3), size, stride)[0]
    return {"out": out} if _square_out(out) else None


def check_maxpool_forward(maxpool_forward: Callable, hidden: bool = False) -> None:
    """Does ``maxpool_forward(x, size, stride)`` return the reference output (N, C, OH, OW)?"""
    fname = "maxpool_forward"
    cases, hyps = _pool_cases(hidden), [*pool_hypotheses(), *pool_suspects(), *crnn_grammar.stage_suspects(fname)]
    probes = pool_probes(_reader(maxpool_forward, fname, "out", lambda c: conv.maxpool_forward(*c["args"])[0]))
    def reference(c):
        return {"out": conv.maxpool_forward(*c["args"])[0]}

    for k, case in enumerate(cases):
        confirm = _confirmation(maxpool_forward, fname, "out", probe_pool_case(case["default_stride"]), _pool_args,
                                more=(square_pool_case(case["default_stride"]),))
        head = header(fname, k, len(cases), case, hidden)
        out, _ = as_tuple(_raised_call(maxpool_forward, fname, _pool_args(case), head, _pool_variants), 2,
                          f"{fname} returned", "out, cache")
        expected = conv.maxpool_forward(*case["args"])[0]
        got = _output(out, f"{fname}: out", "out", expected, case, hyps, head, [Probe("size", pool_shape_finding)],
                      confirm, reference)
        _fail_if_different(fname, "out", k, cases, case, hidden, expected, got, MAPS, hyps, probes, confirm,
                           reference)
    ok(f"{fname} matches the reference on {len(cases)} {'hidden' if hidden else 'visible'} cases "
       f"(overlapping windows too; {tolerance_text()})")


# ----------------------------------------------------------------------------- the CNN of one frame
def _cnn_params(rng: np.random.Generator, C: int, H: int, W: int, F: int, k: int, M: int) -> dict:
    D = F * (H // 2) * (W // 2)
    return {"conv1.K": 0.5 * rng.standard_normal((F, C, k, k)), "conv1.b": 0.3 * rng.standard_normal(F),
            "dense1.W": rng.standard_normal((D, M)) / np.sqrt(D), "dense1.b": 0.3 * rng.standard_normal(M)}


def probe_feature_case() -> dict:
    """A fixed grader-chosen CNN case: 3 frames 2x6x8, 2 filters 3x3, 4 features, the dense bias positive."""
    rng = np.random.default_rng(20261209)
    params = _cnn_params(rng, 2, 6, 8, 2, 3, 4)
    params["dense1.b"] = 0.5 + np.abs(params["dense1.b"])  # most features above the ReLU's kink
    return {"label": "probe", "args": (rng.standard_normal((3, 2, 6, 8)), params)}


def _feature_cases(hidden: bool) -> list[dict]:
    shapes = ([(1, 1, 2, 2, 1, 1, 1), (3, 2, 6, 4, 3, 3, 5), (2, 1, 5, 7, 2, 5, 2), (4, 3, 4, 4, 1, 3, 3)]
              if hidden else [(2, 1, 6, 6, 2, 3, 4), (3, 2, 4, 5, 3, 3, 2)])
    out = []
    for k, (N, C, H, W, F, kk, M) in enumerate(shapes):
        rng = _rng(hidden, 70 + k)
        out.append({"label": f"N={N} frames {C}x{H}x{W}, {F} filters {kk}x{kk}, {M} features",
                    "args": (rng.standard_normal((N, C, H, W)), _cnn_params(rng, C, H, W, F, kk, M))})
    return out


def feature_hypotheses() -> list[Hypothesis]:
    """What the frame CNN returns under its common bugs."""

    def no_last_relu(c):
        frames, params = c["args"]
        _, caches = crnn.frame_features(frames, params)
        return {"features": caches[-1][2]["x"]}

    return [Hypothesis("last ReLU missing", "the final ReLU after dense1 is left out", no_last_relu)]


def _sized_guess(frame_features: Callable, case: dict) -> str:
    """Which stage's size the student's CNN uses: rerun it (explanation only) with dense1.W sized for the D a
    common size bug gives; the one it runs with is named as a guess.
    """
    frames, params = case["args"]
    _, _, H, W = frames.shape
    F, _, k, _ = params["conv1.K"].shape
    M = params["dense1.W"].shape[1]
    candidates = (("conv1 without padding", "padding missing", F * ((H - k + 1) // 2) * ((W - k + 1) // 2)),
                  ("the pool moving by 1", "wrong pool stride", F * (H - 1) * (W - 1)),
                  ("no pooling", "pool missing", F * H * W),
                  ("a 3x3 pool", "wrong pool size", F * (H // 3) * (W // 3)),
                  ("conv1 with stride 2", "wrong conv stride",
                   F * (conv.output_size(H, k, 2, k // 2) // 2) * (conv.output_size(W, k, 2, k // 2) // 2)))
    right = F * (H // 2) * (W // 2)
    for D in dict.fromkeys(D for _, _, D in candidates if D != right):  # each size once, in order
        trial = (frames, {**params, "dense1.W": np.full((D, M), 0.01)})
        if attempt(lambda trial=trial: call(frame_features, "frame_features", trial)) is not None:
            # Several size bugs may give this D: name them all rather than pick one.
            fits = [(what, bug) for what, bug, d in candidates if d == D]
            return (f"Probably your CNN flattens each frame to {D} features, the size "
                    f"{' or '.join(w for w, _ in fits)} gives (likely bug: {' or '.join(b for _, b in fits)}): with "
                    f"dense1.W of {D} rows it runs, so your flattened maps have shape ({len(frames)}, {D}), "
                    f"expected ({len(frames)}, {right}). ")
    return ""


def _feature_sizes(case: dict) -> str:
    """How the CNN's sizes chain on ``case`` (shapes only, which the case's label shows too)."""
    frames, params = case["args"]
    _, _, H, W = frames.shape
    F, _, k, _ = params["conv1.K"].shape
    return (f"The sizes must chain as: conv1 with 'same' padding k // 2 = {k // 2} and stride 1 keeps {H}x{W}, the "
            f"2x2 max-pool gives {H // 2}x{W // 2}, so each frame flattens to D = F * (H // 2) * (W // 2) = "
            f"{F * (H // 2) * (W // 2)} features, the rows of dense1.W; check f = relu(flatten(maxpool(relu(conv(x, "
            "K, b)))) W + b_d).")


def check_frame_features(frame_features: Callable, hidden: bool = False) -> None:
    """Does ``frame_features(frames, params)`` return the features of conv1 -> ReLU -> pool -> dense1 -> ReLU?"""
    fname = "frame_features"
    cases = _feature_cases(hidden)
    hyps = [*feature_hypotheses(), *feature_suspects(), *crnn_grammar.stage_suspects(fname)]
    probes = feature_probes(_reader(frame_features, fname, "features", lambda c: crnn.frame_features(*c["args"])[0]))
    confirm = _confirmation(frame_features, fname, "features", probe_feature_case())

    def reference(c):
        return {"features": crnn.frame_features(*c["args"])[0]}

    for k, case in enumerate(cases):
        try:
            out = call(frame_features, fname, case["args"])
        except ValueError as exc:  # a size mismatch inside the CNN (numpy raises ValueError): say how sizes chain
            fail(f"{header(fname, k, len(cases), case, hidden)}: your frame_features raised ValueError: "
                 f"{str(exc)[:300]}. {_sized_guess(frame_features, case)}{_feature_sizes(case)}")
        out, _ = as_tuple(out, 2, f"{fname} returned", "features, cache")
        expected = crnn.frame_features(*case["args"])[0]
        got = as_array(out, f"{fname}: features", expected.shape)
        _fail_if_different(fname, "features", k, cases, case, hidden, expected, got, ROWS, hyps, probes, confirm,
                           reference)
    ok(f"{fname} matches the reference on {len(cases)} {'hidden' if hidden else 'visible'} cases ({tolerance_text()})")


# ----------------------------------------------------------------------------- the CRNN over frames
def _crnn_cases(hidden: bool) -> list[dict]:
    shapes = ([("rnn", 1, 1, 1, 2, 2, 1, 1, 1), ("gru", 2, 4, 1, 4, 6, 2, 3, 2), ("lstm", 3, 3, 2, 4, 4, 2, 4, 3),
               ("lstm", 1, 5, 1, 6, 4, 3, 2, 2), ("gru", 2, 2, 2, 2, 4, 1, 3, 4)]
              if hidden else [("rnn", 2, 3, 1, 4, 4, 2, 3, 2), ("lstm", 2, 4, 1, 6, 6, 2, 3, 3)])
    out = []
    for k, (kind, B, T, C, H, W, F, Hs, K) in enumerate(shapes):
        rng = _rng(hidden, 120 + k)
        M = 3
        params = _cnn_params(rng, C, H, W, F, 3, M)
        # Features that ReLU zeroes for every frame would hide every frame-order bug: keep them mostly positive.
        params["dense1.b"] = 0.5 + np.abs(params["dense1.b"])
        params.update({n: 0.6 * rng.standard_normal(s) for n, s in cells.param_shapes(kind, M, Hs).items()})
        params["W_hy"] = rng.standard_normal((Hs, K))
        params["b_y"] = rng.standard_normal(K)
        out.append({"label": f"{kind} cell, B={B} videos of T={T} frames {C}x{H}x{W}, H={Hs}, K={K}", "kind": kind,
                    "args": (rng.standard_normal((B, T, C, H, W)), params)})
    return out


def large_crnn_cases(hidden: bool) -> list[dict]:
    """One CRNN case per cell kind (RNN, LSTM, GRU) whose cell pre-activations are large: the cell's input weight
    is scaled so that, over the frames' features, every gate block reaches ``|a| >= cases.LARGE_REACH``. Visible:
    B=2 videos of T=3 frames 1x4x4, H=3, K=2; hidden: sizes from the secret (hidden stream ``"large crnn cases"``).
    """
    return [_large_crnn_case(kind, hidden, k) for k, kind in enumerate(("rnn", "lstm", "gru"))]


def _large_crnn_case(kind: str, hidden: bool, k: int) -> dict:
    rng = case_sets.hidden_rng("large crnn cases", k) if hidden else np.random.default_rng(4_714 + k)
    pairs, T, Hs, K = case_sets.large_sizes(rng, hidden, (1, 3, 3, 2), 3)
    B, C, H, W, F, M = 2 * pairs, 1, 4, 4, 2, 3
    params = _cnn_params(rng, C, H, W, F, 3, M)
    params["dense1.b"] = 0.5 + np.abs(params["dense1.b"])  # features mostly positive, as in the cases
    params.update({n: 0.6 * rng.standard_normal(s) for n, s in cells.param_shapes(kind, M, Hs).items()})
    params["W_hy"] = rng.standard_normal((Hs, K))
    params["b_y"] = rng.standard_normal(K)
    X = rng.standard_normal((B, T, C, H, W))
    features = crnn.frame_features(X.reshape(B * T, C, H, W), params)[0]  # (B*T, M)
    w = case_sets.input_weight(kind)
    params[w] = params[w] * (case_sets.LARGE_REACH / max(case_sets.block_reach(features, params[w], Hs), 1e-12))
    note = "" if hidden else f", large pre-activations: |a| >= {case_sets.LARGE_REACH:g}"
    return {"label": f"{kind} cell, B={B} videos of T={T} frames {C}x{H}x{W}, H={Hs}, K={K}{note}", "kind": kind,
            "args": (X, params), "large": True}


def probe_crnn_case(kind: str) -> dict:
    """A fixed grader-chosen CRNN case with generic sizes: B=3 videos of T=4 frames 2x6x6, 2 filters, M=3, H=5, K=2."""
    rng = np.random.default_rng(20261206)
    B, T, C, H, W, F, Hs, K, M = 3, 4, 2, 6, 6, 2, 5, 2, 3
    params = _cnn_params(rng, C, H, W, F, 3, M)
    params["dense1.b"] = 0.5 + np.abs(params["dense1.b"])  # features mostly positive, as in the cases
    params.update({n: 0.6 * rng.standard_normal(s) for n, s in cells.param_shapes(kind, M, Hs).items()})
    params["W_hy"] = rng.standard_normal((Hs, K))
    params["b_y"] = rng.standard_normal(K)
    return {"label": "probe", "kind": kind, "args": (rng.standard_normal((B, T, C, H, W)), params)}


def _step(case: dict) -> Callable:
    return cells.STEP_FUNCTIONS[case["kind"]][0]


def crnn_hypotheses() -> list[Hypothesis]:
    """What the CRNN returns under its common bugs."""

    def reversed_frames(c):
        X, params = c["args"]
        return {"y": crnn.crnn_forward(X[:, ::-1].copy(), params, _step(c))[0]}

    def first_state(c):
        X, params = c["args"]
        H = crnn.crnn_forward(X, params, _step(c))[1]["H"]
        return {"y": H[:, 0] @ params["W_hy"] + params["b_y"]}

    def averaged_frames(c):
        X, params = c["args"]
        B, T = X.shape[:2]
        F, _ = crnn.frame_features(X.reshape(B * T, *X.shape[2:]), params)
        f = F.reshape(B, T, -1).mean(axis=1, keepdims=True)  # (B, 1, M): one step on the mean feature
        cell_keys = [n for n in params if "." not in n]
        return {"y": architectures.many_to_one_forward(f, {n: params[n] for n in cell_keys}, _step(c))[0]}

    return [Hypothesis("frames reversed", "the frames are read from last to first", reversed_frames),
            Hypothesis("wrong state read", "y is read from the first state instead of the last", first_state),
            Hypothesis("frames averaged", "the features are averaged over time and the cell runs one step",
                       averaged_frames)]


def check_crnn_forward(crnn_forward: Callable, hidden: bool = False) -> None:
    """Does ``crnn_forward(X, params, step)`` return the reference ``y`` (B, K) for RNN, LSTM and GRU cells?"""
    fname = "crnn_forward"
    cases, hyps = _crnn_cases(hidden), [*crnn_hypotheses(), *crnn_suspects(), *crnn_grammar.grammar_suspects()]

    def reference(c):
        return {"y": crnn.crnn_forward(*c["args"], _step(c))[0]}

    probes = crnn_probes(_reader(crnn_forward, fname, "y", lambda c: reference(c)["y"], tail=_step))
    for head, case in graded_with_large(fname, cases, large_crnn_cases(hidden), hidden):
        out = call(crnn_forward, fname, case["args"], tail=(_step(case),))
        y, _ = as_tuple(out, 2, f"{fname} returned", "y, cache")
        expected = reference(case)["y"]
        if case.get("large"):
            overflow(y, expected, case, f"{fname}: y", who=fname, head=head)
        got = as_array(y, f"{fname}: y", expected.shape)
        confirm = Confirmation(probe_crnn_case(case["kind"]), lambda c: {"y": loose_array(as_tuple(
            call(crnn_forward, fname, c["args"], tail=(_step(c),)), 2, f"{fname} returned", "y, cache")[0])})
        problem = describe_mismatch("y", expected, got, OUTPUTS)
        if problem:
            fail(diagnose(head, [problem], {"y": got}, case, hyps, probes, confirm=confirm, reference=reference))
    ok(f"{fname} matches the reference on {len(cases)} {'hidden' if hidden else 'visible'} cases "
       f"(RNN, LSTM{', GRU' if hidden else ''} cells) and 3 with large pre-activations "
       f"(RNN, LSTM, GRU cells; {tolerance_text()})")


# ----------------------------------------------------------------------------- the training run
def check_probe_accuracies(probe_accuracy, average_accuracy, min_probe: float = 0.8, max_average: float = 0.7) -> None:
    """Did the readout trained on the CRNN's last states beat ``min_probe``, and the frame-average one stay below
    ``max_average`` (near the chance of 0.5)?
    """
    probe = as_float(probe_accuracy, "probe_accuracy")
    average = as_float(average_accuracy, "average_accuracy")
    for name, value in (("probe_accuracy", probe), ("average_accuracy", average)):
        if not 0.0 <= value <= 1.0:
            fail(f"{name}: {value:g} is not an accuracy; expected a fraction between 0 and 1")
    if probe < min_probe:
        fail(f"probe_accuracy: {probe:.3f} on held-out videos, expected at least {min_probe}; run the training cell "
             "after your crnn_forward passes its tests")
    if average > max_average:
        fail(f"average_accuracy: {average:.3f}, expected at most {max_average}: averaging frames forgets their order, "
             "so it should stay near chance (0.5); did the average cell read the CRNN states instead?")
    ok(f"the CRNN states separate the directions ({probe:.2f} held out); averaged frames do not ({average:.2f})")
