"""The course pages for someone new: signed out, every course page has a visible title, says what it is for and
offers one clear way to sign in; signed in with nothing to submit to, the course page says why and what to do
instead of showing an empty form."""

from __future__ import annotations

import re
import shutil
from urllib.parse import parse_qs, urlsplit

import panel as pn
import pytest

from autograder.server import accounts, submissions
from autograder.server.service import CourseServer
from simulator.app.pages.course import context, dashboard, feedback, view
from tests.autograder.fixtures import course as fx
from tests.autograder.server.conftest import released_course

A = fx.ASSIGNMENT

pn.extension()


@pytest.fixture
def pages(tmp_path, monkeypatch):
    server = CourseServer(released_course(tmp_path / "course"), grade=False)
    who = {}
    monkeypatch.setattr(context, "HANDLE", lambda: server)
    monkeypatch.setattr(context, "current_user", lambda: who.get("user"))
    people = {n: accounts.add_user(server.engine, n, r)[0] for n, r in (("ada", "student"), ("prof", "instructor"))}
    yield server, people, who
    server.close()


def _text(layout) -> str:
    """Every text object of a page's top-level panes (Markdown, HTML, Alert), as the page holds it."""
    return "\n".join(str(getattr(o, "object", "")) for o in layout.objects if getattr(o, "visible", True))


def _visible(layout) -> list:
    return [o for o in layout.objects if getattr(o, "visible", True)]


SIGNED_OUT = [("course", lambda: view.CoursePage().layout, "Course", "/course"),
              ("feedback", lambda: feedback.FeedbackPage("7").layout, "Feedback", "/course/feedback?id=7"),
              ("dashboard", lambda: dashboard.Dashboard(A).layout, "Dashboard", "/course/dashboard")]


@pytest.mark.parametrize("name, build, title, comes_back_to", SIGNED_OUT, ids=[s[0] for s in SIGNED_OUT])
def test_a_signed_out_page_has_a_visible_title_and_one_sign_in_button(pages, name, build, title, comes_back_to):
    """Is the title a real heading (not the hidden one a11y.py adds), and does the button come back here?"""
    text = _text(build())
    assert re.search(rf"<h2>{title}</h2>", text), text
    buttons = re.findall(r"<a class='rnn-cta' href='([^']*)'>([^<]*)</a>", text)
    assert len(buttons) == 1 and buttons[0][1] == "Sign in", buttons
    target = parse_qs(urlsplit(buttons[0][0].replace("&amp;", "&")).query)["next"]
    assert target == [comes_back_to]
    assert "set-up link" in text and "need no account" in text  # what to do without a password, and without one


def test_signed_out_pages_say_what_each_is_for(pages):
    """Three pages, three purposes: the sentence under the title is the page's own."""
    purposes = [re.search(r"</h2><p>([^<]*)</p>", _text(build())).group(1) for _, build, _, _ in SIGNED_OUT]
    assert len(set(purposes)) == 3 and all(len(p) > 30 for p in purposes), purposes
    assert "instructor" in _text(dashboard.Dashboard(A).layout)


def test_the_sign_in_button_is_a_large_target_with_a_visible_focus():
    css = view.SIGN_IN_CSS
    assert re.search(r"\.rnn-cta\{[^}]*min-height:44px", css) and re.search(r"\.rnn-cta:focus-visible\{[^}]*outline:",
                                                                               css)


def _unreleased(server) -> None:
    shutil.rmtree(server.course / "release")


@pytest.mark.parametrize("role, expect", [("ada", "When your instructor releases one"),
                                          ("prof", "nbgrader generate_assignment NAME")])
def test_with_nothing_released_the_course_page_says_what_to_expect_not_an_empty_form(pages, role, expect):
    server, people, who = pages
    _unreleased(server)
    who["user"] = people[role]
    page = view.CoursePage()
    assert page.none_open.visible and expect in page.none_open.object
    assert not page.form.visible and page.submit.disabled and page.assignment.options == []
    assert "No submissions yet" in page.status.object  # the list is still there, and says so


@pytest.mark.parametrize("role, expect", [("ada", "Ask your instructor"), ("prof", "Closed for submissions")])
def test_with_every_assignment_closed_the_page_names_them_and_says_what_to_do(pages, role, expect):
    server, people, who = pages
    submissions.configure(server.engine, A, closed=True)
    who["user"] = people[role]
    page = view.CoursePage()
    assert page.none_open.visible and f"**{A}** is closed" in page.none_open.object and expect in page.none_open.object
    assert not page.form.visible


def test_with_an_open_assignment_the_form_is_shown_and_nothing_else_is_said(pages):
    server, people, who = pages
    who["user"] = people["ada"]
    page = view.CoursePage()
    assert page.form.visible and not page.none_open.visible and page.assignment.options == [A]
    assert page.none_open in page.layout.objects and page.form in page.layout.objects


def test_reopening_brings_the_form_back_on_the_next_reading(pages):
    """The notice is not sticky: the page's reading decides, both ways."""
    server, people, who = pages
    submissions.configure(server.engine, A, closed=True)
    who["user"] = people["ada"]
    page = view.CoursePage()
    assert not page.form.visible
    submissions.configure(server.engine, A, closed=False)
    page.refresh()
    assert page.form.visible and not page.none_open.visible and page.assignment.options == [A]


@pytest.mark.parametrize("names, instructor", [(["<b>x</b>"], False), (["a&b", "<img src=x onerror=1>"], True)])
def test_assignment_names_in_the_notice_are_text(names, instructor):
    said = view.none_open_text(names, instructor)
    assert "<b>" not in said and "<img" not in said and "&lt;" in said
    assert ("are closed" if len(names) > 1 else "is closed") in said
