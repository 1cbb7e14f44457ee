"""The frame every page shares: a skip link and a navigation bar, then the page as the main landmark.

``page(slug, create)`` is what a route serves: the page ``create()`` builds, framed; if building it fails (a bug,
never bad input: bad input is a message inside the page), the frame shows a readable error instead of a blank
page, and the log gets one line.
"""

from __future__ import annotations

from collections.abc import Callable

import panel as pn
from panel.io.resources import LOCAL_DIST

from simulator.app.components.a11y import AccessibilityFixes
from simulator.app.components.errors import failure_panel
from simulator.app.registry import linked_pages, title_of

NAV_STYLE = ("display:flex;flex-wrap:wrap;align-items:center;gap:0.9em;font-size:15px;background:#24323f;"
             "padding:6px 16px;border-radius:6px")
LINK_STYLE = "color:#e8eef3;text-decoration:none;padding:4px 4px;display:inline-block"
CURRENT_STYLE = ("color:#ffd966;font-weight:bold;text-decoration:none;border-bottom:2px solid #ffd966;padding:4px 4px;"
                 "display:inline-block")
# The skip link is the page's first stop for the keyboard: hidden until it has the focus, then shown in the bar.
NAV_CSS = """
.rnn-skip { position: absolute; left: -10000px; width: 1px; height: 1px; overflow: hidden; }
.rnn-skip:focus { position: static; width: auto; height: auto; color: #24323f; background: #ffd966;
  padding: 4px 10px; border: 0; border-radius: 4px; font: bold 15px sans-serif; min-height: 28px; }
a:focus-visible, button:focus-visible { outline: 3px solid #ffd966 !important; outline-offset: 2px; }
"""


def nav_bar(current: str) -> pn.pane.HTML:
    """A skip link, then links to every page; the current one is marked for the eye and for screen readers."""
    # a button, not an in-page link: the target lives in another view's shadow root, where "#id" cannot reach
    links = ['<button type="button" class="rnn-skip">Skip to the page content</button>',
             '<span style="color:#fff;font-weight:bold;margin-right:0.8em">RNN simulator</span>']
    for slug, module in linked_pages():
        if slug == current:
            links.append(f'<a href="/{slug}" aria-current="page" style="{CURRENT_STYLE}">{module.TITLE}</a>')
        else:
            links.append(f'<a href="/{slug}" style="{LINK_STYLE}">{module.TITLE}</a>')
    return pn.pane.HTML(f'<nav class="rnn-nav" aria-label="Pages" style="{NAV_STYLE}">' + "".join(links) + "</nav>",
                        sizing_mode="stretch_width", css_classes=["rnn-nav-pane"], stylesheets=[NAV_CSS])


def framed(slug: str, body, title: str | None = None) -> pn.Column:
    """The page body under the navigation bar, with the page-wide accessibility fixes.

    The body becomes the page's ``main`` landmark and the skip link's target; the browser tab is titled
    "<title> - RNN simulator", ``title`` defaulting to the page's own (``AccessibilityFixes`` does both in the
    browser: the body is a Bokeh view).
    """
    tab = f"{title or title_of(slug)} - RNN simulator"
    _panel_css_from_this_server()
    return pn.Column(nav_bar(slug), body, AccessibilityFixes(page_title=tab),
                     sizing_mode="stretch_width", css_classes=["rnn-frame"])


def _panel_css_from_this_server() -> None:
    """Components added after load take their stylesheets from this server, not from Panel's CDN.

    Panel records where its CSS lives (``dist_url``) only while answering a page's GET; a session built when its
    websocket opens (``simulator/app/pagehtml.py``) has none, and Panel then links every component shown later
    (a message box, a new plot) to cdn.holoviz.org: unstyled on an offline classroom machine, and a request to a
    third party from every student's browser. Not covered: a server mounted under a URL prefix (serve.py has none).
    """
    doc = pn.state.curdoc
    if doc is None or doc.session_context is None or "dist_url" in doc._template_variables:
        return
    rel = pn.state.rel_path
    doc._template_variables["dist_url"] = f"{rel}/{LOCAL_DIST}" if rel else f"/{LOCAL_DIST}"


def page(slug: str, create: Callable[[], object], title: str | None = None) -> pn.Column:
    """``framed(slug, create(), title)``; if ``create`` raises, the frame holds ``errors.failure_panel`` instead."""
    try:
        body = create()
    except Exception as exc:  # noqa: BLE001 - any bug in a page becomes a readable page, not a blank one
        body = failure_panel(title or title_of(slug), exc)
    return framed(slug, body, title)
