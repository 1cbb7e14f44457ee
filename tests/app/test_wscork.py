"""Is a page's socket corked while exactly one Bokeh message is written, and always uncorked after?"""

import asyncio
import socket
import types

import pytest
from bokeh.server.views.ws import WSHandler

from simulator.app import wscork

pytestmark = pytest.mark.skipif(wscork.CORK is None, reason="TCP_CORK is Linux's")


class RecordingSocket:
    def __init__(self, log, refuse=False):
        self.log, self.refuse = log, refuse

    def setsockopt(self, level, option, value):
        if self.refuse:
            raise OSError("not a TCP socket")
        assert (level, option) == (socket.IPPROTO_TCP, socket.TCP_CORK)
        self.log.append(("cork", value))


def _handler(log, sock):
    return types.SimpleNamespace(ws_connection=types.SimpleNamespace(stream=types.SimpleNamespace(socket=sock)))


def _send(log, fail=False):
    async def send(handler, message):
        for frame in ("header", "metadata", "content"):
            log.append(("frame", frame))
            await asyncio.sleep(0)  # a write may wait for the socket: the cork must hold across it
        if fail:
            raise ConnectionError("the browser went away")
        return "sent"
    return send


def test_the_frames_of_one_message_are_written_corked():
    log = []
    result = asyncio.run(wscork.corked(_send(log))(_handler(log, RecordingSocket(log)), "msg"))
    assert result == "sent"
    assert log == [("cork", 1), ("frame", "header"), ("frame", "metadata"), ("frame", "content"), ("cork", 0)]


def test_a_failed_write_still_uncorks():
    log = []
    with pytest.raises(ConnectionError):
        asyncio.run(wscork.corked(_send(log, fail=True))(_handler(log, RecordingSocket(log)), "msg"))
    assert log[0] == ("cork", 1) and log[-1] == ("cork", 0)


@pytest.mark.parametrize("handler", [
    types.SimpleNamespace(),  # no connection yet
    types.SimpleNamespace(ws_connection=None),  # closed
    types.SimpleNamespace(ws_connection=types.SimpleNamespace(stream=None)),
])
def test_without_a_socket_the_message_is_written_as_before(handler):
    log = []
    assert asyncio.run(wscork.corked(_send(log))(handler, "msg")) == "sent"
    assert [entry[0] for entry in log] == ["frame"] * 3


def test_a_socket_that_refuses_the_option_is_written_as_before():
    log = []
    sock = RecordingSocket(log, refuse=True)
    assert asyncio.run(wscork.corked(_send(log))(_handler(log, sock), "msg")) == "sent"
    assert log == [("frame", "header"), ("frame", "metadata"), ("frame", "content")]


def test_a_real_socket_is_left_uncorked_and_gets_every_byte():
    with socket.create_server(("127.0.0.1", 0)) as server:
        client = socket.create_connection(server.getsockname())
        peer, _ = server.accept()
        with client, peer:
            async def send(handler, message):
                for part in message:
                    peer.sendall(part)

            handler = _handler([], peer)
            asyncio.run(wscork.corked(send)(handler, [b"one,", b"two,", b"three"]))
            assert peer.getsockopt(socket.IPPROTO_TCP, socket.TCP_CORK) == 0
            client.settimeout(5)
            got = b""
            while len(got) < len(b"one,two,three"):
                got += client.recv(64)
            assert got == b"one,two,three"


def test_install_wraps_bokehs_send_once():
    before = WSHandler.send_message
    try:
        assert wscork.install({}) is True
        wrapped = WSHandler.send_message
        assert wscork.install({}) is True and WSHandler.send_message is wrapped  # not twice
        assert getattr(wrapped, "_rnn_corked", False)
    finally:
        WSHandler.send_message = before
    assert wscork.install({wscork.ENV: "0"}) is False and WSHandler.send_message is before


@pytest.mark.parametrize("value", ["yes", "2", "", "off"])
def test_a_bad_switch_is_refused_in_one_line(value):
    with pytest.raises(ValueError, match=r"RNN_WS_CORK: got .*; expected 1 .* or 0"):
        wscork.enabled({wscork.ENV: value})
