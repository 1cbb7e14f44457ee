"""Hostile submissions: each scores 0 on what it attacks, and the rest of its notebook is still graded."""

import copy
import json
import os
import socket
import time
import uuid
from pathlib import Path

import pytest

from autograder.pipeline import grade_notebook
from autograder.sandbox import Limits, isolation
from tests.autograder.fixtures import course as fx
from tests.autograder.hostile import courses

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
    "reading the hidden-case secret": ("answers", (
        "import glob\nfound = [p for p in [SECRET_FILE] + glob.glob('/**/.autograder/secret', recursive=True)]\n"
        "def readable(p):\n    try:\n        return len(open(p, 'rb').read()) > 0\n    except OSError:\n"
        "        return False\nanswer_q1 = 'A' if any(readable(p) for p in found) else 'not found'\n"), ("test_q1",)),
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
            .replace("SECRET_FILE", repr(str(course / ".autograder" / "secret")))
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


# ----------------------------------------------------------------------------- a locked cell that fails in the grader
LOCKED = [
    ("locked", "setup", "import numpy as np", 0),
    ("solution", "model", "def train(data):\n    ### BEGIN SOLUTION\n    return float(np.mean(data))\n"
                          "    ### END SOLUTION", 0),
    ("locked", "run", "data = np.arange(4.0)\nscore = train(data)\nlabel = 'trained on ' + str(len(data))", 0),
    ("test", "test_score", '"""Is the score the mean?"""\nassert abs(score - 1.5) < 1e-9, f"score {score}"', 1),
    ("test", "test_label", '"""Is the label set?"""\nassert label == "trained on 4", "label"', 1),
    ("test", "test_data", '"""Is the data there?"""\nassert data.shape == (4,), "data"', 1),
    ("solution", "other", "def double(v):\n    ### BEGIN SOLUTION\n    return 2 * v\n    ### END SOLUTION", 0),
    ("test", "test_double", '"""Does double double?"""\nassert double(3) == 6, "double(3)"', 1),
    ("locked", "helpers", "def trained_well():\n    return abs(score - 1.5) < 1e-9", 0),
    ("test", "test_indirect", '"""Does a helper that reads score see it?"""\nassert trained_well(), "score"', 1),
]
STUB_NAMES = "\nscore = 1.5\nlabel = 'trained on 4'\n"
DOUBLE = "def double(v):\n    return 2 * v\n"
# Each: the student's `model` cell (and optional changes), and a word the failing tests' reason must contain.
# The first three were written with the fix; the rest are held out (not used to tune it).
LOCKED_PAYLOADS = {
    "raises": ({"model": "def train(data):\n    raise ValueError('no training')\n" + STUB_NAMES}, "ValueError"),
    "crashes the sandbox": ({"model": "import os\ndef train(data):\n    os._exit(1)\n" + STUB_NAMES}, "exited"),
    "loops forever": ({"model": "def train(data):\n    while True:\n        pass\n" + STUB_NAMES}, "timed out"),
    "stub left, names in an added cell": ({"model": "def train(data):\n    raise NotImplementedError()\n",
                                           "+after run": STUB_NAMES}, "NotImplementedError"),
    "names through globals()": ({"model": "def train(data):\n    raise KeyError('x')\n"
                                          "globals().update(score=1.5, label='trained on 4')\n"}, "KeyError"),
    "locked cell rewritten": ({"model": "def train(data):\n    raise RuntimeError('no')\n",
                               "run": "data = __import__('numpy').arange(4.0)" + STUB_NAMES}, "RuntimeError"),
    "raises a BaseException": ({"model": "def train(data):\n    raise KeyboardInterrupt\n" + STUB_NAMES},
                               "KeyboardInterrupt"),
    "segfault": ({"model": "import ctypes\ndef train(data):\n    ctypes.string_at(0)\n" + STUB_NAMES}, "segmentation"),
}


@pytest.fixture(scope="module")
def locked_course(tmp_path_factory):
    return courses.write_course(tmp_path_factory.mktemp("locked"), LOCKED)


