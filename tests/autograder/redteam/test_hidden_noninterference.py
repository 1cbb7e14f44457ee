"""Red team, hidden means hidden as non-interference: a hidden test's message must not depend on what the student chose.

Each payload is a function of a constant ``SALT`` that it pushes through one channel (a returned string, a
shape, keys, a length, a class name, an exception's text or line, an exit code, the "got" number, a count
of differing entries, a choice of bug, an in-place change, ...). The same notebook is graded twice, with
``SALT = 1000`` and ``SALT = 2000``, on the same course secret: every hidden test's message must be the
same in both runs (nothing of ``SALT`` got out), while the visible test of the same function must differ
(control: the payload does push ``SALT`` through that channel when the channel is allowed). A real attack
puts a function of the hidden inputs where ``SALT`` is; the payloads also mix in ``x`` to show they see it.

What is allowed to vary with the student's choice is documented in docs/redteam.md (pass or fail, the
fixed reason, which entry is the first bad one); the payloads here keep those fixed, so equality is the
whole contract. ``TUNED`` are the channels hole H5 listed (the mechanism was written against them);
``HELD_OUT`` were written after it and run once, not tuned on.
"""

from __future__ import annotations

import pytest

from autograder.pipeline import grade_notebook
from autograder.sandbox import isolation
from tests.autograder.hostile import courses

pytestmark = pytest.mark.skipif(isolation.detect() is None, reason="no sandbox isolation on this machine")

RIGHT = '''
def _right(x, h_prev, params, activation="tanh"):
    a = x @ params["W_xh"] + h_prev @ params["W_hh"] + params["b_h"]
    h = np.tanh(a)
    return h, {"x": x, "h_prev": h_prev, "a": a, "h": h, "activation": activation, "params": params}

'''

# name -> (kind, code defining `f`): "step" payloads are graded by check_rnn_step(f, cache=True),
# "backward" payloads by check_rnn_step_backward(None, f).
TUNED = {
    "string_in_cache": ("step", '''
def f(x, h_prev, params, activation="tanh"):
    h, cache = _right(x, h_prev, params, activation)
    cache["activation"] = "LEAK" + str(SALT + int(abs(x[0, 0]) * 1e4))
    return h, cache
'''),
    "empty_shape": ("step", '''
def f(x, h_prev, params, activation="tanh"):
    h, cache = _right(x, h_prev, params, activation)
    return np.zeros((0, SALT, int(abs(x[0, 0]) * 1e4))), cache
'''),
    "tuple_length": ("step", '''
def f(x, h_prev, params, activation="tanh"):
    return tuple([0.0] * (SALT + int(abs(x[0, 0]) * 10)))
'''),
    "dict_keys": ("backward", '''
def f(dh, cache):
    x, h_prev, p = cache["x"], cache["h_prev"], cache["params"]
    grads = {k: np.zeros_like(v) for k, v in p.items()}
    grads["LEAK" + str(SALT + int(abs(x[0, 0]) * 1e4))] = np.zeros(1)
    return np.zeros_like(x), np.zeros_like(h_prev), grads
'''),
    "class_name": ("step", '''
def f(x, h_prev, params, activation="tanh"):
    cls = type("LEAK" + str(SALT + int(abs(x[0, 0]) * 1e4)), (), {})
    return cls(), {}
'''),
    "exception_text": ("step", '''
def f(x, h_prev, params, activation="tanh"):
    raise ValueError(str(SALT) + repr(x))
'''),
    "got_value": ("step", '''
def f(x, h_prev, params, activation="tanh"):
    h, cache = _right(x, h_prev, params, activation)
    h = h.copy()
    h[0, 0] = SALT + abs(x[0, 0])
    return h, cache
'''),
}

