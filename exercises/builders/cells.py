"""Notebook cells with nbgrader metadata (schema version 3): markdown, read-only, solution, tests, written answers."""

from __future__ import annotations

import textwrap

import nbformat.v4 as nbf


def _meta(grade_id: str, *, grade: bool, solution: bool, locked: bool, points: float | None = None) -> dict:
    meta = {"grade": grade, "grade_id": grade_id, "locked": locked, "schema_version": 3, "solution": solution,
            "task": False}
    if points is not None:
        meta["points"] = points
    return {"nbgrader": meta}


def clean(text: str) -> str:
    return textwrap.dedent(text).strip("\n")


def md(text: str):
    """Instructions: plain markdown (students may annotate it)."""
    return nbf.new_markdown_cell(clean(text))


def given(grade_id: str, source: str):
    """Code students run but do not edit (imports, helpers); nbgrader restores it when grading."""
    return nbf.new_code_cell(clean(source), metadata=_meta(grade_id, grade=False, solution=False, locked=True))


def solution(grade_id: str, source: str):
    """The student's code; ``### BEGIN SOLUTION`` .. ``### END SOLUTION`` becomes the stub in the release."""
    return nbf.new_code_cell(clean(source), metadata=_meta(grade_id, grade=False, solution=True, locked=False))


def scratch(source: str):
    """An ungraded cell for experiments (not locked, not graded)."""
    return nbf.new_code_cell(clean(source))


def tests(grade_id: str, points: float, question: str, visible: str = "", hidden: str = ""):
    """An autograded test cell: a one-line docstring asking what it checks, visible lines, hidden lines.

    The cell earns ``points`` when it runs without error (nbgrader's partial credit is per test cell).
    """
    lines = [f'"""{question} ({points:g} point{"s" if points != 1 else ""})"""']
    if visible:
        lines.append(clean(visible))
    if hidden:
        if not visible:
            lines.append("# Hidden tests run when your notebook is graded: random shapes, several trials.")
        lines += ["### BEGIN HIDDEN TESTS", clean(hidden), "### END HIDDEN TESTS"]
    return nbf.new_code_cell("\n".join(lines), metadata=_meta(grade_id, grade=True, solution=False, locked=True,
                                                              points=points))


def written(grade_id: str, points: float, answer: str):
    """A written answer graded by hand; ``answer`` is the model answer, replaced by a stub in the release."""
    source = "### BEGIN SOLUTION\n" + clean(answer) + "\n### END SOLUTION"
    return nbf.new_markdown_cell(source, metadata=_meta(grade_id, grade=True, solution=True, locked=False,
                                                        points=points))


def notebook(cells: list):
    nb = nbf.new_notebook(cells=cells)
    for k, cell in enumerate(nb.cells):  # stable ids keep rebuilt notebooks byte-identical
        cell["id"] = cell.metadata.get("nbgrader", {}).get("grade_id", f"cell-{k}")
    nb.metadata["kernelspec"] = {"display_name": "Python 3", "language": "python", "name": "python3"}
    nb.metadata["language_info"] = {"name": "python"}
    return nb
