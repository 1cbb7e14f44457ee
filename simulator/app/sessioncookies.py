"""The session cookie never travels in a page: a session reads cookies from its own websocket request.

Bokeh copies the page request's cookies into the session token it writes into the page's HTML (unsigned,
readable by every script in the page), so the ``HttpOnly`` sign-in cookie (``user``) could be read by a
script after all, and a token copied out of a page carried its owner's sign-in. ``TOKEN_OPTIONS`` (for
``pn.serve``) keeps every cookie, and the ``Cookie`` header, out of the token; ``install`` makes each session
take its cookies from the request that opens it: the websocket's upgrade request, which the browser sends with
its cookies, ``HttpOnly`` ones included (or the page's own request, for a session Bokeh builds there). Panel's
``pn.state.cookies`` and ``pn.state.user`` then read the same values as before.
Not covered: headers other than ``Cookie`` still travel in the token (as Bokeh sends them: the user agent,
the language); a websocket opened from another origin is refused by Bokeh's origin check, not here.
"""

from __future__ import annotations

from bokeh.server import contexts

TOKEN_OPTIONS = {"include_cookies": [], "exclude_headers": ["Cookie"]}
_ORIGINAL = contexts._RequestProxy


class RequestProxy(_ORIGINAL):
    """Bokeh's request proxy, whose cookies are the request's own, over any the token carried."""

    def __init__(self, request, arguments=None, cookies=None, headers=None):
        super().__init__(request, arguments=arguments, cookies=cookies, headers=headers)
        own = getattr(request, "cookies", None) or {}
        self._cookies = {**(self._cookies or {}),
                         **{k: v if isinstance(v, str) else v.value for k, v in own.items()}}
        header = (getattr(request, "headers", None) or {}).get("Cookie")
        if isinstance(self._headers, dict):  # as Bokeh restores it from the token's cookies: here the request's
            self._headers.pop("Cookie", None)
            if header:
                self._headers["Cookie"] = header


def install() -> None:
    """Sessions made from now on take their cookies from their own request (``contexts._RequestProxy``)."""
    contexts._RequestProxy = RequestProxy
