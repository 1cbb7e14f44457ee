"""Grader-side functions handed to student code compute only within the bounds of the case they came with."""

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from autograder import channel
from autograder.sandbox import Limits, Sandbox, isolation
from simulator import cells

pytestmark = pytest.mark.skipif(isolation.detect() is None, reason="no sandbox isolation on this machine")

LIMITS = Limits(wall=10.0, cpu=60, memory=1024 * 2**20, processes=16)
REPO = Path(__file__).resolve().parents[2]
N = 12_800  # two (N, 1) and (1, N) float arrays: 200 KiB of input, an (N, N) broadcast of 1.3 GB


def locked_lstm_step():
    """The crnn assignment's locked ``lstm_step`` helper, as the grader defines it when it runs that cell."""
    sys.path.insert(0, str(REPO / "exercises"))
    try:
        from builders.common import SETUP
        from builders.crnn import HELPERS
    finally:
        sys.path.remove(str(REPO / "exercises"))
    namespace: dict = {}
    exec(SETUP + HELPERS, namespace)  # noqa: S102 - the instructor's own locked cells
    return namespace["lstm_step"]


def broadcast_add(x, b):
    """A grader-side helper with no shape checks of its own."""
    return x + b


def count_to(n):
    total = 0
    for k in range(n):
        total += k
    return total


@pytest.fixture
def sandbox():
    with Sandbox(LIMITS) as sb:
        yield sb


# A student function that calls the grader's function on inputs of its own choosing, catches what it
# gets, and still returns the right answer: the refusal must fail the request anyway.
STUDENT = '''
import numpy as np

def attack(step, x, how):
    try:
        how(step)
    except Exception as exc:
        global caught
        caught = type(exc).__name__
    return x * 2
'''

PAYLOADS = {
    "broadcast (N, 1) + (1, N)": (lambda: broadcast_add, "lambda step: step(np.ones((N, 1)), np.ones((1, N)))",
                                  "memory budget"),
    "locked lstm_step with b of shape (1, N)": (
        locked_lstm_step, "lambda step: step(np.ones((N, 1)), np.ones((1, 1)), np.ones((1, 1)), "
                          "{'W_x': np.ones((1, 1)), 'W_h': np.ones((1, 1)), 'b': np.ones((1, N))})", "memory budget"),
    "reference rnn_step on a 3000-unit state": (
        lambda: cells.rnn_step, "lambda step: step(np.ones((1, 2)), np.ones((1, 3000)), {'W_xh': np.ones((2, 3000)), "
                                "'W_hh': np.ones((3000, 3000)), 'b_h': np.ones(3000)})", "elements per array"),
    "a loop over a student-chosen count": (lambda: count_to, "lambda step: step(10**12)", "integers up to"),
    "a student function as the tanh hook": (
        lambda: cells.rnn_step, "lambda step: step(np.ones((1, 2)), np.ones((1, 3)), {'W_xh': np.ones((2, 3)), "
                                "'W_hh': np.ones((3, 3)), 'b_h': np.ones(3)}, tanh=lambda a: a)", "plain values only"),
    "a bool array that becomes float64": (lambda: broadcast_add, "lambda step: step(np.ones((N, 1), bool), "
                                          "np.ones((1, N), bool) * 1.0)", "memory budget"),
}


@pytest.mark.parametrize("payload", list(PAYLOADS))
def test_out_of_bounds_calls_are_refused_and_fail_the_request(payload, sandbox):
    """Does each way of making the grader compute on student-sized inputs fail the call with a clear reason?"""
    maker, how, phrase = PAYLOADS[payload]  # maker() gives the grader-side function
    sandbox.exec_cell(STUDENT + f"N = {N}\nhow = {how}\n", "student")
    attack, how_ref = sandbox.get("attack"), sandbox.get("how")
    with pytest.raises(channel.GuardError, match=phrase) as info:
        attack(maker(), np.ones(3), how_ref)
    assert "grader-side function" in str(info.value)
    assert type(sandbox.get("caught")) is str  # the student's code saw an error, caught it and returned
    # The sandbox and the grader are fine afterwards, and an honest call still works.
    sandbox.exec_cell("def honest(step, x):\n    return step(x, x)\n", "honest")
    assert np.array_equal(sandbox.get("honest")(broadcast_add, np.ones(3)), [2.0, 2.0, 2.0])


def test_call_count_is_bounded(sandbox, monkeypatch):
    """Does an endless stream of cheap calls to a grader function stop at the call budget?"""
    monkeypatch.setattr(channel, "MAX_CALLS", 50)
    sandbox.exec_cell("def many(step, x):\n    for _ in range(200):\n        x = step(x, x)\n    return x\n", "c")
    with pytest.raises(channel.GuardError, match="more than 50 times"):
        sandbox.get("many")(lambda a, b: a, np.ones(2))


def test_grader_time_is_bounded():
    """Do repeated slow grader-side calls stop once they used the request's grader time?"""
    import time

    def slow(x):
        time.sleep(0.3)
        return x

    with Sandbox(Limits(wall=1.0)) as sb:
        sb.exec_cell("def loop(step, x):\n    for _ in range(20):\n        step(x)\n    return x\n", "c")
        with pytest.raises(channel.GuardError, match="grader time"):
            sb.get("loop")(slow, np.ones(2))


