"""H16: a message over the channel's limits is refused by its sender, with a reason naming what was too large.

The receiver enforces 16 MiB of header text, 256 MiB and 4096 arrays, 200 000 items per message. Only the
receiver checked, so a 19 MiB code cell made the worker exit on the grader's own frame and the cell failed
with "the student's code exited the interpreter (exit code 0, e.g. os._exit)", and a student return over a
limit stopped the sandbox with "sent malformed data". The sender now checks the same limits before it writes
anything (``channel.TooLargeError``): the channel stays in step and the sandbox keeps running.
Payloads ``tuned:`` were fixed against; ``held-out:`` were written before the fix first ran.
"""

from __future__ import annotations

import pytest

from autograder import channel
from autograder.sandbox import Limits, Sandbox, isolation

pytestmark = pytest.mark.skipif(isolation.detect() is None, reason="no sandbox isolation on this machine")

STUDENT = '''
import numpy as np

def long_text():
    return "x" * (17 * 2**20)

def many_arrays():
    return [np.zeros(1) for _ in range(5000)]

def long_list():
    return [0.5] * 300_000

def calls_back(f):
    return f()

BIG = "y" * (17 * 2**20)
'''

RETURNS = {
    "held-out: a 17 MiB string": ("long_text", "MiB can be sent"),
    "held-out: 5000 arrays": ("many_arrays", "at most 4096"),
    "held-out: 300 000 floats in a list": ("long_list", "more than 200000 items"),
}


@pytest.fixture(scope="module")
def sandbox():
    with Sandbox(Limits(wall=30.0, memory=1024 * 2**20)) as sb:
        sb.exec_cell(STUDENT, "student")
        yield sb


def _alive(sandbox) -> None:
    assert not sandbox.dead and sandbox.names()["long_text"] == "function"


def test_a_cell_too_large_to_send_fails_alone_with_its_size(sandbox):
    """tuned: a 19 MiB cell: refused by the grader, naming its size; the sandbox goes on."""
    with pytest.raises(channel.TooLargeError, match=r"cell big was not run: it holds 19\.\d MiB of code"):
        sandbox.exec_cell("DATA = [" + "1.0," * 5_000_000 + "]\n", "big")
    _alive(sandbox)


@pytest.mark.parametrize("name", list(RETURNS))
def test_a_return_too_large_to_send_is_the_functions_error(sandbox, name):
    """Does the call fail as a ValueError naming the limit, with the sandbox still running?"""
    fn, reason = RETURNS[name]
    with pytest.raises(ValueError, match=reason):
        sandbox.get(fn)()
    _alive(sandbox)


def test_a_grader_answer_too_large_to_send_is_an_error_in_the_sandbox(sandbox):
    """held-out: a grader-side function whose result is over the limit: the student's call gets the error."""
    with pytest.raises(ValueError, match="MiB can be sent"):
        sandbox.get("calls_back")(lambda: "z" * (17 * 2**20))
    _alive(sandbox)


def test_a_data_name_too_large_to_send(sandbox):
    """held-out: fetching a 17 MiB string the student defined fails naming the limit; the sandbox goes on."""
    with pytest.raises(ValueError, match="MiB can be sent"):
        sandbox.get("BIG")
    _alive(sandbox)
