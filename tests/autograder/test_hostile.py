"""Hostile submissions: each scores 0 on what it attacks, and the rest of its notebook is still graded."""

import json
import os
import socket
from pathlib import Path

import pytest

from autograder.pipeline import grade_notebook
from autograder.sandbox import Limits, isolation
from tests.autograder.fixtures import course as fx

pytestmark = pytest.mark.skipif(isolation.detect() is None, reason="no sandbox isolation on this machine")

LIMITS = Limits(wall=1.5, cpu=20, memory=1024 * 2**20, processes=16, output=64 * 2**10)
REPO = str(Path(__file__).resolve().parents[2])
ZEROS = "    return np.zeros((x.shape[0], params['W_hh'].shape[0])), {}\n"
MARKER = "/tmp/autograder-hostile-marker"


def rnn_step_with(body: str) -> str:
    return "def rnn_step(x, h_prev, params):\n" + body


ATTACKS = {
    "monkeypatched numpy comparisons": ("rnn_step", (
        "import numpy as np\nnp.allclose = lambda *a, **k: True\nnp.array_equal = lambda *a, **k: True\n"
        "np.testing.assert_allclose = lambda *a, **k: None\nnp.isclose = lambda a, b, **k: np.ones(np.shape(a), bool)\n"
        + rnn_step_with(ZEROS)), fx.RNN_TESTS),
    "rigged __eq__ answer": ("answers", (
        "class Always(str):\n    def __eq__(self, other):\n        return True\n    __hash__ = str.__hash__\n"
        "answer_q1 = Always('B')\n"), ("test_q1",)),
    "rigged __array__ / __eq__ result": ("rnn_step", (
        "import numpy as np\nclass Fake:\n    shape = (3, 5)\n    dtype = np.dtype('float64')\n"
        "    def __array__(self, *a, **k):\n        return np.zeros(self.shape)\n"
        "    def __eq__(self, other):\n        return True\n"
        + rnn_step_with("    return Fake(), {}\n")), fx.RNN_TESTS),
    "importing the reference": ("rnn_step", (
        f"import sys\nsys.path.insert(0, {REPO!r})\n"
        "from autograder.checks import check_rnn_step\ncheck_rnn_step = lambda *a, **k: None\n"
        + rnn_step_with("    from simulator.cells import rnn_step as reference\n"
                        "    return reference(x, h_prev, params)\n")), fx.RNN_TESTS),
    "redefining the instructor's helper": ("rnn_step", (
        "import numpy as np\nclose = lambda a, b: True\n" + rnn_step_with(ZEROS)), fx.RNN_TESTS),
    "searching the disk for solutions": ("answers", (
        "import glob, os\nfound = []\nfor pattern in ['/tmp/**/*.ipynb', '/root/**/*.ipynb', '/work/**/*.ipynb', "
        "'/home/**/*.ipynb', '/**/source/**/*.ipynb']:\n    found += glob.glob(pattern, recursive=True)\n"
        "found += [p for p in [COURSE_SOURCE] if os.path.exists(p)]\n"
        "answer_q1 = 'A' if any('BEGIN SOLUTION' in open(p).read() for p in found) else 'not found'\n"),
        ("test_q1",)),
    "sys.exit": ("rnn_step", "import sys\n" + rnn_step_with("    sys.exit(0)\n"), fx.RNN_TESTS),
    "os._exit": ("rnn_step", "import os\n" + rnn_step_with("    os._exit(0)\n"), fx.RNN_TESTS),
    "KeyboardInterrupt": ("rnn_step", rnn_step_with("    raise KeyboardInterrupt\n"), fx.RNN_TESTS),
    "segfault": ("rnn_step", "import ctypes\n" + rnn_step_with("    ctypes.string_at(0)\n"), fx.RNN_TESTS),
    "infinite loop": ("rnn_step", rnn_step_with("    while True:\n        pass\n"), fx.RNN_TESTS),
    "sleeping forever": ("rnn_step", "import time\n" + rnn_step_with("    time.sleep(10**6)\n"), fx.RNN_TESTS),
    "sleeping forever at top level": ("answers", "import time\ntime.sleep(10**6)\nanswer_q1 = 'A'\n", ("test_q1",)),
    "memory exhaustion": ("rnn_step", (
        "import numpy as np\n" + rnn_step_with("    blocks = [np.ones(2**27) for _ in range(4)]\n" + ZEROS)),
        fx.RNN_TESTS),
    "too many processes": ("rnn_step", (
        "import os, time\n" + rnn_step_with(
            "    for _ in range(40):\n        try:\n            if os.fork() == 0:\n                time.sleep(60)\n"
            "                os._exit(0)\n        except OSError:\n            break\n" + ZEROS)), fx.RNN_TESTS),
    "output flood": ("rnn_step", (
        "import numpy as np\n" + rnn_step_with("    for _ in range(500):\n        print('x' * 20000)\n" + ZEROS)),
        fx.RNN_TESTS),
    "sockets": ("rnn_step", (
        "import numpy as np, socket\n" + rnn_step_with(
            "    try:\n        socket.create_connection(('127.0.0.1', PORT), timeout=1).sendall(b'hi')\n"
            "    except OSError:\n        pass\n" + ZEROS)), fx.RNN_TESTS),
    "writing files outside the sandbox": ("answers", (
        "for path in [COURSE_SOURCE, MARKER]:\n    try:\n        open(path, 'w').write('owned')\n"
        "    except OSError:\n        pass\nanswer_q1 = 'B'\n"), ("test_q1",)),
    "pickle payload": ("rnn_step", (
        "import os\nclass Payload:\n    def __reduce__(self):\n        return (os.system, ('touch ' + MARKER,))\n"
        + rnn_step_with("    return Payload(), {'cache': Payload()}\n")), fx.RNN_TESTS),
    "garbage on the channel": ("rnn_step", (
        "import os\n" + rnn_step_with(
            "    for fd in range(3, 64):\n        try:\n            os.write(fd, b'RNNG\\xff\\xff\\xff\\xffjunk')\n"
            "        except OSError:\n            pass\n" + ZEROS)), fx.RNN_TESTS),
}


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    return fx.write_course(tmp_path_factory.mktemp("course"))


