"""The course server's tables (accounts, assignment settings, the submission queue, results) on one SQLAlchemy URL.

Embedded default: SQLite in the course directory (``<course>/course_server.db``); beyond one machine,
PostgreSQL by URL (``postgresql+psycopg://user@db/rnn``, the ``.[postgres]`` extra). Submitted notebooks are
stored in the database itself, so several servers and grading hosts need no shared filesystem.

``results.submission_id`` is unique: a submission can be graded more than once after a crash (the lease
expired), but only one result is ever recorded (exactly once, as the queue promises).
"""

from __future__ import annotations

import time
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Engine

metadata = sa.MetaData()

users = sa.Table(
    "users", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("name", sa.String(64), nullable=False, unique=True),
    sa.Column("role", sa.String(16), nullable=False),  # "student" or "instructor"
    sa.Column("password_hash", sa.String(255)),  # scrypt$n$r$p$salt$hash, None until the set-up link is used
    sa.Column("token_hash", sa.String(64), unique=True),  # sha256 of the API bearer token
    sa.Column("setup_hash", sa.String(64), unique=True),  # sha256 of a one-time set-up code
    sa.Column("setup_expires", sa.Float),
    sa.Column("created", sa.Float, nullable=False),
)

assignments = sa.Table(
    "assignments", metadata,
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("closed", sa.Boolean, nullable=False, default=False),
    sa.Column("deadline", sa.Float),  # unix time; None = no deadline
    sa.Column("late_policy", sa.String(16), nullable=False, default="refuse"),  # "refuse" or "accept"
    sa.Column("max_submissions", sa.Integer),  # None = unlimited
)

submissions = sa.Table(
    "submissions", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id"), nullable=False, index=True),
    sa.Column("assignment", sa.String(64), nullable=False, index=True),
    sa.Column("filename", sa.String(255), nullable=False),
    sa.Column("notebook", sa.LargeBinary, nullable=False),
    sa.Column("created", sa.Float, nullable=False),
    sa.Column("late", sa.Boolean, nullable=False, default=False),
    sa.Column("status", sa.String(16), nullable=False, index=True),  # queued, running, graded, failed
    sa.Column("claim", sa.String(64)),  # who holds the lease: "<server id>:<attempt>"
    sa.Column("lease_until", sa.Float),
    sa.Column("attempts", sa.Integer, nullable=False, default=0),
    sa.Column("started", sa.Float),
    sa.Column("finished", sa.Float),
    # a student's own rows by assignment and time: duplicates, limits, the latest graded one per student
    sa.Index("ix_submissions_user_assignment_created", "user_id", "assignment", "created"),
)

results = sa.Table(
    "results", metadata,
    sa.Column("submission_id", sa.Integer, sa.ForeignKey("submissions.id"), primary_key=True),
    sa.Column("score", sa.Float, nullable=False),
    sa.Column("max_score", sa.Float, nullable=False),
    sa.Column("report", sa.JSON, nullable=False),  # the --json contract: score, max_score, tests, notes
    sa.Column("error", sa.Text),  # set when grading itself failed (the course lacks the source, ...)
    sa.Column("graded_by", sa.String(64), nullable=False),
    sa.Column("recorded", sa.Float, nullable=False),
)


options = sa.Table(
    "options", metadata,  # course-wide switches set by instructors, e.g. anonymous_compare
    sa.Column("key", sa.String(64), primary_key=True),
    sa.Column("value", sa.String(255), nullable=False),
)


def default_url(course: Path | str) -> str:
    return f"sqlite:///{Path(course).resolve() / 'course_server.db'}"


class DatabaseError(ValueError):
    """The database URL is unusable (no driver, unreachable, wrong credentials); said before anything runs."""


def connect(url: str) -> Engine:
    """An engine on ``url`` with the tables created; :class:`DatabaseError` in one line if it cannot be used."""
    try:
        engine = sa.create_engine(url, future=True, pool_pre_ping=True)
    except ModuleNotFoundError as exc:
        raise DatabaseError(f"database URL {_safe(url)}: its driver is not installed ({exc.name}); for PostgreSQL "
                            "install the extra: pip install -e '.[postgres]'") from None
    except sa.exc.ArgumentError as exc:
        raise DatabaseError(f"database URL {_safe(url)} is not a SQLAlchemy URL: {exc}") from None
    if engine.dialect.name == "sqlite":
        # Several threads (the page sessions, the dispatcher) share the file; wait for a writer rather than fail.
        sa.event.listen(engine, "connect", _sqlite_pragmas)
    try:
        metadata.create_all(engine)
        for table in metadata.sorted_tables:  # indexes added since a database was made (create_all skips them)
            for index in table.indexes:
                index.create(engine, checkfirst=True)
    except sa.exc.SQLAlchemyError as exc:
        reason = str(getattr(exc, "orig", None) or exc).splitlines()[0]
        raise DatabaseError(f"database URL {_safe(url)} cannot be used: {reason}") from None
    return engine


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _safe(url: str) -> str:
    """The URL with its password hidden, for messages and logs."""
    try:
        return sa.engine.make_url(url).render_as_string(hide_password=True)
    except sa.exc.ArgumentError:
        return repr(url[:80])


def now() -> float:
    return time.time()
