"""Diagnosis for the crnn exercise: which stage (conv, pool, features, recurrence, readout) first differs, and why.

Suspects hand the reference in ``simulator.conv`` / ``simulator.crnn`` changed inputs (a flipped or transposed
kernel, zeroed channels, a wrong padding, permuted dense rows for a wrong flatten order, videos with their
frames re-ordered) or a changed layer list (a ReLU left out, an average pool), never a second copy of the
math. Probes re-run the student's function on grader-chosen variants that make every stage but one
transparent: an identity kernel and an identity dense layer (only pooling and flattening remain), frames
whose 2x2 blocks are constant (max and mean agree), a kernel of zeros (only the bias remains), one video,
a still video (order no longer matters), one frame, a switched-off readout.

Not covered: ``frame_features`` and ``crnn_forward`` call the student's own ``conv2d_forward`` /
``maxpool_forward`` / ``frame_features``, so a bug there also fails them (their probes then name the stage);
a ``frame_features`` that raises on the probe's identity layers (e.g. sizes hard-coded) gets no stage.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from autograder.architecture_diagnosis import closed_output_gate, reads_cell_state
from autograder.sequence_probes import Finding, Probe, Suspect, attempt, same
from simulator import cells, conv, crnn

CONV_LINE = "out[n, f, i, j] = b[f] + sum_{c, u, v} K[f, c, u, v] xp[n, c, i*stride + u, j*stride + v]"
PAD_LINE = "xp = x with `padding` zeros on every side; OH = (H + 2*padding - KH) // stride + 1"
POOL_LINE = "out[n, c, i, j] = max over u, v < size of x[n, c, i*stride + u, j*stride + v]"
FEATURES_LINE = "f = relu(flatten(maxpool(relu(conv(x, K, b)))) W + b_d)"
FLATTEN_LINE = "flatten channel, then row, then column: p.reshape(N, -1)"
CRNN_LINE = "f_t = frame_features(x_t); h_t = cell(f_t, h_{t-1}) for t = 0 .. T-1; y = h_{T-1} W_hy + b_y"
RESHAPE_LINE = "F.reshape(B, T, M): frames (B*T, ...) are ordered video by video, (b, t) -> b*T + t"


# ----------------------------------------------------------------------------- conv2d
def _conv(case: dict, **changes) -> np.ndarray:
    x, K, b, stride, padding = case["args"]
    a = {"x": x, "K": K, "b": b, "stride": stride, "padding": padding, **changes}
    return conv.conv2d_forward(a["x"], a["K"], a["b"], stride=a["stride"], padding=a["padding"])[0]


def _channels_kept(K: np.ndarray, keep: int) -> np.ndarray | None:
    if K.shape[1] < 2:
        return None
    out = np.zeros_like(K)
    out[:, keep] = K[:, keep]
    return out


def conv_suspects() -> list[Suspect]:
    """Padding, kernel-layout and channel-sum bugs of conv2d (after the catalogue in ``crnn_checks``)."""

    def kept(keep):
        def run(c):
            K = _channels_kept(c["args"][1], keep)
            return None if K is None else {"out": _conv(c, K=K)}
        return run

    return [
        Suspect("padding ignored", "the input is not padded (padding 0)",
                lambda c: {"out": _conv(c, padding=0)} if c["args"][4] else None, PAD_LINE),
        Suspect("wrong padding", "padding is applied twice (2*padding zeros on every side)",
                lambda c: {"out": _conv(c, padding=2 * c["args"][4])} if c["args"][4] else None, PAD_LINE),
        Suspect("kernel transposed", "the kernel's rows and columns are swapped (K[f, c, v, u] instead of "
                "K[f, c, u, v])", lambda c: {"out": _conv(c, K=c["args"][1].transpose(0, 1, 3, 2).copy())},
                CONV_LINE),
        Suspect("channels not summed", "only the last input channel is used (the sum over c is overwritten by "
                "each channel)", kept(-1), CONV_LINE),
        Suspect("channels not summed", "only the first input channel is used", kept(0), CONV_LINE),
        Suspect("bias added per channel", "the bias is added once per input channel (C * b[f])",
                lambda c: {"out": _conv(c, b=c["args"][2] * c["args"][1].shape[1])} if c["args"][1].shape[1] > 1
                else None, CONV_LINE),
        *[Suspect("wrong stride", f"the output size is right but the window of out[i, j] starts at {what} "
                  "(the window does not move by the stride)", lambda c, step=step: _moved(
                      c, step(c), lambda cc, s: _conv(cc, stride=s), lambda cc: _conv(cc)), PAD_LINE)
          for step, what in ((lambda c: 1, "xp[i, j]"),)],
    ]


def _moved(case: dict, step: int, run: Callable[[dict, int], np.ndarray], right: Callable[[dict], np.ndarray]):
    """The reference with its windows moved by ``step`` instead of the stride, cropped to the right output size.

    ``run(case, s)`` is the reference with stride s; None when the stride already is ``step`` or the moved
    windows run off the input.
    """
    stride = case["args"][3] if len(case["args"]) == 5 else case["args"][2]
    if step == stride:
        return None
    shape = right(case).shape
    out = run(case, step)
    if out.shape[2] < shape[2] or out.shape[3] < shape[3]:
        return None
    return {"out": out[:, :, : shape[2], : shape[3]].copy()}


def conv_shape_finding(case: dict, got: dict) -> Finding | None:
    """Which padding or stride would give the student's output size (no student call)."""
    x, K, _, stride, padding = case["args"]
    (H, W), (KH, KW) = x.shape[2:], K.shape[2:]
    shape = got["out"].shape[2:]
    for p, s, bug, what in ((0, stride, "padding ignored", "no padding"), (2 * padding, stride, "wrong padding",
                             "twice the padding"), (padding, 1, "wrong stride", "stride 1")):
        if (p, s) != (padding, stride) and shape == (conv.output_size(H, KH, s, p), conv.output_size(W, KW, s, p)):
            return Finding(f"your output size {shape} is the size {what} gives", bug, f"the convolution uses {what}",
                           PAD_LINE)
    return size_formula_finding(shape, ((H, KH), (W, KW)), stride, padding, PAD_LINE)


