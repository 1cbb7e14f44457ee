"""What one callback changes in a page reaches the browser as one PATCH-DOC message, not one message per change.

Bokeh's server session sends a PATCH-DOC for every single change of the document (``ServerSession.
_document_patched``), each one serialised on its own (a reference table of every model in the document is built
for each) and written as three or more websocket frames. A Cell page setting change (H, say) changes about
twenty properties, so it cost twenty messages: measured under load, 0.5-0.9 ms each to build, as much again to
write.

Every change Bokeh sends happens while the session holds its document lock, and Bokeh writes the messages only
once the locked callback has returned (its "pending writes"). ``install()`` keeps that order and that moment,
and groups the messages: the first change of a locked section puts one pending write in Bokeh's list; each
change of the section is serialised at once, when it is made, as Bokeh serialises it (a column's data is read
at the change: a ``data`` replaced and then streamed or patched in the same callback is sent as it was at each
step), with one serialiser for the section that asks the document which models the browser has
(``LiveSerializer``) instead of building a table of them. When Bokeh awaits the pending write, after the
callback, one PATCH-DOC holding every change of the section, in order, is written to each connection. As in
Bokeh:

- a change that a browser's own message made (its ``setter`` is the session) is not sent back to that
  browser, but it still reaches the session's other connections;
- a model new to the browser is sent in full the first time a change refers to it (and counts as the
  browser's from then on, for other messages too);
- a change that cannot be serialised raises where it is made.

**Off by default** (``RNN_PATCH_BATCH=1`` turns it on; any value other than 0 or 1 is refused in one line). With
it on, the Cell page's switch to GRU made BokehJS throw while drawing ("Offset is outside the bounds of the
DataView", in a text glyph's colours, ``TextView.after_visuals``): BokehJS decodes a whole message before it
applies any of its changes, and some change of that redraw depends on one applied before it. Splitting the
message where a model is changed a second time did not cure it; the cause is not found, so it stays off until it
is (tests/browser/test_accessibility.py's keyboard walk shows the error). Not
covered: changes made outside the document lock (Panel's ``unlocked()``, which groups its own), and the
messages Bokeh itself sends (a document pulled, an ``OK``). It replaces a private method of Bokeh's
``ServerSession`` and reads ``_pending_writes``, ``_current_patch_connection``, ``_subscribed_connections``, a
connection's ``_socket`` and the document's ``_new_models``; tests/app/test_patchbatch.py checks them against
the installed Bokeh. (A first version serialised the changes after the callback: a column's data then went out
as it was at the end, and a stream or patch after it was applied twice in the browser.)
"""

from __future__ import annotations

import os

from bokeh.core.serialization import Serializer
from bokeh.model import Model
from bokeh.protocol.messages.patch_doc import PatchJson, patch_doc
from bokeh.server.session import ServerSession

ENV = "RNN_PATCH_BATCH"
DEFAULT = "0"  # off: see the module's note on BokehJS
_BATCH = "_rnn_patch_batch"  # the session's batch of its current locked section
_ORIGINAL = ServerSession._document_patched


def enabled(environ: dict[str, str] | None = None) -> bool:
    """Whether ``RNN_PATCH_BATCH`` asks for grouped patches (default 0: off); ValueError naming it otherwise."""
    text = (os.environ if environ is None else environ).get(ENV, DEFAULT).strip()
    if text not in ("0", "1"):
        raise ValueError(f"{ENV}: got {text!r}; expected 1 (one PATCH-DOC per locked callback) or 0 (off, the "
                         "default)")
    return text == "1"


class LiveSerializer(Serializer):
    """Bokeh's serialiser, told which models the browser has by the document itself, when it asks.

    Bokeh builds ``{id(model): ref}`` for every model of the document for each message; this answers
    ``has_ref``/``get_ref`` from the document's own records (the model is the document's, and not new), so the
    answer is the one a table built at that moment would give, at no cost per message.
    """

    def __init__(self, document):
        super().__init__()
        self._models = document.models

    def _synced(self, obj) -> bool:
        return (isinstance(obj, Model) and self._models.get_by_id(obj.id) is obj
                and obj not in self._models._new_models)

    def has_ref(self, obj) -> bool:
        return super().has_ref(obj) or self._synced(obj)

    def get_ref(self, obj):
        ref = super().get_ref(obj)
        if ref is None and self._synced(obj):
            return obj.ref
        return ref


class Batch:
    """The changes of one locked section of ``session``, serialised as they are made, sent as one message.

    ``events`` holds ``(rep, skipped)`` in the order the changes were made: the change as the browser reads it,
    and the connection that made it itself (it is not sent back there), or None.
    """

    def __init__(self, session, writes: list):
        self.session, self.writes = session, writes
        self.document = session.document
        self.serializer = LiveSerializer(self.document)
        self.events: list[tuple] = []

    def add(self, event, skipped) -> None:
        """Serialise ``event`` now (as Bokeh does), and count the models it sent in full as the browser's."""
        serializer = self.serializer
        rep = serializer.encode(event)
        self.document.models.flush_synced(lambda model: not serializer.has_ref(model))
        self.events.append((rep, skipped))

    def message(self, connection):
        """The PATCH-DOC of the section's changes for ``connection``; None when it has none."""
        reps = [rep for rep, skipped in self.events if skipped is not connection]
        if not reps:
            return None
        message = patch_doc(patch_doc.create_header(), {}, PatchJson(events=reps))
        message.add_buffers(*self.serializer.buffers)
        return message

    async def flush(self) -> None:
        """Write the message to each connection: awaited by Bokeh among its pending writes, after the callback."""
        if getattr(self.session, _BATCH, None) is self:
            setattr(self.session, _BATCH, None)
        for connection in list(self.session._subscribed_connections):
            message = self.message(connection)
            if message is not None:
                await connection._socket.send_message(message)


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
