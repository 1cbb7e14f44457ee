"""Home page: what the simulator is and where to start."""

from __future__ import annotations

import panel as pn

from simulator.app.registry import available_pages

TITLE = "Home"
SUMMARY = "What this simulator is and where to start."


def create() -> pn.viewable.Viewable:
    """The home page: two sentences on what to do, then one line per page."""
    items = "".join(f'<li><a href="/{slug}">{m.TITLE}</a>: {m.SUMMARY}</li>'
                    for slug, m in available_pages() if slug)
    return pn.pane.HTML(
        "<h1>Recurrent neural networks, step by step</h1>"
        "<p>Pick a page below, choose a cell (RNN, LSTM or GRU) and press <b>Step</b> to watch every "
        "gate and state change with its exact numbers. Every control lives in the URL, so copy the "
        "address to share exactly what you see.</p>"
        f"<ul>{items}</ul>",
        sizing_mode="stretch_width",
    )
