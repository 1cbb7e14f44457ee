"""The course server's HTTP JSON API, beside the pages: bearer token per user, answers in JSON.

- ``POST /api/v1/assignments/{name}/submissions`` (multipart field ``notebook``) -> 202 ``{"id", "status", "position"}``
- ``GET  /api/v1/assignments/{name}/submissions`` -> the caller's submissions (an instructor: everyone's)
- ``GET  /api/v1/submissions/{id}`` -> status, position, score, max_score, tests, notes
- ``GET  /api/v1/assignments/{name}/analytics`` (instructor) -> the dashboard's numbers
- ``POST /api/v1/assignments/{name}/regrade`` (instructor; JSON ``{"ids": [...]}`` or nothing for all)
- ``GET  /api/v1/assignments/{name}/grades.csv`` (instructor)

Codes: 401 without a valid token, 403 for the wrong role or a closed assignment, 404 for an unknown id or
another student's, 413 for an oversize upload (refused before the body is read when its length is known),
422 for a malformed or wrong-assignment notebook, 429 over the rate limit. Database work runs in a thread,
never on the event loop. Bearer tokens travel in a header, not a cookie, so cross-site forms cannot use them.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque

import tornado.web
from tornado.httputil import parse_body_arguments
from tornado.ioloop import IOLoop

from autograder.server.service import CourseServer
from autograder.server.submissions import MAX_UPLOAD, RefusedError

REQUESTS_PER_MINUTE = 240


class RateLimiter:
    """At most ``limit`` requests per ``window`` seconds per key (sliding window, this process)."""

    def __init__(self, limit: int = REQUESTS_PER_MINUTE, window: float = 60.0):
        self.limit, self.window = limit, window
        self._seen: dict[str, deque] = {}
        self._lock = threading.Lock()

    def allow(self, key: str) -> bool:
        now = time.monotonic()
        with self._lock:
            q = self._seen.setdefault(key, deque())
            while q and q[0] < now - self.window:
                q.popleft()
            if len(q) >= self.limit:
                return False
            q.append(now)
            return True


class ApiHandler(tornado.web.RequestHandler):
    """Common parts: JSON answers, the bearer token, refusals as their status."""

    def initialize(self, server, limiter: RateLimiter):
        # ``server`` is a CourseServer or a callable giving this process's one (autograder.server.handle).
        self.server: CourseServer = server() if callable(server) else server
        self.limiter, self.user = limiter, None

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
        self.answer(status, {"error": message, "status": status})

    def write_error(self, status_code: int, **kwargs) -> None:
        self.finish(json.dumps({"error": self._reason, "status": status_code}))

    async def authenticate(self) -> bool:
        header = self.request.headers.get("Authorization", "")
        token = header[7:].strip() if header.startswith("Bearer ") else ""
        if not token:
            self.refuse(401, "send your token: Authorization: Bearer <token> "
                             "(python -m autograder users add prints it)")
            return False
        if not self.limiter.allow(token[:16]):
            self.refuse(429, f"too many requests: at most {self.limiter.limit} a minute")
            return False
        self.user = await IOLoop.current().run_in_executor(None, self.server.user_by_token, token)
        if self.user is None:
            self.refuse(401, "this token is not valid (ask your instructor for a new one)")
            return False
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

    def prepare(self) -> None:
        self._chunks, self._size, self._too_big = [], 0, False
        if self.request.method != "POST":
            return
        length = self.request.headers.get("Content-Length")
        limit = MAX_UPLOAD + 64 * 1024  # the multipart envelope around the notebook
        if length and length.isdigit() and int(length) > limit:
            self.refuse(413, f"upload of {int(length) / 2**20:.1f} MiB is over the {MAX_UPLOAD // 2**20} MiB limit")

    def data_received(self, chunk: bytes) -> None:
        self._size += len(chunk)
        if self._size > MAX_UPLOAD + 64 * 1024:
            self._too_big, self._chunks = True, []
        elif not self._too_big:
            self._chunks.append(chunk)

    async def post(self, assignment: str) -> None:
        if not await self.authenticate():
            return
        if self._too_big:
            return self.refuse(413, f"the upload is over the {MAX_UPLOAD // 2**20} MiB limit")
        files: dict = {}
        parse_body_arguments(self.request.headers.get("Content-Type", ""), b"".join(self._chunks), {}, files)
        upload = (files.get("notebook") or [None])[0]
        if upload is None:
            return self.refuse(422, "expected a multipart/form-data upload with the notebook in the field 'notebook'")
        sid = await self.run(self.server.submit, self.user, assignment, upload.filename or "notebook.ipynb",
                             upload.body)
        if sid is not None:
            info = await self.run(self.server.submission, self.user, sid)
            self.set_header("Location", f"/api/v1/submissions/{sid}")
            self.answer(202, {"id": sid, "status": info["status"], "position": info["position"]})

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
        row = await self.run(self.server.submission, self.user, int(submission_id))
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
            except (ValueError, AttributeError):
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
    kw = {"server": server, "limiter": limiter or RateLimiter()}
    return [
        (rf"/api/v1/assignments/{NAME}/submissions", SubmissionsHandler, kw),
        (r"/api/v1/submissions/(\d{1,12})", SubmissionHandler, kw),
        (rf"/api/v1/assignments/{NAME}/analytics", AnalyticsHandler, kw),
        (rf"/api/v1/assignments/{NAME}/regrade", RegradeHandler, kw),
        (rf"/api/v1/assignments/{NAME}/grades\.csv", GradesCsvHandler, kw),
        (r"/api/.*", NotFoundApi, kw),
    ]
