"""Grade the sixth blind catalogue in-process, as blind5's runner does (docs/blind6.md).

``python -m tests.autograder.blind6.runner tune|held-out|all [-v]``. Each bug's edited ``solution.py`` is graded
by its function's check, visible then hidden (a fixed secret), and scored as blind5's runner does: *caught* (a test
fails), *located* (the message starts with the function's header and says where), *named* (the cause, before
``Evidence:``, gives ``(likely bug: ...)`` and one of the bug's patterns occurs in it), *false name* (a class is
given and no pattern occurs).
"""

from __future__ import annotations

import re
import sys
import types
from dataclasses import dataclass
from pathlib import Path

from autograder import cell_checks
from tests.autograder.blind5 import runner as blind5
from tests.autograder.blind6.catalogue import BUGS, Bug, half

SECRET = b"blind6-catalogue-secret-76543210"
SOURCE = Path(__file__).with_name("solution.py")
FUNCTIONS = (*blind5.FUNCTIONS, "gru_step_backward")


def build(bug: Bug | None) -> types.ModuleType:
    """``solution.py`` with the bug's edits applied (each ``old`` exactly once), as a fresh module."""
    text = SOURCE.read_text(encoding="utf-8")
    for old, new in bug.edits if bug else ():
        if text.count(old) != 1:
            raise ValueError(f"{bug.key}: {old!r} occurs {text.count(old)} times in solution.py; expected once")
        text = text.replace(old, new)
    module = types.ModuleType(f"blind6_{bug.key if bug else 'solution'}")
    exec(compile(text, str(SOURCE), "exec"), module.__dict__)  # noqa: S102 - our own catalogue's code
    return module


def grade(function: str, m: types.ModuleType, options: dict, hidden: bool) -> str | None:
    if function != "gru_step_backward":
        saved = blind5.SECRET
        blind5.SECRET = SECRET
        try:
            return blind5.grade(function, m, options, hidden)
        finally:
            blind5.SECRET = saved
    from tests.autograder import graded_message
    try:
        return graded_message.grade(cell_checks.check_gru_step_backward, None, m.gru_step_backward, secret=SECRET,
                                    hidden=hidden, **options)
    except Exception as exc:  # noqa: BLE001 - in-process, a check lets the student's own raise through
        return f"{function} raised {type(exc).__name__}: {exc}"


@dataclass(frozen=True)
class Result:
    key: str
    caught: bool
    located: bool
    named: bool
    false_name: bool
    message: str


def score(bug: Bug) -> Result:
    """Grade one bug (a fresh module for the visible test and the hidden one, as a notebook runs both)."""
    options = dict(bug.options)
    messages = [grade(bug.function, build(bug), options, hidden) for hidden in (False, True)]
    failed = [msg for msg in messages if msg is not None]
    if not failed:
        return Result(bug.key, False, False, False, False, "")
    message = failed[0]  # the visible test's message when it fails, else the hidden one's
    located = message.startswith(bug.function) and bool(blind5.WHERE.search(message))
    cause = blind5.cause_of(message)
    gives = "likely bug:" in cause
    matched = any(re.search(p, cause, re.I) for p in bug.patterns)
    return Result(bug.key, True, located, gives and matched, gives and not matched, message)


def run(which: str, verbose: bool = False) -> list[Result]:
    bugs = [b for b in BUGS if which == "all" or half(b.key) == which]
    out = [score(b) for b in bugs]
    for r in out:
        flags = "".join(c if ok else "." for c, ok in zip("CLN", (r.caught, r.located, r.named), strict=True))
        print(f"{flags} {'FALSE ' if r.false_name else ''}{r.key}")
        if verbose:
            print(f"    {r.message[:900]}")
    print(f"{which}: {len(out)} bugs, caught {sum(r.caught for r in out)}, located {sum(r.located for r in out)}, "
          f"named {sum(r.named for r in out)}, false names {sum(r.false_name for r in out)}")
    return out


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if a != "-v"]
    run(args[0] if args else "tune", "-v" in sys.argv)
