"""Red team, class 2 beyond locked cells: a name that an instructor's *test* cell defines, read by a later test.

An nbgrader course may compute an expected value in one test cell and use it in the next. When the
first test fails before its assignment, the grader resolves the missing name from the student's
namespace, so a student who sacrifices the first test chooses the second one's expected value.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.autograder.hostile import courses as hc
from tests.exercises.conftest import REPO, project_env

CELLS = [
    ("locked", "setup", "import numpy as np", None),
    ("solution", "f", "def f(x):\n    ### BEGIN SOLUTION\n    return float(x * x)\n    ### END SOLUTION", None),
    ("test", "t1", 'assert f(1) == 1.0, "f(1) should be 1"\nEXPECTED = 4.0', 1),
    ("test", "t2", 'assert f(2) == EXPECTED, "f(2) should be 4"', 5),
    ("test", "t3", 'assert f(3) == 9.0, "f(3) should be 9"\n\n\ndef ref(x):\n    return float(x * x)', 1),
    ("test", "t4", 'assert f(5) == ref(5), "f(5) should be ref(5)"', 5),
]
# Wrong everywhere, and it supplies the names the failed tests t1 and t3 did not get to define.
PAYLOAD = "EXPECTED = 0.0\n\n\ndef ref(x):\n    return 0.0\n\n\ndef f(x):\n    return 0.0\n"


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("instructor_names")
    course = hc.write_course(root / "course", CELLS)
    path = hc.write(root / "submission.ipynb", hc.answered(CELLS, {"f": PAYLOAD}))
    right = hc.write(root / "right.ipynb", hc.answered(CELLS, {"f": "def f(x):\n    return float(x * x)\n"}))
    out = {}
    for name, nb in (("payload", path), ("right", right)):
        done = subprocess.run([sys.executable, "-m", "autograder", "grade", str(nb), "--assignment", hc.ASSIGNMENT,
                               "--course", str(course), "--json"], capture_output=True, text=True,
                              env=project_env(), cwd=REPO, timeout=600)
        assert done.returncode == 0, done.stderr[-2000:]
        out[name] = json.loads(done.stdout)
    return out


def test_the_course_gives_full_marks_to_a_right_answer(report):
    """Control: the cross-test names work when the tests pass."""
    assert report["right"]["score"] == report["right"]["max_score"] == 12.0


def test_names_an_instructor_test_cell_defines_never_come_from_the_student(report):
    tests = {t["grade_id"]: t for t in report["payload"]["tests"]}
    assert tests["t2"]["score"] == 0.0 and tests["t4"]["score"] == 0.0, tests
    assert "t1" in tests["t2"]["message"] and "t3" in tests["t4"]["message"], tests  # the reason names the cell
