"""Record reports in the course's nbgrader gradebook, so ``nbgrader export`` and ``generate_feedback`` work."""

from __future__ import annotations

import warnings
from datetime import datetime
from pathlib import Path

from nbgrader.api import Gradebook, MissingEntry
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, SAWarning, SQLAlchemyError
from traitlets.config import Config
from traitlets.config.loader import PyFileConfigLoader

from autograder.pipeline import Report, SourceCell


def course_config(course: Path | str) -> Config:
    """The course's ``nbgrader_config.py`` as a traitlets config (empty when there is none)."""
    course = Path(course).resolve()
    if not (course / "nbgrader_config.py").is_file():
        return Config()
    return PyFileConfigLoader("nbgrader_config.py", path=str(course)).load_config()


def course_settings(course: Path | str) -> tuple[str, str]:
    """(db_url, course_id) from the course's ``nbgrader_config.py``, with nbgrader's defaults."""
    course = Path(course).resolve()
    db_url, course_id = f"sqlite:///{course / 'gradebook.db'}", "default_course"
    if (course / "nbgrader_config.py").is_file():
        config = course_config(course)
        section = config.get("CourseDirectory", {})
        db_url = section.get("db_url", db_url) or db_url
        course_id = section.get("course_id", course_id) or course_id
    return db_url, course_id


class GradebookError(ValueError):
    """The gradebook cannot be opened (bad URL, missing database driver, no connection); nothing was graded."""


DRIVERS = {"postgresql": "pip install 'rnn-simulator[postgres]' (the psycopg 3 driver SQLAlchemy uses by default)",
           "mysql": "pip install mysqlclient"}


def _shown(url: str) -> str:
    """``url`` with its password hidden, for messages."""
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except (ArgumentError, ValueError, TypeError):
        return repr(url)


def open_gradebook(course: Path | str, db_url: str | None = None) -> Gradebook:
    """The course's gradebook (SQLite in the course directory unless the config or ``db_url`` says otherwise).

    Raises :class:`GradebookError` with a one-line reason when the URL is malformed, its database driver
    is not installed, or the database cannot be reached.
    """
    default_url, course_id = course_settings(course)
    url = db_url or default_url
    try:
        return Gradebook(url, course_id=course_id)
    except NoSuchModuleError:
        raise GradebookError(f"gradebook URL {_shown(url)}: SQLAlchemy knows no such database dialect "
                             "(expected e.g. sqlite:///path/gradebook.db or postgresql://user@host/db)") from None
    except ArgumentError as exc:
        raise GradebookError(f"gradebook URL {_shown(url)} is not a database URL ({exc}); expected e.g. "
                             "sqlite:///path/gradebook.db or postgresql://user@host/db") from None
    except ImportError as exc:
        dialect = url.split(":", 1)[0].split("+", 1)[0]
        hint = DRIVERS.get(dialect, f"install the Python driver of {dialect}")
        raise GradebookError(f"gradebook URL {_shown(url)} needs the database driver {exc.name or exc}, "
                             f"which is not installed: {hint}") from None
    except SQLAlchemyError as exc:
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()
        raise GradebookError(f"cannot open the gradebook {_shown(url)}: "
                             f"{reason[0] if reason else type(exc).__name__}") from None


def check_gradebook(course: Path | str, db_url: str | None = None) -> None:
    """Open and close the gradebook once, so a wrong URL or driver is refused before any grading."""
    open_gradebook(course, db_url).close()


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


def record(gb: Gradebook, report: Report, assignment: str, student: str, timestamp: datetime | None = None) -> None:
    """Store the autograded scores of ``report`` for ``student`` (manually graded cells are left to the grader).

    ``timestamp`` is the submission time (UTC, naive, as nbgrader stores it); the gradebook computes
    lateness from it and the assignment's due date, and ``nbgrader export`` writes both.
    """
    gb.update_or_create_student(student)
    try:
        submission = gb.find_submission(assignment, student)
    except MissingEntry:
        with warnings.catch_warnings():
            # nbgrader's own add_submission triggers SQLAlchemy autoflush warnings; they are harmless.
            warnings.simplefilter("ignore", SAWarning)
            submission = gb.add_submission(assignment, student)
    submission.timestamp = timestamp
    for test in report.tests:
        try:
            grade = gb.find_grade(test.grade_id, report.notebook, assignment, student)
        except MissingEntry:
            continue
        grade.auto_score = test.score
        grade.needs_manual_grade = False
    gb.db.commit()


def assign_late_penalty(gb: Gradebook, assignment: str, notebook: str, student: str, config: Config) -> None:
    """Apply the course's late-submission policy, as ``nbgrader autograde`` does (``AssignLatePenalties``).

    The policy is the course's ``LateSubmissionPlugin`` (``penalty_method`` "none" by default, or "zero"),
    or the plugin class ``AssignLatePenalties.plugin_class`` names; the penalty is kept between 0 and the
    notebook's score. Called after :func:`record`, which stored the timestamp lateness is computed from.
    """
    from nbgrader.preprocessors import AssignLatePenalties

    step = AssignLatePenalties(config=config)
    step.init_plugin()
    submission = gb.find_submission(assignment, student)
    nb = gb.find_submission_notebook(notebook, assignment, student)
    nb.late_submission_penalty = None
    if submission.total_seconds_late > 0:
        penalty = step.plugin_inst.late_submission_penalty(student, nb.score, submission.total_seconds_late)
        if penalty is not None:
            nb.late_submission_penalty = step._check_late_penalty(nb, penalty)
    gb.db.commit()