HELD_OUT = {
    "count_of_bad_entries": ("step", '''
def f(x, h_prev, params, activation="tanh"):
    h, cache = _right(x, h_prev, params, activation)
    h = h.copy().ravel()
    h[: 1 if SALT == 1000 else h.size] += 5.0
    return h.reshape(cache["h"].shape), cache
'''),
    "line_of_the_raise": ("step", '''
def f(x, h_prev, params, activation="tanh"):
    if SALT == 1000:
        raise RuntimeError()



    raise RuntimeError()
'''),
    "exit_code": ("step", '''
import os
def f(x, h_prev, params, activation="tanh"):
    os._exit(SALT % 256)
'''),
    "forged_clause": ("step", '''
def f(x, h_prev, params, activation="tanh"):
    h, cache = _right(x, h_prev, params, activation)
    cache["activation"] = f"h differs at unit 0 (expected {SALT}.{int(abs(x[0, 0]) * 1e4)}, got 1)"
    return h, cache
'''),
    "non_finite_index": ("step", '''
def f(x, h_prev, params, activation="tanh"):
    h, cache = _right(x, h_prev, params, activation)
    h = h.copy()
    h.flat[0 if SALT == 1000 else h.size - 1] = np.nan
    return h, cache
'''),
    "in_place_change": ("step", '''
def f(x, h_prev, params, activation="tanh"):
    out = _right(x.copy(), h_prev, params, activation)
    x.flat[0 if SALT == 1000 else x.size - 1] = SALT + x.flat[0]
    return out
'''),
    "choice_of_bug": ("step", '''
def f(x, h_prev, params, activation="tanh"):
    a = x @ params["W_xh"] + h_prev @ params["W_hh"] + (params["b_h"] if SALT == 2000 else 0.0)
    h = np.tanh(a) if SALT == 1000 else a
    return h, {"x": x, "h_prev": h_prev, "a": a, "h": h, "activation": activation, "params": params}
'''),
    "dtype": ("step", '''
def f(x, h_prev, params, activation="tanh"):
    h, cache = _right(x, h_prev, params, activation)
    return h.astype(np.float32 if SALT == 1000 else np.int64), cache
'''),
    "container_type": ("backward", '''
def f(dh, cache):
    return {SALT: 1} if SALT == 1000 else {SALT, 2}
'''),
    "bytes_in_cache": ("step", '''
def f(x, h_prev, params, activation="tanh"):
    h, cache = _right(x, h_prev, params, activation)
    cache["activation"] = str(SALT).encode() + x.tobytes()[:8]
    return h, cache
'''),
    "printed_output": ("backward", '''
def f(dh, cache):
    print("LEAK", SALT, cache["x"].ravel().tolist())
    x = cache["x"]
    return np.zeros_like(x), np.zeros_like(cache["h_prev"]), {k: np.zeros_like(v) for k, v in cache["params"].items()}
'''),
    "ndarray_subclass": ("step", '''
def f(x, h_prev, params, activation="tanh"):
    h, cache = _right(x, h_prev, params, activation)
    cls = type("LEAK" + str(SALT), (np.ndarray,), {"__eq__": lambda s, o: True, "__repr__": lambda s: str(SALT)})
    return h.view(cls), cache
'''),
    "grads_shapes": ("backward", '''
def f(dh, cache):
    x, h_prev, p = cache["x"], cache["h_prev"], cache["params"]
    grads = {k: np.zeros((SALT % 7 + 1, int(abs(x[0, 0]) * 100) + 1)) for k in p}
    return np.zeros_like(x), np.zeros_like(h_prev), grads
'''),
}

PAYLOADS = {**TUNED, **HELD_OUT}
HIDDEN_TEST = {"step": "check_rnn_step({f}, hidden=True, cache=True)",
               "backward": "check_rnn_step_backward(None, {f}, hidden=True)"}
VISIBLE_TEST = {"step": "check_rnn_step({f}, cache=True)", "backward": "check_rnn_step_backward(None, {f})"}


def _cells():
    cells = [("locked", "setup", "import numpy as np\nfrom autograder.checks import check_rnn_step, "
                                 "check_rnn_step_backward", 0)]
    for name, (kind, _) in PAYLOADS.items():
        fn = f"f_{name}"
        cells += [("solution", name, f"def {fn}():\n    ### BEGIN SOLUTION\n    pass\n    ### END SOLUTION", 0),
                  ("test", f"visible_{name}", VISIBLE_TEST[kind].format(f=fn), 1),
                  ("test", f"hidden_{name}", "### BEGIN HIDDEN TESTS\n" + HIDDEN_TEST[kind].format(f=fn)
                   + "\n### END HIDDEN TESTS", 1)]
    return cells


def _answers(salt: int) -> dict[str, str]:
    return {name: f"import numpy as np\nSALT = {salt}\n{RIGHT}\n{code}\nf_{name} = f\n"
            for name, (_, code) in PAYLOADS.items()}


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """The payload notebook graded with SALT = 1000 and SALT = 2000 on one course (one secret)."""
    root = tmp_path_factory.mktemp("noninterference")
    course = courses.write_course(root / "course", _cells())
    out = {}
    for salt in (1000, 2000):
        path = courses.write(root / f"salt{salt}" / f"{courses.ASSIGNMENT}.ipynb",
                             courses.answered(_cells(), _answers(salt)))
        report = grade_notebook(path, course, courses.ASSIGNMENT)
        out[salt] = {t.grade_id: t for t in report.tests}
    return out


@pytest.mark.parametrize("name", sorted(PAYLOADS), ids=lambda n: f"{'held-out' if n in HELD_OUT else 'tuned'}:{n}")
def test_a_hidden_message_does_not_depend_on_what_the_student_chose(graded, name):
    a, b = graded[1000][f"hidden_{name}"], graded[2000][f"hidden_{name}"]
    assert a.score == b.score == 0
    assert a.message == b.message, (a.message, b.message)
    assert a.output == b.output == ""
    assert "1000" not in a.message and "2000" not in b.message and "LEAK" not in a.message + b.message


# Channels that even a visible test does not quote: the sandbox's printed output, and bytes (named by type).
CLOSED_EVERYWHERE = {"printed_output", "bytes_in_cache"}


@pytest.mark.parametrize("name", sorted(PAYLOADS))
def test_control_the_visible_message_carries_the_choice(graded, name):
    """Control: where quoting is allowed (visible tests), the payload does change the message."""
    a, b = graded[1000][f"visible_{name}"], graded[2000][f"visible_{name}"]
    assert a.score == b.score == 0
    if name in CLOSED_EVERYWHERE:
        assert a.message == b.message and "1000" not in a.message, a.message
    else:
        assert a.message != b.message, a.message
