"""Red team, class 10 by mechanism: the redaction of student text follows the cell's marker, not the cases used.

The grader redacts what the student's code sends while a test cell holding ``### BEGIN HIDDEN TESTS``
runs. A test cell that draws hidden cases (``hidden=True``, from the course secret) without that marker,
e.g. one an instructor leaves visible so students see that it exists, gets no redaction.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest

from tests.autograder.hostile import courses as hc
from tests.exercises.conftest import REPO, project_env

STEP = "def rnn_step(x, h_prev, params, activation='tanh'):\n    ### BEGIN SOLUTION\n    raise NotImplementedError\n" \
       "    ### END SOLUTION"
CELLS = [
    ("locked", "setup", "import numpy as np", None),
    ("solution", "rnn_step", STEP, None),
    ("test", "unmarked", "from autograder.checks import check_rnn_step\ncheck_rnn_step(rnn_step, hidden=True)", 2),
    ("test", "marked", "from autograder.checks import check_rnn_step\n### BEGIN HIDDEN TESTS\n"
                       "check_rnn_step(rnn_step, hidden=True)\n### END HIDDEN TESTS", 2),
]
PAYLOAD = ('def rnn_step(x, h_prev, params, activation="tanh"):\n'
           '    raise ValueError("LEAK:" + repr(float(x.flat[0])))\n')
LEAK = re.compile(r"LEAK:-?\d")


@pytest.fixture(scope="module")
def tests(tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("hidden_unmarked")
    course = hc.write_course(root / "course", CELLS)
    path = hc.write(root / "submission.ipynb", hc.answered(CELLS, {"rnn_step": PAYLOAD}))
    done = subprocess.run([sys.executable, "-m", "autograder", "grade", str(path), "--assignment", hc.ASSIGNMENT,
                           "--course", str(course), "--json"], capture_output=True, text=True, env=project_env(),
                          cwd=REPO, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    return {t["grade_id"]: t for t in json.loads(done.stdout)["tests"]}


def test_a_marked_hidden_test_shows_no_input(tests):
    """Control: with the marker, the student's text is replaced (and both cells ran hidden cases)."""
    assert "hidden case" in tests["marked"]["message"] and "hidden case" in tests["unmarked"]["message"]
    assert not LEAK.search(tests["marked"]["message"]), tests["marked"]["message"]


def test_hidden_cases_show_no_input_whatever_the_cell_looks_like(tests):
    assert not LEAK.search(tests["unmarked"]["message"]), tests["unmarked"]["message"]
