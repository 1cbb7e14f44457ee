"""The source notebooks: reproducible from the builders, well-formed nbgrader metadata, reference signatures."""

from __future__ import annotations

import ast
import inspect
import re
import subprocess
import sys

import nbformat
import pytest

from exercises.answers import bptt as bptt_answers
from simulator import architectures, cells, conv, crnn
from tests.exercises.conftest import ASSIGNMENTS, EXERCISES

REFERENCES = (cells, bptt_answers, architectures, conv, crnn)


def _nb(assignment):
    return nbformat.read(EXERCISES / "source" / assignment / f"{assignment}.ipynb", as_version=4)


def test_committed_notebooks_match_the_builders():
    """Are the committed notebooks exactly what build_notebooks.py writes?"""
    out = subprocess.run([sys.executable, str(EXERCISES / "build_notebooks.py"), "--check"], capture_output=True,
                         text=True)
    assert out.returncode == 0, out.stdout + out.stderr


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_nbgrader_metadata(assignment):
    """Do graded cells carry unique grade_ids, schema 3, points, a question docstring, locks and fences?"""
    nb = _nb(assignment)
    nbformat.validate(nb)
    metas = [c.metadata["nbgrader"] for c in nb.cells if "nbgrader" in c.metadata]
    ids = [m["grade_id"] for m in metas]
    assert len(ids) == len(set(ids))
    assert all(m["schema_version"] == 3 for m in metas)
    for cell in nb.cells:
        m = cell.metadata.get("nbgrader")
        if not m:
            continue
        if m["grade"] and not m["solution"]:
            assert m["locked"] and m["points"] > 0
            first = cell.source.splitlines()[0]
            assert re.fullmatch(rf'"""[A-Z].*\? \({m["points"]:g} points?\)"""', first), first
        if m["solution"]:
            assert not m["locked"]
            assert "### BEGIN SOLUTION" in cell.source and "### END SOLUTION" in cell.source
        if not m["grade"] and not m["solution"]:
            assert m["locked"]


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_points_stated_in_the_summary(assignment):
    """Does the summary state the autograded points the metadata gives?"""
    nb = _nb(assignment)
    auto = sum(c.metadata["nbgrader"]["points"] for c in nb.cells
               if c.metadata.get("nbgrader", {}).get("grade") and c.cell_type == "code")
    stated = re.search(r"Points: (\d+)", nb.cells[-1].source)
    assert stated and int(stated.group(1)) == auto


def _student_functions(nb):
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("solution") and cell.cell_type == "code":
            for node in ast.parse(cell.source).body:
                if isinstance(node, ast.FunctionDef):
                    yield node


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_student_functions_have_reference_names_and_signatures(assignment):
    """Does every function a student writes exist in simulator/ with the same positional parameters?"""
    found = list(_student_functions(_nb(assignment)))
    assert found
    for fn in found:
        refs = [getattr(m, fn.name) for m in REFERENCES if hasattr(m, fn.name)]
        assert refs, f"{fn.name} has no reference in simulator/"
        ref = [p.name for p in inspect.signature(refs[0]).parameters.values()
               if p.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD]
        student = [a.arg for a in fn.args.args]
        assert student == ref, (fn.name, student, ref)


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_markdown_is_not_accidentally_indented(assignment):
    """Does no markdown line start with four spaces (which would render as a code block)?"""
    for cell in _nb(assignment).cells:
        if cell.cell_type == "markdown":
            assert not [line for line in cell.source.splitlines() if line.startswith("    ")], cell.source[:200]
