"""The perturbation grammars of the crnn references: ``crnn_forward``, and its stages conv2d, max-pool, the CNN.

``crnn_forward``: the frame-to-feature hand-over, then the many-to-one recurrence.

``f = frame_features(X.reshape(B*T, C, H, W)).reshape(B, T, M)`` (the reference's ``simulator.crnn``), then the
many-to-one program of ``autograder.architecture_grammar`` on the features. Sites: ``frames``, how the features
reach the cell (video by video, time-major mixed, averaged over time into one step, every other frame), and every
site of the many-to-one grammar (which feature step t reads, the carry, what the readout reads and how, which
state ``y`` reads). ``program(case, {})`` is the reference (a test checks it).

The stages run the reference's ``simulator.conv`` functions on changed inputs (a flipped or transposed kernel, a
kernel with channels zeroed or scaled, a changed bias, an input padded on one side, another stride or window) or in
a changed order (no ReLU, ``abs``, a ReLU before the bias, another pool, a channels-last flatten).

Not covered: a ``crnn_forward`` whose own ``frame_features`` is wrong is explained by the stage probes of
``crnn_diagnosis``; bugs that change a size so the student's code raises get the raised-size explanation of
``crnn_checks``; slips at more than two sites.
"""

from __future__ import annotations

import numpy as np

from autograder import architecture_grammar
from autograder.crnn_diagnosis import (
    CONV_LINE,
    CRNN_LINE,
    FEATURES_LINE,
    FLATTEN_LINE,
    PAD_LINE,
    POOL_LINE,
    RESHAPE_LINE,
)
from autograder.grammar import Grammar, Option, Site, options
from simulator import conv, crnn


def _features(X: np.ndarray, params: dict, how: str) -> np.ndarray:
    B, T = X.shape[:2]
    F, _ = crnn.frame_features(X.reshape(B * T, *X.shape[2:]), params)  # (B*T, M)
    if how == "time-major":
        if min(B, T) < 2:
            raise ValueError("one video or one frame cannot be mixed")
        return F.reshape(T, B, -1).swapaxes(0, 1)  # (B*T, M) read as (T, B, M) -> (B, T, M)
    F = F.reshape(B, T, -1)  # (B*T, M) -> (B, T, M)
    return {"video": F, "mean": F.mean(axis=1, keepdims=True)}[how]


def _program(case: dict, ch: dict) -> dict:
    X, params = case["args"]
    F = _features(X, params, ch.get("frames", "video"))
    inner = {k: v for k, v in ch.items() if k != "frames"}
    return {"y": architecture_grammar.program("many_to_one")({"kind": case["kind"], "args": (F, params)}, inner)["Y"]}


def _framed(text: str) -> str:
    """The many-to-one grammar's words for a CRNN: its inputs are the frames' features f_t."""
    return text.replace("inputs", "frames").replace("input", "frame").replace("x_", "f_")


def grammar() -> Grammar:
    """The sites of ``crnn_forward`` (module docstring)."""
    frames = Site("frames", RESHAPE_LINE, options(
        ("time-major", "batch and time mixed", "the features are reshaped as (T, B, M) (frames of different videos "
         "mixed)"),
        ("mean", "frames averaged", "the features are averaged over time and the cell runs one step")))
    inner = architecture_grammar.grammar("many_to_one").sites
    sites = [frames, *(Site(s.name, CRNN_LINE if s.name != "readout" else s.line,
                            tuple(Option(o.value, _framed(o.bug), _framed(o.phrase)) for o in s.options))
                       for s in inner)]
    return Grammar(tuple(sites), _program)


def grammar_suspects() -> list:
    """Every one- and two-slip suspect of the CRNN's grammar (one-slip first)."""
    return grammar().suspects(pairs=True)


# ----------------------------------------------------------------------------- the stages: conv2d, max-pool, the CNN
def _conv(case: dict, ch: dict) -> dict:
    x, K, b, stride, padding = case["args"]
    K = {"as given": K, "flipped": K[:, :, ::-1, ::-1], "transposed": K.transpose(0, 1, 3, 2),
         "channels reversed": K[:, ::-1]}[ch.get("kernel", "as given")]
    C = K.shape[1]
    K = {"sum": K, "mean": K / C}.get(ch.get("channels", "sum"), K)
    if ch.get("channels") in ("first", "last"):
        keep = 0 if ch["channels"] == "first" else C - 1
        K = np.where(np.arange(C)[None, :, None, None] == keep, K, 0.0)
    b = {"once": b, "dropped": 0.0 * b, "twice": 2.0 * b, "times C": C * b}[ch.get("bias", "once")]
    pad = ch.get("pad", "both")
    if pad == "one side":
        x, padding = np.pad(x, ((0, 0), (0, 0), (0, 2 * padding), (0, 2 * padding))), 0
    else:
        padding = {"both": padding, "none": 0, "twice": 2 * padding}[pad]
    stride = 1 if ch.get("stride") == "ignored" else stride
    return {"out": conv.conv2d_forward(x, K, b, stride=stride, padding=padding)[0]}


