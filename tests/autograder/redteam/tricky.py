"""A tricky ``rnn_step`` graded through the whole pipeline on the fixture course, and the contract it must meet.

Shared by the red-team rounds (``test_outside_review.py``, ``stop22/``, ``stop23/``): each payload replaces the
fixture course's ``rnn_step`` with a wrong answer plus a trick. Invariant 7: the points of ``rnn_step`` are what
its single returns compared with the reference earn (0 for a wrong answer, whatever the trick), the other answers
keep theirs, and grading finishes.
"""

from __future__ import annotations

from autograder.pipeline import grade_notebook
from autograder.sandbox import Limits
from tests.autograder.fixtures import course as fx

LIMITS = Limits(wall=5, notebook=120)
WRONG = "np.tanh(x @ params['W_xh'] + h_prev @ params['W_hh'])"  # the bias dropped
RIGHT = "np.tanh(x @ params['W_xh'] + h_prev @ params['W_hh'] + params['b_h'])"
OTHERS = {"test_q1": 1.0, "test_apply_twice": 1.0}  # the fixture's tests that do not call rnn_step


def graded(course, tmp_path, nb, limits: Limits = LIMITS) -> dict:
    """``grade_id -> TestResult`` of notebook ``nb`` graded in the sandbox against ``course``."""
    path = fx.write_notebook(tmp_path / f"{fx.ASSIGNMENT}.ipynb", nb)
    return {t.grade_id: t for t in grade_notebook(path, course, fx.ASSIGNMENT, limits).tests}


def graded_rnn_step(course, tmp_path, code: str) -> dict:
    """The fixture's solved notebook with ``rnn_step``'s cell replaced by ``import numpy as np`` + ``code``."""
    return graded(course, tmp_path, fx.with_code(fx.solved_notebook(), "rnn_step", "import numpy as np\n" + code))


def assert_earns_nothing_and_the_rest_is_graded(tests: dict) -> None:
    """rnn_step's tests score 0 and none says ok; the other answers keep their points."""
    assert {g: tests[g].score for g in fx.RNN_TESTS} == dict.fromkeys(fx.RNN_TESTS, 0.0), \
        {g: tests[g].message for g in fx.RNN_TESTS}
    assert {g: tests[g].score for g in OTHERS} == OTHERS, {g: tests[g].message for g in OTHERS}
    assert not any(tests[g].message.startswith("ok: rnn_step") for g in fx.RNN_TESTS)
