"""A convolutional recurrent network (CRNN): a CNN reads every frame, a recurrent cell reads the features in order.

Forward, for a batch of videos ``X (B, T, C, H, W)`` (frames in NCHW, see ``simulator.conv``):

1. every frame goes through the same CNN, a list of layers (``conv``, ``relu``, ``pool``, ``flatten``,
   ``dense``), giving one feature vector per frame: ``f_t = cnn(x_t)``, ``F (B, T, F)``;
2. the feature sequence goes through an architecture of ``simulator.architectures`` (any cell:
   RNN, LSTM or GRU): ``many_to_one`` reads the last state, ``y = h_T W_hy + b_y`` (B, K);
   ``many_to_many`` reads every state, ``y_t = h_t W_hy + b_y`` (B, T, K).

Backward is BPTT through the cell (``architectures``), which gives ``dF (B, T, F)``; then every frame's
``df_t`` goes back through the CNN. The CNN's weights are shared by all frames, so their gradient is
the sum over frames: ``dK = sum_{b, t} dK^{(b, t)}``.

Parameters: one flat dict of arrays (so ``simulator.optim`` / ``simulator.train`` update it in place):
CNN layers as ``"<layer>.<name>"`` (``conv1.K (F, C, KH, KW)``, ``conv1.b (F,)``, ``dense1.W (D, M)``,
``dense1.b (M,)``) and the architecture's own keys (the cell's ``W_x, W_h, b`` ... and ``W_hy, b_y``).

The forward cache keeps what the simulator animates, frame by frame: ``maps[layer]`` is each layer's
output with the batch and time axes first, ``(B, T, ...)``; ``features (B, T, F)``; ``rnn`` the
architecture cache (``H`` states, gates per step); ``Y``. ``frame_view(cache, b, t)`` picks one frame.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from simulator import architectures, conv
from simulator.validation import as_float_array, check_finite, check_option

LAYER_KINDS = ("conv", "relu", "pool", "flatten", "dense")
HEADS = ("many_to_one", "many_to_many")

#: A small CNN for 8x8 .. 16x16 frames: conv 3x3 (8 filters, same padding), ReLU, 2x2 max-pool, dense 32, ReLU.
DEFAULT_CNN = ({"kind": "conv", "filters": 8, "kernel": 3, "padding": 1}, {"kind": "relu"}, {"kind": "pool", "size": 2},
               {"kind": "flatten"}, {"kind": "dense", "units": 32}, {"kind": "relu"})


def name_layers(spec: Sequence[Mapping]) -> tuple[dict, ...]:
    """Give each layer of ``spec`` a name (``conv1``, ``relu1``, ``pool1``, ``flatten1``, ``dense1``, ``relu2`` ...).

    A layer is a dict: ``{"kind": "conv", "filters": F, "kernel": k, "stride": 1, "padding": 0}``,
    ``{"kind": "pool", "size": 2, "stride": size}``, ``{"kind": "dense", "units": M}``,
    ``{"kind": "relu"}``, ``{"kind": "flatten"}``. The CNN must end with a flat vector per frame
    (a ``flatten`` before any ``dense``, and after the last ``conv`` / ``pool``).
    """
    if isinstance(spec, Mapping) or not isinstance(spec, Sequence) or not spec:
        raise ValueError(f"cnn: expected a non-empty list of layer dicts, got {spec!r}")
    counts: dict[str, int] = {}
    layers, flat = [], False
    for k, layer in enumerate(spec):
        if not isinstance(layer, Mapping) or "kind" not in layer:
            raise ValueError(f"cnn[{k}]: expected a dict with a 'kind' key, got {layer!r}")
        kind = layer["kind"]
        check_option(f"cnn[{k}]['kind']", kind, LAYER_KINDS)
        if kind in ("conv", "pool") and flat:
            raise ValueError(f"cnn[{k}]: a {kind} layer after flatten; expected conv/pool layers before flatten")
        if kind == "dense" and not flat:
            raise ValueError(f"cnn[{k}]: a dense layer before flatten; expected a flatten layer first")
        flat = flat or kind == "flatten"
        counts[kind] = counts.get(kind, 0) + 1
        layers.append({**layer, "name": layer.get("name", f"{kind}{counts[kind]}")})
    if not flat:
        raise ValueError("cnn: no flatten layer; expected the CNN to end with one feature vector per frame")
    return tuple(layers)


# ----------------------------------------------------------------------------- the CNN on a batch of frames
def init_cnn(layers: Sequence[Mapping], frame_shape: tuple[int, int, int], *, seed: int = 0,
             dtype=np.float64) -> tuple[dict[str, np.ndarray], dict[str, tuple[int, ...]]]:
    """He-uniform weights ``U(-s, s)``, ``s = sqrt(6 / fan_in)``, zero biases, for named ``layers``.

    Returns the parameters and the output shape of every layer for one frame (e.g. ``conv1: (8, 12, 12)``).
    """
    rng = np.random.default_rng([seed, 7])
    shape = tuple(int(s) for s in frame_shape)
    params, shapes = {}, {}
    for layer in layers:
        name, kind = layer["name"], layer["kind"]
        if kind == "conv":
            F, k = int(layer["filters"]), int(layer["kernel"])
            stride, pad = int(layer.get("stride", 1)), int(layer.get("padding", 0))
            C, H, W = shape
            if min(F, k, stride) < 1 or pad < 0 or H + 2 * pad < k or W + 2 * pad < k:
                raise ValueError(f"cnn layer {name}: filters={F}, kernel={k}, stride={stride}, padding={pad} do not "
                                 f"fit a {shape} input; expected positive sizes and a kernel within the padded input")
            s = np.sqrt(6.0 / (C * k * k))
            params[f"{name}.K"] = rng.uniform(-s, s, size=(F, C, k, k)).astype(dtype)
            params[f"{name}.b"] = np.zeros(F, dtype=dtype)
            shape = (F, conv.output_size(H, k, stride, pad), conv.output_size(W, k, stride, pad))
        elif kind == "pool":
            size = int(layer.get("size", 2))
            stride = int(layer.get("stride", size))
            C, H, W = shape
            if size < 1 or stride < 1 or H < size or W < size:
                raise ValueError(f"cnn layer {name}: a {size}x{size} pool does not fit a {shape} input")
            shape = (C, conv.output_size(H, size, stride, 0), conv.output_size(W, size, stride, 0))
        elif kind == "flatten":
            shape = (int(np.prod(shape)),)
        elif kind == "dense":
            M, D = int(layer["units"]), shape[0]
            if M < 1:
                raise ValueError(f"cnn layer {name}: units={M}; expected a positive integer")
            s = np.sqrt(6.0 / D)
            params[f"{name}.W"] = rng.uniform(-s, s, size=(D, M)).astype(dtype)
            params[f"{name}.b"] = np.zeros(M, dtype=dtype)
            shape = (M,)
        shapes[name] = shape
    return params, shapes


def cnn_forward(layers: Sequence[Mapping], params: Mapping, frames: np.ndarray) -> tuple[np.ndarray, list]:
    """Run the CNN on a batch of frames: (N, C, H, W) -> features (N, F). Returns features and the layer caches."""
    x = frames
    caches = []
    for layer in layers:
        name, kind = layer["name"], layer["kind"]
        if kind == "conv":
            x, c = conv.conv2d_forward(x, params[f"{name}.K"], params[f"{name}.b"], stride=int(layer.get("stride", 1)),
                                       padding=int(layer.get("padding", 0)))
        elif kind == "relu":
            x, c = conv.relu_forward(x)
        elif kind == "pool":
            size = int(layer.get("size", 2))
            x, c = conv.maxpool_forward(x, size, int(layer.get("stride", size)))
        elif kind == "flatten":
            x, c = conv.flatten_forward(x)
        else:
            x, c = conv.dense_forward(x, params[f"{name}.W"], params[f"{name}.b"])
        caches.append((name, kind, c))
    return x, caches


def cnn_backward(dfeatures: np.ndarray, caches: list) -> tuple[np.ndarray, dict]:
    """Back through the CNN: dL/dfeatures (N, F) -> dL/dframes (N, C, H, W) and ``{"<layer>.<name>": grad}``."""
    d = dfeatures
    grads = {}
    for name, kind, c in reversed(caches):
        if kind == "conv":
            d, g = conv.conv2d_backward(d, c)
        elif kind == "relu":
            d, g = conv.relu_backward(d, c), {}
        elif kind == "pool":
            d, g = conv.maxpool_backward(d, c), {}
        elif kind == "flatten":
            d, g = conv.flatten_backward(d, c), {}
        else:
            d, g = conv.dense_backward(d, c)
        grads.update({f"{name}.{k}": v for k, v in g.items()})
    return d, grads


# ----------------------------------------------------------------------------- the CRNN
@dataclass
class CRNN:
    """A CNN (``layers``) per frame, then a cell and readout (``head``); ``params`` is one flat dict.

    ``step`` / ``step_backward``: optional student step functions for the cell (``architectures``).
    """

    layers: tuple[dict, ...]
    params: dict
    frame_shape: tuple[int, int, int]
    head: str = "many_to_one"
    activation: str = "tanh"
    reset_after: bool = True
    step: Callable | str | None = None
    step_backward: Callable | None = None
    shapes: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        check_option("head", self.head, HEADS)
        self.layers = name_layers(self.layers)
        if not isinstance(self.params, dict):
            raise ValueError(f"params: expected a dict of arrays, got {type(self.params).__name__}")

    @classmethod
    def create(cls, frame_shape: tuple[int, int, int], output_size: int, *, cnn: Sequence[Mapping] = DEFAULT_CNN,
               kind: str = "lstm", hidden_size: int = 16, head: str = "many_to_one", seed: int = 0,
               dtype=np.float64, activation: str = "tanh", reset_after: bool = True, **cell_init) -> CRNN:
        """A CRNN with fresh parameters for frames of ``frame_shape = (C, H, W)`` and ``output_size`` outputs."""
        if len(tuple(frame_shape)) != 3:
            raise ValueError(f"frame_shape: expected (C, H, W), got {frame_shape!r}")
        layers = name_layers(cnn)
        params, shapes = init_cnn(layers, frame_shape, seed=seed, dtype=dtype)
        F = shapes[layers[-1]["name"]]
        if len(F) != 1:
            raise ValueError(f"cnn: ends with shape {F}; expected one feature vector per frame")
        arch = architectures.init_params(kind, F[0], hidden_size, output_size, seed=seed, dtype=dtype, **cell_init)
        overlap = set(arch) & set(params)
        if overlap:
            raise ValueError(f"cnn: layer names {sorted(overlap)} collide with the cell's parameters")
        params.update(arch)
        return cls(layers, params, tuple(int(s) for s in frame_shape), head, activation, reset_after, shapes=shapes)

    @property
    def kind(self) -> str:
        return architectures.infer_kind(self.rnn_params())

    @property
    def feature_size(self) -> int:
        """``F``, the length of one frame's feature vector (the cell's input size)."""
        p = self.rnn_params()
        return p["W_xh" if "W_xh" in p else "W_x"].shape[0]

    def rnn_params(self) -> dict:
        """The architecture's part of ``params`` (the same arrays, not copies)."""
        return {k: v for k, v in self.params.items() if "." not in k}

    def forward(self, X) -> tuple[np.ndarray, dict]:
        return forward(self, X)

    def backward(self, dY, cache: dict) -> tuple[np.ndarray, dict]:
        return backward(dY, cache)

    def predict(self, X, batch_size: int = 256) -> np.ndarray:
        """Outputs ``Y`` for many videos, computed in batches (no cache kept)."""
        X = np.asarray(X)
        return np.concatenate([forward(self, X[k : k + batch_size])[0] for k in range(0, len(X), batch_size)])


