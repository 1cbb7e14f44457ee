"""Does what one locked callback changes reach each browser as Bokeh sends it (one PATCH-DOC per change, in
order, ending where the server ends), serialised without reference tables and written as one corked group?"""

import asyncio
import json
import re
import time
import urllib.request

import numpy as np
import pytest
from bokeh.document import Document
from bokeh.models import Column, ColumnDataSource, Div, Slider
from bokeh.protocol import Protocol
from bokeh.server.session import ServerSession
from tornado.websocket import websocket_connect

from simulator.app import patchbatch, wscork
from tests.app.serving import serving


class FakeSocket:
    def __init__(self):
        self.sent = []

    async def send_message(self, message):
        self.sent.append(message)


class FakeConnection:
    """What the session asks of a connection: its protocol (to build messages) and its socket (to write them)."""

    def __init__(self):
        self.protocol = Protocol()
        self._socket = FakeSocket()

    def send_patch_document(self, event):  # Bokeh's own, for the control
        return self._socket.send_message(self.protocol.create("PATCH-DOC", [event]))

    @property
    def patches(self) -> list[list[dict]]:
        """The events of each PATCH-DOC written, as the browser reads them."""
        out = []
        for message in self._socket.sent:
            assert message.msgtype == "PATCH-DOC"
            out.append(json.loads(message.content_json)["events"])
        return out

    @property
    def events(self) -> list[dict]:
        """Every event written, in order; each PATCH-DOC holds exactly one (BokehJS applies each in its own task)."""
        patches = self.patches
        assert all(len(p) == 1 for p in patches), [len(p) for p in patches]
        return [p[0] for p in patches]


@pytest.fixture
def installed():
    before = ServerSession._document_patched  # NB: serve.main, run in-process by test_serve, installs it too
    assert patchbatch.install({patchbatch.ENV: "1"})
    yield
    ServerSession._document_patched = before


@pytest.fixture
def bokehs_own():
    before = ServerSession._document_patched
    patchbatch.uninstall()
    yield
    ServerSession._document_patched = before


def _session(*connections):
    doc = Document()
    divs = [Div(text=f"d{i}") for i in range(4)]
    slider = Slider(start=0, end=10, value=1, title="s")
    source = ColumnDataSource(data={"x": [1, 2]})
    layout = Column(*divs, slider)
    doc.add_root(layout)
    doc.add_root(source)
    session = ServerSession("sid", doc)
    for connection in connections:
        session.subscribe(connection)
    return session, divs, slider, source, layout


def _locked(session, func):
    return asyncio.run(session.with_document_locked(func))


def _changes(events) -> list[tuple]:
    return [(e["model"]["id"], e["attr"], e["new"]) for e in events if e["kind"] == "ModelChanged"]


def test_a_locked_sections_changes_are_one_message_each_in_order(installed):
    a = FakeConnection()
    session, divs, slider, _, _ = _session(a)

    def change():
        for i, div in enumerate(divs):
            div.text = f"new {i}"
        slider.value = 7

    _locked(session, change)
    assert _changes(a.events) == [(d.id, "text", f"new {i}") for i, d in enumerate(divs)] + [(slider.id, "value", 7)]


def test_control_without_it_bokeh_sends_one_message_per_change(bokehs_own):
    a = FakeConnection()
    session, divs, slider, _, _ = _session(a)

    def change():
        for div in divs:
            div.text = "x"
        slider.value = 7

    _locked(session, change)
    assert len(a.patches) == 5  # the same messages as the test above: one per change


def test_each_section_has_its_own_message(installed):
    a = FakeConnection()
    session, divs, _, _, _ = _session(a)
    _locked(session, lambda: setattr(divs[0], "text", "one"))
    _locked(session, lambda: setattr(divs[1], "text", "two"))
    assert [_changes(p) for p in a.patches] == [[(divs[0].id, "text", "one")], [(divs[1].id, "text", "two")]]


def test_a_property_set_twice_is_sent_at_each_change_in_order(installed):
    a = FakeConnection()
    session, divs, slider, _, _ = _session(a)

    def change():
        divs[0].text = "first"
        slider.value = 3
        divs[0].text = "last"

    _locked(session, change)
    assert _changes(a.events) == [(divs[0].id, "text", "first"), (slider.id, "value", 3), (divs[0].id, "text", "last")]


def _columns(events):
    return [(e["kind"], e.get("data", e.get("new", e.get("patches")))) for e in events]


