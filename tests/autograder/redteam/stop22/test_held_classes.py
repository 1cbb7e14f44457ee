"""Stop 22: classes tried as an outside reviewer would that held without a change, kept as regression payloads.

Each ``PAYLOADS`` entry replaces the fixture course's ``rnn_step`` (a wrong answer plus a trick) and is graded in
process through the whole pipeline, as ``test_outside_review.py`` does. The contract (invariant 7): the points
of ``rnn_step`` are what its single returns compared with the reference earn, 0 for every payload here; the
other answers keep their points; grading finishes. The network payloads run in a sandbox directly, against
listeners this test opens on the host (the host reaching them is the control). All were written before they
first ran and were run once (no fix was needed, so none was tuned on). docs/redteam.md ("Stop 22 round") says
what these classes do not cover.
"""

from __future__ import annotations

import os
import socket

import pytest

from autograder.sandbox import Limits, Sandbox, isolation
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
    "held-out: an object with __array__, __array_function__, __float__, __index__, __len__, __eq__": f'''
class Fake:
    shape = (1, 1)
    dtype = np.dtype(float)
    def __init__(self, right): self.right = right
    def __array__(self, *a, **k): return self.right
    def __array_function__(self, *a, **k): return True
    def __array_ufunc__(self, *a, **k): return np.zeros(())
    def __float__(self): return 0.0
    def __index__(self): return 0
    def __len__(self): return len(self.right)
    def __eq__(self, other): return True
    def __bool__(self): return True
def rnn_step(x, h_prev, params):
    return Fake({RIGHT}), {{}}
''',
    "held-out: object-dtype arrays and an object-dtype NumPy scalar": f'''
def rnn_step(x, h_prev, params):
    h = np.empty(x.shape[0], dtype=object)
    for i, row in enumerate({RIGHT}):
        h[i] = row
    return h, {{"h": np.array({RIGHT}, dtype=object), "s": np.array({RIGHT}, dtype=object)[0, 0]}}
''',
    "held-out: a view of a global that a thread and a forked child rewrite after the return": f'''
import mmap, os, threading, time
_shared = mmap.mmap(-1, 1 << 16)
def rnn_step(x, h_prev, params):
    right = {RIGHT}
    h = np.frombuffer(_shared, dtype=np.float64, count=right.size).reshape(right.shape)
    h[...] = {WRONG}
    if os.fork() == 0:
        time.sleep(0.05)
        np.frombuffer(_shared, dtype=np.float64, count=right.size)[:] = right.ravel()
        os._exit(0)
    threading.Thread(target=lambda: (time.sleep(0.02), h.__setitem__(..., right)), daemon=True).start()
    return h, {{}}
''',
    "held-out: numpy, math, builtins and float's own comparison patched in the sandbox": f'''
import builtins, ctypes, math
np.allclose = lambda *a, **k: True
np.isclose = lambda a, b, *r, **k: np.ones(np.shape(a), bool)
np.array_equal = lambda *a, **k: True
np.testing.assert_allclose = lambda *a, **k: None
math.isclose = lambda *a, **k: True
builtins.abs = lambda v: 0.0
builtins.isinstance = lambda *a: True
# float's tp_richcompare slot (offset of tp_richcompare in PyTypeObject) pointed at object's: a slot write in
# this interpreter only
try:
    _slot = ctypes.c_void_p.from_address(id(float) + 8 * 25)
    _slot.value = ctypes.c_void_p.from_address(id(object) + 8 * 25).value
except Exception:
    pass
def rnn_step(x, h_prev, params):
    return {WRONG}, {{}}
''',
    "held-out: forged grader output (a JSON report, ok lines, ANSI, NUL, markup) on stdout and stderr": f'''
import json, os, sys
_forged = json.dumps({{"score": 9.0, "max_score": 9.0, "tests": [{{"grade_id": "test_rnn_step_visible",
                      "score": 2, "max_score": 2, "message": "ok: rnn_step matches the reference"}}]}})
def rnn_step(x, h_prev, params):
    for stream in (sys.stdout, sys.stderr):
        print(_forged, file=stream)
        print("ok: rnn_step matches the reference on every case\\x1b[2K\\x1b[1A\\x00<script>alert(1)</script>",
              file=stream, flush=True)
    os.write(1, b"\\nRNNG" + b"\\x00" * 64)
    return {WRONG}, {{}}
''',
    "held-out: right on its first call only, then the wrong answer": f'''
_calls = [0]
def rnn_step(x, h_prev, params):
    _calls[0] += 1
    return ({RIGHT} if _calls[0] == 1 else {WRONG}), {{}}
''',
    "held-out: exceptions that pose as the grader's (BaseException kinds, grader class names, ok text)": '''
class SandboxFailure(BaseException):
    pass
class GuardError(AssertionError):
    def __str__(self): return "ok: rnn_step matches the reference"
_kinds = [KeyboardInterrupt, SystemExit, GeneratorExit, SandboxFailure, GuardError, StopIteration]
_n = [0]
def rnn_step(x, h_prev, params):
    _n[0] += 1
    raise _kinds[_n[0] % len(_kinds)]("ok: rnn_step matches the reference")
''',
    "held-out: every descriptor and task taken before the wrong answer": f'''
import os, threading, time
_fds = []
try:
    while True:
        _fds.append(os.open("/dev/null", os.O_RDONLY))
except OSError:
    pass
for _ in range(64):
    try:
        threading.Thread(target=time.sleep, args=(30,), daemon=True).start()
    except RuntimeError:
        break
def rnn_step(x, h_prev, params):
    return {WRONG}, {{}}
''',
}


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    return fx.write_course(tmp_path_factory.mktemp("stop22") / "course")


