"""Red team, round 3 as an outside reviewer would: classes that held, kept as regression payloads.

Each payload replaces the fixture course's ``rnn_step`` (a wrong or lying answer, unless said) and is graded
in-process through the whole pipeline. The contract: the points of ``rnn_step`` are what its single
returns compared with the reference earn (0 for every payload here, except where noted), the other
answers keep their points, grading finishes, and nothing survives on the host. The notebook-JSON
payloads are graded the same way and must score 0 with a reason, or full marks, never crash.
docs/redteam.md lists what each class does not cover.
"""

from __future__ import annotations

import json
import os

import pytest

from autograder.pipeline import grade_notebook
from autograder.sandbox import isolation
from tests.autograder.fixtures import course as fx
from tests.autograder.redteam.tricky import (
    LIMITS,
    WRONG,
    assert_earns_nothing_and_the_rest_is_graded,
    graded,
    graded_rnn_step,
)

pytestmark = pytest.mark.skipif(isolation.detect() is None, reason="no sandbox isolation on this machine")


PAYLOADS = {
    "ndarray_subclass_that_lies": f'''
class Liar(np.ndarray):
    def __eq__(self, other): return np.ones(np.shape(other), bool)
    def __array_ufunc__(self, *a, **k): return np.zeros(())
    def __float__(self): return 0.0
    def __array__(self, *a, **k): return np.zeros(self.shape)
def rnn_step(x, h_prev, params):
    return ({WRONG}).view(Liar), {{}}
''',
    "numpy_scalar_subclass": '''
class S(np.float64):
    def __eq__(self, other): return True
def rnn_step(x, h_prev, params):
    return S(1.0), {}
''',
    "generator": f'''
def rnn_step(x, h_prev, params):
    return (v for v in [{WRONG}]), {{}}
''',
    "frames_and_gc_into_the_worker": f'''
import gc, sys
def rnn_step(x, h_prev, params):
    for obj in gc.get_objects():  # the worker's namespace and peer: add the grader's names, patch its encoder
        if type(obj) is dict and "__builtins__" in obj:
            obj["check_rnn_step"] = lambda *a, **k: None
        if type(obj).__name__ == "Peer":
            real = obj.encode
            obj.encode = lambda value, real=real: real(value)
    frame = sys._getframe()
    while frame is not None:
        frame.f_globals.setdefault("close", lambda a, b: True)
        frame = frame.f_back
    return {WRONG}, {{}}
''',
    "thread_fixes_the_array_after_return": f'''
import threading, time
def rnn_step(x, h_prev, params):
    h = {WRONG}
    right = np.tanh(x @ params["W_xh"] + h_prev @ params["W_hh"] + params["b_h"])
    threading.Thread(target=lambda: (time.sleep(0.01), h.__setitem__(..., right)), daemon=True).start()
    return h, {{}}
''',
    "signal_handlers_and_a_loop": '''
import signal
for s in (signal.SIGTERM, signal.SIGALRM, signal.SIGXCPU, signal.SIGINT, signal.SIGHUP):
    signal.signal(s, signal.SIG_IGN)
def rnn_step(x, h_prev, params):
    while True:
        pass
''',
    "fork_and_the_parent_returns_early": f'''
import os
def rnn_step(x, h_prev, params):
    if os.fork() == 0:
        for fd in range(3, 30):  # the child scribbles on every descriptor it inherited, the channel's too
            try:
                os.write(fd, b"RNNC" + b"\\xff" * 64)
            except OSError:
                pass
        os._exit(0)
    return {WRONG}, {{}}
''',
    "ctypes_and_a_segfault": '''
import ctypes
def rnn_step(x, h_prev, params):
    ctypes.string_at(0)
''',
    "settrace_rewrites_the_worker": f'''
import sys
def _tracer(frame, event, arg):
    if event == "return" and frame.f_code.co_name in ("encode", "_enc", "send"):
        frame.f_locals.get("value")
    return _tracer
def rnn_step(x, h_prev, params):
    sys.settrace(_tracer)
    sys.setprofile(lambda *a: None)
    return {WRONG}, {{}}
''',
    "atexit_and_exit": '''
import atexit, os
atexit.register(lambda: print("ok: rnn_step matches the reference"))
def rnn_step(x, h_prev, params):
    os._exit(0)
''',
    "imports_the_reference_by_path": '''
import importlib.util, os, sys
def _find():
    for root in ("/work/main", "/work", "/root", "/usr/lib/python3/dist-packages", "/sandbox"):
        for path in (f"{root}/simulator/cells.py", f"{root}/autograder/checks.py"):
            try:
                spec = importlib.util.spec_from_file_location("stolen", path)
                module = importlib.util.module_from_spec(spec)
                spec.loader.exec_module(module)
                return module
            except Exception:
                pass
    try:
        import simulator.cells as module
        return module
    except Exception:
        return None
_ref = _find()
def rnn_step(x, h_prev, params):
    if _ref is None:
        raise ImportError("no reference to copy")
    return _ref.rnn_step(x, h_prev, params)
''',
    "recursion_bomb": '''
import sys
sys.setrecursionlimit(10**7)
def _down(n):
    return _down(n + 1) + 1
def rnn_step(x, h_prev, params):
    return _down(0), {}
''',
}
# Right on the visible cases' shapes only (it can tell them apart): the visible points, not the hidden ones.
SHAPE_DETECTOR = f'''
def rnn_step(x, h_prev, params):
    if (x.shape, h_prev.shape) in (((2, 3), (2, 4)), ((1, 2), (1, 3))):  # VISIBLE_SHAPES
        return np.tanh(x @ params["W_xh"] + h_prev @ params["W_hh"] + params["b_h"]), {{}}
    return {WRONG}, {{}}
'''


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    return fx.write_course(tmp_path_factory.mktemp("outside") / "course")


