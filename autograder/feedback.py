"""The graded notebook that ``nbgrader generate_feedback`` turns into each student's feedback page."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

import nbformat
from nbgrader.preprocessors import ClearHiddenTests

from autograder.pipeline import NotebookError, Report, load_notebook, source_notebook_path


def write_feedback(report: Report, course: Path | str, assignment: str, student: str) -> Path:
    """Write ``autograded/<student>/<assignment>/<notebook>.ipynb`` for ``nbgrader generate_feedback``.

    The notebook is the source's cells with the student's answers in the solution cells and, under each
    test cell, what it printed or why it failed. Test cells show their release text: the hidden tests
    stay hidden (their messages still say what failed).
    """
    source_path = source_notebook_path(course, assignment, report.notebook)
    # The instructor's own file, already validated when it was loaded for grading.
    nb = nbformat.from_dict(json.loads(source_path.read_text(encoding="utf-8")))
    for cell in nb.cells:
        if isinstance(cell.source, list):  # the file format allows a list of lines
            cell.source = "".join(cell.source)
    results = {t.grade_id: t for t in report.tests}
    answers = {c["label"]: c for c in report.cells}
    submitted = Path(course) / "submitted" / student / assignment / source_path.name
    student_sources = {}
    with contextlib.suppress(NotebookError):
        for cell in load_notebook(submitted).cells:
            meta = cell.metadata.get("nbgrader", {})
            if isinstance(meta, dict) and meta.get("solution") and isinstance(meta.get("grade_id"), str):
                student_sources[meta["grade_id"]] = cell.source
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        grade_id = meta.get("grade_id")
        if meta.get("solution") and grade_id:
            cell.source = student_sources.get(grade_id, "")
        elif meta.get("grade") and cell.cell_type == "code":
            ClearHiddenTests()._remove_hidden_test_region(cell)
        if cell.cell_type != "code":
            continue
        cell.outputs, cell.execution_count = [], None
        if grade_id in results:
            result = results[grade_id]
            if result.score < result.max_score:
                cell.outputs = [nbformat.v4.new_output("error", ename="AssertionError", evalue=result.message,
                                                      traceback=[result.message])]
            elif result.output:
                cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=result.output)]
        elif grade_id in answers and answers[grade_id]["message"]:
            cell.outputs = [nbformat.v4.new_output("stream", name="stderr", text=answers[grade_id]["message"])]
    out = Path(course) / "autograded" / student / assignment / source_path.name
    out.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, out)
    return out
