"""The per-client session limit: sessions counted per client address, released when destroyed, a readable refusal."""

import asyncio
from types import SimpleNamespace

import panel as pn
import pytest
from bokeh.document import Document
from panel.io.state import set_curdoc

from simulator.app import admission
from simulator.app.admission import Admission, SessionLimit, client_key, limit_from_env


class FakeContext:
    """What the guard reads of a Bokeh session context: the request's address."""

    def __init__(self, ip):
        self.request = SimpleNamespace(remote_ip=ip, arguments={}, cookies={}, headers={})


def open_session(guarded, ip):
    """Run a guarded page factory as Bokeh would for a new session from ``ip``; returns (doc, page)."""
    doc = Document()
    doc._session_context = lambda: FakeContext(ip)  # Bokeh keeps a weakref-like callable here
    with set_curdoc(doc):
        page = guarded()
    return doc, page


def close_session(doc):
    for callback in list(doc.session_destroyed_callbacks):
        callback(None)


def test_sessions_are_counted_per_client_and_a_closed_session_frees_its_place(monkeypatch):
    """Is the (n+1)-th session of one address refused with a readable page, another address unaffected, and
    does closing one session admit the next?"""
    monkeypatch.setattr(admission, "return_memory", lambda: None)
    built = []
    guarded = Admission(SessionLimit(3), every=0).guard({"/cell": lambda: built.append(1) or pn.pane.Markdown("x")})
    factory = guarded["/cell"]
    docs = [open_session(factory, "10.0.0.7")[0] for _ in range(3)]
    assert len(built) == 3
    doc, page = open_session(factory, "10.0.0.7")
    assert len(built) == 3  # refused: the page was never built
    text = page.object
    assert "Too many open pages" in text and "3 simulator pages open" in text and "at most 3" in text
    assert "RNN_APP_SESSIONS_PER_CLIENT" in text and "Close some tabs" in text
    assert doc.title.startswith("Too many open pages")
    open_session(factory, "10.0.0.8")  # another client
    assert len(built) == 4
    close_session(docs[0])
    open_session(factory, "10.0.0.7")
    assert len(built) == 5
    open_session(factory, "10.0.0.7")
    assert len(built) == 5


@pytest.mark.parametrize(("a", "b", "same"), [
    ("2001:db8:1:2::1", "2001:db8:1:2:ffff:ffff:ffff:fffe", True),  # one /64: one client
    ("2001:db8:1:2::1", "2001:db8:1:3::1", False),
    ("::ffff:192.0.2.5", "192.0.2.5", True),  # IPv4-mapped
    ("fe80::1%eth0", "fe80::2%eth1", True),  # zone ids dropped
    ("192.0.2.5", "192.0.2.6", False),
    ("", None, True),  # no address at all: one "unknown" client, not a free pass
])
def test_client_keys_group_addresses_a_client_can_change_freely(a, b, same):
    """Can a client step around the limit by changing the host bits of its IPv6 address (it cannot)?"""
    assert (client_key(a) == client_key(b)) is same


def test_a_page_that_fails_to_build_still_releases_its_count(monkeypatch):
    """Does a factory that raises keep its session counted only until that session is destroyed?"""
    monkeypatch.setattr(admission, "return_memory", lambda: None)
    limit = SessionLimit(1)

    def broken():
        raise RuntimeError("page bug")

    factory = Admission(limit, every=0).guard({"/x": broken})["/x"]
    doc = Document()
    doc._session_context = lambda: FakeContext("10.1.1.1")
    with set_curdoc(doc), pytest.raises(RuntimeError):
        factory()
    assert limit.count("10.1.1.1") == 1
    close_session(doc)
    assert limit.count("10.1.1.1") == 0


def test_closing_sessions_returns_memory_once_per_burst(monkeypatch):
    """Do 20 closes in a row cost one memory return (a full garbage collection), and a later burst one more?"""
    calls = []
    monkeypatch.setattr(admission, "return_memory", lambda: calls.append(1))
    gate = Admission(SessionLimit(50), every=0.1)
    factory = gate.guard({"/": lambda: pn.pane.Markdown("x")})["/"]

    async def scenario():
        docs = [open_session(factory, "10.2.2.2")[0] for _ in range(25)]
        for doc in docs[:20]:
            close_session(doc)
        await asyncio.sleep(0.8)  # NB: the return is scheduled 0.5 s after the first close, on this loop
        first = len(calls)
        for doc in docs[20:]:
            close_session(doc)
        await asyncio.sleep(0.8)
        return first

    first = asyncio.run(scenario())
    assert (first, len(calls)) == (1, 2)
    assert gate.limit.count("10.2.2.2") == 0


@pytest.mark.parametrize("raw", ["0", "-3", "many", "1e3", "2.5"])
def test_a_bad_limit_setting_is_refused_naming_the_variable(raw):
    with pytest.raises(ValueError, match="RNN_APP_SESSIONS_PER_CLIENT.*expected a positive whole number"):
        limit_from_env({"RNN_APP_SESSIONS_PER_CLIENT": raw})
    assert limit_from_env({}) == admission.SESSIONS_PER_CLIENT
    assert limit_from_env({"RNN_APP_SESSIONS_PER_CLIENT": " 7 "}) == 7


def test_without_a_server_session_nothing_is_counted():
    limit = SessionLimit(1)
    factory = Admission(limit).guard({"/": lambda: "page"})["/"]
    assert [factory() for _ in range(3)] == ["page"] * 3
