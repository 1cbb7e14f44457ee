"""The instructor dashboard's numbers for one assignment, from each student's latest graded submission.

- score histogram and per-test pass rates over students (latest graded submission each);
- misconception counts: each diagnosed bug class with the students whose feedback named it;
- submissions over time against the deadline.

A bug class is read from the test messages the checks write: the named catalogue's ``likely bug: <class>``,
else the probe layer's ``Likely cause (a guess ...): <cause>`` (counted as "probable: <cause>"); messages that
name neither count under "not named".
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict

import numpy as np
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from autograder.server import db
from autograder.server.submissions import settings

NAMED = re.compile(r"likely bug: ([^)\n;]{1,80})")
GUESSED = re.compile(r"Likely cause \(a guess[^)]*\): ([^\n]{1,160}?)(?:\.\s|\.$|$)")


def bug_classes(message: str) -> list[str]:
    """The bug classes a test message names: the catalogue's names, else the probes' guesses (none if neither)."""
    found = list(dict.fromkeys(m.strip() for m in NAMED.findall(message or "")))
    if not found:
        found = list(dict.fromkeys(f"probable: {m.strip()}" for m in GUESSED.findall(message or "")))
    return found


def latest_graded(engine: Engine, assignment: str) -> dict[str, dict]:
    """{student: {"id", "created", "late", "score", "max_score", "report"}} of each student's latest graded one.

    The database picks the latest per student (a window over each student's graded submissions, latest by
    time then id), so only one report per student is read and parsed: the dashboard's and the exports' cost
    grows with the class, not with students x submissions.
    """
    s, r = db.submissions, db.results
    rank = sa.func.row_number().over(partition_by=s.c.user_id, order_by=(s.c.created.desc(), s.c.id.desc()))
    latest = (sa.select(s.c.id, rank.label("k")).where((s.c.assignment == assignment) & (s.c.status == "graded"))
              .subquery())
    query = (sa.select(s.c.id, s.c.created, s.c.late, db.users.c.name, r.c.score, r.c.max_score, r.c.report)
             .join(latest, (latest.c.id == s.c.id) & (latest.c.k == 1))
             .join(r, r.c.submission_id == s.c.id).join(db.users, db.users.c.id == s.c.user_id))
    out = {}
    with engine.connect() as conn:
        for row in conn.execute(query):
            out[row.name] = {"id": row.id, "created": row.created, "late": row.late, "score": row.score,
                             "max_score": row.max_score, "report": row.report}
    return out


def analytics(engine: Engine, assignment: str, bins: int = 10) -> dict:
    """The dashboard's numbers (also ``GET /api/v1/assignments/{name}/analytics``)."""
    latest = latest_graded(engine, assignment)
    scores = np.array([v["score"] for v in latest.values()], dtype=float)
    max_score = max((v["max_score"] for v in latest.values()), default=0.0)
    edges = np.linspace(0.0, max_score or 1.0, bins + 1)
    counts = np.histogram(scores, bins=edges)[0] if len(scores) else np.zeros(bins, dtype=int)
    tests: dict[str, dict] = {}
    bugs: dict[str, set[str]] = defaultdict(set)
    for student, entry in latest.items():
        for t in entry["report"].get("tests", []):
            row = tests.setdefault(t["grade_id"], {"grade_id": t["grade_id"], "passed": 0, "students": 0,
                                                   "max_score": t["max_score"]})
            row["students"] += 1
            passed = t["score"] >= t["max_score"]
            row["passed"] += passed
            if not passed:
                for name in bug_classes(t.get("message", "")) or ["not named"]:
                    bugs[name].add(student)
    for row in tests.values():
        row["pass_rate"] = row["passed"] / row["students"] if row["students"] else 0.0
    with engine.connect() as conn:
        times = [row.created for row in conn.execute(
            sa.select(db.submissions.c.created).where(db.submissions.c.assignment == assignment)
            .order_by(db.submissions.c.created))]
        status = Counter(dict(conn.execute(
            sa.select(db.submissions.c.status, sa.func.count()).where(db.submissions.c.assignment == assignment)
            .group_by(db.submissions.c.status)).all()))
    return {
        "assignment": assignment,
        "students": len(latest),
        "mean_score": float(scores.mean()) if len(scores) else None,
        "max_score": max_score,
        "histogram": {"edges": edges.tolist(), "counts": [int(c) for c in counts]},
        "tests": sorted(tests.values(), key=lambda t: t["grade_id"]),
        "bug_classes": sorted(({"bug_class": k, "count": len(v), "students": sorted(v)} for k, v in bugs.items()),
                              key=lambda b: (-b["count"], b["bug_class"])),
        "submissions_over_time": times,
        "deadline": settings(engine, assignment).deadline,
        "status": dict(status),
    }
