"""Every error a browser can get from the server is the app's readable error page, and no answer names the server.

Tornado answers some errors itself, before or beside the app's handlers: a method a page does not take (405:
``PUT /course``, ``POST /cell``, ``OPTIONS``, ``TRACE``, ``PROPFIND``), a form it cannot read (400: a malformed
multipart body, a query that is not UTF-8), a static file outside its folder (403), an unknown static file
(404), an exception in a handler (500), and Bokeh's own refusals (a websocket address opened as a page, a
cross-site websocket, ``autoload.js`` without its element). Its page is a bare ``<html><title>405: Method Not
Allowed</title>...`` (or a line of plain text) that says neither what was wrong nor what to do, and every answer
carried ``Server: TornadoServer/6.x`` (a version for whoever looks for a known hole).

:class:`ReadableErrors` is one tornado output transform for every route (installed with the others by
``headers.server_options()``): an error answer whose body is tornado's bare page, or a line of text without
markup, becomes :func:`simulator.app.components.errors.error_page` (the look of the app's 404 page) naming the
method and the address, what was wrong and what to do. The status code is kept. JSON answers (the API's own
errors) and the app's own HTML pages are left as they are. The ``Server`` header is removed from every answer.

Not covered: errors tornado writes at the connection, before any handler exists (a malformed request line or
header block, a body over ``max_body_size`` with its length declared: a bare ``400``/``413`` status and the
connection closed, no page); an exception that escapes in the middle of a streamed answer (its headers are sent).
"""

from __future__ import annotations

import html
import re

import tornado.httputil
import tornado.web

# tornado.web.RequestHandler.write_error's page when serve_traceback is off (the reason is xhtml-escaped)
BARE = re.compile(rb"<html><title>(\d{3}): ([^<]*)</title><body>\1: \2</body></html>")
MAX_TEXT = 200  # a plain-text error body longer than this is not a one-line reason: left alone

EXPECTED = {
    400: "a request as this server's own pages make it: open the page again from its link (an address typed by "
         "hand must be UTF-8, and a form must be sent as the page sends it)",
    401: "sign in first (the course pages have a Sign in link)",
    403: "an address of this server's pages or their files: open the page again from the home page",
    404: "an address of one of this server's pages or files: check it for a typo, or start from the home page",
    405: "GET for a page (open it in a browser); forms of this server send their own method",
    413: "a smaller request (uploads of a notebook are at most 16 MiB)",
    429: "fewer requests: wait a minute and try again",
    500: "the page: this failure is the server's, not anything you sent. Reload to try again; if it fails again, "
         "tell your instructor (the server's log names the error)",
    503: "the server to be less busy: try again in a few seconds",
}

WHAT = {
    400: "the server could not read the request to {path}",
    401: "{path} needs you to be signed in",
    403: "the server does not show {path}",
    404: "there is no page or file at {path}",
    405: "{method} is not accepted at {path}",
    500: "the server failed while answering {method} {path}",
}

TITLES = {400: "Request not understood", 403: "Not shown", 404: "Page not found", 405: "Method not accepted",
          500: "Server error"}


def reason_of(status: int, chunk: bytes) -> str | None:
    """The reason an error body gives when it is tornado's bare page or a one-line text; None for any other body."""
    bare = BARE.fullmatch(chunk.strip())
    if bare is not None:
        return html.unescape(bare.group(2).decode("utf-8", "replace"))
    text = chunk.strip()
    if text and len(text) <= MAX_TEXT and b"<" not in text:
        return text.decode("utf-8", "replace")
    return None


def readable_page(status: int, reason: str, method: str, path: str) -> str:
    """The app's error page for an error tornado (or Bokeh) answered with ``reason``."""
    from simulator.app.components.errors import error_page  # NB: the app's look; panel is loaded in the server

    what = WHAT.get(status, "the server refused {method} {path}").format(method=method, path=path)
    standard = tornado.httputil.responses.get(status, "")
    if reason and reason.rstrip(".").lower() != standard.lower():  # a reason that says more than the status
        what = f"{what}: {reason}"
    expected = EXPECTED.get(status, EXPECTED[500] if status >= 500 else EXPECTED[400])
    title = TITLES.get(status, standard or "Error")
    return error_page(status, title, what, expected)


class ReadableErrors(tornado.web.OutputTransform):
    """Rewrites tornado's bare error pages into :func:`readable_page`; drops the ``Server`` header everywhere."""

    def __init__(self, request):
        super().__init__(request)
        self.method = getattr(request, "method", "GET") or "GET"
        self.path = getattr(request, "path", "/") or "/"

    def transform_first_chunk(self, status_code, headers, chunk, finishing):
        headers.pop("Server", None)
        if status_code < 400 or not finishing:
            return status_code, headers, chunk
        kind = headers.get("Content-Type", "text/html").split(";")[0].strip().lower()
        if kind not in ("text/html", "text/plain"):
            return status_code, headers, chunk
        reason = reason_of(status_code, chunk)
        if reason is None:
            return status_code, headers, chunk
        page = readable_page(status_code, reason, self.method, self.path).encode()
        headers["Content-Type"] = "text/html; charset=utf-8"
        headers["Cache-Control"] = "no-store"
        if "Content-Length" in headers:
            headers["Content-Length"] = str(len(page))
        return status_code, headers, page
