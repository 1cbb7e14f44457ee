"""The frame every page shares: a navigation bar with a link to each page, then the page."""

from __future__ import annotations

import panel as pn

from simulator.app.components.a11y import AccessibilityFixes
from simulator.app.registry import available_pages

NAV_STYLE = ("display:flex;align-items:center;gap:1.3em;font-size:15px;background:#24323f;padding:8px 16px;"
             "border-radius:6px")
LINK_STYLE = "color:#e8eef3;text-decoration:none"
CURRENT_STYLE = "color:#ffd966;font-weight:bold;text-decoration:none;border-bottom:2px solid #ffd966"


def nav_bar(current: str) -> pn.pane.HTML:
    """Links to every page; the current one is marked for the eye and for screen readers."""
    links = ['<span style="color:#fff;font-weight:bold;margin-right:0.8em">RNN simulator</span>']
    for slug, module in available_pages():
        if slug == current:
            links.append(f'<a href="/{slug}" aria-current="page" style="{CURRENT_STYLE}">{module.TITLE}</a>')
        else:
            links.append(f'<a href="/{slug}" style="{LINK_STYLE}">{module.TITLE}</a>')
    return pn.pane.HTML(f'<nav class="rnn-nav" aria-label="Pages" style="{NAV_STYLE}">' + "".join(links) + "</nav>",
                        sizing_mode="stretch_width")


def framed(slug: str, body) -> pn.Column:
    """The page body under the navigation bar, with the page-wide accessibility fixes."""
    return pn.Column(nav_bar(slug), body, AccessibilityFixes(), sizing_mode="stretch_width")
