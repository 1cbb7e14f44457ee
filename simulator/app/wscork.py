"""A Bokeh message leaves the server in as few TCP packets as its size needs, not one (or more) per frame.

Bokeh writes every protocol message as at least three websocket frames (its header, metadata and content, then
two per binary buffer), each one a ``send`` on the socket. On a server answering a class, most messages are
small (the ``OK`` for a step report, a patch of the URL), and each small frame was its own packet: measured
under load on /cell, writing the ``OK`` replies alone took 15 % of the server's CPU, most of it in the kernel
(on 127.0.0.1 the kernel also delivers each packet to the receiver inside the ``send``).

``install()`` wraps Bokeh's ``WSHandler.send_message``: while one message is written the socket is corked
(``TCP_CORK``), so the kernel gathers its frames, and it is uncorked when the message is written (or fails),
which sends them at once. Bokeh's own write lock already keeps one message's frames together; a message
longer than the socket's buffer still leaves as the kernel can send it. Linux only: where ``TCP_CORK`` does
not exist (or the socket refuses it) messages are written as before. ``RNN_WS_CORK=0`` turns it off (a
benchmark's A/B); any value other than 0 or 1 is refused in one line. Not covered: messages written by Panel
directly (``unlocked()``'s ``dispatch_tornado``), which still go frame by frame, and the HTTP answers.
"""

from __future__ import annotations

import functools
import os
import socket

from bokeh.server.views.ws import WSHandler

ENV = "RNN_WS_CORK"
CORK = getattr(socket, "TCP_CORK", None)


def enabled(environ: dict[str, str] | None = None) -> bool:
    """Whether ``RNN_WS_CORK`` asks for corked messages (default 1); ValueError naming it otherwise."""
    text = (os.environ if environ is None else environ).get(ENV, "1").strip()
    if text not in ("0", "1"):
        raise ValueError(f"{ENV}: got {text!r}; expected 1 (each message's frames sent together, the default) or 0")
    return text == "1"


def _socket_of(handler):
    connection = getattr(handler, "ws_connection", None)
    stream = getattr(connection, "stream", None)
    return getattr(stream, "socket", None)


def _cork(sock, on: bool) -> bool:
    try:
        sock.setsockopt(socket.IPPROTO_TCP, CORK, 1 if on else 0)
        return True
    except (OSError, AttributeError, TypeError):  # closed, not TCP, or a test's stand-in
        return False


_HELD = "_rnn_cork_held"  # set on a handler while send_together() holds its socket corked


def corked(send):
    """``send(handler, message)`` with the handler's socket corked while the message is written."""

    @functools.wraps(send)
    async def send_message(self, message):
        if getattr(self, _HELD, False):  # inside send_together(): the group uncorks once, at its end
            return await send(self, message)
        sock = _socket_of(self) if CORK is not None else None
        if sock is None or not _cork(sock, True):
            return await send(self, message)
        try:
            return await send(self, message)
        finally:
            _cork(sock, False)  # NB: always: a corked socket holds its last partial packet for up to 200 ms

    send_message._rnn_corked = True
    return send_message


async def send_together(handler, messages) -> None:
    """Write ``messages`` in order, each with ``handler.send_message``, their frames corked as one group.

    The socket is uncorked once, after the last message (or a failed one), so a group of small messages leaves
    in as few packets as its size needs. Where messages are not corked (``RNN_WS_CORK=0``, not Linux) or the
    socket cannot be, each is written as before.
    """
    sock = _socket_of(handler) if CORK is not None and getattr(handler.send_message, "_rnn_corked", False) else None
    held = sock is not None and not getattr(handler, _HELD, False) and _cork(sock, True)
    if held:
        setattr(handler, _HELD, True)
    try:
        for message in messages:
            await handler.send_message(message)
    finally:
        if held:
            setattr(handler, _HELD, False)
            _cork(sock, False)


def install(environ: dict[str, str] | None = None) -> bool:
    """Cork each Bokeh message's frames together (once per process); returns whether it is on."""
    if not enabled(environ) or CORK is None:
        return False
    if not getattr(WSHandler.send_message, "_rnn_corked", False):
        WSHandler.send_message = corked(WSHandler.send_message)
    return True
