"""The frame every page shares: a navigation bar with a link to each page, then the page."""

from __future__ import annotations

import panel as pn

from simulator.app.registry import available_pages


def nav_bar(current: str) -> pn.pane.HTML:
    """Links to every page; the current one is marked for the eye and for screen readers."""
    links = []
    for slug, module in available_pages():
        attrs = ' aria-current="page" style="font-weight:bold;text-decoration:underline"' if slug == current else ""
        links.append(f'<a href="/{slug}"{attrs}>{module.TITLE}</a>')
    return pn.pane.HTML(
        '<nav class="rnn-nav" style="display:flex;gap:1.2em;font-size:1.05em">' + "".join(links) + "</nav>",
        sizing_mode="stretch_width",
    )


def framed(slug: str, body) -> pn.Column:
    """The page body under the navigation bar."""
    return pn.Column(nav_bar(slug), body, sizing_mode="stretch_width")
