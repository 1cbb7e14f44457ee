"""Course page: sign in, submit a notebook for an open assignment, watch it queue and grade, open the feedback.

The page never grades: ``CourseServer.submit`` checks and queues the upload, the server's grading workers
run the sandboxed pipeline, and this page is read again once a second while something of yours is waiting
(with every other waiting page of the process: ``poll.BOARD``). Everything shown comes from the student's own
submissions (the server refuses any other).
"""

from __future__ import annotations

import html
import logging
import time
from datetime import UTC, datetime
from urllib.parse import urlencode

import panel as pn

from autograder.server.submissions import RefusedError, release_notebook, released, settings
from simulator.app.pages.course import context, poll
from simulator.app.pages.course.auth import COOKIE, sign_out_form
from simulator.app.pages.course.upload import NotebookUpload

# the sign-out button: keyboard reachable (a native button), a visible focus ring, well over 24 px tall
SIGN_OUT_CSS = """form.sign-out{margin:0} form.sign-out button{font:inherit;font-size:1rem;min-height:32px;
min-width:96px;padding:.3em 1em;border:1px solid #1f5fbf;border-radius:4px;background:#fff;color:#1f5fbf;cursor:pointer}
form.sign-out button:hover{background:#eef3fb} form.sign-out button:focus-visible{outline:3px solid #1f5fbf;
outline-offset:2px}"""
TITLE = "Course"
SUMMARY = "Sign in, submit your notebook, watch it being graded and read where your code goes wrong."
log = logging.getLogger(__name__)


def when(t: float | None) -> str:
    return datetime.fromtimestamp(t, tz=UTC).strftime("%Y-%m-%d %H:%M:%S UTC") if t else ""


def status_text(row: dict) -> str:
    if row["status"] == "queued":
        return f"queued (number {row['position']} in the queue)" if row["position"] else "queued"
    if row["status"] == "running":
        return "being graded"
    if row["status"] == "failed":
        return "could not be graded"
    return f"graded: {row['score']:g} / {row['max_score']:g}"


def submissions_table(rows: list[dict], student_column: bool = False) -> str:
    """An HTML table (readable by screen readers) of submissions with links to their feedback."""
    if not rows:
        return "<p>No submissions yet.</p>"
    head = "<th scope='col'>Student</th>" if student_column else ""
    body = []
    for row in rows:
        who = f"<td>{html.escape(row['student'])}</td>" if student_column else ""
        late = " (late)" if row["late"] else ""
        body.append(f"<tr><td><a href='/course/feedback?id={row['id']}'>#{row['id']}</a></td>{who}"
                    f"<td>{html.escape(row['assignment'])}</td><td>{when(row['created'])}{late}</td>"
                    f"<td>{html.escape(status_text(row))}</td></tr>")
    return ("<table class='rnn-table'><caption>Your submissions, newest first</caption><thead><tr>"
            f"<th scope='col'>Submission</th>{head}<th scope='col'>Assignment</th><th scope='col'>Submitted</th>"
            f"<th scope='col'>Status</th></tr></thead><tbody>{''.join(body)}</tbody></table>")


TABLE_CSS = """
.rnn-table{border-collapse:collapse;font-size:15px;margin-top:.5em}
.rnn-table caption{text-align:left;font-weight:bold;padding:.3em 0}
.rnn-table th,.rnn-table td{border-bottom:1px solid #c8ced3;padding:.35em .8em;text-align:left;vertical-align:top}
.rnn-table a{color:#1f4f99}
"""


SIGN_IN_CSS = """
.rnn-signed-out{font-size:16px;line-height:1.5;max-width:46em}
.rnn-signed-out h2{font-size:1.6em;margin:.3em 0 .4em}
.rnn-signed-out .rnn-cta{display:inline-block;box-sizing:border-box;min-height:44px;min-width:120px;margin:.3em 0 .6em;
  padding:.55em 1.6em;border-radius:6px;background:#1f4f99;color:#fff;font-weight:bold;text-align:center;
  text-decoration:none}
.rnn-signed-out .rnn-cta:hover{background:#163a73}
.rnn-signed-out .rnn-cta:focus-visible{outline:3px solid #ffd966;outline-offset:2px}
.rnn-signed-out a{color:#1f4f99}
"""


