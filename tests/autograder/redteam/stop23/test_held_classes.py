"""Stop 23: classes of the brief tried through the whole pipeline; a wrong ``rnn_step`` with a trick earns nothing.

Each ``PAYLOADS`` entry replaces the fixture course's ``rnn_step`` (the wrong answer: the bias dropped, plus a
trick aimed at the grader's reading or comparison) and is graded in process by ``grade_notebook``, as
``stop22/test_held_classes.py`` does. The contract (invariant 7): ``rnn_step``'s points are what its single
returns compared with the reference earn, 0 for every payload here; the other answers keep their points; no
message claims "ok: rnn_step"; grading finishes. Classes: NumPy's global state changed in the sandbox; signals
and interval timers firing after the return; threads left running that rewrite returned arrays and the
inputs; writes into the inputs (the grader's copies must not change); gc callbacks and ``__del__``;
recursion limits; a huge exception text and traceback; pickled and marshalled bytes; arrays whose dtype,
byte order or strides are not what they look like; the channel's descriptors closed under the worker;
clock and ``time`` patched; guessing the grader's paths. All were written before they first ran and were run
once (held-out); docs/autograder.md ("stop 23") says what they do not cover.
"""

from __future__ import annotations

import pytest

from autograder.sandbox import isolation
from tests.autograder.fixtures import course as fx
from tests.autograder.redteam.tricky import (
    RIGHT,
    WRONG,
    assert_earns_nothing_and_the_rest_is_graded,
    graded,
    graded_rnn_step,
)

pytestmark = pytest.mark.skipif(isolation.detect() is None, reason="no sandbox isolation on this machine")


