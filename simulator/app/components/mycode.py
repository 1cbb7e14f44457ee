"""Pick "my code" (one of your submissions, or pasted code), run it through the course server, poll for the result.

The shared part of every "compare with my implementation" section (Cell page, BPTT lab, Architectures): the
submission list of the signed-in student for the assignments that define the function, a size-capped code
box, a Compare button, a status line read by screen readers, and a poll that never blocks the page. The
section supplies ``start(user, submission_id, code) -> Future`` and ``show(result)``; refusals (sign-in,
limits, another student's id) and failures become the status line.
"""

from __future__ import annotations

import html
import logging
from collections.abc import Callable

import panel as pn

from autograder.server.submissions import RefusedError, parse_id
from autograder.server.trace import TraceError
from simulator.app.pages.course import context

log = logging.getLogger(__name__)
POLL_MS = 200
MAX_PASTE = 64 * 1024
COLOURS = {"info": "#1a1a1a", "error": "#a10000", "ok": "#1e6b2e"}


def query_value(name: str) -> str:
    """The URL parameter ``name`` of this browser session ('' when absent or not text)."""
    raw = ((pn.state.session_args or {}).get(name) or [b""])[0]
    return raw.decode("utf-8", "replace")[:200] if isinstance(raw, bytes) else str(raw)[:200]


def _label(row: dict) -> str:
    score = f"{row['score']:g}/{row['max_score']:g}" if row["score"] is not None else row["status"]
    return f"#{row['id']} · {row['assignment']} · {score}"


class MyCode:
    """The picker, the button and the status; ``run()`` starts a comparison, ``show`` receives its result."""

    def __init__(self, assignments: Callable[[], tuple[str, ...]], start: Callable, show: Callable[[dict], None],
                 placeholder: str, wanted: str | None = None):
        self.server, self.user = context.server(), context.current_user()
        self.assignments, self.start, self.show = assignments, start, show
        self.future = None
        self._poll = None
        self.status = pn.pane.HTML("", sizing_mode="stretch_width")
        self.source = pn.widgets.Select(name="Your code", width=320)
        self.paste = pn.widgets.TextAreaInput(name="…or paste your function (at most 64 KiB)", height=160, width=520,
                                              max_length=MAX_PASTE, placeholder=placeholder)
        self.button = pn.widgets.Button(name="Compare", button_type="primary", width=140, height=40)
        self.button.on_click(lambda _e: self.run())
        self.refill()
        wanted_id = parse_id(wanted)
        if wanted_id is not None and wanted_id in self.source.values:
            self.source.value = wanted_id

    @property
    def controls(self) -> pn.Row:
        return pn.Row(self.source, self.paste, self.button)

    def intro(self) -> str:
        if self.server is None:
            return "This server has no course, so there is no code of yours to run."
        if self.user:
            return ""
        allowed = self.server.option("anonymous_compare", "off") == "on"
        guests = "" if allowed else " Guests cannot run pasted code here."
        return f" [Sign in](/login) to use one of your submissions.{guests}"

    def refill(self) -> None:
        """The signed-in student's submissions of the assignments that define the function, then "pasted code"."""
        options = {"pasted code": None}
        if self.server is not None and self.user is not None:
            try:
                rows = self.server.submissions_of(self.user, student=self.user.name)
            except Exception as exc:  # noqa: BLE001 - the section says so; the page keeps working
                log.warning("compare: cannot list submissions: %s", exc)
                rows = []
            wanted = self.assignments()
            options = {_label(r): r["id"] for r in rows if r["assignment"] in wanted
                       and r["student"] == self.user.name} | options
        self.source.options = options
        self.source.value = next(iter(options.values()))

    def say(self, text: str, kind: str = "info") -> None:
        self.status.object = f"<p role='status' aria-live='polite' style='color:{COLOURS[kind]}'>{text}</p>"

    def run(self) -> None:
        if self.server is None:
            return self.say("This server has no course.", "error")
        if self.future is not None and not self.future.done():
            return self.say("Your comparison is still running…")
        code = None if self.source.value is not None else self.paste.value
        if self.source.value is None and not (code or "").strip():
            return self.say("Paste your function first (or sign in and pick a submission).", "error")
        try:
            self.future = self.start(self.user, self.source.value, code)
        except RefusedError as exc:
            return self.say(html.escape(exc.message), "error")
        except Exception as exc:  # noqa: BLE001 - the page keeps working; the log gets one line
            log.warning("compare: cannot start: %s: %s", type(exc).__name__, exc)
            return self.say("This comparison cannot run on the page's current settings.", "error")
        if self.source.value is not None and pn.state.location is not None:
            pn.state.location.update_query(mine=self.source.value)
        self.say("Running your code in the sandbox…")
        if self._poll is None:
            self._poll = pn.state.add_periodic_callback(self.check, period=POLL_MS)

    def check(self) -> None:
        """Called by the poll: when the run is done, hand its result to the section (or say why it failed)."""
        if self.future is None or not self.future.done():
            return
        if self._poll is not None:
            self._poll.stop()
            self._poll = None
        try:
            result = self.future.result()
        except TraceError as exc:
            return self.say(html.escape(str(exc)), "error")
        except Exception as exc:  # noqa: BLE001 - the reference view stays usable; the log gets one line
            log.warning("compare: the run failed: %s", exc)
            return self.say("Your code could not be run right now; try again in a moment.", "error")
        self.show(result)
