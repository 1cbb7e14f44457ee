"""The blind catalogue's table: what one student bug is, and the two halves it is split into.

The bugs were written by a teaching assistant's reading of the exercises, the lesson and the reference,
without reading the grader's diagnosis (docs/blind3.md). Each is a small edit of one solution cell.
``tuning.py`` is the half the diagnosis may be tuned on; ``heldout.py`` is run once, at the end, by the
lead, and must never be read by whoever tunes the diagnosis. The halves alternate within each assignment
(the 1st, 3rd, ... bug of an assignment in tuning, the 2nd, 4th, ... in held-out), so both cover all six.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass

ASSIGNMENTS = ("rnn_cell", "lstm_cell", "gru_cell", "bptt", "architectures", "crnn")
HALVES = ("tuning", "heldout")

ARCHITECTURES = ("one_to_one_forward", "many_to_one_forward", "many_to_many_forward", "one_to_many_forward",
                 "encoder_decoder_forward")  # their tests drop "_forward": test_many_to_one_visible


@dataclass(frozen=True)
class Bug:
    """One realistic student bug: a small edit of one solution cell."""

    key: str
    assignment: str
    function: str  # the solution cell's grade_id
    says: str  # the misconception in the student's words
    name: str  # what a good grader would call it
    names: tuple[str, ...]  # regular expressions: the feedback names the bug if one matches
    edits: tuple[tuple[str, str], ...]  # (old, new) replacements in the function's solution code


def load(half: str) -> list[Bug]:
    """The bugs of one half, imported only when asked (so reading the tuning half never loads the other)."""
    if half not in HALVES:
        raise ValueError(f"half must be one of {HALVES}; got {half!r}")
    return list(importlib.import_module(f"tests.autograder.blind3.{half}").BUGS)