def _check_videos(model: CRNN, X) -> np.ndarray:
    X = as_float_array("X", X, ndim=5)
    B, T = X.shape[:2]
    if B < 1 or T < 1 or X.shape[2:] != model.frame_shape:
        raise ValueError(f"X: expected videos (B, T, C, H, W) with (C, H, W) = {model.frame_shape} and B, T >= 1, "
                         f"got shape {X.shape}")
    check_finite("X", X)
    return X.astype(model.params["W_hy"].dtype, copy=False)


def forward(model: CRNN, X) -> tuple[np.ndarray, dict]:
    """CRNN forward over every frame.

    Inputs:
    - model: a ``CRNN``.
    - X: (B, T, C, H, W) videos (or rows of digit images sliced into T segments).

    Returns:
    - Y: (B, K) for ``many_to_one``, (B, T, K) for ``many_to_many``.
    - cache: ``X``, ``cnn`` (layer caches over all B*T frames), ``maps`` (layer name -> (B, T, ...)
      output), ``features`` (B, T, F), ``rnn`` (the architecture cache: ``H`` (B, T, H), per-step gates),
      ``H``, ``Y``, ``layers``, ``head``.
    """
    if not isinstance(model, CRNN):
        raise ValueError(f"model: expected a simulator.crnn.CRNN, got {type(model).__name__}")
    X = _check_videos(model, X)
    B, T = X.shape[:2]
    frames = X.reshape(B * T, *model.frame_shape)  # (B, T, C, H, W) -> (B*T, C, H, W)
    feats, cnn_caches = cnn_forward(model.layers, model.params, frames)
    F = feats.reshape(B, T, -1)  # (B*T, F) -> (B, T, F)
    arch_forward = architectures.FORWARD[model.head]
    Y, rnn_cache = arch_forward(F, model.rnn_params(), model.step, step_backward=model.step_backward,
                                activation=model.activation, reset_after=model.reset_after)
    maps = {name: c["out"].reshape(B, T, *c["out"].shape[1:]) for name, _, c in cnn_caches}  # (B*T, ...) -> (B, T, ...)
    cache = {"X": X, "cnn": cnn_caches, "maps": maps, "features": F, "rnn": rnn_cache, "H": rnn_cache["H"], "Y": Y,
             "layers": model.layers, "head": model.head}
    return Y, cache


