"""Home page: what the simulator is and where to start."""

from __future__ import annotations

import panel as pn

from simulator.app.registry import available_pages

TITLE = "Home"
SUMMARY = "What this simulator is and where to start."
CARD = ("display:block;width:300px;padding:14px 16px;border:1px solid #d0d7de;border-radius:8px;"
        "text-decoration:none;color:#24323f;background:#fbfcfd")


def create() -> pn.viewable.Viewable:
    """The home page: two sentences on what to do, then one card per page."""
    cards = "".join(
        f'<a href="/{slug}" style="{CARD}"><div style="font-size:17px;font-weight:bold;margin-bottom:6px">'
        f"{m.TITLE} &rarr;</div><div style='font-size:14px;line-height:1.4'>{m.SUMMARY}</div></a>"
        for slug, m in available_pages() if slug)
    return pn.pane.HTML(
        "<h1>Recurrent neural networks, step by step</h1>"
        "<p style='font-size:16px;max-width:900px'>Start with <b>Cell</b>: choose RNN, LSTM or GRU and press "
        "<b>Step &#9654;</b> to watch every gate and state change with its exact numbers. Every control lives in "
        "the URL, so copy the address to share exactly what you see.</p>"
        f"<div style='display:flex;flex-wrap:wrap;gap:16px;margin-top:12px'>{cards}</div>"
        "<p style='color:#666;font-size:13px;margin-top:18px'>Every number comes from one NumPy reference "
        "implementation (the same one the exercises are graded against); nothing is precomputed. "
        "Then write the cells yourself: the course's notebooks (<code>rnn_cell</code>, <code>lstm_cell</code>, "
        "<code>gru_cell</code>, <code>bptt</code>, <code>architectures</code>, <code>crnn</code>) ask for the same "
        "functions with the same signatures, so a student's <code>lstm_step</code> drops into "
        "<code>simulator.sequence.forward</code> in place of the reference.</p>",
        sizing_mode="stretch_width",
    )
