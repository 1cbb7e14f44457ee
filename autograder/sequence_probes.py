"""Diagnosis for sequence, architecture and CRNN checks: suspects reproduce a wrong result, probes locate it.

A check that has already failed calls :func:`diagnose` to write its message. Two layers explain the failure:

1. **Suspects** (a :class:`Suspect` is a :class:`autograder.hypotheses.Hypothesis` with the equation line to
   check). Each is the reference in ``simulator/`` run on *changed inputs* (a reversed or truncated sequence,
   a zeroed or transposed weight, permuted rows), in a *changed order* (steps chained forward instead of
   backward, a step skipped), or with its outputs recombined (a time-major stack, a squared norm), never a
   second copy of the math (DESIGN invariant 1). A suspect that reproduces the student's arrays, of any shape,
   is named as the likely bug.
2. **Probes** (:class:`Probe`). Each runs the student's function once more, through ``calling.call`` like
   every student call, on a grader-chosen variant of the failed case (one time step, one-hot upstream
   gradients on one step, an identity kernel, switched-off input weights) and compares that single return with
   the reference on the same variant. What matches and what does not locates the faulty term; a probe may
   add a guess, phrased as one.

Probes only explain (DESIGN invariant 7): they run after the score is decided (the check has failed), a probe
that raises or returns nonsense says nothing, and no probe result reaches a score. A student's function may
keep state and answer a probe differently; then the explanation may be wrong, never the score.

Message (one format for visible and hidden cases): ``<where>: <likely cause, with the equation line>.
Evidence: <first differing entries>; <probe findings>. [Inputs: <recipe, visible cases only>] Tolerance: ...``.

Not covered: a function that raises on the check's own inputs is reported by the check as raised (no
probe runs); probes cannot see inside a student's function, so two bugs in one function are located by the
first one the probes reach; a result no suspect reproduces and no probe narrows down gets the evidence only.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from autograder import hidden_text
from autograder.channel import ChannelClosedError, ChannelTimeoutError, ProtocolError
from autograder.compare import all_close, close, tolerance_text
from autograder.hypotheses import Hypothesis, hypothesis_text

# A student's buggy code is compared with our rendition of the bug, so the match is looser than the check.
MATCH_RTOL = 1e-5
MATCH_ATOL = 1e-7


@dataclass(frozen=True)
class Suspect(Hypothesis):
    """A named bug with the equation line it breaks: ``line`` is shown as "check <line>"; ``slips`` is how many
    sites of a grammar it changes (``autograder.grammar``): a two-slip suspect is named only when no one-slip
    suspect matches.
    """

    line: str = ""
    slips: int = 1


@dataclass(frozen=True)
class Finding:
    """What one probe showed: ``evidence`` always; ``bug``, ``cause`` and ``line`` when it supports a guess."""

    evidence: str
    bug: str = ""
    cause: str = ""
    line: str = ""


@dataclass(frozen=True)
class Confirmation:
    """A grader-chosen probe case and how to read the student's outputs on it (one student call, same keys as
    the check's ``got``): a suspect that matches the failing case is named only if it reproduces this return too.
    """

    case: dict
    run: Callable[[dict], dict]
    more: tuple[dict, ...] = ()  # further grader-chosen cases, tried only to separate suspects the first one did not


@dataclass(frozen=True)
class Probe:
    """``run(case, got)`` returns a :class:`Finding` or None (nothing to say, or the probe could not run)."""

    name: str
    run: Callable[[dict, dict], Finding | None]


def same(expected, got, rtol: float = MATCH_RTOL, atol: float = MATCH_ATOL) -> bool:
    """True if ``got`` is an array of ``expected``'s shape with equal values (a suspect's tolerance)."""
    e = np.asarray(expected, dtype=np.float64)
    return type(got) is np.ndarray and got.shape == e.shape and all_close(e, got, rtol, atol)


def differs(expected: np.ndarray, got: np.ndarray) -> np.ndarray:
    """Elementwise "not close", with the check's tolerance (arrays of one shape)."""
    return ~close(np.asarray(expected, dtype=np.float64), got)


def suspects_matching(got: dict[str, np.ndarray], case: dict, suspects: Sequence[Hypothesis],
                      zeros_match: bool = True) -> list[Hypothesis]:
    """Every suspect under which the reference returns every array in ``got`` (any shape), in order.

    ``zeros_match=False`` (outputs behind a ReLU): a result that is zeros everywhere is matched by no suspect,
    since any bug whose ReLU clamps every entry reproduces it and a match would name one by coincidence.
    """
    if not zeros_match and all(isinstance(v, np.ndarray) and v.size and not np.any(v) for v in got.values()):
        return []
    out = []
    for s in suspects:
        try:
            expected = s.outputs(case)
        except (ValueError, IndexError, np.linalg.LinAlgError):
            continue  # the bug cannot be expressed on this case's shapes
        if expected is None or any(k not in expected for k in got):
            continue
        if all(same(expected[k], got[k]) for k in got):
            out.append(s)
    return out


