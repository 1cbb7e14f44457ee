"""Read trained-model files (.keras, legacy .h5, .safetensors, .npz, PyTorch .pt) as plain arrays, never running code.

What each format gives (``read`` tells them apart by their first bytes, not by the file name):

* Keras 3 ``.keras``: a zip with ``config.json`` (the layers, in order) and ``model.weights.h5``, where the
  weights of the k-th layer of a class sit under ``layers/<snake_case class>[_k]/vars/<i>`` (recurrent layers
  under ``.../cell/vars/<i>``), and a lookup layer's words in ``assets/layers/<...>/vocabulary.txt``.
  Read with ``zipfile``, ``json`` and h5py; Keras is never imported.
* Legacy Keras ``.h5``: the config in the ``model_config`` attribute, the weights under
  ``model_weights/<layer name>`` in the order of that group's ``weight_names`` attribute.
* ``.safetensors`` and ``.npz``: a flat ``name -> array`` dict (a PyTorch ``state_dict``), plus string
  metadata (safetensors' ``__metadata__``; in an npz, a ``__metadata__`` member holding a JSON object).
* PyTorch ``.pt`` / ``.pth``: only with torch installed, and only through ``torch.load(weights_only=True)``,
  which refuses to build anything but tensors and plain containers.

The defences are principles, each enforced on every path:

1. **No code runs.** No pickle (``np.load(allow_pickle=False)``, torch's weights-only unpickler), no Keras
   deserialisation; a config is JSON read as data.
2. **Bounded memory.** The file is capped (``max_bytes``); every zip member's declared size, their total and
   their compression ratio are checked before anything is decompressed (zip bombs), and reads stop at the
   declared size; every HDF5 dataset's size is checked before it is read (compressed datasets are bombs too).
3. **Only this file.** HDF5 links are followed only if they are hard links inside the file (external and
   soft links, external storage and virtual datasets, which name other files, are refused).
4. **Only finite float weights.** Every array must be float16/32/64 (float16 becomes float32) and finite.

Every failure is a ``ModelFileError`` (a ``ValueError``) whose text starts with the file's name.
What this does NOT cover: a file that is valid but lies about what it computes (a config whose layers
were trained for other data), and formats other than the five above.
"""

from __future__ import annotations

import io
import json
import os
import re
import struct
import zipfile
from dataclasses import dataclass, field

import numpy as np

MAX_BYTES = 32 * 1024 * 1024  # a file larger than this is refused unread
MAX_UNPACKED = 128 * 1024 * 1024  # every array and zip member together, once decompressed
MAX_RATIO = 100  # a zip member compressed more than this is treated as a bomb (weights compress ~1.1x)
MAX_MEMBERS = 10_000
FORMATS = ("keras", "h5", "safetensors", "npz", "pt")
HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"
ZIP_MAGIC = b"PK\x03\x04"
SAVE_AS_SAFETENSORS = ("save the state_dict with safetensors instead: "
                       "safetensors.torch.save_file(model.state_dict(), 'model.safetensors')")


class ModelFileError(ValueError):
    """A model file that cannot be read; the message names the file and the problem."""


@dataclass
class RawLayer:
    """One layer of a Keras model as stored: class, name, JSON config and weight arrays in Keras's order."""

    class_name: str
    name: str
    config: dict
    weights: list[np.ndarray]
    module: str = "keras.layers"
    registered_name: str | None = None
    assets: dict[str, bytes] = field(default_factory=dict)  # e.g. a TextVectorization's ``vocabulary.txt``


@dataclass
class RawModel:
    """What a file holds: Keras layers in order (``layers``) or a PyTorch-style ``tensors`` dict."""

    file: str
    format: str
    layers: list[RawLayer] = field(default_factory=list)
    tensors: dict[str, np.ndarray] = field(default_factory=dict)
    metadata: dict[str, str] = field(default_factory=dict)


def fail(file: str, problem: str) -> ModelFileError:
    """The error for ``file``: ``"<file>: <problem>"``."""
    return ModelFileError(f"{file}: {problem}")


