"""Grading workers on a real Dask ``distributed.LocalCluster`` with process workers (the multi-host path)."""

import pytest

from autograder.sandbox import isolation
from autograder.server import accounts
from autograder.server.service import CourseServer
from tests.autograder.fixtures import course as fx
from tests.autograder.server.conftest import buggy_notebook, notebook_bytes, wait_graded

pytestmark = pytest.mark.skipif(isolation.detect() is None, reason="no sandbox isolation on this machine")


def test_the_course_server_grades_on_a_dask_cluster(course):
    distributed = pytest.importorskip("distributed")
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None)
    with cluster, distributed.Client(cluster) as client, distributed.get_task_stream(client) as stream:
        server = CourseServer(course, executor=client.get_executor(), workers=2)
        try:
            ada, _, _ = accounts.add_user(server.engine, "ada", "student")
            prof, _, _ = accounts.add_user(server.engine, "prof", "instructor")
            ids = [server.submit(ada, fx.ASSIGNMENT, "rnn_cell.ipynb", notebook_bytes(nb))
                   for nb in (fx.solved_notebook(), buggy_notebook(), fx.solved_notebook())]
            rows = wait_graded(server, prof, ids, timeout=240)
            workers = set(client.scheduler_info()["workers"])  # process workers, each at its own address
        finally:
            server.close()
    assert [r["status"] for r in rows] == ["graded"] * 3
    assert rows[0]["score"] == rows[2]["score"] > rows[1]["score"]
    graded_on = [t["worker"] for t in stream.data if t["key"].startswith("grade_job")]
    assert len(graded_on) == 3 and set(graded_on) <= workers and len(workers) == 2
