"""Checks for multiple-choice knowledge-check answers: the visible test checks the form, the hidden one the key."""

from __future__ import annotations

from autograder.calling import ok
from autograder.values import fail, type_name

CHOICES = ("A", "B", "C", "D")


def check_choice(answer, question: str, expected: str | None = None) -> None:
    """Is ``answer`` one letter of A-D (and, when ``expected`` is given, the right one)?

    The answer key is passed only by hidden tests, so release notebooks do not contain it.
    """
    if answer is None:
        fail(f"{question}: no answer yet; set it to one of {', '.join(repr(c) for c in CHOICES)}")
    if type(answer) is not str:
        fail(f"{question}: expected a string such as 'A', got an object of type {type_name(answer)}")
    letter = str.upper(str.strip(answer))
    if letter not in CHOICES:
        fail(f"{question}: got {answer[:20]!r}; expected one of {', '.join(repr(c) for c in CHOICES)}")
    if expected is not None and letter != expected:
        fail(f"{question}: {letter} is not the right answer; reread the lesson's section on it")
    ok(f"{question}: {'correct' if expected is not None else 'answer recorded'} ({letter})")