# ----------------------------------------------------------------------------- entry point
def read(source, *, name: str | None = None, max_bytes: int = MAX_BYTES) -> RawModel:
    """Read a model file from a path or from its bytes.

    Inputs:
    - source: a path (``str`` / ``os.PathLike``) or the file's ``bytes``.
    - name: the name used in messages (default: the path's base name, or ``"uploaded file"``).
    - max_bytes: larger files are refused before being read.

    Returns a ``RawModel``; raises ``ModelFileError`` naming the file and the problem.
    """
    if isinstance(source, bytes | bytearray | memoryview):
        data = bytes(source)
        name = name or "uploaded file"
        if len(data) > max_bytes:
            raise fail(name, f"{len(data):,} bytes; expected at most {max_bytes:,} (the size cap)")
    elif isinstance(source, str | os.PathLike):
        path = os.fspath(source)
        name = name or os.path.basename(path)
        try:
            size = os.path.getsize(path)
            if size > max_bytes:
                raise fail(name, f"{size:,} bytes; expected at most {max_bytes:,} (the size cap)")
            with open(path, "rb") as fh:
                data = fh.read(max_bytes + 1)
        except OSError as exc:
            raise fail(name, f"cannot be opened ({exc.strerror or exc})") from None
        if len(data) > max_bytes:
            raise fail(name, f"more than {max_bytes:,} bytes; expected at most {max_bytes:,} (the size cap)")
    else:
        raise ValueError(f"source: expected a path or bytes, got {type(source).__name__}")
    if not data:
        raise fail(name, "is empty; expected a .keras, .h5, .safetensors, .npz or .pt model file")
    budget = _Budget(name)
    if data.startswith(ZIP_MAGIC):
        return _read_zip(data, name, budget)
    if data.startswith(HDF5_MAGIC):
        return _read_legacy_h5(data, name, budget)
    if _looks_like_safetensors(data):
        return _read_safetensors(data, name, budget)
    if data[:1] == b"\x80":  # a pickle protocol byte: torch's legacy (non-zip) format
        return _read_torch(data, name, budget)
    raise fail(name, f"is not a model file this page reads (it starts with {data[:8]!r}); expected a Keras "
                     ".keras or .h5, a .safetensors, an .npz or a PyTorch .pt state_dict")


class _Budget:
    """Running total of decompressed bytes for one file, capped at ``MAX_UNPACKED``."""

    def __init__(self, file: str):
        self.file, self.used = file, 0

    def take(self, nbytes: int, what: str) -> None:
        self.used += int(nbytes)
        if self.used > MAX_UNPACKED:
            raise fail(self.file, f"{what} would unpack past {MAX_UNPACKED:,} bytes in total; "
                                  "expected a small recurrent model (is this a zip bomb?)")


# ----------------------------------------------------------------------------- arrays
def _weight(file: str, what: str, arr) -> np.ndarray:
    """A fresh, finite float32/float64 copy of ``arr`` (float16 -> float32), or an error naming ``what``."""
    arr = np.asarray(arr)
    if arr.dtype == np.float16:
        arr = arr.astype(np.float32)
    if arr.dtype.type not in (np.float32, np.float64):
        raise fail(file, f"{what} has dtype {arr.dtype}; expected float16, float32 or float64 weights")
    if not np.isfinite(arr).all():
        bad = tuple(int(i) for i in np.argwhere(~np.isfinite(arr))[0])
        raise fail(file, f"{what} holds {arr[bad]} at index {bad}; expected finite weights (was training "
                         "diverging when it was saved?)")
    return np.array(arr, order="C", copy=True)


# ----------------------------------------------------------------------------- zip (.keras, .npz, torch .pt)
def _open_zip(data: bytes, file: str, budget: _Budget) -> zipfile.ZipFile:
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
        infos = zf.infolist()
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        raise fail(file, f"is a damaged zip archive ({exc}); expected a complete .keras, .npz or .pt file") from None
    if len(infos) > MAX_MEMBERS:
        raise fail(file, f"holds {len(infos):,} zip members; expected at most {MAX_MEMBERS:,}")
    for info in infos:
        if info.file_size > MAX_RATIO * max(info.compress_size, 1024):
            raise fail(file, f"zip member {info.filename!r} expands {info.compress_size:,} bytes to "
                             f"{info.file_size:,}; expected at most {MAX_RATIO}x (a zip bomb?)")
    budget.take(sum(i.file_size for i in infos), "its zip members")
    return zf


def _member(zf: zipfile.ZipFile, name: str, file: str) -> bytes:
    """One member's bytes, reading no more than its declared size (zipfile stops there and checks the CRC)."""
    info = zf.getinfo(name)
    try:
        with zf.open(info) as fh:
            out = fh.read(info.file_size + 1)
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, NotImplementedError) as exc:
        raise fail(file, f"zip member {name!r} cannot be read ({exc})") from None
    if len(out) != info.file_size:
        raise fail(file, f"zip member {name!r} has {len(out):,} bytes, not the {info.file_size:,} its header says")
    return out


