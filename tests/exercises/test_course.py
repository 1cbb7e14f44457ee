"""The nbgrader course: releases hold no answers, solutions earn full marks, bugs earn partial credit with
feedback that names them, and release notebooks run top to bottom in a fresh kernel."""

from __future__ import annotations

import nbformat
import pytest

from tests.exercises.bugs import BUGS
from tests.exercises.conftest import ASSIGNMENTS, EXERCISES

FORBIDDEN = ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS", "expected=")
# Given cells that run a student's function fail in the untouched release, and so do test cells reading their
# results: (assignment, grade_id) -> the one error expected there.
RUNS_STUDENT_CODE: dict[tuple[str, str], str] = {}  # (assignment, grade_id) -> the one error a cell may raise

CHECK_FAILURES = ("AssertionError: ", "CheckError: ")  # CheckError subclasses AssertionError


def _cells(nb, **flags):
    return [c for c in nb.cells if all(c.metadata.get("nbgrader", {}).get(k) == v for k, v in flags.items())]


def _source(assignment: str):
    return nbformat.read(EXERCISES / "source" / assignment / f"{assignment}.ipynb", as_version=4)


def _autograded_ids(assignment: str) -> set[str]:
    return {c.metadata["nbgrader"]["grade_id"] for c in _cells(_source(assignment), grade=True, solution=False)}


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_release_holds_no_solutions_or_hidden_tests(course_runs, assignment):
    """Are solution regions replaced and hidden tests (with the answer key) removed from the release?"""
    course = course_runs["graded"][assignment].course
    text = (course / "release" / assignment / f"{assignment}.ipynb").read_text()
    for marker in FORBIDDEN:
        assert marker not in text, f"{assignment} release contains {marker!r}"
    release = nbformat.read(course / "release" / assignment / f"{assignment}.ipynb", as_version=4)
    stubs = _cells(release, solution=True, grade=False)
    assert stubs and all("raise NotImplementedError()" in c.source for c in stubs)
    assert all("YOUR ANSWER HERE" in c.source for c in _cells(release, solution=True, grade=True))


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_solution_earns_full_marks_and_untouched_release_zero(course_runs, assignment):
    """Does the source notebook earn every autograded point, and the untouched release none?"""
    graded = course_runs["graded"][assignment]
    assert graded.returncode == 0, graded.log[-3000:]
    tests = _autograded_ids(assignment)
    solution, untouched = graded.scores["solution"], graded.scores["untouched"]
    assert tests and tests <= set(solution), f"autograded cells missing from the gradebook: {tests - set(solution)}"
    assert all(solution[t][0] == solution[t][1] > 0 for t in tests), {t: solution[t] for t in tests}
    assert graded.errors["solution"] == {}
    assert all(untouched[t][0] == 0 for t in tests), {t: untouched[t] for t in tests}
    assert set(graded.errors["untouched"]) == tests


@pytest.mark.parametrize("bug", BUGS, ids=[f"{b.assignment}-{b.name}" for b in BUGS])
def test_bug_earns_partial_credit_and_is_named(course_runs, bug):
    """Does a notebook with one common bug lose exactly the cells it breaks, with feedback naming the bug?"""
    graded = course_runs["graded"][bug.assignment]
    assert graded.returncode == 0, graded.log[-3000:]
    tests = _autograded_ids(bug.assignment)
    scores = graded.scores[bug.name]
    failed = {t for t in tests if scores[t][0] < scores[t][1]}
    assert failed == bug.failing
    earned = sum(scores[t][0] for t in tests)
    assert 0 < earned < sum(scores[t][1] for t in tests)
    errors = graded.errors[bug.name]
    assert set(errors) == bug.failing
    named = [t for t in bug.failing if f"(likely bug: {bug.bug_class})" in errors[t]]
    assert named, f"no feedback names {bug.bug_class!r}: {errors}"
    # CheckError is the grader's own AssertionError (autograder/values.py): a student's AssertionError cannot pose as it
    assert all(errors[t].startswith(CHECK_FAILURES) for t in bug.failing), errors


def test_every_listed_bug_class_has_a_buggy_notebook():
    """Is each bug class the issue lists covered by a buggy notebook?"""
    listed = {"gate order swapped", "sigmoid/tanh confused", "other GRU convention",
              "missing accumulation of dh from the next step", "transposed weights", "bias dropped"}
    assert listed <= {b.bug_class for b in BUGS}


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_release_runs_top_to_bottom_in_a_fresh_kernel(course_runs, assignment):
    """Does the release run with only the project installed, failing only where a student must write code?

    Expected: markdown, given and scratch cells run cleanly; a solution stub either defines its function
    (no error) or, at top level, raises NotImplementedError; every test cell with visible checks fails with
    an AssertionError saying what is missing; test cells whose checks are all hidden run cleanly. The cells
    of RUNS_STUDENT_CODE (a given cell calling a stub, the test reading its result) fail with their one error.
    """
    nb = course_runs["released"][assignment]
    assert nb is not None, "the assignment was not generated"
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        meta = cell.metadata.get("nbgrader", {})
        errors = [o for o in cell.outputs if o.output_type == "error"]
        where = f"{assignment}: cell {meta.get('grade_id', cell.get('id'))}"
        if (assignment, meta.get("grade_id")) in RUNS_STUDENT_CODE:
            assert [e.ename for e in errors] == [RUNS_STUDENT_CODE[assignment, meta["grade_id"]]], f"{where}: {errors}"
        elif meta.get("grade"):
            visible = [line for line in cell.source.splitlines()[1:] if line.strip().startswith("check_")]
            if visible:
                assert len(errors) == 1 and errors[0].ename in ("AssertionError", "CheckError"), where
                assert any(s in errors[0].evalue for s in ("NotImplementedError", "no answer yet")), where
            else:
                assert not errors, f"{where}: {errors}"
        elif meta.get("solution"):
            assert all(e.ename == "NotImplementedError" for e in errors), f"{where}: {errors}"
        else:
            assert not errors, f"{where}: {errors[0].ename}: {errors[0].evalue}"
