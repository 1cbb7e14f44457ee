"""What one callback changes in a page reaches the browser as one PATCH-DOC message, not one message per change.

Bokeh's server session sends a PATCH-DOC for every single change of the document (``ServerSession.
_document_patched``), each one serialised on its own (a reference table of every model in the document is built
for each) and written as three or more websocket frames. A Cell page setting change (H, say) changes about
eighteen properties, so it cost eighteen messages: measured under load, 0.5-0.9 ms each to build, as much
again to write, a third of the server's CPU per request.

Every change Bokeh sends happens while the session holds its document lock, and Bokeh writes the messages only
once the locked callback has returned (its "pending writes"). ``install()`` keeps that order and that moment,
and groups the messages: the first change of a locked section puts one pending write in Bokeh's list; the
section's later changes join it. When Bokeh awaits it, after the callback, it builds one PATCH-DOC with every
change of the section in the order they were made, and writes it to each connection of the session. As in
Bokeh:

- a change that a browser's own message made (its ``setter`` is the session) is not sent back to that
  browser, but it still reaches the session's other connections;
- models new to the browser are sent in full the first time a message refers to them.

A property set twice in one section is sent once, with its last value, where the later of the two changes was
made: a browser applies a message's changes in order, so it ends where the server ends. The values are read
when the message is built, after the callback, instead of at each change; a value changed in place in between,
without an event, reaches the browser as it is then, as the server holds it. When the grouped message cannot
be built (a value Bokeh cannot serialise), each change is sent alone, as before, and the one that fails is
logged and dropped, as Bokeh drops it.

``RNN_PATCH_BATCH=0`` turns it off (a benchmark's A/B); any value other than 0 or 1 is refused in one line. Not
covered: changes made outside the document lock (Panel's ``unlocked()``, which groups its own), and the
messages Bokeh itself sends (a document pulled, an ``OK``). It replaces a private method of Bokeh's
``ServerSession`` and reads ``_pending_writes``, ``_current_patch_connection``, ``_subscribed_connections`` and
a connection's ``_socket``; tests/app/test_patchbatch.py checks them against the installed Bokeh.
"""

from __future__ import annotations

import logging
import os

from bokeh.document.events import ModelChangedEvent
from bokeh.server.session import ServerSession

log = logging.getLogger(__name__)
ENV = "RNN_PATCH_BATCH"
_BATCH = "_rnn_patch_batch"  # the session's batch of its current locked section
_ORIGINAL = ServerSession._document_patched


def enabled(environ: dict[str, str] | None = None) -> bool:
    """Whether ``RNN_PATCH_BATCH`` asks for grouped patches (default 1); ValueError naming it otherwise."""
    text = (os.environ if environ is None else environ).get(ENV, "1").strip()
    if text not in ("0", "1"):
        raise ValueError(f"{ENV}: got {text!r}; expected 1 (one PATCH-DOC per locked callback, the default) or 0")
    return text == "1"


class Batch:
    """The changes of one locked section of ``session``, to be sent as one message per connection.

    ``events`` holds ``(event, skipped)`` in the order the changes were made; ``skipped`` is the connection that
    made the change itself (it is not sent back there), or None.
    """

    def __init__(self, session, writes: list):
        self.session, self.writes = session, writes
        self.events: list[tuple] = []

    def add(self, event, skipped) -> None:
        self.events.append((event, skipped))

    def for_connection(self, connection) -> list:
        """The section's changes for ``connection``, in order, a property set twice kept at its last change."""
        events = [event for event, skipped in self.events if skipped is not connection]
        last: dict = {}
        for i, event in enumerate(events):
            if type(event) is ModelChangedEvent:
                last[(id(event.model), event.attr)] = i
        return [event for i, event in enumerate(events)
                if type(event) is not ModelChangedEvent or last[(id(event.model), event.attr)] == i]

    async def flush(self) -> None:
        """Build and write the message(s): awaited by Bokeh among its pending writes, after the callback."""
        if getattr(self.session, _BATCH, None) is self:
            setattr(self.session, _BATCH, None)
        sent: dict[tuple, object] = {}  # connections given the same changes share one built message
        for connection in list(self.session._subscribed_connections):
            events = self.for_connection(connection)
            if not events:
                continue
            key = tuple(map(id, events))
            messages = sent.get(key)
            if messages is None:
                messages = sent[key] = _messages(connection, events)
            for message in messages:
                await connection._socket.send_message(message)


def _messages(connection, events: list) -> list:
    """One PATCH-DOC of ``events``; if it cannot be built, one per event, the ones that fail logged and left out."""
    try:
        return [connection.protocol.create("PATCH-DOC", events)]
    except Exception:
        out = []
        for event in events:
            try:
                out.append(connection.protocol.create("PATCH-DOC", [event]))
            except Exception:
                log.exception("a change could not be sent to the browser and was dropped: %r", event)
        return out


def _document_patched(self, event) -> None:
    """Bokeh's ``ServerSession._document_patched``, grouping the changes of each locked section."""
    writes = self._pending_writes
    if writes is None:  # no lock held: Bokeh's own error
        return _ORIGINAL(self, event)
    batch = getattr(self, _BATCH, None)
    if batch is None or batch.writes is not writes:  # the first change of this section
        batch = Batch(self, writes)
        setattr(self, _BATCH, batch)
        writes.append(batch.flush())  # NB: a coroutine; Bokeh awaits it after the callback, under the lock
    batch.add(event, self._current_patch_connection if event.setter is self else None)


def install(environ: dict[str, str] | None = None) -> bool:
    """Group each locked section's changes (once per process); returns whether they are grouped."""
    if not enabled(environ):
        return False
    ServerSession._document_patched = _document_patched
    return True


def uninstall() -> None:
    """Bokeh's own one message per change again (for tests)."""
    ServerSession._document_patched = _ORIGINAL
