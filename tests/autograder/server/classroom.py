"""A simulated classroom against a real ``serve.py``: many students behind one address sign in, open their pages,
submit, reload, and try each other's ids, while the instructor opens the dashboard, exports and regrades. Two in
ten students also open their own graded submission beside the reference (``/cell?kind=rnn&mine=ID``) and wait for the
comparison; a guest opens the home page every 3 s throughout, the page baseline.

Every student is a coroutine with its own cookie jar; all of them share one event loop, one client process and
the address 127.0.0.1, as a class behind one university NAT does. Pages are opened as a browser opens them: the
HTTP GET builds the Panel session, then a Bokeh websocket pulls the document and receives its live updates (the
feedback page's poll), so "feedback visible" is the moment the student's own page carries the score.

What it does *not* do: run JavaScript (nothing is rendered; the page's text is read from the Bokeh messages),
upload through the page's widget (submissions go through the JSON API with each student's token: the same
``CourseServer.submit`` the page calls; the page path is the browser tests'), or click dashboard buttons (the
instructor's regrade and exports use the API).

Used by ``tests/autograder/server/test_classroom.py`` (bounded, assertions) and ``benchmarks/classroom_course.py``
(latency percentiles).
"""

from __future__ import annotations

import asyncio
import json
import random
import re
import time
import uuid
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from urllib.parse import urlencode

from tornado.httpclient import AsyncHTTPClient, HTTPClientError, HTTPRequest
from tornado.websocket import websocket_connect

TOKEN = re.compile(r'"token"\s*:\s*"([^"]+)"')
XSRF = re.compile(r'name="_xsrf" value="([^"]+)"')
ALERT = re.compile(r'role="alert">([^<]*)<')
TIMEOUT = 180.0  # any single request: a bound against a hung test, not a performance claim


@dataclass
class Answer:
    status: int
    body: str
    headers: dict
    seconds: float

    def json(self):
        return json.loads(self.body)

    def said(self) -> str:
        """The error sentence of a form page or JSON answer, else the body's start."""
        if match := ALERT.search(self.body):
            return match.group(1)
        try:
            return str(json.loads(self.body).get("error"))
        except (ValueError, AttributeError):
            return self.body[:200]


