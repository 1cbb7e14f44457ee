"""The blind catalogues' shared runner: build a bug's edited solution, grade it in-process, score it (docs/blind5.md).

A catalogue (blind5, blind6, blind7, ...) is a :class:`Catalogue`: its salted secret, the solution text its bugs edit,
its bugs and its fixed split. Scoring, as docs/blind5.md defines it:

- *caught*: the function's visible or hidden test fails;
- *located*: the failing message starts with the function's own header and says where (a first bad entry, an index,
  a shape, a dtype, the raise);
- *named*: the message's cause (before ``Evidence:``) gives a class, ``(likely bug: ...)``, and one of the bug's
  patterns occurs in that cause;
- *false name*: a class is given and none of the bug's patterns occurs in the cause.

In-process, a check called on a student function that raises may let the exception through; the runner then records
``<function> raised <Error>: ...``, which counts as caught and located, never named.
"""

from __future__ import annotations

import re
import sys
import types
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from autograder import architecture_checks, bptt_checks, cell_checks, crnn_checks
from tests.autograder import graded_message

WHERE = re.compile(r"differs at|differs from step|at index|first bad|shape|dtype|raised|holds|in place|modif|changed",
                   re.I)
ARCHITECTURES = tuple(f"{n}_forward" for n in architecture_checks.SIGNATURES)
FUNCTIONS = ("rnn_step", "lstm_step", "gru_step", "rnn_step_backward", "lstm_step_backward", "rnn_forward",
             "rnn_backward", "clip_gradients", "hidden_grad_norms", "spectral_radius", *ARCHITECTURES, "crnn_forward",
             "conv2d_forward", "maxpool_forward")
_CHECKS = {"rnn_step": (cell_checks.check_rnn_step, False), "lstm_step": (cell_checks.check_lstm_step, False),
           "gru_step": (cell_checks.check_gru_step, False),
           "rnn_step_backward": (cell_checks.check_rnn_step_backward, True),
           "lstm_step_backward": (cell_checks.check_lstm_step_backward, True),
           "gru_step_backward": (cell_checks.check_gru_step_backward, True),
           "rnn_forward": (bptt_checks.check_rnn_forward, False),
           "clip_gradients": (bptt_checks.check_clip_gradients, False),
           "hidden_grad_norms": (bptt_checks.check_hidden_grad_norms, False),
           "spectral_radius": (bptt_checks.check_spectral_radius, False),
           "crnn_forward": (crnn_checks.check_crnn_forward, False),
           "conv2d_forward": (crnn_checks.check_conv2d_forward, False),
           "maxpool_forward": (crnn_checks.check_maxpool_forward, False)}


@dataclass(frozen=True)
class Catalogue:
    """One blind catalogue: ``bugs`` edit the text of ``source``; ``half(key)`` is its fixed split."""

    name: str
    secret: bytes
    source: Path
    bugs: Sequence
    half: Callable[[str], str]
    fresh_module_per_test: bool = True  # blind5 graded visible and hidden on one module; later catalogues on two
    width: int = 900  # characters of a message printed with -v


def build(catalogue: Catalogue, bug) -> types.ModuleType:
    """The catalogue's solution with the bug's edits applied (each ``old`` exactly once), as a fresh module."""
    text = catalogue.source.read_text(encoding="utf-8")
    for old, new in bug.edits if bug else ():
        if text.count(old) != 1:
            raise ValueError(f"{bug.key}: {old!r} occurs {text.count(old)} times in {catalogue.source.name}; "
                             "expected once")
        text = text.replace(old, new)
    module = types.ModuleType(f"{catalogue.name}_{bug.key if bug else 'solution'}")
    exec(compile(text, str(catalogue.source), "exec"), module.__dict__)  # noqa: S102 - our own catalogue's code
    return module


def check_of(function: str, m: types.ModuleType):
    """``(check, args)`` grading ``function`` of the module ``m``."""
    if function in ARCHITECTURES:
        return architecture_checks.check_architecture, (function[: -len("_forward")], getattr(m, function))
    if function == "rnn_backward":
        return bptt_checks.check_rnn_backward, (m.rnn_forward, m.rnn_backward)
    if function not in _CHECKS:
        raise ValueError(f"function: {function!r} has no check here; expected one of {FUNCTIONS} or "
                         "'gru_step_backward'")
    check, backward = _CHECKS[function]
    return check, ((None, getattr(m, function)) if backward else (getattr(m, function),))


def grade(function: str, m: types.ModuleType, options: dict, hidden: bool, secret: bytes) -> str | None:
    """None if ``function`` of ``m`` passes its check (visible or hidden), else the message or the raise."""
    check, args = check_of(function, m)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return graded_message.grade(check, *args, secret=secret, hidden=hidden, **options)
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


def judge(bug, message: str) -> Result:
    """Score one failing message of ``bug`` (located, named, falsely named)."""
    located = message.startswith(f"{bug.function}") and bool(WHERE.search(message))
    cause = cause_of(message)
    gives = "likely bug:" in cause
    matched = any(re.search(p, cause, re.I) for p in bug.patterns)
    return Result(bug.key, True, located, gives and matched, gives and not matched, message)


def score(catalogue: Catalogue, bug) -> Result:
    """Grade one bug, visible test then hidden one (on one module, or a fresh one each, as the catalogue says)."""
    options = dict(bug.options)
    m = build(catalogue, bug)
    messages = [grade(bug.function, build(catalogue, bug) if catalogue.fresh_module_per_test else m, options, hidden,
                      catalogue.secret) for hidden in (False, True)]
    failed = [msg for msg in messages if msg is not None]
    if not failed:
        return Result(bug.key, False, False, False, False, "")
    return judge(bug, failed[0])  # the visible test's message when it fails, else the hidden one's


def run(catalogue: Catalogue, which: str, verbose: bool = False) -> list[Result]:
    if which not in ("tune", "held-out", "all"):
        raise ValueError(f"which: {which!r}; expected 'tune', 'held-out' or 'all'")
    bugs = [b for b in catalogue.bugs if which == "all" or catalogue.half(b.key) == which]
    out = [score(catalogue, b) for b in bugs]
    for r in out:
        flags = "".join(c if ok else "." for c, ok in zip("CLN", (r.caught, r.located, r.named), strict=True))
        print(f"{flags} {'FALSE ' if r.false_name else ''}{r.key}")
        if verbose:
            print(f"    {r.message[:catalogue.width]}")
    print(f"{which}: {len(out)} bugs, caught {sum(r.caught for r in out)}, located {sum(r.located for r in out)}, "
          f"named {sum(r.named for r in out)}, false names {sum(r.false_name for r in out)}")
    return out


def main(catalogue: Catalogue, argv: list[str] | None = None) -> list[Result]:
    """``python -m tests.autograder.blindN.runner tune|held-out|all [-v]``."""
    argv = sys.argv[1:] if argv is None else argv
    args = [a for a in argv if a != "-v"]
    if len(args) > 1 or (args and args[0] not in ("tune", "held-out", "all")):
        sys.exit(f"usage: python -m tests.autograder.blindN.runner [tune|held-out|all] [-v]; got {' '.join(argv)!r}")
    return run(catalogue, args[0] if args else "tune", "-v" in argv)
