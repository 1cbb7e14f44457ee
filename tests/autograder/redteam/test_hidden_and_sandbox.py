"""Red team, what a student can learn: hidden-case inputs in feedback, host paths and modules in the sandbox."""

from __future__ import annotations

import json
import re

import pytest

LEAK = re.compile(r"LEAK:-?\d")


def _recon(graded) -> list[str]:
    message = graded["leak_and_recon"].test("test_rnn_step_backward_inputs_visible")["message"]
    assert "RECON:" in message, message  # the payload ran and its text reached the feedback
    return json.loads(message.split("RECON:", 1)[1].split("]", 1)[0] + "]")


def test_the_leaking_payload_runs(graded):
    """Control for the next test: on a visible case the student's own message (with inputs) is shown."""
    assert LEAK.search(graded["leak_and_recon"].test("test_rnn_step_visible")["message"])


@pytest.mark.xfail(strict=True, reason="HOLE: class 10 (hidden means hidden): the student's own exception text "
                   "is shown verbatim on hidden cases, so a function that raises repr(x) prints a hidden case's "
                   "inputs into the feedback (fixed secret per course: the same cases for every student)")
def test_hidden_case_inputs_never_reach_the_feedback(graded):
    message = graded["leak_and_recon"].test("test_rnn_step_hidden")["message"]
    assert not LEAK.search(message), message


def test_the_sandbox_imports_only_the_standard_library_and_numpy(graded):
    assert [f for f in _recon(graded) if f.startswith("import:")] == []


def test_the_sandbox_shows_no_project_or_interpreter_path(graded):
    found = _recon(graded)
    assert [f for f in found if f.split(":", 1)[1] in ("/work/", "/root", "site-packages", "dist-packages",
                                                        ".venv", "pyenv", "/usr/lib/python3")] == [], found


@pytest.mark.xfail(strict=True, reason="HOLE (minor): class 4 (no host path): /proc/self/mountinfo in the sandbox "
                   "names the host directory of the runtime tree (/var/tmp/autograder-runtime-<uid>/<hash>)")
def test_the_sandbox_shows_no_host_path_at_all(graded):
    assert _recon(graded) == []
