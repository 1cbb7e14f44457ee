"""Load cells from PyTorch and Keras 3 recurrent layers and export them back, converting gate orders and biases.

Our layout (DESIGN.md, row-major like Keras kernels): ``a = x W_x + h_prev W_h + b`` with ``W_x (D, nH)``,
``W_h (H, nH)``; gate blocks are columns. The frameworks differ from it as follows.

PyTorch (``nn.RNN``, ``nn.LSTM``, ``nn.GRU``; one layer, ``batch_first=True``, ``bias=True``)

* Weights are stored transposed, ``weight_ih_l0 (nH, D)`` and ``weight_hh_l0 (nH, H)``, gate blocks are
  rows: ``W_x = weight_ih_l0^T``, ``W_h = weight_hh_l0^T``.
* Two biases, ``bias_ih_l0`` and ``bias_hh_l0``. For the RNN and the LSTM they are only ever added
  together, so ``b_h = b = bias_ih + bias_hh``; exporting puts our bias in ``bias_ih`` and zeros in
  ``bias_hh`` (same function, different split, so ``to_torch(from_torch(m))`` equals ``m`` as a function,
  not parameter by parameter).
* LSTM gate order ``i, f, g, o`` (ours too).
* GRU gate order ``r, z, n`` (ours ``z, r, n``): the first two blocks are swapped on the way in and out.
  PyTorch's candidate is ``n = tanh(x W_in + b_in + r * (h W_hn + b_hn))``: the recurrent bias sits
  inside the reset product, which is our ``reset_after=True`` with ``b_x = bias_ih`` and
  ``b_h = bias_hh`` (reordered). PyTorch has no reset-before GRU, so ``to_torch`` refuses
  ``reset_after=False``.

Keras 3 (``SimpleRNN``, ``LSTM``, ``GRU``; ``use_bias=True``, ``go_backwards=False``)

* ``kernel (D, nH)`` and ``recurrent_kernel (H, nH)`` are already our row-major ``W_x`` and ``W_h``.
* ``SimpleRNN``: one bias ``(H,)``; activation ``tanh`` or ``relu``.
* ``LSTM``: one bias ``(4H,)``, gate order ``i, f, c, o`` (``c`` is our candidate ``g``); activation
  ``tanh`` and recurrent activation ``sigmoid`` only.
* ``GRU``: gate order ``z, r, h`` (``h`` is our candidate ``n``), the same as ours.
  ``reset_after=True`` (default): bias ``(2, 3H)``, row 0 the input bias ``b_x``, row 1 the recurrent
  bias ``b_h``. ``reset_after=False`` (Cho et al. 2014): one bias ``(3H,)``; since every recurrent bias
  then adds outside the reset product, it is our ``b_x`` with ``b_h = 0``, and exporting uses
  ``b_x + b_h``.

Loaded parameters are fresh, writable, C-contiguous NumPy arrays (never views of framework memory), in
float64 if the layer is float64 and float32 if it is float32. torch and keras are imported lazily, only
inside the functions that need them.
"""

from __future__ import annotations

import itertools
import json
import re
from dataclasses import dataclass, field

import numpy as np

from simulator import cells, model_files, sequence
from simulator.cells import Cell

TORCH_SUPPORTED = ("one-layer, unidirectional nn.RNN (tanh or relu), nn.LSTM (no projection) or nn.GRU "
                   "with batch_first=True and bias=True, in float32 or float64")
KERAS_SUPPORTED = ("keras.layers.SimpleRNN (tanh or relu), LSTM (tanh/sigmoid) or GRU (tanh/sigmoid, "
                   "reset_after True or False) with use_bias=True and go_backwards=False, float32 or float64")


def _swap_zr(w: np.ndarray, H: int, axis: int) -> np.ndarray:
    """Swap the first two gate blocks of size ``H`` along ``axis`` (PyTorch r,z,n <-> our z,r,n)."""
    idx = np.r_[H : 2 * H, 0:H, 2 * H : 3 * H]
    return np.take(w, idx, axis=axis)


def _as_param(a, dtype) -> np.ndarray:
    return np.array(a, dtype=dtype, order="C", copy=True)


# ----------------------------------------------------------------------------- PyTorch
def _torch_kind(module) -> str:
    from torch import nn

    for cls, kind in ((nn.LSTM, "lstm"), (nn.GRU, "gru"), (nn.RNN, "rnn")):
        if isinstance(module, cls):
            return kind
    raise ValueError(f"module: got {type(module).__name__}; expected a {TORCH_SUPPORTED}")