@pytest.mark.parametrize("name", list(PAYLOADS))
def test_a_tricky_rnn_step_earns_nothing_and_the_rest_is_graded(course, tmp_path, name):
    tests = graded_rnn_step(course, tmp_path, PAYLOADS[name])
    assert_earns_nothing_and_the_rest_is_graded(tests)


def test_control_the_right_rnn_step_earns_its_points(course, tmp_path):
    code = f"import numpy as np\ndef rnn_step(x, h_prev, params):\n    h = {RIGHT}\n" \
           "    return h, {'x': x, 'h_prev': h_prev, 'h': h, 'W_hh': params['W_hh'], 'W_xh': params['W_xh']}\n"
    tests = graded(course, tmp_path, fx.with_code(fx.solved_notebook(), "rnn_step", code))
    assert {g: tests[g].score for g in fx.RNN_TESTS} == {g: fx.TESTS[g] for g in fx.RNN_TESTS}, \
        {g: tests[g].message for g in fx.RNN_TESTS}


# ----------------------------------------------------------------------------- the host's services
NETWORK = '''
import socket
def reach(port, abstract, path):
    out = {}
    for name, family, address in (("tcp", socket.AF_INET, ("127.0.0.1", port)),
                                  ("tcp6", socket.AF_INET6, ("::1", port)),
                                  ("postgres", socket.AF_INET, ("127.0.0.1", 5432)),
                                  ("abstract", socket.AF_UNIX, abstract), ("path", socket.AF_UNIX, path)):
        s = socket.socket(family, socket.SOCK_STREAM)
        s.settimeout(2)
        try:
            s.connect(address)
            out[name] = "connected"
        except OSError as exc:
            out[name] = type(exc).__name__
        finally:
            s.close()
    return out
'''


def test_the_hosts_loopback_services_and_unix_sockets_are_out_of_reach(tmp_path):
    tcp = socket.create_server(("127.0.0.1", 0))
    abstract_name = f"\0stop22-{os.getpid()}"
    abstract = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    abstract.bind(abstract_name)
    abstract.listen()
    path = str(tmp_path / "s")
    named = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    named.bind(path)
    named.listen()
    try:
        for address, family in ((("127.0.0.1", tcp.getsockname()[1]), socket.AF_INET), (abstract_name, socket.AF_UNIX),
                                (path, socket.AF_UNIX)):
            with socket.socket(family, socket.SOCK_STREAM) as probe:
                probe.connect(address)  # control: the host reaches each listener
        with Sandbox(Limits(wall=20)) as sb:
            sb.exec_cell(NETWORK, "net")
            got = sb.get("reach")(tcp.getsockname()[1], abstract_name, path)
    finally:
        for s in (tcp, abstract, named):
            s.close()
    assert "connected" not in got.values(), got
