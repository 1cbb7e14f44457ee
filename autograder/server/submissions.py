"""Accepting a submission: is the assignment open, is the upload a notebook of it, is the student within limits.

Every refusal is a :class:`RefusedError` with the HTTP status the API answers and a sentence saying what was wrong
and what was expected; nothing is stored for a refused upload.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import nbformat
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from autograder.server import db
from autograder.server.accounts import User

MAX_UPLOAD = 16 * 1024 * 1024
MAX_CELLS = 2_000  # a course notebook has tens; its student may add many, not a hundred thousand
MAX_PARTS = 10_000  # cells + outputs + attachments: each is validated against its own schema, 20-50 us each
MAX_VALUES = 1_000_000  # JSON values in a whole notebook (a training log of 100,000 output lines is 100,000)
MAX_DEPTH = 64  # lists and objects inside each other: a notebook's own structure is 6 deep, a widget's state ~20
LATE_POLICIES = ("refuse", "accept")
MAX_ID = 2**31 - 1  # ids are the database's INTEGER (32 bits on PostgreSQL): anything larger names nothing
DUPLICATE_SECONDS = 60.0  # the same bytes again within this long are the same submission (a double click)
DUPLICATE_SCAN = 20  # recent submissions of the student compared with an upload
_ID = re.compile(r"[0-9]{1,10}")  # ASCII digits only: str.isdigit() accepts '²', which int() refuses


def parse_id(value) -> int | None:
    """A submission id from a URL or a form (str, bytes or int), or None when it cannot name one.

    One rule everywhere (API paths, page URLs, forms): 1 to 10 ASCII digits, at most :data:`MAX_ID`. Signs,
    spaces, other scripts' digits, superscripts and numbers beyond a 32-bit integer name nothing.
    """
    if isinstance(value, bytes):
        value = value.decode("ascii", "replace")
    if isinstance(value, int) and not isinstance(value, bool):
        return value if 0 < value <= MAX_ID else None
    if not isinstance(value, str) or not _ID.fullmatch(value):
        return None
    number = int(value)
    return number if 0 < number <= MAX_ID else None


class RefusedError(ValueError):
    """An upload or request that is answered with ``status`` and ``message`` and changes nothing stored."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class Settings:
    name: str
    closed: bool = False
    deadline: float | None = None
    late_policy: str = "refuse"
    max_submissions: int | None = None


def released(course: Path | str) -> list[str]:
    """Assignments whose release has been generated (``release/<name>/`` holds a notebook)."""
    base = Path(course) / "release"
    return sorted(p.name for p in base.iterdir() if p.is_dir() and any(p.glob("*.ipynb"))) if base.is_dir() else []


def release_notebook(course: Path | str, name: str) -> tuple[str, bytes]:
    """(file name, bytes) of the notebook students start ``name`` from: ``release/<name>/`` as nbgrader generated
    it (solutions and hidden tests taken out). ``name`` must be one of :func:`released`: never opened as a path.
    """
    if name not in released(course):
        raise RefusedError(404, f"no assignment {str(name)[:64]!r} is released; released: "
                           f"{', '.join(released(course)) or 'none yet'}")
    path = sorted((Path(course) / "release" / name).glob("*.ipynb"))[0]
    return path.name, path.read_bytes()


def settings(engine: Engine, name: str) -> Settings:
    with engine.connect() as conn:
        row = conn.execute(sa.select(db.assignments).where(db.assignments.c.name == name)).first()
    return Settings(row.name, row.closed, row.deadline, row.late_policy, row.max_submissions) if row else Settings(name)


def configure(engine: Engine, name: str, **changes) -> Settings:
    """Change an assignment's settings (closed, deadline, late_policy, max_submissions), checked."""
    current = settings(engine, name).__dict__ | changes
    if current["late_policy"] not in LATE_POLICIES:
        raise ValueError(f"late_policy {current['late_policy']!r}: expected one of {', '.join(LATE_POLICIES)}")
    if current["max_submissions"] is not None and int(current["max_submissions"]) < 1:
        raise ValueError(f"max_submissions {current['max_submissions']!r}: expected a positive number or None")
    with engine.begin() as conn:
        conn.execute(db.assignments.delete().where(db.assignments.c.name == name))
        conn.execute(db.assignments.insert().values(**current))
    return Settings(**current)


