"""The course server's operations, each checked for who asks: what the API handlers and the pages call.

A student sees only their own submissions: another student's id answers exactly like an id that does not
exist (404), so ids reveal nothing. Instructors see everything of their course. Every refusal is a
:class:`~autograder.server.submissions.RefusedError` with its HTTP status and a sentence.
"""

from __future__ import annotations

import csv
import io
import threading
import time
from concurrent.futures import Executor, Future, ProcessPoolExecutor, ThreadPoolExecutor
from pathlib import Path

import sqlalchemy as sa

from autograder.sandbox import Limits
from autograder.server import accounts, db, queue, submissions
from autograder.server.accounts import User
from autograder.server.analytics import analytics, latest_graded
from autograder.server.grading import Dispatcher, grading_worker
from autograder.server.submissions import RefusedError

RATE_WINDOW = 60.0
RATE_LIMIT = 10  # submissions per user per RATE_WINDOW
COMPARE_LIMIT = 20  # compare runs per user (or per anonymous session) per RATE_WINDOW
COMPARE_SLOTS = 2  # compare runs at once, over all users (each is one sandbox)
COMPARE_QUEUE = 8  # compare runs running or waiting, over all users: more are refused (429), not queued
POSITIONS_TTL = 1.0  # seconds a computed queue order serves every page's poll in this process