# Output-size formulas a student writes instead of (n + 2p - k) // s + 1, each the reference's formula on changed
# arguments or its result changed: (bug, the formula written, n, k, s, p -> the size it gives).
SIZE_VARIANTS = (
    ("output size off by one", "(n + 2*padding - k) // stride, without the + 1",
     lambda n, k, s, p: conv.output_size(n, k, s, p) - 1),
    ("padding counted once", "(n + padding - k) // stride + 1, the padding counted on one side only",
     lambda n, k, s, p: conv.output_size(n - p, k, s, p)),
    ("ceil instead of floor", "ceil((n + 2*padding - k) / stride) + 1, rounding up",
     lambda n, k, s, p: conv.output_size(n + s - 1, k, s, p)),
    ("kernel size not subtracted", "(n + 2*padding) // stride + 1, without - k",
     lambda n, k, s, p: conv.output_size(n, 0, s, p)),
)


def size_formula_finding(shape: tuple, axes: tuple, stride: int, padding: int, line: str) -> Finding | None:
    """Which output-size formula gives the student's (OH, OW) on every axis where it differs (no student call).

    ``axes`` are ``((H, KH), (W, KW))``; an axis the student got right may follow either formula, so a formula
    written wrongly for OH only is found too.
    """
    names = ("OH", "OW")
    right = [conv.output_size(n, k, stride, padding) for n, k in axes]
    wrong = [a for a in range(2) if shape[a] != right[a]]
    fits = []
    for bug, written, size in SIZE_VARIANTS:
        ours = [size(n, k, stride, padding) for n, k in axes]
        if wrong and all(shape[a] == ours[a] for a in wrong) and all(
                shape[a] in (ours[a], right[a]) for a in range(2)):
            fits.append((bug, written))
    if not fits:
        return None
    which = " and ".join(names[a] for a in wrong)
    verb = "are" if len(wrong) > 1 else "is"
    # Several formulas may give the same size on this case: name them all rather than pick one.
    return Finding(f"your {which} = {', '.join(str(shape[a]) for a in wrong)} is what "
                   f"{' or '.join(w for _, w in fits)} gives", " or ".join(b for b, _ in fits),
                   f"{which} {verb} computed as {' or as '.join(w for _, w in fits)}", line)


