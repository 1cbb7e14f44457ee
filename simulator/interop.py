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

import numpy as np

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
    H = module.hidden_size
    name = f"torch nn.{type(module).__name__}"
    if kind == "rnn":
        params = {"W_xh": W_ih.T, "W_hh": W_hh.T, "b_h": b_ih + b_hh}
        return Cell("rnn", {k: _as_param(v, dtype) for k, v in params.items()},
                    activation=module.nonlinearity, name=name)
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
    dtype = kernel.dtype.type
    name = f"keras {type(layer).__name__}"
    if kind == "rnn":
        params = {"W_xh": kernel, "W_hh": recurrent, "b_h": bias}
        return Cell("rnn", {k: _as_param(v, dtype) for k, v in params.items()}, activation=act, name=name)
    if kind == "lstm":
        params = {"W_x": kernel, "W_h": recurrent, "b": bias}
        return Cell("lstm", {k: _as_param(v, dtype) for k, v in params.items()}, name=name)
    reset_after = bool(cell_layer.reset_after)
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
