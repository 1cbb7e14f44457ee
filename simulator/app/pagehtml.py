"""A page's HTML without building its session, so each session is built once, by the process serving it.

Bokeh builds a session when its page is requested (the GET) and, when the page's websocket reaches a process
that did not build it, builds it again there (``create_session_if_needed``). With ``--num-procs N`` the
processes share one listening socket and the kernel hands each connection to any of them, so about
(N - 1) / N of all sessions were built twice, and the GET's copy lingered unused until Bokeh discarded it
(measured: 26 builds for 20 students joining /cell on two processes).

``PageHandler`` answers the GET with the HTML it kept from earlier requests of the same path in this process
(once two full renders agreed, tokens and ids aside) and a fresh session token for this request (a new session
id; this request's own headers, cookies and URL arguments, as Bokeh's would carry): nothing is built. The
session is built when its websocket opens, by the process that serves it from then on. The browser places the
document's roots by their order, not their ids (BokehJS ``add_document_standalone``), so the kept HTML fits
every session of the page.

Principle: a session is built only where it is served. Assumed (true of every page here): a page's HTML
depends on its path alone (the content travels over the websocket); a kept page is refused if its token is
not exactly once in it, and pages behind Panel's ``authorize_callback`` are built the ordinary way.
Not covered: the first two requests of each path in each process build a session as before (possibly twice);
a page that differs for every request would never be kept (each GET then builds, as before);
a client that opens the websocket without the GET still gets a session built (Bokeh's own behaviour).
"""

from __future__ import annotations

import hashlib
import logging
import os
import re

import panel as pn
from bokeh.server import urls
from bokeh.util.token import generate_jwt_token, generate_session_id
from panel.io import server as pn_server
from panel.io.resources import LOCAL_DIST
from tornado.web import authenticated

from simulator.app.joining import with_notice

log = logging.getLogger("simulator.app")
TOKEN = re.compile(r'"token":"([A-Za-z0-9_\-.=]+)"')
_PAGES: dict[str, tuple[str, str]] = {}  # request path -> (HTML of its first request, the token in it)
BUILT = {"sessions": 0}  # sessions built by this process (a fork starts from the parent's count: 0)
_INSTALLED = []


IDS = re.compile(r"\bp\d+\b|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_SEEN: dict[str, str] = {}  # request path -> its last full render, tokens and ids aside


def offer(path: str, html: str) -> bool:
    """A full render of ``path``: kept once two renders in a row agree, tokens and element/model ids aside.

    One render is not enough: a request may get a page unlike everyone's (a refusal at the session limit, an
    error page), and the kept page is everyone's HTML from then on.
    """
    shape = IDS.sub("", TOKEN.sub("", html))
    if _SEEN.get(path) != shape:
        _SEEN[path] = shape
        return False
    return keep(path, html)


def keep(path: str, html: str) -> bool:
    """Keep ``html`` as the page of ``path`` if its session token occurs exactly once (else keep nothing)."""
    found = TOKEN.findall(html)
    if len(found) != 1 or html.count(found[0]) != 1:
        return False
    _PAGES[path] = (html, found[0])
    return True


def page_for(path: str, token: str) -> str | None:
    """The kept page of ``path`` carrying ``token`` instead of its first session's, or None if none is kept."""
    kept = _PAGES.get(path)
    return None if kept is None else kept[0].replace(kept[1], token, 1)


class PageHandler(pn_server.DocHandler):
    """Panel's page handler whose GET builds nothing once the path's HTML is known in this process."""

    _keeping = False

    @authenticated
    async def get(self, *args, **kwargs):
        path = self.request.path
        if path not in _PAGES or pn.config.authorize_callback or (self.application.prefix and
                                                                   path == self.application.prefix):
            self._keeping = True
            await super().get(*args, **kwargs)  # builds this visitor's session; write() keeps its HTML
            return
        pn_server._set_request_route_context(self, *args, **kwargs)
        app = self.application
        session_id = generate_session_id(secret_key=app.secret_key, signed=app.sign_sessions)
        token = generate_jwt_token(session_id, secret_key=app.secret_key, signed=app.sign_sessions,
                                   expiration=app.session_token_expiration,
                                   extra_payload=self._generate_token_payload())
        self.set_header("Cache-Control", "no-store")  # as Panel's: a cached page would carry a stale token
        self.set_header("Content-Type", "text/html")
        self.write(with_notice(page_for(path, token)))  # "Joining…" until the page is drawn

    def write(self, chunk) -> None:
        if self._keeping and isinstance(chunk, str) and self.get_status() == 200:
            self._keeping = False
            offer(self.request.path, chunk)
        super().write(chunk)


def dist_url(app_path: str) -> str:
    """Where the page's Panel stylesheets are served from, relative to ``app_path`` (as Panel's page handler says)."""
    rel = "/".join([".."] * app_path.strip("/").count("/"))
    return f"{rel}/{LOCAL_DIST}" if rel else LOCAL_DIST


def _prepare(session_context) -> None:
    """Before the page is built: count the build, and give the document what Panel's GET would have set on it.

    Panel sets the stylesheets' location (``dist_url``) and the theme on the document when it renders the HTML,
    and every model made later reads them; a session built at its websocket has had no such render, and its
    models would load their stylesheets from the CDN.
    """
    BUILT["sessions"] += 1
    tag = hashlib.sha256(str(session_context.id).encode()).hexdigest()[:12]  # the id itself would let a reader in
    log.info("session built by process %d: %s (%d so far)", os.getpid(), tag, BUILT["sessions"])
    doc = session_context._document
    url = session_context.server_context.application_context.url
    doc._template_variables.setdefault("dist_url", dist_url(url))
    doc._template_variables.setdefault("theme_name", pn.config.theme)


def install_page_handler() -> None:
    """Serve every app's page with ``PageHandler`` and log each session build with this process's id.

    Call before ``pn.serve`` creates the server (Bokeh reads its URL patterns then); calling it again is harmless.
    """
    for k, (pattern, handler) in enumerate(urls.per_app_patterns):
        if pattern == r"/?" and issubclass(handler, pn_server.DocHandler) and handler is not PageHandler:
            urls.per_app_patterns[k] = (pattern, PageHandler)
    if not _INSTALLED:
        pn.state.on_session_created(_prepare)
        _INSTALLED.append(True)