def conv_probes(run: Callable[[dict], np.ndarray]) -> list[Probe]:
    """A zero kernel (only the bias is left), one input channel, one kernel tap (only the window positions)."""

    def with_args(case, **changes):
        x, K, b, stride, padding = case["args"]
        a = {"x": x, "K": K, "b": b, "stride": stride, "padding": padding, **changes}
        return {**case, "args": (a["x"], a["K"], a["b"], a["stride"], a["padding"])}

    def probe(case, got):
        x, K, b, _, _ = case["args"]
        zero = with_args(case, K=np.zeros_like(K))
        out = attempt(lambda: run(zero))
        if out is not None and not same(_conv(zero), out):
            return Finding("with K = 0 your out is not b[f] everywhere", "bias term wrong",
                           "the bias is not added once per filter", CONV_LINE)
        tap = np.zeros_like(K)
        tap[:, :, 0, 0] = 1.0
        one = with_args(case, K=tap, b=np.zeros_like(b))
        out = attempt(lambda: run(one))
        if out is not None and not same(_conv(one), out):
            return Finding("with a kernel whose only tap is K[:, :, 0, 0] = 1 your out differs, so the windows are "
                           "misplaced", "windows misplaced", "the window of out[i, j] does not start at xp[i*stride, "
                           "j*stride]", PAD_LINE)
        if x.shape[1] > 1:
            single = with_args(case, x=x[:, :1].copy(), K=K[:, :1].copy())
            out = attempt(lambda: run(single))
            if out is not None and same(_conv(single), out):
                return Finding("with one input channel your out matches: the sum over the channels c is wrong",
                               "channels not summed", "the sum over c is not taken", CONV_LINE)
        return Finding("with K = 0 your out is the bias and with a one-tap kernel the windows are right, so the "
                       "kernel's taps are combined wrongly") if out is not None else None

    return [Probe("bias, windows, channels", probe)]


# ----------------------------------------------------------------------------- max-pool
def pool_suspects() -> list[Suspect]:
    """Reductions and window steps of max-pooling (after the catalogue)."""
    return [
        Suspect("minimum instead of max", "each window's minimum is taken",
                lambda c: {"out": -conv.maxpool_forward(-c["args"][0], c["args"][1], c["args"][2])[0]}, POOL_LINE),
        Suspect("wrong stride", "the windows move by the window size instead of the stride",
                lambda c: {"out": conv.maxpool_forward(c["args"][0], c["args"][1], c["args"][1])[0]}
                if c["args"][1] != c["args"][2] else None, POOL_LINE),
        *[Suspect("wrong stride", f"the output size is right but the window of out[i, j] starts at {what} "
                  "(the window does not move by the stride)", lambda c, step=step: _moved(
                      c, step(c), lambda cc, s: conv.maxpool_forward(cc["args"][0], cc["args"][1], s)[0],
                      lambda cc: conv.maxpool_forward(*cc["args"])[0]), POOL_LINE)
          for step, what in ((lambda c: 1, "x[i, j]"),)],
    ]


def pool_shape_finding(case: dict, got: dict) -> Finding | None:
    """Which output-size formula gives the student's pooled size (no padding, the window as the kernel)."""
    x, size, stride = case["args"]
    return size_formula_finding(got["out"].shape[2:], ((x.shape[2], size), (x.shape[3], size)), stride, 0,
                                POOL_LINE + "; OH = (H - size) // stride + 1")