def attempt(thunk: Callable[[], object]):
    """Run one probe call; None if the student's code raises, loops, or returns something unreadable.

    Any exception is swallowed on purpose: a probe explains a failure the check has already scored, so a
    probe that cannot run says nothing rather than replacing the check's message.
    """
    try:
        return thunk()
    except Exception:  # noqa: BLE001 - see the docstring
        return None


def run_probes(probes: Sequence[Probe], case: dict, got: dict) -> list[Finding]:
    """Every probe's finding, in order; a probe that raises in the grader's own code is skipped too."""
    out = []
    for p in probes:
        found = attempt(lambda p=p: p.run(case, got))
        if isinstance(found, Finding):
            out.append(found)
    return out


def steps_text(steps) -> str:
    """``[0, 1, 2, 4]`` -> ``"t=0..2, 4"``; empty -> ``"no step"``."""
    steps = sorted(int(s) for s in steps)
    if not steps:
        return "no step"
    runs, start = [], steps[0]
    for a, b in zip(steps, [*steps[1:], None], strict=True):
        if b != a + 1:
            runs.append(f"{start}" if start == a else f"{start}..{a}")
            start = b
    return "t=" + ", ".join(runs)


def suspect_line(h: Hypothesis) -> str:
    """The equation line of a suspect: ``line``, or a string passed positionally (it lands in ``output_line``)."""
    return getattr(h, "line", "") or (h.output_line if isinstance(h.output_line, str) else "")


def _cause(matches: list[Hypothesis], findings: list[Finding], case: dict) -> str:
    if matches:
        first = matches[0]
        line = suspect_line(first)
        check = f"; check {line}" if line else ""
        text = f"Your result matches the reference if {hypothesis_text(first, case)} (likely bug: {first.bug})"
        others = [m for m in matches[1:] if m.bug != first.bug]
        others = [m for k, m in enumerate(others) if m.bug not in {o.bug for o in others[:k]}]
        if others:
            # Two different bugs give the same result on this case: name both rather than pick one.
            text += "; it matches equally if " + "; or if ".join(
                f"{hypothesis_text(m, case)} (likely bug: {m.bug})" for m in others)
        return f"{text}{check}."
    guess = next((f for f in findings if f.bug), None)
    if guess is not None:
        check = f"; check {guess.line}" if guess.line else ""
        return f"Probably {guess.cause} (likely bug: {guess.bug}){check}."
    return "No common bug reproduces your result and the probes below do not single out one term."


def permuted_axes(expected: np.ndarray, got: np.ndarray, names: Sequence[str]) -> Finding | None:
    """A finding if ``got`` is ``expected`` with its axes in another order (any permutation) or with its size-1 axes
    dropped, else None.

    Swapping the batch and time axes is named "time-major output"; any other order "axes in the wrong order"; lost
    size-1 axes "size-1 axes squeezed".
    """
    if got.shape != expected.shape and got.shape == np.squeeze(expected).shape and same(np.squeeze(expected), got):
        lost = ", ".join(names[a] for a, n in enumerate(expected.shape) if n == 1)
        return Finding(f"your array holds the right values without its size-1 axes ({lost})", "size-1 axes squeezed",
                       f"the size-1 axes ({lost}) are dropped (np.squeeze, or indexing with 0)",
                       f"the result's axes are ({', '.join(names)})")
    if got.ndim != expected.ndim or got.shape == expected.shape or sorted(got.shape) != sorted(expected.shape):
        return None
    for perm in itertools.permutations(range(expected.ndim)):
        if same(expected.transpose(perm), got):
            order = ", ".join(names[a] for a in perm)
            swapped = {names[a] for a, b in zip(perm, range(len(perm)), strict=True) if a != b}
            bug = "time-major output" if swapped == {"batch", "t"} else "axes in the wrong order"
            return Finding(f"your array holds the right values with its axes ordered ({order})", bug,
                           f"the axes are stacked as ({order}) instead of ({', '.join(names)})",
                           f"the result's axes are ({', '.join(names)})")
    return None


def fewest_slips(matches: list[Hypothesis]) -> list[Hypothesis]:
    """The matches with the fewest slips (a single slip explains a result before any pair of slips does)."""
    if not matches:
        return matches
    least = min(getattr(m, "slips", 1) for m in matches)
    return [m for m in matches if getattr(m, "slips", 1) == least]