@pytest.fixture
def listener():
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(4)
    server.settimeout(0.1)
    yield server
    server.close()


@pytest.fixture(scope="module")
def reports():
    """Reports of the attacks graded so far (each attack is graded once per run)."""
    return {}


def _grade(course, tmp_path, nb):
    path = fx.write_notebook(tmp_path / "submitted" / f"{fx.ASSIGNMENT}.ipynb", nb)
    return grade_notebook(path, course, fx.ASSIGNMENT, LIMITS)


def _scores(report) -> dict[str, float]:
    return {t.grade_id: t.score for t in report.tests}


@pytest.mark.parametrize("attack", list(ATTACKS))
def test_attack_scores_zero_on_its_target_only(attack, course, tmp_path, listener, reports):
    """Does the attack earn 0 on the tests it targets while every other test is graded normally?"""
    cell, code, targets = ATTACKS[attack]
    source_path = course / "source" / fx.ASSIGNMENT / f"{fx.ASSIGNMENT}.ipynb"
    before = source_path.read_bytes()
    code = (code.replace("COURSE_SOURCE", repr(str(source_path))).replace("MARKER", repr(MARKER))
            .replace("PORT", str(listener.getsockname()[1])))
    report = reports[attack] = _grade(course, tmp_path, fx.with_code(fx.solved_notebook(), cell, code))
    scores = _scores(report)
    assert set(scores) == set(fx.TESTS)
    for grade_id, points in fx.TESTS.items():
        expected = 0.0 if grade_id in targets else points
        message = next(t.message for t in report.tests if t.grade_id == grade_id)
        assert scores[grade_id] == expected, f"{attack}: {grade_id} scored {scores[grade_id]} ({message})"
    # Nothing escaped: no file written or payload run on the host, the source intact, no connection made.
    assert source_path.read_bytes() == before
    assert not os.path.exists(MARKER)
    with pytest.raises(OSError):
        listener.accept()


