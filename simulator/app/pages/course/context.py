"""Which course server this process serves and who is asking: the one place the course pages get both."""

from __future__ import annotations

import panel as pn

from autograder.server.accounts import User
from autograder.server.service import CourseServer

HANDLE = None  # serve.py sets it: a callable giving this process's CourseServer (autograder.server.handle)


def server() -> CourseServer | None:
    return HANDLE() if HANDLE is not None else None


def current_user() -> User | None:
    """The signed-in user of this browser session, or None for a guest (or an account that was removed)."""
    name = pn.state.user
    srv = server()
    if not name or name == "guest" or srv is None:
        return None
    return srv.user(name)