def backward(dY, cache: dict, *, record: bool = False) -> tuple[np.ndarray, dict]:
    """BPTT through the cell and readout, then back through the CNN for every frame.

    Inputs: dY (the shape of ``Y``); cache from ``forward``; record (keep per-step RNN gradients in
    ``cache["rnn"]["grads"]``, see ``architectures``).
    Returns: ``dX (B, T, C, H, W)`` and grads with the keys and shapes of ``model.params``.
    """
    if not isinstance(cache, Mapping) or "rnn" not in cache or "cnn" not in cache:
        raise ValueError("cache: expected the cache returned by simulator.crnn.forward")
    arch_backward = architectures.BACKWARD[cache["head"]]
    dF, grads = arch_backward(dY, cache["rnn"], record=record)  # dF (B, T, F)
    X = cache["X"]
    B, T = X.shape[:2]
    dframes, cnn_grads = cnn_backward(dF.reshape(B * T, -1), cache["cnn"])  # (B, T, F) -> (B*T, F)
    grads.update(cnn_grads)
    return dframes.reshape(X.shape), grads  # (B*T, C, H, W) -> (B, T, C, H, W)


def frame_view(cache: Mapping, b: int = 0, t: int = 0) -> dict:
    """Everything about frame ``t`` of video ``b``, for the page that animates a CRNN.

    Returns ``frame`` (C, H, W), ``maps`` (layer name -> that layer's output for this frame),
    ``features`` (F,), ``h`` (H,) the cell's state after this frame, ``c`` (LSTM cell state, else None),
    ``steps`` the cell's named cache at this step sliced to video ``b`` (gates ``i, f, g, o`` ...),
    and ``y`` the output emitted at this step (None if this step emits nothing).
    """
    X = cache["X"]
    B, T = X.shape[:2]
    if not (0 <= b < B and 0 <= t < T):
        raise ValueError(f"b, t: got ({b}, {t}); expected 0 <= b < {B} and 0 <= t < {T}")
    rnn = cache["rnn"]
    step_cache = rnn["steps"][t]
    step = {} if not isinstance(step_cache, Mapping) else {  # a student's step may keep any cache
        k: v[b] for k, v in step_cache.items() if isinstance(v, np.ndarray) and v.ndim == 2}
    Y = cache["Y"]
    if cache["head"] == "many_to_many":
        y = Y[b, t]
    else:
        y = Y[b] if t == T - 1 else None
    return {"frame": X[b, t], "maps": {k: v[b, t] for k, v in cache["maps"].items()},
            "features": cache["features"][b, t], "h": rnn["H"][b, t],
            "c": None if rnn["C"] is None else rnn["C"][b, t], "steps": step, "y": y}


