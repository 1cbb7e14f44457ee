"""Small nbgrader courses for the hostile tests: a source notebook from a list of cells, its release, answers.

``cells`` are ``(kind, grade_id, text, points)`` with kind ``"locked"``, ``"solution"``, ``"test"`` or
``"markdown"``; solution texts hold ``### BEGIN SOLUTION`` regions as in nbgrader.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import nbformat
from nbgrader.preprocessors import ClearHiddenTests, ClearSolutions, ComputeChecksums

ASSIGNMENT = "probe"


def source_notebook(cells) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    for kind, grade_id, text, points in cells:
        cell = nbformat.v4.new_markdown_cell(text) if kind == "markdown" else nbformat.v4.new_code_cell(text)
        if kind != "markdown":
            cell.metadata["nbgrader"] = {"grade": kind == "test", "solution": kind == "solution",
                                         "locked": kind in ("locked", "test"), "grade_id": grade_id,
                                         "points": points, "schema_version": 3}
        nb.cells.append(cell)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    return nb


def release_notebook(cells) -> nbformat.NotebookNode:
    nb = copy.deepcopy(source_notebook(cells))
    for pre in (ClearSolutions(), ClearHiddenTests(), ComputeChecksums()):
        nb, _ = pre.preprocess(nb, {})
    return nb


def answered(cells, answers: dict[str, str]) -> nbformat.NotebookNode:
    """The release with the solution cells named in ``answers`` holding that code."""
    nb = release_notebook(cells)
    for cell in nb.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id in answers:
            cell.source = answers[grade_id]
    return nb


def write_course(root: Path, cells) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "nbgrader_config.py").write_text('c = get_config()\nc.CourseDirectory.course_id = "probe"\n')
    folder = root / "source" / ASSIGNMENT
    folder.mkdir(parents=True, exist_ok=True)
    nbformat.write(source_notebook(cells), folder / f"{ASSIGNMENT}.ipynb")
    return root


def write(path: Path, nb) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(nb))
    return path


def by_id(nb, grade_id: str):
    return next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id)
