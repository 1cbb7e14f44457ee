"""An upload's file name is the student's text: it never becomes a path, and what a student reads never shows one.

Principles: the grader picks the source notebook by comparing the upload's name with the names the course has
(strings), never by opening a path built from it; an error a student reads has the server's directories taken
out (the instructor's log keeps the whole text). Found with a 300-character name: grading failed with
``OSError: [Errno 36] File name too long: '/srv/.../source/rnn_cell/aaaa...'``, the course's absolute path
shown on the feedback page.

``tuning`` payloads were the ones the fix was written against; ``held out`` ones were written with them, before
the fix, and not looked at while writing it.
"""

from __future__ import annotations

import pytest

from autograder.sandbox import isolation
from autograder.server import accounts
from tests.autograder.fixtures import course as fx
from tests.autograder.server.conftest import distinct, notebook_bytes, wait_graded

pytestmark = pytest.mark.skipif(isolation.detect() is None, reason="no sandbox isolation on this machine")
A = fx.ASSIGNMENT

NAMES = {  # file name -> (tuning | held out)
    "a" * 300 + ".ipynb": "tuning",
    "é" * 200 + ".ipynb": "held out",  # 206 characters, 406 bytes: too long for the file system, not for len()
    "*.ipynb": "held out",
    "../../release/rnn_cell/rnn_cell.ipynb": "held out",
    "C:\\Users\\ada\\rnn_cell (1).ipynb": "held out",
    "\u202ebnpi.rnn_cell.ipynb": "held out",
    "rnn_cell\u0000x.ipynb": "held out",
}


@pytest.mark.parametrize("name", list(NAMES))
def test_any_file_name_is_graded_as_the_assignments_notebook(server, people, course, name):
    """Is a solved notebook graded in full whatever its name, and does nothing the student reads show a path?"""
    ada, _ = people["ada"]
    server.rate_limit = 100
    sid = server.submit(ada, A, name, distinct(notebook_bytes(fx.solved_notebook()), len(name)))
    row = wait_graded(server, ada, [sid])[0]
    assert row["status"] == "graded" and row["error"] is None, row["error"]
    assert row["score"] == row["max_score"] == sum(fx.TESTS.values())
    assert row["filename"].endswith(".ipynb") and len(row["filename"].encode()) <= 255 * 4


def test_held_out_a_broken_course_does_not_show_its_directory(server, people, course):
    """Held out: the instructor's course lost its source notebook; the student reads why, without server paths."""
    ada, _ = people["ada"]
    sid = server.submit(ada, A, f"{A}.ipynb", notebook_bytes(fx.solved_notebook()))
    source = course / "source" / A / f"{A}.ipynb"
    source.rename(source.with_suffix(".moved"))
    try:
        (row,) = wait_graded(server, ada, [sid])
    finally:
        source.with_suffix(".moved").rename(source)
    assert row["status"] == "failed" and row["error"], row
    assert str(course) not in row["error"] and str(course.parent) not in row["error"], row["error"]
    assert "source notebook" in row["error"]  # still says what is wrong


def test_public_error_takes_out_directories_and_keeps_the_reason(tmp_path):
    from autograder.server.grading import public_error

    course = tmp_path / "course"
    said = public_error(OSError(36, "File name too long", f"{course}/source/a/{'x' * 20}.ipynb"), course)
    assert str(tmp_path) not in said and "File name too long" in said and said.startswith("OSError")
    said = public_error(RuntimeError("worker died in /usr/lib/python3/x.py and /home/prof/course"), course)
    assert "/usr/lib" not in said and "/home/prof" not in said and "worker died" in said


def test_a_name_too_long_is_stored_shortened_with_its_suffix(server, people):
    ada, _ = people["ada"]
    sid = server.submit(ada, A, "b" * 400 + ".ipynb", notebook_bytes(fx.solved_notebook()))
    stored = server.submission(ada, sid)["filename"]
    assert stored.endswith(".ipynb") and len(stored) <= 255
    accounts.find(server.engine, "ada")  # the account is untouched by any of it