PURPOSE = ("Submit your notebook for each assignment, watch it being graded in a sandbox, and read where your code "
           "first leaves the reference.")


NOTICE_CSS = """
:host{background:#eef3fa;border-left:4px solid #1f4f99;border-radius:4px;padding:0 1em;color:#1a1a1a;font-size:15px}
a{color:#1f4f99} code{color:#1a1a1a;background:#dde6f2}
"""


def sign_in_prompt(next_url: str, title: str = "Course", purpose: str = PURPOSE,
                   ask: str = "Sign in to submit your notebooks and read your feedback.") -> pn.pane.HTML:
    """A signed-out page: its visible title, what it is for, a "Sign in" button that comes back to ``next_url``
    (encoded as one parameter: its own ``&`` stay inside it), and what to do without a password yet.
    """
    link = "/login?" + urlencode({"next": next_url})
    return pn.pane.HTML(
        f"<div class='rnn-signed-out'><h2>{html.escape(title)}</h2><p>{html.escape(purpose)}</p>"
        f"<p>{html.escape(ask)}</p>"
        f"<a class='rnn-cta' href='{html.escape(link, quote=True)}'>Sign in</a>"
        "<p>No password yet? Open the set-up link your instructor sent you: it sets your password and signs you in.</p>"
        "<p>The simulator's pages need no account: <a href='/'>start at the home page</a>.</p></div>",
        stylesheets=[SIGN_IN_CSS], sizing_mode="stretch_width")


def none_open_text(released_names: list[str], instructor: bool) -> str:
    """What the course page says instead of the upload form when no assignment is open for submissions.

    A student learns what to expect (the assignment appears here once it is released and open) and what to do
    meanwhile; an instructor learns how to release one, or how to reopen a closed one.
    """
    if not released_names:
        if instructor:
            return ("**No assignment is released yet.** Release one from the course directory with "
                    "`nbgrader generate_assignment NAME` (`NAME` is a folder under `source/`), then reload this page: "
                    "students will find it here, with an upload for their notebook.")
        return ("**No assignment is open yet.** When your instructor releases one, it appears here with an upload "
                "for your notebook; reload this page then. Meanwhile the [simulator's pages](/) need no account.")
    closed = ", ".join(f"**{html.escape(n)}**" for n in released_names)
    if instructor:
        return (f"**No assignment is open for submissions**: {closed} "
                f"{'is' if len(released_names) == 1 else 'are'} closed. Reopen one on the "
                "[dashboard](/course/dashboard) (Settings: untick *Closed for submissions*, then *Save settings*).")
    return (f"**No assignment is open for submissions**: {closed} {'is' if len(released_names) == 1 else 'are'} "
            "closed. Ask your instructor if you expected one to be open; your earlier submissions and their "
            "feedback are below.")


