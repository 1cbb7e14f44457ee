"""The course pages attacked: hostile ids in URLs, another student's work, stored HTML in names and messages.

Principles: one strict id parser (ASCII digits, 32-bit) whatever the page; another student's id reads like a
missing one; everything a user or their code wrote is escaped where it is shown (tests' messages, notes,
errors, bug-class labels, file names), so a page never carries markup it did not write itself.
"""

from __future__ import annotations

import html
import re
from html.parser import HTMLParser

import panel as pn
import pytest
import sqlalchemy as sa

from autograder.server import accounts, db
from autograder.server.service import CourseServer
from simulator.app.pages.course import context, dashboard, feedback
from tests.autograder.fixtures import course as fx
from tests.autograder.server.conftest import notebook_bytes, released_course

A = fx.ASSIGNMENT
# Markup a student can get into stored text: their own code's printed output and exception messages end up in test
# messages; file names and notebooks are theirs. Half of these were written after the escaping was checked.
PAYLOADS = ["<script>alert(1)</script>", "<img src=x onerror=alert(1)>", "\"'><svg onload=alert(1)>",
            "javascript:alert(1)", "</pre><iframe src=//evil>", "<a href='//evil'>click</a>",
            "&lt;b&gt;entity&lt;/b&gt;", "<style>*{display:none}</style>", "<!--", "]]><x>"]
ALLOWED_TAGS = {"div", "p", "strong", "table", "caption", "thead", "tbody", "tr", "th", "td", "pre", "br", "a", "ul",
                "li", "h3"}


class _Markup(HTMLParser):
    """Every tag, attribute and comment in a fragment, as a browser would parse it."""

    def __init__(self, text: str):
        super().__init__(convert_charrefs=True)
        self.tags, self.bad = [], []
        self.feed(text)
        self.close()

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        if tag not in ALLOWED_TAGS:
            self.bad.append(f"<{tag}>")
        for name, value in attrs:
            if name.startswith("on") or (name == "href" and not (value or "").startswith("/")) or \
                    (name == "href" and (value or "").startswith("//")):
                self.bad.append(f"{tag} {name}={value!r}")

    def handle_comment(self, data):
        self.bad.append("<!--")


def foreign_markup(text: str) -> list[str]:
    """Markup the page did not write itself (tags outside its own vocabulary, event handlers, foreign links)."""
    return _Markup(text).bad


@pytest.fixture
def course_pages(tmp_path, monkeypatch):
    server = CourseServer(released_course(tmp_path / "course"), grade=False)
    who = {}
    monkeypatch.setattr(context, "HANDLE", lambda: server)
    monkeypatch.setattr(context, "current_user", lambda: who.get("user"))
    people = {n: accounts.add_user(server.engine, n, r)[0] for n, r in
              (("ada", "student"), ("bo", "student"), ("prof", "instructor"))}
    yield server, people, who
    server.close()


def _graded(server, user, report: dict, error: str | None = None, filename: str = "rnn_cell.ipynb") -> int:
    sid = server.submit(user, A, filename, notebook_bytes(fx.solved_notebook()))
    with server.engine.begin() as conn:
        conn.execute(db.submissions.update().where(db.submissions.c.id == sid).values(status="graded"))
        conn.execute(db.results.insert().values(submission_id=sid, score=report["score"],
                                                max_score=report["max_score"], report=report, error=error,
                                                graded_by="test", recorded=db.now()))
    return sid


def _hostile_report(payload: str) -> dict:
    return {"score": 1.0, "max_score": 5.0, "notes": [f"cell {payload} was restored"],
            "tests": [{"grade_id": "test_rnn_step", "score": 0.0, "max_score": 4.0,
                       "message": f"h differs at unit 1 (likely bug: {payload}); your code printed {payload}"},
                      {"grade_id": "test_lstm_step", "score": 0.0, "max_score": 1.0,
                       "message": f"Check the {payload} term"}]}


@pytest.mark.parametrize("payload", PAYLOADS)
def test_stored_markup_is_shown_as_text_on_the_feedback_page_and_dashboard(course_pages, payload):
    server, people, who = course_pages
    sid = _graded(server, people["ada"], _hostile_report(payload), error=f"grading failed: {payload}",
                  filename=f"{payload}.ipynb")
    who["user"] = people["ada"]
    page = feedback.FeedbackPage(str(sid))
    shown = page.body.object
    assert "Score" in shown and not foreign_markup(shown), shown
    assert payload in html.unescape(re.sub(r"<[^>]+>", "", shown))  # shown, as text
    who["user"] = people["prof"]
    board = dashboard.Dashboard(A)
    assert board.bugs.object.count("<tr>") >= 2 and not foreign_markup(board.bugs.object), board.bugs.object
    assert "&lt;" in board.bugs.object or "&quot;" in board.bugs.object or "&#x27;" in board.bugs.object or \
        "<" not in payload


def test_the_feedback_links_are_built_not_copied(course_pages):
    """A message cannot choose where a feedback link points: only the page, cell, vector and unit it names."""
    server, people, who = course_pages
    report = {"score": 0.0, "max_score": 1.0, "notes": [], "tests": [
        {"grade_id": "test_rnn_step", "score": 0.0, "max_score": 1.0,
         "message": "h differs; unit 3\"><a href=//evil>; see /cell?kind=lstm&next=//evil"}]}
    sid = _graded(server, people["ada"], report)
    who["user"] = people["ada"]
    links = re.findall(r"href='([^']*)'", feedback.FeedbackPage(str(sid)).body.object)
    shape = rf"/cell\?kind=rnn((&amp;gate=[a-z])?(&amp;unit=\d{{1,2}})?|&amp;mine={sid})"  # a test's view, or your code
    assert links and all(re.fullmatch(shape, u) for u in links), links


