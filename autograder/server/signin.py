"""Sign-in under a classroom's load: password hashing in a bounded pool, and failed attempts counted per account.

**Hashing.** scrypt (``accounts.SCRYPT``) costs about 16 MiB and ~0.1 s of one core by design. Three hundred
students signing in at the start of a lecture are 30 s of CPU: on the event loop that would freeze every page
of the process, and in an unbounded pool it would take every core from the loop and the graders. Hashes run
in :data:`HASH_THREADS` threads at a lower CPU priority (``hashlib.scrypt`` releases the GIL, so the loop keeps
serving, and is served first), at most :data:`HASH_WAITING` wait for one; beyond that a sign-in is answered
"busy, try again in a few seconds" (:class:`BusyError`) rather than queued for minutes. Memory is bounded too:
``HASH_THREADS`` x 16 MiB.

**Failed attempts.** A class behind one NAT shares one address, so an address is not a person. The counter that
protects an account is per *account name* (:data:`PER_NAME` failures in :data:`WINDOW` seconds block that name).
The per-*address* counter only bounds password spraying (many names from one place) and is set so that a full
lecture hall's typos stay under it (:data:`PER_ADDRESS`); only failures count, never successful sign-ins.

**Sign-out.** The session cookie is stateless (signed ``name:tag``), so ending one needs a record: sign-out
stores the SHA-256 of the exact signed cookie it ends (:class:`EndedSessions`, in the course's database, so
every server process sees it) until that cookie would have expired anyway; the auth provider drops an ended
cookie from each request before anything reads it. A sign-out must come from this server's own pages: its
``Origin`` (or, without one, its ``Referer``) must be a host the server accepts websockets from
(:func:`same_origin`), and it carries a token tied to the session cookie (:func:`signout_token`), which a
page of another site cannot read.

Not covered: someone who shares the class's address can spend the address allowance and block new sign-ins
from that address for :data:`WINDOW` seconds (signed-in students keep their sessions); anyone can lock one
named account for ``WINDOW`` by failing ``PER_NAME`` times. A distributed guesser with many addresses is for
the proxy in front to limit. The counters are per server process.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import os
import threading
import time
import weakref
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

import sqlalchemy as sa

from autograder.server.api import RateLimiter

WINDOW = 300.0
PER_NAME = 8  # failures per account name in WINDOW
# failures per address in WINDOW: a lecture hall behind one NAT mistypes well under this (raise it for more)
PER_ADDRESS = int(os.environ.get("RNN_SIGNIN_FAILURES_PER_ADDRESS", "400"))
HASH_THREADS = max(1, min(4, os.cpu_count() or 1))  # at a lower priority: they use what the event loop leaves
HASH_NICE = 2  # hashing threads yield the CPU to the event loop (Linux: a thread's own nice value)
HASH_WAITING = 256  # sign-ins waiting for a hashing thread; beyond this, "busy, try again"


class BusyError(RuntimeError):
    """Too many sign-ins are waiting for a hash: the answer is 503 with a retry hint, never a long wait."""


class Failures:
    """Failed sign-in or set-up attempts: per account name (strict) and per address (generous)."""

    def __init__(self, per_name: int = PER_NAME, per_address: int = PER_ADDRESS, window: float = WINDOW):
        self.names = RateLimiter(per_name, window)
        self.addresses = RateLimiter(per_address, window)

    def blocked(self, name: str | None, address: str) -> str | None:
        """The sentence to answer with when ``name`` or ``address`` is over its limit, else None."""
        if name and self.names.blocked(f"name:{name}"):
            return f"Too many failed sign-ins for {name}: wait five minutes and try again."
        if self.addresses.blocked(f"ip:{address}"):
            return "Too many failed sign-ins from your network: wait five minutes and try again."
        return None

    def failed(self, name: str | None, address: str) -> None:
        if name:
            self.names.allow(f"name:{name}")
        self.addresses.allow(f"ip:{address}")


class HashPool:
    """Run password hashing (and the database read beside it) in a few threads, with a bounded wait."""

    def __init__(self, threads: int = HASH_THREADS, waiting: int = HASH_WAITING):
        self.threads, self.waiting = threads, waiting
        self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="password-hash",
                                        initializer=_lower_thread_priority)
        self._lock = threading.Lock()
        self._queued = 0

    @property
    def queued(self) -> int:
        """Hashes waiting or running now."""
        return self._queued

    async def run(self, fn, *args):
        """``fn(*args)`` in a hashing thread; :class:`BusyError` at once when ``waiting`` are already in line."""
        with self._lock:
            if self._queued >= self.threads + self.waiting:
                raise BusyError("The server is signing in many people at once: try again in a few seconds.")
            self._queued += 1
        try:
            return await asyncio.get_running_loop().run_in_executor(self._pool, lambda: fn(*args))
        finally:
            with self._lock:
                self._queued -= 1


def _lower_thread_priority() -> None:
    """Lower the calling thread to ``nice +HASH_NICE`` (Linux schedules threads one by one); elsewhere a no-op."""
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), HASH_NICE)
    except (AttributeError, OSError):  # not Linux, or not permitted: hashing runs at the normal priority
        pass


def signout_token(secret: str | bytes, cookie: str) -> str:
    """The sign-out form's token for the session cookie ``cookie`` (as the browser sends it): HMAC-SHA256 under
    the server's cookie secret, so it changes with every sign-in and cannot be computed without the secret.
    """
    key = secret.encode() if isinstance(secret, str) else secret
    return hmac.new(key, b"sign-out\0" + cookie.encode(), hashlib.sha256).hexdigest()


def same_origin(origin: str | None, referer: str | None, allowed: Iterable[str]) -> bool:
    """Did a request come from a page of this server? ``origin`` (else ``referer``) names an ``allowed`` host.

    ``allowed`` are ``host:port`` entries as Bokeh's websocket allowlist holds them (``*`` for any port).
    Neither header (a privacy tool strips both) is not proof of another site, so it passes here: the session
    token is then the defence. ``Origin: null`` (a sandboxed frame, a redirect from elsewhere) never passes.
    """
    from bokeh.server.util import check_allowlist  # Bokeh's own matching, as for the websockets

    if origin is not None:
        source = origin.strip()
        if source.lower() == "null":
            return False
    elif referer:
        source = referer.strip()
    else:
        return True
    parts = urlsplit(source)
    if parts.scheme not in ("http", "https") or not parts.netloc or "@" in parts.netloc:
        return False
    return check_allowlist(parts.netloc.lower(), set(allowed))


class EndedSessions:
    """Session cookies ended by sign-out, by their SHA-256, kept until the cookie would have expired.

    NB: its own table, created on first use per database (``autograder.server.db`` owns the other tables).
    """

    _metadata = sa.MetaData()
    table = sa.Table("ended_sessions", _metadata,
                     sa.Column("digest", sa.String(64), primary_key=True),
                     sa.Column("until", sa.Float, nullable=False, index=True))

    def __init__(self):
        self._ready: weakref.WeakSet = weakref.WeakSet()  # engines whose database has the table
        self._lock = threading.Lock()

    def _table(self, engine) -> sa.Table:
        with self._lock:
            if engine not in self._ready:
                self._metadata.create_all(engine, checkfirst=True)
                self._ready.add(engine)
        return self.table

    @staticmethod
    def digest(cookie: str) -> str:
        return hashlib.sha256(cookie.encode()).hexdigest()

    def end(self, engine, cookie: str, seconds: float) -> None:
        """``cookie`` names nobody from now on (for ``seconds``, its remaining lifetime at most); expired rows go."""
        table, now = self._table(engine), time.time()
        digest = self.digest(cookie)
        with engine.begin() as conn:
            conn.execute(table.delete().where((table.c.until < now) | (table.c.digest == digest)))
            conn.execute(table.insert().values(digest=digest, until=now + seconds))

    def forget(self, engine, cookie: str) -> None:
        """``cookie`` is not ended (a new sign-in signed these same bytes: the same account in the same second)."""
        if not self.ended(engine, cookie):  # NB: read first: almost always nothing to delete, and a write locks SQLite
            return
        table = self._table(engine)
        with engine.begin() as conn:
            conn.execute(table.delete().where(table.c.digest == self.digest(cookie)))

    def ended(self, engine, cookie: str) -> bool:
        table = self._table(engine)
        with engine.connect() as conn:
            row = conn.execute(sa.select(table.c.until).where(table.c.digest == self.digest(cookie))).first()
        return row is not None and row.until >= time.time()


FAILURES = Failures()
HASHES = HashPool()
ENDED = EndedSessions()