def from_torch(module) -> Cell:
    """A ``Cell`` with the weights of a PyTorch ``nn.RNN``, ``nn.LSTM`` or ``nn.GRU`` (conventions above).

    Inputs:
    - module: one layer, unidirectional, ``batch_first=True``, ``bias=True`` (LSTM without ``proj_size``).

    Returns:
    - Cell of kind ``"rnn"`` (activation from ``nonlinearity``), ``"lstm"`` or ``"gru"``
      (``reset_after=True``), with float64 parameters if the module is double, float32 if it is float.
    """
    import torch

    kind = _torch_kind(module)
    problems = []
    if module.num_layers != 1:
        problems.append(f"num_layers={module.num_layers}")
    if module.bidirectional:
        problems.append("bidirectional=True")
    if not module.batch_first:
        problems.append("batch_first=False")
    if not module.bias:
        problems.append("bias=False")
    if getattr(module, "proj_size", 0):
        problems.append(f"proj_size={module.proj_size}")
    if problems:
        raise ValueError(f"module: got {type(module).__name__} with {', '.join(problems)}; "
                         f"expected a {TORCH_SUPPORTED}")
    w_ih = module.weight_ih_l0.detach().cpu()
    dtypes = {torch.float32: np.float32, torch.float64: np.float64}
    if w_ih.dtype not in dtypes:
        raise ValueError(f"module: dtype {w_ih.dtype} is not supported; expected {TORCH_SUPPORTED}")
    dtype = dtypes[w_ih.dtype]
    W_ih = w_ih.numpy()  # (nH, D)
    W_hh = module.weight_hh_l0.detach().cpu().numpy()  # (nH, H)
    b_ih = module.bias_ih_l0.detach().cpu().numpy()  # (nH,)
    b_hh = module.bias_hh_l0.detach().cpu().numpy()  # (nH,)
    return cell_from_torch_arrays(kind, W_ih, W_hh, b_ih, b_hh, nonlinearity=getattr(module, "nonlinearity", "tanh"),
                                  dtype=dtype, name=f"torch nn.{type(module).__name__}")


def cell_from_torch_arrays(kind: str, W_ih: np.ndarray, W_hh: np.ndarray, b_ih: np.ndarray, b_hh: np.ndarray, *,
                           nonlinearity: str = "tanh", dtype=np.float32, name: str = "") -> Cell:
    """A ``Cell`` from one layer of PyTorch weights (``weight_ih_l<k> (nH, D)``, ``weight_hh_l<k> (nH, H)``,
    ``bias_ih_l<k>``, ``bias_hh_l<k>`` ``(nH,)``), converted as the module docstring says.
    """
    H = W_hh.shape[1]
    if kind == "rnn":
        params = {"W_xh": W_ih.T, "W_hh": W_hh.T, "b_h": b_ih + b_hh}
        return Cell("rnn", {k: _as_param(v, dtype) for k, v in params.items()}, activation=nonlinearity, name=name)
    if kind == "lstm":
        params = {"W_x": W_ih.T, "W_h": W_hh.T, "b": b_ih + b_hh}
        return Cell("lstm", {k: _as_param(v, dtype) for k, v in params.items()}, name=name)
    params = {"W_x": _swap_zr(W_ih, H, 0).T, "W_h": _swap_zr(W_hh, H, 0).T,
              "b_x": _swap_zr(b_ih, H, 0), "b_h": _swap_zr(b_hh, H, 0)}
    return Cell("gru", {k: _as_param(v, dtype) for k, v in params.items()}, reset_after=True, name=name)


def _check_cell(cell) -> None:
    if not isinstance(cell, Cell):
        raise ValueError(f"cell: expected a simulator.cells.Cell, got {type(cell).__name__}")
    cell.check_params()


def to_torch(cell: Cell):
    """A new PyTorch module (``batch_first=True``) computing the same function as ``cell``.

    ``nn.RNN`` / ``nn.LSTM``: our bias goes to ``bias_ih_l0`` and ``bias_hh_l0`` is zero.
    ``nn.GRU``: gates reordered to ``r, z, n``; only ``reset_after=True`` cells can be exported.
    The module has the cell's dtype (float64 -> double) and holds copies of the weights.
    """
    import torch
    from torch import nn

    _check_cell(cell)
    if cell.kind == "gru" and not cell.reset_after:
        raise ValueError("cell: got a GRU with reset_after=False; expected reset_after=True, the only GRU "
                         "PyTorch implements (use to_keras for the reset-before GRU)")
    D, H, p = cell.input_size, cell.hidden_size, cell.params
    dtype = torch.float64 if cell.dtype == np.float64 else torch.float32
    if cell.kind == "rnn":
        module = nn.RNN(D, H, nonlinearity=cell.activation, batch_first=True, dtype=dtype)
        weights = (p["W_xh"].T, p["W_hh"].T, p["b_h"], np.zeros_like(p["b_h"]))
    elif cell.kind == "lstm":
        module = nn.LSTM(D, H, batch_first=True, dtype=dtype)
        weights = (p["W_x"].T, p["W_h"].T, p["b"], np.zeros_like(p["b"]))
    else:
        module = nn.GRU(D, H, batch_first=True, dtype=dtype)
        weights = (_swap_zr(p["W_x"].T, H, 0), _swap_zr(p["W_h"].T, H, 0),
                   _swap_zr(p["b_x"], H, 0), _swap_zr(p["b_h"], H, 0))
    targets = (module.weight_ih_l0, module.weight_hh_l0, module.bias_ih_l0, module.bias_hh_l0)
    with torch.no_grad():
        for target, w in zip(targets, weights, strict=True):
            target.copy_(torch.from_numpy(np.ascontiguousarray(w)))
    return module


