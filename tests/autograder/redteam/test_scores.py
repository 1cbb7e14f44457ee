"""Red team, scores: no payload earns a point its function did not, and abuse never costs a right answer.

Each test names what the payload should get and checks the real ``grade --json`` of it (see ``payloads``).
A test marked ``xfail(strict=True)`` is a hole found on main: it fails today and will pass when closed.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.autograder.redteam import payloads

FORWARD = ("test_rnn_step_visible", "test_rnn_step_hidden")
BACKWARD = ("test_rnn_step_backward_inputs_visible", "test_rnn_step_backward_inputs_hidden",
            "test_rnn_step_backward_params_visible", "test_rnn_step_backward_params_hidden")


def test_a_forward_that_lies_on_repeated_calls_buys_no_backward_point(graded):
    g = graded["stateful_forward"]
    assert g.score(*FORWARD) == 3.0, g.report  # the forward is right on each new input
    assert g.score(*BACKWARD) == 0.0, [g.test(t)["message"][:200] for t in BACKWARD]


def test_an_exception_that_says_ok_earns_nothing(graded):
    g = graded["leak_and_recon"]
    assert g.report["score"] == 0.0
    for t in BACKWARD:
        assert not g.test(t)["message"].startswith("ok"), g.test(t)["message"][:200]


def test_notebook_metadata_cannot_change_points_tests_or_locked_cells(graded):
    g = graded["metadata_games"]
    report = g.report
    assert report["max_score"] == 9.0
    assert [t["grade_id"] for t in report["tests"]] == [*FORWARD, *BACKWARD]
    assert g.score(*FORWARD) == 0.0  # the bias is dropped; the fake setup cell and 'pass' tests do not help
    assert g.score(*BACKWARD) == 6.0
    assert any("restored from the source" in n for n in report["notes"]), report["notes"]


def test_the_training_run_point_needs_a_real_crnn(graded):
    """Was hole H1 (a pixel-velocity 'CRNN' failing its own tests earned test_training_run); closed in 74865a8."""
    g = graded["crnn_probe_cheat"]
    assert g.score("test_crnn_forward_visible", "test_crnn_forward_hidden") == 0.0  # the payload is no CRNN
    assert g.score("test_frame_features_visible", "test_frame_features_hidden") == 0.0
    assert g.test("test_training_run")["score"] == 0.0, g.test("test_training_run")["message"]


def _host_processes_with(mark: str) -> list[str]:
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if mark.encode() in cmdline and b"REDTEAM_DAEMON_MARK" in cmdline and b"_HOST_MARKS" not in cmdline:
            found.append(pid)
    return found


def test_daemons_fds_full_disks_and_floods_do_not_cost_a_right_notebook(graded):
    g = graded["sandbox_abuse"]
    report = g.report  # stdout is the grader's one JSON document, not the student's fake one
    assert report["score"] == report["max_score"] == 9.0, [t["message"][:200] for t in report["tests"]]
    assert set(report) >= {"score", "max_score", "tests"} and len(report["tests"]) == 6
    assert "<script>" not in g.stdout
    assert _host_processes_with(payloads.DAEMON_MARK) == []


@pytest.mark.parametrize("name, why", [("non_utf8", "utf-8"), ("deep_json", "not a valid notebook")])
def test_unreadable_notebooks_score_zero_with_the_reason(graded, name, why):
    g = graded[name]
    assert g.returncode == 0, g.stderr[-2000:]
    report = g.report
    assert report["score"] == 0.0 and report["max_score"] == 9.0
    assert all(why in t["message"] for t in report["tests"]), report["tests"][0]["message"]
    assert "Traceback" not in g.stdout + g.stderr


def test_odd_nbgrader_metadata_is_graded_by_the_source(graded):
    g = graded["odd_metadata"]
    report = g.report
    assert report["max_score"] == 9.0 and [t["grade_id"] for t in report["tests"]] == [*FORWARD, *BACKWARD]
    assert report["score"] == 9.0  # the student's own (right) code still counts where it ran
    assert any("missing" in n for n in report["notes"]), report["notes"]


def test_a_forged_header_or_a_flood_of_frames_costs_only_the_function_that_sent_it(graded):
    g = graded["channel_abuse"]
    assert g.returncode == 0, g.stderr[-2000:]
    assert g.score(*FORWARD) == 3.0 and g.score(*BACKWARD) == 0.0
    messages = [g.test(t)["message"] for t in BACKWARD]
    # A hidden test's message starts with its case's header and says the cause from a fixed set (hidden_text).
    assert all(m.startswith("the sandbox stopped") for m in messages if "hidden case" not in m), messages
    assert all("the sandbox stopped" in m for m in messages), messages
    assert "malformed" in messages[0], messages[0]
