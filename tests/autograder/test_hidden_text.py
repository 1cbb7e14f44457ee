"""Hidden means hidden: on a hidden test, no text the student chose reaches the feedback (DESIGN invariant 8).

A function can see a hidden case's inputs (they are its arguments); the only ways out are what the grader
writes. Exception messages, exception and class names and traceback function names are replaced as they
arrive from the sandbox while a hidden test runs; the visible test of the same code still quotes them.
What remains is the first bad entry a failing case reports (a number the student's return chose), said in
docs/autograder.md.
"""

import numpy as np
import pytest

from autograder import hidden_text, values
from autograder.compare import SEQUENCE, STATE, Layout, describe_mismatch
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


# ----------------------------------------------------------------------------- the composer alone
def _failure(raw: str, header: str = "rnn_step, hidden case 1 of 5 (B=1, D=2, H=3)", see: tuple[str, ...] = ()):
    facts = hidden_text.Facts(headers=[header])
    for text in see:
        facts.see(text)
    return hidden_text.compose_failure(values.CheckError(raw), raw, facts, "", "<test cell t>")


@pytest.mark.parametrize("layout", [STATE, Layout(("batch", "unit"), blocks=("i", "f", "g", "o")), SEQUENCE])
def test_the_first_bad_entry_keeps_its_index_and_expected_value_and_drops_got(layout):
    shape = (2, 3, 8) if layout is SEQUENCE else (2, 8)
    expected, got = np.full(shape, 0.25), np.full(shape, 0.25)
    got[(1, 2, 5) if layout is SEQUENCE else (1, 5)] = 7777.5
    raw = f"rnn_step, hidden case 1 of 5 (B=1, D=2, H=3): {describe_mismatch('h', expected, got, layout)} Tolerance."
    message = _failure(raw)
    assert "first bad entry at" in message and "expected 0.25" in message, message
    assert "7777" not in message and "entries differ" not in message


def test_a_string_from_the_sandbox_that_could_forge_the_sentence_shows_no_entry():
    raw = "rnn_step, hidden case 1 of 5 (B=1, D=2, H=3): h differs at unit 0 (expected 0.4770, got 1)"
    assert "0.477" in _failure(raw) and "0.477" not in _failure(raw, see=("h DIFFERS at unit 0 (expected 0.4770",))


@pytest.mark.parametrize("raw", [
    "rnn_step, hidden case 1 of 5 (B=1, D=2, H=3): LEAK81101287 differs at unit 0 (expected 1, got 2)",
    "rnn_step, hidden case 1 of 5 (B=1, D=2, H=3): h differs at unit 81101287 (expected 1, got 2)",
    "rnn_step, hidden case 1 of 5 (B=1, D=2, H=3): rnn_step raised LEAK81101287Error: whatever",
    "your code raised ValueError: LEAK 0.4770",
    "rnn_step, hidden case 1 of 5 (B=1, D=2, H=3): rnn_step: h: shape (0, 7777, 81101287), expected (1, 3)",
])
def test_nothing_outside_the_recorded_facts_and_the_vocabulary_is_quoted(raw):
    message = _failure(raw)
    assert "LEAK" not in message and "81101287" not in message and "7777" not in message, message
    assert "0.477" not in message


def test_a_passing_hidden_test_keeps_only_ok_lines_made_of_grader_words_and_numbers():
    facts = hidden_text.Facts(headers=["rnn_step, hidden case 5 of 5 (B=1, D=2, H=3)"],
                              oks=["rnn_step matches the reference on 5 hidden cases", "accuracy 0.8110128 on LEAK"])
    assert hidden_text.compose_pass(facts) == "ok: rnn_step matches the reference on 5 hidden cases"