def test_honest_callbacks_of_the_case_size_pass(sandbox):
    """Do reference steps called on the case's own shapes, T times, still work (no false refusals)?"""
    rng = np.random.default_rng(0)
    B, T, D, H = 4, 30, 5, 7
    params = {"W_xh": rng.standard_normal((D, H)), "W_hh": rng.standard_normal((H, H)), "b_h": rng.standard_normal(H)}
    X = rng.standard_normal((B, T, D))
    sandbox.exec_cell("import numpy as np\ndef forward(X, params, step):\n    h = np.zeros((X.shape[0], "
                      "params['W_hh'].shape[0]))\n    for t in range(X.shape[1]):\n"
                      "        h, _ = step(X[:, t], h, params)\n    return h\n", "c")
    got = sandbox.get("forward")(X, params, cells.rnn_step)
    h = np.zeros((B, H))
    for t in range(T):
        h, _ = cells.rnn_step(X[:, t], h, params)
    assert np.allclose(got, h)


MEASURE = r'''
import json, resource, sys
sys.path.insert(0, sys.argv[1])
import numpy as np
from autograder.sandbox import Limits, Sandbox

def add(x, b):
    return x + b

before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
refused = ""
with Sandbox(Limits(wall=20.0)) as sb:
    sb.exec_cell("import numpy as np\ndef f(step, x):\n    try:\n"
                 "        step(np.ones((12800, 1)), np.ones((1, 12800)))\n"
                 "    except Exception:\n        pass\n    return x\n", "c")
    try:
        sb.get("f")(add, np.ones(3))
    except AssertionError as exc:  # channel.GuardError
        refused = str(exc)
    except BaseException:  # noqa: BLE001 - whatever else happened, the measurement below is what counts
        pass
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print(json.dumps({"grown": after - before, "refused": refused}))
'''


def test_the_grader_process_does_not_grow():
    """Measured in a fresh grader process: does 200 KiB of student input leave its peak memory unchanged?"""
    out = subprocess.run([sys.executable, "-c", MEASURE, str(REPO)], capture_output=True, text=True, timeout=120,
                         env={**os.environ})
    assert out.returncode == 0, out.stderr[-3000:]
    report = json.loads(out.stdout.splitlines()[-1])
    assert report["grown"] < 300 * 2**20, f"the grader's peak resident memory grew by {report['grown'] / 2**20:.0f} MiB"
    assert report["refused"], "the broadcast was computed in the grader"


def test_the_refusal_is_the_test_cells_failure(tmp_path):
    """In a graded notebook, does an apply_twice that bombs the grader's lambda score 0 with the reason?"""
    from autograder.pipeline import grade_notebook
    from tests.autograder.fixtures import course as fx

    course = fx.write_course(tmp_path / "course")
    code = textwrap.dedent('''
        import numpy as np
        def apply_twice(f, x):
            try:
                f(np.ones(10**7))
            except Exception:
                pass
            return f(f(x))
        ''')
    path = fx.write_notebook(tmp_path / "submitted" / f"{fx.ASSIGNMENT}.ipynb",
                             fx.with_code(fx.solved_notebook(), "apply_twice", code))
    report = grade_notebook(path, course, fx.ASSIGNMENT, Limits(wall=10.0, memory=1024 * 2**20))
    scores = {t.grade_id: (t.score, t.message) for t in report.tests}
    assert scores["test_apply_twice"][0] == 0.0
    assert "grader-side function" in scores["test_apply_twice"][1] and "elements" in scores["test_apply_twice"][1]
    assert scores["test_q1"][0] == 1.0


def test_budget_follows_the_case():
    """Are the bounds derived from the exposing call's arrays and integers (bigger case, bigger bounds)?"""
    small = channel.Budget.for_payload((np.ones(3), {"W": np.ones((2, 2))}, 5), 1.0)
    big = channel.Budget.for_payload((np.ones((400, 400)), 7), 1.0)
    assert small.max_elements == 2**16 and big.max_elements == 4 * 160_000
    assert big.max_total == 4 * 160_000 and small.max_int == 2**16 and big.max_int == 2**16
    assert big.memory == 16 * 160_000 * 8 + 256 * 2**20
    assert json.dumps(small.max_calls) == str(channel.MAX_CALLS)


# ----------------------------------------------------------------------------- held out
# Written after the guard, run once, not tuned on: other shapes of "make the grader compute".
HELD_OUT = {
    "np.add itself handed over": (lambda: np.add, "lambda step: step(np.ones((N, 1)), np.ones((1, N)))"),
    "np.zeros with a huge shape": (lambda: np.zeros, "lambda step: step((60000, 60000))"),
    "np.zeros with a shape over the integer bound": (lambda: np.zeros, "lambda step: step((10**6, 10**6))"),
    "a factory whose returned function bombs": (
        lambda: (lambda: broadcast_add), "lambda step: step()(np.ones((N, 1)), np.ones((1, N)))"),
    "a Python list turned into an outer product": (
        lambda: (lambda a: np.outer(np.array(a), np.array(a))), "lambda step: step([1.0] * 150000)"),
}


@pytest.mark.parametrize("payload", list(HELD_OUT))
def test_held_out_ways_to_make_the_grader_compute(payload, sandbox):
    """Are grader computations the guard was not written for refused too, with a reason?"""
    maker, how = HELD_OUT[payload]
    sandbox.exec_cell(STUDENT + f"N = {N}\nhow = {how}\n", "student")
    with pytest.raises(channel.GuardError, match="grader-side function"):
        sandbox.get("attack")(maker(), np.ones(3), sandbox.get("how"))