def check_open(engine: Engine, course: Path | str, name: str, user: User, when: float) -> bool:
    """Raise :class:`RefusedError` unless ``user`` may submit ``name`` now; returns whether the submission is late."""
    if name not in released(course):
        raise RefusedError(404, f"no assignment {name!r} is open for submissions; open ones: "
                           f"{', '.join(released(course)) or 'none yet'}")
    s = settings(engine, name)
    if s.closed:
        raise RefusedError(403, f"assignment {name!r} is closed for submissions")
    late = s.deadline is not None and when > s.deadline
    if late and s.late_policy == "refuse":
        raise RefusedError(403, f"the deadline of {name!r} has passed; late submissions are not accepted")
    if s.max_submissions is not None:
        with engine.connect() as conn:
            count = conn.execute(sa.select(sa.func.count()).select_from(db.submissions).where(
                (db.submissions.c.user_id == user.id) & (db.submissions.c.assignment == name))).scalar_one()
        if count >= s.max_submissions:
            raise RefusedError(403, f"you have used all {s.max_submissions} submissions of {name!r}")
    return late


def _within_shape(raw, filename: str) -> None:
    """Raise :class:`RefusedError` (422) when the parsed JSON has more than :data:`MAX_CELLS` cells, more than
    :data:`MAX_PARTS` parts nbformat validates one by one (cells, their outputs and attachments), more than
    :data:`MAX_VALUES` JSON values in all (dicts, lists, strings, numbers), counted without recursion, or lists
    and objects nested more than :data:`MAX_DEPTH` deep (nbformat's validation, the grader and the Compare
    button's reader recurse: 500 levels were Python's "maximum recursion depth exceeded", 100-499 were accepted
    and left to fail there).

    The structure, not the size, is what costs: nbformat's schema validation takes 20-50 us per part, so
    100,000 empty cells (13 MiB) or one cell with 200,000 outputs (11 MiB) were 4-6 s of the server process's
    CPU. Counting stops at the first value over.
    """
    cells = raw.get("cells") if isinstance(raw, dict) else None
    cells = cells if isinstance(cells, list) else []
    if len(cells) > MAX_CELLS:
        raise RefusedError(422, f"{filename} has {len(cells):,} cells; a notebook may have at most {MAX_CELLS:,} cells "
                           "(remove the cells you added for trying things out)")
    parts = len(cells) + sum(len(c.get(k) or ()) for c in cells if isinstance(c, dict)
                             for k in ("outputs", "attachments") if isinstance(c.get(k), list | dict))
    if parts > MAX_PARTS:
        raise RefusedError(422, f"{filename} has {parts:,} cells, outputs and attachments; at most {MAX_PARTS:,} "
                           f"values of these kinds are read: clear the outputs (Kernel > Restart & Clear Output) and "
                           "send it again")
    stack, count = [(raw, 1)], 0
    while stack:
        value, depth = stack.pop()
        count += 1
        if depth > MAX_DEPTH:
            raise RefusedError(422, too_deep(filename))
        if count > MAX_VALUES:
            raise RefusedError(422, f"{filename} holds more than {MAX_VALUES:,} values (cells, lines, outputs, "
                               "metadata entries); clear the outputs (Kernel > Restart & Clear Output) and send it "
                               "again")
        if isinstance(value, dict):
            stack.extend((v, depth + 1) for v in value.values())
        elif isinstance(value, list):
            stack.extend((v, depth + 1) for v in value)


def too_deep(filename: str) -> str:
    return (f"{filename} has lists or objects nested more than {MAX_DEPTH} levels deep; a notebook is read only up "
            f"to {MAX_DEPTH} levels: clear the outputs (Kernel > Restart & Clear Output) and send it again")


NOTEBOOK_FILE = ("the .ipynb file Jupyter saves (File > Save Notebook, then choose that file); a file cut short, "
                 "edited by hand or exported as .py or .html is not one")


