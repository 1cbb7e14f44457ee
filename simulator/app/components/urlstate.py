"""Keep a Parameterized's settings in the page URL: read them (validated) on load, write them on change.

A malformed or hostile query value is never applied: it becomes a message naming the key, what was
received and what was expected, and the parameter keeps its default.

A write keeps the keys where they are in the URL (a key new to it goes at the end), so that a browser that
rewrites a key's value in place (the Cell page's step report, ``ClientPlayer``) ends with the text the server
writes. Inside ``shown_by_browser(search)``, a write whose URL is exactly ``search`` (what the reporting browser
already shows) updates the server's copy as Bokeh applies a change the browser made itself: it is not sent back
to that browser (one message per step saved). Any other URL is written as usual.
"""

from __future__ import annotations

import contextlib
import math
import threading
from collections.abc import Callable, Iterator, Mapping
from urllib.parse import parse_qsl, quote, urlencode

import panel as pn
import param

MAX_VALUE_CHARS = 1000  # above every text a page accepts (a sentence: 300), so a written URL reopens
TRUE, FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off")


def _shown(raw: str) -> str:
    return repr(raw if len(raw) <= 40 else raw[:40] + "...")


def parse_value(p: param.Parameter, key: str, raw: str):
    """``raw`` (URL text) as a value of parameter ``p``; ``ValueError`` naming ``key`` if it does not fit."""
    if len(raw) > MAX_VALUE_CHARS:
        raise ValueError(f"URL {key}: {len(raw)} characters; expected at most {MAX_VALUE_CHARS}")
    if isinstance(p, param.Boolean):
        low = raw.strip().lower()
        if low not in TRUE + FALSE:
            raise ValueError(f"URL {key}: got {_shown(raw)}; expected true or false")
        return low in TRUE
    if isinstance(p, param.Integer):
        try:
            value = int(raw.strip())
        except ValueError:
            raise ValueError(f"URL {key}: got {_shown(raw)}; expected a whole number") from None
    elif isinstance(p, param.Number):
        try:
            value = float(raw.strip())
        except ValueError:
            raise ValueError(f"URL {key}: got {_shown(raw)}; expected a number") from None
        if not math.isfinite(value):
            raise ValueError(f"URL {key}: got {_shown(raw)}; expected a finite number")
    elif isinstance(p, param.Selector):
        options = [o for o in p.objects]
        match = [o for o in options if str(o) == raw]
        if not match:
            raise ValueError(f"URL {key}: got {_shown(raw)}; expected one of {', '.join(map(str, options))}")
        return match[0]
    elif isinstance(p, param.String):
        if not raw.isprintable():
            raise ValueError(f"URL {key}: contains control characters; expected printable text")
        return raw
    else:
        raise ValueError(f"URL {key}: parameter type {type(p).__name__} cannot be read from a URL")
    lo, hi = p.bounds or (None, None)
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        raise ValueError(f"URL {key}: got {_shown(raw)}; expected a value from {lo} to {hi}")
    return value


def apply_query(obj: param.Parameterized, query: Mapping[str, str], keys: Mapping[str, str]) -> list[str]:
    """Set ``obj``'s parameters from ``query`` (URL key -> text) in the order of ``keys`` (param -> URL key).

    Returns the messages for values that were not applied; keys not in ``keys`` are ignored.
    """
    messages = []
    for name, key in keys.items():
        if key not in query:
            continue
        raw = query[key]
        try:
            value = parse_value(obj.param[name], key, raw)
            setattr(obj, name, value)
        except ValueError as exc:
            text = str(exc)
            if not text.startswith("URL"):
                text = f"URL {key}: got {_shown(raw)}, which cannot be used here ({text.splitlines()[0]})"
            messages.append(text + "; kept the default.")
    return messages


def query_of(obj: param.Parameterized, keys: Mapping[str, str]) -> dict[str, str]:
    """The URL query (key -> text) that ``apply_query`` turns back into ``obj``'s current values."""
    out = {}
    for name, key in keys.items():
        value = getattr(obj, name)
        out[key] = ("true" if value else "false") if isinstance(value, bool) else str(value)
    return out


def session_query() -> dict[str, str]:
    """The current session's URL query (last value of each key), or ``{}`` outside a server."""
    args = pn.state.session_args or {}
    out = {}
    for key, values in args.items():
        if values:
            raw = values[-1]
            out[key] = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
    return out


_SHOWN = threading.local()  # the URL a reporting browser shows already (``shown_by_browser``); per thread


@contextlib.contextmanager
def shown_by_browser(search: str | None) -> Iterator[None]:
    """While inside, a write of exactly ``search`` is not sent back to the browser whose message is handled."""
    previous = getattr(_SHOWN, "search", None)
    _SHOWN.search = search if isinstance(search, str) and search.startswith("?") else None
    try:
        yield
    finally:
        _SHOWN.search = previous


def _adopt(location, search: str) -> bool:
    """Set the session's location to ``search`` as if its browser had sent it (not echoed); False if it cannot.

    Only while Bokeh applies a browser's message (the session knows which connection sent it): the change gets
    the session as its setter, which Bokeh (and ``patchbatch``) never send back to that connection; Panel's
    ``Location`` takes it as it takes a browser's change (on the next tick, without an echo).
    """
    doc = pn.state.curdoc
    session = getattr(getattr(doc, "session_context", None), "session", None)
    if session is None or getattr(session, "_current_patch_connection", None) is None:
        return False
    models = [model for model, _ in getattr(location, "_models", {}).values() if model.document is doc]
    if len(models) != 1:
        return False
    models[0].set_from_json("search", search, setter=session)
    return True


class UrlState:
    """Bind ``obj``'s parameters ``keys`` (param -> URL key) to the page URL of the current session.

    On creation the query is applied (bad values reported to ``on_messages``); afterwards every change
    rewrites the query (Panel's location pushes a history entry, so Back walks through the steps).
    A value ``parse_value`` would refuse is left out of the query, so the page never writes a URL it
    refuses when reopened (the parameter then keeps its default there, as for any missing key).
    """

    def __init__(self, obj: param.Parameterized, keys: Mapping[str, str],
                 on_messages: Callable[[list[str]], None] | None = None, query: Mapping[str, str] | None = None):
        self.obj, self.keys = obj, dict(keys)
        messages = apply_query(obj, session_query() if query is None else query, self.keys)
        if messages and on_messages is not None:
            on_messages(messages)
        self.messages = messages
        obj.param.watch(self._write, list(self.keys))
        self._write()

    def _write(self, *events) -> None:
        location = pn.state.location
        if location is None:
            return
        query = dict(parse_qsl(location.search.lstrip("?"), keep_blank_values=True))  # in order: ours keep their place
        names = {key: name for name, key in self.keys.items()}
        for key, text in query_of(self.obj, self.keys).items():
            try:
                parse_value(self.obj.param[names[key]], key, text)
            except ValueError:
                query.pop(key, None)
                continue
            query[key] = text
        search = "?" + urlencode(query, quote_via=quote)
        if search == location.search:
            return
        if search == getattr(_SHOWN, "search", None) and _adopt(location, search):
            return
        location.search = search
