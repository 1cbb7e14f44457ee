"""The server alone chooses a page's Bokeh session id: a request cannot name the session its page is built in.

Bokeh builds a page's session on the page's HTTP GET, with the cookies of that request, under the session id
the request asks for when it names one (``?bokeh-session-id=``, ``?bokeh-token=``, or a ``Bokeh-Session-Id``
header) and a fresh random one otherwise. Session ids are not signed here, and a websocket that presents a
token for an existing session id joins that session. So a link ``/course?bokeh-session-id=KNOWN`` sent to a
signed-in student (a top-level navigation carries the ``SameSite=Lax`` cookie) built the student's course
page under an id the sender knew; the sender then opened a websocket with a token of their own making for
``KNOWN`` and worked the student's page: their submissions, their feedback (``/course/feedback?id=N&...``),
an upload in their name. The other way round, a student could be handed a page built for the sender.

:class:`ServerChosenSessions` removes every client-chosen session id from each HTTP request before any handler
reads it, so every page GET gets a new unguessable id that only its own answer carries. It is a tornado
transform (made for each request before the handler runs), installed with the security headers by
``headers.server_options()``. Websockets are untouched: they present their page's token in
``Sec-WebSocket-Protocol``, as BokehJS does.

Not covered: a session id that leaks another way (a page's HTML copied out, a screen share) still lets its
holder join that page until it expires: sessions are not bound to the identity of the websocket that joins
them (that needs Bokeh's ``WSHandler``, see docs/server.md "Web red team (stop 20)").
"""

from __future__ import annotations

import tornado.web

ARGUMENTS = ("bokeh-session-id", "bokeh-token")  # query or form arguments by which Bokeh takes a session id
HEADERS = ("Bokeh-Session-Id",)


class ServerChosenSessions(tornado.web.OutputTransform):
    """Strips :data:`ARGUMENTS` and :data:`HEADERS` from the request it is made for; changes no answer."""

    def __init__(self, request):
        super().__init__(request)
        strip(request)


def strip(request) -> list[str]:
    """Remove client-chosen session ids from ``request`` (arguments, query and body arguments, headers);
    returns what was removed (names), for tests and logs.
    """
    removed = []
    for store in (getattr(request, "arguments", None), getattr(request, "query_arguments", None),
                  getattr(request, "body_arguments", None)):
        for name in ARGUMENTS:
            if store is not None and store.pop(name, None) is not None:
                removed.append(name)
    headers = getattr(request, "headers", None)
    for name in HEADERS:
        if headers is not None and name in headers:
            del headers[name]
            removed.append(name)
    return removed