class CourseServer:
    """One course: its database, its grading dispatcher, and the operations users may ask for."""

    def __init__(self, course: Path | str, db_url: str | None = None, executor: Executor | None = None,
                 workers: int = 1, limits: Limits | None = None, unsafe: bool = False,
                 rate_limit: int = RATE_LIMIT, grade: bool = True):
        self.course = Path(course).resolve()
        self.engine = db.connect(db_url or db.default_url(self.course))
        self.rate_limit = rate_limit
        self._own_executor = executor is None and grade
        if self._own_executor:
            import multiprocessing
            import os

            # NB: forkserver, not fork: the server process has threads (tornado, the dispatcher, sessions).
            # The workers end themselves when this process is gone (grading_worker): nothing else tells them.
            executor = ProcessPoolExecutor(max_workers=max(1, workers), mp_context=multiprocessing.get_context(
                "forkserver"), initializer=grading_worker, initargs=(os.getpid(),))
        self._compare_pool = ThreadPoolExecutor(max_workers=COMPARE_SLOTS, thread_name_prefix="compare")
        self._compare_seen: dict[str, list[float]] = {}
        self._compare_running: set[str] = set()
        self._compare_lock = threading.Lock()
        self._positions_lock = threading.Lock()
        self._positions_cache: dict[int, int] = {}
        self._positions_at = 0.0
        self.dispatcher = (Dispatcher(self.engine, self.course, executor, capacity=workers, limits=limits,
                                      unsafe=unsafe).start() if grade else None)
        self.executor = executor

    def close(self) -> None:
        self._compare_pool.shutdown(wait=False, cancel_futures=True)
        if self.dispatcher:
            self.dispatcher.stop()
        if self._own_executor and self.executor:
            self.executor.shutdown(wait=False, cancel_futures=True)
        self.engine.dispose()

    # ------------------------------------------------------------------ students
    def submit(self, user: User, assignment: str, filename: str, data: bytes,
               received: float | None = None) -> submissions.Accepted:
        """Check and queue an upload; returns the submission id (202 in the API).

        ``received`` is when the server had the whole upload (its clock, never the client's; default now): the
        deadline is judged on it and it is the stored time, so a submission received at 23:59:59.9 is on time
        however long the checks and the queue's lock take, and one received at 00:00:00.1 is late. An upload
        repeating the same bytes within ``submissions.DUPLICATE_SECONDS`` answers the first one's id, marked
        ``duplicate`` (a double click is one submission, and spends one of the maximum).
        """
        when = db.now() if received is None else received
        if len(data) > submissions.MAX_UPLOAD:
            raise RefusedError(413, f"{filename}: {len(data) / 2**20:.1f} MiB is over the "
                               f"{submissions.MAX_UPLOAD // 2**20} MiB limit")
        with self.engine.connect() as conn:  # a repeat is answered before any limit could refuse it
            first = submissions.duplicate_of(conn, user, assignment, data, when)
        if first is not None:
            return submissions.Accepted.of(first[0], True, max(0.0, when - first[1]))
        if submissions.recent_count(self.engine, user, RATE_WINDOW) >= self.rate_limit:
            raise RefusedError(429, f"too many submissions: at most {self.rate_limit} a minute; wait a minute and "
                               "submit again (your earlier submissions are queued)")
        late = submissions.check_open(self.engine, self.course, assignment, user, when)
        submissions.check_notebook(data, filename, self.course, assignment)
        # The counts above refuse early; store() counts again under the user's lock (parallel uploads race).
        sid = submissions.store(self.engine, user, assignment, filename, data, late, self.rate_limit, RATE_WINDOW,
                                when=when)
        self._positions_at = 0.0  # the next read sees the new one in the queue
        if self.dispatcher:
            self.dispatcher.notify()
        return sid

    def _rows(self, where) -> list[dict]:
        """Submissions matching ``where``, newest first, in three queries whatever their number (no query per row)."""
        s, r = db.submissions, db.results
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(s.c.id, s.c.user_id, s.c.assignment, s.c.filename, s.c.created, s.c.late,
                                          s.c.status, db.users.c.name, r.c.score, r.c.max_score, r.c.report,
                                          r.c.error)
                                .join(db.users, db.users.c.id == s.c.user_id)
                                .outerjoin(r, r.c.submission_id == s.c.id).where(where)
                                .order_by(s.c.id.desc())).all()
            place = self._positions(conn) if any(row.status == "queued" for row in rows) else {}
        out = []
        for row in rows:
            report = row.report or {}
            out.append({"id": row.id, "user_id": row.user_id, "assignment": row.assignment, "student": row.name,
                        "filename": row.filename, "created": row.created, "late": row.late, "status": row.status,
                        "position": place.get(row.id), "score": row.score, "max_score": row.max_score,
                        "tests": report.get("tests", []), "notes": report.get("notes", []), "error": row.error})
        return out

    def _positions(self, conn) -> dict[int, int]:
        """The queue's fair order, computed at most once per ``POSITIONS_TTL`` for all readers of this process.

        Every open feedback or course page polls once a second while its submission waits: without sharing, N
        waiting pages would each order the whole queue every second (N x queue work per second).
        """
        with self._positions_lock:
            if time.monotonic() - self._positions_at > POSITIONS_TTL:
                self._positions_cache = queue.positions(conn)
                self._positions_at = time.monotonic()
            return self._positions_cache

    def submission(self, user: User, submission_id: int) -> dict:
        """Status, position in the queue, score and tests of one submission the user may see."""
        number = submissions.parse_id(submission_id)
        if number is None:  # e.g. 2**40 would be an error on PostgreSQL, not a 404
            raise RefusedError(404, f"no submission {str(submission_id)[:20]} of yours")
        rows = self._rows(db.submissions.c.id == number)
        if not rows or (rows[0]["user_id"] != user.id and not user.is_instructor):
            raise RefusedError(404, f"no submission {number} of yours")
        return rows[0]

    def submissions_of(self, user: User, assignment: str | None = None, student: str | None = None) -> list[dict]:
        """The user's own submissions (an instructor may name any student, or all), newest first."""
        s = db.submissions
        where = sa.true()
        if not user.is_instructor:
            where = s.c.user_id == user.id
        elif student:
            where = s.c.user_id == sa.select(db.users.c.id).where(db.users.c.name == student).scalar_subquery()
        if assignment:
            where = where & (s.c.assignment == assignment)
        return self._rows(where)

    def notebook(self, user: User, submission_id: int) -> tuple[str, bytes]:
        """The submitted file (its owner's or any for an instructor)."""
        self.submission(user, submission_id)  # 404 unless the user may see it
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(db.submissions.c.filename, db.submissions.c.notebook)
                               .where(db.submissions.c.id == submission_id)).first()
        return row.filename, row.notebook

    # ------------------------------------------------------------------ instructors
    def _instructor(self, user: User) -> None:
        if not user.is_instructor:
            raise RefusedError(403, "only instructors may do this")

    def _known(self, assignment: str) -> None:
        """Raise 404 unless ``assignment`` is released in the course or has submissions or settings stored (an
        assignment taken out of the release keeps its grades).
        """
        if assignment in submissions.released(self.course):
            return
        with self.engine.connect() as conn:
            for table in (db.submissions, db.assignments):
                column = table.c.assignment if table is db.submissions else table.c.name
                if conn.execute(sa.select(column).where(column == assignment).limit(1)).first():
                    return
        raise RefusedError(404, f"no assignment {assignment!r} in this course; released: "
                           f"{', '.join(submissions.released(self.course)) or 'none yet'}")

    def analytics(self, user: User, assignment: str) -> dict:
        self._instructor(user)
        self._known(assignment)
        return analytics(self.engine, assignment)

    def regrade(self, user: User, assignment: str, submission_ids: list[int] | None = None) -> int:
        """Queue again one, several or (None) every graded submission of ``assignment``."""
        self._instructor(user)
        self._known(assignment)
        if submission_ids is not None:
            submission_ids = [i for i in submission_ids if submissions.parse_id(i) is not None]
        n = queue.requeue(self.engine, assignment, submission_ids)
        self._positions_at = 0.0
        if self.dispatcher:
            self.dispatcher.notify()
        return n

    def configure(self, user: User, assignment: str, **changes) -> submissions.Settings:
        self._instructor(user)
        return submissions.configure(self.engine, assignment, **changes)

    def export_csv(self, user: User, assignment: str) -> str:
        """student, submission id, time, late, score, max_score: the latest graded submission of each student."""
        self._instructor(user)
        self._known(assignment)
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(["student", "submission", "timestamp", "late", "score", "max_score"])
        for student, entry in sorted(latest_graded(self.engine, assignment).items()):
            writer.writerow([_cell(student), entry["id"], f"{entry['created']:.3f}", int(bool(entry["late"])),
                             f"{entry['score']:g}", f"{entry['max_score']:g}"])
        return out.getvalue()

    def export_gradebook(self, user: User, assignment: str, db_url: str | None = None) -> int:
        """Record each student's latest graded submission in nbgrader's gradebook (``nbgrader export`` reads it)."""
        from datetime import UTC, datetime

        from autograder.gradebook import ensure_assignment, open_gradebook, record
        from autograder.pipeline import Report, TestResult, load_source, source_notebook_path

        self._instructor(user)
        source = load_source(self.course, assignment)
        notebook = source_notebook_path(self.course, assignment).stem
        latest = latest_graded(self.engine, assignment)
        gb = open_gradebook(self.course, db_url)
        try:
            ensure_assignment(gb, assignment, notebook, source)
            for student, entry in sorted(latest.items()):
                tests = [TestResult(t["grade_id"], t["score"], t["max_score"], t.get("message", ""))
                         for t in entry["report"].get("tests", [])]
                stamp = datetime.fromtimestamp(entry["created"], tz=UTC).replace(tzinfo=None)
                record(gb, Report(notebook=notebook, tests=tests), assignment, student, stamp)
        finally:
            gb.close()
        return len(latest)

    # ------------------------------------------------------------------ compare with my implementation
    def option(self, key: str, default: str = "") -> str:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(db.options.c.value).where(db.options.c.key == key)).first()
        return row.value if row else default

    def set_option(self, user: User, key: str, value: str) -> None:
        self._instructor(user)
        with self.engine.begin() as conn:
            conn.execute(db.options.delete().where(db.options.c.key == key))
            conn.execute(db.options.insert().values(key=key, value=value))

    def compare(self, user: User | None, who: str, kind: str, X, h0, c0, params: dict,
                submission_id: int | None = None, code: str | None = None) -> Future:
        """Queue a trace of the student's ``{kind}_step`` (a submission's, or pasted code) on the page's inputs.

        The rate limit (``COMPARE_LIMIT`` a minute, one at a time) counts per account, and all guests together
        count as one; at most ``COMPARE_QUEUE`` runs wait or run at once over everyone (``who`` is kept for
        callers and ignored). Pasted code from a guest is refused unless an instructor turned
        ``anonymous_compare`` on. Returns a future of :func:`autograder.server.trace.trace`'s result; reading the
        notebook and the run happen in a compare thread and a sandbox, off the event loop.
        """
        from autograder.server import trace

        return self._compare_run(user, submission_id, code, lambda cells: trace.trace(cells, kind, X, h0, c0, params))

    def compare_call(self, user: User | None, who: str, name: str, args: tuple, read,
                     submission_id: int | None = None, code: str | None = None) -> Future:
        """Like :meth:`compare`, for one call of a whole student function: ``name(*args)``, read by ``read``.

        The BPTT lab's "your hidden_grad_norms" and the Architectures page's "your forward" use it; the same
        owner checks, limits and queue apply. Returns a future of :func:`autograder.server.trace.call`'s result.
        """
        from autograder.server import trace

        return self._compare_run(user, submission_id, code, lambda cells: trace.call(cells, name, args, read))

    def _compare_run(self, user: User | None, submission_id, code, work) -> Future:
        """Check who may run what, count it against the limits, and queue ``work(cells)`` in a compare thread."""
        from autograder.server import trace

        if submission_id is not None:
            if user is None:
                raise RefusedError(401, "sign in to compare one of your submissions")
            assignment = self.submission(user, submission_id)["assignment"]  # 404 unless the user may see it
            sid = submissions.parse_id(submission_id)

            def cells():  # in the compare thread: a 16 MiB notebook takes a while to read
                _filename, notebook = self.notebook(user, sid)
                return trace.student_code(notebook, self.course, assignment)
        elif code is not None:
            if user is None and self.option("anonymous_compare", "off") != "on":
                raise RefusedError(403, "sign in to run your own code here (an instructor can allow guests)")
            if not isinstance(code, str) or len(code) > trace.MAX_CODE:
                raise RefusedError(413, f"the code is {len(str(code)) // 1024} KiB; at most "
                                   f"{trace.MAX_CODE // 1024} KiB")

            def cells():
                return [("pasted code", code)]
        else:
            raise RefusedError(422, "give a submission or some code to compare")
        # Who is asking is the server's decision, not the caller's: a signed-in user by their account, and every
        # guest together as one (a new browser session must not be a new allowance). ``who`` names nothing more.
        key = f"user:{user.id}" if user is not None else "guest"
        now = time.monotonic()
        with self._compare_lock:
            seen = [t for t in self._compare_seen.get(key, []) if t > now - RATE_WINDOW]
            if len(seen) >= COMPARE_LIMIT:
                raise RefusedError(429, f"at most {COMPARE_LIMIT} comparisons a minute: wait a moment")
            if key in self._compare_running:
                raise RefusedError(429, "your previous comparison is still running")
            if len(self._compare_running) >= COMPARE_QUEUE:
                raise RefusedError(429, f"the server is running {COMPARE_QUEUE} comparisons already: try again in a "
                                   "moment")
            self._compare_seen = {k: v for k, v in self._compare_seen.items() if v and v[-1] > now - RATE_WINDOW}
            self._compare_seen[key] = [*seen, now]
            self._compare_running.add(key)
        try:
            future = self._compare_pool.submit(lambda: work(cells()))
        except RuntimeError:  # the pool is shut down (the server is closing)
            with self._compare_lock:
                self._compare_running.discard(key)
            raise RefusedError(503, "the server is shutting down") from None
        future.add_done_callback(lambda _f: self._release_compare(key))
        return future

    def _release_compare(self, key: str) -> None:
        with self._compare_lock:
            self._compare_running.discard(key)

    # ------------------------------------------------------------------ accounts
    def user_by_token(self, token: str) -> User | None:
        return accounts.by_token(self.engine, token)

    def session_user(self, value: str) -> User | None:
        """The user of a (verified) session cookie value; None after a password change or account removal."""
        return accounts.session_user(self.engine, value)

    def user(self, name: str) -> User | None:
        return accounts.find(self.engine, name)


def _cell(text: str) -> str:
    """A text cell of grades.csv that a spreadsheet shows as text, never runs as a formula (CSV injection).

    Account names cannot start with these characters today (``accounts.NAME``); this holds whatever the
    database was filled by (a roster, a migration, another tool).
    """
    return f"'{text}" if text[:1] in ("=", "+", "-", "@", "\t", "\r", "|") else text