class CoursePage:
    """What one student sees: the open assignments, an upload, and their submissions with live status."""

    def __init__(self):
        self.server = context.server()
        self.user = context.current_user()
        self.message = pn.pane.Alert("", alert_type="info", visible=False)
        self.status = pn.pane.HTML("", stylesheets=[TABLE_CSS], sizing_mode="stretch_width")
        self.layout = pn.Column(sizing_mode="stretch_width")
        if self.server is None:
            self.layout.append(pn.pane.Markdown("This server has no course (started with `--no-course`)."))
            return
        if self.user is None:
            self.layout.append(sign_in_prompt("/course"))
            return
        self.pending: tuple[str, bytes] | None = None
        self._sending = False
        self.assignment = pn.widgets.Select(name="Assignment", options=[], width=260)
        self.upload = NotebookUpload(on_file=self._picked)
        self.picked = pn.pane.Markdown("No notebook chosen yet.")
        self.submit = pn.widgets.Button(name="Submit", button_type="primary", disabled=True, width=140, height=40)
        self.submit.on_click(self._submit)
        # the notebook to fill in, from the server itself (no shared folder or exchange needed)
        self.download = pn.widgets.FileDownload(callback=self._release, filename="notebook.ipynb", height=40,
                                                label="Download this assignment's notebook", color="light")
        self.assignment.param.watch(lambda e: setattr(self.download, "filename", f"{e.new}.ipynb"), "value")
        links = " · [Dashboard](/course/dashboard)" if self.user.is_instructor else ""
        # said when no assignment is open (a note in the page's own colours: Panel's info alert is below 4.5:1)
        self.none_open = pn.pane.Markdown("", visible=False, stylesheets=[NOTICE_CSS], sizing_mode="stretch_width")
        self.form = pn.Column(
            pn.pane.Markdown("Choose the assignment; no notebook yet? Download it, fill in every function where it "
                             "says `raise NotImplementedError()`, and run its test cells. Then choose your `.ipynb` "
                             "(at most 16 MiB) and press Submit. It is graded in a sandbox within seconds; your "
                             "feedback says where your code first leaves the reference and why."),
            pn.Row(self.assignment, self.download, pn.Column(self.upload, self.picked), self.submit),
            sizing_mode="stretch_width")
        self.layout.extend([
            pn.pane.Markdown(f"## Course\nSigned in as **{html.escape(self.user.name)}** ({self.user.role}){links}"),
            # a form posting to /logout with the session's token: a link (a GET) must never sign anyone out
            pn.pane.HTML(sign_out_form((pn.state.cookies or {}).get(COOKIE), pn.config.cookie_secret,
                                       oauth=bool(pn.config.oauth_provider)),
                         stylesheets=[SIGN_OUT_CSS], margin=(0, 10)),
            pn.pane.Markdown("### Submit a notebook"),
            self.none_open,
            self.form,
            self.message,
            self.status,
        ])
        self.status.object = "<p>Reading your submissions…</p>"
        context.when_loaded(self.refresh, self._load)

    def _assignments(self) -> tuple[list[str], list[str]]:
        """(released assignments, those open for submissions): reads the course folder and the database."""
        names = released(self.server.course)
        return names, [a for a in names if not settings(self.server.engine, a).closed]

    def _show_assignments(self, names: list[str], open_: list[str]) -> None:
        """The menu of open assignments, or, when none is open, why and what to do instead of an empty form."""
        self.assignment.options = open_
        if open_ and self.assignment.value not in open_:  # chosen here, not left to the browser's menu
            self.assignment.value = open_[0]
        self.form.visible = bool(open_)
        self.none_open.visible = not open_
        if open_:
            return
        self.submit.disabled = True
        self.none_open.object = none_open_text(names, self.user.is_instructor)

    async def _release(self):
        """The chosen assignment's released notebook (read in a thread), named as nbgrader named it."""
        import io

        try:
            filename, data = await context.off_loop(release_notebook, self.server.course, self.assignment.value)
        except (RefusedError, OSError, IndexError) as exc:
            log.warning("course page: release of %r not readable: %r", self.assignment.value, exc)
            self._say("This assignment's notebook cannot be read right now; ask your instructor for it.", "danger")
            return io.BytesIO(b"")
        self.download.filename = filename
        return io.BytesIO(data)

    def _say(self, text: str, kind: str = "info") -> None:
        self.message.object, self.message.alert_type, self.message.visible = text, kind, True

    def _picked(self, name: str, content: bytes | None, size: int) -> None:
        if content is None:
            self.pending = None
            self.submit.disabled = True
            self._say(f"{html.escape(name)}: {size / 2**20:.1f} MiB is over the 16 MiB limit; it was not sent.",
                      "danger")
            return
        self.pending = (name, content)
        self.picked.object = f"Chosen: **{html.escape(name)}** ({size / 1024:.0f} KiB)"
        self.submit.disabled = False
        self.message.visible = False

    async def _submit(self, _event=None) -> None:
        """Check and queue the notebook (parsing up to 16 MiB) in a thread: the event loop serves everyone."""
        received = time.time()  # the click reached the server: the submission's time (the server's clock)
        if self._sending:  # a second click while the first is being checked: the same submission, not another
            self._say("Your notebook is being sent already: one click is enough.", "info")
            return
        if self.pending is None or not self.assignment.value:
            self._say("Choose an open assignment and a notebook first.", "warning")
            return
        name, data = self.pending
        self._sending = True
        self.submit.disabled = True
        self._say("Checking your notebook…", "info")
        try:
            sid = await context.off_loop(self.server.submit, self.user, self.assignment.value, name, data, received)
        except RefusedError as exc:
            self.submit.disabled = False
            self._say(html.escape(exc.message), "danger")
            return
        except Exception as exc:  # noqa: BLE001 - never a traceback in the page; the log has the reason
            log.warning("course page: submission of %r by %s not accepted: %r", name[:80], self.user.name, exc)
            self.submit.disabled = False
            self._say("Your notebook could not be checked (nothing was stored): try again, or ask your "
                      "instructor.", "danger")
            return
        finally:
            self._sending = False
        self.pending = None
        self.submit.disabled = True
        self.picked.object = "No notebook chosen yet."
        if getattr(sid, "duplicate", False):
            self._say(f"This notebook is the same as submission #{sid}, sent {sid.seconds_after:.0f} s before: "
                      f"it is counted once. [Its feedback](/course/feedback?id={sid}).", "info")
        else:
            self._say(f"Submission #{sid} is queued. This page shows its status as it is graded; "
                      f"[its feedback](/course/feedback?id={sid}) opens when it is done.", "success")
            self._announced = int(sid)
        await self._tick()

    def _fetch(self) -> list[dict] | None:
        try:
            return self.server.submissions_of(self.user, student=self.user.name)  # "Your submissions", instructors too
        except Exception as exc:  # noqa: BLE001 - a database hiccup becomes a line in the page, not a traceback
            log.warning("course page: cannot read submissions: %s", exc)
            return None

    def refresh(self) -> None:
        """Read and show the open assignments and the submissions now (the page's first drawing outside a server)."""
        self._show_assignments(*self._assignments())
        self._render(self._fetch())

    async def _load(self) -> None:
        """The first drawing in a served page: the same readings, in a thread."""
        self._show_assignments(*(await context.off_loop(self._assignments)))
        await self._tick()

    async def _tick(self) -> None:
        """The poll: read in a thread, show on the loop."""
        self._render(await context.off_loop(self._fetch))

    def _render(self, rows: list[dict] | None) -> None:
        if rows is None:
            self.status.object = "<p>Your submissions cannot be read right now; this page tries again.</p>"
            return
        self.status.object = f"<div aria-live='polite'>{submissions_table(rows)}</div>"
        done = next((r for r in rows if r["id"] == getattr(self, "_announced", None)
                     and r["status"] not in ("queued", "running")), None)
        if done is not None:  # the "is queued" notice would stay up beside a graded row
            self._announced = None
            self._say(f"Submission #{done['id']} is {html.escape(status_text(done))}: "
                      f"[its feedback](/course/feedback?id={done['id']}).",
                      "success" if done["status"] == "graded" else "warning")
        waiting = any(r["status"] in ("queued", "running") for r in rows)
        if waiting:  # read again with every other waiting page of this process, once a second (poll.BOARD)
            poll.BOARD.follow(self, rows)
        else:
            poll.BOARD.forget(self)


def create():
    return CoursePage().layout
