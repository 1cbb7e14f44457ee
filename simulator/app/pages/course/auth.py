"""Sign-in for the course server: a Bokeh/Panel auth provider over the course's accounts (salted password hashes).

Everyone may open every page: a visitor without a session is ``guest`` (the simulator pages need no
account); the course pages ask guests to sign in. ``/login`` and ``/course/setup`` (a one-time set-up code
sets the password) are plain HTML forms with a CSRF token (tornado's ``_xsrf`` double-submit cookie), failed
sign-ins are limited per account name (strictly) and per address (generously: a class behind one NAT shares
one; ``autograder.server.signin``), password hashing runs in a small bounded pool, and the session cookie is
signed, ``HttpOnly``, ``SameSite=Lax`` and expires after ``SESSION_HOURS``. University single sign-on uses
Panel's OAuth providers instead (``serve.py --oauth-provider ...``); the course's accounts then only give each
user name its role.
"""

from __future__ import annotations

import html

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
        self.set_signed_cookie(COOKIE, value, expires_days=SESSION_HOURS / 24,
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


class SetupHandler(_Form):
    """``/course/setup?user=NAME&code=CODE``: choose a password with a one-time code (invitation or reset)."""

    def get(self) -> None:
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


class LogoutHandler(_Form):
    def get(self) -> None:
        self.clear_cookie(COOKIE)
        self.clear_cookie("id_token")
        self.redirect("/")


class CourseAuth(AuthProvider):
    """Signed-in users by their cookie; everyone else is ``guest``, so every page stays open."""

    def __init__(self, handle):
        _Form.handle = staticmethod(handle)
        super().__init__()

    @property
    def get_user(self):
        def get_user(handler):
            raw = handler.get_signed_cookie(COOKIE, max_age_days=SESSION_HOURS / 24)
            return raw.decode("utf-8", "replace").partition(":")[0] if raw else "guest"
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
