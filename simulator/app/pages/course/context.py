"""Which course server this process serves and who is asking: the one place the course pages get both."""

from __future__ import annotations

import asyncio
import functools
from concurrent.futures import ThreadPoolExecutor

import panel as pn

from autograder.server.accounts import User
from autograder.server.service import CourseServer

HANDLE = None  # serve.py sets it: a callable giving this process's CourseServer (autograder.server.handle)
# Database work, notebook parsing and analytics for the course pages: never on the event loop, which serves
# every session of this process (one student's 16 MiB upload must not freeze everyone's simulator).
_POOL = ThreadPoolExecutor(max_workers=4, thread_name_prefix="course-page")


async def off_loop(fn, *args, **kwargs):
    """``fn(*args, **kwargs)`` in the course pages' thread pool, awaited from an async page callback."""
    return await asyncio.get_running_loop().run_in_executor(_POOL, functools.partial(fn, *args, **kwargs))


def when_loaded(refresh, load) -> None:
    """The page's first reading of the database: in a served session once the page has loaded, awaiting ``load``
    (which reads in :data:`_POOL`), since the event loop builds every student's page; elsewhere (tests, a
    notebook) ``refresh()`` now. Until then the page shows its placeholder text.
    """
    if building_a_served_page():
        pn.state.onload(load)
    else:
        refresh()


def building_a_served_page() -> bool:
    """Is this a server's session whose page is being built (not yet loaded in the browser)?"""
    doc = pn.state.curdoc
    return doc is not None and doc.session_context is not None and not pn.state.loaded


def server() -> CourseServer | None:
    return HANDLE() if HANDLE is not None else None


def current_user() -> User | None:
    """The signed-in user of this browser session, or None for a guest, an expired session or a removed account.

    The session cookie is checked here with the session's lifetime (``pn.state.user`` would accept any cookie
    signed in the last 31 days) and against the account as it is now (a password reset or a removal ends the
    sessions signed in before it); with single sign-on, the OAuth provider's user name is used instead.
    """
    from tornado.web import decode_signed_value

    from simulator.app.pages.course.auth import COOKIE, SESSION_HOURS

    srv = server()
    if srv is None:
        return None
    if pn.config.oauth_provider:
        name = pn.state.user
        return srv.user(name) if name and name != "guest" else None
    raw = (pn.state.cookies or {}).get(COOKIE)
    value = decode_signed_value(pn.config.cookie_secret, COOKIE, raw, max_age_days=SESSION_HOURS / 24) if (
        raw and pn.config.cookie_secret) else None
    return srv.session_user(value.decode("utf-8", "replace")) if value else None