# ----------------------------------------------------------------------------- the exercise's fixed CNN
def standard_layers(params: Mapping) -> tuple[dict, ...]:
    """The CNN of the ``crnn`` exercise, sized from ``params``: conv1 ('same' padding, stride 1) -> ReLU ->
    2x2 max-pool -> flatten -> dense1 -> ReLU. ``conv1.K (F, C, k, k)`` with odd ``k``, ``dense1.W (D, M)``.
    """
    for key, ndim in (("conv1.K", 4), ("conv1.b", 1), ("dense1.W", 2), ("dense1.b", 1)):
        if not isinstance(params, Mapping) or not isinstance(params.get(key), np.ndarray) or params[key].ndim != ndim:
            raise ValueError(f"params[{key!r}]: expected a {ndim}-D numpy array (keys conv1.K, conv1.b, dense1.W, "
                             "dense1.b)")
    F, _, k, k2 = params["conv1.K"].shape
    if k != k2 or k % 2 == 0:
        raise ValueError(f"params['conv1.K']: expected square kernels of odd size, got {k}x{k2}")
    return name_layers(({"kind": "conv", "filters": F, "kernel": k, "padding": k // 2}, {"kind": "relu"},
                        {"kind": "pool", "size": 2}, {"kind": "flatten"},
                        {"kind": "dense", "units": params["dense1.W"].shape[1]}, {"kind": "relu"}))


def frame_features(frames, params: Mapping) -> tuple[np.ndarray, list]:
    """The exercise's CNN (``standard_layers``) on a batch of frames: (N, C, H, W) -> features (N, M).

    ``f = relu(flatten(maxpool(relu(conv(x, K, b, padding = k // 2)))) W + b_d)``. Returns features
    and the layer caches.
    """
    frames = as_float_array("frames", frames, ndim=4)
    return cnn_forward(standard_layers(params), params, frames)


def crnn_forward(X, params: Mapping, step=None, **options) -> tuple[np.ndarray, dict]:
    """Many-to-one CRNN with the exercise's CNN: ``y = h_T W_hy + b_y``, ``h_t = cell(f_t, h_{t-1})``,
    ``f_t = frame_features(x_t)``.

    Inputs: X (B, T, C, H, W); params: ``conv1.K, conv1.b, dense1.W, dense1.b``, the cell's, ``W_hy, b_y``;
    step: None, a kind or a step function (``architectures``); options: ``activation``, ``reset_after``.
    Returns: y (B, K) and the cache of ``forward``.
    """
    X = as_float_array("X", X, ndim=5)
    model = CRNN(standard_layers(params), dict(params), tuple(X.shape[2:]), "many_to_one", step=step, **options)
    return forward(model, X)
