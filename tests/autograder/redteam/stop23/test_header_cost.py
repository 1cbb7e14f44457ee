"""Stop 23, class "JSON amplification on the channel": the grader parses a bounded number of values per frame.

A frame's header is at most ``channel.MAX_HEADER`` (16 MiB) of JSON, and a decoded value at most
``MAX_NODES`` (200 000) nodes, but the node budget was counted by the decoder, *after* ``json.loads`` had
built the whole tree: ``{}`` is 3 bytes on the wire and a 64-byte dict parsed, so a forged reply of 16 MiB of
them (a patched worker writes any frame) made the grader hold about 5.6 million dicts at once, measured once by
hand (docs/autograder.md, stop 23). Now the grader's end counts commas and brackets on the raw bytes first
(``read_frame(max_values=...)``, set by ``Peer(defang_text=True)``, i.e. ``session._GraderPeer``) and refuses a
header over ``MAX_HEADER_VALUES`` as malformed, which stops the sandbox as any malformed frame does.

The control encodes the largest value the real encoder sends (``MAX_NODES`` nodes of the kind that takes the
most commas, references) and reads it back under the bound. ``tuned:`` the fix was checked against it;
``held-out:`` written before the fix first ran on it, run once. No test measures memory or time.
"""

from __future__ import annotations

import os
import struct

import pytest

from autograder import channel
from autograder.sandbox import Limits, Sandbox, isolation


def _frame_file(tmp_path, head: bytes) -> int:
    path = tmp_path / "frame"
    path.write_bytes(channel.MAGIC + struct.pack(">I", len(head)) + head + struct.pack(">I", 0))
    return os.open(path, os.O_RDONLY)


def _header_of(item: bytes, size: int = 15 * 2**20) -> bytes:
    n = size // (len(item) + 1)
    return b'{"op":"result","value":[' + b",".join([item] * n) + b"]}"


PAYLOADS = {
    "tuned: empty dicts": b"{}",
    "held-out: empty lists": b"[]",
    "held-out: zeros": b"0",
    "held-out: tagged empty tuples": b'{"t":"tuple","v":[]}',
    "held-out: nested one-item lists": b"[[[0]]]",
}


@pytest.mark.parametrize("name", list(PAYLOADS))
def test_a_header_of_many_small_values_is_refused_before_it_is_parsed(tmp_path, name):
    fd = _frame_file(tmp_path, _header_of(PAYLOADS[name]))
    peer = channel.Peer(fd, fd, owner="grader", remote_name="sandbox", write_back=False, defang_text=True)
    try:
        with pytest.raises(channel.ProtocolError, match="JSON values"):
            peer.receive()
    finally:
        os.close(fd)


def test_control_the_largest_value_the_encoder_sends_is_read(tmp_path):
    sender = channel.Peer(-1, -1, owner="sandbox", remote_name="grader")
    tree, blobs = sender.encode([object() for _ in range(channel.MAX_NODES - 1)])
    head = __import__("json").dumps({"op": "result", "value": tree}, separators=(",", ":")).encode()
    fd = _frame_file(tmp_path, head)
    peer = channel.Peer(fd, fd, owner="grader", remote_name="sandbox", write_back=False, defang_text=True)
    try:
        header, value = peer.receive()
    finally:
        os.close(fd)
    assert header["op"] == "result" and len(value) == channel.MAX_NODES - 1
    assert all(isinstance(v, channel.RemoteRef) for v in value[:10])


FORGE = '''
import sys
_ch = sys.modules["channel"]
def flood():
    import gc
    peer = next(o for o in gc.get_objects() if type(o) is _ch.Peer)
    head = b'{"op":"result","value":[' + b",".join([b"{}"] * (5 * 2**20)) + b"]}"
    import struct
    frame = _ch.MAGIC + struct.pack(">I", len(head)) + head + struct.pack(">I", 0)
    _ch._write_all(peer.wfd, frame, None)
    return None
'''


@pytest.mark.skipif(isolation.detect() is None, reason="no sandbox isolation on this machine")
def test_held_out_a_real_sandbox_that_writes_the_frame_itself_is_stopped():
    with Sandbox(Limits(wall=20)) as sb:
        sb.exec_cell(FORGE, "forge")
        with pytest.raises(BaseException) as info:
            sb.get("flood")()
        assert "malformed" in str(info.value) and "JSON values" in str(info.value), str(info.value)
        assert sb.dead