# ----------------------------------------------------------------------------- Keras
def _keras_kind(layer) -> str:
    import keras

    for cls, kind in ((keras.layers.LSTM, "lstm"), (keras.layers.GRU, "gru"), (keras.layers.SimpleRNN, "rnn")):
        if isinstance(layer, cls):
            return kind
    raise ValueError(f"layer: got {type(layer).__name__}; expected a {KERAS_SUPPORTED}")


def _activation_name(fn) -> str:
    return getattr(fn, "__name__", repr(fn))


def from_keras(layer) -> Cell:
    """A ``Cell`` with the weights of a built Keras 3 ``SimpleRNN``, ``LSTM`` or ``GRU`` (conventions above).

    Inputs:
    - layer: built (called once or ``build((None, None, D))``), ``use_bias=True``, ``go_backwards=False``.

    Returns:
    - Cell of kind ``"rnn"``, ``"lstm"`` or ``"gru"`` (``reset_after`` as the layer's), float64 parameters
      for a float64 layer, float32 for a float32 layer. Dropout settings only act in training and are ignored.
    """
    kind = _keras_kind(layer)
    cell_layer = layer.cell
    problems = []
    if not cell_layer.use_bias:
        problems.append("use_bias=False")
    if layer.go_backwards:
        problems.append("go_backwards=True")
    act = _activation_name(cell_layer.activation)
    allowed = ("tanh", "relu") if kind == "rnn" else ("tanh",)
    if act not in allowed:
        problems.append(f"activation={act!r}")
    if kind != "rnn" and _activation_name(cell_layer.recurrent_activation) != "sigmoid":
        problems.append(f"recurrent_activation={_activation_name(cell_layer.recurrent_activation)!r}")
    compute, variable = str(getattr(layer, "compute_dtype", "")), str(getattr(layer, "variable_dtype", ""))
    if compute != variable:
        problems.append(f"a mixed dtype policy (compute {compute}, variables {variable})")
    if problems:
        raise ValueError(f"layer: got {type(layer).__name__} with {', '.join(problems)}; expected a {KERAS_SUPPORTED}")
    if not layer.built or not layer.weights:
        raise ValueError(f"layer: got an unbuilt {type(layer).__name__} (no weights yet); expected a built layer: "
                         "call it on an input or layer.build((None, None, D)) first")
    kernel, recurrent, bias = (np.asarray(w) for w in layer.get_weights())
    if kernel.dtype.type not in (np.float32, np.float64):
        raise ValueError(f"layer: dtype {kernel.dtype} is not supported; expected {KERAS_SUPPORTED}")
    return cell_from_keras_arrays(kind, kernel, recurrent, bias, activation=act,
                                  reset_after=bool(getattr(cell_layer, "reset_after", True)),
                                  dtype=kernel.dtype.type, name=f"keras {type(layer).__name__}")


def cell_from_keras_arrays(kind: str, kernel: np.ndarray, recurrent: np.ndarray, bias: np.ndarray, *,
                           activation: str = "tanh", reset_after: bool = True, dtype=np.float32,
                           name: str = "") -> Cell:
    """A ``Cell`` from Keras weights (``kernel (D, nH)``, ``recurrent_kernel (H, nH)``, ``bias``), converted as
    the module docstring says (GRU bias ``(2, 3H)`` with ``reset_after``, else ``(3H,)``).
    """
    if kind == "rnn":
        params = {"W_xh": kernel, "W_hh": recurrent, "b_h": bias}
        return Cell("rnn", {k: _as_param(v, dtype) for k, v in params.items()}, activation=activation, name=name)
    if kind == "lstm":
        params = {"W_x": kernel, "W_h": recurrent, "b": bias}
        return Cell("lstm", {k: _as_param(v, dtype) for k, v in params.items()}, name=name)
    if reset_after:
        b_x, b_h = bias[0], bias[1]  # (2, 3H) -> two (3H,)
    else:
        b_x, b_h = bias, np.zeros_like(bias)
    params = {"W_x": kernel, "W_h": recurrent, "b_x": b_x, "b_h": b_h}
    return Cell("gru", {k: _as_param(v, dtype) for k, v in params.items()}, reset_after=reset_after, name=name)


def to_keras(cell: Cell):
    """A new, built Keras 3 layer (``return_sequences=True``) computing the same function as ``cell``.

    ``SimpleRNN`` with the cell's activation, ``LSTM``, or ``GRU`` with the cell's ``reset_after``
    (reset before: the bias is ``b_x + b_h``). The layer has the cell's dtype and copies of its weights.
    Keras must already be importable (``KERAS_BACKEND`` set to an installed backend).
    """
    import keras

    _check_cell(cell)
    D, H, p = cell.input_size, cell.hidden_size, cell.params
    dtype = "float64" if cell.dtype == np.float64 else "float32"
    if cell.kind == "rnn":
        layer = keras.layers.SimpleRNN(H, activation=cell.activation, return_sequences=True, dtype=dtype)
        weights = [p["W_xh"], p["W_hh"], p["b_h"]]
    elif cell.kind == "lstm":
        layer = keras.layers.LSTM(H, return_sequences=True, dtype=dtype)
        weights = [p["W_x"], p["W_h"], p["b"]]
    else:
        layer = keras.layers.GRU(H, reset_after=cell.reset_after, return_sequences=True, dtype=dtype)
        bias = np.stack([p["b_x"], p["b_h"]]) if cell.reset_after else p["b_x"] + p["b_h"]  # (2, 3H) or (3H,)
        weights = [p["W_x"], p["W_h"], bias]
    layer.build((None, None, D))
    layer.set_weights([np.array(w, copy=True) for w in weights])
    return layer