def pool_probes(run: Callable[[dict], np.ndarray]) -> list[Probe]:
    """Every pixel of an image-channel equal: any reduction over any window gives that value."""

    def probe(case, got):
        x, size, stride = case["args"]
        flat = np.broadcast_to(x[:, :, :1, :1], x.shape).copy()
        c = {**case, "args": (flat, size, stride)}
        out = attempt(lambda: run(c))
        if out is None:
            return None
        if same(conv.maxpool_forward(flat, size, stride)[0], out):
            return Finding("when every pixel of a channel is equal your out matches, so the windows are right and "
                           "the reduction over a window is not the maximum", "not the maximum",
                           "the window's maximum is not taken", POOL_LINE)
        # A location only: windows, the output size, a reduction across channels or its start value all fit.
        return Finding("even when every pixel of a channel is equal your out differs, so more than the reduction "
                       "within a window is wrong (the windows, the output size, or what the maximum runs over)")

    return [Probe("constant channels", probe)]


# ----------------------------------------------------------------------------- the CNN of one frame
def _layers(params: dict, drop_first_relu: bool = False) -> tuple[dict, ...]:
    layers = crnn.standard_layers(params)
    return tuple(layer for k, layer in enumerate(layers) if not (drop_first_relu and k == 1))


def _features(frames: np.ndarray, params: dict, **changes) -> np.ndarray:
    return crnn.frame_features(frames, {**params, **changes})[0]


def _nhwc_rows(params: dict, frames: np.ndarray) -> np.ndarray:
    """dense1.W with rows re-ordered so that the reference's (channel, row, column) flatten reads what a
    (row, column, channel) flatten would: W'[c, i, j] = W[i, j, c].
    """
    F = params["conv1.K"].shape[0]
    _, _, H, W = frames.shape
    h, w = H // 2, W // 2
    idx = np.arange(F * h * w).reshape(h, w, F).transpose(2, 0, 1).ravel()  # (c, i, j) -> index in (i, j, c)
    return params["dense1.W"][idx]


