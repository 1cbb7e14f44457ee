"""Hidden means hidden: on a hidden test, no text the student chose reaches the feedback (DESIGN invariant 8).

A function can see a hidden case's inputs (they are its arguments); the only ways out are what the grader
writes. Exception messages, exception and class names and traceback function names are replaced as they
arrive from the sandbox while a hidden test runs; the visible test of the same code still quotes them.
What remains is the first bad entry a failing case reports (a number the student's return chose), said in
docs/autograder.md.
"""

import pytest

from autograder.pipeline import grade_notebook
from autograder.sandbox import isolation
from tests.autograder.fixtures import course as fx

pytestmark = pytest.mark.skipif(isolation.detect() is None, reason="no sandbox isolation on this machine")

LEAKS = {
    "message": 'def rnn_step(x, h_prev, params):\n    raise ValueError("LEAK" + repr(x.ravel().tolist()))\n',
    "exception_class": ('class LEAK_0_4770(Exception):\n    pass\n\n\n'
                        'def rnn_step(x, h_prev, params):\n    raise LEAK_0_4770()\n'),
    "returned_class": ('class LEAKObject:\n    pass\n\n\n'
                       'def rnn_step(x, h_prev, params):\n    return LEAKObject(), {}\n'),
    "key_error": 'def rnn_step(x, h_prev, params):\n    raise KeyError("LEAK" + str(float(x[0, 0])))\n',
    # held out: written after the mechanism
    "function_name": ('def LEAK_frame_0_477(x):\n    return 1 / 0\n\n\n'
                      'def rnn_step(x, h_prev, params):\n    return LEAK_frame_0_477(x)\n'),
    "own_assertion": 'def rnn_step(x, h_prev, params):\n    assert False, "LEAK " + repr(x)\n',
    "dynamic_str": ('class E(Exception):\n    def __str__(self):\n        return "LEAK" + repr(self.args)\n\n\n'
                    'def rnn_step(x, h_prev, params):\n    raise E(x.tolist())\n'),
    "from_generator": ('def rnn_step(x, h_prev, params):\n'
                       '    return next(iter(()) if False else (1 / 0 for _ in [0])) or ("LEAK", x)\n'),
}


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    return fx.write_course(tmp_path_factory.mktemp("hidden-text") / "course")


@pytest.mark.parametrize("name", sorted(LEAKS))
def test_no_student_text_on_a_hidden_test(course, tmp_path, name):
    nb = fx.with_code(fx.solved_notebook(), "rnn_step", "import numpy as np\n\n\n" + LEAKS[name])
    path = fx.write_notebook(tmp_path / f"{fx.ASSIGNMENT}.ipynb", nb)
    report = grade_notebook(path, course, fx.ASSIGNMENT)
    tests = {t.grade_id: t for t in report.tests}
    hidden = tests["test_rnn_step_hidden"]
    assert hidden.score == 0 and "LEAK" not in hidden.message and "LEAK" not in hidden.output
    assert tests["test_rnn_step_visible"].score == 0  # the same code fails its visible test too


def test_the_visible_test_still_quotes_the_student_s_exception(course, tmp_path):
    """Control: redaction is for hidden tests only; a visible failure keeps the student's own words."""
    nb = fx.with_code(fx.solved_notebook(), "rnn_step", "import numpy as np\n\n\n" + LEAKS["message"])
    report = grade_notebook(fx.write_notebook(tmp_path / f"{fx.ASSIGNMENT}.ipynb", nb), course, fx.ASSIGNMENT)
    visible = next(t for t in report.tests if t.grade_id == "test_rnn_step_visible")
    assert "LEAK" in visible.message and "ValueError" in visible.message
