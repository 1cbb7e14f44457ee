"""A page's session is joined only by the sign-in that built it: a copied page token is no way into a classmate's page.

Bokeh lets any websocket that presents a page's token join that page's session, and a session keeps what it
was built with: the request of the student who opened it (``pn.state.user``, their cookies, their submissions
on the course pages). So a token copied out of a page (its HTML source, a screen share, a shared link to the
page's ``autoload.js``) was, until it expired, a way to use that page as its owner (docs/server.md, "Web red
team (stop 20)").

``refused(handler, token)`` says whether a websocket may join: when the token's session exists already, the
sign-in cookie (``user``) of the joining request must be exactly the one of the request that built the session
(both absent counts as the same: a guest's page is joined by a guest). A reconnecting browser sends the same
cookie and is let in; a websocket carrying another sign-in, or none where the page had one (after sign-out, the
ended cookie is dropped before this is asked), is refused and closed with the reason, and the server log says
so. A session the token does not name yet is built from the joining request itself, as before.

Not covered: the comparison is of the sign-in cookie only, so a copied token used from a browser that holds the
same cookie (the same person, or someone who has also stolen the cookie) is let in; a student who signs in while
a page is open keeps that page, but its websocket, if it reconnects, is refused (a reload builds a new page);
sessions built before this was installed carry no record and are joined as before.
"""

from __future__ import annotations

import logging

from bokeh.util.token import get_session_id

log = logging.getLogger(__name__)
COOKIE = "user"  # the sign-in cookie (Panel's ``pn.state.user``; the course's CourseAuth)
CLOSE_CODE = 4403  # an application close code: the browser shows the page as disconnected
REASON = "this page was opened by another sign-in: reload it to open your own"


def _cookie(cookies, name: str) -> str | None:
    value = (cookies or {}).get(name)
    return value if value is None or isinstance(value, str) else value.value  # NB: tornado's Morsel


def refused(handler, token: str) -> bool:
    """True (and ``handler`` closed) when ``token``'s session exists and was built under another sign-in."""
    try:
        session_id = get_session_id(token)
    except Exception:  # noqa: BLE001 - a malformed token: Bokeh's own open refuses it, with its message
        return False
    context = handler.application_context
    built = context._session_contexts.get(session_id) if session_id in context._sessions else None
    if built is None:
        return False  # built now, from this very request
    request = getattr(built, "_request", None)
    if request is None:
        return False
    owner = _cookie(request.cookies, COOKIE)
    joiner = _cookie(handler.request.cookies, COOKIE)
    if owner == joiner:
        return False
    log.warning("refused a websocket joining session %s…: not the sign-in that built it", session_id[:8])
    handler.close(CLOSE_CODE, REASON)
    return True
