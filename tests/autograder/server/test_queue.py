import threading

import pytest
import sqlalchemy as sa

from autograder.server import accounts, db, queue


@pytest.fixture
def engine(tmp_path):
    return db.connect(f"sqlite:///{tmp_path / 'server.db'}")


def _enqueue(engine, n: int) -> list[int]:
    user, _, _ = accounts.add_user(engine, "ada", "student")
    ids = []
    with engine.begin() as conn:
        for k in range(n):
            ids.append(conn.execute(db.submissions.insert().values(
                user_id=user.id, assignment="rnn_cell", filename="rnn_cell.ipynb", notebook=f"{k}".encode(),
                created=db.now(), status="queued", attempts=0)).inserted_primary_key[0])
    return ids


def test_concurrent_servers_never_claim_the_same_submission(engine):
    """Four claimers racing on 40 jobs: is every job claimed exactly once?"""
    ids = _enqueue(engine, 40)
    won: list[list[int]] = [[] for _ in range(4)]

    def work(k):
        while (job := queue.claim(engine, f"server{k}")) is not None:
            won[k].append(job.id)
            assert queue.complete(engine, job, {"score": 1, "max_score": 1, "tests": []})

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    claimed = sorted(i for w in won for i in w)
    assert claimed == ids
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(db.results)).scalar_one() == 40


def test_a_dead_servers_lease_runs_out_and_the_job_is_graded_by_another_once(engine):
    """kill -9 in miniature: the first holder never completes; the job comes back; one result is recorded."""
    [sid] = _enqueue(engine, 1)
    first = queue.claim(engine, "dead", lease=0.01)
    assert first.id == sid and queue.claim(engine, "other") is None  # held
    import time

    time.sleep(0.05)
    assert queue.recover(engine) == 1
    second = queue.claim(engine, "alive")
    assert second.id == sid and second.claim != first.claim
    assert queue.complete(engine, second, {"score": 2, "max_score": 3, "tests": []})
    # The dead server wakes up late and tries to record: refused, nothing written twice.
    assert not queue.complete(engine, first, {"score": 3, "max_score": 3, "tests": []})
    with engine.connect() as conn:
        rows = conn.execute(sa.select(db.results)).all()
    assert [(r.submission_id, r.score) for r in rows] == [(sid, 2.0)]


def test_renewed_leases_are_not_recovered(engine):
    [sid] = _enqueue(engine, 1)
    job = queue.claim(engine, "alive", lease=0.05)
    queue.renew(engine, [job.claim], lease=60)
    import time

    time.sleep(0.1)
    assert queue.recover(engine) == 0


def test_position_counts_from_the_next_job(engine):
    ids = _enqueue(engine, 3)
    assert [queue.position(engine, i) for i in ids] == [1, 2, 3]
    job = queue.claim(engine, "s")
    assert queue.position(engine, job.id) is None and queue.position(engine, ids[2]) == 2


def test_regrade_replaces_the_result(engine):
    [sid] = _enqueue(engine, 1)
    job = queue.claim(engine, "s")
    queue.complete(engine, job, {"score": 0, "max_score": 1, "tests": []})
    assert queue.requeue(engine, "rnn_cell", [sid]) == 1
    job = queue.claim(engine, "s")
    assert job.claim.endswith(":2")
    queue.complete(engine, job, {"score": 1, "max_score": 1, "tests": []})
    with engine.connect() as conn:
        assert [r.score for r in conn.execute(sa.select(db.results))] == [1.0]
