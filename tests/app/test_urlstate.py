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
