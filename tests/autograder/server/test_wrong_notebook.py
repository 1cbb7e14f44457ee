"""A student who picks the wrong assignment in the menu, or sends a notebook of this course that holds none of the
assignment's own cells, is told so before anything is stored: every notebook of the course shares its locked
``setup`` (and ``worked_example``) cells, so they alone never make a file "a notebook of" an assignment (they
did: rnn_cell's notebook sent as lstm_cell was accepted, graded 0 / 9 with a page of NameErrors, and spent one
of the student's submissions)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from autograder.server import accounts, submissions
from autograder.server.service import CourseServer
from autograder.server.submissions import RefusedError

EXERCISES = Path(__file__).resolve().parents[3] / "exercises"
ASSIGNMENTS = ("rnn_cell", "lstm_cell", "gru_cell")


@pytest.fixture
def course(tmp_path) -> Path:
    """The course's real source notebooks of the three cell assignments, each released (its source as the file)."""
    root = tmp_path / "course"
    for name in ASSIGNMENTS:
        shutil.copytree(EXERCISES / "source" / name, root / "source" / name)
        (root / "release" / name).mkdir(parents=True)
        shutil.copy(EXERCISES / "source" / name / f"{name}.ipynb", root / "release" / name / f"{name}.ipynb")
    return root


def _notebook(course: Path, name: str, keep=None) -> bytes:
    nb = json.loads((course / "source" / name / f"{name}.ipynb").read_text())
    if keep is not None:
        nb["cells"] = [c for c in nb["cells"] if c["metadata"].get("nbgrader", {}).get("grade_id") in keep]
    return json.dumps(nb).encode()


@pytest.mark.parametrize("sent, chosen", [("rnn_cell", "lstm_cell"), ("lstm_cell", "gru_cell"),
                                          ("gru_cell", "rnn_cell")])
def test_another_assignments_notebook_is_named_as_such(course, sent, chosen):
    with pytest.raises(RefusedError) as refused:
        submissions.check_notebook(_notebook(course, sent), f"{sent}.ipynb", course, chosen)
    assert refused.value.status == 422
    assert f"is the notebook of assignment {sent!r}, not {chosen!r}" in refused.value.message
    assert f"choose {sent!r} in the menu" in refused.value.message


def test_only_the_shared_cells_is_refused_naming_the_cells_expected(course):
    data = _notebook(course, "lstm_cell", keep={"setup", "worked_example"})
    with pytest.raises(RefusedError) as refused:
        submissions.check_notebook(data, "mine.ipynb", course, "lstm_cell")
    message = refused.value.message
    assert "none of the cells of assignment 'lstm_cell'" in message and "lstm_step" in message, message


def test_the_right_notebook_and_one_answer_cell_kept_are_accepted(course):
    submissions.check_notebook(_notebook(course, "lstm_cell"), "lstm_cell.ipynb", course, "lstm_cell")
    partial = _notebook(course, "lstm_cell", keep={"setup", "lstm_step"})  # the tests are restored by the grader
    submissions.check_notebook(partial, "lstm_cell.ipynb", course, "lstm_cell")


def test_a_wrong_notebook_through_the_server_stores_nothing(course):
    server = CourseServer(course, grade=False)
    try:
        ada = accounts.add_user(server.engine, "ada", "student")[0]
        with pytest.raises(RefusedError, match="is the notebook of assignment 'rnn_cell'"):
            server.submit(ada, "lstm_cell", "rnn_cell.ipynb", _notebook(course, "rnn_cell"))
        assert server.submissions_of(ada) == []
    finally:
        server.close()