def _locked_submission(changes: dict[str, str]):
    nb = courses.answered(LOCKED, {"other": DOUBLE, **{k: v for k, v in changes.items() if not k.startswith("+")}})
    for key, code in changes.items():
        if key.startswith("+after "):
            after = nb.cells.index(courses.by_id(nb, key.split()[1]))
            nb.cells.insert(after + 1, courses.nbformat.v4.new_code_cell(code))
    return nb


@pytest.mark.parametrize("payload", list(LOCKED_PAYLOADS))
def test_a_failed_locked_cell_fails_the_tests_that_need_its_names(payload, locked_course, tmp_path):
    """Does a locked cell that fails in the grader fail the tests using names it should have defined, with the
    reason, even when the student defines those names, while the names it did define still count?"""
    changes, reason = LOCKED_PAYLOADS[payload]
    path = courses.write(tmp_path / f"{courses.ASSIGNMENT}.ipynb", _locked_submission(changes))
    report = grade_notebook(path, locked_course, courses.ASSIGNMENT, LIMITS)
    scores, messages = _scores(report), {t.grade_id: t.message for t in report.tests}
    assert scores == {"test_score": 0.0, "test_label": 0.0, "test_data": 1.0, "test_double": 1.0,
                      "test_indirect": 0.0}, messages
    for grade_id, name in (("test_score", "score"), ("test_label", "label"), ("test_indirect", "score")):
        assert "locked cell run" in messages[grade_id] and name in messages[grade_id], messages[grade_id]
        assert reason in messages[grade_id], messages[grade_id]
    assert any("cell run" in n and reason in n for n in report.notes), report.notes


def test_a_working_locked_cell_still_gives_the_tests_its_names(locked_course, tmp_path):
    """Does the solved notebook earn every point (the locked cell's names come from the grader's own run)?"""
    nb = courses.answered(LOCKED, {"model": "def train(data):\n    return float(np.mean(data))\n", "other": DOUBLE})
    report = grade_notebook(courses.write(tmp_path / "probe.ipynb", nb), locked_course, courses.ASSIGNMENT, LIMITS)
    assert report.score == report.max_score == 5.0, [(t.grade_id, t.message) for t in report.tests]


# ----------------------------------------------------------------------------- cell order
def _cell(nb, grade_id):
    return next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id)


def _copy(cell):
    new = copy.deepcopy(cell)
    new["id"] = uuid.uuid4().hex[:8]  # a copy made in Jupyter gets a cell id of its own
    return new


def _move_before(nb, grade_ids, target, keep=False):
    """``nb`` with the cells ``grade_ids`` moved (or, with ``keep``, copied) just before the cell ``target``."""
    nb = copy.deepcopy(nb)
    moving = [_copy(_cell(nb, g)) if keep else _cell(nb, g) for g in grade_ids]
    if not keep:
        nb.cells = [c for c in nb.cells if all(c is not m for m in moving)]
    at = nb.cells.index(_cell(nb, target))
    nb.cells[at:at] = moving
    return nb


def _edited_copy_at_end(nb, grade_id, text):
    nb = copy.deepcopy(nb)
    extra = _copy(_cell(nb, grade_id))
    extra.source = text
    nb.cells.append(extra)
    return nb


def _answer_copy_before(nb, code):
    nb = copy.deepcopy(nb)
    extra = _copy(_cell(nb, "rnn_step"))
    extra.source = code
    nb.cells.insert(nb.cells.index(_cell(nb, "rnn_step")), extra)
    return nb


WRONG_RNN = fx.RNN_STEP.replace("np.tanh(a)", "1 / (1 + np.exp(-a))").replace("    ### BEGIN SOLUTION\n", "") \
    .replace("    ### END SOLUTION", "")
