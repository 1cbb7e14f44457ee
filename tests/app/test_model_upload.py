"""Uploaded model files are read in the worker pool: the page waits with its place, a newer upload replaces one
not yet read, refusals stay messages, and nothing is parsed on the caller's thread."""

import threading

import numpy as np
import pytest

from simulator import interop
from simulator.app.components import model_upload
from simulator.app.components.model_upload import ModelUpload
from simulator.app.workpool import Runner, WorkPool

safetensors_numpy = pytest.importorskip("safetensors.numpy")


def gru_file(hidden: int, seed: int = 0) -> bytes:
    """A one-layer GRU state_dict (PyTorch names) with input size 2, as safetensors bytes."""
    rng = np.random.default_rng(seed)
    state = {"rnn.weight_ih_l0": rng.standard_normal((3 * hidden, 2)), "rnn.weight_hh_l0": rng.standard_normal(
        (3 * hidden, hidden)), "rnn.bias_ih_l0": rng.standard_normal(3 * hidden),
        "rnn.bias_hh_l0": rng.standard_normal(3 * hidden)}
    return safetensors_numpy.save({k: v.astype(np.float32) for k, v in state.items()})


def poll_until(runner, done, limit=4000):
    for _ in range(limit):
        runner.poll()
        if done():
            return True
        threading.Event().wait(0.005)
    return False


@pytest.fixture
def busy_pool():
    """A one-worker pool whose worker another session holds until ``go`` is set."""
    pool = WorkPool(workers=1, max_queue=8)
    go = threading.Event()
    held = pool.submit("another session", lambda: go.wait(30))
    assert poll_until(Runner(background=False), lambda: held.state == "running")
    yield pool, go
    go.set()


def test_an_upload_is_read_in_the_pool_and_the_latest_one_wins(monkeypatch, busy_pool):
    """While the server is busy: does the page say where its upload waits, is nothing parsed by the caller,
    and of three quick uploads are only the first admitted and the last read?"""
    pool, go = busy_pool
    readers, real = [], interop.load_file
    monkeypatch.setattr(interop, "load_file", lambda content, **kw: readers.append(
        (threading.get_ident(), kw["name"])) or real(content, **kw))
    runner = Runner(pool=pool, background=True)
    upload = ModelUpload(runner=runner)
    for k, hidden in enumerate((3, 4, 5)):
        data = gru_file(hidden, seed=k)
        upload.load(f"m{k}.safetensors", data, len(data))
    runner.poll()
    assert "Reading m0.safetensors" in upload.summary.object and "number 1 in the queue" in upload.summary.object
    assert readers == [] and upload.loaded is None
    go.set()
    assert poll_until(runner, lambda: not runner.busy())
    assert [name for _, name in readers] == ["m0.safetensors", "m2.safetensors"]
    assert all(ident != threading.get_ident() for ident, _ in readers)
    assert upload.loaded.recurrent[0].cell.hidden_size == 5 and "m2.safetensors" in upload.summary.object


@pytest.mark.parametrize(("name", "content", "words"), [
    ("junk.safetensors", b"\x00\x01not a file", ["junk.safetensors"]),
    ("empty.keras", b"", ["empty", "expected a model file"]),
    ("model.exe", b"MZ\x90\x00", ["model.exe"]),
])
def test_refused_files_read_in_the_pool_become_one_message(name, content, words):
    runner = Runner(pool=WorkPool(workers=1, max_queue=8), background=True)
    upload = ModelUpload(runner=runner)
    upload.load(name, content, len(content))
    assert poll_until(runner, lambda: not runner.busy())
    assert upload.loaded is None and upload.alert.visible
    for word in words:
        assert word in upload.message, upload.message


def test_a_reader_that_crashes_in_the_worker_is_a_message_not_a_traceback(monkeypatch):
    """An undocumented exception inside the file reader: does the page say so, and keep the previous model?"""
    runner = Runner(pool=WorkPool(workers=1, max_queue=8), background=True)
    upload = ModelUpload(runner=runner)
    good = gru_file(3)
    upload.load("good.safetensors", good, len(good))
    assert poll_until(runner, lambda: not runner.busy()) and upload.loaded is not None
    monkeypatch.setattr(model_upload.interop, "load_file", lambda content, **kw: (_ for _ in ()).throw(
        MemoryError("reader blew up")))
    upload.load("bad.safetensors", good, len(good))
    assert poll_until(runner, lambda: not runner.busy())
    assert "could not be read (MemoryError)" in upload.message and upload.loaded.recurrent[0].cell.hidden_size == 3