def _read_zip(data: bytes, file: str, budget: _Budget) -> RawModel:
    zf = _open_zip(data, file, budget)
    names = zf.namelist()
    if "config.json" in names:
        return _read_keras_zip(zf, file, budget)
    if any(n.endswith("data.pkl") for n in names):
        return _read_torch(data, file, budget)
    if names and all(n.endswith(".npy") for n in names):
        return _read_npz(data, file)
    raise fail(file, f"is a zip archive but not a model (members {names[:5]}); expected a .keras file "
                     "(config.json + model.weights.h5), an .npz of arrays or a PyTorch .pt")


# ----------------------------------------------------------------------------- HDF5
def _h5py(file: str):
    try:
        import h5py
    except ImportError:
        raise fail(file, "needs the h5py package to read Keras weights; install h5py") from None
    return h5py


def _h5_open(data: bytes, file: str, what: str):
    h5py = _h5py(file)
    try:
        return h5py.File(io.BytesIO(data), "r")
    except (OSError, ValueError) as exc:
        raise fail(file, f"{what} is not a readable HDF5 file, perhaps truncated ({exc})") from None


def _h5_get(group, path: str, file: str):
    """Follow ``path`` one component at a time, through hard links only; None if a component is missing."""
    h5py = _h5py(file)
    node = group
    for part in path.split("/"):
        try:
            link = node.get(part, getlink=True)
        except (OSError, KeyError, ValueError) as exc:
            raise fail(file, f"HDF5 entry {path!r} cannot be read, perhaps truncated ({exc})") from None
        if link is None:
            return None
        if not isinstance(link, h5py.HardLink):
            raise fail(file, f"HDF5 entry {path!r} is a {type(link).__name__}; only entries stored in this "
                             "file are read (links to other files or paths are refused)")
        try:
            node = node[part]
        except (OSError, KeyError, ValueError) as exc:
            raise fail(file, f"HDF5 entry {path!r} cannot be read, perhaps truncated ({exc})") from None
    return node


def _h5_array(dataset, where: str, file: str, budget: _Budget) -> np.ndarray:
    h5py = _h5py(file)
    if not isinstance(dataset, h5py.Dataset):
        raise fail(file, f"HDF5 entry {where!r} is a {type(dataset).__name__}; expected an array of weights")
    if dataset.is_virtual or dataset.external:
        raise fail(file, f"HDF5 dataset {where!r} takes its data from other files; only data stored in this "
                         "file is read")
    if dataset.dtype.kind != "f":
        raise fail(file, f"HDF5 dataset {where!r} has dtype {dataset.dtype}; expected float weights")
    budget.take(dataset.size * dataset.dtype.itemsize, f"HDF5 dataset {where!r} {dataset.shape}")
    try:
        arr = dataset[()]
    except (OSError, ValueError, RuntimeError) as exc:
        raise fail(file, f"HDF5 dataset {where!r} cannot be read, perhaps truncated ({exc})") from None
    return _weight(file, f"weight {where!r}", arr)


def _snake(name: str) -> str:
    """Keras's ``to_snake_case``: ``SimpleRNN`` -> ``simple_rnn``, ``LSTM`` -> ``lstm``."""
    name = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", name).lower()


def _json(text: bytes | str, file: str, what: str):
    try:
        return json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise fail(file, f"{what} is not valid JSON ({exc})") from None


def _config_layers(config, file: str) -> list[dict]:
    """The layer entries of a Sequential or Functional model config, in order."""
    if not isinstance(config, dict) or not isinstance(config.get("config"), dict):
        raise fail(file, "config: expected a JSON object with 'class_name' and 'config'")
    cls = config.get("class_name")
    if cls not in ("Sequential", "Functional", "Model"):
        raise fail(file, f"config: the model is a {cls!r}; expected a Keras Sequential or Functional model "
                         "(a subclassed model is Python code, which is never run here)")
    layers = config["config"].get("layers")
    if not isinstance(layers, list) or not all(isinstance(e, dict) for e in layers):
        raise fail(file, "config: 'layers' is missing or not a list of layer objects")
    if cls != "Sequential":
        _check_chain(layers, file)
    return layers


