"""Feedback links into the simulator and misconception labels read from the grader's messages."""

import pytest

from autograder.server.analytics import bug_classes
from simulator.app.pages.cell.case import CaseCellModel
from simulator.app.pages.course.feedback import simulator_link

VISIBLE = ("lstm_step, visible case 2 of 2 (B=1, D=2, H=3): Likely cause (a guess from probes the grader ran): "
           "f differs only when c_{t-1} != 0. Evidence: f differs at batch 0, unit 2 (expected 0.1, got 0.2)")


def test_a_visible_failure_opens_that_very_case_in_the_cell_page():
    url, label = simulator_link("test_lstm_step_visible", VISIBLE)
    assert url.startswith("/cell?") and "case=lstm%3A2%3A0" in url and "gate=f" in url and "unit=2" in url
    model = CaseCellModel(case="lstm:2:0")
    assert model.error == "" and (model.D, model.H, model.T) == (2, 3, 1)


def test_a_hidden_failure_never_reproduces_its_case():
    url, _ = simulator_link("test_lstm_step_hidden", VISIBLE.replace("visible", "hidden"))
    assert "case=" not in url and url.startswith("/cell?kind=lstm")


@pytest.mark.parametrize("grade_id, page", [
    ("test_gru_step_backward_params_visible", "/cell?kind=gru"), ("test_many_to_one_visible", "/architectures"),
    ("test_rnn_backward_hidden", "/bptt"), ("test_conv2d_forward_visible", "/crnn"), ("test_q1", None),
])
def test_each_function_links_to_the_page_that_draws_it(grade_id, page):
    link = simulator_link(grade_id, "")
    assert (link is None) if page is None else link[0].startswith(page)


@pytest.mark.parametrize("case", ["lstm:0:0", "lstm:3:0", "lstm:1:9", "tanh:1:0", "lstm:1", "<b>x</b>", "1" * 300])
def test_bad_case_values_are_refused_with_the_expected_form(case):
    model = CaseCellModel(case=case)
    assert model.error.startswith("case:") and model.runs  # the page still shows the presets' run


def test_misconceptions_are_the_named_bug_else_the_probe_guess():
    assert bug_classes("... (likely bug: bias dropped), also on the probe case") == ["bias dropped"]
    assert bug_classes(VISIBLE) == ["probable: f differs only when c_{t-1} != 0"]
    assert bug_classes("h differs at batch 0") == []


@pytest.mark.parametrize("assignment, sid, expect", [
    ("rnn_cell", 7, "/cell?kind=rnn&mine=7"), ("gru_cell", 12, "/cell?kind=gru&mine=12"),
    ("lstm_cell", 1, "/cell?kind=lstm&mine=1"), ("bptt", 3, None), ("architectures", 3, None),
    ("x_cell", 3, None), ("rnn_cell&mine=1", 3, None), ("rnn_cell", "3&kind=gru", None), ("", 3, None),
])
def test_a_cell_assignments_feedback_links_to_its_own_code_beside_the_reference(assignment, sid, expect):
    """Only the three cell assignments the Cell page compares, and only a submission id, make the link."""
    from simulator.app.pages.course.feedback import mine_link

    link = mine_link(assignment, sid)
    assert (link[0] if link else None) == expect
    if link:
        assert "beside the reference" in link[1]
