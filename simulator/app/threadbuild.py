"""Build a new session's page in a worker thread, so the event loop keeps answering everyone else meanwhile.

Bokeh builds a session's document (``Application.initialize_document``: our page's Python, a few hundred
Bokeh models) inside ``ApplicationContext.create_session_if_needed``, synchronously, on the event loop that
serves every session of the process: about 0.4 s of CPU on /cell during which no other student's message is
answered. ``install`` replaces that method with one that runs ``initialize_document`` in a thread of a small
pool (``await asyncio.to_thread``-style, the context variables copied, so Panel's ``curdoc`` is the new
document) and goes on exactly as Bokeh does afterwards. The new document belongs to no session yet, so no other
code touches it while it is built; once built, Panel's record of which thread owns it is set back to the event
loop's thread (Panel treats a change from any other thread as unlocked and defers it), and only then does Bokeh
attach it to its session.

The thread still shares the GIL with the loop: Python hands the GIL over every ``sys.getswitchinterval()``
seconds (lowered to 1 ms while a build runs), so a message that arrives during a build is answered within a
few switch intervals per step of its handling, not after the whole build; with ``buildyield`` installed the
build also steps aside (sleeps) at its checkpoints while the loop has work.

Panel's shared state: a build writes ``state._views`` (every root it makes, ``Viewable.get_root``/``server_doc``)
while the loop may be destroying another session, whose ``panel.io.document._cleanup_doc`` walks
``list(state._views.items())``. That walk is not atomic: each item is a new tuple, so garbage collections run in
it and with them ``gc.callbacks`` (``gcpolicy._timed``), Python code at which the GIL passes to the build; a
root added meanwhile makes the walk raise "dictionary changed size during iteration" and the destroy stops
half-way. ``install`` therefore gives ``state._views`` iteration views of a copy (``dict.copy``: no Python code runs
while it copies). Other per-session state Panel keeps (``_thread_id_``, ``_locations``,
``_periodic``, ``_onload``, ...) is keyed by the new document, only read, written or popped one key at a time.
Bokeh's ``patch_curdoc`` keeps one process-wide stack, which the loop's callbacks push and pop: the build runs
with Panel's ``curdoc`` set to its document throughout (never falling back to that stack), and an application
whose handler itself patches it (a script or notebook, ``CodeHandler``) is built on the loop as Bokeh does.

The document's first serialisation moves too. A student's browser asks for the whole document once
(``PULL-DOC-REQ``) right after its websocket opens, and Bokeh answers it on the loop: ``Document.to_json`` of
about 300 models, 90 ms of CPU on /cell, during which nobody else is answered (with a class arriving one every
1.5 s this was most of the step-latency tail at N = 200). ``_build`` serialises the document in the thread,
right after building it, and the first pull is answered with that serialisation if nothing in the document
has changed since (``Prebuilt``: no change event, the same roots, model count and title, the document not
held); otherwise, and for every later pull, Bokeh serialises as it always does.

Not covered: code run by a page at build time that needs the running event loop itself (a page that calls
``IOLoop.current().add_callback`` while it is built would get the thread's loop) must use the document's
``add_next_tick_callback`` instead (Bokeh runs those once the session exists); the builds are CPU-bound, so
on a saturated machine they still take the cores' time (``joining.JoinGate`` bounds how much).
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import os
import sys
import threading
import weakref
from concurrent.futures import ThreadPoolExecutor

from bokeh.application.handlers.code import CodeHandler
from bokeh.document import Document
from bokeh.document.events import SessionCallbackAdded, SessionCallbackRemoved
from bokeh.model import Model
from bokeh.protocol.exceptions import ProtocolError
from bokeh.protocol.messages.pull_doc_reply import PullDoc, pull_doc_reply
from bokeh.server import contexts
from bokeh.server.session import ServerSession, _needs_document_lock
from bokeh.util.token import get_token_payload
from panel.io.state import set_curdoc, state
from tornado import gen

from simulator.app import buildyield

log = logging.getLogger(__name__)
SWITCH_DURING_BUILD = 0.001  # s: the GIL switch interval while a build runs
_POOL: ThreadPoolExecutor | None = None
_ORIGINAL = contexts.ApplicationContext.create_session_if_needed
_ORIGINAL_PULL = ServerSession._handle_pull
SESSION_CALLBACK_EVENTS = (SessionCallbackAdded, SessionCallbackRemoved)  # change nothing a pull sends
PULLS = {"prebuilt": 0, "fresh": 0}  # first pulls answered with the build thread's serialisation, or not
_builds = 0
_builds_lock = threading.Lock()


def enabled(environ: dict[str, str] | None = None) -> bool:
    """``RNN_BUILD_IN_THREAD``: ``1`` (default) or ``0``; ValueError naming it for anything else."""
    raw = (os.environ if environ is None else environ).get("RNN_BUILD_IN_THREAD", "1").strip()
    if raw not in ("0", "1"):
        raise ValueError(f"RNN_BUILD_IN_THREAD: got {raw[:40]!r}; expected 1 (build new pages in a thread) or 0")
    return raw == "1"


def _build(application, doc: Document, loop_thread: int, loop_idle: buildyield.Idle | None = None) -> None:
    """``application.initialize_document(doc)`` in this thread, then the document handed back to the loop's.

    While it builds, the thread gives way to the loop whenever the loop has work (``buildyield``, if installed).
    """
    global _builds
    with _builds_lock:
        if _builds == 0:
            _build.saved = sys.getswitchinterval()
            sys.setswitchinterval(min(_build.saved, SWITCH_DURING_BUILD))
        _builds += 1
    try:
        # NB: never Bokeh's curdoc(), whose patch stack the loop's callbacks push and pop
        with set_curdoc(doc), buildyield.building(loop_idle):
            application.initialize_document(doc)
        try:
            Prebuilt.attach(doc)
        except Exception:  # noqa: BLE001 - the pull then serialises on the loop, as Bokeh does
            log.exception("could not serialise a new document in the build thread")
    finally:
        state._thread_id_[doc] = loop_thread  # NB: callbacks run on the loop: its thread owns the document
        with _builds_lock:
            _builds -= 1
            if _builds == 0:
                sys.setswitchinterval(_build.saved)


_build.saved = sys.getswitchinterval()


class Prebuilt:
    """A document's serialisation made where it was built, valid until the document changes.

    Valid while: no change event has been triggered on the document (seen in ``trigger_on_change`` before a
    hold collects it: Panel's ``hold`` drops the events it collected on a session not yet connected, announcing
    none; a session callback added or removed is not serialised and changes nothing), it is not held, and its
    roots (identity), number of models, title, theme, config (``doc.config``, a model of no document: no event),
    document-level JS callbacks (``js_on_event``, no event) and the number of model classes known (a DataModel
    class defined since would be in Bokeh's ``defs``) are those it was serialised with. ``take`` hands it out
    once; then nothing refers to it (no reference cycle left for the collector).
    """

    def __init__(self, doc: Document):
        self.fingerprint = self._fingerprint(doc)
        self.serialized = doc.to_json()
        self.dirty = False

    @staticmethod
    def _fingerprint(doc: Document) -> tuple:
        js = tuple((name, tuple(map(id, cbs))) for name, cbs in doc.callbacks.js_event_callbacks.items())
        classes = len(Model.model_class_reverse_map)  # NB: every DataModel class known is sent (``defs``)
        config = tuple(doc.config.properties_with_values(include_defaults=False).items())  # in no doc: no event
        return tuple(id(r) for r in doc.roots), len(doc.models), doc.title, id(doc.theme), js, classes, config

    @classmethod
    def attach(cls, doc: Document) -> None:
        prebuilt = cls(doc)
        trigger = doc.callbacks.trigger_on_change

        def trigger_on_change(event) -> None:  # NB: on the instance, removed by take; every event, held or not
            if not isinstance(event, SESSION_CALLBACK_EVENTS):  # not serialised (Panel's one-shot gc timeout)
                prebuilt.dirty = True
            trigger(event)

        doc.callbacks.trigger_on_change = trigger_on_change
        doc._rnn_prebuilt = prebuilt

    @staticmethod
    def take(doc: Document):
        """The serialisation made at build time if it still describes ``doc`` exactly, else None (once)."""
        prebuilt = getattr(doc, "_rnn_prebuilt", None)
        if prebuilt is None:
            return None
        doc._rnn_prebuilt = None
        vars(doc.callbacks).pop("trigger_on_change", None)
        held = getattr(doc.callbacks, "hold_value", None) is not None
        if prebuilt.dirty or held or prebuilt._fingerprint(doc) != prebuilt.fingerprint:
            return None
        return prebuilt.serialized


@_needs_document_lock
def _handle_pull(self, message, connection):
    """Bokeh's ``ServerSession._handle_pull`` under the same lock; a first pull gets the prebuilt serialisation."""
    serialized = Prebuilt.take(self.document)
    if serialized is None:
        PULLS["fresh"] += 1
        return _ORIGINAL_PULL.__wrapped__(self, message, connection)
    PULLS["prebuilt"] += 1
    reply = pull_doc_reply(pull_doc_reply.create_header(request_id=message.header["msgid"]), {},
                           PullDoc(doc=serialized.content))
    reply.add_buffers(*serialized.buffers)
    return reply


class SnapshotDict(dict):
    """A dict whose ``items``/``keys``/``values`` are those of a copy taken in one C call (``dict.copy``).

    ``list(d.items())`` on a plain dict creates a tuple per item, so collections (and ``gc.callbacks``, Python
    code) run during it and another thread may add a key meanwhile: "dictionary changed size during
    iteration". A copy allocates no tracked objects while it copies. ``__iter__`` is left as dict's (``dict.copy``
    takes its fast path only then); Panel only walks ``state._views`` through ``items()``.
    """

    __slots__ = ()

    def items(self):
        return dict.copy(self).items()

    def keys(self):
        return dict.copy(self).keys()

    def values(self):
        return dict.copy(self).values()


def guard_shared_state() -> None:
    """Panel's ``state._views`` (class-level, written by builds, walked by the loop's destroys) as a SnapshotDict."""
    cls = type(state)
    if not isinstance(cls._views, SnapshotDict):
        cls._views = SnapshotDict(cls._views)


def _builds_on_loop(application) -> bool:
    """A handler that patches Bokeh's process-wide curdoc stack itself (script, notebook) must run on the loop."""
    return any(isinstance(h, CodeHandler) for h in getattr(application, "handlers", ()))


async def create_session_if_needed(self, session_id, request=None, token=None) -> ServerSession:
    """Bokeh's ``ApplicationContext.create_session_if_needed`` (3.9), with the document built in a thread."""
    if _builds_on_loop(self._application):
        return await _ORIGINAL(self, session_id, request=request, token=token)
    if len(session_id) == 0:
        raise ProtocolError("Session ID must not be empty")
    if session_id not in self._sessions and session_id not in self._pending_sessions:
        future = self._pending_sessions[session_id] = gen.Future()
        try:
            doc = Document()
            session_context = contexts.BokehSessionContext(session_id, self.server_context, doc,
                                                           logout_url=self._logout_url)
            if request is not None:
                payload = get_token_payload(token) if token else {}
                if "cookies" in payload and "headers" in payload and "Cookie" not in payload["headers"]:
                    payload["headers"]["Cookie"] = "; ".join(f"{k}={v}" for k, v in payload["cookies"].items())
                session_context._request = contexts._RequestProxy(request, arguments=payload.get("arguments"),
                                                                  cookies=payload.get("cookies"),
                                                                  headers=payload.get("headers"))
            session_context._token = token
            doc._session_context = weakref.ref(session_context)
            try:
                await self._application.on_session_created(session_context)
            except Exception as e:  # noqa: BLE001 - as Bokeh does: a failing hook is logged, the session still made
                log.error("Failed to run session creation hooks %r", e, exc_info=True)
            context = contextvars.copy_context()
            loop = asyncio.get_running_loop()
            await loop.run_in_executor(_pool(), context.run, _build, self._application, doc, threading.get_ident(),
                                       buildyield.watch(loop))
            session = ServerSession(session_id, doc, io_loop=self._loop, token=token)
        except BaseException as exc:
            del self._pending_sessions[session_id]
            future.set_exception(exc)
            future.exception()  # NB: retrieved here, so a build nobody else awaited logs no "never retrieved"
            raise
        del self._pending_sessions[session_id]
        self._sessions[session_id] = session
        session_context._set_session(session)
        self._session_contexts[session_id] = session_context
        future.set_result(session)
    if session_id in self._pending_sessions:
        return await self._pending_sessions[session_id]
    return self._sessions[session_id]


def _pool() -> ThreadPoolExecutor:
    global _POOL
    if _POOL is None:  # NB: made on first use, after the fork, so each server process has its own thread
        _POOL = ThreadPoolExecutor(max_workers=1, thread_name_prefix="rnn-page-build")
    return _POOL


def install(on: bool | None = None) -> bool:
    """Build sessions in a thread (``on``, default ``RNN_BUILD_IN_THREAD``) or as Bokeh does; returns ``on``."""
    on = enabled() if on is None else on
    if on:
        guard_shared_state()
    contexts.ApplicationContext.create_session_if_needed = create_session_if_needed if on else _ORIGINAL
    ServerSession._handle_pull = _handle_pull if on else _ORIGINAL_PULL
    return on