def _inbound_names(node) -> list[str]:
    """Names of the layers feeding a layer: Keras 3 writes ``{"keras_history": [name, 0, 0]}`` inside its
    ``inbound_nodes``; Keras 2 writes ``[[name, 0, 0, {}], ...]`` per node.
    """
    if isinstance(node, dict):
        history = (node.get("config") or {}).get("keras_history") if isinstance(node.get("config"), dict) else None
        if isinstance(history, list) and history and isinstance(history[0], str):
            return [history[0]]
        return [n for v in node.values() for n in _inbound_names(v)]
    if isinstance(node, list):
        if len(node) >= 3 and isinstance(node[0], str) and isinstance(node[1], int):
            return [node[0]]
        return [n for v in node for n in _inbound_names(v)]
    return []


def _check_chain(layers: list[dict], file: str) -> None:
    """A Functional model is read only when it is a chain: each layer takes the previous layer's output."""
    previous = None
    for entry in layers:
        name = entry.get("name") or (entry.get("config") or {}).get("name")
        sources = _inbound_names(entry.get("inbound_nodes") or [])
        if previous is not None and sources != [previous]:
            raise fail(file, f"layer {name!r} takes its input from {sources or 'nothing'}, not from {previous!r}; "
                             "expected a chain of layers (branching models are not shown here)")
        previous = name


def _layer_record(entry: dict) -> tuple[str, str, dict, str, str | None]:
    cfg = entry.get("config") if isinstance(entry.get("config"), dict) else {}
    return (str(entry.get("class_name")), str(cfg.get("name", entry.get("name", ""))), cfg,
            str(entry.get("module") or "keras.layers"), entry.get("registered_name"))


def _read_keras_zip(zf: zipfile.ZipFile, file: str, budget: _Budget) -> RawModel:
    config = _json(_member(zf, "config.json", file), file, "config.json")
    entries = _config_layers(config, file)
    if "model.weights.h5" not in zf.namelist():
        raise fail(file, "has no model.weights.h5; expected a .keras file saved by model.save(...)")
    h5 = _h5_open(_member(zf, "model.weights.h5", file), file, "model.weights.h5")
    sequential = config.get("class_name") == "Sequential"
    seen: dict[str, int] = {}
    layers = []
    with h5:
        for entry in entries:
            cls, name, cfg, module, registered = _layer_record(entry)
            if sequential and cls == "InputLayer":
                continue  # Sequential keeps its input layer out of model.layers, hence out of the weights file
            key = _snake(cls)
            k = seen.get(key, 0)
            seen[key] = k + 1
            path = f"layers/{key}" if k == 0 else f"layers/{key}_{k}"
            group = _h5_get(h5, path, file)
            weights = []
            if group is not None:
                for sub in ("vars", "cell/vars"):
                    vars_ = _h5_get(group, sub, file)
                    if vars_ is None:
                        continue
                    for i in range(len(vars_)):
                        where = f"{path}/{sub}/{i}"
                        dataset = _h5_get(vars_, str(i), file)
                        if dataset is None:
                            raise fail(file, f"HDF5 entry {where!r} is missing; expected weights numbered 0, 1, ...")
                        weights.append(_h5_array(dataset, where, file, budget))
            assets = {}
            vocab = f"assets/{path}/vocabulary.txt"  # where Keras's save_assets puts a lookup's words
            if vocab in zf.namelist():
                assets["vocabulary.txt"] = _member(zf, vocab, file)
            layers.append(RawLayer(cls, name, cfg, weights, module, registered, assets))
    return RawModel(file, "keras", layers=layers)


def _read_legacy_h5(data: bytes, file: str, budget: _Budget) -> RawModel:
    h5 = _h5_open(data, file, "the file")
    with h5:
        raw = h5.attrs.get("model_config")
        if raw is None:
            raise fail(file, "is an HDF5 file without a 'model_config' attribute; expected a whole Keras model "
                             "saved with model.save('model.h5') (a weights-only file has no layers to name)")
        config = _json(raw.decode() if isinstance(raw, bytes) else str(raw), file, "model_config")
        entries = _config_layers(config, file)
        root = _h5_get(h5, "model_weights", file)
        if root is None:
            raise fail(file, "has no 'model_weights' group; expected a Keras model saved with its weights")
        layers = []
        for entry in entries:
            cls, name, cfg, module, registered = _layer_record(entry)
            if cls == "InputLayer":
                continue
            group = _h5_get(root, name, file) if name and "/" not in name else None
            weights = []
            if group is not None:
                for wname in group.attrs.get("weight_names", []):
                    wname = wname.decode() if isinstance(wname, bytes) else str(wname)
                    dataset = _h5_get(group, wname, file)
                    if dataset is None:
                        raise fail(file, f"weight {name}/{wname} is listed but missing (a truncated file?)")
                    weights.append(_h5_array(dataset, f"{name}/{wname}", file, budget))
            layers.append(RawLayer(cls, name, cfg, weights, module, registered))
    return RawModel(file, "h5", layers=layers)


