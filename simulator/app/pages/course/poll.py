"""One reading a second per process for every open course page that waits for a submission, sent only on change.

A student's course or feedback page follows their submission while it is queued or being graded. Each page had
its own Panel periodic callback: at 200 waiting students, 200 callbacks a second per process on the event loop,
each with Panel's busy-state bookkeeping and a document lock, its own hop to a thread for the database, and a
render (in run 3 of docs/classroom_course.md the loop was busy most of the time, the polls and their bookkeeping a
large share of it). ``Board`` does the same work as one task: every ``period`` seconds it reads every followed
page in **one** thread job (``page._fetch()``, each in its own ``try``), and only the pages whose reading differs
from what they last showed get a render, scheduled on their own document (``add_next_tick_callback``: under its
lock, with Panel's ``curdoc`` set to it). A page leaves the board when it stops waiting or its session ends (its
destroy callback; and a document torn down between the reading and the render, whose scheduling then raises:
only that page is dropped, the others are rendered).

A page follows the board only in a served session (a document with a session context): outside a server there is
no browser to update, and the page reads once when built. Not covered: readings are still one database query (or
two) per waiting page per period, in a thread; a page followed from a thread without a running event loop is
registered, and read once some page follows from the loop (course pages follow from the loop: their polls and
buttons run there).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import threading

import panel as pn

log = logging.getLogger(__name__)
PERIOD = 1.0  # s between two readings
_FAILED = object()  # a reading that raised: nothing is shown, the page is read again next time


class Board:
    """The pages waiting for a submission in this process: ``follow(page)``, ``forget(page)``; ``tick()`` reads.

    A page has ``_fetch() -> value`` (database work, run in a thread) and ``_render(value)`` (on its document).
    """

    def __init__(self, period: float = PERIOD, run_in_thread=None):
        self.period = period
        self._run_in_thread = run_in_thread
        self._pages: dict[int, tuple[object, object]] = {}  # id(page) -> (page, its document)
        self._shown: dict[int, object] = {}  # id(page) -> the last reading it was sent (or showed itself)
        self._lock = threading.Lock()
        self._task: asyncio.Task | None = None

    def __len__(self) -> int:
        return len(self._pages)

    def follow(self, page, shown=None, doc=None) -> bool:
        """Read ``page`` every period until forgotten (``shown``: what it shows now); False outside a server."""
        doc = doc if doc is not None else pn.state.curdoc
        if doc is None or getattr(doc, "session_context", None) is None:
            return False
        key = id(page)
        with self._lock:
            new = key not in self._pages
            self._pages[key] = (page, doc)
            self._shown[key] = shown
        if new:
            doc.on_session_destroyed(lambda _ctx, _page=page: self.forget(_page))
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return True
        if self._task is None or self._task.done():
            self._task = loop.create_task(self._run())
        return True

    def forget(self, page) -> None:
        with self._lock:
            self._pages.pop(id(page), None)
            self._shown.pop(id(page), None)

    def following(self, page) -> bool:
        return id(page) in self._pages

    async def _run(self) -> None:
        while self._pages:
            await asyncio.sleep(self.period)
            try:
                await self.tick()
            except Exception:  # noqa: BLE001 - the board keeps going; one line in the log
                log.exception("course pages' poll: a reading failed")

    async def tick(self) -> int:
        """Read every followed page once (one thread job) and render the changed ones; returns how many."""
        with self._lock:
            pages = list(self._pages.items())
        if not pages:
            return 0
        if self._run_in_thread is None:
            from simulator.app.pages.course.context import off_loop

            readings = await off_loop(_read_all, [page for _, (page, _) in pages])
        else:
            readings = await self._run_in_thread(_read_all, [page for _, (page, _) in pages])
        changed = 0
        for (key, (page, doc)), value in zip(pages, readings, strict=True):
            with self._lock:
                if key not in self._pages or value is _FAILED or self._shown.get(key) == value:
                    continue
                self._shown[key] = value
            try:
                doc.add_next_tick_callback(functools.partial(_render, page, value))
            except Exception:  # noqa: BLE001 - its session ended while it was read (Bokeh tore the document down)
                self.forget(page)
                continue
            changed += 1
        return changed


def _read_all(pages: list) -> list:
    out = []
    for page in pages:
        try:
            out.append(page._fetch())
        except Exception as exc:  # noqa: BLE001 - one page's failure is not everyone's
            log.warning("course pages' poll: %s could not be read: %r", type(page).__name__, exc)
            out.append(_FAILED)
    return out


def _render(page, value) -> None:
    """Show a reading on its page (on its document's next tick): a page that fails to show it logs one line."""
    try:
        page._render(value)
    except Exception as exc:  # noqa: BLE001 - one page's failure is not a traceback in everyone's log
        log.warning("course pages' poll: %s could not show its reading: %r", type(page).__name__, exc)


BOARD = Board()
