"""The dashboard's numbers at a class's scale: the latest graded submission per student is chosen by the database.

Principle: a dashboard poll and an export read one report per student, whatever the number of submissions, and
"latest" is by the submission's time (then id), the same rule for analytics, grades.csv and the gradebook.
"""

from __future__ import annotations

import random

import sqlalchemy as sa

from autograder.server import accounts, db
from autograder.server.analytics import analytics, latest_graded


def _graded(conn, user_id: int, created: float, score: float, status: str = "graded") -> int:
    sid = conn.execute(db.submissions.insert().values(
        user_id=user_id, assignment="a", filename="a.ipynb", notebook=b"x", created=created, status=status,
        attempts=1)).inserted_primary_key[0]
    if status == "graded":
        conn.execute(db.results.insert().values(
            submission_id=sid, score=score, max_score=5.0, graded_by="t", recorded=created,
            report={"score": score, "max_score": 5.0, "tests": [
                {"grade_id": "t1", "score": score, "max_score": 5.0, "message": "likely bug: no bias"}]}))
    return sid


def test_latest_is_by_time_then_id_and_one_report_per_student_is_read(tmp_path):
    """With 40 students x 1-6 submissions in shuffled time order (ties, queued ones), is each latest right?"""
    engine = db.connect(db.default_url(tmp_path))
    rng = random.Random(3)
    expected = {}
    people = [accounts.add_user(engine, f"s{k:02d}", "student")[0] for k in range(40)]
    with engine.begin() as conn:
        for user in people:
            rows = []
            for j in range(rng.randint(1, 6)):
                created = 1000.0 + rng.choice([j, 5 - j, 2.0])  # out of id order, with ties
                sid = _graded(conn, user.id, created, float(rng.randint(0, 5)))
                rows.append((created, sid))
            _graded(conn, user.id, 9999.0, 0.0, status="queued")  # newest but not graded: not the latest graded
            expected[user.name] = max(rows)[1]
    statements = []
    sa.event.listen(engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
    got = latest_graded(engine, "a")
    assert {name: v["id"] for name, v in got.items()} == expected
    assert len(statements) == 1  # one query, whatever the submissions
    numbers = analytics(engine, "a")
    assert numbers["students"] == 40 and sum(numbers["histogram"]["counts"]) == 40
    assert numbers["status"]["queued"] == 40 and numbers["bug_classes"][0]["bug_class"] == "no bias"
    engine.dispose()
