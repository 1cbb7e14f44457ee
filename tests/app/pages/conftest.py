"""A course server (no grading) with a signed-in student, as the pages' compare sections see it."""

import pytest

from autograder.server import accounts
from autograder.server.service import CourseServer
from simulator.app.pages.course import context
from tests.autograder.server.conftest import released_course


@pytest.fixture
def signed_in_server(tmp_path, monkeypatch):
    """(server, user): the pages' context serves this course and ``ada`` is the signed-in student."""
    server = CourseServer(released_course(tmp_path / "course"), grade=False)
    user, _, _ = accounts.add_user(server.engine, "ada", "student")
    monkeypatch.setattr(context, "HANDLE", lambda: server)
    monkeypatch.setattr(context, "current_user", lambda: user)
    yield server, user
    server.close()
