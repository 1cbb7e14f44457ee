"""Red team, text no file can hold: lone surrogates from a student stop neither grading nor feedback.

Found by this review: ``raise ValueError("\\ud800")`` made ``grade-course`` print ``mallory: UnicodeEncodeError``,
record no grade for that student, leave an empty ``autograded/`` notebook behind, and then ``nbgrader
generate_feedback`` failed on it. JSON's ``\\ud800`` escape spells a string that cannot be encoded as
UTF-8; it reaches the grader through the channel (any string the sandbox sends) and through the
notebook's own JSON (sources, metadata, outputs). Principle: every string that crosses into the grader
is made valid Unicode where it crosses (``channel.valid_text``: in ``read_frame`` and ``load_notebook``,
and for the feedback page's copy of the notebook); the autograded notebook is encoded in full before it
is written, then renamed into place.

``TUNED`` is the payload the fix was written against; ``HELD_OUT`` were written after it and run once.
"""

from __future__ import annotations

import subprocess
import sys

import nbformat
import pytest

from autograder.sandbox import isolation
from tests.autograder.fixtures import course as fx
from tests.exercises.conftest import REPO, nbgrader, project_env

pytestmark = pytest.mark.skipif(isolation.detect() is None, reason="no sandbox isolation on this machine")

LONE = "\ud800"


def _code(code: str) -> nbformat.NotebookNode:
    return fx.with_code(fx.solved_notebook(), "rnn_step", "import numpy as np\n\n\n" + code)


def _edit(edit) -> nbformat.NotebookNode:
    nb = fx.solved_notebook()
    edit(nb)
    return nb


def _added_cell(nb):
    cell = nbformat.v4.new_code_cell("extra = 1")
    cell.metadata["nbgrader"] = {"grade_id": f"mine{LONE}\udcff", "solution": True, "grade": False,
                                 "locked": False, "schema_version": 3}
    nb.cells.insert(3, cell)


def _output(nb):
    cell = next(c for c in nb.cells if c.get("metadata", {}).get("nbgrader", {}).get("grade_id") == "rnn_step")
    cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=f"printed {LONE}\n")]


def _markdown(nb):
    cell = next(c for c in nb.cells if c.get("metadata", {}).get("nbgrader", {}).get("grade_id") == "explain")
    cell.source = f"Because {LONE} saturates."


TUNED = {"exception_text": _code(f"def rnn_step(x, h_prev, params):\n    raise ValueError('bad {LONE!r}')\n")}
HELD_OUT = {
    "class_name": _code(f"def rnn_step(x, h_prev, params):\n    return type({'x' + LONE!r}, (), {{}})(), {{}}\n"),
    "cell_source": _code(f"# a comment {LONE}\n" + fx.RNN_STEP.replace("    ### BEGIN SOLUTION\n", "")
                         .replace("\n    ### END SOLUTION", "")),
    "added_cell_grade_id": _edit(_added_cell),
    "cell_output": _edit(_output),
    "markdown_answer": _edit(_markdown),
    "notebook_title": _edit(lambda nb: nb.metadata.update(title=f"t{LONE}")),
    "key_error_text": _code(f"def rnn_step(x, h_prev, params):\n    return params[{'W' + LONE!r}], {{}}\n"),
}
PAYLOADS = {**TUNED, **HELD_OUT}


@pytest.fixture(scope="module")
def course_run(tmp_path_factory):
    """``grade-course`` and ``nbgrader generate_feedback`` on a course of one right answer and every payload."""
    submissions = {"alice": fx.solved_notebook(), **PAYLOADS}
    course = fx.write_course(tmp_path_factory.mktemp("encoding") / "course", submissions)
    grade = subprocess.run([sys.executable, "-m", "autograder", "grade-course", str(course), "--assignment",
                            fx.ASSIGNMENT], capture_output=True, text=True, cwd=REPO, env=project_env(), timeout=900)
    feedback = nbgrader("generate_feedback", fx.ASSIGNMENT, "--force", cwd=course)
    return course, grade, feedback


def test_every_student_is_graded(course_run):
    _, grade, _ = course_run
    assert grade.returncode == 0, grade.stderr[-2000:]
    assert f"graded {len(PAYLOADS) + 1} of {len(PAYLOADS) + 1} submissions" in grade.stdout, grade.stdout
    assert "alice: 7/7" in grade.stdout and "Error" not in grade.stdout, grade.stdout


@pytest.mark.parametrize("student", sorted(PAYLOADS), ids=lambda s: f"{'held-out' if s in HELD_OUT else 'tuned'}:{s}")
def test_the_autograded_notebook_and_its_feedback_are_written(course_run, student):
    course, _, feedback = course_run
    nb = nbformat.read(course / "autograded" / student / fx.ASSIGNMENT / f"{fx.ASSIGNMENT}.ipynb", as_version=4)
    assert nb.cells, student
    assert (course / "feedback" / student / fx.ASSIGNMENT / f"{fx.ASSIGNMENT}.html").stat().st_size > 0, \
        feedback.stderr[-2000:]
    assert not list((course / "autograded" / student).rglob(".*.partial"))
