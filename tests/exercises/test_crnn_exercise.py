"""The crnn assignment through stock nbgrader: the release holds no answers, the solution earns full marks
and the untouched release none (the same round trip as the other assignments)."""

import nbformat
import pytest

from tests.exercises.conftest import grade_assignment

FORBIDDEN = ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS", "expected=")


@pytest.mark.slow
def test_crnn_round_trip(tmp_path):
    """Does nbgrader give the solution every autograded point, the release 0, and leak no answer?"""
    graded = grade_assignment(tmp_path / "course", "crnn")
    assert graded.returncode == 0, graded.log[-3000:]
    text = (graded.course / "release" / "crnn" / "crnn.ipynb").read_text()
    assert not [m for m in FORBIDDEN if m in text]
    source = nbformat.read(graded.course / "source" / "crnn" / "crnn.ipynb", as_version=4)
    tests = {c.metadata["nbgrader"]["grade_id"] for c in source.cells
             if c.metadata.get("nbgrader", {}).get("grade") and not c.metadata["nbgrader"].get("solution")}
    solution, untouched = graded.scores["solution"], graded.scores["untouched"]
    assert len(tests) == 12 and tests <= set(solution)
    assert all(solution[t][0] == solution[t][1] == 1 for t in tests), solution
    assert graded.errors["solution"] == {}
    assert all(untouched[t][0] == 0 for t in tests), untouched