@pytest.mark.parametrize("sid", ["²", "٣", "１", "-1", "0", "1 ", " 1", "+1", "0x1", "1e3", "99999999999", "2147483648",
                                 "1;DROP TABLE users", "../1", "%31", "", "1\x00"])
def test_hostile_ids_on_the_feedback_page_read_like_a_missing_one(course_pages, sid):
    server, people, who = course_pages
    who["user"] = people["ada"]
    page = feedback.FeedbackPage(sid)
    assert page.body.object.startswith("<p>No submission ") and "of yours" in page.body.object
    with server.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(db.users)).scalar_one() == 3


def test_another_students_feedback_reads_like_a_missing_one(course_pages):
    server, people, who = course_pages
    sid = _graded(server, people["ada"], _hostile_report("x"))
    who["user"] = people["bo"]
    theirs = feedback.FeedbackPage(str(sid)).body.object
    missing = feedback.FeedbackPage(str(sid + 1000)).body.object
    assert theirs.replace(str(sid), "N") == missing.replace(str(sid + 1000), "N")
    assert "ada" not in theirs and "Score" not in theirs
    who["user"] = people["prof"]
    assert "Score" in feedback.FeedbackPage(str(sid)).body.object


def test_a_student_on_the_dashboard_sees_no_numbers(course_pages):
    server, people, who = course_pages
    _graded(server, people["ada"], _hostile_report("x"))
    who["user"] = people["bo"]
    board = dashboard.Dashboard(A)
    text = " ".join(str(getattr(o, "object", "")) for o in board.layout.objects)
    assert "for instructors" in text and "ada" not in text and not hasattr(board, "bugs")


def test_the_sign_in_prompt_keeps_the_id_inside_its_own_parameter(course_pages):
    server, people, who = course_pages
    who.pop("user", None)
    page = feedback.FeedbackPage("1&next=//evil.example")
    html_text = page.layout.objects[0].object
    link = re.search(r"href='([^']*)'", html_text).group(1)
    from urllib.parse import parse_qs, urlsplit

    target = parse_qs(urlsplit(link.replace("&amp;", "&")).query)["next"]
    assert len(target) == 1 and parse_qs(urlsplit(target[0]).query) == {"id": ["1&next=//evil.example"]}


def test_grades_csv_never_starts_a_cell_with_a_formula(course_pages):
    """Defence in depth: whatever filled the accounts table, a name is text in a spreadsheet."""
    server, people, who = course_pages
    for k, name in enumerate(["=HYPERLINK(\"http://evil\")", "+1+1", "-2+3", "@SUM(A1)", "\tx", "|cmd"]):
        with server.engine.begin() as conn:  # past accounts.NAME, as a migration or another tool could
            uid = conn.execute(db.users.insert().values(name=name, role="student", created=db.now())
                               ).inserted_primary_key[0]
        _graded(server, accounts.User(uid, name, "student"), {"score": float(k), "max_score": 9.0, "tests": [],
                                                              "notes": []})
    text = server.export_csv(people["prof"], A)
    import csv
    import io

    rows = list(csv.reader(io.StringIO(text)))[1:]
    assert len(rows) == 6 and all(row[0][:1] not in "=+-@\t|" for row in rows), rows


pn.extension()


def test_the_pages_read_and_submit_off_the_event_loop(course_pages, monkeypatch):
    """Principle: a page callback awaits database work and notebook parsing in a thread; the loop serves everyone.

    The caller's thread stands for the event loop; every service call the polls and buttons make must run
    elsewhere.
    """
    import asyncio
    import threading

    from simulator.app.pages.course import view

    server, people, who = course_pages
    seen: list[tuple[str, threading.Thread]] = []
    for name in ("submit", "submissions_of", "submission", "analytics", "regrade", "configure"):
        real = getattr(server, name)
        monkeypatch.setattr(server, name, lambda *a, _real=real, _name=name, **k: seen.append(
            (_name, threading.current_thread())) or _real(*a, **k))
    monkeypatch.setattr(pn.state, "add_periodic_callback", lambda *a, **k: None)
    who["user"] = people["ada"]
    page = view.CoursePage()
    page.pending = ("rnn_cell.ipynb", notebook_bytes(fx.solved_notebook()))
    page.assignment.value = A
    loop_thread = threading.current_thread()
    seen.clear()
    asyncio.run(page._submit())
    assert "is queued" in page.message.object
    assert {n for n, _ in seen} == {"submit", "submissions_of"} and all(t is not loop_thread for _, t in seen)
    sid = server.submissions_of(people["ada"])[0]["id"]
    who["user"] = people["prof"]
    fb, board = feedback.FeedbackPage(str(sid)), dashboard.Dashboard(A)
    seen.clear()
    asyncio.run(fb._tick())
    asyncio.run(board._tick())
    asyncio.run(board._regrade())
    asyncio.run(board._save())
    assert {n for n, _ in seen} == {"submission", "analytics", "regrade", "configure"}
    assert seen and all(t is not loop_thread for _, t in seen), [(n, t.name) for n, t in seen]
