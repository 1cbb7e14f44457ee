"""H15: decoding what the sandbox sent costs the grader time in proportion to its size, whatever the keys are.

CPython hashes an int ``k`` to ``k mod (2**61 - 1)``, so the keys ``k * (2**61 - 1)`` all hash to 0 and a dict
of ``n`` of them takes ``n**2 / 2`` probes to build: 20 000 such keys cost the grader 2 s of CPU (measured once),
the ~100 000 that one message's node budget allows about 50 s, after the read's deadline was checked and outside
every sandbox limit (the grader's own process computes). The decoder now refuses a dict in which more than
``channel.MAX_SAME_HASH`` keys share a hash. The tests count keys per hash, never time. Payloads ``tuned:`` were
fixed against; ``held-out:`` were written before the fix and not changed after.
"""

from __future__ import annotations

import os
from collections import Counter

import numpy as np
import pytest

from autograder import channel

M = 2**61 - 1  # CPython's modulus for hashing numbers (sys.hash_info.modulus)
N = 3000  # keys per payload: enough to show a collision, cheap enough to decode either way


def _pairs(keys) -> dict:
    return {"t": "dict", "v": [[k, 0] for k in keys]}


PAYLOADS = {
    "tuned: multiples of the modulus (all hash to 0)": _pairs(k * M for k in range(1, N)),
    "held-out: negative multiples of the modulus": _pairs(-k * M for k in range(1, N)),
    "held-out: one residue plus multiples (all hash to 12345)": _pairs(12345 + k * M for k in range(N)),
    "held-out: floats 2**(61 k) times one float (equal hashes)": _pairs(
        1.5 * 2.0 ** (61 * k) for k in range(16)),
    "held-out: ints and integral floats of one hash": _pairs([3 + k * M for k in range(N // 2)]
                                                           + [float(2**61 * k + 3) for k in range(1, 40)]),
    "held-out: many small colliding dicts in a list": [_pairs(k * M for k in range(1, 60)) for _ in range(40)],
    "held-out: a colliding dict as a dict's value in a tuple": {"t": "tuple", "v": [
        1, {"t": "dict", "v": [["cache", _pairs(7 + k * M for k in range(N))]]}]},
}


def _peer() -> channel.Peer:
    r, w = os.pipe()
    return channel.Peer(r, w, "grader", "sandbox", write_back=False)


def _dicts(value):
    if type(value) is dict:
        yield value
        for v in value.values():
            yield from _dicts(v)
    elif type(value) in (list, tuple):
        for v in value:
            yield from _dicts(v)


@pytest.mark.parametrize("name", list(PAYLOADS))
def test_no_decoded_dict_holds_many_keys_of_one_hash(name):
    """Is every payload either refused, or decoded into dicts with at most MAX_SAME_HASH keys per hash?"""
    try:
        value = _peer().decode(PAYLOADS[name], [])
    except channel.ProtocolError as exc:
        assert "hash" in str(exc)
        return
    for d in _dicts(value):
        worst = max(Counter(hash(k) for k in d).values(), default=0)
        assert worst <= channel.MAX_SAME_HASH, f"{worst} keys of one hash were decoded"


def test_control_ordinary_dicts_of_any_size_decode():
    """Control: a dict of 50 000 ordinary keys (ints, strings, floats) decodes to itself."""
    keys = [*range(20_000), *(f"w{k}" for k in range(20_000)), *(k + 0.5 for k in range(10_000))]
    value = _peer().decode(_pairs(keys), [])
    assert len(value) == len(keys) and value[19_999] == 0 and value["w7"] == 0


def test_a_colliding_return_stops_the_sandbox_with_the_reason():
    """Through a real sandbox: does a function returning colliding keys fail with 'malformed data'?"""
    from autograder.sandbox import Limits, Sandbox, SandboxFailure, isolation

    if isolation.detect() is None:
        pytest.skip("no sandbox isolation on this machine")
    with Sandbox(Limits(wall=20.0, memory=1024 * 2**20)) as sb:
        sb.exec_cell(f"M = 2**61 - 1\ndef f(x):\n    return {{k * M: x for k in range(1, {N})}}\n", "c")
        with pytest.raises(SandboxFailure, match="malformed data.*hash"):
            sb.get("f")(np.ones(2))
