"""Sign-in for the course server: a Bokeh/Panel auth provider over the course's accounts (salted password hashes).

Everyone may open every page: a visitor without a session is ``guest`` (the simulator pages need no
account); the course pages ask guests to sign in. ``/login`` and ``/course/setup`` (a one-time set-up code
sets the password) are plain HTML forms with a CSRF token (tornado's ``_xsrf`` double-submit cookie), failed
sign-ins are limited per account name (strictly) and per address (generously: a class behind one NAT shares
one; ``autograder.server.signin``), password hashing runs in a small bounded pool, and the session cookie is
signed, ``HttpOnly``, ``SameSite=Lax`` and expires after ``SESSION_HOURS``. Sign-out is a POST to ``/logout``
from this server's pages only (same origin, and a token tied to the session cookie); it clears the cookie and
ends that cookie on the server (``signin.ENDED``), so a copy of it names nobody afterwards. ``GET /logout`` only
shows a page with the *Sign out* button (a link or a prefetcher cannot sign anyone out). University single sign-on uses
Panel's OAuth providers instead (``serve.py --oauth-provider ...``); the course's accounts then only give each
user name its role.
"""

from __future__ import annotations

import hmac
import html

import tornado.httputil
import tornado.web
from bokeh.server.auth_provider import AuthProvider
from tornado.ioloop import IOLoop

from autograder.server import signin
from autograder.server.accounts import AccountError, authenticate, session_value, set_password_with_code
from autograder.server.headers import session_cookie_flags

SESSION_HOURS = 12.0
COOKIE = "user"  # the name Panel's pn.state.user reads

PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{title} - RNN simulator</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{{font-family:sans-serif;max-width:28em;margin:4em auto;padding:0 1em;color:#1a1a1a}}
label{{display:block;margin-top:1em}}
input{{font-size:1rem;padding:.5em;width:100%;box-sizing:border-box;min-height:44px}}
button{{margin-top:1.5em;font-size:1rem;padding:.6em 1.4em;min-height:44px}} .error{{color:#a10000;font-weight:bold}}
:focus{{outline:3px solid #1f5fbf;outline-offset:2px}}</style></head>
<body><main><h1>{title}</h1>{error}{body}
<p><a href="/">The simulator's pages</a> need no account.</p></main></body></html>"""


def safe_next(url: str | None, default: str = "/course") -> str:
    """Only a path on this server (no scheme, no host, no ``//``), so sign-in cannot redirect elsewhere."""
    if not url or not url.startswith("/") or url.startswith("//") or "\\" in url or any(c < " " for c in url):
        return default
    return url


class _Form(tornado.web.RequestHandler):
    handle = None  # set by CourseAuth: a callable giving this process's CourseServer

    @property
    def engine(self):
        return _Form.handle().engine

    def render_page(self, title: str, body: str, error: str = "", status: int = 200) -> None:
        self.set_status(status)
        self.set_header("Content-Type", "text/html; charset=utf-8")
        self.set_header("X-Frame-Options", "DENY")
        self.set_header("Cache-Control", "no-store")
        shown = f'<p class="error" role="alert">{html.escape(error)}</p>' if error else ""
        self.finish(PAGE.format(title=html.escape(title), error=shown, body=body))

    async def sign_in(self, name: str) -> None:
        """A fresh signed session cookie ``name:tag`` (the tag ends it when the password changes)."""
        value = await IOLoop.current().run_in_executor(None, session_value, self.engine, name)
        signed = self.create_signed_value(COOKIE, value).decode()
        # NB: a sign-in in the same second as a sign-out of the same account signs the same bytes: not ended now
        await IOLoop.current().run_in_executor(None, signin.ENDED.forget, self.engine, signed)
        self.set_cookie(COOKIE, signed, expires_days=SESSION_HOURS / 24,
                        **session_cookie_flags(self.request.protocol))  # Secure over HTTPS

    def check_form(self) -> bool:
        try:
            self.check_xsrf_cookie()
        except tornado.web.HTTPError:
            self.render_page("Sign in", "", "This form expired or came from another site: reload the page and try "
                             "again.", status=403)
            return False
        return True


class LoginHandler(_Form):
    def get(self) -> None:
        self._form()

    def _form(self, error: str = "", name: str = "", status: int = 200) -> None:
        nxt = html.escape(safe_next(self.get_argument("next", None)), quote=True)
        body = (f'<form method="post" action="/login">{self.xsrf_form_html()}'
                f'<input type="hidden" name="next" value="{nxt}">'
                f'<label for="username">User name</label><input id="username" name="username" autocomplete="username" '
                f'required maxlength="64" value="{html.escape(name, quote=True)}">'
                '<label for="password">Password</label><input id="password" name="password" type="password" '
                'autocomplete="current-password" required maxlength="200">'
                '<button type="submit">Sign in</button></form>'
                "<p>No password yet? Use the set-up link your instructor sent you.</p>")
        self.render_page("Sign in", body, error, status)

    async def post(self) -> None:
        if not self.check_form():
            return
        name = self.get_argument("username", "")[:64]
        password = self.get_argument("password", "")[:200]
        address = self.request.remote_ip
        if blocked := signin.FAILURES.blocked(name, address):
            return self._form(blocked, name, 429)
        # scrypt costs ~16 MiB and ~0.1 s by design: in the bounded hashing pool, so the event loop serves everyone
        # and a lecture hall's sign-ins cannot take every core.
        try:
            user = await signin.HASHES.run(authenticate, self.engine, name, password)
        except signin.BusyError as exc:
            self.set_header("Retry-After", "5")
            return self._form(str(exc), name, 503)
        if user is None:
            signin.FAILURES.failed(name, address)
            return self._form("Wrong user name or password.", name, 401)
        await self.sign_in(user.name)
        self.redirect(safe_next(self.get_argument("next", None)))


MISSING_SETUP = ("This address lacks your user name or your one-time code. Open the whole set-up link your instructor "
                 "sent you: it looks like /course/setup?user=NAME&code=CODE (a mail program may cut a long link in "
                 "two; copy all of it). Already have a password? Sign in:")


class SetupHandler(_Form):
    """``/course/setup?user=NAME&code=CODE``: choose a password with a one-time code (invitation or reset)."""

    def get(self) -> None:
        if not self.get_argument("user", "").strip() or not self.get_argument("code", "").strip():
            # typed by hand, or a link cut short by a mail program: a form for nobody would fail only after
            # the password was typed twice
            return self.render_page("Set your password", '<p><a href="/login?next=/course">Sign in</a></p>',
                                    MISSING_SETUP, status=400)
        self._form()

    def _form(self, error: str = "", status: int = 200) -> None:
        user = html.escape(self.get_argument("user", "")[:64], quote=True)
        code = html.escape(self.get_argument("code", "")[:64], quote=True)
        body = (f'<form method="post" action="/course/setup">{self.xsrf_form_html()}'
                f'<p>Choose a password for <strong>{user}</strong>.</p>'
                f'<input type="hidden" name="user" value="{user}"><input type="hidden" name="code" value="{code}">'
                '<label for="password">New password (at least 8 characters)</label>'
                '<input id="password" name="password" type="password" autocomplete="new-password" required '
                'minlength="8">'
                '<label for="again">The same again</label>'
                '<input id="again" name="again" type="password" autocomplete="new-password" required minlength="8">'
                '<button type="submit">Set password and sign in</button></form>')
        self.render_page("Set your password", body, error, status)

    async def post(self) -> None:
        if not self.check_form():
            return
        name, code = self.get_argument("user", "")[:64], self.get_argument("code", "")[:64]
        password, again = self.get_argument("password", "")[:200], self.get_argument("again", "")[:200]
        address = self.request.remote_ip
        if blocked := signin.FAILURES.blocked(name, address):
            return self._form(blocked.replace("sign-ins", "attempts"), 429)
        if password != again:
            return self._form("The two passwords differ.", 422)
        try:
            user = await signin.HASHES.run(set_password_with_code, self.engine, name, code, password)
        except signin.BusyError as exc:
            self.set_header("Retry-After", "5")
            return self._form(str(exc), 503)
        except AccountError as exc:
            signin.FAILURES.failed(name, address)
            return self._form(str(exc), 403)
        await self.sign_in(user.name)
        self.redirect("/course")


def sign_out_form(cookie: str | None, secret: str | bytes | None, label: str = "Sign out",
                  oauth: bool = False) -> str:
    """The *Sign out* button: a form posting to ``/logout`` with the token of the session cookie ``cookie``.

    With single sign-on (``oauth``) ``/logout`` is Panel's handler, which answers GET only: the button GETs it.
    """
    if oauth:
        return (f'<form method="get" action="/logout" class="sign-out"><button type="submit">{html.escape(label)}'
                "</button></form>")
    token = signin.signout_token(secret, cookie) if cookie and secret else ""
    return (f'<form method="post" action="/logout" class="sign-out"><input type="hidden" name="token" '
            f'value="{token}"><button type="submit">{html.escape(label)}</button></form>')


class LogoutHandler(_Form):
    """``GET /logout``: a page with the *Sign out* button. ``POST /logout``: sign out, from this server's pages only."""

    async def _cookie(self) -> str | None:
        """The session cookie as the browser sent it, when it is one of ours, unexpired and not ended."""
        raw = self.get_cookie(COOKIE)
        if not raw or not self.get_signed_cookie(COOKIE, raw, max_age_days=SESSION_HOURS / 24):
            return None
        ended = await IOLoop.current().run_in_executor(None, signin.ENDED.ended, self.engine, raw)
        return None if ended else raw

    def _ask(self, cookie: str | None, error: str = "", status: int = 200) -> None:
        if cookie is None:
            body = '<p>You are not signed in.</p><p><a href="/login?next=/course">Sign in</a></p>'
        else:
            name = self.get_signed_cookie(COOKIE, cookie, max_age_days=SESSION_HOURS / 24).decode("utf-8", "replace")
            body = (f"<p>You are signed in as <strong>{html.escape(name.partition(':')[0])}</strong>.</p>"
                    + sign_out_form(cookie, self.application.settings.get("cookie_secret"))
                    + '<p><a href="/course">Back to the course</a></p>')
        self.render_page("Sign out", body, error, status)

    async def get(self) -> None:
        self._ask(await self._cookie())

    def _allowed_hosts(self) -> set[str]:
        """The names of this server in a browser: the request's host and every websocket origin Bokeh accepts."""
        return {self.request.host.lower(), *getattr(self.application, "websocket_origins", ())}

    async def post(self) -> None:
        cookie = await self._cookie()
        origin, referer = self.request.headers.get("Origin"), self.request.headers.get("Referer")
        secret = self.application.settings.get("cookie_secret")
        token = self.get_body_argument("token", "")
        if not signin.same_origin(origin, referer, self._allowed_hosts()):
            return self._ask(cookie, "This sign-out came from another site: press Sign out here to sign out.", 403)
        if cookie is not None and not (secret and hmac.compare_digest(
                token.encode("utf-8", "replace"), signin.signout_token(secret, cookie).encode())):
            return self._ask(cookie, "This sign-out form expired or came from another site: press Sign out here "
                             "to sign out.", 403)
        if cookie is not None:
            await IOLoop.current().run_in_executor(None, signin.ENDED.end, self.engine, cookie, SESSION_HOURS * 3600)
            close_pages(self.application, cookie)
        flags = session_cookie_flags(self.request.protocol)  # as set at sign-in, so the browser replaces it
        self.clear_cookie(COOKIE, **flags)
        self.clear_cookie("id_token")
        self.set_header("Cache-Control", "no-store")
        self.redirect("/", status=303)  # NB: 303, so reloading the next page never posts again


def close_pages(application, cookie: str) -> int:
    """Close the websockets of this process's open pages built with session cookie ``cookie``; how many pages.

    A page left open in another tab was built for the signed-in user and would keep acting as them (*Submit*);
    without its websocket it can do nothing, and reloading it makes a guest's page.
    """
    closed = 0
    for context in list(getattr(application, "applications", {}).values()):
        for session in list(context.sessions):
            if session.destroyed or session.document.session_context is None:
                continue
            request = session.document.session_context.request
            if (getattr(request, "cookies", None) or {}).get(COOKIE) != cookie:
                continue
            for connection in list(session._subscribed_connections):  # NB: Bokeh keeps no public list of them
                socket = getattr(connection, "_socket", None)
                if socket is not None:
                    socket.close(1000, "signed out")
            closed += 1
    return closed


def drop_cookie(request: tornado.httputil.HTTPServerRequest, name: str) -> None:
    """``request`` as if the browser had not sent cookie ``name``: gone from its parsed cookies and its header."""
    request.cookies.pop(name, None)
    header = request.headers.get("Cookie")
    if header is not None:
        kept = [part.strip() for part in header.split(";") if part.strip().partition("=")[0] != name]
        del request.headers["Cookie"]
        if kept:
            request.headers["Cookie"] = "; ".join(kept)


class CourseAuth(AuthProvider):
    """Signed-in users by their cookie; everyone else is ``guest``, so every page stays open."""

    def __init__(self, handle):
        _Form.handle = staticmethod(handle)
        super().__init__()

    @property
    def get_user_async(self):
        async def get_user(handler):
            """Bokeh asks this for every page and websocket request before it builds a session from it: an ended
            session's cookie is dropped here, so no later reader (``pn.state.cookies``, ``context.current_user``)
            sees it.
            """
            value = handler.get_signed_cookie(COOKIE, max_age_days=SESSION_HOURS / 24)
            if not value:
                return "guest"
            raw = handler.get_cookie(COOKIE)
            if await IOLoop.current().run_in_executor(None, signin.ENDED.ended, _Form.handle().engine, raw):
                drop_cookie(handler.request, COOKIE)
                return "guest"
            return value.decode("utf-8", "replace").partition(":")[0]
        return get_user

    @property
    def login_url(self) -> str:
        return "/login"

    @property
    def login_handler(self):
        return LoginHandler

    @property
    def logout_url(self) -> str:
        return "/logout"

    @property
    def logout_handler(self):
        return LogoutHandler

    @property
    def endpoints(self):
        return [*super().endpoints, ("/course/setup", SetupHandler)]