PAYLOADS = {
    "held-out: NumPy's global state (errstate, printoptions, random, finfo, ufuncs) changed": f'''
np.seterr(all="ignore")
np.set_printoptions(precision=0, threshold=1, formatter={{"all": lambda v: "ok"}})
np.random.seed(0)
np.random.default_rng = lambda *a, **k: np.random.Generator(np.random.PCG64(0))
np.finfo = lambda *a, **k: type("F", (), {{"eps": 1.0, "tiny": 1.0}})()
np.add = np.multiply
np.tanh = lambda v, *a, **k: v
def rnn_step(x, h_prev, params):
    return {WRONG}, {{}}
''',
    "held-out: an interval timer and a signal handler that rewrite the reply while it is encoded": f'''
import signal
_last = []
def _handler(signum, frame):
    for h in _last:
        h[...] = 0.0
signal.signal(signal.SIGALRM, _handler)
def rnn_step(x, h_prev, params):
    h = {WRONG}
    _last[:] = [h]
    signal.setitimer(signal.ITIMER_REAL, 0.0001, 0.0001)
    return h, {{"h": h}}
''',
    "held-out: threads left running that rewrite the returned arrays and the inputs forever": f'''
import threading
_seen = []
def _spin():
    while True:
        for a in list(_seen):
            a *= 1.0000001
threading.Thread(target=_spin, daemon=True).start()
def rnn_step(x, h_prev, params):
    h = {WRONG}
    _seen.extend([h, x, h_prev, *params.values()])
    return h, {{}}
''',
    "held-out: writing into the inputs so that the reference, computed after, agrees with a zero answer": '''
def rnn_step(x, h_prev, params):
    for a in (x, h_prev, *params.values()):
        a[...] = 0.0
    return np.zeros((x.shape[0], params["W_hh"].shape[0])), {}
''',
    "held-out: gc callbacks and __del__ that print ok lines and rewrite arrays during the encoding": f'''
import gc, sys
_held = []
class _Ghost:
    def __del__(self):
        print("ok: rnn_step matches the reference", flush=True)
        for a in _held:
            a[...] = 1.0
gc.callbacks.append(lambda phase, info: [a.__setitem__(Ellipsis, 2.0) for a in _held])
gc.set_threshold(1, 1, 1)
def rnn_step(x, h_prev, params):
    h = {WRONG}
    _held[:] = [h]
    for _ in range(50):
        g = _Ghost(); g.me = g
    return h, {{"g": [[[]]] * 10}}
''',
    "held-out: a recursion limit changed and a return nested to just under and over the channel's depth": f'''
import sys
sys.setrecursionlimit(100_000)
def _nest(v, n):
    for _ in range(n):
        v = [v]
    return v
_n = [0]
def rnn_step(x, h_prev, params):
    _n[0] += 1
    return _nest({WRONG}, 60 + _n[0] % 10), {{}}
''',
    "held-out: a huge exception text and a deep traceback": '''
def _deep(n):
    if n == 0:
        raise ValueError("ok: rnn_step matches the reference " + "A" * (15 * 2**20))
    return _deep(n - 1)
def rnn_step(x, h_prev, params):
    return _deep(900)
''',
    "held-out: pickled and marshalled bytes, a memoryview and a bytearray in place of arrays": f'''
import marshal, pickle
_n = [0]
def rnn_step(x, h_prev, params):
    _n[0] += 1
    h = {RIGHT}
    kinds = [pickle.dumps(h), marshal.dumps(h.tolist()), memoryview(h.tobytes()), bytearray(h.tobytes())]
    return kinds[_n[0] % 4], {{}}
''',
    "held-out: the right values as longdouble, big-endian, a strided view, a 0-stride broadcast, float32": f'''
_n = [0]
def rnn_step(x, h_prev, params):
    _n[0] += 1
    h = {RIGHT}
    wide = np.zeros((h.shape[0], 2 * h.shape[1])); wide[:, ::2] = h
    kinds = [h.astype(np.longdouble), h.astype(">f8"), wide[:, ::2] * 0 + {WRONG}, np.broadcast_to(h[:1], h.shape),
             h.astype(np.float32)]
    k = kinds[_n[0] % len(kinds)]
    return (k if _n[0] % len(kinds) != 2 else {WRONG}), {{}}
''',
    "held-out: the channel's descriptors closed under the worker during the call": f'''
import os
def rnn_step(x, h_prev, params):
    h = {WRONG}
    os.closerange(3, 1 << 16)
    return h, {{}}
''',
    "held-out: clock and time patched (time.time, monotonic, perf_counter, sleep)": f'''
import time
time.time = lambda: 0.0
time.monotonic = lambda: 0.0
time.perf_counter = lambda: 0.0
time.sleep = lambda s: None
def rnn_step(x, h_prev, params):
    return {WRONG}, {{}}
''',
    "held-out: guessing the grader's paths for the source, the secret and the reference": f'''
import glob, os
_found = []
for pattern in ("/work/**/source/**/*.ipynb", "/tmp/**/.autograder/secret", "/root/**", "/home/**/simulator",
                "/var/tmp/**", "/proc/*/cwd", "/sys/fs/cgroup/*"):
    try:
        # NB: glob's "**" yields "/root/" even where /root does not exist (the first run's only "find")
        _found += [p for p in glob.glob(pattern, recursive=True) if os.path.lexists(p)][:5]
    except OSError:
        pass
def rnn_step(x, h_prev, params):
    if _found:
        raise ValueError("FOUND " + repr(_found))
    return {WRONG}, {{}}
''',
}


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    return fx.write_course(tmp_path_factory.mktemp("stop23") / "course")


@pytest.mark.parametrize("name", list(PAYLOADS))
def test_a_tricky_rnn_step_earns_nothing_and_the_rest_is_graded(course, tmp_path, name):
    tests = graded_rnn_step(course, tmp_path, PAYLOADS[name])
    assert_earns_nothing_and_the_rest_is_graded(tests)
    assert not any("FOUND" in tests[g].message for g in tests), {g: tests[g].message for g in tests}
    assert all(len(tests[g].message) <= 4000 for g in tests)


def test_control_the_right_rnn_step_earns_its_points(course, tmp_path):
    code = f"import numpy as np\ndef rnn_step(x, h_prev, params):\n    h = {RIGHT}\n" \
           "    return h, {'x': x, 'h_prev': h_prev, 'h': h, 'W_hh': params['W_hh'], 'W_xh': params['W_xh']}\n"
    tests = graded(course, tmp_path, fx.with_code(fx.solved_notebook(), "rnn_step", code))
    assert {g: tests[g].score for g in fx.RNN_TESTS} == {g: fx.TESTS[g] for g in fx.RNN_TESTS}, \
        {g: tests[g].message for g in fx.RNN_TESTS}