def loose_array(value) -> np.ndarray:
    """A float64 copy of a finite float ndarray of any shape (a probe's return, compared with suspects)."""
    if type(value) is not np.ndarray or value.dtype.kind != "f" or value.size > 10**6:
        raise ValueError("not a float array")
    arr = np.array(value, dtype=np.float64)
    if not np.isfinite(arr).all():
        raise ValueError("not finite")
    return arr


def confirmed(matches: list[Hypothesis], confirm: Confirmation | None, reference: Callable[[dict], dict] | None
              ) -> tuple[list[Hypothesis], str]:
    """The matches that also reproduce the student's return on the probe case, and an evidence sentence.

    On the probe case (generic sizes: no size 1, no two sizes equal) a suspect must give the student's arrays;
    one that also differs there from the reference (``reference(case)``, the grader's own outputs) is
    *confirmed* and ranks first, one that equals the reference there (or cannot be expressed on its shapes) is kept
    behind the confirmed ones, and one that gives other arrays is refuted. A student call that fails, or no probe
    case, keeps every match.
    """
    if not matches or confirm is None:
        return matches, ""
    student = attempt(lambda: confirm.run(confirm.case))
    if not isinstance(student, dict) or not student:
        return matches, ""
    ref = attempt(lambda: reference(confirm.case)) if reference is not None else None
    kept, sure = [], []
    extra_runs: dict[int, dict | None] = {}
    for m in matches:
        try:
            on_probe = m.outputs(confirm.case)
        except (ValueError, IndexError, np.linalg.LinAlgError):
            on_probe = None
        if on_probe is None:
            # The bug cannot be expressed on the probe case's shapes: the first further case where it can decides
            # (one student call per such case); with none, it is untested and kept.
            verdict = _confirm_elsewhere(m, confirm, reference, extra_runs)
            if verdict is not False:
                (sure if verdict else kept).append(m)
            continue
        if not suspects_matching(student, confirm.case, [m]):
            continue
        separates = isinstance(ref, dict) and any(k in ref and not same(ref[k], on_probe.get(k)) for k in student)
        (sure if separates else kept).append(m)
    if not sure and not kept:
        return [], ("what matches this case (" + "; ".join(dict.fromkeys(m.bug for m in matches)) +
                    ") does not reproduce your result on the grader's probe case, so it is not named")
    return separated([*sure, *kept], confirm), ""


def _confirm_elsewhere(m: Hypothesis, confirm: Confirmation, reference: Callable[[dict], dict] | None,
                       runs: dict[int, dict | None]) -> bool | None:
    """On the first of ``confirm.more`` where ``m`` can be expressed: True if the student's return there is ``m``'s
    and differs from the reference, False if it is not ``m``'s, None if no such case (or the student's call fails).
    ``runs`` keeps the student's returns, one call per case.
    """
    for k, extra in enumerate(confirm.more):
        under = _outputs(m, extra)
        if under is None:
            continue
        if k not in runs:
            runs[k] = attempt(lambda extra=extra: confirm.run(extra))
        student = runs[k]
        if not isinstance(student, dict) or not student:
            return None
        if not all(k_ in under and same(under[k_], student[k_]) for k_ in student):
            return False
        ref = attempt(lambda extra=extra: reference(extra)) if reference is not None else None
        return isinstance(ref, dict) and any(k_ in ref and not same(ref[k_], under.get(k_)) for k_ in student)
    return None


def _outputs(h: Hypothesis, case: dict) -> dict | None:
    try:
        return h.outputs(case)
    except (ValueError, IndexError, ZeroDivisionError, np.linalg.LinAlgError):
        return None


def separated(matches: list[Hypothesis], confirm: Confirmation) -> list[Hypothesis]:
    """Matches with different names left after the probe case: on the first of ``confirm.more`` where two of them
    give different arrays, one more student call keeps those that reproduce it (at most one call per further case).

    Names that give the same arrays on every case tried are synonyms here and all stay ("it matches equally if").
    """
    for extra in confirm.more:
        if len({m.bug for m in matches}) < 2:
            break
        outs = [_outputs(m, extra) for m in matches]
        known = [o for o in outs if o is not None]
        if len(known) < 2 or all(all(same(known[0][k], o.get(k)) for k in known[0]) for o in known[1:]):
            continue  # this case does not tell them apart
        student = attempt(lambda extra=extra: confirm.run(extra))
        if not isinstance(student, dict) or not student:
            break
        # None left: every name was refuted on a case the grader chose to tell them apart, so none is given.
        matches = [m for m, o in zip(matches, outs, strict=True)
                   if o is not None and all(k in o and same(o[k], student[k]) for k in student)]
    return matches