@pytest.mark.parametrize("name", sorted(PAYLOADS))
def test_a_lying_or_hostile_rnn_step_earns_nothing_and_the_rest_is_graded(course, tmp_path, name):
    tests = graded_rnn_step(course, tmp_path, PAYLOADS[name])
    assert_earns_nothing_and_the_rest_is_graded(tests)
    assert "ok: rnn_step" not in tests["test_rnn_step_visible"].message


def test_a_function_that_tells_visible_cases_apart_earns_the_visible_points_only(course, tmp_path):
    tests = graded(course, tmp_path, fx.with_code(fx.solved_notebook(), "rnn_step",
                                                    "import numpy as np\n" + SHAPE_DETECTOR))
    assert tests["test_rnn_step_visible"].score == fx.TESTS["test_rnn_step_visible"]
    assert tests["test_rnn_step_hidden"].score == 0


# ----------------------------------------------------------------------------- notebook JSON
def _json(edit) -> str:
    nb = json.loads(json.dumps(fx.solved_notebook()))
    out = edit(nb)
    return out if isinstance(out, str) else json.dumps(nb)


def _cells(nb, n):
    nb["cells"][3:3] = [{"cell_type": "code", "metadata": {}, "source": f"v{i} = {i}", "outputs": [],
                         "execution_count": None, "id": f"x{i}"} for i in range(n)]


NOTEBOOKS = {  # name -> (edit, graded like the solved notebook?)
    "duplicate_cell_ids": (lambda nb: [c.update(id="same") for c in nb["cells"]], True),
    "nbformat_3": (lambda nb: nb.update(nbformat=3), False),
    "nbformat_5": (lambda nb: nb.update(nbformat=5, nbformat_minor=0), False),
    "nbformat_as_text": (lambda nb: nb.update(nbformat="4"), False),
    "cells_a_dict": (lambda nb: nb.update(cells={"0": nb["cells"][0]}), False),
    "a_cell_a_list": (lambda nb: nb["cells"].__setitem__(2, ["not", "a", "cell"]), False),
    "metadata_a_list": (lambda nb: nb["cells"][2].update(metadata=[1, 2]), False),
    "source_a_number": (lambda nb: nb["cells"][2].update(source=12345), False),
    "duplicate_top_keys": (lambda nb: json.dumps(nb)[:-1] + ', "cells": []}', False),
    "nan_literal": (lambda nb: json.dumps(nb).replace('"execution_count": null', '"execution_count": NaN', 1), True),
    "two_thousand_added_cells": (lambda nb: _cells(nb, 2000), True),
    "claims_to_be_locked": (lambda nb: [c.setdefault("metadata", {}).setdefault("nbgrader", {}).update(
        locked=True, grade=True, points=1000) for c in nb["cells"]], None),
}


@pytest.mark.parametrize("name", sorted(NOTEBOOKS))
def test_notebook_json_edge_cases_are_graded_or_refused_with_a_reason(course, tmp_path, name):
    edit, graded = NOTEBOOKS[name]
    text = _json(edit)
    path = fx.write_notebook(tmp_path / f"{fx.ASSIGNMENT}.ipynb", text)
    report = grade_notebook(path, course, fx.ASSIGNMENT, LIMITS)
    scores = {t.grade_id: t.score for t in report.tests}
    assert set(scores) == set(fx.TESTS) and report.max_score == sum(fx.TESTS.values())
    if graded is True:
        assert scores == fx.TESTS, [t.message for t in report.tests]
    elif graded is False:
        assert scores == dict.fromkeys(fx.TESTS, 0.0) and report.notes, report.notes
    else:
        assert all(0 <= scores[g] <= fx.TESTS[g] for g in fx.TESTS)


def test_nothing_the_payloads_started_is_left_on_the_host(course, tmp_path):
    """After a forking payload is graded, does no process of the sandbox's user remain?"""
    graded(course, tmp_path, fx.with_code(fx.solved_notebook(), "rnn_step",
                                           "import numpy as np\n" + PAYLOADS["fork_and_the_parent_returns_early"]))
    uid = isolation.sandbox_uid()
    left = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            status = open(f"/proc/{pid}/status").read()
        except OSError:
            continue
        if uid is not None and f"Uid:\t{uid}\t" in status:
            left.append(pid)
    assert left == []
