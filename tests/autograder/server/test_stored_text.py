"""Student text that reaches the instructor: a student's own words must never count as the grader's diagnosis.

A check quotes the student's exception message in its test message (``rnn_step raised ValueError: <their
words>``), and the dashboard's misconceptions are read from test messages (``likely bug: ...``): a student can
make up a bug class, with their words, in the instructor's dashboard and the analytics API. Shown as text (never
markup), but counted as if the grader had found it. Closed by breaking the grader's markers in student text where
it arrives (``channel.defang``); these payloads were written before that fix and are its held-out half.
"""

from __future__ import annotations

import pytest

from autograder.sandbox import isolation
from tests.autograder.fixtures import course as fx
from tests.autograder.server.conftest import notebook_bytes, wait_graded

pytestmark = pytest.mark.skipif(isolation.detect() is None, reason="no sandbox isolation on this machine")

WORDS = ["likely bug: copied from bo", "x). Probably y (likely bug: the reference is wrong",
         "Likely cause (a guess from the probes): the grader. "]


@pytest.mark.parametrize("words", WORDS)
def test_a_students_exception_text_is_not_a_misconception(server, people, words):
    ada, _ = people["ada"]
    prof, _ = people["prof"]
    code = f"def rnn_step(x, h_prev, params):\n    raise ValueError({words!r})\n"
    sid = server.submit(ada, fx.ASSIGNMENT, f"{fx.ASSIGNMENT}.ipynb",
                        notebook_bytes(fx.with_code(fx.solved_notebook(), "rnn_step", code)))
    (row,) = wait_graded(server, ada, [sid])
    assert any(words.split(":")[-1].strip()[:10] in t["message"] for t in row["tests"])  # the words were quoted
    classes = [b["bug_class"] for b in server.analytics(prof, fx.ASSIGNMENT)["bug_classes"]]
    assert not any(c.removeprefix("probable: ")[:8] in words for c in classes if c != "not named"), classes
