"""Interop: Keras 3 twins (float32 to 1e-4), round trips both ways, dtypes, refusals."""

import json

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


# ----------------------------------------------------------------------------- load_file: files saved by the frameworks
KERAS_CLASSES = {"rnn": "SimpleRNN", "lstm": "LSTM", "gru": "GRU"}


def randomise(model, rng):
    """Random weights and random biases everywhere (zero biases hide bias-layout bugs)."""
    for layer in model.layers:
        if layer.get_weights():
            layer.set_weights([rng.uniform(-0.8, 0.8, w.shape).astype(w.dtype) for w in layer.get_weights()])


def assert_every_step(ours, theirs, where, tol=1e-5):
    ours, theirs = np.asarray(ours), np.asarray(theirs)
    assert ours.shape == theirs.shape, f"{where}: shape {ours.shape} vs {theirs.shape}"
    assert ours.dtype == np.float32, where
    for t in range(theirs.shape[1]):
        assert rel_err(ours[:, t], theirs[:, t]) <= tol, f"{where} at step t={t}"


@pytest.mark.filterwarnings("ignore:You are saving your model as an HDF5 file")
@pytest.mark.parametrize("fmt", ["keras", "h5"])
@pytest.mark.parametrize(("kind", "opts"), KERAS_CASES, ids=IDS)
def test_load_file_matches_keras_at_every_step(tmp_path, fmt, kind, opts):
    """Does a saved Keras stack (two layers + Dense) give Keras's h_t of each layer and its output at every step?"""
    rng = np.random.default_rng(300)
    cls = getattr(keras.layers, KERAS_CLASSES[kind])
    model = keras.Sequential([keras.Input((6, 3)), cls(4, return_sequences=True, **opts),
                              cls(2, return_sequences=True, **opts), keras.layers.Dense(3, activation="softmax")])
    randomise(model, rng)
    path = tmp_path / f"model.{fmt}"
    model.save(path)
    loaded = interop.load_file(path)
    assert [x.role for x in loaded] == ["recurrent", "recurrent", "dense"]
    assert [x.cell.kind for x in loaded.recurrent] == [kind, kind]
    assert loaded.recurrent[0].cell.options() == ({} if kind == "lstm" else opts)
    X = rng.standard_normal((2, 6, 3)).astype(np.float32)
    run = loaded.run(X)
    h1 = model.layers[0](X)
    h2 = model.layers[1](h1)
    assert_every_step(run.outputs[0], h1.detach().numpy(), f"{fmt} {kind} layer 0 h_t")
    assert_every_step(run.outputs[1], h2.detach().numpy(), f"{fmt} {kind} layer 1 h_t")
    assert_every_step(run.head, model(X).detach().numpy(), f"{fmt} {kind} Dense output")


@pytest.mark.filterwarnings("ignore:You are saving your model as an HDF5 file")
@pytest.mark.parametrize("fmt", ["keras", "h5"])
@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
def test_load_file_many_to_one_text_classifier_matches_keras_on_every_prefix(tmp_path, fmt, kind):
    """Embedding -> cell -> Dense(sigmoid), return_sequences=False: is our head at step t Keras's output on x_0..x_t?"""
    rng = np.random.default_rng(400)
    cls = getattr(keras.layers, KERAS_CLASSES[kind])
    model = keras.Sequential([keras.Input((None,), dtype="int32"), keras.layers.Embedding(12, 5), cls(4),
                              keras.layers.Dropout(0.3), keras.layers.Dense(1, activation="sigmoid")])
    randomise(model, rng)
    path = tmp_path / f"clf.{fmt}"
    model.save(path)
    loaded = interop.load_file(path)
    assert [x.role for x in loaded] == ["embedding", "recurrent", "dense"]
    assert any("Dropout" in n for n in loaded.notes)
    ids = rng.integers(0, 12, size=(3, 7))
    run = loaded.run(ids)
    prefix = np.stack([model(ids[:, : t + 1]).detach().numpy() for t in range(7)], axis=1)  # (B, T, 1)
    assert_every_step(run.head, prefix, f"{fmt} {kind} running probability")
    with pytest.raises(ValueError, match="ids: expected ids from 0 to 11"):
        loaded.run(np.array([[3, 12]]))