# ----------------------------------------------------------------------------- how the answer depends on the call
STATE_BUG = "state kept between calls"
STATE_KEYS = ("h0", "h_prev", "c_prev")  # initial states: a case key of these names is one the answer must read
_FIX_STATE = ("compute each answer from this call's arguments only: no module-level or global variable, cache or "
              "mutable default argument that one call fills and a later call reads")


@dataclass(frozen=True)
class CallFinding:
    """What calling the student's function on grader-chosen inputs in a fresh order showed: ``text`` (the visible
    cause), ``hidden`` (the same in fixed words, for a hidden test's message) and ``bug`` (its class).
    """

    text: str
    hidden: str
    bug: str


def rescaled(value, factor: float):
    """``value`` with every float array (in dicts, lists and tuples too) multiplied by ``factor``; the rest as is."""
    if type(value) is np.ndarray and value.dtype.kind == "f":
        return value * factor
    if type(value) is dict:
        return {k: rescaled(v, factor) for k, v in value.items()}
    if type(value) in (list, tuple):
        return type(value)(rescaled(v, factor) for v in value)
    return value


def _agree(a: dict, b: dict, keys: Sequence[str]) -> bool:
    return all(same(a[k], b[k]) for k in keys)


def call_order_finding(run: Callable[[dict], dict], reference: Callable[[dict], dict], case: dict,
                       state_keys: Sequence[str] = STATE_KEYS) -> CallFinding | None:
    """Does the student's answer depend on this call's arguments only, and on its initial state?

    ``case`` is a grader-chosen probe case (never a hidden one, so the finding says nothing about hidden inputs).
    The student runs on ``case`` (P1), on P1 with every float array scaled by 0.6 (P2: the same shapes, another
    answer), on P1 again and, for each key of ``state_keys`` the case holds, on P1 with that state negated; the
    reference on the same inputs says what each answer should be. By construction:

    - the answer to P2 is the reference's answer to P1 (or the student's own answer to P1, which is not an answer
      to P1's shapes): it returned an earlier call's answer;
    - the two answers to P1 differ: the answer depends on the calls before it;
    - the answer with the state negated equals the answer to P1, where the reference's differ, the answer to
      P2 differs from the answer to P1 (so the function does read its inputs), and the answer to P1 is the
      reference's with that state zero: the result ignores that state (a state of the student's own other than
      zero is not named).

    Up to 3 + ``len(state_keys)`` student calls, which only explain (DESIGN invariant 7); None when nothing shows
    or a call fails.
    """
    p2 = rescaled(case, 0.6)
    r1, r2 = attempt(lambda: reference(case)), attempt(lambda: reference(p2))
    if not isinstance(r1, dict) or not isinstance(r2, dict):
        return None
    def student(p: dict):
        try:
            return run(p)
        except (ChannelClosedError, ChannelTimeoutError, ProtocolError):
            raise  # NB: the sandbox stopped: the check reports that, not a guess
        except Exception:  # noqa: BLE001 - a call that fails says nothing
            return None

    a, b, c = (student(p) for p in (case, p2, case))
    if not all(isinstance(v, dict) for v in (a, b, c)):
        return None
    keys = [k for k in r1 if k in r2 and all(type(v.get(k)) is np.ndarray for v in (a, b, c))]
    if not keys or _agree(r1, r2, keys):
        return None
    shape_of_p1 = all(np.shape(a[k]) == np.shape(r1[k]) for k in keys)
    if _agree(r1, b, keys) or (_agree(a, b, keys) and not shape_of_p1):
        seen = ("the second answer is what the first input gives" if _agree(r1, b, keys) else
                "both answers are one array, not even of the inputs' shape")
        return CallFinding(
            "Your function returned the answer of an earlier call: it keeps state between calls (likely bug: "
            f"{STATE_BUG}). The grader called it on two inputs of its own, of one shape, one after the other, and "
            f"{seen}; {_FIX_STATE}.",
            f"your function returned the answer of an earlier call: it keeps state between calls (likely bug: "
            f"{STATE_BUG}); {_FIX_STATE}", STATE_BUG)
    if not _agree(a, c, keys):
        return CallFinding(
            "Your function gave two different answers to the same input: it keeps state between calls (likely bug: "
            f"{STATE_BUG}). The grader called it on an input of its own, then on another, then on the first again, "
            f"and the first and third answers differ; {_FIX_STATE} (a random draw without a fixed seed does this "
            "too).",
            f"your function gave two different answers to the same input: it keeps state between calls (likely bug: "
            f"{STATE_BUG}); {_FIX_STATE}", STATE_BUG)
    if _agree(a, b, keys):
        return None  # the answer ignores every input scaled: not a question of the initial state
    for key in state_keys:
        if type(case.get(key)) is not np.ndarray or not np.any(case[key]):
            continue
        p3 = {**case, key: -case[key]}
        r3 = attempt(lambda p3=p3: reference(p3))
        if not isinstance(r3, dict) or any(k not in r3 for k in keys) or _agree(r1, r3, keys):
            continue
        d = student(p3)
        # NB: and the answer is the reference's from a zero state: a bug whose result merely cannot depend on the
        # state (hidden_grad_norms without tanh', whose Jacobians are W_hh^T alone) is not this one
        p0 = {**case, key: np.zeros_like(case[key])}
        r0 = attempt(lambda p0=p0: reference(p0))
        if (isinstance(d, dict) and all(type(d.get(k)) is np.ndarray for k in keys) and _agree(c, d, keys)
                and isinstance(r0, dict) and all(k in r0 for k in keys) and _agree(r0, c, keys)):
            bug = "initial state ignored" if key == "h0" else f"{key} ignored"
            return CallFinding(
                f"The result does not depend on {key} (likely bug: {bug}): the grader called your function twice on "
                f"inputs of its own that differ only in {key}, and both answers are the same where the reference's "
                f"differ; start from the {key} passed in, not from zeros or a state of your own.",
                f"the result does not depend on {key} (likely bug: {bug}); start from the {key} passed in, not from "
                "zeros or a state of your own", bug)
    return None


