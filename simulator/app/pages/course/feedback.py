"""Feedback page (``/course/feedback?id=N``): the score, each test's points and message, and for each failing
function a link that opens the simulator page where that function is drawn.

Only the submission's owner and instructors see it; any other id reads "no submission N of yours", the
same words as an id that does not exist. Messages are the grader's text, shown escaped in the page.
"""

from __future__ import annotations

import html
import re
from urllib.parse import urlencode

import panel as pn

from autograder.server.submissions import RefusedError, parse_id
from simulator.app.pages.course import context, poll
from simulator.app.pages.course.view import TABLE_CSS, sign_in_prompt, status_text, when

TITLE = "Feedback"
SUMMARY = "One graded submission: each test's points and message, with links into the simulator."

CELL_FUNCTIONS = re.compile(r"^(rnn|lstm|gru)_step")
ARCHITECTURES = ("one_to_one", "one_to_many", "many_to_one", "many_to_many", "encoder_decoder")
BPTT_FUNCTIONS = ("rnn_forward", "rnn_backward", "clip_gradients", "hidden_grad_norms", "spectral_radius")
CRNN_FUNCTIONS = ("conv2d", "maxpool", "frame_features", "crnn", "probe")
VECTOR = re.compile(r"\b(h|c|f|i|g|o|z|r|n|a)(?:_t)? differs\b")
UNIT = re.compile(r"\bunit (\d{1,2})\b")
VISIBLE_CASE = re.compile(r"\bvisible case (\d{1,2}) of \d+")
BATCH = re.compile(r"\bbatch (\d{1,2})\b")


def simulator_link(grade_id: str, message: str) -> tuple[str, str] | None:
    """(URL, label) of the simulator view of the function a test checks, or None when no page draws it.

    Cell tests open the Cell page with that cell, and with the vector and unit the message names first; a
    failure on a visible case opens that very case (its inputs, state and weights: ``case=kind:k:row``). Hidden
    cases are never reproduced: their link opens the cell with the page's own inputs.
    """
    name = grade_id.removeprefix("test_")
    if match := CELL_FUNCTIONS.match(name):
        query = {"kind": match.group(1)}
        if (case := VISIBLE_CASE.search(message or "")) and "hidden" not in name:
            row = BATCH.search(message or "")
            query["case"] = f"{match.group(1)}:{case.group(1)}:{row.group(1) if row else 0}"
        if vector := VECTOR.search(message or ""):
            query["gate"] = vector.group(1)
        if unit := UNIT.search(message or ""):
            query["unit"] = unit.group(1)
        label = ("open this very case in the Cell page, step by step" if "case" in query else
                 f"watch the {match.group(1).upper()} cell step by step")
        return f"/cell?{urlencode(query)}", label
    for arch in ARCHITECTURES:
        if name.startswith(arch):
            return f"/architectures?{urlencode({'arch': arch})}", f"see {arch.replace('_', '-')} unrolled"
    if name.startswith(BPTT_FUNCTIONS):
        return "/bptt", "walk the gradient back through time in the BPTT lab"
    if name.startswith(CRNN_FUNCTIONS):
        return "/crnn", "see the CRNN's stages frame by frame"
    return None


def mine_link(assignment: str, submission_id: int) -> tuple[str, str] | None:
    """(URL, label) of this submission's step function run beside the reference on the Cell page (``mine=ID``),
    for the cell assignments the page's comparison reads (``rnn_cell``, ``lstm_cell``, ``gru_cell``); else None.
    """
    kind = assignment.removesuffix("_cell")
    if assignment not in (f"{k}_cell" for k in ("rnn", "lstm", "gru")) or not isinstance(submission_id, int):
        return None
    return (f"/cell?{urlencode({'kind': kind, 'mine': submission_id})}",
            f"Watch your {kind}_step beside the reference, step by step, on the Cell page")


