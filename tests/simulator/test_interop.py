"""Interop: Keras 3 twins (float32 to 1e-4), round trips both ways, dtypes, refusals."""

import numpy as np
import pytest

from simulator import cells, interop, sequence
from simulator.cells import Cell

torch = pytest.importorskip("torch")
keras = pytest.importorskip("keras")

# Keras's own numpy-2 copy= deprecation notices, hundreds per run, none about our code
pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation doesn't accept a copy keyword")

# (kind, keras options): every Keras cell and option, including the reset-before GRU torch lacks
KERAS_CASES = [("rnn", {"activation": "tanh"}), ("rnn", {"activation": "relu"}), ("lstm", {}),
               ("gru", {"reset_after": True}), ("gru", {"reset_after": False})]
IDS = ["rnn-tanh", "rnn-relu", "lstm", "gru-after", "gru-before"]
SHAPES = [(1, 1, 1, 1), (3, 5, 2, 4), (1, 7, 3, 1), (4, 2, 1, 3)]


def rel_err(a, b) -> float:
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return float(np.abs(a - b).max() / max(np.abs(b).max(), 1e-12))


def keras_layer(kind, opts, D, H, rng, dtype):
    """A Keras layer built natively (not by to_keras), with random weights and random biases."""
    cls = {"rnn": keras.layers.SimpleRNN, "lstm": keras.layers.LSTM, "gru": keras.layers.GRU}[kind]
    layer = cls(H, return_sequences=True, dtype=dtype, **opts)
    layer.build((None, None, D))
    layer.set_weights([rng.uniform(-0.8, 0.8, w.shape).astype(dtype) for w in layer.get_weights()])
    return layer


def keras_twin(layer, kind, X, states, dH):
    """Forward and backward through the Keras layer with torch autograd: H, dX, dstate0, weight grads."""
    Xt = torch.tensor(X, requires_grad=True)
    init = [torch.tensor(s, requires_grad=True) for s in states]
    out = layer(Xt, initial_state=init)
    (out * torch.from_numpy(dH)).sum().backward()
    kernel, recurrent, bias = (w.value.grad.numpy() for w in layer.weights)
    return out.detach().numpy(), Xt.grad.numpy(), [s.grad.numpy() for s in init], (kernel, recurrent, bias)


def our_grads_as_keras(kind, reset_after, dparams):
    """Our gradients in Keras's (kernel, recurrent_kernel, bias) layout."""
    if kind == "rnn":
        return dparams["W_xh"], dparams["W_hh"], dparams["b_h"]
    if kind == "lstm":
        return dparams["W_x"], dparams["W_h"], dparams["b"]
    bias = np.stack([dparams["b_x"], dparams["b_h"]]) if reset_after else dparams["b_x"]
    return dparams["W_x"], dparams["W_h"], bias


# float64 only to 1e-6: Keras 3.15's ops.matmul(float64 tensor, float64 variable) returns float32 on the
# torch backend (SimpleRNN and the reset-before GRU go through it), so Keras itself is float32-exact there
@pytest.mark.parametrize(("dtype", "tol"), [("float32", 1e-4), ("float64", 1e-6)])
@pytest.mark.parametrize(("kind", "opts"), KERAS_CASES, ids=IDS)
def test_matches_keras(kind, opts, dtype, tol):
    """Do from_keras cells reproduce Keras outputs, dX, dstate0 and weight gradients (float32 to 1e-4)?"""
    rng = np.random.default_rng(100)
    for trial, (B, T, D, H) in enumerate(SHAPES):
        layer = keras_layer(kind, opts, D, H, rng, dtype)
        cell = interop.from_keras(layer)
        assert cell.kind == kind and cell.dtype == np.dtype(dtype)
        assert cell.options() == ({} if kind == "lstm" else opts)
        X = rng.standard_normal((B, T, D)).astype(dtype)
        states = [rng.standard_normal((B, H)).astype(dtype) for _ in range(2 if kind == "lstm" else 1)]
        dH = rng.standard_normal((B, T, H)).astype(dtype)
        Hs, cache = sequence.forward(cell, X, tuple(states) if kind == "lstm" else states[0])
        dX, dparams, dstate0 = sequence.backward(dH, cache)
        kH, kdX, kds0, kgrads = keras_twin(layer, kind, X, states, dH)
        where = f"{kind} {opts} {dtype} trial {trial} (B,T,D,H)={(B, T, D, H)}"
        assert Hs.dtype == np.dtype(dtype) and dX.dtype == np.dtype(dtype)
        assert rel_err(Hs, kH) <= tol, f"H {where}"
        assert rel_err(dX, kdX) <= tol, f"dX {where}"
        for ours, theirs in zip(dstate0 if kind == "lstm" else (dstate0,), kds0, strict=True):
            assert rel_err(ours, theirs) <= tol, f"dstate0 {where}"
        ours = our_grads_as_keras(kind, opts.get("reset_after"), dparams)
        for name, a, b in zip(("kernel", "recurrent_kernel", "bias"), ours, kgrads, strict=True):
            assert a.shape == b.shape, f"{name} {where}"
            assert rel_err(a, b) <= tol, f"d{name} {where}"
        if kind == "gru" and not opts["reset_after"]:
            # the recurrent bias adds where the input bias does, so its gradient is the same
            np.testing.assert_allclose(dparams["b_h"], dparams["b_x"], rtol=1e-5)