# ----------------------------------------------------------------------------- model files
# Layers that are the identity at inference: skipped, with a note.
INFERENCE_IDENTITY = ("Dropout", "SpatialDropout1D", "GaussianNoise", "GaussianDropout", "AlphaDropout",
                      "ActivityRegularization")
KERAS_CELLS = {"SimpleRNN": "rnn", "LSTM": "lstm", "GRU": "gru"}
DENSE_ACTIVATIONS = ("linear", "sigmoid", "softmax", "tanh", "relu")
FILE_SUPPORTED = ("[Embedding] -> SimpleRNN/LSTM/GRU (one or more) -> [Dense ...]; Dropout layers are skipped")
BLOCKS = {"rnn": 1, "lstm": 4, "gru": 3}


@dataclass
class Layer:
    """One recognised layer of a loaded model.

    - role ``"embedding"``: ``params = {"E": (V, E)}``; ``options``: ``mask_zero``.
    - role ``"recurrent"``: ``cell`` (our ``Cell``, ``params`` is ``cell.params``); ``options``:
      ``return_sequences``.
    - role ``"dense"``: ``params = {"W": (H_in, O), "b": (O,)}`` (``y = act(h W + b)``); ``options``: ``activation``.
    """

    role: str
    name: str
    params: dict
    cell: Cell | None = None
    options: dict = field(default_factory=dict)


@dataclass
class StackRun:
    """One forward pass through a loaded model: each recurrent layer's input ``(B, T, D_k)``, output
    ``(B, T, H_k)`` and ``sequence.forward`` cache, and the Dense head's output at every step ``(B, T, O)``.
    """

    inputs: list[np.ndarray]
    outputs: list[np.ndarray]
    caches: list[dict]
    head: np.ndarray | None


@dataclass
class LoadedModel:
    """The recognised layers of a model file, in order (iterate it, index it, ``len`` it)."""

    file: str
    format: str
    layers: list[Layer]
    notes: list[str] = field(default_factory=list)
    vocabulary: tuple[str, ...] | None = None

    def __iter__(self):
        return iter(self.layers)

    def __len__(self) -> int:
        return len(self.layers)

    def __getitem__(self, k: int) -> Layer:
        return self.layers[k]

    @property
    def embedding(self) -> Layer | None:
        return next((x for x in self.layers if x.role == "embedding"), None)

    @property
    def recurrent(self) -> list[Layer]:
        return [x for x in self.layers if x.role == "recurrent"]

    @property
    def dense(self) -> list[Layer]:
        return [x for x in self.layers if x.role == "dense"]

    @property
    def dtype(self) -> np.dtype:
        return self.recurrent[0].cell.dtype

    def embed(self, ids) -> np.ndarray:
        """Word ids ``(B, T)`` (or ``(T,)``) through the Embedding: ``X = E[ids]``, ``(B, T, E)``."""
        if self.embedding is None:
            raise ValueError(f"ids: {self.file} has no Embedding layer; give the inputs as X (B, T, D)")
        arr = np.asarray(ids)
        if arr.ndim == 1:
            arr = arr[None]
        V = self.embedding.params["E"].shape[0]
        if arr.ndim != 2 or arr.dtype.kind not in "iu" or arr.size == 0:
            raise ValueError(f"ids: expected integer word ids of shape (B, T), got {arr.dtype} {arr.shape}")
        if arr.min() < 0 or arr.max() >= V:
            raise ValueError(f"ids: expected ids from 0 to {V - 1} (the Embedding's input_dim), got "
                             f"{int(arr.min())} .. {int(arr.max())}")
        return self.embedding.params["E"][arr]  # (B, T) -> (B, T, E)

    def run(self, inputs, cells: dict[int, Cell] | None = None) -> StackRun:
        """Forward through every recurrent layer (each takes the previous one's full sequence), then the
        Dense head applied to the top layer's ``h_t`` at every step: for a many-to-one model, the head at
        step ``t`` is what the model outputs for the sequence cut after ``t``.

        Inputs: integer ids ``(B, T)`` or ``(T,)`` when the model has an Embedding, else ``X (B, T, D)`` (also
        with an Embedding: float inputs then go straight to the first recurrent layer). ``cells`` replaces
        recurrent layer ``k``'s cell by another one of the same sizes (e.g. a copy with edited weights).
        """
        arr = np.asarray(inputs)
        if self.embedding is not None and arr.dtype.kind in "iu":
            X = self.embed(arr)
        else:
            X = arr.astype(self.dtype, copy=False)
        xs, hs, caches = [], [], []
        for k, layer in enumerate(self.recurrent):
            xs.append(X)
            X, cache = sequence.forward((cells or {}).get(k, layer.cell), X)
            hs.append(X)
            caches.append(cache)
        head = None
        if self.dense:
            head = X
            for layer in self.dense:
                head = dense_forward(head, layer.params, layer.options["activation"])
        return StackRun(xs, hs, caches, head)


