"""Grade the fifth blind catalogue in-process: each bug's edited ``solution.py`` through its function's check,
visible then hidden (a fixed secret), and score caught / located / named / falsely named.

``python -m tests.autograder.blind5.runner tune|held-out|all [-v]``. Scoring (docs/blind5.md):

- *caught*: the function's visible or hidden test fails;
- *located*: the failing message starts with the function's own header and says where (a first bad entry, an index,
  a shape, a dtype, the raise);
- *named*: the message's cause (before ``Evidence:``) gives a class, ``(likely bug: ...)``, and one of the bug's
  patterns occurs in that cause. Every such class is confirmed on a grader-chosen probe case, or read from the
  single graded return compared with the grader's values (DESIGN invariant 7);
- *false name*: a class is given and none of the bug's patterns occurs in the cause.

In-process, a check called on a student function that raises may let the exception through (through the sandbox it
arrives as the student's error, with the check's text); the runner then records ``<function> raised <Error>: ...``,
which counts as caught and located, never named.
"""

from __future__ import annotations

import re
import sys
import types
import warnings
from dataclasses import dataclass
from pathlib import Path

from autograder import architecture_checks, bptt_checks, cell_checks, crnn_checks
from tests.autograder import graded_message
from tests.autograder.blind5.catalogue import BUGS, Bug, half

SECRET = b"blind5-catalogue-secret-01234567"
SOURCE = Path(__file__).with_name("solution.py")
WHERE = re.compile(r"differs at|differs from step|at index|first bad|shape|dtype|raised|holds|in place|modif|changed",
                   re.I)
ARCHITECTURES = tuple(f"{n}_forward" for n in architecture_checks.SIGNATURES)


def build(bug: Bug | None) -> types.ModuleType:
    """``solution.py`` with the bug's edits applied (each ``old`` exactly once), as a fresh module."""
    text = SOURCE.read_text(encoding="utf-8")
    for old, new in bug.edits if bug else ():
        if text.count(old) != 1:
            raise ValueError(f"{bug.key}: {old!r} occurs {text.count(old)} times in solution.py; expected once")
        text = text.replace(old, new)
    module = types.ModuleType(f"blind5_{bug.key if bug else 'solution'}")
    exec(compile(text, str(SOURCE), "exec"), module.__dict__)  # noqa: S102 - our own catalogue's code
    return module


def check_of(function: str, m: types.ModuleType):
    """``(check, args)`` grading ``function`` of the module ``m``."""
    cells = {"rnn_step": (cell_checks.check_rnn_step, (m.rnn_step,)),
             "lstm_step": (cell_checks.check_lstm_step, (m.lstm_step,)),
             "gru_step": (cell_checks.check_gru_step, (m.gru_step,)),
             "rnn_step_backward": (cell_checks.check_rnn_step_backward, (None, m.rnn_step_backward)),
             "lstm_step_backward": (cell_checks.check_lstm_step_backward, (None, m.lstm_step_backward)),
             "rnn_forward": (bptt_checks.check_rnn_forward, (m.rnn_forward,)),
             "rnn_backward": (bptt_checks.check_rnn_backward, (m.rnn_forward, m.rnn_backward)),
             "clip_gradients": (bptt_checks.check_clip_gradients, (m.clip_gradients,)),
             "hidden_grad_norms": (bptt_checks.check_hidden_grad_norms, (m.hidden_grad_norms,)),
             "spectral_radius": (bptt_checks.check_spectral_radius, (m.spectral_radius,)),
             "crnn_forward": (crnn_checks.check_crnn_forward, (m.crnn_forward,)),
             "conv2d_forward": (crnn_checks.check_conv2d_forward, (m.conv2d_forward,)),
             "maxpool_forward": (crnn_checks.check_maxpool_forward, (m.maxpool_forward,))}
    if function in ARCHITECTURES:
        name = function[: -len("_forward")]
        return architecture_checks.check_architecture, (name, getattr(m, function))
    return cells[function]


FUNCTIONS = ("rnn_step", "lstm_step", "gru_step", "rnn_step_backward", "lstm_step_backward", "rnn_forward",
             "rnn_backward", "clip_gradients", "hidden_grad_norms", "spectral_radius", *ARCHITECTURES, "crnn_forward",
             "conv2d_forward", "maxpool_forward")


def grade(function: str, m: types.ModuleType, options: dict, hidden: bool) -> str | None:
    check, args = check_of(function, m)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return graded_message.grade(check, *args, secret=SECRET, hidden=hidden, **options)
        except Exception as exc:  # noqa: BLE001 - in-process, a check lets the student's own raise through
            # NB: through the sandbox this arrives as the student's error; the check's own text for it is not made here
            return f"{function} raised {type(exc).__name__}: {exc}"


@dataclass(frozen=True)
class Result:
    key: str
    caught: bool
    located: bool
    named: bool
    false_name: bool
    message: str


def cause_of(message: str) -> str:
    return message.split(" Evidence:")[0]


def score(bug: Bug) -> Result:
    """Grade one bug (a fresh module for the visible test and the hidden one, as a notebook runs both)."""
    m = build(bug)
    options = dict(bug.options)
    messages = [grade(bug.function, m, options, hidden) for hidden in (False, True)]
    failed = [msg for msg in messages if msg is not None]
    if not failed:
        return Result(bug.key, False, False, False, False, "")
    message = failed[0]  # the visible test's message when it fails, else the hidden one's
    located = message.startswith(f"{bug.function}") and bool(WHERE.search(message))
    cause = cause_of(message)
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
            print(f"    {r.message[:700]}")
    n = len(out)
    print(f"{which}: {n} bugs, caught {sum(r.caught for r in out)}, located {sum(r.located for r in out)}, "
          f"named {sum(r.named for r in out)}, false names {sum(r.false_name for r in out)}")
    return out


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if a != "-v"]
    run(args[0] if args else "tune", "-v" in sys.argv)
