"""What every answer tells the browser: no framing by other sites, no type sniffing, no referrer leak; cookie flags.

One place for every route (the simulator's and course pages, the sign-in forms, the JSON API, static files,
error pages): a tornado output transform, given to the application with ``pn.serve(..., **server_options())``.

- ``Content-Security-Policy: frame-ancestors 'self'`` and ``X-Frame-Options: SAMEORIGIN``: another site cannot
  show a page in a frame and trick a signed-in instructor into clicking *Regrade all* or *Save settings*, or a
  student into *Submit* (clickjacking). The course pages were framable before (only the sign-in forms said DENY).
- ``X-Content-Type-Options: nosniff``: an answer is read as its declared type, never sniffed into HTML.
- ``Referrer-Policy: same-origin``: addresses (a set-up link's one-time code is in its query) are never sent to
  another site.

A header the handler set itself is kept (the sign-in forms' ``X-Frame-Options: DENY`` stays DENY).

The session cookie (:func:`session_cookie_flags`) is ``HttpOnly``, ``SameSite=Lax``, and ``Secure`` when the
server is reached over HTTPS: the request's own scheme, or ``RNN_COOKIE_SECURE=1`` behind a TLS proxy that
speaks plain HTTP to the server (tornado's ``xheaders`` is off, so the scheme the proxy saw is not known).

Not covered: no ``Content-Security-Policy`` for scripts (Bokeh and Panel pages run inline scripts, so a
script policy would need their nonces); no ``Strict-Transport-Security`` (the server speaks plain HTTP; HSTS
belongs to the TLS proxy in front of it).
"""

from __future__ import annotations

import os

import tornado.web

SECURITY_HEADERS = {
    "Content-Security-Policy": "frame-ancestors 'self'",
    "X-Frame-Options": "SAMEORIGIN",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


class SecurityHeaders(tornado.web.OutputTransform):
    """Adds :data:`SECURITY_HEADERS` to the first chunk of every answer (keeping any the handler set)."""

    def transform_first_chunk(self, status_code, headers, chunk, finishing):
        for name, value in SECURITY_HEADERS.items():
            if name not in headers:
                headers[name] = value
        return status_code, headers, chunk


def server_options() -> dict:
    """Keyword arguments for ``pn.serve`` (passed on to tornado's ``Application``) that install the transforms:
    these headers, :class:`~autograder.server.sessionids.ServerChosenSessions` (no request names its session) and
    :class:`~autograder.server.errorpages.ReadableErrors` (tornado's bare error pages become the app's; no
    ``Server`` header).

    NB: tornado's default transforms are none unless ``compress_response`` is set; compression, if wanted, is
    ``tornado.web.GZipContentEncoding`` placed before this transform.
    """
    from autograder.server.errorpages import ReadableErrors
    from autograder.server.sessionids import ServerChosenSessions  # NB: not a header; every request's one hook

    return {"transforms": [ServerChosenSessions, ReadableErrors, SecurityHeaders]}


def session_cookie_flags(protocol: str, environ=os.environ) -> dict:
    """``set_signed_cookie`` keywords for a session cookie answered on a request made with ``protocol``."""
    secure = protocol == "https" or environ.get("RNN_COOKIE_SECURE", "").strip() == "1"
    return {"httponly": True, "samesite": "Lax", **({"secure": True} if secure else {})}