def dense_forward(h: np.ndarray, params: dict, activation: str) -> np.ndarray:
    """``y = act(h W + b)`` on the last axis; ``act`` linear, sigmoid, softmax (over outputs), tanh or relu."""
    a = h @ params["W"] + params["b"]  # (..., O)
    if activation == "sigmoid":
        return cells.sigmoid(a)
    if activation == "softmax":
        e = np.exp(a - a.max(axis=-1, keepdims=True))
        return e / e.sum(axis=-1, keepdims=True)
    if activation == "tanh":
        return np.tanh(a)
    if activation == "relu":
        return np.maximum(a, 0)
    return a


def load_file(source, *, name: str | None = None, max_bytes: int = model_files.MAX_BYTES) -> LoadedModel:
    """The recognised layers of a model file, in order, each recurrent one as our ``Cell``.

    Inputs:
    - source: a path or the file's bytes; ``.keras``, legacy Keras ``.h5``, ``.safetensors``, ``.npz`` or
      PyTorch ``.pt`` (a state_dict; needs torch). Nothing in the file is executed (see ``model_files``).
    - name: the name used in messages; max_bytes: the size cap.

    Returns a ``LoadedModel``: ``[Embedding] -> recurrent layers -> [Dense ...]``. Raises ``ValueError``
    (``model_files.ModelFileError``) naming the file and the problem: an unreadable or unsafe file, a layer we
    do not compute (Lambda, custom objects, Bidirectional, Conv1D, ...), an option we do not model
    (stateful, go_backwards, other activations), NaN weights, or shapes that contradict the config.
    """
    raw = model_files.read(source, name=name, max_bytes=max_bytes)
    if raw.format in ("keras", "h5"):
        model = _from_keras_layers(raw)
    else:
        model = _from_state_dict(raw)
    _check_stack(model)
    return model


def _keras_dtype(cfg: dict, file: str, name: str) -> type:
    policy = cfg.get("dtype")
    if isinstance(policy, dict):
        policy = (policy.get("config") or {}).get("name")
    policy = policy or "float32"
    dtypes = {"float32": np.float32, "float64": np.float64}
    if policy not in dtypes:
        raise model_files.fail(file, f"layer {name!r} uses dtype policy {policy!r}; expected float32 or float64 "
                                     "(mixed precision is not modelled)")
    return dtypes[policy]


def _expect(file: str, name: str, what: str, got, want) -> None:
    if tuple(got) != tuple(want):
        raise model_files.fail(file, f"layer {name!r}: {what} has shape {tuple(got)}, but its config says "
                                     f"{tuple(want)}; the weights contradict the config")


def _from_keras_layers(raw) -> LoadedModel:
    file = raw.file
    layers, notes, vocabulary = [], [], None
    for rl in raw.layers:
        cls, name, cfg = rl.class_name, rl.name, rl.config
        if rl.registered_name not in (None, cls) or not rl.module.startswith("keras"):
            raise model_files.fail(file, f"layer {name!r} is a custom object ({rl.registered_name or cls} from "
                                         f"{rl.module!r}); custom layers are Python code, which is never run here")
        if cls == "InputLayer":
            continue
        if cls == "Lambda":
            raise model_files.fail(file, f"layer {name!r} is a Lambda layer: it holds Python code, which is never "
                                         f"run here; expected {FILE_SUPPORTED}")
        if cls == "Bidirectional":
            raise model_files.fail(file, f"layer {name!r} is Bidirectional; this page shows one direction of time "
                                         "only: train or export the forward layer alone")
        if cls in INFERENCE_IDENTITY:
            notes.append(f"{cls} layer {name!r} skipped: it changes nothing at inference")
            continue
        if cls == "TextVectorization" and not layers:
            vocabulary = _text_vectorization_vocabulary(rl, file)
            notes.append(f"TextVectorization layer {name!r}: " + ("its vocabulary is used to encode typed sentences"
                                                                  if vocabulary else "it holds no vocabulary"))
            continue
        dtype = _keras_dtype(cfg, file, name)
        if cls == "Embedding":
            layers.append(_keras_embedding(rl, file, dtype, notes))
        elif cls in KERAS_CELLS:
            layers.append(_keras_recurrent(rl, file, dtype))
        elif cls == "Dense":
            layers.append(_keras_dense(rl, file, dtype))
        else:
            raise model_files.fail(file, f"layer {name!r} is a {cls}, which this page does not compute; "
                                         f"expected {FILE_SUPPORTED}")
    return LoadedModel(file, raw.format, layers, notes, vocabulary)


