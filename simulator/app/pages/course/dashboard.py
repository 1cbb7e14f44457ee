"""Instructor dashboard (``/course/dashboard?assignment=NAME``): scores, per-test pass rates, the class's
misconceptions (each diagnosed bug class with the students who hit it), submissions against the deadline,
regrading, exports, and the assignment's settings.

Numbers come from ``CourseServer.analytics`` (each student's latest graded submission); a student who opens
this page is told it is for instructors, and sees nothing of anyone's work.
"""

from __future__ import annotations

import html
import io
from datetime import UTC, datetime

import numpy as np
import panel as pn
from bokeh.models import ColumnDataSource, Span
from bokeh.plotting import figure

from autograder.server.submissions import LATE_POLICIES, RefusedError, released, settings
from simulator.app.pages.course import context
from simulator.app.pages.course.view import TABLE_CSS, sign_in_prompt

TITLE = "Dashboard"
SUMMARY = "For instructors: scores, pass rates and the class's misconceptions per assignment."
REFRESH_MS = 5000


def bug_table(bugs: list[dict]) -> str:
    if not bugs:
        return "<h3>Misconceptions</h3><p>No failing test yet.</p>"
    rows = "".join(f"<tr><td>{html.escape(b['bug_class'])}</td><td>{b['count']}</td>"
                   f"<td>{html.escape(', '.join(b['students']))}</td></tr>" for b in bugs)
    return ("<h3>Misconceptions</h3><p>The bug classes the feedback named, with the students who hit them (latest "
            "submission each). \"not named\": failing tests whose feedback fitted no known bug, and every failing "
            "hidden test (their feedback never names one).</p><table class='rnn-table'><thead><tr>"
            "<th scope='col'>Bug class</th>"
            f"<th scope='col'>Students</th><th scope='col'>Who</th></tr></thead><tbody>{rows}</tbody></table>")


def test_order(course, name: str) -> list[str]:
    """The assignment's test cells in notebook order (empty when its source cannot be read)."""
    from autograder.pipeline import CourseError, load_source

    try:
        return [c.grade_id for c in load_source(course, name) if c.kind == "test" and c.grade_id]
    except (CourseError, OSError):
        return []


def in_notebook_order(tests: list[dict], order: list[str]) -> list[dict]:
    """``tests`` as the notebook has them (tests the source no longer has last, by name)."""
    rank = {g: k for k, g in enumerate(order)}
    return sorted(tests, key=lambda t: (rank.get(t["grade_id"], len(rank)), t["grade_id"]))


