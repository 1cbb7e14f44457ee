"""What one callback changes is serialised without a reference table per change and written as one group.

Bokeh's server session sends a PATCH-DOC for every single change of the document (``ServerSession.
_document_patched``), each serialised on its own with a reference table of every model in the document built
for it, and written as three or more websocket frames. A Cell page setting change (H, say) changes about twenty
properties: measured under load, 0.5-0.9 ms each to build, as much again to write.

Every change Bokeh sends happens while the session holds its document lock, and Bokeh writes the messages only
once the locked callback has returned (its "pending writes"). ``install()`` keeps that order and that moment:
the first change of a locked section puts one pending write in Bokeh's list; each change of the section is
serialised at once, when it is made, as Bokeh serialises it (a column's data is read at the change: a ``data``
replaced and then streamed or patched in the same callback is sent as it was at each step), with a serialiser
that asks the document which models the browser has (``LiveSerializer``) instead of building a table of them.
When Bokeh awaits the pending write, after the callback, each change is written to each connection as its own
PATCH-DOC, in order, the frames of all of them corked together (``wscork.send_together``: one group of
packets, not three per change). As in Bokeh:

- **one message per change**: BokehJS applies each message in its own task, so what a change starts in the
  browser (a glyph's data is set asynchronously: ``GlyphRendererView.set_data`` awaits the glyph's lazily built
  text labels) finishes before the next change arrives. A first version put a section's changes in one
  PATCH-DOC; BokehJS then applied them all in one task, and on the Cell page's switch to GRU a text glyph drew
  its new colours against its old labels ("Offset is outside the bounds of the DataView", ``TextView.
  after_visuals``, from a ``CDSView.masked`` change during another source's pending ``set_data``). Bokeh's
  protocol has no way to say "apply these as separate changes" inside one message;
- a change that a browser's own message made (its ``setter`` is the session) is not sent back to that
  browser, but it still reaches the session's other connections;
- a model new to the browser is sent in full the first time a change refers to it (and counts as the
  browser's from then on, for other messages too);
- a change that cannot be serialised raises where it is made.

On by default; ``RNN_PATCH_BATCH=0`` gives Bokeh's own (any value other than 0 or 1 is refused in one line).
Not covered: changes made outside the document lock (Panel's ``unlocked()``, which groups its own), and the
messages Bokeh itself sends (a document pulled, an ``OK``). It replaces a private method of Bokeh's
``ServerSession`` and reads ``_pending_writes``, ``_current_patch_connection``, ``_subscribed_connections``, a
connection's ``_socket`` and the document's ``_new_models``; tests/app/test_patchbatch.py checks them against
the installed Bokeh.
"""

from __future__ import annotations

import os

from bokeh.core.serialization import Serializer
from bokeh.model import Model
from bokeh.protocol.messages.patch_doc import PatchJson, patch_doc
from bokeh.server.session import ServerSession

from simulator.app import wscork

ENV = "RNN_PATCH_BATCH"
DEFAULT = "1"
_BATCH = "_rnn_patch_batch"  # the session's batch of its current locked section
_ORIGINAL = ServerSession._document_patched


def enabled(environ: dict[str, str] | None = None) -> bool:
    """Whether ``RNN_PATCH_BATCH`` asks for grouped patches (default 1: on); ValueError naming it otherwise."""
    text = (os.environ if environ is None else environ).get(ENV, DEFAULT).strip()
    if text not in ("0", "1"):
        raise ValueError(f"{ENV}: got {text!r}; expected 1 (a locked callback's changes serialised without "
                         "reference tables and written together, the default) or 0 (Bokeh's own)")
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
    """The changes of one locked section of ``session``, serialised as they are made, written as one group.

    ``events`` holds ``(rep, buffers, skipped)`` in the order the changes were made: the change as the browser
    reads it, the binary buffers it refers to, and the connection that made it itself (it is not sent back
    there), or None.
    """

    def __init__(self, session, writes: list):
        self.session, self.writes = session, writes
        self.document = session.document
        self.events: list[tuple] = []

    def add(self, event, skipped) -> None:
        """Serialise ``event`` now (as Bokeh does), and count the models it sent in full as the browser's.

        NB: a serialiser per change, as Bokeh has one per message: a serialiser keys what it has encoded by
        ``id(obj)`` without keeping the object alive, so one kept for a whole section sent a later change as
        a reference to a model encoded earlier and since freed, whose id the change's event object had taken
        (BokehJS: "unknown patch event type 'undefined'"). A model sent in full by one change is the browser's
        for the next one through the document's records (``flush_synced``), not through the serialiser.
        """
        serializer = LiveSerializer(self.document)
        rep = serializer.encode(event)
        self.document.models.flush_synced(lambda model: not serializer.has_ref(model))
        self.events.append((rep, serializer.buffers, skipped))

    def messages(self, connection) -> list:
        """One PATCH-DOC per change of the section that ``connection`` did not make itself, in order."""
        out = []
        for rep, buffers, skipped in self.events:
            if skipped is not connection:
                message = patch_doc(patch_doc.create_header(), {}, PatchJson(events=[rep]))
                message.add_buffers(*buffers)
                out.append(message)
        return out

    async def flush(self) -> None:
        """Write the messages to each connection: awaited by Bokeh among its pending writes, after the callback."""
        if getattr(self.session, _BATCH, None) is self:
            setattr(self.session, _BATCH, None)
        for connection in list(self.session._subscribed_connections):
            messages = self.messages(connection)
            if messages:
                await wscork.send_together(connection._socket, messages)


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
