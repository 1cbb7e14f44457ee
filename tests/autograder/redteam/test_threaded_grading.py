"""Red team, grading in threads: the test cells' printed messages are captured with a process-wide stdout swap.

``grade_course`` takes any executor, and its docstring offers a Dask cluster, whose workers run tasks in
threads. ``Runner`` captures what a test cell prints (the checks' "ok: ..." lines become the message) with
``contextlib.redirect_stdout``, which replaces ``sys.stdout`` for the whole process. Here a second thread
stands for a second grading: it prints a marker while one notebook is graded in another thread.
"""

from __future__ import annotations

import sys
import threading

import pytest

from autograder import pipeline
from tests.autograder.redteam import payloads

MARK = "OTHER-STUDENT-ok: question 1: correct (B)"


@pytest.fixture(scope="module")
def crossed(redteam_course):
    path = payloads.write(redteam_course.parent / "threaded" / "rnn_cell.ipynb",
                          payloads.filled(redteam_course, "rnn_cell"))
    done = threading.Event()
    result = {}

    def grade():
        try:
            result["report"] = pipeline.grade_notebook(path, redteam_course, "rnn_cell")
        finally:
            done.set()

    before = sys.stdout
    worker = threading.Thread(target=grade)
    worker.start()
    while not done.wait(0.002):
        print(MARK)  # another grading's check printing its message, in this process
    worker.join()
    after = sys.stdout
    sys.stdout = before  # NB: leave pytest's capture as it was, whatever the grading did to it
    return result["report"], before, after


def test_the_threaded_grading_itself_is_right(crossed):
    report, _, _ = crossed
    assert report.score == report.max_score == 9.0


def test_another_gradings_output_never_reaches_this_feedback(crossed):
    report, _, _ = crossed
    leaked = [t.grade_id for t in report.tests if MARK in t.message or MARK in t.output]
    assert leaked == [], f"{len(leaked)} test messages hold the other thread's text: {leaked}"