def tests_table(tests: list[dict]) -> str:
    rows = []
    for t in tests:
        passed = t["score"] >= t["max_score"]
        link = "" if passed else simulator_link(t["grade_id"], t.get("message", ""))
        more = f"<br><a href='{html.escape(link[0], quote=True)}'>{html.escape(link[1])}</a>" if link else ""
        text = "passed" if passed and t.get("message", "passed") == "passed" else t.get("message", "")
        rows.append(f"<tr><td>{html.escape(t['grade_id'])}</td><td>{t['score']:g} / {t['max_score']:g}"
                    f"{' ✓' if passed else ' ✗'}</td><td><pre style='white-space:pre-wrap;margin:0'>"
                    f"{html.escape(text)}</pre>{more}</td></tr>")
    return ("<table class='rnn-table'><caption>Tests, in notebook order</caption><thead><tr><th scope='col'>Test"
            "</th><th scope='col'>Points</th><th scope='col'>What the grader found</th></tr></thead>"
            f"<tbody>{''.join(rows)}</tbody></table>")


class FeedbackPage:
    def __init__(self, submission_id: str | None):
        self.server, self.user = context.server(), context.current_user()
        self.layout = pn.Column(sizing_mode="stretch_width")
        self.body = pn.pane.HTML("", stylesheets=[TABLE_CSS], sizing_mode="stretch_width")
        self.sid = submission_id
        if self.server is None:
            self.layout.append(pn.pane.Markdown("This server has no course."))
        elif self.user is None:
            self.layout.append(sign_in_prompt(f"/course/feedback?{urlencode({'id': (submission_id or '')[:40]})}",
                                              "Feedback", "The feedback on one of your submissions: its score, "
                                              "each test, and where your code first leaves the reference."))
        else:
            self.layout.extend([pn.pane.Markdown("## Feedback · [All your submissions](/course)"), self.body])
            self.body.object = "<p>Reading the submission…</p>"
            context.when_loaded(self.refresh, self._tick)

    def _fetch(self) -> dict | str:
        """The submission's row, or the sentence to show instead (database work: called in a thread by the poll)."""
        number = parse_id(self.sid)
        if number is None:
            return f"No submission {(self.sid or '(none given)')[:40]} of yours."
        try:
            return self.server.submission(self.user, number)
        except RefusedError as exc:
            return f"{exc.message}."

    def refresh(self) -> None:
        """Read and show the submission now (the page's first drawing)."""
        self._render(self._fetch())

    async def _tick(self) -> None:
        self._render(await context.off_loop(self._fetch))

    def _render(self, row: dict | str) -> None:
        if isinstance(row, str):
            self.body.object = f"<p>{html.escape(row)}</p>"
            return
        score = (f"<p style='font-size:20px;margin:.4em 0'>Score: <strong>{row['score']:g} / {row['max_score']:g}"
                 "</strong></p>" if row["status"] == "graded" else "")
        head = score + (f"<p><strong>#{row['id']}</strong> · {html.escape(row['assignment'])} · "
                f"{html.escape(row['student'])} · submitted {when(row['created'])}{' (late)' if row['late'] else ''}"
                f" · <strong>{html.escape(status_text(row))}</strong></p>")
        notes = "".join(f"<li>{html.escape(n)}</li>" for n in row["notes"])
        parts = [head]
        if row["error"]:
            parts.append(f"<p>Grading could not run: {html.escape(row['error'])}. Your instructor has been told; "
                         "submit again later.</p>")
        if row["tests"]:
            parts.append(tests_table(row["tests"]))
        if row["status"] == "graded" and (mine := mine_link(row["assignment"], row["id"])):
            parts.append(f"<p style='font-size:15px;margin-top:1em'><a style='color:#1f4f99' "
                         f"href='{html.escape(mine[0], quote=True)}'>{html.escape(mine[1])}</a></p>")
        if notes:
            parts.append(f"<p>Notes on your notebook:</p><ul>{notes}</ul>")
        self.body.object = "<div aria-live='polite'>" + "".join(parts) + "</div>"
        waiting = row["status"] in ("queued", "running")
        if waiting:  # read again with every other waiting page of this process, once a second (poll.BOARD)
            poll.BOARD.follow(self, row)
        else:
            poll.BOARD.forget(self)

def create():
    args = pn.state.session_args or {}
    raw = args.get("id", [b""])[0]
    return FeedbackPage(raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)).layout