def check_notebook(data: bytes, filename: str, course: Path | str, name: str) -> None:
    """Raise :class:`RefusedError` (413 or 422) unless ``data`` is a notebook of assignment ``name``."""
    if len(data) > MAX_UPLOAD:
        raise RefusedError(413, f"{filename}: {len(data) / 2**20:.1f} MiB is over the {MAX_UPLOAD // 2**20} MiB limit")
    if not filename.endswith(".ipynb"):
        raise RefusedError(422, f"{filename}: expected a Jupyter notebook (.ipynb): {NOTEBOOK_FILE}")
    try:
        text = data.decode("utf-8")
        try:
            raw = json.loads(text)
        except RecursionError:  # nested about 1,000 deep: json's own limit, named as ours
            raise RefusedError(422, too_deep(filename)) from None
        _within_shape(raw, filename)  # NB: before nbformat, whose validation costs per cell
        nb = nbformat.reads(text, as_version=4)
    except RefusedError:
        raise
    except Exception as exc:  # noqa: BLE001 - nbformat raises many kinds for malformed JSON
        raise RefusedError(422, f"{filename} is not a valid notebook ({str(exc).splitlines()[0][:200]}); expected "
                           f"{NOTEBOOK_FILE}") from None
    if not isinstance(nb.get("cells"), list):
        raise RefusedError(422, f"{filename} is not a valid notebook (no list of cells); expected {NOTEBOOK_FILE}")
    from autograder.pipeline import CourseError, load_source

    try:
        source_ids = own_cells(load_source(course, name))
    except CourseError as exc:
        raise RefusedError(404, str(exc)) from None
    ids = set()
    for k, cell in enumerate(nb.cells):
        # The file is the student's: its shape is read by type, never assumed (a list where a dict belongs
        # is a 422 that names the cell, not an AttributeError in the server).
        meta = cell.get("metadata") if isinstance(cell, dict) else None
        grader = meta.get("nbgrader", {}) if isinstance(meta, dict) else {}
        grade_id = grader.get("grade_id") if isinstance(grader, dict) else None
        if not isinstance(grader, dict) or not (grade_id is None or isinstance(grade_id, str)):
            raise RefusedError(422, f"{filename}: cell {k} has malformed nbgrader metadata (expected "
                               "{\"grade_id\": \"...\", ...}); download the assignment's notebook again")
        ids.add(grade_id)
    if not ids & source_ids:
        raise RefusedError(422, none_of_its_cells(filename, ids, course, name, source_ids))


def own_cells(source) -> set[str]:
    """The grade ids of an assignment's own cells: its answers and tests (the locked ``setup`` and
    ``worked_example`` cells are in every notebook of the course, so holding them says nothing about which one
    a file is).
    """
    return {c.grade_id for c in source if c.grade_id and c.kind in ("answer", "solution", "test")}


def none_of_its_cells(filename: str, ids: set, course: Path | str, name: str, own: set[str]) -> str:
    """What to say about a notebook holding none of ``name``'s own cells: the assignment it looks like (the
    released one whose answers and tests it holds), else which cells were expected.
    """
    from autograder.pipeline import CourseError, load_source

    for other in released(course):
        if other == name:
            continue
        try:
            if ids & own_cells(load_source(course, other)):
                return (f"{filename} is the notebook of assignment {other!r}, not {name!r}: choose {other!r} in the "
                        f"menu to submit it, or send your {name} notebook")
        except CourseError:
            continue
    expected = ", ".join(sorted(own)[:4]) + (", ..." if len(own) > 4 else "")
    return (f"{filename} has none of the cells of assignment {name!r} (expected its answer and test cells: "
            f"{expected}): is it the notebook of another assignment? Send the notebook of {name!r} you filled in, or "
            "download it again from the course page")


class Accepted(int):
    """A stored submission's id; ``duplicate`` when the upload repeated one already stored (its id, not a new one)."""

    duplicate: bool = False
    seconds_after: float = 0.0  # for a duplicate: how long after the first one it came

    @classmethod
    def of(cls, sid: int, duplicate: bool = False, seconds_after: float = 0.0) -> Accepted:
        out = cls(sid)
        out.duplicate, out.seconds_after = duplicate, seconds_after
        return out