def conv_grammar() -> Grammar:
    """Sites of ``conv2d_forward``: padding, stride, kernel layout, the sum over channels, the bias."""
    return Grammar((
        Site("pad", PAD_LINE, options(
            ("none", "padding ignored", "the input is not padded"),
            ("twice", "wrong padding", "2*padding zeros are added on every side"),
            ("one side", "padded on one side", "2*padding zeros are added after the last row and column only"))),
        Site("stride", PAD_LINE, options(("ignored", "wrong stride", "the stride is ignored (always 1)"),)),
        Site("kernel", CONV_LINE, options(
            ("flipped", "kernel flipped", "the kernel is flipped (true convolution)"),
            ("transposed", "kernel transposed", "the kernel's rows and columns are swapped"),
            ("channels reversed", "kernel channels reversed", "input channel c meets the kernel's channel C-1-c"))),
        Site("channels", CONV_LINE, options(
            ("first", "channels not summed", "only the first input channel is used"),
            ("last", "channels not summed", "only the last input channel is used"),
            ("mean", "channels averaged", "the sum over input channels is a mean"))),
        Site("bias", CONV_LINE, options(
            ("dropped", "bias dropped", "the bias b is left out"),
            ("twice", "bias added twice", "the bias is added twice"),
            ("times C", "bias added per channel", "the bias is added once per input channel (C * b[f])"))),
    ), _conv)


def _window_mean(x: np.ndarray, size: int, stride: int) -> np.ndarray:
    N, C, H, W = x.shape
    win = conv.im2col(x.reshape(N * C, 1, H, W), size, size, stride, 0)
    return win.mean(axis=1).reshape(N, C, conv.output_size(H, size, stride, 0), conv.output_size(W, size, stride, 0))


def _pool(case: dict, ch: dict) -> dict:
    x, size, stride = case["args"]
    size = size + ch.get("size", 0)
    stride = {"given": stride, "size": size, "1": 1}[ch.get("stride", "given")]
    if size < 1:
        raise ValueError("no window")
    how = ch.get("reduce", "max")
    if how == "mean":
        return {"out": _window_mean(x, size, stride)}
    if how == "sum":
        return {"out": _window_mean(x, size, stride) * size * size}
    if how == "over channels":  # the max over the channels too, broadcast back to every channel
        out = conv.maxpool_forward(x, size, stride)[0]
        return {"out": np.broadcast_to(out.max(axis=1, keepdims=True), out.shape).copy()}
    if how == "abs":  # the largest |x| of each window
        return {"out": conv.maxpool_forward(np.abs(x), size, stride)[0]}
    if how == "from zero":  # a running maximum started at 0 instead of the window's first entry
        return {"out": np.maximum(conv.maxpool_forward(x, size, stride)[0], 0.0)}
    sign = -1.0 if how == "min" else 1.0
    return {"out": sign * conv.maxpool_forward(sign * x, size, stride)[0]}


def pool_grammar() -> Grammar:
    """Sites of ``maxpool_forward``: the reduction, the stride, the window size."""
    return Grammar((
        Site("reduce", POOL_LINE, options(
            ("mean", "average instead of max", "each window is averaged"),
            ("sum", "sum instead of max", "each window is summed"),
            ("min", "minimum instead of max", "each window's minimum is taken"),
            ("over channels", "max over the channels too", "the maximum is taken over the channels as well as the "
             "window (axis=(1, 2, 3))"),
            ("from zero", "maximum started at 0", "the running maximum starts at 0, so a window whose entries are "
             "all negative gives 0"),
            ("abs", "max of absolute values", "each window's largest |x| is taken (np.abs before the max), not its "
             "largest x"))),
        Site("stride", POOL_LINE, options(
            ("size", "wrong stride", "the windows move by the window size instead of the stride"),
            ("1", "wrong stride", "the windows move by 1 instead of the stride"))),
        Site("size", POOL_LINE, options(
            (-1, "wrong window size", "the window is one smaller than size"),
            (1, "wrong window size", "the window is one larger than size"))),
    ), _pool)