@pytest.mark.parametrize(("kind", "opts"), KERAS_CASES, ids=IDS)
def test_keras_round_trips(kind, opts):
    """Does to_keras export a layer computing the cell, and does from_keras(to_keras(cell)) give it back?"""
    rng = np.random.default_rng(200)
    D, H = 3, 4
    params = {k: rng.uniform(-1, 1, s).astype(np.float32) for k, s in cells.param_shapes(kind, D, H).items()}
    cell = Cell(kind, params, **opts)
    layer = interop.to_keras(cell)
    assert layer.built and layer.return_sequences
    X = rng.standard_normal((2, 5, D)).astype(np.float32)
    Hs, _ = sequence.forward(cell, X)
    assert rel_err(np.asarray(layer(X).detach()), Hs) <= 1e-5
    back = interop.from_keras(layer)
    assert back.options() == cell.options()
    if kind == "gru" and not opts["reset_after"]:  # one Keras bias: b_x + b_h, b_h = 0 on the way back
        np.testing.assert_allclose(back.params["b_x"], params["b_x"] + params["b_h"], rtol=1e-6)
        np.testing.assert_array_equal(back.params["b_h"], 0)
        np.testing.assert_array_equal(back.params["W_h"], params["W_h"])
    else:
        for k, v in params.items():
            np.testing.assert_array_equal(back.params[k], v, err_msg=f"{kind} {k}")
    # and Keras -> ours -> Keras keeps every weight
    native = keras_layer(kind, opts, D, H, rng, "float32")
    again = interop.to_keras(interop.from_keras(native))
    for a, b in zip(again.get_weights(), native.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize(("cls", "kw"), [(torch.nn.RNN, {"nonlinearity": "relu"}), (torch.nn.LSTM, {}),
                                         (torch.nn.GRU, {})])
def test_from_torch_dtype_and_fresh_writable_copies(cls, kw):
    """Are loaded params float32/float64 as the module, writable, contiguous and not views of its memory?"""
    for tdtype, ndtype in ((torch.float32, np.float32), (torch.float64, np.float64)):
        module = cls(2, 3, batch_first=True, dtype=tdtype, **kw)
        cell = interop.from_torch(module)
        assert cell.dtype == ndtype
        tensors = [p.detach().numpy() for p in module.parameters()]
        for k, v in cell.params.items():
            assert v.dtype == ndtype and v.flags.writeable and v.flags.c_contiguous, k
            assert not any(np.shares_memory(v, t) for t in tensors), k
        before = {k: v.copy() for k, v in cell.params.items()}
        with torch.no_grad():
            module.weight_hh_l0.add_(1.0)
        for k, v in cell.params.items():
            np.testing.assert_array_equal(v, before[k])
        exported = interop.to_torch(cell)
        assert exported.weight_ih_l0.dtype == tdtype and exported.batch_first


def test_torch_bias_split_and_gru_gate_order():
    """Are torch's two biases summed (RNN/LSTM) and torch's r,z,n GRU blocks reordered to z,r,n?"""
    torch.manual_seed(1)
    lstm = torch.nn.LSTM(2, 3, batch_first=True, dtype=torch.float64)
    cell = interop.from_torch(lstm)
    np.testing.assert_array_equal(cell.params["b"], (lstm.bias_ih_l0 + lstm.bias_hh_l0).detach().numpy())
    np.testing.assert_array_equal(cell.params["W_x"], lstm.weight_ih_l0.detach().numpy().T)
    gru = torch.nn.GRU(2, 3, batch_first=True, dtype=torch.float64)
    cell = interop.from_torch(gru)
    W_ih = gru.weight_ih_l0.detach().numpy()  # (3H, D), rows r, z, n
    np.testing.assert_array_equal(cell.params["W_x"][:, :3], W_ih[3:6].T)  # our z block is torch's second
    np.testing.assert_array_equal(cell.params["W_x"][:, 3:6], W_ih[:3].T)  # our r block is torch's first
    np.testing.assert_array_equal(cell.params["b_h"][6:], gru.bias_hh_l0.detach().numpy()[6:])
    exported = interop.to_torch(cell)
    for name, p in gru.named_parameters():
        np.testing.assert_array_equal(getattr(exported, name).detach().numpy(), p.detach().numpy(), err_msg=name)


@pytest.mark.parametrize(("make", "words"), [
    (lambda: torch.nn.LSTM(3, 4, num_layers=2, batch_first=True), ["num_layers=2"]),
    (lambda: torch.nn.GRU(3, 4, bidirectional=True, batch_first=True), ["bidirectional=True"]),
    (lambda: torch.nn.RNN(3, 4), ["batch_first=False"]),
    (lambda: torch.nn.LSTM(3, 4, bias=False, batch_first=True), ["bias=False"]),
    (lambda: torch.nn.LSTM(3, 4, proj_size=2, batch_first=True), ["proj_size=2"]),
    (lambda: torch.nn.Linear(3, 4), ["Linear"]),
    (lambda: torch.nn.GRU(3, 4, batch_first=True, dtype=torch.float16), ["torch.float16"]),
])
def test_from_torch_refuses_unsupported_modules(make, words):
    """Is an unsupported module refused with a ValueError saying what it is and what is supported?"""
    with pytest.raises(ValueError, match="^module: ") as info:
        interop.from_torch(make())
    for w in [*words, "expected", "batch_first=True"]:
        assert w in str(info.value)


@pytest.mark.parametrize(("make", "words"), [
    (lambda: keras.layers.LSTM(4, go_backwards=True), ["go_backwards=True"]),
    (lambda: keras.layers.GRU(4, use_bias=False), ["use_bias=False"]),
    (lambda: keras.layers.SimpleRNN(4, activation="sigmoid"), ["activation='sigmoid'"]),
    (lambda: keras.layers.LSTM(4, activation="relu"), ["activation='relu'"]),
    (lambda: keras.layers.GRU(4, recurrent_activation="hard_sigmoid"), ["recurrent_activation='hard_sigmoid'"]),
    (lambda: keras.layers.Dense(4), ["Dense"]),
    (lambda: keras.layers.LSTM(4, dtype="mixed_float16"), ["mixed dtype policy (compute float16, variables float32)"]),
])
def test_from_keras_refuses_unsupported_layers(make, words):
    """Is an unsupported Keras layer refused, naming the setting and what is supported?"""
    layer = make()
    layer.build((None, None, 3) if not isinstance(layer, keras.layers.Dense) else (None, 3))
    with pytest.raises(ValueError, match="^layer: ") as info:
        interop.from_keras(layer)
    for w in [*words, "expected"]:
        assert w in str(info.value)


def test_from_keras_refuses_unbuilt_layer():
    """Is a layer without weights refused with a hint to build it?"""
    with pytest.raises(ValueError, match=r"layer: got an unbuilt LSTM .*build\(\(None, None, D\)\)"):
        interop.from_keras(keras.layers.LSTM(4))


def test_export_refusals():
    """Are a reset-before GRU (torch has none), a non-cell and a cell with bad params refused on export?"""
    with pytest.raises(ValueError, match="cell: got a GRU with reset_after=False; expected reset_after=True"):
        interop.to_torch(Cell.create("gru", 2, 3, reset_after=False))
    for export in (interop.to_torch, interop.to_keras):
        with pytest.raises(ValueError, match="cell: expected a simulator.cells.Cell, got dict"):
            export({"W_x": np.zeros((2, 4))})
        cell = Cell.create("lstm", 2, 3)
        del cell.params["b"]
        with pytest.raises(ValueError, match=r"params: missing \['b'\]"):
            export(cell)
