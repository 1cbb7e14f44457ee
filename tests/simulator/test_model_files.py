"""Bad model files: every one gets a ValueError naming the file and the problem, and nothing in it runs."""

import io
import json
import struct
import zipfile

import numpy as np
import pytest

from simulator import interop
from simulator.model_files import ModelFileError

h5py = pytest.importorskip("h5py")
torch = pytest.importorskip("torch")
keras = pytest.importorskip("keras")
safetensors_numpy = pytest.importorskip("safetensors.numpy")

pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation doesn't accept a copy keyword",
                                        "ignore:You are saving your model as an HDF5 file",
                                        "ignore:Detected pickle protocol")


def refused(source, *words, name=None, **kw):
    """load_file refuses ``source``; the message starts with the file's name and holds every word."""
    with pytest.raises(ModelFileError) as info:
        interop.load_file(source, name=name, **kw)
    text = str(info.value)
    shown = name or (source.name if hasattr(source, "name") else "uploaded file")
    assert text.startswith(f"{shown}: "), text
    for w in words:
        assert w.lower() in text.lower(), f"{w!r} not in {text!r}"
    return text


def keras_model(tmp_path, layers, input_shape=(5, 3), fname="m.keras", **input_kw):
    model = keras.Sequential([keras.Input(input_shape, **input_kw), *layers])
    path = tmp_path / fname
    model.save(path)
    return model, path


def rewrite_zip(path, out, edit):
    """Copy the zip at ``path`` to ``out`` with ``edit(name, bytes) -> bytes`` applied to every member."""
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            dst.writestr(info.filename, edit(info.filename, src.read(info.filename)))
    return out


def edit_config(path, out, change):
    def edit(name, data):
        if name != "config.json":
            return data
        cfg = json.loads(data)
        change(cfg["config"]["layers"])
        return json.dumps(cfg).encode()
    return rewrite_zip(path, out, edit)


# ----------------------------------------------------------------------------- not a model / damaged
@pytest.mark.parametrize("data", [b"hello, this is text\n", b"\x89PNG\r\n\x1a\n" + bytes(100), bytes(range(256)) * 4,
                                  b"{\"config\": 1}"], ids=["text", "png", "binary", "json"])
def test_not_a_model_file(data):
    """Are text, an image, noise and bare JSON refused as 'not a model file', naming the file?"""
    refused(data, "not a model file", name="notes.keras")


def test_empty_file_and_missing_path(tmp_path):
    """Is an empty file refused, and a path that does not exist reported, not raised as OSError?"""
    empty = tmp_path / "empty.h5"
    empty.write_bytes(b"")
    refused(empty, "empty")
    refused(tmp_path / "missing.keras", "cannot be opened")


