"""Red team, what a student can learn: hidden-case inputs in feedback, host paths and modules in the sandbox."""

from __future__ import annotations

import json
import re

LEAK = re.compile(r"LEAK:-?\d")
LEAK_DATA = re.compile(r"LEAK\d|7777, \d")
LEAK_COUNT = re.compile(r"got 7\d{3} values")


def _recon(graded) -> list[str]:
    message = graded["leak_and_recon"].test("test_rnn_step_backward_inputs_visible")["message"]
    assert "RECON:" in message, message  # the payload ran and its text reached the feedback
    return json.loads(message.split("RECON:", 1)[1].split("]", 1)[0] + "]")


def test_the_leaking_payload_runs(graded):
    """Control for the next test: on a visible case the student's own message (with inputs) is shown."""
    assert LEAK.search(graded["leak_and_recon"].test("test_rnn_step_visible")["message"])


def test_hidden_case_inputs_never_reach_the_feedback(graded):
    """Was hole H3 (the student's exception text shown verbatim on hidden cases); closed in 32e742f."""
    message = graded["leak_and_recon"].test("test_rnn_step_hidden")["message"]
    assert not LEAK.search(message), message


def test_the_data_leaking_payload_runs(graded):
    """Control for the next test: on visible cases the quoted data carries the digits."""
    g = graded["leaking_data"]
    assert LEAK_DATA.search(g.test("test_rnn_step_visible")["message"])
    assert LEAK_DATA.search(g.test("test_rnn_step_backward_inputs_visible")["message"])


def test_hidden_case_inputs_never_reach_the_feedback_through_returned_data(graded):
    """Was hole H5 (a returned string and an empty array's shape quoted on hidden tests); closed by
    autograder/hidden_text.py (hidden messages composed from grader facts only)."""
    g = graded["leaking_data"]
    for test in ("test_rnn_step_hidden", "test_rnn_step_backward_inputs_hidden"):
        message = g.test(test)["message"]
        assert not LEAK_DATA.search(message), message


def test_the_key_and_count_leaking_payload_runs(graded):
    """Control for the next test: on visible cases the quoted key and count carry the digits."""
    g = graded["leaking_keys"]
    assert LEAK_COUNT.search(g.test("test_rnn_step_visible")["message"])
    assert LEAK_DATA.search(g.test("test_rnn_step_backward_params_visible")["message"])


def test_hidden_case_inputs_never_reach_the_feedback_through_keys_or_counts(graded):
    """Was hole H5 (dict keys and a tuple's length quoted on hidden tests); closed like the previous one."""
    g = graded["leaking_keys"]
    assert not LEAK_COUNT.search(g.test("test_rnn_step_hidden")["message"]), g.test("test_rnn_step_hidden")
    assert not LEAK_DATA.search(g.test("test_rnn_step_backward_params_hidden")["message"])


def test_the_sandbox_imports_only_the_standard_library_and_numpy(graded):
    assert [f for f in _recon(graded) if f.startswith("import:")] == []


def test_the_sandbox_shows_no_project_or_interpreter_path(graded):
    found = _recon(graded)
    assert [f for f in found if f.split(":", 1)[1] in ("/work/", "/root", "site-packages", "dist-packages",
                                                        ".venv", "pyenv", "/usr/lib/python3")] == [], found


def test_the_sandbox_shows_no_host_path_at_all(graded):
    """Was hole H4 (mountinfo named the runtime tree's host directory); closed: the sandbox has no /proc."""
    assert _recon(graded) == []
