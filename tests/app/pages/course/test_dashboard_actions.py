"""The dashboard's buttons as a new instructor meets them: before any release, and after a release is withdrawn
while the page is open, every button says in the page what was wrong and what to do, never a traceback."""

from __future__ import annotations

import asyncio
import shutil

import panel as pn
import pytest

from autograder.server import accounts
from autograder.server.service import CourseServer
from simulator.app.pages.course import context, dashboard
from tests.autograder.fixtures import course as fx
from tests.autograder.server.conftest import released_course

A = fx.ASSIGNMENT

pn.extension()


@pytest.fixture
def prof(tmp_path, monkeypatch):
    server = CourseServer(released_course(tmp_path / "course"), grade=False)
    user = accounts.add_user(server.engine, "prof", "instructor")[0]
    monkeypatch.setattr(context, "HANDLE", lambda: server)
    monkeypatch.setattr(context, "current_user", lambda: user)
    monkeypatch.setattr(pn.state, "add_periodic_callback", lambda *a, **k: None)  # no server: no poll
    yield server
    server.close()


def _buttons(board: dashboard.Dashboard) -> dict[str, object]:
    found = {}
    for row in board.layout.objects:
        for w in getattr(row, "objects", []):
            if isinstance(w, pn.widgets.Button | pn.widgets.FileDownload):
                found[w.label if isinstance(w, pn.widgets.FileDownload) else w.name] = w
    return found


def test_before_any_release_the_buttons_are_off_and_a_click_says_how_to_release(prof):
    shutil.rmtree(prof.course / "release")
    board = dashboard.Dashboard(None)
    buttons = _buttons(board)
    assert {"Regrade all", "Export to nbgrader's gradebook", "Download grades.csv", "Save settings"} <= set(buttons)
    assert all(b.disabled for b in buttons.values()), {k: b.disabled for k, b in buttons.items()}
    assert "nbgrader generate_assignment" in board.summary.object
    for action in (board._regrade, board._export, board._save):  # a click that reaches the server anyway
        board.message.visible = False
        asyncio.run(action())
        assert board.message.visible and "generate_assignment" in board.message.object, board.message.object
    assert "no assignment" in asyncio.run(board._csv()).getvalue()


def test_a_release_withdrawn_under_the_open_page_is_said_not_raised(prof):
    board = dashboard.Dashboard(A)
    assert A in board.summary.object and not any(b.disabled for b in _buttons(board).values())
    shutil.rmtree(prof.course / "release")  # the instructor removed it in another window; nothing was submitted
    board.refresh()  # the poll's next reading
    assert "no assignment" in board.summary.object and "Reload" in board.summary.object, board.summary.object
    asyncio.run(board._regrade())
    assert board.message.alert_type == "danger" and "Regrade failed" in board.message.object
    assert "released: none yet" in board.message.object
    text = asyncio.run(board._csv()).getvalue()
    assert "could not be built" in text and "could not be built" in board.message.object


def test_regrade_counts_in_words(prof):
    """Zero graded submissions is said as such, not "0 submissions queued"."""
    board = dashboard.Dashboard(A)
    asyncio.run(board._regrade())
    assert board.message.visible and "No graded submission" in board.message.object, board.message.object


def test_pass_rates_read_top_down_in_notebook_order_and_not_named_is_explained():
    tests = [{"grade_id": g} for g in ("test_b_visible", "test_a_hidden", "test_a_visible", "test_gone")]
    order = ["test_a_visible", "test_a_hidden", "test_b_visible"]
    assert [t["grade_id"] for t in dashboard.in_notebook_order(tests, order)] == [*order, "test_gone"]
    assert '"not named": failing tests' in dashboard.bug_table([{"bug_class": "not named", "count": 1,
                                                                      "students": ["ada"]}])


def test_the_rate_plot_lists_the_first_test_at_the_top(prof):
    board = dashboard.Dashboard(A)
    order = dashboard.test_order(prof.course, A)
    assert len(order) >= 2
    numbers = prof.analytics(prof.user("prof"), A) | {"test_order": order}
    numbers["tests"] = [{"grade_id": g, "passed": 1, "students": 1, "pass_rate": 1.0} for g in sorted(order)]
    board._render(A, numbers)
    assert board.rates.y_range.factors[::-1] == order  # the top (the last factor) is the notebook's first test
