"""Per-client session limits: one network address holds at most ``per_client`` live sessions of the app's pages.

The principle: a client is admitted sessions, never unbounded ones. A session is one Bokeh document (one
browser tab, or one websocket that asked for a fresh session id); it is counted when the page factory runs
for it, whichever way it was created (the page's HTTP request or a bare websocket), and released when Bokeh
destroys it (a closed tab is destroyed after Bokeh's unused-session lifetime, 15-30 s by default). Requests
are not counted: reloading, the JSON API and static files cost no session. Beyond the limit the session gets
a short refusal page (no page is built, nothing is computed) that says how many are open and what to do.

The client is its address as tornado reports it (``request.remote_ip``); IPv6 addresses count per /64
network (one host usually owns a whole /64, so a client cannot step around the limit by changing its last
64 bits); an IPv4-mapped IPv6 address counts as its IPv4 address.

Closing a session also hands its memory back (``workpool.return_memory``, at most once per
``RETURN_EVERY`` seconds, after the session's own destroy hooks have run).

Not covered (say so to whoever deploys the app):
- behind a reverse proxy every student has the proxy's address unless tornado is told to trust the proxy's
  ``X-Forwarded-For`` / ``X-Real-Ip`` (``xheaders=True`` in serve.py's ``http_server_kwargs``); behind one NAT a
  whole class shares one address, hence the generous default (``RNN_APP_SESSIONS_PER_CLIENT``, 600);
- a client within its limit can still open many websockets to one session it already has, and a flood of
  refused requests still costs the server one tiny document each until it is discarded; rate limits per
  request belong to the reverse proxy (for example nginx's ``limit_req``);
- with ``--num-procs N`` each process counts its own sessions (a client may hold up to N times the limit);
- a client that owns many addresses (IPv4 addresses, or several /64 networks) is many clients.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import threading
import time
from collections import Counter
from collections.abc import Callable

import panel as pn

from simulator.app.workpool import return_memory

log = logging.getLogger("simulator.app")
SESSIONS_PER_CLIENT = 600  # generous: a class of 300 behind one NAT, two tabs each (about 2.6 GB of sessions on /cell)
RETURN_EVERY = 2.0  # s; return_memory (a full garbage collection) at most this often


def client_key(address: str | None) -> str:
    """The client an address belongs to: the IPv4 address, or the /64 network of an IPv6 address.

    >>> client_key("2001:db8::1"), client_key("::ffff:10.0.0.7"), client_key("10.0.0.7")
    ('2001:db8::/64', '10.0.0.7', '10.0.0.7')
    """
    text = (address or "").strip()
    try:
        ip = ipaddress.ip_address(text.split("%")[0])  # NB: drop an IPv6 zone id ("fe80::1%eth0")
    except ValueError:
        return text[:100] or "unknown"
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)


def limit_from_env(environ: dict[str, str] | None = None) -> int:
    """``RNN_APP_SESSIONS_PER_CLIENT`` as a positive integer (default ``SESSIONS_PER_CLIENT``); ValueError if bad."""
    raw = (os.environ if environ is None else environ).get("RNN_APP_SESSIONS_PER_CLIENT", "").strip()
    if not raw:
        return SESSIONS_PER_CLIENT
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value < 1:
        raise ValueError(f"RNN_APP_SESSIONS_PER_CLIENT: got {raw[:40]!r}; expected a positive whole number of "
                         "sessions per client address")
    return value


class SessionLimit:
    """Live sessions per client key; ``admit`` counts one in if the client is under ``per_client``."""

    def __init__(self, per_client: int):
        if int(per_client) < 1:
            raise ValueError(f"per_client: got {per_client!r}; expected a positive number of sessions")
        self.per_client = int(per_client)
        self._counts: Counter[str] = Counter()
        self._lock = threading.Lock()

    def admit(self, client: str) -> bool:
        with self._lock:
            if self._counts[client] >= self.per_client:
                return False
            self._counts[client] += 1
            return True

    def leave(self, client: str) -> None:
        with self._lock:
            if self._counts[client] <= 1:
                self._counts.pop(client, None)
            else:
                self._counts[client] -= 1

    def count(self, client: str) -> int:
        with self._lock:
            return self._counts.get(client, 0)


def refusal(count: int, per_client: int) -> pn.viewable.Viewable:
    """The page a client over its limit gets instead of the page it asked for."""
    return pn.pane.HTML(
        '<div class="rnn-refused" role="alert" style="font-family:sans-serif;max-width:40em;margin:3em auto">'
        "<h1>Too many open pages from your network address</h1>"
        f"<p>Your address already has {count} simulator pages open; each address may have at most "
        f"{per_client} at a time, so that one computer cannot take the whole server from the class.</p>"
        "<p>Close some tabs of the simulator, wait half a minute (the server frees a closed tab's page after "
        "about 30 seconds), then reload this page.</p>"
        "<p>If your whole class reaches the server through one address (a school network), ask the instructor "
        "to raise the limit: <code>RNN_APP_SESSIONS_PER_CLIENT</code>.</p></div>",
        sizing_mode="stretch_width")


class Admission:
    """Wraps page factories with the per-client limit, and returns memory when sessions close."""

    def __init__(self, limit: SessionLimit, every: float = RETURN_EVERY):
        self.limit, self.every = limit, float(every)
        self._memory_due = False
        self._last_return = 0.0

    def guard(self, routes: dict[str, Callable]) -> dict[str, Callable]:
        """``{path: factory}`` -> the same paths, each factory admitting its session first."""
        return {path: self._guarded(factory) for path, factory in routes.items()}

    def _guarded(self, factory: Callable) -> Callable:
        def build():
            doc = pn.state.curdoc
            context = getattr(doc, "session_context", None) if doc is not None else None
            if context is None:  # no server session (a script): nothing to count
                return factory()
            request = getattr(context, "request", None)
            client = client_key(getattr(request, "remote_ip", None) if request is not None else None)
            if not self.limit.admit(client):
                count = self.limit.count(client)
                log.warning("session refused: client %s already holds %d sessions (limit %d)", client, count,
                            self.limit.per_client)
                doc.title = "Too many open pages - RNN simulator"
                return refusal(count, self.limit.per_client)
            # NB: registered before the page is built, so a page that fails to build still releases its count
            doc.on_session_destroyed(lambda session_context: self._left(client))
            return factory()

        build.__name__ = getattr(factory, "__name__", "page")
        return build

    def _left(self, client: str) -> None:
        self.limit.leave(client)
        self._schedule_return()

    def _schedule_return(self) -> None:
        """One ``return_memory`` shortly after a burst of closed sessions (their own hooks run first)."""
        if self._memory_due:
            return
        self._memory_due = True
        wait = max(0.0, self._last_return + self.every - time.monotonic())
        try:
            from tornado.ioloop import IOLoop

            IOLoop.current().call_later(max(wait, 0.5), self._return)
        except RuntimeError:  # no event loop (a test): now
            self._return()

    def _return(self) -> None:
        self._memory_due = False
        self._last_return = time.monotonic()
        return_memory()


def guard(routes: dict[str, Callable], per_client: int | None = None) -> dict[str, Callable]:
    """What serve.py calls: ``pn.serve(admission.guard(routes(...)), ...)``; the limit from the environment."""
    limit = SessionLimit(limit_from_env() if per_client is None else per_client)
    log.info("session limit: %d sessions per client address", limit.per_client)
    return Admission(limit).guard(routes)

