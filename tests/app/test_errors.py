"""MessageBox (by source, fixed order, escaped, hidden when empty) and the error pages (what, expected, home)."""

from __future__ import annotations

import logging

import pytest

from simulator.app import layout
from simulator.app.components.errors import SOURCES, MessageBox, error_page, failure_panel
from simulator.app.registry import title_of


def test_sources_show_in_fixed_order_then_extra():
    error = ["model broke"]
    box = MessageBox(extra=lambda: list(error))
    box.report("input", ["i"])
    box.report("training", ["t"])
    box.report("field", ["f"])
    box.report("url", ["u1", "u2"])
    assert SOURCES == ("url", "field", "training", "input")
    assert box.messages == ["u1", "u2", "f", "t", "i", "model broke"]
    assert box.pane.visible and box.pane.object == ('<div class="rnn-message-text">u1<br>u2<br>f<br>t<br>i<br>'
                                                    'model broke</div>')


def test_append_extends_and_plain_report_replaces():
    box = MessageBox()
    report_url = box.reporter("url", append=True)
    report_field = box.reporter("field")
    report_url(["URL a: bad"])
    report_url(["URL b: bad"])
    report_field(["H: got 0"])
    report_field(["seed: got -1"])
    assert box.messages == ["URL a: bad", "URL b: bad", "seed: got -1"]
    report_field([])
    assert box.messages == ["URL a: bad", "URL b: bad"] and box.reported("url") == ["URL a: bad", "URL b: bad"]


def test_refresh_reads_extra_again_and_empty_lines_are_dropped():
    error = [""]
    box = MessageBox(extra=lambda: list(error))
    box.refresh()
    assert box.messages == [] and not box.pane.visible and box.pane.object == ""
    error[0] = "loss: became nan"
    box.refresh()
    assert box.messages == ["loss: became nan"] and box.pane.visible
    error[0] = ""
    box.refresh()
    assert box.messages == [] and not box.pane.visible


def test_messages_are_escaped():
    box = MessageBox()
    box.report("url", ["URL kind: got '<script>alert(1)</script>'"])
    assert "<script>" not in box.pane.object and "&lt;script&gt;" in box.pane.object


def test_reported_is_a_copy():
    box = MessageBox()
    box.report("input", ["Sentence: is empty"])
    held = box.reported("input")
    held.append("not reported")
    assert box.reported("input") == ["Sentence: is empty"] and box.messages == ["Sentence: is empty"]


@pytest.mark.parametrize("call", [lambda b: b.report("urls", ["x"]), lambda b: b.reporter("train"),
                                  lambda b: b.reported("")])
def test_unknown_source_is_refused(call):
    box = MessageBox()
    with pytest.raises(ValueError, match="source: got .*; expected one of url, field, training, input"):
        call(box)
    assert box.messages == []


# --- error pages: what was wrong, what was expected, a link home ------------------------------------------------




def test_error_page_names_what_was_wrong_and_expected_escaped_with_a_link_home():
    """Does the page escape a hostile path and still say what was wrong, what was expected, and link home?"""
    body = error_page(404, "Page not found", "no page at /x<script>", "one of the pages listed below",
                      [("/cell", "Cell"), ('/"><svg onload=alert(1)>', "<i>x</i>")])
    assert '<html lang="en">' in body and "<title>Page not found (404) - RNN simulator</title>" in body
    assert "<script" not in body and "/x&lt;script&gt;" in body and "<svg" not in body and "<i>" not in body
    assert "What was wrong:" in body and "What was expected:" in body and 'href="/"' in body
    assert '<a href="/cell">Cell</a>' in body and body.count("<main>") == 1 and "<h1>" in body


def test_a_page_that_fails_to_build_shows_a_readable_page_and_logs_one_line(caplog):
    """Does a page whose create() raises become a framed error page (type only, no message) and one log line?"""
    def create():
        raise RuntimeError("secret path /srv/x")

    with caplog.at_level(logging.ERROR, logger="simulator.app"):
        frame = layout.page("cell", create)
    html = frame.objects[1].object
    assert "The Cell page could not be built" in html and "RuntimeError" in html and 'href="/"' in html
    assert "What was wrong:" in html and "What was expected:" in html and "/srv/x" not in html
    assert 'role="alert"' in html and "rnn-nav" in frame.objects[0].object
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 1 and "secret path /srv/x" in lines[0] and "test_errors.py" in lines[0]
    assert not any(r.exc_info for r in caplog.records)


@pytest.mark.parametrize("exc", [ValueError("bad"), KeyError("k"), ZeroDivisionError(), MemoryError(),
                                 RecursionError("deep"), AttributeError("<img src=x onerror=alert(1)>")])
def test_any_exception_class_becomes_the_same_readable_panel(exc):
    """Is every exception type (including ones a page never expects) shown the same way, escaped?"""
    def create():
        raise exc

    html = layout.page("bptt", create).objects[1].object
    assert "The BPTT lab page could not be built" in html and type(exc).__name__ in html and "<img" not in html


def test_failure_panel_without_a_traceback_still_answers():
    """Does an exception that was never raised (no traceback) still give a panel?"""
    assert "could not be built" in failure_panel("Home", OSError("x")).object


def test_page_passes_a_healthy_page_through_and_titles_follow_the_registry():
    """Does page() return the page itself when create() works, and do titles come from the registry?"""
    frame = layout.page("", lambda: "just text", title="Home")
    assert frame.objects[1] == "just text" or getattr(frame.objects[1], "object", None) == "just text"
    assert title_of("cell") == "Cell" and title_of("course/feedback") == "Course" and title_of("nope") == "Page"
    assert frame.objects[2].page_title == "Home - RNN simulator"


def test_no_link_leads_to_the_course_when_no_course_server_runs(monkeypatch):
    """Do the navigation bar and the home page link the course only when this process serves it?"""
    from simulator.app.pages import home
    from simulator.app.pages.course import context

    monkeypatch.setattr(context, "HANDLE", None)
    assert 'href="/course"' not in layout.nav_bar("cell").object and 'href="/course"' not in home.create().object
    assert "set-up link" not in home.create().object
    monkeypatch.setattr(context, "HANDLE", lambda: None)
    assert 'href="/course"' in layout.nav_bar("cell").object and 'href="/course"' in home.create().object
    assert "users add NAME --role instructor" in home.create().object