def test_data_replaced_then_streamed_or_patched_is_sent_as_it_was_at_each_change(installed):
    """A column's data is read when the change is made: replaced, then streamed, the browser ends with the server's
    rows once each (serialised at the end, the replaced data already held the streamed row, added twice)."""
    a = FakeConnection()
    session, divs, _, source, _ = _session(a)

    def change():
        source.data = {"x": [0, 1]}
        source.stream({"x": [5]})
        source.patch({"x": [(0, 9)]})

    _locked(session, change)
    events = a.events
    assert [e["kind"] for e in events] == ["ColumnDataChanged", "ColumnsStreamed", "ColumnsPatched"]
    assert json.dumps(events[0]["data"]).count("5") == 0 and "9" not in json.dumps(events[0]["data"])
    browser = [0, 1] + [5]  # what the browser holds after applying the three in order
    browser[0] = 9
    assert browser == list(source.data["x"])


def test_a_change_that_cannot_be_serialised_raises_where_it_is_made_and_the_others_are_sent(installed):
    from bokeh.core.serialization import SerializationError

    a = FakeConnection()
    session, divs, _, _, _ = _session(a)
    raised = []

    def change():
        divs[0].text = "kept"
        try:
            divs[1].tags = [object()]  # passes validation, cannot be serialised: Bokeh raises at the change too
        except SerializationError as exc:
            raised.append(exc)
        divs[2].text = "kept too"

    _locked(session, change)
    assert len(raised) == 1
    assert _changes(a.events) == [(divs[0].id, "text", "kept"), (divs[2].id, "text", "kept too")]


def test_a_new_model_in_two_changes_of_one_section_is_defined_once(installed):
    a = FakeConnection()
    session, divs, _, _, layout = _session(a)
    new = Div(text="new")

    def add():
        layout.children = [*layout.children, new]
        layout.children = [new, *layout.children[:-1]]

    _locked(session, add)
    text = json.dumps(a.events)
    assert text.count('"name": "Div", "id": "' + new.id) == 1, text[:400]


def test_a_browsers_own_change_is_not_sent_back_to_it_but_reaches_the_others(installed):
    own, other = FakeConnection(), FakeConnection()
    session, divs, slider, _, _ = _session(own, other)

    def change():  # as Bokeh applies a browser's PATCH-DOC: the setter is the session, the connection is known
        session._current_patch_connection = own
        try:
            slider.set_from_json("value", 9, setter=session)
        finally:
            session._current_patch_connection = None
        divs[2].text = "a callback's answer"

    _locked(session, change)
    assert _changes(own.events) == [(divs[2].id, "text", "a callback's answer")]
    assert _changes(other.events) == [(slider.id, "value", 9), (divs[2].id, "text", "a callback's answer")]


def test_a_change_is_never_sent_as_a_model_freed_earlier_in_the_section(installed):
    """Models added, sent in full, removed and freed within one section, each followed by a change: every
    message is that change (a serialiser kept for the section keyed models by ``id()``, and a later event
    object that took a freed model's id went out as that model's reference: 32 of 900 here)."""
    import gc

    a = FakeConnection()
    session, divs, _, _, layout = _session(a)

    def change():
        for k in range(300):
            temporary = Div(text=f"temporary {k}")
            layout.children = [*layout.children, temporary]  # sent in full
            layout.children = layout.children[:-1]
            del temporary
            gc.collect()
            divs[0].text = f"after {k}"

    _locked(session, change)
    events = a.events
    assert [e for e in events if "kind" not in e] == []
    assert _changes(events)[-1] == (divs[0].id, "text", "after 299")
    assert sum(1 for e in events if e.get("attr") == "text") == 300


def test_a_new_model_is_sent_in_full_once(installed):
    a = FakeConnection()
    session, divs, _, _, layout = _session(a)
    new = Div(text="I am new")

    def add():
        layout.children = [*layout.children, new]
        new.text = "I am new, changed"

    _locked(session, add)
    _locked(session, lambda: setattr(new, "text", "again"))
    *first, second = (json.dumps(p) for p in a.patches)
    first = "".join(first)
    assert first.count(f'"id": "{new.id}"') >= 1 and '"type": "object"' in first and "I am new" in first
    assert '"name": "Div"' not in second and "again" in second  # a reference only, the second time


def test_other_events_keep_their_place(installed):
    a = FakeConnection()
    session, divs, _, source, _ = _session(a)

    def change():
        source.data = {"x": [0]}
        source.stream({"x": [5]})
        divs[0].text = "after"

    _locked(session, change)
    assert [e["kind"] for e in a.events] == ["ColumnDataChanged", "ColumnsStreamed", "ModelChanged"]


class CorkedHandler:
    """A page's websocket handler as wscork leaves it: ``send_message`` corks unless a group holds the cork."""

    def __init__(self, log):
        class Sock:
            def setsockopt(self, level, option, value):
                log.append(("cork", value))

        self.log, self.sent = log, []
        self.ws_connection = type("C", (), {"stream": type("S", (), {"socket": Sock()})()})()
        self.send_message = wscork.corked(CorkedHandler._write).__get__(self)

    async def _write(self, message):
        self.log.append(("message", json.loads(message.content_json)["events"][0]["attr"]))
        self.sent.append(message)