def _cnn(case: dict, ch: dict) -> dict:
    frames, p = case["args"]
    K, b = p["conv1.K"], p["conv1.b"]
    K = K[:, :, ::-1, ::-1] if ch.get("kernel") == "flipped" else K
    b = {"once": b, "dropped": 0.0 * b, "twice": 2.0 * b}[ch.get("conv bias", "once")]
    k = K.shape[2]
    a, _ = conv.conv2d_forward(frames, K, b, stride=ch.get("conv stride", 1),
                               padding={"same": k // 2, "none": 0, "full": k - 1}[ch.get("padding", "same")])
    a = {"relu": np.maximum(a, 0.0), "none": a, "abs": np.abs(a)}[ch.get("relu1", "relu")]
    pool = ch.get("pool", "max 2")
    pooled = {"max 2": lambda: conv.maxpool_forward(a, 2, 2)[0], "none": lambda: a,
              "max 2 stride 1": lambda: conv.maxpool_forward(a, 2, 1)[0],
              "max 3": lambda: conv.maxpool_forward(a, 3, 3)[0], "mean 2": lambda: _window_mean(a, 2, 2)}[pool]()
    if ch.get("flatten") == "channels last":
        pooled = pooled.transpose(0, 2, 3, 1)  # (N, F, h, w) -> (N, h, w, F)
    flat = pooled.reshape(len(pooled), -1)  # (N, ...) -> (N, D)
    W, bd = p["dense1.W"], p["dense1.b"]
    if flat.shape[1] != W.shape[0]:
        raise ValueError("the flattened size does not fit dense1.W")
    how = ch.get("relu2", "relu")
    bias = 0.0 if ch.get("dense bias") == "dropped" else bd
    f = flat @ W + (0.0 if how == "before bias" else bias)
    f = {"relu": np.maximum(f, 0.0), "none": f, "abs": np.abs(f), "before bias": np.maximum(f, 0.0) + bias}[how]
    return {"features": f}


def cnn_grammar() -> Grammar:
    """Sites of ``frame_features``: conv1 (kernel, bias, padding, stride), the two ReLUs, the pool, the flatten."""
    return Grammar((
        Site("kernel", CONV_LINE, options(("flipped", "kernel flipped", "conv1's kernel is flipped"),)),
        Site("conv bias", CONV_LINE, options(
            ("dropped", "bias dropped", "the conv1 bias is left out"),
            ("twice", "bias added twice", "the conv1 bias is added twice"))),
        Site("padding", PAD_LINE, options(
            ("none", "padding ignored", "conv1 is not padded"),
            ("full", "wrong padding", "conv1 is padded by k-1"))),
        Site("conv stride", PAD_LINE, options((2, "wrong stride", "conv1 moves by 2"),)),
        Site("relu1", FEATURES_LINE, options(
            ("none", "first ReLU missing", "the ReLU after conv1 is left out"),
            ("abs", "abs instead of ReLU", "abs() is applied after conv1 instead of the ReLU"))),
        Site("pool", POOL_LINE, options(
            ("none", "pool missing", "the 2x2 max-pool is left out"),
            ("max 2 stride 1", "wrong stride", "the 2x2 pool moves by 1"),
            ("max 3", "wrong window size", "a 3x3 pool is used"),
            ("mean 2", "average instead of max", "the 2x2 pool averages its window"))),
        Site("flatten", FLATTEN_LINE, options(
            ("channels last", "flatten order wrong", "the pooled maps are flattened row, column, channel"),)),
        Site("dense bias", FEATURES_LINE, options(("dropped", "bias dropped", "the dense1 bias b_d is left out"),)),
        Site("relu2", FEATURES_LINE, options(
            ("none", "last ReLU missing", "the ReLU after dense1 is left out"),
            ("abs", "abs instead of ReLU", "abs() is applied after dense1 instead of the ReLU"),
            ("before bias", "ReLU before the bias", "the ReLU after dense1 is taken before b_d is added"))),
    ), _cnn)


STAGES = {"conv2d_forward": conv_grammar, "maxpool_forward": pool_grammar, "frame_features": cnn_grammar}


def stage_suspects(name: str) -> list:
    """Every one- and two-slip suspect of the stage ``name``'s grammar (one-slip first)."""
    return STAGES[name]().suspects(pairs=True)