def duplicate_of(conn, user: User, name: str, data: bytes, when: float, window: float = DUPLICATE_SECONDS):
    """(id, created) of the submission ``data`` repeats, or None.

    The same bytes from the same student for the same assignment within ``window`` seconds are one submission:
    a double click, a browser's or script's retry. Only the student's few recent rows are read (the rate limit
    bounds them), and their bytes compared exactly.
    """
    s = db.submissions
    rows = conn.execute(sa.select(s.c.id, s.c.created, sa.func.length(s.c.notebook).label("size")).where(
        (s.c.user_id == user.id) & (s.c.assignment == name) & (s.c.created > when - window))
        .order_by(s.c.id.desc()).limit(DUPLICATE_SCAN)).all()
    for row in rows:
        if row.size == len(data) and conn.execute(sa.select(s.c.notebook).where(s.c.id == row.id)).scalar_one() \
                == data:
            return row.id, row.created
    return None


def store(engine: Engine, user: User, name: str, filename: str, data: bytes, late: bool,
          rate_limit: int | None = None, window: float = 60.0, when: float | None = None) -> Accepted:
    """Queue the submission; returns its id. The limits are checked again and the row inserted in one transaction
    that first takes a write lock on the user's row, so concurrent uploads of one user are counted one after the
    other (without it, N parallel requests all pass a count of N-1 and the rate limit and maximum mean nothing).
    Under the same lock an upload repeating one stored in the last :data:`DUPLICATE_SECONDS` returns that one's
    id (``Accepted.duplicate``), so a double click is recorded once whichever request comes first.

    ``when`` is the moment the server received the upload (default: now); it is the stored time, and ``late``
    must have been decided on it, so a slow check or a wait for the lock never makes anyone late.

    On SQLite the first write takes the database's write lock (others wait, ``busy_timeout``); on PostgreSQL the
    ``UPDATE`` locks the user's row until commit, and each later statement (READ COMMITTED) sees what the
    previous holder committed.
    """
    s = db.submissions
    when = db.now() if when is None else when
    with engine.begin() as conn:
        conn.execute(db.users.update().where(db.users.c.id == user.id).values(name=db.users.c.name))
        if (first := duplicate_of(conn, user, name, data, when)) is not None:
            return Accepted.of(first[0], True, max(0.0, when - first[1]))
        if rate_limit is not None:
            recent = conn.execute(sa.select(sa.func.count()).select_from(s).where(
                (s.c.user_id == user.id) & (s.c.created > db.now() - window))).scalar_one()
            if recent >= rate_limit:
                raise RefusedError(429, f"too many submissions: at most {rate_limit} a minute; wait a minute and "
                                   "submit again (your earlier submissions are queued)")
        cap = conn.execute(sa.select(db.assignments.c.max_submissions).where(db.assignments.c.name == name)).first()
        if cap is not None and cap.max_submissions is not None:
            count = conn.execute(sa.select(sa.func.count()).select_from(s).where(
                (s.c.user_id == user.id) & (s.c.assignment == name))).scalar_one()
            if count >= cap.max_submissions:
                raise RefusedError(403, f"you have used all {cap.max_submissions} submissions of {name!r}")
        return Accepted.of(conn.execute(s.insert().values(
            user_id=user.id, assignment=name, filename=_stored_name(filename), notebook=data, created=when,
            late=late, status="queued", attempts=0)).inserted_primary_key[0])


def _stored_name(filename: str) -> str:
    """The upload's name as recorded: its last part, at most 255 characters, the ``.ipynb`` suffix kept."""
    name = Path(filename).name
    return name if len(name) <= 255 else name[:249] + ".ipynb"


def recent_count(engine: Engine, user: User, seconds: float) -> int:
    """How many submissions ``user`` made in the last ``seconds`` (the rate limit holds across server processes)."""
    with engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(db.submissions).where(
            (db.submissions.c.user_id == user.id) & (db.submissions.c.created > db.now() - seconds))).scalar_one()
