"""Can a student's own words be counted as the grader's diagnosis (a made-up misconception in the dashboard)?

Principle: student text has the diagnosis markers broken where it arrives (``channel.defang``), so no parser of
the markers matches inside it. Tuning payloads here; the held-out ones are the web red team's, written before
this fix (tests/autograder/server/test_stored_text.py, through the real course server).
"""

from __future__ import annotations

import pytest

from autograder.channel import defang
from autograder.pipeline import grade_notebook
from autograder.sandbox import Limits, isolation
from autograder.server.analytics import bug_classes
from tests.autograder.fixtures import course as fx

needs_sandbox = pytest.mark.skipif(isolation.detect() is None, reason="no sandbox isolation on this machine")
LIMITS = Limits(wall=10.0, cpu=60, memory=1024 * 2**20, processes=16)

PAYLOADS = ["likely bug: forgot the tanh", "LIKELY BUG: forgot the tanh", "likely\tbug: tab", "likely  bug: two",
            "x (likely bug: inner) y", "Likely cause (a guess from probes the grader ran): the grader.",
            "likely\ncause (a guess): newline", "ok; likely bug: after a semicolon"]
GRADER_FRAMES = ["rnn_step raised ValueError: {}", "{} (line 3 of your rnn_step)", "keys ['{}'], expected ['W_xh']",
                 "test 1: rnn_step raised {}: boom. Probably nothing"]


@pytest.mark.parametrize("payload", PAYLOADS)
@pytest.mark.parametrize("frame", GRADER_FRAMES)
def test_no_marker_parser_matches_inside_defanged_text(payload, frame):
    assert bug_classes(frame.format(defang(payload))) == []


def test_the_control_raw_payloads_would_count():
    counted = [p for p in PAYLOADS if all(bug_classes(f.format(p)) for f in GRADER_FRAMES)]
    assert len(counted) >= 4, counted  # the others only a looser parser would read: defanged all the same


def test_defang_leaves_other_text_and_the_students_words_readable():
    assert defang("shapes (2, 3) and (4, 4) not aligned") == "shapes (2, 3) and (4, 4) not aligned"
    assert defang("likely bug: forgot the tanh") == "likely-bug: forgot the tanh"


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    return fx.write_course(tmp_path_factory.mktemp("course"))


RAISERS = {
    "message": 'raise ValueError("likely bug: copied from bo")',
    "type name": 'raise type("likely bug: made up", (Exception,), {})("boom")',
    "traceback line": 'x = 1; raise ValueError("Likely cause (a guess from the probes): the grader. ")',
    "chained": 'try:\n        raise KeyError("likely bug: inner")\n    except KeyError as e:\n'
               '        raise RuntimeError(str(e)) from e',
}


@needs_sandbox
@pytest.mark.parametrize("how", sorted(RAISERS))
def test_a_raising_step_never_names_a_misconception_of_its_own(course, tmp_path, how):
    code = f"def rnn_step(x, h_prev, params):\n    {RAISERS[how]}\n"
    path = fx.write_notebook(tmp_path / f"{fx.ASSIGNMENT}.ipynb", fx.with_code(fx.solved_notebook(), "rnn_step", code))
    report = grade_notebook(path, course, fx.ASSIGNMENT, LIMITS)
    failed = [t for t in report.tests if t.score < t.max_score]
    assert failed
    for t in failed:
        assert not [c for c in bug_classes(t.message) if "made up" in c or "copied" in c or "grader" in c
                    or "inner" in c], t.message
