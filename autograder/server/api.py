"""The course server's HTTP JSON API, beside the pages: bearer token per user, answers in JSON.

- ``POST /api/v1/assignments/{name}/submissions`` (multipart field ``notebook``) -> 202 ``{"id", "status", "position"}``
  (200 with ``"duplicate": true`` and the first one's id when the same bytes came again within a minute)
- ``GET  /api/v1/assignments/{name}/submissions`` -> the caller's submissions (an instructor: everyone's)
- ``GET  /api/v1/submissions/{id}`` -> status, position, score, max_score, tests, notes
- ``GET  /api/v1/assignments/{name}/analytics`` (instructor) -> the dashboard's numbers
- ``POST /api/v1/assignments/{name}/regrade`` (instructor; JSON ``{"ids": [...]}`` or nothing for all)
- ``GET  /api/v1/assignments/{name}/grades.csv`` (instructor)

Codes: 401 without a valid token, 403 for the wrong role or a closed assignment, 404 for an unknown id or
another student's, 413 for an oversize upload (refused before the body is read when its length is known),
422 for a malformed or wrong-assignment notebook, 429 over the rate limit or with the account's uploads in
progress already (``autograder.server.uploads``), 503 when the process holds its budget of upload bodies.
Database work runs in a thread, never on the event loop. Bearer tokens travel in a header, not a cookie, so
cross-site forms cannot use them.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque

import tornado.web
from tornado.httputil import HTTPInputError, parse_body_arguments
from tornado.ioloop import IOLoop

from autograder.server.service import CourseServer
from autograder.server.submissions import MAX_UPLOAD, RefusedError, parse_id
from autograder.server.uploads import UploadSlots

REQUESTS_PER_MINUTE = 240  # per user and process
UPLOAD_BODY = MAX_UPLOAD + 64 * 1024  # the notebook and its multipart envelope
BAD_TOKENS_PER_MINUTE = 240  # invalid-token requests per address and process: generous, a class shares a NAT
REQUEST_BODY = 64 * 1024  # every API request but an upload: its body is read before the handler runs


class RateLimiter:
    """At most ``limit`` events per ``window`` seconds per key (sliding window, this process).

    Its memory is bounded whatever the keys: keys whose events have all expired are swept, and when more
    than ``max_keys`` are live the oldest are forgotten (an attacker who varies the key gains nothing but
    being forgotten; a key is never blocked by another key's events).
    """

    def __init__(self, limit: int = REQUESTS_PER_MINUTE, window: float = 60.0, max_keys: int = 50_000):
        self.limit, self.window, self.max_keys = limit, window, max_keys
        self._seen: dict[str, deque] = {}
        self._lock = threading.Lock()
        self._swept = time.monotonic()

    def _sweep(self, now: float) -> None:
        if now - self._swept > self.window or len(self._seen) > self.max_keys:
            self._seen = {k: q for k, q in self._seen.items() if q and q[-1] >= now - self.window}
            while len(self._seen) > self.max_keys:  # dicts keep insertion order: the oldest keys go first
                self._seen.pop(next(iter(self._seen)))
            self._swept = now

    def allow(self, key: str) -> bool:
        """Count one event for ``key``; False (not counted) when it is over the limit."""
        now = time.monotonic()
        with self._lock:
            self._sweep(now)
            q = self._seen.setdefault(key, deque())
            while q and q[0] < now - self.window:
                q.popleft()
            if len(q) >= self.limit:
                return False
            q.append(now)
            return True

    def blocked(self, key: str) -> bool:
        """Is ``key`` at its limit now (nothing counted)?"""
        now = time.monotonic()
        with self._lock:
            q = self._seen.get(key)
            return bool(q) and len([t for t in q if t >= now - self.window]) >= self.limit

    def __len__(self) -> int:
        return len(self._seen)


class ApiHandler(tornado.web.RequestHandler):
    """Common parts: JSON answers, the bearer token, refusals as their status."""

    def initialize(self, server, limiter: RateLimiter, bad_tokens: RateLimiter | None = None,
                   slots: UploadSlots | None = None):
        # ``server`` is a CourseServer or a callable giving this process's one (autograder.server.handle).
        self.server: CourseServer = server() if callable(server) else server
        self.limiter, self.user = limiter, None
        self.bad_tokens = bad_tokens if bad_tokens is not None else RateLimiter(BAD_TOKENS_PER_MINUTE)
        self.slots = slots if slots is not None else UploadSlots()

    def check_xsrf_cookie(self) -> None:  # bearer tokens, not cookies: no cross-site request can carry one
        return

    def set_default_headers(self) -> None:
        self.set_header("Content-Type", "application/json; charset=utf-8")
        self.set_header("Cache-Control", "no-store")
        self.set_header("X-Content-Type-Options", "nosniff")

    def answer(self, status: int, body) -> None:
        self.set_status(status)
        self.finish(json.dumps(body))

    def refuse(self, status: int, message: str) -> None:
        if status == 401:
            self.set_header("WWW-Authenticate", 'Bearer realm="course"')
        if status == 429:
            self.set_header("Retry-After", "60")
        if status == 503:
            self.set_header("Retry-After", "5")
        self.answer(status, {"error": message, "status": status})

    def write_error(self, status_code: int, **kwargs) -> None:
        self.finish(json.dumps({"error": self._reason, "status": status_code}))

    async def authenticate(self) -> bool:
        """Find the caller by their token; False (answered 401 or 429) otherwise.

        The request limit counts per *user*, after the token is found, so nobody can spend another user's
        allowance; requests with a wrong token count per address (401, then 429 over the limit).
        """
        if self.user is not None:
            return True
        header = self.request.headers.get("Authorization", "")
        token = header[7:].strip() if header.startswith("Bearer ") else ""
        if not token:
            self.refuse(401, "send your token: Authorization: Bearer <token> "
                             "(python -m autograder users add prints it)")
            return False
        user = await IOLoop.current().run_in_executor(None, self.server.user_by_token, token)
        if user is None:
            # Counted per address only when wrong: a valid token is never refused for someone else's guesses
            # (students behind one NAT or proxy share an address).
            if not self.bad_tokens.allow(f"ip:{self.request.remote_ip}"):
                self.refuse(429, f"too many requests with a wrong token: at most {self.bad_tokens.limit} a minute")
            else:
                self.refuse(401, "this token is not valid (ask your instructor for a new one)")
            return False
        if not self.limiter.allow(f"user:{user.id}"):
            self.refuse(429, f"too many requests: at most {self.limiter.limit} a minute")
            return False
        self.user = user
        return True

    async def run(self, fn, *args, **kwargs):
        """Call a service operation in a thread; a :class:`RefusedError` becomes its answer (returns None then)."""
        try:
            return await IOLoop.current().run_in_executor(None, lambda: fn(*args, **kwargs))
        except RefusedError as exc:
            self.refuse(exc.status, exc.message)
        except ValueError as exc:
            self.refuse(422, str(exc))
        return None


@tornado.web.stream_request_body
class SubmissionsHandler(ApiHandler):
    """Upload (POST, streamed with a size cap) and list (GET) the submissions of one assignment."""

    async def prepare(self) -> None:
        """Before a byte of the body is read: who is sending it (401 otherwise), is its size allowed (413), and may
        it be held now (``autograder.server.uploads``: the account's slots, 429; the process's budget, 503).

        Nothing of a request body is held in memory before its sender is known and its share is granted, so no
        client, anonymous or not, can make the server buffer more than its slots and the budget allow.
        """
        self._chunks, self._size, self._too_big, self._ticket, self._over_budget = [], 0, False, None, False
        length = self.request.headers.get("Content-Length")
        declared = int(length) if length and length.isascii() and length.isdigit() else None
        self._declared, self._in_prepare = declared, True
        try:
            await self._admit(declared)
        finally:
            self._in_prepare = False

    async def _admit(self, declared: int | None) -> None:
        if self.request.method != "POST":
            return
        if not await self.authenticate():
            return
        limit = UPLOAD_BODY
        if declared is not None and declared > limit:
            return self.refuse(413, f"upload of {declared / 2**20:.1f} MiB is over the "
                                    f"{MAX_UPLOAD // 2**20} MiB limit")
        try:
            self._ticket = self.slots.open(self.user.id, declared)
        except RefusedError as exc:
            return self.refuse(exc.status, exc.message)
        # The server reads at most REQUEST_BODY for other requests; an upload may be this large (chunked
        # bodies over the limit are counted and dropped below, then cut off by tornado at twice the limit).
        self.request.connection.set_max_body_size(2 * limit)

    def refuse(self, status: int, message: str) -> None:
        """Answer; at the headers, first let tornado expect the declared body, so the answer is written before the
        connection closes (tornado drops a connection whose declared length is over its limit at once, which
        raced the answer: the client saw the connection closed, not why).
        """
        if getattr(self, "_in_prepare", False) and self._declared:
            self.request.connection.set_max_body_size(max(self._declared, REQUEST_BODY))
        super().refuse(status, message)

    def data_received(self, chunk: bytes) -> None:
        if self._ticket is None:  # refused at the headers: nothing of the body is kept
            return
        self._size += len(chunk)
        if self._size > UPLOAD_BODY:
            self._too_big, self._chunks = True, []
        elif not (self._too_big or self._over_budget):
            if self._ticket.take(len(chunk)):
                self._chunks.append(chunk)
            else:  # a chunked upload outgrew what the process can hold now: dropped, answered 503
                self._over_budget, self._chunks = True, []

    def on_finish(self) -> None:
        self._give_back()

    def on_connection_close(self) -> None:  # the client went away mid-body: its share comes back now
        self._give_back()
        super().on_connection_close()

    def _give_back(self) -> None:
        ticket, self._ticket, self._chunks = getattr(self, "_ticket", None), None, []
        if ticket is not None:
            ticket.close()

    async def post(self, assignment: str) -> None:
        received = time.time()  # the whole body is here: the submission's time, on the server's clock
        if not await self.authenticate():
            return
        if self._too_big:
            return self.refuse(413, f"the upload is over the {MAX_UPLOAD // 2**20} MiB limit")
        if self._over_budget:
            return self.refuse(503, "the server is receiving many uploads at once: send again in a few seconds "
                                    "(nothing was stored)")
        files: dict = {}
        body, self._chunks = b"".join(self._chunks), []
        # In a thread: 16 MiB of tiny multipart parts takes a while to split, and the event loop serves everyone.
        try:
            await IOLoop.current().run_in_executor(None, parse_body_arguments,
                                                   self.request.headers.get("Content-Type", ""), body, {}, files)
        except HTTPInputError as exc:  # tornado >= 6.5 raises for a malformed body (it used to log and go on)
            reason = str(exc).replace("Invalid multipart/form-data: ", "")[:200]
            return self.refuse(422, f"the upload is not valid multipart/form-data ({reason}); expected the "
                                    "notebook in the field 'notebook'")
        upload = (files.get("notebook") or [None])[0]
        if upload is None:
            return self.refuse(422, "expected a multipart/form-data upload with the notebook in the field 'notebook'")
        sid = await self.run(self.server.submit, self.user, assignment, upload.filename or "notebook.ipynb",
                             upload.body, received)
        if sid is not None:
            info = await self.run(self.server.submission, self.user, sid)
            self.set_header("Location", f"/api/v1/submissions/{sid}")
            body = {"id": sid, "status": info["status"], "position": info["position"]}
            if getattr(sid, "duplicate", False):  # 200, not 202: nothing new was queued
                body.update(duplicate=True, message=f"the same notebook as submission {sid}, sent "
                            f"{sid.seconds_after:.0f} s before: counted once")
            self.answer(200 if body.get("duplicate") else 202, body)

    async def get(self, assignment: str) -> None:
        if not await self.authenticate():
            return
        rows = await self.run(self.server.submissions_of, self.user, assignment)
        if rows is not None:
            self.answer(200, {"submissions": [_public(r) for r in rows]})


def _public(row: dict) -> dict:
    return {k: row[k] for k in ("id", "assignment", "student", "created", "late", "status", "position", "score",
                                "max_score", "tests", "notes", "error")}


class SubmissionHandler(ApiHandler):
    async def get(self, submission_id: str) -> None:
        if not await self.authenticate():
            return
        row = await self.run(self.server.submission, self.user, parse_id(submission_id) or submission_id)
        if row is not None:
            self.answer(200, _public(row))


class AnalyticsHandler(ApiHandler):
    async def get(self, assignment: str) -> None:
        if not await self.authenticate():
            return
        numbers = await self.run(self.server.analytics, self.user, assignment)
        if numbers is not None:
            self.answer(200, numbers)


class RegradeHandler(ApiHandler):
    async def post(self, assignment: str) -> None:
        if not await self.authenticate():
            return
        ids = None
        if self.request.body:
            try:
                ids = json.loads(self.request.body).get("ids")
                if ids is not None and not (isinstance(ids, list) and all(isinstance(i, int) for i in ids)):
                    raise ValueError
            except (ValueError, AttributeError, RecursionError):  # RecursionError: JSON nested thousands deep
                return self.refuse(422, 'expected JSON {"ids": [submission ids]} or an empty body (regrade all)')
        n = await self.run(self.server.regrade, self.user, assignment, ids)
        if n is not None:
            self.answer(202, {"queued": n})


class GradesCsvHandler(ApiHandler):
    async def get(self, assignment: str) -> None:
        if not await self.authenticate():
            return
        text = await self.run(self.server.export_csv, self.user, assignment)
        if text is not None:
            self.set_header("Content-Type", "text/csv; charset=utf-8")
            self.set_header("Content-Disposition", f'attachment; filename="{assignment}-grades.csv"')
            self.finish(text)


class NotFoundApi(ApiHandler):
    def prepare(self) -> None:
        self.refuse(404, f"no API endpoint {self.request.path}; see docs/server.md")


NAME = r"([A-Za-z0-9_.-]{1,64})"


def routes(server, limiter: RateLimiter | None = None) -> list[tuple]:
    """Tornado URL patterns of the API (``pn.serve(..., extra_patterns=routes(server))``)."""
    kw = {"server": server, "limiter": limiter or RateLimiter(), "bad_tokens": RateLimiter(BAD_TOKENS_PER_MINUTE),
          "slots": UploadSlots()}
    return [
        (rf"/api/v1/assignments/{NAME}/submissions", SubmissionsHandler, kw),
        (r"/api/v1/submissions/([0-9]{1,12})", SubmissionHandler, kw),
        (rf"/api/v1/assignments/{NAME}/analytics", AnalyticsHandler, kw),
        (rf"/api/v1/assignments/{NAME}/regrade", RegradeHandler, kw),
        (rf"/api/v1/assignments/{NAME}/grades\.csv", GradesCsvHandler, kw),
        (r"/api/.*", NotFoundApi, kw),
    ]
