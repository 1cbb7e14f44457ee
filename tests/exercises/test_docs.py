"""docs/exercises.md: the instructor's and the student's commands work as written."""

from __future__ import annotations

import csv
import io

from tests.exercises.conftest import WORKFLOW


def test_documented_workflow_runs_end_to_end(course_runs):
    """Do generate, release, fetch, validate, submit, collect, autograde, feedback and export all work?"""
    wf = course_runs["workflow"]
    assert set(WORKFLOW) <= set(wf["blocks"]), "docs/exercises.md lost a run: block"
    for name in WORKFLOW:
        out = wf["runs"].get(name)
        assert out is not None and out.returncode == 0, f"{name} failed:\n{out and out.stderr[-3000:]}"
    validate = wf["runs"]["student-submit"].stdout
    assert "Success! Your notebook passes all the tests." in validate
    rows = list(csv.DictReader(io.StringIO(wf["grades"])))
    assert [(r["assignment"], float(r["score"]), float(r["max_score"])) for r in rows] == [("rnn_cell", 9.0, 9.0)]
    assert wf["feedback"] == ["rnn_cell.html"]