# ----------------------------------------------------------------------------- state_dict formats
def _metadata_strings(meta, file: str) -> dict[str, str]:
    if meta is None:
        return {}
    if not isinstance(meta, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in meta.items()):
        raise fail(file, "metadata: expected a JSON object of strings, e.g. {\"rnn.nonlinearity\": \"relu\"}")
    return dict(meta)


def _looks_like_safetensors(data: bytes) -> bool:
    if len(data) < 10:
        return False
    (n,) = struct.unpack("<Q", data[:8])
    return 2 <= n <= len(data) - 8 and data[8:9] == b"{"


def _read_safetensors(data: bytes, file: str, budget: _Budget) -> RawModel:
    (n,) = struct.unpack("<Q", data[:8])
    header = _json(data[8 : 8 + n], file, "the safetensors header")
    if not isinstance(header, dict):
        raise fail(file, "the safetensors header is not a JSON object")
    meta = _metadata_strings(header.pop("__metadata__", None), file)
    for key, info in header.items():
        dtype = info.get("dtype") if isinstance(info, dict) else None
        if dtype not in ("F16", "F32", "F64"):
            raise fail(file, f"tensor {key!r} has dtype {dtype}; expected F16, F32 or F64 weights "
                             "(convert bfloat16 with .float() before saving)")
    budget.take(len(data), "its tensors")
    try:
        from safetensors.numpy import load
    except ImportError:
        raise fail(file, "needs the safetensors package; install safetensors") from None
    try:
        tensors = load(data)
    except Exception as exc:  # the Rust parser's SafetensorError is not importable under one stable name
        raise fail(file, f"is a damaged safetensors file ({exc})") from None
    return RawModel(file, "safetensors", tensors={k: _weight(file, f"tensor {k!r}", v) for k, v in tensors.items()},
                    metadata=meta)


def _read_npz(data: bytes, file: str) -> RawModel:
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
    except ValueError as exc:
        raise fail(file, f"holds an array that needs pickle ({exc}); expected plain numeric arrays") from None
    except (OSError, zipfile.BadZipFile, EOFError) as exc:
        raise fail(file, f"is a damaged .npz ({exc})") from None
    meta = {}
    if "__metadata__" in arrays:
        m = arrays.pop("__metadata__")
        if m.dtype.kind != "U" or m.ndim != 0:
            raise fail(file, "__metadata__: expected one string holding a JSON object")
        meta = _metadata_strings(_json(str(m), file, "__metadata__"), file)
    return RawModel(file, "npz", tensors={k: _weight(file, f"array {k!r}", v) for k, v in arrays.items()},
                    metadata=meta)


def _read_torch(data: bytes, file: str, budget: _Budget) -> RawModel:
    try:
        import torch
    except ImportError:
        raise fail(file, "is a PyTorch file, which needs torch installed to be read safely; "
                         + SAVE_AS_SAFETENSORS) from None
    if data.startswith(ZIP_MAGIC):
        _open_zip(data, file, _Budget(file))  # the size and ratio checks, before torch decompresses anything
    try:
        obj = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except Exception as exc:  # UnpicklingError for a whole nn.Module, RuntimeError for damage
        first = str(exc).strip().splitlines()[0][:160] if str(exc).strip() else type(exc).__name__
        raise fail(file, f"cannot be loaded with weights_only=True ({first}); expected a state_dict "
                         "(torch.save(model.state_dict(), path)), or " + SAVE_AS_SAFETENSORS) from None
    if isinstance(obj, dict) and "state_dict" in obj and isinstance(obj["state_dict"], dict):
        obj = obj["state_dict"]  # a checkpoint dict {"state_dict": ..., "epoch": ...}
    if not isinstance(obj, dict) or not obj:
        raise fail(file, f"holds a {type(obj).__name__}; expected a non-empty state_dict of tensors")
    tensors = {}
    for key, value in obj.items():
        if not isinstance(key, str) or not isinstance(value, torch.Tensor):
            raise fail(file, f"entry {key!r} is a {type(value).__name__}; expected a state_dict of tensors")
        budget.take(value.numel() * value.element_size(), f"tensor {key!r}")
        if value.dtype == torch.bfloat16:
            value = value.float()
        tensors[key] = _weight(file, f"tensor {key!r}", value.detach().cpu().numpy())
    return RawModel(file, "pt", tensors=tensors)
