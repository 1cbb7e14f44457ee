"""Record reports in the course's nbgrader gradebook, so ``nbgrader export`` and ``generate_feedback`` work."""

from __future__ import annotations

import warnings
from pathlib import Path

from nbgrader.api import Gradebook, MissingEntry
from sqlalchemy.exc import SAWarning
from traitlets.config.loader import PyFileConfigLoader

from autograder.pipeline import Report, SourceCell


def course_settings(course: Path | str) -> tuple[str, str]:
    """(db_url, course_id) from the course's ``nbgrader_config.py``, with nbgrader's defaults."""
    course = Path(course).resolve()
    db_url, course_id = f"sqlite:///{course / 'gradebook.db'}", "default_course"
    if (course / "nbgrader_config.py").is_file():
        config = PyFileConfigLoader("nbgrader_config.py", path=str(course)).load_config()
        section = config.get("CourseDirectory", {})
        db_url = section.get("db_url", db_url) or db_url
        course_id = section.get("course_id", course_id) or course_id
    return db_url, course_id


def open_gradebook(course: Path | str, db_url: str | None = None) -> Gradebook:
    """The course's gradebook (SQLite in the course directory unless the config or ``db_url`` says otherwise)."""
    default_url, course_id = course_settings(course)
    return Gradebook(db_url or default_url, course_id=course_id)


def ensure_assignment(gb: Gradebook, assignment: str, notebook: str, source: list[SourceCell]) -> None:
    """Create the assignment, notebook and cells in the gradebook when ``generate_assignment`` did not."""
    gb.update_or_create_assignment(assignment)
    try:
        gb.find_notebook(notebook, assignment)
    except MissingEntry:
        gb.update_or_create_notebook(notebook, assignment)
    for cell in source:
        if not cell.grade_id:
            continue
        if cell.kind in ("test", "answer"):
            gb.update_or_create_grade_cell(cell.grade_id, notebook, assignment, max_score=cell.points,
                                           cell_type=cell.cell_type)
        if cell.kind in ("solution", "answer"):
            gb.update_or_create_solution_cell(cell.grade_id, notebook, assignment)
        gb.update_or_create_source_cell(cell.grade_id, notebook, assignment, cell_type=cell.cell_type,
                                        locked=cell.kind in ("test", "locked"), source=cell.source,
                                        checksum=cell.release_checksum)


def record(gb: Gradebook, report: Report, assignment: str, student: str) -> None:
    """Store the autograded scores of ``report`` for ``student`` (manually graded cells are left to the grader)."""
    gb.update_or_create_student(student)
    try:
        gb.find_submission(assignment, student)
    except MissingEntry:
        with warnings.catch_warnings():
            # nbgrader's own add_submission triggers SQLAlchemy autoflush warnings; they are harmless.
            warnings.simplefilter("ignore", SAWarning)
            gb.add_submission(assignment, student)
    for test in report.tests:
        try:
            grade = gb.find_grade(test.grade_id, report.notebook, assignment, student)
        except MissingEntry:
            continue
        grade.auto_score = test.score
        grade.needs_manual_grade = False
    gb.db.commit()
