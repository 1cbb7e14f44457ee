"""Start the simulator's web app and its course server: ``python serve.py [--port 5006] [--course DIR]``.

Each browser session gets its own page objects (Panel is handed functions, not objects). The course server
(accounts, submissions, grading workers, the JSON API under ``/api/v1/``) serves the course in ``--course``
(default: the checkout's ``exercises/``) from a SQLite database there, or from ``--db-url``.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import secrets
from pathlib import Path

import panel as pn
from tornado.web import RequestHandler

from autograder.server import api, headers
from autograder.server.db import DatabaseError, connect, default_url
from autograder.server.handle import CourseHandle
from simulator.app import (
    admission,
    bokehdefaults,
    buildyield,
    docvalidation,
    patchbatch,
    sessioncookies,
    threadbuild,
    wscork,
)
from simulator.app.components.errors import error_page
from simulator.app.gcpolicy import freeze_startup
from simulator.app.gcpolicy import install as install_gc_policy
from simulator.app.joining import install_join_gate
from simulator.app.layout import page
from simulator.app.pagehtml import install_page_handler
from simulator.app.pages.course import context
from simulator.app.pages.course.auth import CourseAuth
from simulator.app.registry import available_pages, linked_pages

COURSE = Path(__file__).resolve().parent / "exercises"
WEBSOCKET_BYTES = 24 * 2**20  # a 16 MiB notebook, base64-encoded by the upload, fits in one message


def http_limits() -> dict[str, float]:
    """What one HTTP connection may make the server hold or wait for (tornado's ``HTTPServer`` options).

    ``max_body_size``: any request body (a sign-in form, a regrade list) is read in full before its handler
    runs, so it is small; the notebook upload raises it for itself once its sender is known
    (``api.SubmissionsHandler.prepare``). ``idle_connection_timeout`` bounds a client that sends its headers
    slowly or keeps an idle connection (slowloris); ``body_timeout`` one that sends its body slowly.
    Websockets, once open, are not HTTP bodies and have their own message cap (``WEBSOCKET_BYTES``).
    """
    return {"max_body_size": api.REQUEST_BODY, "max_buffer_size": 2 * api.UPLOAD_BODY + 2**20,
            "idle_connection_timeout": 60.0, "body_timeout": 300.0}


def routes(course: bool = False) -> dict[str, object]:
    """URL path -> function building that page in its frame (with the course pages when ``course``)."""
    def factory(slug, module, current=None):
        # a page that raises while it is built becomes a readable page (layout.page), titled after the page
        return lambda: page(current or slug, module.create, title=module.TITLE)

    pages = {f"/{slug}": factory(slug, module) for slug, module in available_pages() if slug != "course" or course}
    if course:
        from simulator.app.pages.course import dashboard, feedback

        pages["/course/feedback"] = factory("course/feedback", feedback, "course")
        pages["/course/dashboard"] = factory("course/dashboard", dashboard, "course")
    return pages


def cookie_secret(course: Path) -> str:
    """``RNN_COOKIE_SECRET`` (the same on every server behind a proxy), else one kept in the course (mode 0600)."""
    if os.environ.get("RNN_COOKIE_SECRET"):
        return os.environ["RNN_COOKIE_SECRET"]
    path = course / ".autograder" / "cookie_secret"
    path.parent.mkdir(mode=0o700, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as f:
        f.write(secrets.token_urlsafe(48))
    return path.read_text().strip()


class NotFound(RequestHandler):
    """A readable 404 page: what was asked for, and a link to every page that exists."""

    def prepare(self) -> None:
        self.set_status(404)
        self.finish(error_page(404, "Page not found", f"there is no page at {self.request.path}",
                               "one of the simulator's pages below (check the address for a typo)",
                               [(f"/{slug}", module.TITLE) for slug, module in linked_pages()]))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=5006)
    parser.add_argument("--address", default="127.0.0.1")
    parser.add_argument("--num-procs", type=int, default=1,
                        help="server processes sharing the port (0 = one per core)")
    parser.add_argument("--allow-websocket-origin", action="append", default=None,
                        help="host[:port] allowed to open the app's websocket (repeatable)")
    parser.add_argument("--show", action="store_true", help="open a browser tab")
    parser.add_argument("--course", type=Path, default=COURSE, help="nbgrader course served (default: exercises/)")
    parser.add_argument("--db-url", default=None,
                        help="course server database (default: SQLite course_server.db in the course directory)")
    parser.add_argument("--grading-workers", type=int, default=1, help="grading processes per server process")
    parser.add_argument("--no-course", action="store_true", help="serve the simulator pages only")
    parser.add_argument("--oauth-provider", default=None,
                        help="sign in through Panel's OAuth provider (generic, azure, google, ...); key and secret "
                             "from RNN_OAUTH_KEY / RNN_OAUTH_SECRET, extra parameters (JSON) from RNN_OAUTH_EXTRA")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO)
    origins = args.allow_websocket_origin or [f"{args.address}:{args.port}", f"localhost:{args.port}"]
    extra, handle, auth = [], None, {}
    if not args.no_course:
        if not (args.course / "source").is_dir():
            parser.error(f"--course {args.course}: expected an nbgrader course directory with a source/ folder")
        try:
            connect(args.db_url or default_url(args.course)).dispose()  # refuse a bad URL or driver now, in one line
        except DatabaseError as exc:
            parser.error(str(exc))
        handle = CourseHandle(args.course, args.db_url, workers=args.grading_workers)
        extra = api.routes(handle)
        context.HANDLE = handle
        auth = {"cookie_secret": cookie_secret(args.course)}
        if args.oauth_provider:  # university single sign-on: Panel's provider; accounts give each name its role
            auth.update(oauth_provider=args.oauth_provider, oauth_key=os.environ.get("RNN_OAUTH_KEY"),
                        oauth_secret=os.environ.get("RNN_OAUTH_SECRET"), oauth_optional=True,
                        oauth_extra_params=json.loads(os.environ.get("RNN_OAUTH_EXTRA", "{}")))
        else:
            auth["auth_provider"] = CourseAuth(handle)
    pages = admission.guard(routes(course=handle is not None))  # per-client session limit (simulator/app/admission.py)
    install_page_handler()  # each session is built once, by the process serving it (simulator/app/pagehtml.py)
    try:
        install_join_gate()  # new sessions admitted at a bounded rate (simulator/app/joining.py)
        install_gc_policy()  # built sessions are not walked by each collection (simulator/app/gcpolicy.py)
        threadbuild.install()  # a new session's page is built in a thread, not on the event loop (threadbuild.py)
        buildyield.install()  # ... and that thread steps aside while the loop has work (buildyield.py)
        docvalidation.skip_in_server()  # each page's document is validated by the tests, not per student
        bokehdefaults.install_unless_off()  # Bokeh's stable defaults worked out once per class, not on every read
        sessioncookies.install()  # sessions read cookies from their own request, never from the page's token
        patchbatch.install()  # what one callback changes is serialised cheaply and written as one group (patchbatch.py)
        wscork.install()  # ... and leaves in as few packets as its size needs, not one per frame (wscork.py)
    except ValueError as exc:  # RNN_JOIN_SHARE, RNN_BUILD_YIELD_MS, RNN_PATCH_BATCH, ...: one line
        parser.error(str(exc))
    freeze_startup()  # NB: last before the fork: the start-up heap is shared and never walked again
    try:
        server = pn.serve(pages, port=args.port, address=args.address, num_procs=args.num_procs,
                          websocket_origin=origins, show=args.show, title="RNN simulator",
                          default_handler_class=NotFound, extra_patterns=extra, start=False,
                          websocket_max_message_size=WEBSOCKET_BYTES, http_server_kwargs=http_limits(),
                          **sessioncookies.TOKEN_OPTIONS, **headers.server_options(), **auth)
    except OSError as exc:  # the port taken, a privileged port, an address not on this machine: one line
        parser.exit(2, f"serve.py: cannot listen on {args.address}:{args.port}: {exc.strerror or exc}; "
                       f"expected a free port (pass --port N, e.g. --port {args.port + 1}) on an address of this "
                       "machine (--address)\n")
    if handle is not None:
        # NB: after pn.serve, which forks --num-procs processes: each builds its own course server and dispatcher.
        server.io_loop.add_callback(handle)
    try:
        server.start()
        server.io_loop.start()
    finally:
        if handle is not None:
            handle.close()


if __name__ == "__main__":
    main()