@pytest.mark.parametrize("attack, phrase", [
    ("infinite loop", "timed out"), ("os._exit", "exited"), ("segfault", "segmentation fault"),
    ("sys.exit", "SystemExit"), ("KeyboardInterrupt", "KeyboardInterrupt"), ("memory exhaustion", "MemoryError"),
    ("sleeping forever at top level", "timed out"),
])
def test_failures_say_what_happened(attack, phrase, course, tmp_path, reports):
    """Does the failing test's message name the cause (timeout, exit, crash, memory)?"""
    cell, code, targets = ATTACKS[attack]
    report = reports.get(attack) or _grade(course, tmp_path, fx.with_code(fx.solved_notebook(), cell, code))
    messages = [t.message for t in report.tests if t.grade_id in targets]
    assert all(phrase in m for m in messages), messages


def test_notebook_budget_bounds_a_notebook_of_timeouts(course, tmp_path):
    """Does a notebook that times out cell after cell stop at its total budget, the rest scored 0 with the reason?"""
    cell, code, _ = ATTACKS["infinite loop"]
    path = fx.write_notebook(tmp_path / f"{fx.ASSIGNMENT}.ipynb", fx.with_code(fx.solved_notebook(), cell, code))
    limits = Limits(wall=1.0, cpu=20, memory=1024 * 2**20, processes=16, notebook=1.5)
    report = grade_notebook(path, course, fx.ASSIGNMENT, limits)
    assert report.score == 0.0
    assert all("timed out" in t.message or "grading budget" in t.message for t in report.tests[:2])
    assert all("grading budget" in t.message for t in report.tests[2:])  # these would have passed


def test_edited_deleted_and_retyped_test_cells_still_count(course, tmp_path):
    """Are edited, deleted, retyped and re-pointed test cells restored from the source?"""
    nb = fx.with_code(fx.solved_notebook(), "rnn_step", rnn_step_with("    return 0, {}\n"))
    nb = fx.with_code(nb, "answers", "answer_q1 = 'B'")
    cells = nb.cells
    visible = next(c for c in cells if c.metadata.get("nbgrader", {}).get("grade_id") == "test_rnn_step_visible")
    visible.source = "pass"
    visible.metadata.nbgrader["points"] = 100
    q1 = next(c for c in cells if c.metadata.get("nbgrader", {}).get("grade_id") == "test_q1")
    q1.cell_type = "markdown"
    q1.pop("outputs", None)
    q1.pop("execution_count", None)
    hidden = next(c for c in cells if c.metadata.get("nbgrader", {}).get("grade_id") == "test_rnn_step_hidden")
    cells.remove(hidden)
    apply_test = next(c for c in cells if c.metadata.get("nbgrader", {}).get("grade_id") == "test_apply_twice")
    del apply_test.metadata["nbgrader"]
    apply_test.source = "pass"
    report = _grade(course, tmp_path, nb)
    assert _scores(report) == {"test_rnn_step_visible": 0.0, "test_rnn_step_hidden": 0.0, "test_q1": 0.0,
                               "test_apply_twice": 1.0}
    assert report.max_score == sum(fx.TESTS.values())
    joined = " ".join(report.notes)
    assert "test_rnn_step_visible was modified" in joined and "test_rnn_step_hidden was missing" in joined
    assert "test_q1 was modified" in joined and "test_apply_twice was missing" in joined


def test_fake_test_cell_with_more_points_is_ignored(course, tmp_path):
    """Does a student-added cell claiming a test's grade_id change nothing?"""
    nb = fx.solved_notebook()
    fake = json.loads(json.dumps(nb.cells[3]))
    fake["source"] = "pass"
    fake["metadata"]["nbgrader"]["points"] = 50
    nb.cells.insert(3, fx.nbformat.from_dict(fake))
    nb.cells.pop(4)
    report = _grade(course, tmp_path, nb)
    assert report.score == report.max_score == sum(fx.TESTS.values())


@pytest.mark.parametrize("text", ["{not json", '{"cells": 5}', "", '{"nbformat": 4, "cells": [{"source": 3}]}'])
def test_malformed_notebook_earns_zero_with_the_reason(course, tmp_path, text):
    """Does a notebook that is not valid JSON earn 0 on every test, with the reason, without crashing?"""
    report = _grade(course, tmp_path, text)
    assert report.score == 0.0 and report.max_score == sum(fx.TESTS.values())
    assert report.notes and all("not graded" in t.message for t in report.tests)
