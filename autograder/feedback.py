"""The graded notebook that ``nbgrader generate_feedback`` turns into each student's feedback page.

Student text reaches that page only in forms nbconvert escapes: code goes into code cells (Pygments
escapes it), test messages into ``stream``/``error`` outputs (escaped by nbconvert's ANSI filter), and a
student's *markdown* answer, which nbconvert would render with raw HTML, links and images intact, is
shown verbatim in a fenced code block (:func:`markdown_as_text`). Principle: an escaped output; no
student string is ever rendered as markdown or HTML. The cells, metadata and attachments of the page are
the instructor's source, never the student's.

Not covered: what the formgrader (``nbgrader formgrader``) shows when an instructor opens a submission
there; it renders the student's own notebook.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

import nbformat
from nbgrader.preprocessors import ClearHiddenTests

from autograder import channel
from autograder.pipeline import Report, source_notebook_path
from autograder.submission_files import Submission, SubmissionFileError, open_folder, read_file_at


def markdown_as_text(text: str) -> str:
    """``text`` as a fenced code block that nothing inside can close: a fence longer than any backtick run.

    CommonMark closes a fence only with at least as many backticks as opened it, so the student's text
    is displayed as written, every ``<``, ``&`` and ``"`` escaped by the code highlighter.
    """
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}text\n{text}\n{fence}"


def _student_answers(notebook: nbformat.NotebookNode | None) -> dict[str, str]:
    """``{grade_id: text}`` of the student's solution cells (the first cell of each id; anything odd skipped)."""
    answers: dict[str, str] = {}
    cells = notebook.get("cells") if isinstance(notebook, dict) else None
    for cell in cells if isinstance(cells, list) else []:
        if not isinstance(cell, dict):
            continue
        meta = cell["metadata"].get("nbgrader") if isinstance(cell.get("metadata"), dict) else None
        meta, text = meta if isinstance(meta, dict) else {}, cell.get("source", "")
        if meta.get("solution") and isinstance(meta.get("grade_id"), str) and isinstance(text, str):
            answers.setdefault(meta["grade_id"], text)
    return answers


def _read_submitted(course: Path, assignment: str, student: str, name: str) -> nbformat.NotebookNode | None:
    """The submitted notebook, read without following a link (a link or malformed file gives no answers)."""
    try:
        fd = open_folder(course / "submitted", (student, assignment), "submitted")
        try:
            data = read_file_at(fd, name, f"submitted/{student}/{assignment}/{name}")
        finally:
            os.close(fd)
        return nbformat.reads(data.decode("utf-8"), as_version=4)
    except (SubmissionFileError, OSError, UnicodeDecodeError):
        return None
    except Exception:  # noqa: BLE001 - nbformat raises many kinds for malformed JSON
        return None


def feedback_notebook(report: Report, course: Path | str, assignment: str,
                      submitted: nbformat.NotebookNode | None) -> nbformat.NotebookNode:
    """The source's cells with the student's answers in the solution cells and each test's result under it.

    Test cells show their release text: the hidden tests stay hidden (their messages still say what failed).
    """
    source_path = source_notebook_path(course, assignment, report.notebook)
    # The instructor's own file, already validated when it was loaded for grading.
    nb = nbformat.from_dict(json.loads(source_path.read_text(encoding="utf-8")))
    results = {t.grade_id: t for t in report.tests}
    answers = {c["label"]: c for c in report.cells}
    # NB: the student's JSON may spell lone surrogates (\ud800), which the written notebook could not encode
    student_sources = _student_answers(None if submitted is None else channel.valid_text(submitted))
    for cell in nb.cells:
        if isinstance(cell.source, list):  # the file format allows a list of lines
            cell.source = "".join(cell.source)
        meta = cell.metadata.get("nbgrader", {})
        grade_id = meta.get("grade_id")
        if meta.get("solution") and grade_id:
            cell.source = student_sources.get(grade_id, "")
            if cell.cell_type != "code":
                cell.source = markdown_as_text(cell.source) if cell.source.strip() else ""
                cell.pop("attachments", None)
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
    return nb


def write_feedback(report: Report, course: Path | str, assignment: str, student: str,
                   submitted: nbformat.NotebookNode | None = None) -> Path:
    """Write ``autograded/<student>/<assignment>/<notebook>.ipynb`` for ``nbgrader generate_feedback``.

    ``submitted`` is the student's notebook as the grader read it; by default it is read (without
    following a link) from ``submitted/<student>/<assignment>/``.
    """
    course = Path(course)
    name = source_notebook_path(course, assignment, report.notebook).name
    if submitted is None:
        submitted = _read_submitted(course, assignment, student, name)
    nb = feedback_notebook(report, course, assignment, submitted)
    out = course / "autograded" / student / assignment / name
    out.parent.mkdir(parents=True, exist_ok=True)
    # NB: encoded in full before any file is touched, then renamed: a failure leaves no half-written notebook
    data = nbformat.writes(nb).encode("utf-8")
    partial = out.with_name(f".{name}.partial")
    try:
        partial.write_bytes(data)
        os.replace(partial, out)
    finally:
        partial.unlink(missing_ok=True)
    return out


def _fresh_folder(course: Path, student: str, assignment: str) -> Path:
    """An empty ``autograded/<student>/<assignment>/``: what an earlier run left there is removed, links too."""
    top = course / "autograded"
    top.mkdir(exist_ok=True)
    folder = top
    for part in (student, assignment):
        folder = folder / part
        if folder.is_symlink() or (folder.exists() and not folder.is_dir()):
            folder.unlink()
    if folder.exists():
        shutil.rmtree(folder)  # NB: rmtree does not follow links inside the tree
    folder.mkdir(parents=True)
    return folder


def _write_new(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)


def write_autograded(report: Report, course: Path | str, assignment: str, submission: Submission | None,
                     submitted: nbformat.NotebookNode | None, student: str | None = None) -> Path:
    """Replace ``autograded/<student>/<assignment>/`` by the feedback notebook and what nbgrader needs with it.

    Only three files are written: the notebook, ``timestamp.txt`` (the submission time, for lateness and
    ``release_feedback``) and ``submission_secret.txt`` (``release_feedback`` names the released page by
    it, ``fetch_feedback`` finds it by it). Both come from the verified submission; nothing else of the
    submission (or of anywhere else) is copied, since ``generate_feedback`` copies every file found there.
    """
    course = Path(course)
    student = student or submission.student
    folder = _fresh_folder(course, student, assignment)
    name = source_notebook_path(course, assignment, report.notebook).name
    nbformat.write(feedback_notebook(report, course, assignment, submitted), folder / name)
    if submission is not None and submission.timestamp:
        _write_new(folder / "timestamp.txt", submission.timestamp)
    if submission is not None and submission.secret:
        _write_new(folder / "submission_secret.txt", submission.secret)
    return folder / name
