"""A released one-assignment course and a course server on it (grading in threads, the real sandbox)."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import nbformat
import pytest

from autograder.server import accounts
from autograder.server.service import CourseServer
from tests.autograder.fixtures import course as fx


def released_course(root: Path) -> Path:
    """``write_course`` plus ``release/rnn_cell/``: the assignment is open for submissions."""
    fx.write_course(root)
    fx.write_notebook(root / "release" / fx.ASSIGNMENT / f"{fx.ASSIGNMENT}.ipynb", fx.release_notebook())
    return root


def notebook_bytes(nb: nbformat.NotebookNode) -> bytes:
    return json.dumps(nb).encode()


def distinct(data: bytes, k: int) -> bytes:
    """The same notebook as different bytes (``k`` trailing spaces): the server takes the same bytes sent again
    within a minute for the same submission (a double click), so a test of many submissions varies them."""
    return data + b" " * (k + 1)


def buggy_notebook() -> nbformat.NotebookNode:
    """rnn_step without its bias: the rnn tests fail, the others pass."""
    nb = fx.solved_notebook()
    cell = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "rnn_step")
    assert ' + params["b_h"]' in cell.source
    return fx.with_code(nb, "rnn_step", cell.source.replace(' + params["b_h"]', ""))


@pytest.fixture
def course(tmp_path) -> Path:
    return released_course(tmp_path / "course")


@pytest.fixture
def server(course):
    pool = ThreadPoolExecutor(max_workers=2)
    srv = CourseServer(course, executor=pool, workers=2)
    yield srv
    srv.close()
    pool.shutdown()


@pytest.fixture
def people(server):
    """Two students and an instructor: {name: (user, token)}."""
    out = {}
    for name, role in (("ada", "student"), ("bo", "student"), ("prof", "instructor")):
        user, token, _ = accounts.add_user(server.engine, name, role)
        out[name] = (user, token)
    return out


def wait_graded(server: CourseServer, user, ids, timeout: float = 120.0) -> list[dict]:
    import time

    end = time.monotonic() + timeout
    while time.monotonic() < end:
        rows = [server.submission(user, i) for i in ids]
        if all(r["status"] in ("graded", "failed") for r in rows):
            return rows
        time.sleep(0.2)
    raise AssertionError(f"not graded in {timeout} s: {[(r['id'], r['status']) for r in rows]}")