def note_hidden(cause: str, finding: CallFinding | None) -> None:
    """Let a hidden test's message say ``finding`` (its fixed words) when the check's message starts with ``cause``."""
    if finding is not None:
        hidden_text.note_problem(cause, finding.hidden)


def diagnose(head: str, problems: list[str], got: dict, case: dict, suspects: Sequence[Hypothesis],
             probes: Sequence[Probe] = (), zeros_match: bool = True, confirm: Confirmation | None = None,
             reference: Callable[[dict], dict] | None = None) -> str:
    """The failure message: the likely cause with its equation line, then the evidence (module docstring).

    ``problems`` are the check's ``describe_mismatch`` sentences; probes run only when no suspect survives.
    ``confirm`` (with ``reference``, the grader's outputs on a case) re-checks the suspects that match on a
    grader-chosen probe case (:func:`confirmed`). A visible case's ``recipe`` is appended; a hidden case has none
    (DESIGN invariant 8).
    """
    matches, refuted = confirmed(suspects_matching(got, case, suspects, zeros_match), confirm, reference)
    matches = fewest_slips(matches)
    # A hidden case (it has no recipe) shows no suspect's name, so the call-order finding is looked for there too.
    order = (call_order_finding(confirm.run, reference, confirm.case)
             if confirm is not None and reference is not None and (not matches or "recipe" not in case) else None)
    if order is not None and (order.bug == STATE_BUG or not matches):
        # NB: a function that keeps state makes every suspect's match a coincidence of the calls before it
        matches, findings, cause = [], [], order.text
    else:
        findings = [] if matches else run_probes(probes, case, got)
        cause = _cause(matches, findings, case)
    note_hidden(cause, order)
    evidence = "; ".join([*problems, *([refuted] if refuted else []), *(f.evidence for f in findings)])
    text = f"{head}: {cause} Evidence: {evidence}."
    if "recipe" in case and not matches:
        text += f" Inputs: `from autograder.cases import {case['recipe'].split('(')[0]}; case = {case['recipe']}`."
    return f"{text} Tolerance: {tolerance_text()}."


def layout_probe(key: str, reference: Callable[[dict], np.ndarray], names: Sequence[str]) -> Probe:
    """A probe (no student call): is a wrong-shaped ``got[key]`` the reference's values with the axes re-ordered?"""
    return Probe("axes", lambda case, got: permuted_axes(reference(case), got[key], names))


def wrong_shape(value, shape: tuple[int, ...]) -> np.ndarray | None:
    """A private float64 copy of ``value`` if it is an exact finite float ndarray whose shape is not ``shape``.

    Lets a check name the bug behind a wrong-shaped output (a time-major stack, a skipped step) before it
    reports the shape; anything else returns None and the strict reader reports it as usual.
    """
    if type(value) is not np.ndarray or value.dtype.kind != "f" or value.shape == tuple(shape):
        return None
    arr = np.array(value, dtype=np.float64)
    return arr if np.isfinite(arr).all() and arr.size <= 10**6 else None