# Each transform rearranges a notebook without changing any answer, and the note it must leave.
# The first two were written with the fix; the rest are held out.
REORDERINGS = {
    "test copies above the answer": (lambda nb: _move_before(nb, fx.RNN_TESTS, "rnn_step", keep=True),
                                     "appears 2 times"),
    "tests moved above the answer": (lambda nb: _move_before(nb, fx.RNN_TESTS, "rnn_step"), "reordered"),
    "answer moved below everything": (lambda nb: _move_before(nb, ["imports", "rnn_step"], "explain"), "reordered"),
    "notebook reversed": (lambda nb: fx.nbformat.from_dict({**nb, "cells": nb.cells[::-1]}), "reordered"),
    "edited locked copy at the end": (lambda nb: _edited_copy_at_end(nb, "imports", "close = lambda a, b: True"),
                                      "appears 2 times"),
    "edited test copy at the end": (lambda nb: _edited_copy_at_end(nb, "test_q1", "answer_q1 = 'B'"),
                                    "appears 2 times"),
    "answer copy (a wrong one) before it": (lambda nb: _answer_copy_before(nb, WRONG_RNN), "appears 2 times"),
}


@pytest.mark.parametrize("base", ["solved", "wrong rnn_step"])
@pytest.mark.parametrize("name", list(REORDERINGS))
def test_reordering_cells_does_not_change_the_grade(name, base, course, tmp_path):
    """Is a notebook graded by the source's order, answers placed by grade_id, so that moving, copying or
    reversing cells changes no score, and does a note say what was done?"""
    transform, note = REORDERINGS[name]
    nb = fx.solved_notebook()
    if base == "wrong rnn_step":
        nb = fx.with_code(nb, "rnn_step", WRONG_RNN)
    expected = _scores(_grade(course, tmp_path, nb))
    report = _grade(course, tmp_path, transform(nb))
    assert _scores(report) == expected, [(t.grade_id, t.message) for t in report.tests]
    assert any(note in n for n in report.notes), report.notes


def test_a_duplicated_answer_runs_every_copy_in_the_submissions_order(course, tmp_path):
    """Does the last copy of a duplicated answer cell win, as it does when the student runs the notebook?"""
    nb = fx.solved_notebook()
    late_wrong = copy.deepcopy(nb)
    extra = _copy(_cell(late_wrong, "rnn_step"))
    extra.source = WRONG_RNN
    late_wrong.cells.insert(late_wrong.cells.index(_cell(late_wrong, "rnn_step")) + 1, extra)
    scores = _scores(_grade(course, tmp_path, late_wrong))
    assert scores["test_rnn_step_visible"] == 0.0 and scores["test_q1"] == 1.0


# ----------------------------------------------------------------------------- the notebook budget after crashes
def _crash_course(root, n_tests: int):
    cells = [("locked", "setup", "import numpy as np", 0),
             ("solution", "slow", "### BEGIN SOLUTION\nx = 1\n### END SOLUTION", 0),
             ("solution", "work", "def work():\n    ### BEGIN SOLUTION\n    return 1\n    ### END SOLUTION", 0)]
    cells += [("test", f"test_{k}", f'"""Does work() work? ({k})"""\nassert work() == 1, "work()"', 1)
              for k in range(n_tests)]
    return courses.write_course(root, cells), cells


# The slow cell is replayed after every crash; `work` crashes (or hangs) the sandbox on every call.
# The first was written with the fix; the others are held out.
CRASHERS = {
    "os._exit": "import os\ndef work():\n    os._exit(3)\n",
    "segfault": "import ctypes\ndef work():\n    ctypes.string_at(0)\n",
    "hang": "def work():\n    while True:\n        pass\n",
    "SIGKILL": "import os, signal\ndef work():\n    os.kill(os.getpid(), signal.SIGKILL)\n",
    "channel closed": "import os\ndef work():\n    for fd in range(3, 64):\n        try:\n            os.close(fd)\n"
                      "        except OSError:\n            pass\n    return 1\n",
}