def _average_pooled(frames: np.ndarray, params: dict) -> np.ndarray:
    """The CNN with the reference's layers, but the 2x2 pool averages (im2col windows, mean)."""
    layers = crnn.standard_layers(params)
    a, _ = crnn.cnn_forward(layers[:2], params, frames)  # conv1 -> ReLU
    N, F, H, W = a.shape
    win = conv.im2col(a.reshape(N * F, 1, H, W), 2, 2, 2, 0)
    p = win.mean(axis=1).reshape(N, F * (H // 2) * (W // 2))  # (N*F*h*w,) -> (N, D), channel-major
    return crnn.cnn_forward(layers[4:], params, p)[0]  # dense1 -> ReLU


def feature_suspects() -> list[Suspect]:
    """Stage bugs of the frame CNN (after the catalogue)."""

    def f(c, **changes):
        return {"features": _features(c["args"][0], c["args"][1], **changes)}

    def p(c):
        return c["args"][1]

    return [
        Suspect("first ReLU missing", "the ReLU after conv1 is left out",
                lambda c: {"features": crnn.cnn_forward(_layers(p(c), True), p(c), c["args"][0])[0]},
                FEATURES_LINE),
        Suspect("flatten order wrong", "the pooled maps are flattened row, column, channel (channels last) "
                "instead of channel, row, column", lambda c: f(c, **{"dense1.W": _nhwc_rows(p(c), c["args"][0])})
                if p(c)["conv1.K"].shape[0] > 1 else None, FLATTEN_LINE),
        Suspect("kernel flipped", "conv1's kernel is flipped (true convolution)",
                lambda c: f(c, **{"conv1.K": p(c)["conv1.K"][:, :, ::-1, ::-1].copy()}), CONV_LINE),
        Suspect("bias dropped", "the dense1 bias b_d is left out",
                lambda c: f(c, **{"dense1.b": np.zeros_like(p(c)["dense1.b"])}), FEATURES_LINE),
        Suspect("bias dropped", "the conv1 bias is left out",
                lambda c: f(c, **{"conv1.b": np.zeros_like(p(c)["conv1.b"])}), CONV_LINE),
        Suspect("average instead of max", "the 2x2 pool averages its window instead of taking the maximum",
                lambda c: {"features": _average_pooled(c["args"][0], p(c))}, POOL_LINE),
    ]


def _identity_dense(params: dict, frames: np.ndarray, F: int) -> dict:
    _, _, H, W = frames.shape
    D = F * (H // 2) * (W // 2)
    return {**params, "dense1.W": np.eye(D), "dense1.b": np.zeros(D)}


def _identity_conv(params: dict, C: int, F: int) -> dict:
    """conv1 that copies its input: filter f is the centre tap of channel f % C, zero bias.

    ``F >= 2`` filters keep the flatten order visible.
    """
    k = params["conv1.K"].shape[2]
    K = np.zeros((F, C, k, k))
    K[np.arange(F), np.arange(F) % C, k // 2, k // 2] = 1.0
    return {**params, "conv1.K": K, "conv1.b": np.zeros(F)}


def feature_probes(run: Callable[[dict], np.ndarray]) -> list[Probe]:
    """Make every stage but one transparent and see which one the student's error survives in."""

    def probe(case, got):
        frames, params = case["args"]
        C, F = frames.shape[1], params["conv1.K"].shape[0]

        def ok(frames_, params_):
            out = attempt(lambda: run({**case, "args": (frames_, params_)}))
            return None if out is None else same(_features(frames_, params_), out)

        dense_id = _identity_dense(params, frames, F)
        a = ok(frames, dense_id)
        if a:
            return Finding("with dense1.W = I and b_d = 0 your features (the flattened pooled maps) match, so conv, "
                           "ReLU, pool and flatten are right and dense1 or its ReLU is not", "dense stage wrong",
                           "dense1 or the final ReLU is wrong", "f = relu(p W + b_d)")
        both = _identity_dense(_identity_conv(params, C, 2 * C), frames, 2 * C)
        positive = np.abs(frames)
        b = ok(positive, both)
        if a is False and b:
            return Finding("with an identity kernel on nonnegative frames and dense1 = I your features match, so the "
                           "convolution stage is wrong", "convolution stage wrong", "conv1 (or the ReLU after it, "
                           "which nonnegative frames do not exercise) is wrong", CONV_LINE)
        blocks = np.repeat(np.repeat(positive[:, :, ::2, ::2], 2, axis=2), 2, axis=3)[:, :, : frames.shape[2],
                                                                                       : frames.shape[3]]
        if b is False and ok(blocks, both):
            return Finding("with identity conv and dense layers your features match only when every 2x2 block is "
                           "constant (max = mean): the pooling stage is wrong", "pooling stage wrong",
                           "the 2x2 max-pool is wrong", POOL_LINE)
        if b is False and ok(positive[:, :1].copy(), _identity_dense(_identity_conv(params, 1, 1), frames, 1)):
            return Finding("with identity conv and dense layers your features match for one channel and one filter "
                           "only: the flatten order is wrong", "flatten order wrong",
                           "the pooled maps are not flattened channel first", FLATTEN_LINE)
        return None

    return [Probe("stages", probe)]


# ----------------------------------------------------------------------------- the CRNN over frames
def _crnn(case: dict, X: np.ndarray | None = None, **changes) -> np.ndarray:
    X0, params = case["args"]
    return crnn.crnn_forward(X0 if X is None else X, {**params, **changes}, cells.STEP_FUNCTIONS[case["kind"]][0])[0]


def _batch_time_mixed(X: np.ndarray) -> np.ndarray:
    """The videos a ``reshape(T, B, M)`` reads: video b, frame t is flat frame t*B + b (flat order is b*T + t)."""
    B, T = X.shape[:2]
    flat = X.reshape(B * T, *X.shape[2:])  # (B, T, C, H, W) -> (B*T, C, H, W)
    return flat.reshape(T, B, *X.shape[2:]).swapaxes(0, 1).copy()  # (T, B, ...) -> (B, T, ...)


def crnn_suspects() -> list[Suspect]:
    """Frame-order, state and readout bugs of the CRNN (after the catalogue)."""

    def cell_state(c):
        if c["kind"] != "lstm":
            return None
        X, params = c["args"]
        C = crnn.crnn_forward(X, params, cells.STEP_FUNCTIONS["lstm"][0])[1]["rnn"]["C"]
        return {"y": C[:, -1] @ params["W_hy"] + params["b_y"]}

    return [
        Suspect("batch and time mixed", "the features are reshaped as (T, B, M) (frames of different videos mixed)",
                lambda c: {"y": _crnn(c, _batch_time_mixed(c["args"][0]))}
                if min(c["args"][0].shape[:2]) > 1 else None, RESHAPE_LINE),
        Suspect("cell state read", "y is read from the LSTM's cell state c instead of h", cell_state, CRNN_LINE),
        Suspect("state reset at every step", "every step starts from the zero state, so only the last frame counts",
                lambda c: {"y": _crnn(c, c["args"][0][:, -1:].copy())} if c["args"][0].shape[1] > 1 else None,
                CRNN_LINE),
        Suspect("bias dropped", "the readout bias b_y is left out",
                lambda c: {"y": _crnn(c, b_y=np.zeros_like(c["args"][1]["b_y"]))}, CRNN_LINE),
        Suspect("first frame skipped", "the loop starts at t=1 (frame 0 is never read)",
                lambda c: {"y": _crnn(c, c["args"][0][:, 1:].copy())} if c["args"][0].shape[1] > 2 else None,
                CRNN_LINE),
        Suspect("states averaged", "y is read from the mean of the states h_t over the frames instead of the last",
                lambda c: {"y": _states(c).mean(axis=1) @ c["args"][1]["W_hy"] + c["args"][1]["b_y"]}
                if c["args"][0].shape[1] > 1 else None, CRNN_LINE),
    ]


def _states(case: dict) -> np.ndarray:
    """The reference CRNN's states h_t, (B, T, H)."""
    X, params = case["args"]
    return crnn.crnn_forward(X, params, cells.STEP_FUNCTIONS[case["kind"]][0])[1]["rnn"]["H"]


def crnn_probes(run: Callable[[dict], np.ndarray]) -> list[Probe]:
    """The output gate shut (LSTM); one video; a still video (every frame equal); one frame; no readout."""

    def gate(case, got):
        if case["kind"] != "lstm":
            return None
        X, params = case["args"]
        closed = {**case, "args": (X, {**params, **closed_output_gate(params)})}
        moved = {**closed, "args": (X + 1.0, closed["args"][1])}
        return reads_cell_state(run, _crnn, closed, moved)

    def probe(case, got):
        X, params = case["args"]
        B, T = X.shape[:2]

        def ok(X_, **changes):
            c = {**case, "args": (X_, {**params, **changes})}
            out = attempt(lambda: run(c))
            return None if out is None else same(_crnn(c), out)

        if B > 1 and T > 1 and ok(X[:1].copy()):
            return Finding("with one video your y matches: frames of different videos are mixed",
                           "batch and time mixed", "the features of video b are not frames b*T .. b*T+T-1",
                           RESHAPE_LINE)
        still = np.repeat(X[:, :1], T, axis=1)
        if T > 1 and ok(still):
            return Finding("when every frame of a video is the same your y matches: the frames are read in the wrong "
                           "order or not all of them", "frames in the wrong order", "the cell does not read f_0 .. "
                           "f_{T-1} in order", CRNN_LINE)
        one = ok(X[:, :1].copy())
        if one and T > 1 and ok(still) is False:
            return Finding("with one frame your y matches, and with every frame equal it still differs (so the order "
                           "of frames is not the cause): the recurrence over the frames is wrong",
                           "recurrence over frames wrong", "a frame is skipped or the state is not carried from "
                           "frame to frame", CRNN_LINE)
        if one is False:
            head = ok(X[:, :1].copy(), W_hy=np.zeros_like(params["W_hy"]))
            if head is False:
                return Finding("already with one frame your y differs, and with W_hy = 0 your y is not b_y: the "
                               "readout is wrong", "wrong readout", "the readout is not h W_hy + b_y", CRNN_LINE)
            return Finding("already with one frame your y differs while the readout's bias is right: the features "
                           "or the cell step of frame 0 differ")
        return None

    return [Probe("output gate closed", gate), Probe("videos, frames, readout", probe)]