@dataclass
class Browser:
    """One student's browser: a cookie jar, HTTP requests and pages (GET + Bokeh websocket)."""

    port: int
    cookies: dict[str, str] = field(default_factory=dict)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def request(self, method: str, path: str, body: bytes | str | None = None, headers: dict | None = None,
                      token: str | None = None) -> Answer:
        head = dict(headers or {})
        if self.cookies:
            head["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        if token:
            head["Authorization"] = f"Bearer {token}"
        req = HTTPRequest(self.base + path, method=method, body=body, headers=head, follow_redirects=False,
                          request_timeout=TIMEOUT, connect_timeout=TIMEOUT,
                          allow_nonstandard_methods=True)
        start = time.perf_counter()
        try:
            response = await AsyncHTTPClient().fetch(req, raise_error=False)
        except HTTPClientError as exc:  # pragma: no cover - raise_error=False answers statuses
            response = exc.response
        seconds = time.perf_counter() - start
        for raw in response.headers.get_list("Set-Cookie"):
            jar = SimpleCookie()
            jar.load(raw)
            for key, morsel in jar.items():
                if morsel["expires"] and "1970" in morsel["expires"] or morsel.value == "":
                    self.cookies.pop(key, None)
                else:
                    self.cookies[key] = morsel.value
        text = response.body.decode("utf-8", "replace") if response.body else ""
        return Answer(response.code, text, dict(response.headers.get_all()), seconds)

    async def sign_in(self, name: str, password: str) -> Answer:
        """GET the form (its CSRF token), POST it; the answer is the POST's (302 on success)."""
        form = await self.request("GET", "/login")
        match = XSRF.search(form.body)
        if form.status != 200 or not match:
            return form
        body = urlencode({"_xsrf": match.group(1), "username": name, "password": password, "next": "/course"})
        return await self.request("POST", "/login", body, {"Content-Type": "application/x-www-form-urlencoded"})

    async def open(self, path: str) -> Page:
        """Open a page as a browser does: the GET builds the session, the websocket pulls its document."""
        answer = await self.request("GET", path)
        page = Page(self, path, answer)
        if answer.status == 200 and (match := TOKEN.search(answer.body)):
            await page.connect(match.group(1))
        return page


class Page:
    """An open page: every text the server sent for it (the document, then its patches), searchable."""

    def __init__(self, browser: Browser, path: str, answer: Answer):
        self.browser, self.path, self.answer = browser, path, answer
        self.texts: list[str] = []
        self.ws = None
        self.error: str | None = None
        self._changed = asyncio.Event()
        self._reader: asyncio.Task | None = None
        self.connect_seconds = 0.0

    @property
    def text(self) -> str:
        return "\n".join(self.texts)

    async def connect(self, token: str) -> None:
        start = time.perf_counter()
        base = self.browser.base.replace("http", "ws", 1)
        app = self.path.split("?")[0].rstrip("/")  # the home page "/" has its websocket at "/ws"
        head = {"Origin": self.browser.base}
        if self.browser.cookies:
            head["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.browser.cookies.items())
        self.ws = await websocket_connect(HTTPRequest(f"{base}{app}/ws", headers=head, request_timeout=TIMEOUT,
                                                      connect_timeout=TIMEOUT), subprotocols=["bokeh", token],
                                          max_message_size=64 * 2**20)
        await self._read_message()  # ACK
        await self._send("PULL-DOC-REQ")
        while not any("doc" in t for t in self.texts[-1:]):
            if not await self._read_message():
                break
        # BokehJS announces that the document is rendered; Panel runs the page's onload callbacks then
        await self._send("PATCH-DOC", {"events": [{"kind": "MessageSent", "msg_type": "bokeh_event", "msg_data": {
            "type": "event", "name": "document_ready", "values": {"type": "map"}}}]})
        self.connect_seconds = time.perf_counter() - start
        self._reader = asyncio.ensure_future(self._read_forever())

    async def _send(self, msgtype: str, content: dict | None = None) -> None:
        header = {"msgid": uuid.uuid4().hex, "msgtype": msgtype}
        for part in (header, {}, content or {}):
            await self.ws.write_message(json.dumps(part))

    async def _read_message(self) -> bool:
        """One Bokeh message (header, metadata, content, then two frames per buffer); False when closed."""
        frames = []
        for _ in range(3):
            frame = await self.ws.read_message()
            if frame is None:
                return False
            frames.append(frame)
        header = json.loads(frames[0])
        for _ in range(2 * header.get("num_buffers", 0)):
            if await self.ws.read_message() is None:
                return False
        if header.get("msgtype") == "PATCH-DOC" or header.get("msgtype") == "PULL-DOC-REPLY":
            self.texts.append(frames[2] if isinstance(frames[2], str) else frames[2].decode("utf-8", "replace"))
            self._changed.set()
        return True

    async def _read_forever(self) -> None:
        try:
            while await self._read_message():
                pass
        except Exception as exc:  # noqa: BLE001 - recorded; the checks read it
            self.error = f"{type(exc).__name__}: {exc}"
        self._changed.set()

    async def wait_for(self, needle: str | re.Pattern, timeout: float) -> float | None:
        """Seconds until some text the server sent contains ``needle``; None if it did not within ``timeout``."""
        start = time.perf_counter()
        seen = 0
        while True:
            found = any((needle.search(t) if isinstance(needle, re.Pattern) else needle in t)
                        for t in self.texts[seen:])
            if found:
                return time.perf_counter() - start
            seen = max(0, len(self.texts) - 1)
            left = timeout - (time.perf_counter() - start)
            if left <= 0 or (self._reader is not None and self._reader.done()):
                return None
            self._changed.clear()
            try:
                await asyncio.wait_for(self._changed.wait(), left)
            except TimeoutError:
                return None

    def close(self) -> None:
        if self.ws is not None:
            self.ws.close()
        if self._reader is not None:
            self._reader.cancel()


def multipart(filename: str, data: bytes) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"notebook\"; filename=\"{filename}\"\r\n"
            "Content-Type: application/x-ipynb+json\r\n\r\n").encode() + data + f"\r\n--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"


@dataclass
class Student:
    name: str
    password: str
    token: str
    notebook: bytes
    kind: str = "once"  # once, twice, double (double click), malformed, typo (wrong password first), deadline
    offset: float = 0.0  # a "deadline" student submits at the deadline + offset seconds (the client's clock)
    ids: list[int] = field(default_factory=list)
    refused: list[tuple[int, str]] = field(default_factory=list)


@dataclass
class Run:
    """What the classroom measured and what went wrong (each problem one sentence)."""

    latencies: dict[str, list[float]] = field(default_factory=lambda: {
        "sign-in": [], "page": [], "course page": [], "feedback page": [], "submit-accepted": [],
        "feedback-visible": [], "cell compare page": [], "compare-visible": [], "home page": [], "trivial": []})
    problems: list[str] = field(default_factory=list)
    accepted: dict[int, str] = field(default_factory=dict)  # submission id -> student
    duplicates: list[tuple[str, list[int], list[int]]] = field(default_factory=list)  # (student, ids, answers' ids)
    regraded: list[int] = field(default_factory=list)
    compares_refused: int = 0  # /cell?mine= answered "the server is running its share of comparisons already"
    deadline: float | None = None
    seconds: float = 0.0

    def problem(self, text: str) -> None:
        self.problems.append(text)

    def page(self, page: Page, kind: str | None = None) -> None:
        """A page's latency (its GET, then its websocket's document): under "page", and under ``kind`` if given."""
        seconds = page.answer.seconds + page.connect_seconds
        self.latencies["page"].append(seconds)
        if kind:
            self.latencies[kind].append(seconds)


ASSIGNMENT = "rnn_cell"
GRADED = re.compile(r"Score: (?:&lt;strong&gt;|<strong>)")


async def _student(run: Run, student: Student, port: int, start_at: float, others: list[Student],
                   assignment: str, feedback_timeout: float) -> None:
    await asyncio.sleep(max(0.0, start_at - time.monotonic()))
    browser = Browser(port)
    if student.kind == "typo":
        wrong = await browser.sign_in(student.name, student.password + "x")
        if wrong.status != 401 or "Wrong user name or password" not in wrong.body:
            run.problem(f"{student.name}: a wrong password answered {wrong.status}: {wrong.said()!r}")
    signed = await browser.sign_in(student.name, student.password)
    if signed.status != 302 or "user" not in browser.cookies:
        run.problem(f"{student.name}: sign-in answered {signed.status}: {signed.said()!r}")
        return
    run.latencies["sign-in"].append(signed.seconds)
    course = await browser.open("/course")
    run.page(course, "course page")
    if f"Signed in as **{student.name}**" not in course.text and f"Signed in as &lt;strong&gt;{student.name}" \
            not in course.text and student.name not in course.text:
        run.problem(f"{student.name}: /course does not show who is signed in ({course.answer.status})")
    course.close()

    async def submit(data: bytes, filename: str = f"{ASSIGNMENT}.ipynb") -> Answer:
        body, ctype = multipart(filename, data)
        return await browser.request("POST", f"/api/v1/assignments/{assignment}/submissions", body,
                                     {"Content-Type": ctype}, token=student.token)

    async def accepted(answer: Answer) -> int | None:
        if answer.status in (200, 202):
            sid = answer.json()["id"]
            run.latencies["submit-accepted"].append(answer.seconds)
            run.accepted[sid] = student.name
            if sid not in student.ids:
                student.ids.append(sid)
            return sid
        student.refused.append((answer.status, answer.body))
        return None

    if student.kind == "malformed":
        bad = await submit(b'{"cells": [', filename=f"{ASSIGNMENT}.ipynb")
        if bad.status != 422 or "not a valid notebook" not in bad.body:
            run.problem(f"{student.name}: a truncated notebook answered {bad.status}: {bad.body[:200]!r}")
        wrong = await submit(b"print('hello')", filename="homework.py")
        if wrong.status != 422 or ".ipynb" not in wrong.body:
            run.problem(f"{student.name}: a .py file answered {wrong.status}: {wrong.body[:200]!r}")
    if student.kind == "deadline" and run.deadline is not None:  # sent just before or just after the deadline
        await asyncio.sleep(max(0.0, run.deadline + student.offset - time.time()))
    if student.kind == "double":  # a double click: the same upload twice at once
        answers = await asyncio.gather(submit(student.notebook), submit(student.notebook))
        ids = [await accepted(a) for a in answers]
        run.duplicates.append((student.name, list(student.ids), ids))
    else:
        await accepted(await submit(student.notebook))
    if not student.ids:
        run.problem(f"{student.name}: no submission accepted: {student.refused[:2]!r}")
        return
    sid = student.ids[0]
    sent = time.perf_counter()
    feedback = await browser.open(f"/course/feedback?id={sid}")
    run.page(feedback, "feedback page")
    waited = await feedback.wait_for(GRADED, feedback_timeout)
    if waited is None:
        run.problem(f"{student.name}: the feedback page of #{sid} showed no score within {feedback_timeout:.0f} s "
                    f"({feedback.error or 'no error'}; last text {feedback.text[-200:]!r})")
    else:
        run.latencies["feedback-visible"].append(time.perf_counter() - sent)
    _check_isolation(run, student, feedback.text, others, f"/course/feedback?id={sid}")
    feedback.close()
    # another student's ids: the API and the page answer like a missing id, and show nothing of theirs
    for other in random.sample(others, k=min(2, len(others))):
        for oid in other.ids[:1]:
            api = await browser.request("GET", f"/api/v1/submissions/{oid}", token=student.token)
            if api.status != 404 or other.name in api.body:
                run.problem(f"{student.name} read {other.name}'s #{oid} through the API: {api.status}")
            page = await browser.open(f"/course/feedback?id={oid}")
            await page.wait_for("of yours", 60)
            if f"No submission {oid} of yours" not in page.text and f"no submission {oid} of yours" not in page.text:
                run.problem(f"{student.name}: /course/feedback?id={oid} (of {other.name}) did not say it is not "
                            "theirs")
            _check_isolation(run, student, page.text, others, f"/course/feedback?id={oid}")
            page.close()
    listing = await browser.request("GET", f"/api/v1/assignments/{assignment}/submissions", token=student.token)
    if listing.status != 200 or any(r["student"] != student.name for r in listing.json()["submissions"]):
        run.problem(f"{student.name}: the submissions list holds another student's ({listing.status})")
    for method, path, body in (("GET", f"/api/v1/assignments/{assignment}/analytics", None),
                               ("GET", f"/api/v1/assignments/{assignment}/grades.csv", None),
                               ("POST", f"/api/v1/assignments/{assignment}/regrade",
                                json.dumps({"ids": [o.ids[0] for o in others[:3] if o.ids]}))):
        answer = await browser.request(method, path, body, {"Content-Type": "application/json"} if body else None,
                                       token=student.token)
        if answer.status != 403 or any(o.name in answer.body for o in others):
            run.problem(f"{student.name}: {method} {path} as a student answered {answer.status}")
    if student.kind == "malformed" and others and others[0].ids:
        # the instructor's page and the Cell page's compare of another's submission (mine=ID)
        for path in ("/course/dashboard", f"/cell?mine={others[0].ids[0]}"):
            page = await browser.open(path)
            await page.wait_for("for instructors" if "dashboard" in path else "Compare", 20)
            if "dashboard" in path and "This page is for instructors" not in page.text:
                run.problem(f"{student.name}: {path} did not say it is for instructors")
            _check_isolation(run, student, page.text, others, path)
            page.close()
    if student.kind == "twice":  # their own code animated beside the reference (the feedback's link into /cell)
        await _compare_own(run, student, browser, sid, others)
        await accepted(await submit(student.notebook + b"\n"))  # a changed notebook, a minute later
    reload = await browser.open("/course")  # reload
    run.page(reload, "course page")
    _check_isolation(run, student, reload.text, others, "/course")
    reload.close()


COMPARED = re.compile(r"matches the reference at every|first leaves the reference at step|ran \d+ of \d+ steps")
COMPARE_BUSY = re.compile(r"comparisons already|comparisons a minute|still running")


async def _compare_own(run: Run, student: Student, browser: Browser, sid: int, others: list[Student]) -> None:
    """Open ``/cell?mine=ID`` (the student's own graded submission) and wait until the page shows where their cell
    parts from the reference; a refusal because the server runs its share of comparisons already is counted,
    not a problem (the page says it, and the student presses Compare again)."""
    page = await browser.open(f"/cell?kind=rnn&mine={sid}")  # the feedback page's link (feedback.mine_link)
    run.page(page, "cell compare page")
    start = time.perf_counter()
    found = await page.wait_for(re.compile(f"{COMPARED.pattern}|{COMPARE_BUSY.pattern}"), 120)
    if found is None:
        run.problem(f"{student.name}: /cell?mine={sid} showed no comparison within 120 s "
                    f"({page.error or 'no error'}; last text {page.text[-200:]!r})")
    elif COMPARED.search(page.text):
        run.latencies["compare-visible"].append(time.perf_counter() - start)
    else:
        run.compares_refused += 1
    _check_isolation(run, student, page.text, others, f"/cell?mine={sid}")
    page.close()


def _check_isolation(run: Run, student: Student, text: str, others: list[Student], where: str) -> None:
    leaked = [o.name for o in others if o.name in text]
    if leaked:
        run.problem(f"{student.name}: {where} shows other students' names {leaked[:3]}")


async def _instructor(run: Run, port: int, name: str, password: str, token: str, assignment: str,
                      start_at: float, regrade_after: float, regrade_share: float) -> None:
    await asyncio.sleep(max(0.0, start_at - time.monotonic()))
    browser = Browser(port)
    signed = await browser.sign_in(name, password)
    if signed.status != 302:
        run.problem(f"instructor: sign-in answered {signed.status}")
        return
    dash = await browser.open(f"/course/dashboard?assignment={assignment}")
    run.page(dash)
    if await dash.wait_for("Misconceptions", 30) is None:
        run.problem(f"instructor: the dashboard shows no misconceptions table: {dash.text[-300:]!r}")
    await asyncio.sleep(max(0.0, start_at + regrade_after - time.monotonic()))
    for path in (f"/api/v1/assignments/{assignment}/analytics", f"/api/v1/assignments/{assignment}/grades.csv"):
        answer = await browser.request("GET", path, token=token)
        if answer.status != 200:
            run.problem(f"instructor: {path} answered {answer.status}: {answer.body[:200]!r}")
    graded, end = [], time.monotonic() + TIMEOUT
    while not graded and time.monotonic() < end:  # regrade while the class is still submitting, once some are done
        listing = await browser.request("GET", f"/api/v1/assignments/{assignment}/submissions", token=token)
        graded = [r["id"] for r in listing.json()["submissions"] if r["status"] == "graded"]
        if not graded:
            await asyncio.sleep(1.0)
    chosen = sorted(random.sample(graded, k=max(1, int(len(graded) * regrade_share)))) if graded else []
    if chosen:
        answer = await browser.request("POST", f"/api/v1/assignments/{assignment}/regrade",
                                       json.dumps({"ids": chosen}), {"Content-Type": "application/json"}, token)
        if answer.status != 202 or answer.json()["queued"] != len(chosen):
            run.problem(f"instructor: regrade of {len(chosen)} answered {answer.status}: {answer.body[:200]!r}")
        run.regraded = chosen
    dash.close()


async def _prober(run: Run, port: int, stop: asyncio.Event, period: float = 0.2) -> None:
    """A trivial request (an unknown API path: no database, no page) every ``period`` seconds."""
    browser = Browser(port)
    while not stop.is_set():
        answer = await browser.request("GET", "/api/v1/ping")
        if answer.status != 404:
            run.problem(f"the trivial request answered {answer.status}")
        run.latencies["trivial"].append(answer.seconds)
        try:
            await asyncio.wait_for(stop.wait(), period)
        except TimeoutError:
            pass


async def _home_prober(run: Run, port: int, stop: asyncio.Event, period: float = 3.0) -> None:
    """The baseline page: the simulator's home page opened as a browser opens it (GET, then the websocket's
    document) every ``period`` seconds by a guest, throughout the class."""
    browser = Browser(port)
    while not stop.is_set():
        try:
            home = await browser.open("/")
        except Exception as exc:  # noqa: BLE001 - one sentence in the run's problems, the class goes on
            run.problem(f"the home page could not be opened: {type(exc).__name__}: {exc}")
        else:
            if home.answer.status != 200 or not home.texts:
                run.problem(f"the home page answered {home.answer.status} ({home.error or 'no document'})")
            else:
                run.latencies["home page"].append(home.answer.seconds + home.connect_seconds)
            home.close()
        try:
            await asyncio.wait_for(stop.wait(), period)
        except TimeoutError:
            pass


async def classroom(port: int, students: list[Student], instructor: tuple[str, str, str], window: float,
                    assignment: str = ASSIGNMENT, feedback_timeout: float = 300.0, regrade_share: float = 0.1,
                    seed: int = 0, run: Run | None = None) -> Run:
    """Run the class: each student starts at a random moment of ``window`` seconds; the instructor at its start
    opens the dashboard and, half-way, exports and regrades ``regrade_share`` of the graded submissions."""
    AsyncHTTPClient.configure(None, max_clients=4 * len(students) + 16)
    random.seed(seed)
    run = run or Run()
    stop = asyncio.Event()
    probers = [asyncio.ensure_future(_prober(run, port, stop)), asyncio.ensure_future(_home_prober(run, port, stop))]
    t0 = time.monotonic()
    start = time.perf_counter()
    tasks = [_student(run, s, port, t0 + random.uniform(0, window), [o for o in students if o is not s],
                      assignment, feedback_timeout) for s in students]
    tasks.append(_instructor(run, port, *instructor, assignment, t0, window / 2, regrade_share))
    done = await asyncio.gather(*tasks, return_exceptions=True)
    for s, outcome in zip([*(s.name for s in students), "instructor"], done, strict=True):
        if isinstance(outcome, BaseException):
            run.problem(f"{s}: {type(outcome).__name__}: {outcome}")
    run.seconds = time.perf_counter() - start
    stop.set()
    await asyncio.gather(*probers)
    return run


def percentiles(values: list[float]) -> tuple[float, float, int]:
    """(p50, p95, n) of ``values`` in seconds (nan when empty)."""
    if not values:
        return float("nan"), float("nan"), 0
    ordered = sorted(values)
    pick = lambda q: ordered[min(len(ordered) - 1, int(q * len(ordered)))]  # noqa: E731
    return pick(0.50), pick(0.95), len(ordered)


KINDS = ("once", "twice", "double", "malformed", "typo", "deadline", "once", "twice", "once", "typo")
PASSWORD = "classroom-password"


def enrol(engine, n: int, notebooks: list[bytes], prefix: str = "pupil") -> tuple[list[Student], tuple[str, str, str]]:
    """``n`` students and an instructor with passwords (one scrypt hash shared, for set-up speed) and tokens.

    The kinds cycle through :data:`KINDS`; a third of the deadline students submit just before it, the others
    just after. Returns (students, (instructor name, password, token)).
    """
    from autograder.server import accounts, db

    stored = accounts.hash_password(PASSWORD)
    people = []
    for k in range(n):
        user, token, _ = accounts.add_user(engine, f"{prefix}{k:03d}", "student")
        kind = KINDS[k % len(KINDS)]
        offset = (-0.1 if (k // len(KINDS)) % 2 == 0 else 0.1) if kind == "deadline" else 0.0
        people.append(Student(user.name, PASSWORD, token, notebooks[k % len(notebooks)], kind, offset))
    prof, token, _ = accounts.add_user(engine, "prof", "instructor")
    with engine.begin() as conn:
        conn.execute(db.users.update().values(password_hash=stored))
    return people, (prof.name, PASSWORD, token)


def verify(engine, run: Run, students: list[Student]) -> list[str]:
    """After the queue drained: what the database says against what the students were told (one sentence each).

    Nothing lost (every accepted id is stored, graded and owned by whoever was told it), nothing extra (every
    stored submission was accepted by someone), each graded exactly once (one result per submission), lateness
    by the server's clock (late exactly when stored after the deadline), a double click recorded once.
    """
    import sqlalchemy as sa

    from autograder.server import db

    out = []
    with engine.connect() as conn:
        rows = {r.id: r for r in conn.execute(sa.select(db.submissions.c.id, db.submissions.c.status,
                                                        db.submissions.c.created, db.submissions.c.late,
                                                        db.users.c.name)
                                              .join(db.users, db.users.c.id == db.submissions.c.user_id))}
        results = [r.submission_id for r in conn.execute(sa.select(db.results.c.submission_id))]
    for sid, name in run.accepted.items():
        if sid not in rows:
            out.append(f"#{sid} was accepted for {name} and is not stored (lost)")
        elif rows[sid].name != name:
            out.append(f"#{sid} was accepted for {name} and is stored as {rows[sid].name}'s")
    extra = sorted(set(rows) - set(run.accepted))
    if extra:
        out.append(f"stored but never accepted: {extra[:10]}")
    not_graded = sorted(sid for sid, r in rows.items() if r.status != "graded")
    if not_graded:
        out.append(f"not graded: {[(sid, rows[sid].status) for sid in not_graded[:10]]}")
    counts: dict[int, int] = {}
    for sid in results:
        counts[sid] = counts.get(sid, 0) + 1
    twice = sorted(sid for sid, c in counts.items() if c > 1)
    missing = sorted(set(rows) - set(counts))
    if twice or missing:
        out.append(f"results recorded twice for {twice[:10]}, never for {missing[:10]}")
    if run.deadline is not None:
        wrong = [sid for sid, r in rows.items() if bool(r.late) != (r.created > run.deadline)]
        if wrong:
            out.append(f"late flag disagrees with the stored time for {wrong[:10]} (deadline {run.deadline:.3f})")
    for name, ids, answered in run.duplicates:
        if len(ids) != 1 or len(set(answered)) != 1:
            out.append(f"{name}'s double click was recorded as {ids} (answers {answered}): expected once")
    return out
