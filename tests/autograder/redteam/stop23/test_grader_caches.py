"""Stop 23, class "grader state that outlives the grading, keyed by what the sandbox sent".

The grader's end of the channel names a reference after the remote object's type (``channel._ref_class``), so
that a message can say "got an object of type Fake". The classes are cached for the life of the grader's
process (in the course server: every later user's grading) and the cache was keyed on the *whole* type name
the sandbox sent, capped at 1000 entries: the worker cuts names to 100 characters, but the student's code can
patch the worker's encoder and send any text. 1000 names of 15 MiB each stayed in the grader for good, one per
reply, and once the cache was full every later student's references went unnamed. Now the key and the label
are the name's first ``MAX_KIND`` characters: what stays is bounded by ``MAX_REF_CLASSES * MAX_KIND``
characters whatever the sandbox sends. The exception-class cache (``_REMOTE_ERROR_CLASSES``) takes built-in
names only; a held-out payload checks it with forged kinds.

``tuned:`` the fix was checked against it; ``held-out:`` written before the fix first ran on it, run once.
"""

from __future__ import annotations

import os

import pytest

from autograder import channel
from autograder.pipeline import grade_notebook
from autograder.sandbox import Limits, Sandbox, isolation
from tests.autograder.fixtures import course as fx

MAX_KIND = getattr(channel, "MAX_KIND", 100)  # NB: getattr so that the file also runs on the code before the fix
BOUND = getattr(channel, "MAX_REF_CLASSES", 1000) * MAX_KIND


@pytest.fixture
def fresh_caches(monkeypatch):
    monkeypatch.setattr(channel, "_REF_CLASSES", {})
    monkeypatch.setattr(channel, "_REMOTE_ERROR_CLASSES", {})


def _peer():
    r, w = os.pipe()
    return channel.Peer(r, w, owner="grader", remote_name="sandbox", write_back=False, defang_text=True), (r, w)


def _ref(i: int, kind: str) -> dict:
    return {"t": "ref", "o": "sandbox", "id": i, "call": False, "n": "x", "k": kind}


def test_tuned_long_distinct_type_names_leave_a_bounded_cache(fresh_caches):
    peer, fds = _peer()
    try:
        for i in range(40):  # one reply each, as a patched worker would send them
            ref = peer.decode(_ref(i, "A" * (1 << 20) + f"_{i}"), [])
            assert isinstance(ref, channel.RemoteRef)
            assert len(type(ref).__name__) <= MAX_KIND
    finally:
        for fd in fds:
            os.close(fd)
    assert sum(len(k) for k in channel._REF_CLASSES) <= BOUND
    assert max(len(k) for k in channel._REF_CLASSES) <= MAX_KIND


def test_held_out_many_short_distinct_names_fill_the_cache_only_to_its_bound(fresh_caches):
    peer, fds = _peer()
    try:
        tree = [_ref(i, f"K{i}_" + "z" * 150) for i in range(3000)]
        peer.decode(tree, [])
    finally:
        for fd in fds:
            os.close(fd)
    assert len(channel._REF_CLASSES) <= getattr(channel, 'MAX_REF_CLASSES', 1000)
    assert sum(len(k) for k in channel._REF_CLASSES) <= BOUND


def test_held_out_forged_exception_kinds_create_no_classes(fresh_caches):
    for i in range(200):
        err = channel.remote_error("ValueError" + "x" * 5000 + str(i), "m")
        assert isinstance(err, channel.RemoteError) and len(err.kind) <= 200
    channel.remote_error("ValueError", "m")
    assert set(channel._REMOTE_ERROR_CLASSES) <= set(channel.ERROR_TYPES)


FORGE = '''
import sys
_ch = sys.modules["channel"]
_orig = _ch.Peer._enc
class Marker:
    pass
_n = [0]
def _enc(self, v, blobs, depth):
    if type(v) is Marker:
        _n[0] += 1
        return {"t": "ref", "o": "sandbox", "id": self.export(v), "call": False, "n": "m",
                "k": "Forged" + "Q" * (4 << 20) + str(_n[0])}
    return _orig(self, v, blobs, depth)
_ch.Peer._enc = _enc
def forged():
    return Marker()
'''


@pytest.mark.skipif(isolation.detect() is None, reason="no sandbox isolation on this machine")
def test_held_out_a_patched_worker_encoder_in_a_real_sandbox(fresh_caches):
    with Sandbox(Limits(wall=20)) as sb:
        sb.exec_cell(FORGE, "forge")
        fn = sb.get("forged")
        names = {type(fn()).__name__ for _ in range(12)}
    assert names and all(len(n) <= MAX_KIND for n in names), [len(n) for n in names]
    assert sum(len(k) for k in channel._REF_CLASSES) <= BOUND


@pytest.mark.skipif(isolation.detect() is None, reason="no sandbox isolation on this machine")
def test_held_out_through_the_pipeline_a_forged_type_name_per_call(fresh_caches, tmp_path):
    course = fx.write_course(tmp_path / "course")
    code = "import numpy as np\n" + FORGE + "def rnn_step(x, h_prev, params):\n    return forged(), {}\n"
    path = fx.write_notebook(tmp_path / f"{fx.ASSIGNMENT}.ipynb", fx.with_code(fx.solved_notebook(), "rnn_step", code))
    tests = {t.grade_id: t for t in grade_notebook(path, course, fx.ASSIGNMENT, Limits(wall=10, notebook=120)).tests}
    assert {g: tests[g].score for g in fx.RNN_TESTS} == dict.fromkeys(fx.RNN_TESTS, 0.0)
    assert all(len(t.message) <= 4000 for t in tests.values())
    assert sum(len(k) for k in channel._REF_CLASSES) <= BOUND
