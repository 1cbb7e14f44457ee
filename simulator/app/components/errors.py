"""A message box for bad input: clear words in the page, a one-line warning in the log, never a traceback."""

from __future__ import annotations

import html
import logging
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