class Dashboard:
    def __init__(self, assignment: str | None):
        self.server, self.user = context.server(), context.current_user()
        self.layout = pn.Column(sizing_mode="stretch_width")
        if self.server is None:
            self.layout.append(pn.pane.Markdown("This server has no course."))
            return
        if self.user is None:
            self.layout.append(sign_in_prompt("/course/dashboard", "Dashboard", SUMMARY,
                                              "Sign in with an instructor's account to see the class's numbers."))
            return
        if not self.user.is_instructor:
            self.layout.append(pn.pane.Markdown("## Dashboard\nThis page is for instructors. "
                                                "[Your submissions](/course) are on the course page."))
            return
        names = released(self.server.course)
        self.assignment = pn.widgets.Select(name="Assignment", options=names,
                                            value=assignment if assignment in names else (names[0] if names else None))
        self.summary = pn.pane.Markdown("")
        self.message = pn.pane.Alert("", visible=False)
        self.bugs = pn.pane.HTML("", stylesheets=[TABLE_CSS], sizing_mode="stretch_width")
        self._figures()
        regrade = pn.widgets.Button(name="Regrade all", button_type="warning", height=40)
        regrade.on_click(self._regrade)
        export = pn.widgets.Button(name="Export to nbgrader's gradebook", height=40)
        export.on_click(self._export)
        self.csv = pn.widgets.FileDownload(callback=self._csv, filename="grades.csv", label="Download grades.csv",
                                           height=40, button_type="light")
        self.closed = pn.widgets.Checkbox(name="Closed for submissions")
        self.deadline = pn.widgets.DatetimeInput(name="Deadline (UTC)", value=None, width=220)
        self.late = pn.widgets.Select(name="Late submissions", options=list(LATE_POLICIES), width=120)
        self.max_subs = pn.widgets.IntInput(name="Maximum submissions (0 = no limit)", start=0, value=0, width=220)
        save = pn.widgets.Button(name="Save settings", height=40)
        save.on_click(self._save)
        # nothing to act on before a release: the buttons would only fail; the summary says how to release one
        for widget in (regrade, export, self.csv, save):
            widget.disabled = not names
        self.assignment.param.watch(lambda _e: self.refresh(load_settings=True), "value")
        self.layout.extend([
            pn.pane.Markdown("## Dashboard · [Course](/course)"),
            pn.Row(self.assignment, regrade, export, self.csv),
            self.message, self.summary,
            pn.Row(self.hist, self.rates),
            self.bugs,
            self.timeline,
            pn.pane.Markdown("### Settings"),
            pn.Row(self.closed, self.deadline, self.late, self.max_subs, save),
        ])
        self.summary.object = "Reading the numbers…"
        context.when_loaded(lambda: self.refresh(load_settings=True), self._first)
        pn.state.add_periodic_callback(self._tick, period=REFRESH_MS)

    def _figures(self) -> None:
        self.hist_src = ColumnDataSource({"x": [], "width": [], "count": []})
        self.hist = figure(title="Scores (latest submission per student)", height=260, width=420,
                           x_axis_label="score", y_axis_label="students", toolbar_location=None)
        self.hist.vbar(x="x", width="width", top="count", source=self.hist_src, color="#3b6ea5")
        self.rate_src = ColumnDataSource({"test": [], "rate": [], "label": []})
        self.rates = figure(title="Pass rate per test", height=260, width=520, y_range=[], x_range=(0, 1),
                            x_axis_label="share of students who pass", toolbar_location=None)
        self.rates.hbar(y="test", right="rate", height=0.7, source=self.rate_src, color="#4c9a5b")
        self.time_src = ColumnDataSource({"t": [], "n": []})
        self.timeline = figure(title="Submissions over time", height=240, width=960, x_axis_type="datetime",
                               y_axis_label="submissions so far", toolbar_location=None)
        self.timeline.step(x="t", y="n", source=self.time_src, mode="after", line_width=2)
        self.timeline.scatter(x="t", y="n", source=self.time_src, size=7)
        self.deadline_span = Span(location=0, dimension="height", line_color="#b00020", line_dash="dashed",
                                  line_width=2, visible=False)
        self.timeline.add_layout(self.deadline_span)

    def _fetch(self, name: str | None, load_settings: bool):
        """The dashboard's numbers (and settings) for ``name``: database work, called in a thread by the poll.

        A refusal (the assignment's release was withdrawn while the page was open) is returned as its sentence.
        """
        if not name:
            return None, None
        try:
            numbers = self.server.analytics(self.user, name)
            numbers["test_order"] = test_order(self.server.course, name)
            return numbers, settings(self.server.engine, name) if load_settings else None
        except RefusedError as exc:
            return exc.message, None

    def refresh(self, load_settings: bool = False) -> None:
        """Read and show the numbers now (the first drawing, a change of assignment, after saving settings)."""
        self._render(self.assignment.value, *self._fetch(self.assignment.value, load_settings))

    async def _first(self) -> None:
        name, doc = self.assignment.value, pn.state.curdoc
        numbers = await context.off_loop(self._fetch, name, True)
        # NB: the plots' sources are Bokeh models: changed under the document's lock, which an onload coroutine
        # does not hold after its await (a periodic callback does).
        doc.add_next_tick_callback(lambda: self._render(name, *numbers))

    async def _tick(self) -> None:
        name = self.assignment.value
        self._render(name, *(await context.off_loop(self._fetch, name, False)))

    def _render(self, name: str | None, n: dict | None, s=None) -> None:
        if not name:
            self.summary.object = "No assignment has been released yet (`nbgrader generate_assignment NAME`)."
            return
        if name != self.assignment.value:  # the instructor picked another one while this was read
            return
        if isinstance(n, str):  # refused: say why in the page (never a traceback, never stale numbers unmarked)
            self.summary.object = f"**{html.escape(name)}**: {html.escape(n)}. Reload the page."
            return
        edges, counts = n["histogram"]["edges"], n["histogram"]["counts"]
        self.hist_src.data = {"x": [(a + b) / 2 for a, b in zip(edges[:-1], edges[1:], strict=True)],
                              "width": [(b - a) * 0.9 for a, b in zip(edges[:-1], edges[1:], strict=True)],
                              "count": counts}
        tests = in_notebook_order(n["tests"], n.get("test_order", []))
        self.rates.y_range.factors = [t["grade_id"] for t in tests][::-1]  # Bokeh puts the first factor at the bottom
        self.rate_src.data = {"test": [t["grade_id"] for t in tests], "rate": [t["pass_rate"] for t in tests],
                              "label": [f"{t['passed']}/{t['students']}" for t in tests]}
        times = n["submissions_over_time"]
        self.time_src.data = {"t": [t * 1000 for t in times], "n": list(np.arange(1, len(times) + 1))}
        self.deadline_span.visible = n["deadline"] is not None
        if n["deadline"] is not None:
            self.deadline_span.location = n["deadline"] * 1000
        mean = "" if n["mean_score"] is None else f", mean score {n['mean_score']:.2f} / {n['max_score']:g}"
        status = ", ".join(f"{v} {k}" for k, v in sorted(n["status"].items())) or "no submissions"
        who = f"{n['students']} student{'s' if n['students'] != 1 else ''} graded"
        self.summary.object = f"**{html.escape(name)}**: {who}{mean} · {status}"
        self.bugs.object = bug_table(n["bug_classes"])
        if s is not None:
            self.closed.value, self.late.value = s.closed, s.late_policy
            self.max_subs.value = s.max_submissions or 0
            self.deadline.value = (datetime.fromtimestamp(s.deadline, tz=UTC).replace(tzinfo=None)
                                   if s.deadline else None)

    def _say(self, text: str, kind: str) -> None:
        self.message.object, self.message.alert_type, self.message.visible = text, kind, True

    def _chosen(self) -> str | None:
        """The assignment the buttons act on, or None after saying in the page that there is none."""
        if not self.assignment.value:
            self._say("No assignment is released yet: release one with `nbgrader generate_assignment NAME` in the "
                      "course directory, then reload this page.", "warning")
            return None
        return self.assignment.value

    async def _regrade(self, _event=None) -> None:
        if (name := self._chosen()) is None:
            return
        try:
            n = await context.off_loop(self.server.regrade, self.user, name)
        except (RefusedError, ValueError) as exc:
            self._say(f"Regrade failed: {html.escape(str(exc))}", "danger")
            return
        what = (f"{n} submission{'s' if n != 1 else ''} of **{html.escape(name)}** queued for regrading; the numbers "
                "below follow as they are graded." if n else
                f"No graded submission of **{html.escape(name)}** to regrade yet.")
        self._say(what, "info")

    async def _export(self, _event=None) -> None:
        if self._chosen() is None:
            return
        try:
            n = await context.off_loop(self.server.export_gradebook, self.user, self.assignment.value)
        except (RefusedError, ValueError, OSError) as exc:
            self._say(f"Export failed: {html.escape(str(exc))}", "danger")
            return
        self._say(f"Recorded {n} students' latest grades in nbgrader's gradebook (`nbgrader export` and formgrader "
                  "read them).", "success")

    async def _csv(self) -> io.StringIO:
        """grades.csv, built in a thread (a class's latest reports are read and written; the loop serves everyone).

        A refusal is said in the page; the file downloaded then holds only that sentence (the widget always sends
        a file once clicked).
        """
        if (name := self._chosen()) is None:
            return io.StringIO("no assignment released yet\n")
        try:
            return io.StringIO(await context.off_loop(self.server.export_csv, self.user, name))
        except (RefusedError, ValueError) as exc:
            self._say(f"grades.csv could not be built: {html.escape(str(exc))}", "danger")
            return io.StringIO(f"grades.csv could not be built: {exc}\n")

    async def _save(self, _event=None) -> None:
        if self._chosen() is None:
            return
        deadline = self.deadline.value.replace(tzinfo=UTC).timestamp() if self.deadline.value else None
        try:
            await context.off_loop(self.server.configure, self.user, self.assignment.value,
                                   closed=bool(self.closed.value), deadline=deadline, late_policy=self.late.value,
                                   max_submissions=self.max_subs.value or None)
        except ValueError as exc:
            self._say(html.escape(str(exc)), "danger")
            return
        self._say("Settings saved.", "success")
        name = self.assignment.value
        self._render(name, *(await context.off_loop(self._fetch, name, False)))


def create():
    args = pn.state.session_args or {}
    raw = args.get("assignment", [b""])[0]
    return Dashboard(raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)).layout
