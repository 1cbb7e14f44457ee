from urllib.parse import parse_qsl

import param
import pytest

from simulator.app.components.urlstate import MAX_VALUE_CHARS, UrlState, apply_query, parse_value, query_of


class Settings(param.Parameterized):
    kind = param.Selector(objects=["rnn", "lstm"], default="lstm")
    n = param.Integer(default=3, bounds=(1, 10))
    x = param.Number(default=0.5, bounds=(0, 1))
    flag = param.Boolean(default=False)
    text = param.String(default="hi")


KEYS = {"kind": "kind", "n": "n", "x": "x", "flag": "flag", "text": "text"}


def test_query_round_trips():
    """Does a query written from settings read back to the same settings?"""
    a = Settings(kind="rnn", n=7, x=0.25, flag=True, text="a b&c=d")
    b = Settings()
    assert apply_query(b, query_of(a, KEYS), KEYS) == []
    assert (b.kind, b.n, b.x, b.flag, b.text) == ("rnn", 7, 0.25, True, "a b&c=d")


@pytest.mark.parametrize("key, raw, match", [
    ("n", "abc", "whole number"), ("n", "11", "from 1 to 10"), ("n", "1e3", "whole number"),
    ("x", "nan", "finite"), ("x", "2", "from 0 to 1"), ("flag", "maybe", "true or false"),
    ("kind", "<script>alert(1)</script>", "expected one of"), ("text", "a\nb", "control"),
    ("text", "x" * (MAX_VALUE_CHARS + 1), "at most"),
])
def test_hostile_values_are_refused_and_defaults_kept(key, raw, match):
    s = Settings()
    before = getattr(s, key)
    messages = apply_query(s, {key: raw}, KEYS)
    assert len(messages) == 1 and match in messages[0] and "kept the default" in messages[0]
    assert getattr(s, key) == before


def test_unknown_keys_are_ignored_and_good_values_still_applied():
    s = Settings()
    assert apply_query(s, {"zzz": "1", "n": "bad", "x": "0.75"}, KEYS) == [
        "URL n: got 'bad'; expected a whole number; kept the default."]
    assert s.x == 0.75 and s.n == 3


def test_parse_value_types():
    s = Settings()
    assert parse_value(s.param.flag, "flag", "TRUE") is True
    assert parse_value(s.param.n, "n", " 4 ") == 4
    assert parse_value(s.param.kind, "kind", "rnn") == "rnn"


class _Location:
    search = ""


@pytest.mark.parametrize("text", ["I absolutely loved this movie!!! " * 15, "é" * 900, "x" * (MAX_VALUE_CHARS + 5),
                                  "a\tb", "tab\x00nul", "100% & ?x=1#frag"])
def test_a_url_the_page_writes_is_never_refused_when_reopened(monkeypatch, text):
    """Whatever a setting holds (a 500-character sentence, control characters), does the written query
    reopen without a message (a value the reader would refuse is left out instead of written)?"""
    import panel as pn

    location = _Location()
    monkeypatch.setattr(type(pn.state), "location", property(lambda self: location))
    a = Settings()
    UrlState(a, KEYS, query={})
    a.param.update(n=9, text=text)
    query = dict(parse_qsl(location.search.lstrip("?")))
    b = Settings()
    assert apply_query(b, query, KEYS) == []
    assert b.n == 9
    if len(text) <= MAX_VALUE_CHARS and text.isprintable():
        assert b.text == text  # kept whole when it can be read back


# ------------------------------------------------------------------ the order of keys, and a URL the browser shows
class _Writes(_Location):
    def __init__(self, search=""):
        self.search, self.writes = search, []

    def __setattr__(self, name, value):
        if name == "search" and hasattr(self, "writes"):
            self.writes.append(value)
        object.__setattr__(self, name, value)


def _bound(monkeypatch, search):
    import panel as pn

    location = _Writes(search)
    monkeypatch.setattr(type(pn.state), "location", property(lambda self: location))
    s = Settings()
    UrlState(s, {"n": "n", "kind": "kind"}, query={})
    return s, location


@pytest.mark.parametrize("before, after", [
    ("?z=1&n=3&q=&kind=lstm", "?z=1&n=7&q=&kind=lstm"),  # in place; a blank value keeps its place too
    ("?kind=lstm&n=3", "?kind=lstm&n=7"),  # the order the URL has, not the keys'
    ("?a=x%20y&n=3&kind=lstm", "?a=x%20y&n=7&kind=lstm"),
    ("?z=1", "?z=1&n=7&kind=lstm"),  # keys the URL lacks go at its end
])
def test_a_write_keeps_each_key_where_the_url_has_it(monkeypatch, before, after):
    s, location = _bound(monkeypatch, before)
    s.n = 7
    assert location.search == after


def test_no_write_when_the_url_is_already_the_one_written(monkeypatch):
    s, location = _bound(monkeypatch, "?n=3&kind=lstm")
    s.n = 4
    s.n = 3
    count = len(location.writes)
    s.param.trigger("n")  # the same value again
    assert len(location.writes) == count


def test_a_url_the_browser_shows_is_adopted_only_when_it_is_the_one_written(monkeypatch):
    from simulator.app.components import urlstate

    adopted = []
    monkeypatch.setattr(urlstate, "_adopt", lambda location, search: adopted.append(search) or True)
    s, location = _bound(monkeypatch, "?n=3&kind=lstm")
    with urlstate.shown_by_browser("?n=5&kind=lstm"):
        s.n = 5  # the browser shows it: taken without a write
    assert adopted == ["?n=5&kind=lstm"] and location.search == "?n=3&kind=lstm"
    with urlstate.shown_by_browser("?n=6&kind=lstm&extra=1"):
        s.n = 6  # the browser shows another URL: written as usual (the browser gets the server's)
    assert adopted == ["?n=5&kind=lstm"] and location.search == "?n=6&kind=lstm"
    for hostile in (None, "", "n=7&kind=lstm", 7, ["?n=7&kind=lstm"]):  # not a query text: never adopted
        with urlstate.shown_by_browser(hostile):
            s.n = 7 if s.n != 7 else 8
    assert adopted == ["?n=5&kind=lstm"]
    s.n = 9  # outside: written
    assert location.search == "?n=9&kind=lstm"


def test_adopting_sets_the_location_as_a_browser_change_never_sent_back(monkeypatch):
    """Outside a browser's message (no connection to spare the echo) nothing is adopted; inside one, the
    session's Location model gets the URL with the session as its setter, which Bokeh does not send back."""
    import types

    import panel as pn
    from bokeh.document import Document
    from panel.models.location import Location as BkLocation

    from simulator.app.components import urlstate

    doc, model = Document(), BkLocation(search="?n=3")
    doc.add_root(model)
    session = types.SimpleNamespace(_current_patch_connection=None)
    context = types.SimpleNamespace(session=session)
    doc._session_context = lambda: context  # NB: a weak reference to it, as Bokeh's server gives a document
    monkeypatch.setattr(type(pn.state), "curdoc", property(lambda self: doc))
    location = types.SimpleNamespace(_models={"root": (model, None)})
    events = []
    doc.on_change(lambda event: events.append(event))
    assert urlstate._adopt(location, "?n=4") is False and model.search == "?n=3"  # no browser message handled
    session._current_patch_connection = object()
    assert urlstate._adopt(location, "?n=4") is True and model.search == "?n=4"
    assert [e.setter for e in events] == [session]
    other = Document()
    other.add_root(BkLocation())
    assert urlstate._adopt(types.SimpleNamespace(_models={"x": (other.roots[0], None)}), "?n=5") is False
