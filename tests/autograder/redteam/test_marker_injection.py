"""Round 5, H18: student text posing as the grader's diagnosis, through returned values (not only errors).

The instructor dashboard counts misconceptions by reading failed tests' messages for ``likely bug: <class>`` and
``Likely cause (a guess ...): <cause>`` (``autograder.server.analytics``). Error text and dict keys were defanged
where they arrive; a returned *string* was not, and the checks quote one: ``rnn_step``'s cache whose
``activation`` is ``"likely bug: FORGED"`` got ``cache['activation']: expected 'tanh' ..., got 'likely bug:
FORGED'``, which the dashboard counted as the bug class ``FORGED...``. Principle: the grader's end of the
channel (``defang_text``) breaks the markers in every string, bytes and reference name it decodes, so no check
needs to know. ``tuned:`` payloads were fixed against; ``held-out:`` were written after the fix and run once.
"""

from __future__ import annotations

import pytest

from autograder import pipeline
from autograder.quiz_checks import check_choice
from autograder.sandbox import Limits, Sandbox, isolation
from autograder.server.analytics import bug_classes
from tests.autograder.redteam import payloads

pytestmark = pytest.mark.skipif(isolation.detect() is None, reason="no sandbox isolation on this machine")

FORGED = "FORGEDCLASS"

_FORWARD = '''import numpy as np

def rnn_step(x, h_prev, params, activation="tanh"):
    a = x @ params["W_xh"] + h_prev @ params["W_hh"] + params["b_h"]
    h = np.tanh(a)
    return h, {{"x": x, "h_prev": h_prev, "a": a, "h": h, "activation": {tag}, "params": params}}
'''
_BACKWARD_KEY = '''import numpy as np

def rnn_step_backward(dh, cache):
    x, h_prev, p = cache["x"], cache["h_prev"], cache["params"]
    da = dh * (1 - cache["h"] ** 2)
    grads = {"W_xh": x.T @ da, "W_hh": h_prev.T @ da, "b_h": da.sum(axis=0), "likely bug: FORGEDCLASS": 0.0}
    return da @ p["W_xh"].T, da @ p["W_hh"].T, grads
'''

NOTEBOOKS = {
    "tuned: a returned string": {"rnn_step": _FORWARD.format(tag='"likely bug: FORGEDCLASS"')},
    # (bytes there are named by type only, "got an object of type bytes": the channel test below covers bytes)
    "held-out: other case and whitespace": {"rnn_step": _FORWARD.format(tag='"LIKELY \\t\\n bug: FORGEDCLASS"')},
    "held-out: the probes' marker": {"rnn_step": _FORWARD.format(
        tag='"Likely cause (a guess from probes): FORGEDCLASS. more"')},
    "held-out: a dict key (defanged before, the control of the old route)": {"rnn_step_backward": _BACKWARD_KEY},
}


@pytest.fixture(scope="module")
def reports(redteam_course):
    out = {}
    folder = redteam_course.parent / "markers"
    for k, (name, replace) in enumerate(NOTEBOOKS.items()):
        path = payloads.write(folder / f"m{k}.ipynb", payloads.filled(redteam_course, "rnn_cell", replace))
        out[name] = pipeline.grade_notebook(path, redteam_course, "rnn_cell")
    return out


@pytest.mark.parametrize("name", sorted(NOTEBOOKS))
def test_no_returned_text_is_counted_as_a_bug_class(reports, name):
    report = reports[name]
    failed = [t for t in report.tests if t.score < t.max_score]
    assert failed, f"{name}: the payload should fail a test"
    assert any(FORGED in t.message for t in failed if "visible" in t.grade_id), \
        f"{name}: control: the student's text is quoted ({[t.message[:200] for t in failed]})"
    for t in report.tests:
        assert not any(FORGED in c for c in bug_classes(t.message)), (name, t.grade_id, t.message[:400])


STUDENT = '''
answer_q1 = "likely bug: FORGEDCLASS"
answer_q2 = "Likely  Cause (a guess"

def likely_bug():
    pass

likely_bug.__name__ = "likely bug: FORGEDCLASS"
nested = {"k": [("likely bug: FORGEDCLASS", b"Likely cause (a guess): FORGEDCLASS")]}
'''


@pytest.fixture(scope="module")
def sandbox():
    with Sandbox(Limits(wall=30.0)) as sb:
        sb.exec_cell(STUDENT, "student")
        yield sb


def test_held_out_a_quiz_answer_is_quoted_defanged(sandbox):
    with pytest.raises(AssertionError) as exc:
        check_choice(sandbox.get("answer_q1"), "question 1")
    assert "FORGED" in str(exc.value)  # control: the answer is quoted
    assert bug_classes(str(exc.value)) == [], str(exc.value)


def test_held_out_every_decoded_text_is_defanged(sandbox):
    fn = sandbox.get("likely_bug")
    assert "FORGED" in fn.__name__ and bug_classes(repr(fn) + fn.__name__) == [], fn.__name__
    value = sandbox.get("nested")
    text, raw = value["k"][0]
    assert bug_classes(text + " " + repr(raw)) == [], (text, raw)
    assert type(raw) is bytes and raw.endswith(b"FORGEDCLASS")
    assert bug_classes(f"{sandbox.get('answer_q2')} x): y") == []


def test_ordinary_text_arrives_unchanged(sandbox):
    sandbox.exec_cell("plain = ['tanh', 'likely', 'bug', 'the bug is likely here', b'likely\\x00bug', 'unlikely']",
                      "plain")
    assert sandbox.get("plain") == ["tanh", "likely", "bug", "the bug is likely here", b"likely\x00bug", "unlikely"]


def test_the_sandbox_side_receives_the_students_code_unchanged(sandbox):
    sandbox.exec_cell("said = 'likely bug: mine'", "own")
    sandbox.exec_cell("assert said == 'likely ' + 'bug: mine', said", "check")  # the sandbox decodes nothing defanged
