"""The Cell page's compare section: your code on the page's inputs, beside the reference, first divergence named."""

import numpy as np
import pytest

from autograder.sandbox import isolation
from autograder.server import accounts
from autograder.server.service import CourseServer
from simulator.app.pages.cell.mine import MineSection
from simulator.app.pages.cell.model import CellModel
from simulator.app.pages.course import context
from tests.autograder.server.conftest import released_course

pytestmark = pytest.mark.skipif(isolation.detect() is None, reason="no sandbox isolation on this machine")

LSTM = '''import numpy as np

def lstm_step(x, h_prev, c_prev, params):
    H = h_prev.shape[1]
    z = x @ params["W_x"] + h_prev @ params["W_h"] + params["b"]
    i, f, g, o = (z[:, k * H:(k + 1) * H] for k in range(4))
    i, f, g, o = 1 / (1 + np.exp(-i)), 1 / (1 + np.exp(-f)), np.tanh(g), 1 / (1 + np.exp(-o))
    c = f * c_prev + i * g
    h = o * np.tanh(c)
    return h, c, {"i": i, "f": f, "g": g, "o": o, "c": c, "h": h}
'''


@pytest.fixture
def section_for(signed_in_server):

    def make(code: str, **settings):
        model = CellModel(kind="lstm", T=8, H=4, D=3, **settings)
        section = MineSection(model)
        section.paste.value = code
        section.run()
        section.future.result(60)
        section._check()
        return model, section

    yield make


def test_a_correct_implementation_shows_no_difference(section_for):
    model, section = section_for(LSTM)
    assert "matches the reference at every one of the 8 steps" in section.status.object
    diff = section.maps["diff"].source.data["image"][0]
    assert diff.shape == (4, 8) and np.abs(diff).max() < 1e-12


@pytest.mark.parametrize("edit, vectors", [(("i, f, g, o = (z", "f, i, g, o = (z"), {"i", "f"}),
                                           (("h = o * np.tanh(c)", "h = o * c"), {"h"})])
def test_a_known_bug_is_lit_at_its_step_and_vector(section_for, edit, vectors):
    model, section = section_for(LSTM.replace(*edit), weights="default")
    assert "first leaves the reference at step t = 0" in section.status.object
    assert model.t == 0 and model.gate in vectors
    assert "yours:" in section.equation.object and "textcolor" in section.equation.object
    assert "Numbers as text" in section.text_view.object
    assert "The grader&#x27;s visible check says" in section.text_view.object or \
        "The grader's visible check says" in section.text_view.object
    assert "ikely" in section.text_view.object  # the check's likely bug or likely cause, as in the feedback


@pytest.mark.parametrize("code, words", [
    ("def lstm_step(x, h, c, p):\n    while True:\n        pass\n", "stopped"),
    ("def lstm_step(x, h, c, p):\n    return [1, 2], c, {}\n", "step t=0"),
    ("print('<script>alert(1)</script>' * 1000)\n", "defines no function lstm_step"),
])
def test_hostile_code_gets_a_message_and_the_reference_stays(section_for, code, words):
    model, section = section_for(code)
    assert words in section.status.object and "<script>" not in section.status.object
    assert model.run.T == 8  # the reference view is untouched


@pytest.mark.parametrize("case", ["rnn:1:0", "lstm:2:0", "gru:1:1"])
def test_a_visible_grading_case_can_be_compared_too(tmp_path, monkeypatch, case):
    """From a feedback link (case=...): the one-step run from the case's own state compares like any other."""
    from simulator.app.pages.cell.case import CaseCellModel

    server = CourseServer(released_course(tmp_path / "course"), grade=False)
    user, _, _ = accounts.add_user(server.engine, "ada", "student")
    monkeypatch.setattr(context, "HANDLE", lambda: server)
    monkeypatch.setattr(context, "current_user", lambda: user)
    try:
        section = MineSection(CaseCellModel(case=case))
        section.paste.value = "def rnn_step(x, h, p):\n    return h, {}\n"
        section.run()
        assert section.future is not None, section.status.object
        section.future.result(60)
        section._check()
        assert "defines no function" in section.status.object or "leaves the reference" in section.status.object
    finally:
        server.close()