def test_truncated_h5_and_truncated_keras(tmp_path):
    """Is a legacy .h5 cut short, and a .keras whose weights file is cut short, refused as truncated?"""
    model, path = keras_model(tmp_path, [keras.layers.LSTM(4), keras.layers.Dense(1)], fname="m.h5")
    data = path.read_bytes()
    for cut in (len(data) // 2, len(data) - 100, 600):
        refused(data[:cut], "hdf5", name="cut.h5")
    _, kpath = keras_model(tmp_path, [keras.layers.GRU(3)])
    out = rewrite_zip(kpath, tmp_path / "cut.keras",
                      lambda n, d: d[: len(d) // 2] if n == "model.weights.h5" else d)
    refused(out, "model.weights.h5", "truncated")
    # the zip itself cut short (its central directory lost)
    refused(kpath.read_bytes()[:-40], "damaged zip", name="short.keras")


def test_oversize_file_is_refused_unread(tmp_path):
    """Is a file over the cap refused by size, from a path and from bytes, with the cap in the message?"""
    _, path = keras_model(tmp_path, [keras.layers.SimpleRNN(2)])
    size = path.stat().st_size
    text = refused(path, "size cap", f"{size - 1:,}", max_bytes=size - 1)
    assert f"{size:,}" in text
    refused(path.read_bytes(), "size cap", name="big.keras", max_bytes=100)


def test_zip_bombs(tmp_path):
    """Are highly compressed members refused before decompression, in a .keras, an .npz and a torch zip?"""
    bomb = bytes(50_000_000)
    for fname, inner in (("bomb.keras", "config.json"), ("bomb.npz", "x.npy"), ("bomb.pt", "archive/data.pkl")):
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
            z.writestr(inner, bomb)
        refused(buf.getvalue(), "zip bomb", name=fname)
    # a member whose central-directory size lies (900 of 1,000 bytes): the read stops at 900 and is refused
    lie = io.BytesIO()
    with zipfile.ZipFile(lie, "w", zipfile.ZIP_STORED) as z:
        z.writestr("config.json", json.dumps({"class_name": "Sequential", "config": {"layers": []}}))
        z.writestr("model.weights.h5", b"x" * 1000)
    data = bytearray(lie.getvalue())
    idx = data.rfind(b"PK\x01\x02")
    struct.pack_into("<I", data, idx + 24, 900)
    refused(bytes(data), "model.weights.h5", name="lies.keras")


def test_nan_and_inf_weights(tmp_path):
    """Are NaN (Keras) and infinite (safetensors, npz) weights refused, naming the array and the index?"""
    layer = keras.layers.LSTM(3)
    model, _ = keras_model(tmp_path, [layer, keras.layers.Dense(1)])
    w = [v.copy() for v in layer.get_weights()]
    w[1][2, 5] = np.nan
    layer.set_weights(w)
    model.save(tmp_path / "nan.keras")
    refused(tmp_path / "nan.keras", "nan", "(2, 5)", "finite")
    t = {"rnn.weight_ih_l0": np.ones((4, 2), np.float32), "rnn.weight_hh_l0": np.full((4, 4), np.inf, np.float32)}
    refused(safetensors_numpy.save(t), "rnn.weight_hh_l0", "inf", name="inf.safetensors")
    buf = io.BytesIO()
    np.savez(buf, **t)
    refused(buf.getvalue(), "rnn.weight_hh_l0", "finite", name="inf.npz")


def test_shapes_contradicting_the_config(tmp_path):
    """Are weights whose shapes contradict the config refused (units, Embedding size, Dense units)?"""
    _, path = keras_model(tmp_path, [keras.layers.Embedding(10, 4), keras.layers.GRU(3), keras.layers.Dense(2)],
                          input_shape=(None,))

    def units(layers):
        layers[2]["config"]["units"] = 5
    refused(edit_config(path, tmp_path / "units.keras", units), "contradict", "layer 'gru")

    def vocab(layers):
        layers[1]["config"]["input_dim"] = 11
    refused(edit_config(path, tmp_path / "vocab.keras", vocab), "contradict", "embeddings")

    def dense(layers):
        layers[3]["config"]["units"] = 7
    refused(edit_config(path, tmp_path / "dense.keras", dense), "contradict", "layer 'dense")

    def reset(layers):
        layers[2]["config"]["reset_after"] = False  # (2, 3H) bias now contradicts a reset-before GRU
    refused(edit_config(path, tmp_path / "reset.keras", reset), "bias", "contradict")


def test_lambda_custom_bidirectional_and_options(tmp_path):
    """Are Lambda, custom objects, Bidirectional, stateful and go_backwards refused by name?"""
    _, path = keras_model(tmp_path, [keras.layers.LSTM(2, return_sequences=True),
                                     keras.layers.Lambda(lambda x: x[:, -1]), keras.layers.Dense(1)],
                          fname="lam.keras")
    refused(path, "lambda", "python code")

    @keras.saving.register_keras_serializable(package="Mine")
    class Doubler(keras.layers.Layer):
        def call(self, x):
            return 2 * x

    _, path = keras_model(tmp_path, [keras.layers.GRU(2), Doubler()], fname="custom.keras")
    refused(path, "custom object", "Mine>Doubler")
    _, path = keras_model(tmp_path, [keras.layers.Bidirectional(keras.layers.LSTM(2)), keras.layers.Dense(1)],
                          fname="bi.keras")
    refused(path, "bidirectional", "one direction")
    _, path = keras_model(tmp_path, [keras.layers.SimpleRNN(2, stateful=True)], input_shape=(5, 3), fname="st.keras",
                          batch_size=2)
    refused(path, "stateful=True", "layer 'simple_rnn")
    _, path = keras_model(tmp_path, [keras.layers.GRU(2, go_backwards=True)], fname="back.keras")
    refused(path, "go_backwards=True")
    _, path = keras_model(tmp_path, [keras.layers.LSTM(2, recurrent_activation="hard_sigmoid")], fname="hard.keras")
    refused(path, "recurrent_activation='hard_sigmoid'")
    _, path = keras_model(tmp_path, [keras.layers.Conv1D(2, 3), keras.layers.LSTM(2)], fname="conv.keras")
    refused(path, "conv1d", "does not compute")
    # torch: bidirectional and projections
    lstm = torch.nn.LSTM(3, 2, bidirectional=True)
    refused(safetensors_numpy.save({f"rnn.{k}": v.detach().numpy() for k, v in lstm.state_dict().items()}),
            "bidirectional", name="bi.safetensors")
    proj = torch.nn.LSTM(3, 4, proj_size=2)
    refused(safetensors_numpy.save({f"rnn.{k}": v.detach().numpy() for k, v in proj.state_dict().items()}),
            "proj_size", name="proj.safetensors")


def test_torch_files_never_unpickle_objects(tmp_path):
    """Is a whole pickled nn.Module refused by weights_only (the message says how to save), and a pickle too?"""
    path = tmp_path / "whole.pt"
    torch.save(torch.nn.Sequential(torch.nn.GRU(2, 3)), path)
    refused(path, "weights_only", "safetensors")
    import pickle

    class Boom:
        def __reduce__(self):
            return (print, ("pwned",))
    refused(pickle.dumps({"rnn.weight_ih_l0": Boom()}), "weights_only", name="evil.pt")
    buf = io.BytesIO()
    np.savez(buf, w=np.array([object()], dtype=object))
    refused(buf.getvalue(), "pickle", name="obj.npz")


def test_hdf5_links_to_other_files_are_refused(tmp_path):
    """Is an HDF5 weight reached through an external or soft link refused, so no other file is read?"""
    _, path = keras_model(tmp_path, [keras.layers.SimpleRNN(2)], fname="m.h5")
    other = tmp_path / "other.h5"
    with h5py.File(other, "w") as f:
        f["kernel"] = np.ones((3, 2), np.float32)
    for link in (h5py.ExternalLink(str(other), "/kernel"), h5py.SoftLink("/model_weights")):
        copy = tmp_path / "linked.h5"
        copy.write_bytes(path.read_bytes())
        with h5py.File(copy, "r+") as f:
            group = f["model_weights"][f["model_weights"].attrs["layer_names"][0]]
            name = group.attrs["weight_names"][0]
            name = name.decode() if isinstance(name, bytes) else name
            del group[name]
            group[name] = link
        refused(copy, "link", "refused")


def test_non_float_and_bfloat16_tensors(tmp_path):
    """Are integer weights and bfloat16 safetensors refused with the dtype named?"""
    t = {"rnn.weight_ih_l0": np.ones((4, 2), np.int32), "rnn.weight_hh_l0": np.ones((4, 4), np.float32)}
    refused(safetensors_numpy.save(t), "dtype I32", name="int.safetensors")
    from safetensors.torch import save

    data = save({"rnn.weight_ih_l0": torch.ones(4, 2, dtype=torch.bfloat16)})
    refused(data, "BF16", name="bf16.safetensors")


# ----------------------------------------------------------------------------- held out: written after the fixes
def test_held_out_payloads(tmp_path):
    """Payloads not tuned on: deep JSON, a header past the end, a subclassed model, a state_dict without RNN."""
    deep = io.BytesIO()
    with zipfile.ZipFile(deep, "w") as z:
        z.writestr("config.json", "[" * 100_000 + "]" * 100_000)
        z.writestr("model.weights.h5", b"")
    refused(deep.getvalue(), "config.json", name="deep.keras")
    header = b'{"a": {"dtype": "F32", "shape": [1000000], "data_offsets": [0, 4000000]}}'
    refused(struct.pack("<Q", len(header)) + header + bytes(16), "damaged safetensors", name="short.safetensors")
    sub = io.BytesIO()
    with zipfile.ZipFile(sub, "w") as z:
        z.writestr("config.json", json.dumps({"class_name": "MyModel", "config": {}, "module": "mine"}))
        z.writestr("model.weights.h5", b"")
    refused(sub.getvalue(), "subclassed", name="sub.keras")
    refused(safetensors_numpy.save({"fc.weight": np.ones((2, 3), np.float32)}), "no recurrent weights",
            name="mlp.safetensors")
    # a weights-only legacy HDF5 (model.save_weights) has no config to name the layers
    model, _ = keras_model(tmp_path, [keras.layers.GRU(2)])
    model.save_weights(tmp_path / "w.weights.h5")
    refused(tmp_path / "w.weights.h5", "model_config")
    # a Functional model that branches
    inp = keras.Input((4, 2))
    a, b = keras.layers.LSTM(3)(inp), keras.layers.GRU(3)(inp)
    keras.Model(inp, keras.layers.Add()([a, b])).save(tmp_path / "branch.keras")
    refused(tmp_path / "branch.keras", "chain")
    # recurrent layers whose sizes do not chain in any order
    t = {"a.weight_ih_l0": np.ones((3, 2), np.float32), "a.weight_hh_l0": np.ones((3, 3), np.float32),
         "b.weight_ih_l0": np.ones((4, 5), np.float32), "b.weight_hh_l0": np.ones((4, 4), np.float32)}
    refused(safetensors_numpy.save(t), "do not chain", name="gap.safetensors")


def test_held_out_payloads_second_batch(tmp_path):
    """More payloads written without looking at the code: one per class, different from the ones above."""
    # bounded memory: a gzip-compressed HDF5 dataset that declares 4 GB of zeros in a few kB
    _, path = keras_model(tmp_path, [keras.layers.SimpleRNN(2)], fname="m.h5")
    with h5py.File(path, "r+") as f:
        group = f["model_weights"][f["model_weights"].attrs["layer_names"][0]]
        name = group.attrs["weight_names"][0]
        name = name.decode() if isinstance(name, bytes) else name
        del group[name]
        group.create_dataset(name, shape=(1_000_000_000,), dtype="float32", compression="gzip", chunks=(1_000_000,))
    refused(path, "unpack past", "zip bomb")
    # bounded memory: too many zip members
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for k in range(10_001):
            z.writestr(f"{k}.npy", b"")
    refused(buf.getvalue(), "zip members", name="many.npz")
    # only float weights: a string dataset in an HDF5 file, an int64 torch tensor, a list instead of a dict
    with h5py.File(path, "w") as f:
        f.attrs["model_config"] = json.dumps({"class_name": "Sequential", "config": {"layers": [
            {"class_name": "SimpleRNN", "config": {"name": "r", "units": 2}}]}})
        f.create_group("model_weights/r").attrs["weight_names"] = [b"k"]
        f["model_weights/r/k"] = np.array([b"abc"])
    refused(path, "dtype", "float")
    pt = tmp_path / "int.pt"
    torch.save({"rnn.weight_ih_l0": torch.ones(3, 2, dtype=torch.int64)}, pt)
    refused(pt, "int64")
    torch.save([torch.ones(2)], pt)
    refused(pt, "list", "state_dict")
    # only what we compute: a gelu head, a nested Sequential, a 1-D recurrent weight, a non-integer unit count
    _, p = keras_model(tmp_path, [keras.layers.GRU(2), keras.layers.Dense(1, activation="gelu")], fname="gelu.keras")
    refused(p, "activation='gelu'")
    inner = keras.Sequential([keras.layers.LSTM(2)])
    _, p = keras_model(tmp_path, [inner], fname="nested.keras")
    refused(p, "sequential", "does not compute")
    refused(safetensors_numpy.save({"r.weight_ih_l0": np.ones(6, np.float32), "r.weight_hh_l0": np.ones((6, 2),
                                                                                                       np.float32)}),
            "do not fit", name="flat.safetensors")
    _, p = keras_model(tmp_path, [keras.layers.LSTM(3)], fname="u.keras")

    def units(layers):
        layers[1]["config"]["units"] = "3"  # layers[0] is the InputLayer
    refused(edit_config(p, tmp_path / "u2.keras", units), "units='3'")
    # no code: config.json that is not UTF-8 text
    out = rewrite_zip(p, tmp_path / "bin.keras", lambda n, d: b"\xff\xfe" + d if n == "config.json" else d)
    refused(out, "config.json", "json")