def _text_vectorization_vocabulary(rl, file: str) -> tuple[str, ...] | None:
    """The words of a TextVectorization layer, id k = entry k: ``vocabulary.txt`` from the file's assets (Keras
    writes the special tokens ``""`` and ``[UNK]`` first), else the config's ``vocabulary`` list with them added.
    """
    if "vocabulary.txt" in rl.assets:
        try:
            lines = rl.assets["vocabulary.txt"].decode("utf-8").split("\n")
        except UnicodeDecodeError:
            raise model_files.fail(file, f"layer {rl.name!r}: its vocabulary.txt is not UTF-8 text") from None
        while lines and lines[-1] == "" and len(lines) > 1:
            lines.pop()
        return tuple(lines)
    vocab = rl.config.get("vocabulary")
    if isinstance(vocab, list) and all(isinstance(w, str) for w in vocab):
        return ("", "[UNK]", *vocab)  # TextVectorization's ids: 0 padding, 1 out of vocabulary
    return None


def _count(file: str, rl, n: int) -> None:
    if len(rl.weights) != n:
        raise model_files.fail(file, f"layer {rl.name!r} ({rl.class_name}) has {len(rl.weights)} weight arrays; "
                                     f"expected {n} (a truncated or edited file?)")


def _keras_embedding(rl, file: str, dtype, notes: list[str]) -> Layer:
    _count(file, rl, 1)
    (E,) = rl.weights
    _expect(file, rl.name, "embeddings", E.shape, (rl.config.get("input_dim"), rl.config.get("output_dim")))
    mask = bool(rl.config.get("mask_zero", False))
    if mask:
        notes.append(f"Embedding {rl.name!r} has mask_zero=True: Keras skips steps with id 0; here every step is "
                     "computed, so give sentences without padding")
    return Layer("embedding", rl.name, {"E": _as_param(E, dtype)}, options={"mask_zero": mask})


def _keras_recurrent(rl, file: str, dtype) -> Layer:
    cls, name, cfg = rl.class_name, rl.name, rl.config
    kind = KERAS_CELLS[cls]
    problems = [f"{opt}=True" for opt in ("stateful", "go_backwards") if cfg.get(opt)]
    act = cfg.get("activation", "tanh")
    if act not in (("tanh", "relu") if kind == "rnn" else ("tanh",)):
        problems.append(f"activation={act!r}")
    if kind != "rnn" and cfg.get("recurrent_activation", "sigmoid") != "sigmoid":
        problems.append(f"recurrent_activation={cfg.get('recurrent_activation')!r}")
    if problems:
        raise model_files.fail(file, f"layer {name!r} ({cls}) has {', '.join(problems)}, which this page does not "
                                     f"model; expected a {KERAS_SUPPORTED}")
    H = cfg.get("units")
    if not isinstance(H, int) or H < 1:
        raise model_files.fail(file, f"layer {name!r}: config units={H!r}; expected a positive integer")
    use_bias = cfg.get("use_bias", True)
    reset_after = bool(cfg.get("reset_after", True))
    _count(file, rl, 3 if use_bias else 2)
    kernel, recurrent = rl.weights[0], rl.weights[1]
    nH = BLOCKS[kind] * H
    if kernel.ndim != 2:
        raise model_files.fail(file, f"layer {name!r}: kernel has shape {kernel.shape}; expected (D, {nH})")
    _expect(file, name, "kernel", kernel.shape, (kernel.shape[0], nH))
    _expect(file, name, "recurrent_kernel", recurrent.shape, (H, nH))
    bias_shape = (2, nH) if kind == "gru" and reset_after else (nH,)
    bias = rl.weights[2] if use_bias else np.zeros(bias_shape, dtype=kernel.dtype)
    _expect(file, name, "bias", bias.shape, bias_shape)
    cell = cell_from_keras_arrays(kind, kernel, recurrent, bias, activation=act, reset_after=reset_after,
                                  dtype=dtype, name=f"keras {cls} {name!r}")
    return Layer("recurrent", name, cell.params, cell, {"return_sequences": bool(cfg.get("return_sequences"))})


def _keras_dense(rl, file: str, dtype) -> Layer:
    cfg = rl.config
    act = cfg.get("activation", "linear")
    if act not in DENSE_ACTIVATIONS:
        raise model_files.fail(file, f"layer {rl.name!r} (Dense) has activation={act!r}; expected one of "
                                     f"{', '.join(DENSE_ACTIVATIONS)}")
    use_bias = cfg.get("use_bias", True)
    _count(file, rl, 2 if use_bias else 1)
    W = rl.weights[0]
    if W.ndim != 2:
        raise model_files.fail(file, f"layer {rl.name!r}: kernel has shape {W.shape}; expected (H, units)")
    _expect(file, rl.name, "kernel", W.shape, (W.shape[0], cfg.get("units")))
    b = rl.weights[1] if use_bias else np.zeros(W.shape[1], dtype=W.dtype)
    _expect(file, rl.name, "bias", b.shape, (W.shape[1],))
    return Layer("dense", rl.name, {"W": _as_param(W, dtype), "b": _as_param(b, dtype)},
                 options={"activation": act})


