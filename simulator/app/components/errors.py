"""A message box for bad input: clear words in the page, a one-line warning in the log, never a traceback."""

from __future__ import annotations

import html
import logging

import panel as pn

log = logging.getLogger("simulator.app")
MAX_CHARS = 300


def clean(message: str) -> str:
    """The message as safe HTML text: escaped (URL values are hostile) and cut to a readable length."""
    text = str(message)
    if len(text) > MAX_CHARS:
        text = text[:MAX_CHARS] + "..."
    return html.escape(text)


class MessageBox:
    """An alert that lists what could not be applied and what was used instead; hidden when empty."""

    def __init__(self, **kwargs):
        self.pane = pn.pane.Alert("", alert_type="warning", visible=False, sizing_mode="stretch_width",
                                  css_classes=["rnn-message"], **kwargs)
        self.messages: list[str] = []

    def show(self, messages: list[str]) -> None:
        """Replace the shown messages (an empty list hides the box) and log each one as a warning."""
        new = [m for m in messages if m and m not in self.messages]
        self.messages = [m for m in messages if m]
        for m in new:
            log.warning("bad input: %s", m[:MAX_CHARS])
        body = "<br>".join(clean(m) for m in self.messages)
        self.pane.object = f'<div class="rnn-message-text">{body}</div>' if body else ""
        self.pane.visible = bool(self.messages)