def torch_stack(kind, nonlinearity, rng):
    """Embedding -> two-layer nn.RNN/LSTM/GRU -> Linear, with random weights and biases."""
    torch.manual_seed(int(rng.integers(1000)))
    cls = {"rnn": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[kind]
    kw = {"nonlinearity": nonlinearity} if kind == "rnn" else {}
    model = torch.nn.ModuleDict({"emb": torch.nn.Embedding(9, 3), "rnn": cls(3, 4, num_layers=2, batch_first=True,
                                                                             **kw),
                                 "fc": torch.nn.Linear(4, 2)})
    with torch.no_grad():
        for p in model.parameters():
            p.uniform_(-0.8, 0.8)
    return model


# a .pt state_dict cannot say nn.RNN's nonlinearity (no metadata, tanh assumed); safetensors and npz can
TORCH_FILE_CASES = [(fmt, kind, nl) for fmt in ("safetensors", "npz", "pt")
                    for kind, nl in (("rnn", "tanh"), ("rnn", "relu"), ("lstm", None), ("gru", None))
                    if not (fmt == "pt" and nl == "relu")]


@pytest.mark.parametrize(("fmt", "kind", "nonlinearity"), TORCH_FILE_CASES,
                         ids=[f"{f}-{k}{'-' + n if n else ''}" for f, k, n in TORCH_FILE_CASES])
def test_load_file_matches_torch_layer_by_layer(tmp_path, fmt, kind, nonlinearity):
    """Is each layer of a saved nn.RNN/LSTM/GRU stack (and the Linear head) PyTorch's own output at every step?"""
    from safetensors.numpy import save_file

    rng = np.random.default_rng(500)
    model = torch_stack(kind, nonlinearity, rng)
    state = {k: v.detach().numpy() for k, v in model.state_dict().items()}
    meta = {"rnn.nonlinearity": nonlinearity} if nonlinearity else {}
    path = tmp_path / f"stack.{fmt}"
    if fmt == "safetensors":
        save_file(state, str(path), metadata=meta or None)
    elif fmt == "npz":
        np.savez(path, **state, **({"__metadata__": np.array(json.dumps(meta))} if meta else {}))
    else:
        torch.save(model.state_dict(), path)
    loaded = interop.load_file(path)
    assert [x.role for x in loaded] == ["embedding", "recurrent", "recurrent", "dense"]
    assert all(x.cell.kind == kind for x in loaded.recurrent)
    if kind == "rnn":
        assert loaded.recurrent[0].cell.activation == nonlinearity
    ids = rng.integers(0, 9, size=(2, 6))
    run = loaded.run(ids)
    with torch.no_grad():
        emb = model["emb"](torch.from_numpy(ids))
        top, _ = model["rnn"](emb)
        head = model["fc"](top)
        # layer 0 alone: a one-layer module holding the stack's l0 weights
        cls, kw = type(model["rnn"]), ({"nonlinearity": nonlinearity} if kind == "rnn" else {})
        first = cls(3, 4, batch_first=True, **kw)
        first.load_state_dict({k: v for k, v in model["rnn"].state_dict().items() if k.endswith("_l0")})
        bottom, _ = first(emb)
    assert_every_step(run.inputs[0], emb.numpy(), f"{fmt} {kind} embedding")
    assert_every_step(run.outputs[0], bottom.numpy(), f"{fmt} {kind} layer 0 h_t")
    assert_every_step(run.outputs[1], top.numpy(), f"{fmt} {kind} layer 1 h_t")
    assert_every_step(run.head, head.numpy(), f"{fmt} {kind} Linear head")


def test_load_file_chains_separate_modules_by_shape_and_reads_metadata(tmp_path):
    """Two separate modules whose names sort against their order: are they chained by size, head activation set?"""
    from safetensors.numpy import save

    rng = np.random.default_rng(600)
    torch.manual_seed(6)
    upper, lower = torch.nn.LSTM(5, 2, batch_first=True), torch.nn.GRU(3, 5, batch_first=True)
    fc = torch.nn.Linear(2, 1)
    state = {f"{prefix}.{k}": v for prefix, m in (("a_upper", upper), ("b_lower", lower), ("fc", fc))
             for k, v in m.state_dict().items()}
    data = save({k: v.detach().numpy() for k, v in state.items()},
                metadata={"fc.activation": "sigmoid", "vocabulary": json.dumps(["<pad>", "good", "bad"])})
    loaded = interop.load_file(data, name="two.safetensors")
    assert [x.name for x in loaded] == ["b_lower layer 0", "a_upper layer 0", "fc"]
    assert loaded.vocabulary == ("<pad>", "good", "bad")
    X = rng.standard_normal((2, 4, 3)).astype(np.float32)
    run = loaded.run(X)
    with torch.no_grad():
        h1, _ = lower(torch.from_numpy(X))
        h2, _ = upper(h1)
        y = torch.sigmoid(fc(h2))
    assert_every_step(run.head, y.numpy(), "sigmoid head")


@pytest.mark.parametrize("where", ["assets", "config"])
def test_load_file_takes_a_text_vectorization_vocabulary(tmp_path, where):
    """A TextVectorization first (vocabulary in the zip's assets or inline in its config): are its words read?

    TensorFlow, which TextVectorization needs, is not installed, so the layer's entry and asset are written here
    into a .keras file Keras saved, in the places Keras's saving code puts them.
    """
    import zipfile

    model = keras.Sequential([keras.Input((None,), dtype="int32"), keras.layers.Embedding(6, 2),
                              keras.layers.GRU(2)])
    src = tmp_path / "m.keras"
    model.save(src)
    words = ["good", "bad", "movie", "not"]
    entry = {"module": "keras.layers", "class_name": "TextVectorization", "registered_name": None,
             "config": {"name": "text_vectorization", "vocabulary": words if where == "config" else None}}
    out = tmp_path / "tv.keras"
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(out, "w") as zout:
        for info in zin.infolist():
            data = zin.read(info.filename)
            if info.filename == "config.json":
                cfg = json.loads(data)
                cfg["config"]["layers"].insert(1, entry)
                data = json.dumps(cfg).encode()
            zout.writestr(info.filename, data)
        if where == "assets":
            zout.writestr("assets/layers/text_vectorization/vocabulary.txt", "\n".join(["", "[UNK]", *words]))
    loaded = interop.load_file(out)
    assert loaded.vocabulary == ("", "[UNK]", *words)
    assert [x.role for x in loaded] == ["embedding", "recurrent"]
    assert any("TextVectorization" in n for n in loaded.notes)