# PyTorch state_dict keys of a recurrent module: <prefix>.weight_ih_l<k>[_reverse], ...
_TORCH_KEY = re.compile(r"^(?:(.*)\.)?(weight_ih|weight_hh|bias_ih|bias_hh|weight_hr)_l(\d+)(_reverse)?$")


def _from_state_dict(raw) -> LoadedModel:
    """Read a PyTorch ``state_dict`` (safetensors, npz or .pt): recurrent modules by their key names, the
    Embedding and Linear head by their shapes (metadata ``<prefix>.nonlinearity`` / ``<head>.activation``).
    """
    file, tensors, meta = raw.file, raw.tensors, raw.metadata
    if not tensors:
        raise model_files.fail(file, "holds no arrays; expected a PyTorch state_dict")
    modules: dict[str, dict[int, dict[str, np.ndarray]]] = {}
    others: dict[str, dict[str, np.ndarray]] = {}
    for key, arr in tensors.items():
        m = _TORCH_KEY.match(key)
        if m:
            prefix, what, k, reverse = m.group(1) or "", m.group(2), int(m.group(3)), m.group(4)
            if reverse:
                raise model_files.fail(file, f"tensor {key!r} belongs to a bidirectional module; this page shows "
                                             "one direction of time only: save a unidirectional model")
            if what == "weight_hr":
                raise model_files.fail(file, f"tensor {key!r}: an LSTM with proj_size is not modelled; expected "
                                             "nn.LSTM without projection")
            modules.setdefault(prefix, {}).setdefault(k, {})[what] = arr
        else:
            prefix, _, what = key.rpartition(".")
            others.setdefault(prefix, {})[what] = arr
    if not modules:
        raise model_files.fail(file, f"has no recurrent weights (no '*.weight_ih_l0' among {list(tensors)[:6]}); "
                                     "expected the state_dict of a model with an nn.RNN, nn.LSTM or nn.GRU")
    recurrent = []
    for prefix, by_layer in modules.items():
        if sorted(by_layer) != list(range(len(by_layer))):
            raise model_files.fail(file, f"module {prefix or '(top)'!r} has layers {sorted(by_layer)}; expected "
                                         "l0, l1, ... without gaps")
        for k in range(len(by_layer)):
            recurrent.append(_torch_recurrent(file, prefix, k, by_layer[k], meta))
    recurrent = _chain(file, recurrent)
    layers, notes = [], []
    D0, H_last = recurrent[0].cell.input_size, recurrent[-1].cell.hidden_size
    dtype = recurrent[0].cell.dtype.type
    emb = [p for p, t in others.items() if set(t) == {"weight"} and t["weight"].ndim == 2
           and t["weight"].shape[1] == D0]
    if len(emb) == 1:
        layers.append(Layer("embedding", emb[0], {"E": _as_param(others.pop(emb[0])["weight"], dtype)},
                            options={"mask_zero": False}))
    layers.extend(recurrent)
    head = [p for p, t in others.items() if set(t) in ({"weight", "bias"}, {"weight"}) and t["weight"].ndim == 2
            and t["weight"].shape[1] == H_last]
    if len(head) == 1:
        t = others.pop(head[0])
        W = t["weight"]  # (O, H)
        b = t.get("bias", np.zeros(W.shape[0], dtype=W.dtype))
        if b.shape != (W.shape[0],):
            raise model_files.fail(file, f"tensor {head[0]}.bias has shape {b.shape}; expected ({W.shape[0]},)")
        act = meta.get(f"{head[0]}.activation", "linear")
        if act not in DENSE_ACTIVATIONS:
            raise model_files.fail(file, f"metadata {head[0]}.activation={act!r}; expected one of "
                                         f"{', '.join(DENSE_ACTIVATIONS)}")
        layers.append(Layer("dense", head[0], {"W": _as_param(W.T, dtype), "b": _as_param(b, dtype)},
                            options={"activation": act}))
        if act == "linear":
            notes.append(f"Linear head {head[0]!r}: outputs shown as raw logits (a state_dict does not say which "
                         f"activation follows; metadata {head[0]}.activation=sigmoid or softmax sets it)")
    elif len(head) > 1:
        notes.append(f"Linear layers {head} all fit the last hidden size; none is shown as the head")
    if others:
        unused = sorted(f"{p}.{w}" if p else w for p, t in others.items() for w in t)
        notes.append(f"tensors not used: {', '.join(unused)}")
    vocabulary = None
    if "vocabulary" in meta:
        try:
            words = json.loads(meta["vocabulary"])
        except ValueError:
            words = None
        if not isinstance(words, list) or not all(isinstance(w, str) for w in words):
            raise model_files.fail(file, "metadata 'vocabulary': expected a JSON list of words (id k = entry k)")
        vocabulary = tuple(words)
    return LoadedModel(file, raw.format, layers, notes, vocabulary)