@pytest.mark.skipif(wscork.CORK is None, reason="TCP_CORK is Linux's")
def test_a_sections_messages_are_written_as_one_corked_group(installed):
    a = FakeConnection()
    log = []
    a._socket = CorkedHandler(log)
    session, divs, slider, _, _ = _session(a)

    def change():
        divs[0].text = "one"
        slider.value = 4
        divs[1].text = "two"

    _locked(session, change)
    assert log == [("cork", 1), ("message", "text"), ("message", "value"), ("message", "text"), ("cork", 0)]
    _locked(session, lambda: setattr(divs[2], "text", "alone"))
    assert log[5:] == [("cork", 1), ("message", "text"), ("cork", 0)]


def test_each_message_carries_the_buffers_its_change_refers_to_and_no_others(installed):
    a = FakeConnection()
    session, _, _, source, _ = _session(a)
    other = ColumnDataSource(data={"y": np.zeros(3)})
    _locked(session, lambda: session.document.add_root(other))

    def change():
        source.data = {"x": np.arange(4.0), "z": np.ones(4)}
        other.data = {"y": np.arange(5.0)}
        source.patch({"x": [(0, 9.0)]})

    _locked(session, change)
    messages = a._socket.sent[-3:]
    for message in messages:
        text = message.content_json
        refs = set(re.findall(r'"data": ?\{"id": ?"([^"]+)"\}', text))
        assert refs == {str(b.id) for b in message.buffers}, (refs, [b.id for b in message.buffers])
        assert message.header.get("num_buffers", 0) == len(message.buffers)
    assert [len(m.buffers) for m in messages] == [2, 1, 0]


def test_no_reference_table_of_the_document_is_built_per_change(installed, monkeypatch):
    """Bokeh builds ``synced_references`` (a set of every model of the document) for each message; the grouped
    changes ask the document instead. The control counts Bokeh's own."""
    from bokeh.document.models import DocumentModelManager

    built = []
    original = DocumentModelManager.synced_references
    monkeypatch.setattr(DocumentModelManager, "synced_references",
                        property(lambda self: built.append(1) or original.fget(self)))
    a = FakeConnection()
    session, divs, _, _, _ = _session(a)

    def change():
        for div in divs:
            div.text = "x"

    _locked(session, change)
    assert len(a.events) == 4 and built == []
    patchbatch.uninstall()
    _locked(session, lambda: [setattr(d, "text", "y") for d in divs])
    assert len(built) == 4  # Bokeh's own: a table per message


def test_a_change_without_the_lock_is_refused_as_bokeh_refuses_it(installed):
    session, divs, _, _, _ = _session(FakeConnection())
    with pytest.raises(RuntimeError, match="_pending_writes should be non-None"):
        divs[0].text = "no lock"


@pytest.mark.parametrize("value, on", [("1", True), ("0", False), (" 1 ", True)])
def test_the_switch(value, on):
    assert patchbatch.enabled({patchbatch.ENV: value}) is on


def test_it_is_on_unless_turned_off():
    assert patchbatch.enabled({}) is True


@pytest.mark.parametrize("value", ["yes", "2", "", "true"])
def test_a_bad_switch_is_refused_in_one_line(value):
    with pytest.raises(ValueError, match=r"RNN_PATCH_BATCH: got .*; expected 1 .* or 0"):
        patchbatch.enabled({patchbatch.ENV: value})


def test_the_private_parts_of_bokeh_it_relies_on_are_there(bokehs_own):
    assert ServerSession._document_patched.__name__ == "_document_patched"
    session, *_ = _session()
    for name in ("_pending_writes", "_current_patch_connection", "_subscribed_connections"):
        assert hasattr(session, name), name


