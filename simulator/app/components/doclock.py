"""Run view updates that touch plain Bokeh models under the session's document lock.

Panel applies its own widgets' and panes' changes safely from any callback, but a change to a plain
Bokeh model (a ColumnDataSource, a Div, a range) must happen while the Bokeh session holds the
document lock. Button clicks and browser messages sometimes reach Python without it; then the
update is moved to the next tick of the event loop, which runs under the lock.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial, wraps

import panel as pn


def holds_lock(doc) -> bool:
    """True when changes to ``doc`` are safe now: no server session yet (page being built) or its lock held."""
    context = getattr(doc, "session_context", None)
    session = getattr(context, "session", None) if context is not None else None
    if session is None:
        return True
    return getattr(session, "_pending_writes", None) is not None  # Bokeh sets it only while the lock is held


def locked(method: Callable) -> Callable:
    """Decorate a view update: run it now if safe, else on the next tick of the session (under the lock)."""
    @wraps(method)
    def wrapper(*args, **kwargs):
        doc = pn.state.curdoc
        if doc is None or holds_lock(doc):
            return method(*args, **kwargs)
        doc.add_next_tick_callback(partial(method, *args, **kwargs))
        return None

    return wrapper