def _torch_recurrent(file: str, prefix: str, k: int, t: dict[str, np.ndarray], meta: dict[str, str]) -> Layer:
    where = f"{prefix + '.' if prefix else ''}*_l{k}"
    if "weight_ih" not in t or "weight_hh" not in t:
        raise model_files.fail(file, f"{where}: weight_ih and weight_hh expected, found {sorted(t)}")
    W_ih, W_hh = t["weight_ih"], t["weight_hh"]  # (nH, D), (nH, H)
    if W_ih.ndim != 2 or W_hh.ndim != 2 or W_hh.shape[0] != W_ih.shape[0] or W_hh.shape[0] % max(W_hh.shape[1], 1):
        raise model_files.fail(file, f"{where}: weight_ih {W_ih.shape} and weight_hh {W_hh.shape} do not fit one "
                                     "nn.RNN/LSTM/GRU layer (expected (nH, D) and (nH, H) with nH = H, 3H or 4H)")
    H = W_hh.shape[1]
    ratio = W_hh.shape[0] // H
    kinds = {1: "rnn", 3: "gru", 4: "lstm"}
    if ratio not in kinds:
        raise model_files.fail(file, f"{where}: weight_hh {W_hh.shape} has {ratio} gate blocks; expected 1 (RNN), "
                                     "3 (GRU) or 4 (LSTM)")
    kind = kinds[ratio]
    dtype = np.float64 if W_ih.dtype == np.float64 else np.float32
    biases = []
    for b in ("bias_ih", "bias_hh"):
        arr = t.get(b, np.zeros(W_ih.shape[0], dtype=W_ih.dtype))
        if arr.shape != (W_ih.shape[0],):
            raise model_files.fail(file, f"{where}: {b} has shape {arr.shape}; expected ({W_ih.shape[0]},)")
        biases.append(arr)
    nonlinearity = meta.get(f"{prefix}.nonlinearity" if prefix else "nonlinearity", "tanh")
    if nonlinearity not in ("tanh", "relu"):
        raise model_files.fail(file, f"metadata {prefix}.nonlinearity={nonlinearity!r}; expected tanh or relu")
    name = f"{prefix or 'rnn'} layer {k}"
    cell = cell_from_torch_arrays(kind, W_ih, W_hh, *biases, nonlinearity=nonlinearity, dtype=dtype,
                                  name=f"torch {name}")
    return Layer("recurrent", name, cell.params, cell, {"return_sequences": True})


def _chain(file: str, layers: list[Layer]) -> list[Layer]:
    """Order recurrent layers so that each one's input size is the previous one's hidden size.

    Layers of one module keep their l0, l1, ... order; modules are tried in every order (few in practice) and
    the first consistent one in name order wins.
    """
    groups: dict[str, list[Layer]] = {}
    for layer in layers:
        groups.setdefault(layer.name.rsplit(" layer ", 1)[0], []).append(layer)
    names = sorted(groups)
    if len(names) > 6:
        raise model_files.fail(file, f"has {len(names)} recurrent modules; expected at most 6")
    for order in itertools.permutations(names):
        flat = [x for n in order for x in groups[n]]
        if all(a.cell.hidden_size == b.cell.input_size for a, b in zip(flat, flat[1:], strict=False)):
            return flat
    sizes = ", ".join(f"{x.name} ({x.cell.input_size} -> {x.cell.hidden_size})" for x in layers)
    raise model_files.fail(file, f"its recurrent layers do not chain ({sizes}); expected each layer's input "
                                 "size to be the previous layer's hidden size")


def _check_stack(model: LoadedModel) -> None:
    """The order this page computes: ``[Embedding] -> recurrent+ -> Dense*``, with sizes that fit."""
    file, roles = model.file, [x.role for x in model.layers]
    if "recurrent" not in roles:
        raise model_files.fail(file, f"has no SimpleRNN, LSTM or GRU layer (found {roles or 'no layers'}); "
                                     f"expected {FILE_SUPPORTED}")
    first, last = roles.index("recurrent"), len(roles) - 1 - roles[::-1].index("recurrent")
    if roles[:first] not in ([], ["embedding"]) or any(r != "recurrent" for r in roles[first:last + 1]) \
            or any(r != "dense" for r in roles[last + 1:]):
        order = " -> ".join(f"{x.role} {x.name!r}" for x in model.layers)
        raise model_files.fail(file, f"has the layers {order}; expected {FILE_SUPPORTED}")
    width = model.embedding.params["E"].shape[1] if model.embedding is not None else None
    for layer in model.layers:
        if layer.role == "recurrent":
            if width is not None and layer.cell.input_size != width:
                raise model_files.fail(file, f"layer {layer.name!r} reads {layer.cell.input_size} inputs but the "
                                             f"layer before it gives {width}")
            width = layer.cell.hidden_size
        elif layer.role == "dense":
            if layer.params["W"].shape[0] != width:
                raise model_files.fail(file, f"layer {layer.name!r} reads {layer.params['W'].shape[0]} inputs but "
                                             f"the layer before it gives {width}")
            width = layer.params["W"].shape[1]
    for layer in model.recurrent[:-1]:
        if not layer.options.get("return_sequences", True):
            raise model_files.fail(file, f"layer {layer.name!r} has return_sequences=False but another recurrent "
                                         "layer follows it; expected return_sequences=True below the top layer")