@pytest.mark.parametrize("crasher", list(CRASHERS))
def test_notebook_budget_is_a_hard_bound_when_the_sandbox_crashes_repeatedly(crasher, tmp_path, monkeypatch):
    """Is the replay of earlier cells after each crash charged to --notebook-budget, so that no request to the
    sandbox (starting one, replaying a cell, a test's calls) may run past the budget?"""
    from autograder import channel, pipeline

    course, cells = _crash_course(tmp_path / "course", 10)
    nb = courses.answered(cells, {"slow": "import time\ntime.sleep(0.4)\n", "work": CRASHERS[crasher]})
    deadlines, starts = [], []
    read_frame = channel.read_frame

    def spy(fd, deadline=None):
        deadlines.append(deadline)
        return read_frame(fd, deadline)

    monkeypatch.setattr(channel, "read_frame", spy)
    limits = Limits(wall=1.0, cpu=20, memory=1024 * 2**20, processes=16, notebook=4.0)
    source = pipeline.load_source(course, courses.ASSIGNMENT)
    restored, _ = pipeline.restore_cells(nb, source)
    runner = pipeline.Runner(limits)
    start = runner.sandbox.start

    def counted_start():
        starts.append(1)
        start()

    monkeypatch.setattr(runner.sandbox, "start", counted_start)
    report = pipeline.Report(notebook=courses.ASSIGNMENT)
    began = time.monotonic()
    runner.run(pipeline.plan(restored), pipeline.grader_prelude(source), report)
    end = getattr(runner, "budget_end", began + limits.notebook)  # the runner's own clock, if it tells
    assert end >= began + limits.notebook
    assert len(starts) >= 2, "the sandbox should have been restarted (and the slow cell replayed)"
    late = [d - end for d in deadlines if d is not None and d > end]
    assert late == [], f"requests allowed to run past the notebook budget by {late} s"
    assert report.score == 0.0 and len(report.tests) == 10
    assert any("grading budget" in t.message for t in report.tests), [t.message for t in report.tests]


def test_the_crnn_training_run_point_cannot_be_earned_by_a_stub(tmp_path):
    """The review's case: in the real crnn notebook, does a student who leaves crnn_forward a stub and sets
    probe_accuracy and average_accuracy get 0 on the training run, with the reason? (The point is computed by
    the check from the student's single returns compared with the reference's, never from the student's names.)"""
    import shutil

    import nbformat
    from nbgrader.preprocessors import ClearHiddenTests, ClearSolutions

    exercises = Path(REPO) / "exercises"
    course = tmp_path / "course"
    shutil.copytree(exercises / "source" / "crnn", course / "source" / "crnn")
    shutil.copy(exercises / "nbgrader_config.py", course)
    nb = nbformat.read(course / "source" / "crnn" / "crnn.ipynb", as_version=4)
    for pre in (ClearSolutions(), ClearHiddenTests()):
        nb, _ = pre.preprocess(nb, {})
    stub = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "crnn_forward")
    stub.source += "\nprobe_accuracy, average_accuracy = 1.0, 0.5\n"  # the stub stays; the names are set
    path = courses.write(tmp_path / "submitted" / "crnn.ipynb", nb)
    report = grade_notebook(path, course, "crnn", Limits(wall=30.0, cpu=60, memory=2048 * 2**20, processes=16))
    result = next(t for t in report.tests if t.grade_id == "test_training_run")
    assert result.score == 0.0
    assert "crnn_forward" in result.message and "NotImplementedError" in result.message, result.message


def test_the_rnn_cell_notebook_with_copied_tests_above_the_answers_keeps_its_grade(tmp_path):
    """The review's case: in the real rnn_cell notebook, do copies of every test cell placed above the
    answers (at the top) leave a correct notebook at full marks, with a note?"""
    import shutil

    import nbformat

    exercises = Path(REPO) / "exercises"
    course = tmp_path / "course"
    shutil.copytree(exercises / "source" / "rnn_cell", course / "source" / "rnn_cell")
    shutil.copy(exercises / "nbgrader_config.py", course)
    nb = nbformat.read(course / "source" / "rnn_cell" / "rnn_cell.ipynb", as_version=4)
    tests = [_copy(c) for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade")]
    nb.cells[1:1] = tests
    path = courses.write(tmp_path / "submitted" / "rnn_cell.ipynb", nb)
    report = grade_notebook(path, course, "rnn_cell", LIMITS)
    assert report.score == report.max_score == 9.0, [(t.grade_id, t.message) for t in report.tests]
    assert any("appears 2 times" in n for n in report.notes)
