"""Home page: what the simulator is, where to start, and how students and instructors get into the course."""

from __future__ import annotations

import panel as pn

from simulator.app.registry import linked_pages

TITLE = "Home"
SUMMARY = "What this simulator is and where to start."
CARD = ("display:block;width:300px;padding:14px 16px;border:1px solid #d0d7de;border-radius:8px;"
        "text-decoration:none;color:#24323f;background:#fbfcfd")
NOTE = "font-size:14px;max-width:900px;line-height:1.5;color:#3d4752"  # 9.3:1 on white


def create() -> pn.viewable.Viewable:
    """The home page: two sentences on what to do, one card per page, then who needs an account and how."""
    cards = "".join(
        f'<a href="/{slug}" style="{CARD}"><h2 style="font-size:17px;margin:0 0 6px 0">{m.TITLE} &rarr;</h2>'
        f"<div style='font-size:14px;line-height:1.4'>{m.SUMMARY}</div></a>"
        for slug, m in linked_pages() if slug)
    course = any(slug == "course" for slug, _ in linked_pages())
    accounts = (
        "<p style='{NOTE}'><b>Accounts.</b> The simulator pages need none. The <b>Course</b> pages do: students "
        "open the set-up link their instructor sends (<code>/course/setup?user=...&amp;code=...</code>) and choose "
        "a password; an instructor creates accounts on the server with <code>python -m autograder users add NAME "
        "--role instructor</code> (or <code>users import roster.csv</code>), which prints each set-up link.</p>"
    ).replace("{NOTE}", NOTE) if course else ""
    return pn.pane.HTML(
        "<h1>Recurrent neural networks, step by step</h1>"
        "<p style='font-size:16px;max-width:900px'>Start with <b>Cell</b>: choose RNN, LSTM or GRU and press "
        "<b>Step &#9654;</b> (or the &rarr; key) to watch every gate and state change with its exact numbers. Every "
        "control lives in the URL, so copy the address to share exactly what you see.</p>"
        f"<div style='display:flex;flex-wrap:wrap;gap:16px;margin-top:12px'>{cards}</div>"
        f"{accounts}"
        f"<p style='{NOTE}'>Keyboard: Tab moves between controls (the first stop skips the page list), "
        "&larr; &rarr; step, Space plays or pauses, Home and End jump to the first and last step. On the Cell page, "
        "<b>Numbers as text</b> lists every vector's numbers at the current step for screen readers.</p>"
        f"<p style='{NOTE}'>Every number comes from one NumPy reference "
        "implementation (the same one the exercises are graded against); nothing is precomputed. "
        "Then write the cells yourself: the course's notebooks (<code>rnn_cell</code>, <code>lstm_cell</code>, "
        "<code>gru_cell</code>, <code>bptt</code>, <code>architectures</code>, <code>crnn</code>) ask for the same "
        "functions with the same signatures, so a student's <code>lstm_step</code> drops into "
        "<code>simulator.sequence.forward</code> in place of the reference.</p>",
        sizing_mode="stretch_width",
    )
