"""A double click on Submit is one submission, and a page's first reading waits for the page to load, off the loop.

Principles: the page refuses a second send while the first is being checked (the server would also answer the
same bytes with the first's id); in a served session the database is read after the page loaded, in a thread.
"""

from __future__ import annotations

import asyncio

import panel as pn

from simulator.app.pages.course import context, view
from tests.app.pages.course.test_hostile_pages import course_pages  # noqa: F401 - fixture
from tests.autograder.fixtures import course as fx
from tests.autograder.server.conftest import notebook_bytes

A = fx.ASSIGNMENT


def test_two_clicks_while_the_first_is_checked_store_one_submission(course_pages, monkeypatch):  # noqa: F811
    """Do two Submit clicks in a row (the second before the first's check ends) store one row and say so?"""
    server, people, who = course_pages
    monkeypatch.setattr(pn.state, "add_periodic_callback", lambda *a, **k: None)
    who["user"] = people["ada"]
    page = view.CoursePage()
    page.pending = ("rnn_cell.ipynb", notebook_bytes(fx.solved_notebook()))
    page.assignment.value = A
    said = []
    real_say = page._say
    monkeypatch.setattr(page, "_say", lambda text, kind="info": said.append(text) or real_say(text, kind))

    async def two_clicks():
        await asyncio.gather(page._submit(), page._submit())

    asyncio.run(two_clicks())
    assert len(server.submissions_of(people["ada"])) == 1
    assert any("one click is enough" in s for s in said) and any("is queued" in s for s in said)


def test_the_same_file_again_says_it_is_counted_once(course_pages, monkeypatch):  # noqa: F811
    """Is a second send of the same file (a reload and a click) answered with the first's number, not a new one?"""
    server, people, who = course_pages
    monkeypatch.setattr(pn.state, "add_periodic_callback", lambda *a, **k: None)
    who["user"] = people["bo"]
    page = view.CoursePage()
    data = notebook_bytes(fx.solved_notebook())
    page.assignment.value = A
    for _ in range(2):
        page.pending = ("rnn_cell.ipynb", data)
        asyncio.run(page._submit())
    [row] = server.submissions_of(people["bo"])
    assert f"same as submission #{row['id']}" in page.message.object and "counted once" in page.message.object


def test_in_a_served_session_the_first_reading_waits_for_the_load(course_pages, monkeypatch):  # noqa: F811
    """In a session of the server, is nothing read while the page is built, and everything read at load?"""
    server, people, who = course_pages
    who["user"] = people["ada"]
    loads, reads = [], []
    monkeypatch.setattr(server, "submissions_of", lambda *a, **k: reads.append("submissions") or [])

    monkeypatch.setattr(context, "building_a_served_page", lambda: True)
    monkeypatch.setattr(pn.state, "onload", lambda callback: loads.append(callback))
    page = view.CoursePage()
    assert reads == [] and len(loads) == 1 and "Reading your submissions" in page.status.object
    monkeypatch.setattr(pn.state, "add_periodic_callback", lambda *a, **k: None)
    asyncio.run(loads[0]())
    assert reads == ["submissions"] and page.assignment.options == [A]


def test_the_dashboards_csv_is_built_off_the_event_loop(course_pages, monkeypatch):  # noqa: F811
    """Is grades.csv (a class's latest reports) read in the pages' thread pool, not by the caller (the loop)?"""
    import threading

    from simulator.app.pages.course import dashboard

    server, people, who = course_pages
    monkeypatch.setattr(pn.state, "add_periodic_callback", lambda *a, **k: None)
    who["user"] = people["prof"]
    board = dashboard.Dashboard(A)
    threads = []
    real = server.export_csv
    monkeypatch.setattr(server, "export_csv", lambda *a: threads.append(threading.current_thread()) or real(*a))
    text = asyncio.run(board._csv()).getvalue()
    assert text.startswith("student,submission") and threads and threads[0] is not threading.current_thread()
