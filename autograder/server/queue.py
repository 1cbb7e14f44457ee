"""The durable submission queue: claim with a lease, renew it while grading, record the result exactly once.

States: ``queued`` -> ``running`` (a server holds the lease) -> ``graded`` (or ``failed`` when grading itself
could not run). Whatever happens to a server (kill -9, power cut), its leases stop being renewed; once a
lease runs out any server puts the submission back in the queue. The result is inserted into
``results``, whose key is the submission id, by the holder of the current lease only: a submission may be
*run* twice after a crash, but it is *recorded* once, and no submission is ever lost.

Claiming is one conditional ``UPDATE ... WHERE status = 'queued'`` checked by its row count, which is
atomic on SQLite (one writer at a time) and on PostgreSQL (row locks), so two servers never both win.
The next submission is chosen round-robin over students (:func:`_fair_order`), so one student's flood
cannot starve the others.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from autograder.server import db

LEASE = 20.0  # seconds; a grading server renews its leases every LEASE / 4


@dataclass(frozen=True)
class Job:
    id: int
    claim: str
    assignment: str
    filename: str
    notebook: bytes
    student: str


def server_id() -> str:
    return secrets.token_hex(6)


def recover(engine: Engine) -> int:
    """Put back every running submission whose lease ran out (its server died); returns how many."""
    with engine.begin() as conn:
        return conn.execute(db.submissions.update().where(
            (db.submissions.c.status == "running") & (db.submissions.c.lease_until < db.now())).values(
            status="queued", claim=None, lease_until=None)).rowcount


SCAN = 5000  # queued submissions looked at per claim (the oldest): the fair order is computed over these


def _fair_order(conn) -> list[tuple[int, int]]:
    """Queued (id, attempts) in the order they are graded: round-robin over students, oldest first within each.

    A student's k-th waiting submission comes after every other student's (k-1)-th, and each one being graded
    counts as one of their turns: ten uploads of one student cannot hold the workers while another student's
    single upload waits behind them (queue starvation). Ties go to the older submission.
    """
    s = db.submissions
    rows = conn.execute(sa.select(s.c.id, s.c.user_id, s.c.attempts).where(s.c.status == "queued")
                        .order_by(s.c.id).limit(SCAN)).all()
    if not rows:
        return []
    # each submission being graded counts as one of its student's turns
    seen: dict[int, int] = dict(conn.execute(sa.select(s.c.user_id, sa.func.count()).where(s.c.status == "running")
                                             .group_by(s.c.user_id)).all())
    keyed = []
    for row in rows:
        rank = seen.get(row.user_id, 0)
        seen[row.user_id] = rank + 1
        keyed.append((rank, row.id, row.attempts))
    return [(sid, attempts) for _, sid, attempts in sorted(keyed)]


def positions(conn) -> dict[int, int]:
    """{submission id: its place in the queue}, 1 for the next to be graded (the fair order of :func:`claim`)."""
    return {sid: k + 1 for k, (sid, _) in enumerate(_fair_order(conn))}


def claim(engine: Engine, owner: str, lease: float = LEASE) -> Job | None:
    """Take the next queued submission in the fair order for ``owner``, or None when the queue is empty."""
    s = db.submissions
    for _ in range(8):  # another server may win the same row; then look again
        with engine.begin() as conn:
            order = _fair_order(conn)
            if not order:
                return None
            sid, attempts = order[0]
            tag = f"{owner}:{attempts + 1}"
            won = conn.execute(s.update().where((s.c.id == sid) & (s.c.status == "queued")).values(
                status="running", claim=tag, lease_until=db.now() + lease, attempts=attempts + 1,
                started=db.now())).rowcount
            if not won:
                continue
            full = conn.execute(sa.select(s, db.users.c.name).join(db.users, db.users.c.id == s.c.user_id)
                                .where(s.c.id == sid)).first()
            return Job(full.id, tag, full.assignment, full.filename, full.notebook, full.name)
    return None


def renew(engine: Engine, claims: list[str], lease: float = LEASE) -> None:
    """Extend the leases this server holds (called while it grades)."""
    if claims:
        with engine.begin() as conn:
            conn.execute(db.submissions.update().where(
                db.submissions.c.claim.in_(claims) & (db.submissions.c.status == "running")).values(
                lease_until=db.now() + lease))


def complete(engine: Engine, job: Job, report: dict | None, error: str | None = None) -> bool:
    """Record the result if ``job`` still holds its lease; False (nothing written) if it lost it."""
    s = db.submissions
    with engine.begin() as conn:
        done = conn.execute(s.update().where((s.c.id == job.id) & (s.c.claim == job.claim)
                                             & (s.c.status == "running")).values(
            status="failed" if error else "graded", finished=db.now(), lease_until=None)).rowcount
        if not done:
            return False
        conn.execute(db.results.insert().values(
            submission_id=job.id, score=float(report["score"]) if report else 0.0,
            max_score=float(report["max_score"]) if report else 0.0, report=report or {}, error=error,
            graded_by=job.claim, recorded=db.now()))
    return True


def requeue(engine: Engine, assignment: str, ids: list[int] | None = None) -> int:
    """Regrade: put ``assignment``'s graded or failed submissions (``ids`` of them, or all) back in the queue.

    Their old result is removed in the same transaction and the new one recorded when done (one result each,
    always). Those queued or being graded are left as they are: they will be graded once anyway. "All" is one
    statement over the assignment, never a list of its ids (thousands of bound parameters).
    """
    s = db.submissions
    where = (s.c.assignment == assignment) & s.c.status.in_(("graded", "failed"))
    if ids is not None:
        where = where & s.c.id.in_(ids)
    with engine.begin() as conn:
        conn.execute(db.results.delete().where(db.results.c.submission_id.in_(sa.select(s.c.id).where(where))))
        return conn.execute(s.update().where(where).values(
            status="queued", claim=None, lease_until=None, finished=None)).rowcount


def position(engine: Engine, submission_id: int) -> int | None:
    """1 for the next submission to be graded; None unless it is queued."""
    with engine.connect() as conn:
        return positions(conn).get(submission_id)
