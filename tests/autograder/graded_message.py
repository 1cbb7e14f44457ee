"""A check's failure message as a student reads it: visible as raised, hidden as the pipeline composes it."""

from __future__ import annotations

import warnings

from autograder import cases, hidden_text


def grade(check, *args, secret: bytes, hidden: bool = False, **kwargs) -> str | None:
    """None if the check passes, else its message (a hidden test's as the pipeline composes it)."""
    with warnings.catch_warnings(), hidden_text.recording() as facts, cases.hidden_secret(secret):
        warnings.simplefilter("ignore", RuntimeWarning)
        try:
            check(*args, hidden=hidden, **kwargs)
        except AssertionError as exc:
            raw = str(exc)
            return hidden_text.compose_failure(exc, raw, facts, "", "<test>") if hidden else raw
    return None


def grade_or_raised(check, *args, secret: bytes, hidden: bool = False, **kwargs) -> str | None:
    """``grade``, with a student's raise that the check lets through (in-process) as ``"raised Type: text"``."""
    try:
        return grade(check, *args, secret=secret, hidden=hidden, **kwargs)
    except Exception as exc:  # noqa: BLE001 - in-process, a check lets a student's raise through
        return f"raised {type(exc).__name__}: {exc}"


def cause(message: str | None) -> str:
    """The message's diagnosis, without its evidence; fails the test when the bug was not caught."""
    assert message is not None, "the bug was not caught"
    return message.split(" Evidence:")[0]