# ------------------------------------------------------------------ a real server: the Cell page's H field
async def _set_h_and_count(base: str, seconds: float = 2.0) -> tuple[list[dict], dict]:
    """Change H on a fresh /cell page; the PATCH-DOCs that follow (until ``seconds`` of quiet), then the pulled doc."""
    html = urllib.request.urlopen(base + "/cell", timeout=120).read()
    token = re.search(rb'"token":"([^"]+)"', html).group(1).decode()
    ws = await websocket_connect(base.replace("http", "ws") + "/cell/ws", subprotocols=["bokeh", token],
                                 max_message_size=1 << 30)

    async def read():
        header = json.loads(await ws.read_message())
        await ws.read_message()
        content = await ws.read_message()
        for _ in range(header.get("num_buffers", 0)):
            await ws.read_message()
            await ws.read_message()
        return header, json.loads(content)

    async def send(msgtype, content):
        await ws.write_message(json.dumps({"msgid": str(time.monotonic_ns()), "msgtype": msgtype}))
        await ws.write_message("{}")
        await ws.write_message(json.dumps(content))

    try:
        await read()  # ACK
        await send("PULL-DOC-REQ", {})
        while (message := await read())[0]["msgtype"] != "PULL-DOC-REPLY":
            pass
        doc = message[1]["doc"]
        h_id = next(m["id"] for m in _objects(doc) if str(m.get("name", "")).endswith("TextInput")
                    and m.get("attributes", {}).get("title") == "H (hidden)")
        await send("PATCH-DOC", {"events": [{"kind": "ModelChanged", "model": {"id": h_id}, "attr": "value",
                                             "new": "6"}]})
        patches = []
        while True:
            try:
                header, content = await asyncio.wait_for(read(), seconds)
            except TimeoutError:
                break
            if header["msgtype"] == "PATCH-DOC":
                patches.append(content)
        await send("PULL-DOC-REQ", {})
        while (message := await read())[0]["msgtype"] != "PULL-DOC-REPLY":
            pass
        return patches, message[1]["doc"]
    finally:
        ws.close()


def _objects(tree):
    stack = [tree]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            if item.get("type") == "object" and "id" in item:
                yield item
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


def _shape(events) -> list[tuple]:
    """What each event changes, without its values' buffer ids (two servers name their buffers differently)."""
    return [(e["kind"], e["attr"], e["model"]["id"]) for e in events]


def test_a_cell_setting_change_sends_bokehs_own_changes_and_ends_where_the_server_ends(tmp_path):
    """H changed on a live /cell, served grouped and Bokeh's own way: the same changes in the same order, one
    per PATCH-DOC both ways (BokehJS applies each in its own task), and the browser ends where the server ends."""
    seen = {}
    for batch in ("1", "0"):
        with serving(["--no-course"], tmp_path / f"server{batch}.log", env={patchbatch.ENV: batch}) as base:
            seen[batch] = asyncio.run(_set_h_and_count(base))
    for batch, (patches, _) in seen.items():
        assert any("rnn-t" in json.dumps(p) for p in patches), f"{batch}: the new readout never arrived"
        assert all(len(p["events"]) == 1 for p in patches), (batch, [len(p["events"]) for p in patches])
    grouped, own = ([e for p in seen[b][0] for e in p["events"]] for b in ("1", "0"))
    # ids differ between two servers' documents: compare each change's kind and attribute, in order
    assert [(k, a) for k, a, _ in _shape(grouped)] == [(k, a) for k, a, _ in _shape(own)]
    assert len(grouped) > 10
    patches, doc = seen["1"]
    pulled = {m["id"]: m.get("attributes", {}) for m in _objects(doc)}
    events = [e for p in patches for e in p["events"]]
    browser = _apply(events)  # what a browser holds after applying the changes in order
    assert len(browser) >= 10 and any(attr == "data" for _, attr in browser)
    assert any(e["kind"] == "ColumnsPatched" for e in events)  # replaced, then patched: in order
    for (model, attr), value in browser.items():  # each property the changes set ends as the server holds it
        if model in pulled:
            assert _plain(pulled[model].get(attr)) == _plain(value), (attr, model)


def _apply(events) -> dict:
    """(model id, attr) -> value after applying ``events`` as BokehJS does (whole values, streams, patches)."""
    state = {}
    for e in events:
        key = (e["model"]["id"], e["attr"])
        if e["kind"] == "ModelChanged":
            state[key] = e["new"]
        elif e["kind"] == "ColumnDataChanged" and e.get("cols") is None:
            state[key] = e["data"]
        elif e["kind"] in ("ColumnsStreamed", "ColumnsPatched") and key in state:
            columns = dict(state[key]["entries"])
            for column, change in e["data" if e["kind"] == "ColumnsStreamed" else "patches"]["entries"]:
                values = list(columns[column])
                if e["kind"] == "ColumnsStreamed":
                    values += change
                for index, value in (change if e["kind"] == "ColumnsPatched" else []):
                    if isinstance(index, dict):  # a slice
                        values[index["start"]:index["stop"]:index["step"]] = value
                    else:
                        values[index] = value
                columns[column] = values
            state[key] = {"type": "map", "entries": [[c, v] for c, v in columns.items()]}
        else:
            state.pop(key, None)  # a form this reader does not apply: not compared
    return state


def _plain(value):
    """``value`` with each binary array as its dtype and shape (a buffer's id differs between two messages)."""
    if isinstance(value, dict):
        if value.get("type") == "ndarray":
            return ("ndarray", value.get("dtype"), value.get("shape"))
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value
