"""Errors in words a person can act on: the in-page message box for bad input, and the pages shown instead of
a page that failed (``failure_panel``) or an address that does not exist (``error_page``).

Every text names what was wrong and what was expected, and every error page links home. Bad input is never an
error page: it is a message in the page (``MessageBox``), which keeps working. A page that fails to build is a
bug of the simulator: the person gets a readable page (HTTP status 200, as Bokeh serves every page) and the log
gets one line naming the exception and its innermost frame, not a traceback (the browser tests fail on any
traceback in the server's log; rerun with ``RNN_TRACEBACKS=1`` to log the whole traceback).

Not covered: an exception after the page was built (a callback: Bokeh logs it) and errors of the course
server's JSON API (it answers JSON with its own messages).
"""

from __future__ import annotations

import html
import logging
import os
import traceback
from collections.abc import Callable

import panel as pn

log = logging.getLogger("simulator.app")
MAX_CHARS = 300
SOURCES = ("url", "field", "training", "input")  # where messages come from, in the order they are shown


def clean(message: str) -> str:
    """The message as safe HTML text: escaped (URL values are hostile) and cut to a readable length."""
    text = str(message)
    if len(text) > MAX_CHARS:
        text = text[:MAX_CHARS] + "..."
    return html.escape(text)


class MessageBox:
    """An alert that lists what could not be applied and what was used instead; hidden when empty.

    Pages report messages by source (``report("url", ...)``); the box shows them in the order of ``SOURCES``,
    then the lines ``extra()`` returns (e.g. the model's current error).
    """

    def __init__(self, extra: Callable[[], list[str]] | None = None, **kwargs):
        self.pane = pn.pane.Alert("", alert_type="warning", visible=False, sizing_mode="stretch_width",
                                  css_classes=["rnn-message"], **kwargs)
        self.messages: list[str] = []
        self._extra = extra
        self._reported: dict[str, list[str]] = {source: [] for source in SOURCES}

    def report(self, source: str, messages: list[str], append: bool = False) -> None:
        """Replace (or, with ``append``, extend) the messages of one source, then show them all."""
        kept = self.reported(source) if append else []
        self._reported[self._source(source)] = kept + list(messages)
        self.refresh()

    def reporter(self, source: str, append: bool = False) -> Callable[[list[str]], None]:
        """A callback that reports its messages as ``source`` (for fields, URL state and training controls)."""
        self._source(source)  # a wrong name fails now, not at the first message
        return lambda messages: self.report(source, messages, append=append)

    def reported(self, source: str) -> list[str]:
        """The messages one source holds now (a copy)."""
        return list(self._reported[self._source(source)])

    def refresh(self, *events) -> None:
        """Show every source's messages, then the extra lines (call it when those lines may have changed)."""
        extra = self._extra() if self._extra is not None else []
        self.show([m for source in SOURCES for m in self._reported[source]] + list(extra))

    def _source(self, source: str) -> str:
        if source not in self._reported:
            raise ValueError(f"source: got {source!r}; expected one of {', '.join(SOURCES)}")
        return source

    def show(self, messages: list[str]) -> None:
        """Replace the shown messages (an empty list hides the box) and log each one as a warning."""
        new = [m for m in messages if m and m not in self.messages]
        self.messages = [m for m in messages if m]
        for m in new:
            log.warning("bad input: %s", m[:MAX_CHARS])
        body = "<br>".join(clean(m) for m in self.messages)
        self.pane.object = f'<div class="rnn-message-text">{body}</div>' if body else ""
        self.pane.visible = bool(self.messages)


PAGE_CSS = ("font-family:system-ui,sans-serif;max-width:44em;margin:2em auto;padding:0 1em;line-height:1.5;"
            "color:#1f2328")


def error_page(status: int, title: str, what: str, expected: str, links: list[tuple[str, str]] = ()) -> str:
    """A whole HTML error page: ``title`` as its heading, then what was wrong, what was expected, a link home.

    ``what`` and ``expected`` are plain text (escaped here: they may carry a hostile address); ``links`` are
    (href, label) pairs of the app's own pages, listed under the text.
    """
    items = "".join(f'<li><a href="{html.escape(href)}">{html.escape(label)}</a></li>' for href, label in links)
    listing = f"<ul>{items}</ul>" if items else ""
    return ("<!doctype html>\n"
            f'<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)} ({status}) - RNN simulator'
            f'</title><meta name="viewport" content="width=device-width, initial-scale=1"></head>'
            f'<body style="{PAGE_CSS}"><main><h1>{html.escape(title)}</h1>'
            f"<p><b>What was wrong:</b> {clean(what)}</p><p><b>What was expected:</b> {clean(expected)}</p>"
            f'<p><a href="/">Go to the home page</a></p>{listing}</main></body></html>')


def failure_panel(page_title: str, exc: BaseException) -> pn.pane.HTML:
    """What a page that failed to build shows instead: what went wrong, what to do; one line in the log.

    The person sees the exception's type only (its message may name server paths); the log has the message.
    """
    frames = traceback.extract_tb(exc.__traceback__)
    where = f"{frames[-1].filename.rsplit('/', 1)[-1]}:{frames[-1].lineno}" if frames else "?"
    summary = f"{type(exc).__name__}: {exc}"
    if os.environ.get("RNN_TRACEBACKS"):
        log.error("the %s page failed to build", page_title, exc_info=exc)
    else:
        log.error("the %s page failed to build: %s (at %s)", page_title, summary[:MAX_CHARS], where)
    return pn.pane.HTML(
        f'<div role="alert" class="rnn-failure" style="max-width:48em">'
        f"<h1>The {clean(page_title)} page could not be built</h1>"
        f"<p><b>What was wrong:</b> the simulator itself failed ({clean(type(exc).__name__)}). This is a bug in the "
        "simulator, not in anything you typed or in the address.</p>"
        "<p><b>What was expected:</b> the page, with its controls. Reload to try again; if it fails again, "
        "tell your instructor (the server's log names the error).</p>"
        '<p><a href="/">Go to the home page</a></p></div>', sizing_mode="stretch_width")
