"""The queue, the course server and nbgrader's gradebook on a real PostgreSQL server."""

import os
import threading

import pytest
import sqlalchemy as sa

from autograder.sandbox import isolation
from autograder.server import accounts, db, queue
from tests.autograder.fixtures import course as fx
from tests.autograder.server.conftest import notebook_bytes, wait_graded
from tests.autograder.server.postgres import LocalPostgres, fresh_database


@pytest.fixture(scope="module")
def postgres_url():
    pytest.importorskip("psycopg")
    if os.environ.get("TEST_POSTGRES_URL"):
        yield os.environ["TEST_POSTGRES_URL"]
        return
    try:
        server = LocalPostgres()
    except (RuntimeError, OSError) as exc:
        pytest.skip(f"no PostgreSQL server: {exc}")
    yield server.url
    server.stop()


def test_concurrent_claims_on_postgres_are_exactly_once(postgres_url):
    engine = db.connect(fresh_database(postgres_url))
    user, _, _ = accounts.add_user(engine, "ada", "student")
    with engine.begin() as conn:
        for _ in range(30):
            conn.execute(db.submissions.insert().values(user_id=user.id, assignment="a", filename="a.ipynb",
                                                        notebook=b"x", created=db.now(), status="queued", attempts=0))
    claimed = []
    lock = threading.Lock()

    def work(k):
        while (job := queue.claim(engine, f"s{k}")) is not None:
            with lock:
                claimed.append(job.id)
            queue.complete(engine, job, {"score": 1, "max_score": 1, "tests": []})

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(claimed) == len(set(claimed)) == 30
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(db.results)).scalar_one() == 30
    engine.dispose()


@pytest.mark.skipif(isolation.detect() is None, reason="no sandbox isolation on this machine")
def test_the_course_server_and_the_gradebook_run_on_postgres(postgres_url, course):
    """Grade through the server on PostgreSQL, then export to an nbgrader gradebook on PostgreSQL too."""
    from concurrent.futures import ThreadPoolExecutor

    from nbgrader.api import Gradebook

    from autograder.server.service import CourseServer

    pool = ThreadPoolExecutor(1)
    server = CourseServer(course, db_url=fresh_database(postgres_url), executor=pool)
    try:
        ada, _, _ = accounts.add_user(server.engine, "ada", "student")
        prof, _, _ = accounts.add_user(server.engine, "prof", "instructor")
        sid = server.submit(ada, fx.ASSIGNMENT, "rnn_cell.ipynb", notebook_bytes(fx.solved_notebook()))
        [row] = wait_graded(server, prof, [sid])
        assert row["status"] == "graded" and row["max_score"] == sum(fx.TESTS.values())
        gradebook_url = fresh_database(postgres_url)
        assert server.export_gradebook(prof, fx.ASSIGNMENT, db_url=gradebook_url) == 1
        with Gradebook(gradebook_url) as gb:
            assert gb.find_submission(fx.ASSIGNMENT, "ada").score == pytest.approx(row["score"])
    finally:
        server.close()
        pool.shutdown()
