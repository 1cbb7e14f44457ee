"""Name the likely bug: the bug catalogue where it is certain, else the ablation probes' localisation.

Two layers (docs/diagnosis.md):

1. The named catalogue (``autograder.hypotheses``): a hypothesis names the bug only if it reproduces
   the student's outputs (and the intermediates the student cached) on the failing case *and* on the
   grader's probe case, where it differs from the reference. So a coincidence of one case's shapes
   (a 1x1x1 case, a square weight) never names a bug, and visible and hidden cases get the same name.
2. The probes (``autograder.probes``): which term or equation line differs, phrased as a likely cause
   with its evidence.

Neither layer awards points: the extra student calls only explain (DESIGN.md, invariant 7).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from autograder import hidden_text, probes, sequence_probes
from autograder.channel import ChannelClosedError, ChannelTimeoutError, ProtocolError
from autograder.compare import all_close
from autograder.hypotheses import Hypothesis, hypothesis_text
from autograder.precision_diagnosis import precision_cause

# Looser than the check's own tolerance: a student's buggy code is compared with our rendition of the bug.
MATCH_RTOL = 1e-5
MATCH_ATOL = 1e-7
NO_NAME = "No common bug reproduces your result; print your intermediates next to the equations for this case."


def matching_hypothesis(got: dict[str, np.ndarray], case: dict, hypotheses: list[Hypothesis]) -> Hypothesis | None:
    """The first hypothesis under which the reference returns every array in ``got``, or None."""
    for hyp in hypotheses:
        if _reproduces(hyp, case, got, tuple(got)):
            return hyp
    return None


def explain(got: dict[str, np.ndarray], case: dict, hypotheses: list[Hypothesis]) -> str:
    """A sentence naming the likely bug, or advice to compare intermediates when no hypothesis fits."""
    hyp = matching_hypothesis(got, case, hypotheses)
    if hyp is None:
        return NO_NAME + _recipe(case)
    return f"Your result matches the reference if {hypothesis_text(hyp, case)} (likely bug: {hyp.bug})."


def _recipe(case: dict) -> str:
    if "recipe" not in case:  # hidden cases carry none (invariant 8)
        return ""
    inputs = ", ".join(k for k in case if k not in ("label", "recipe", "reset_after", "cache"))
    recipe = case["recipe"]
    return f" Its inputs: `from autograder.cases import {recipe.split('(')[0]}; case = {recipe}` (keys {inputs})."


def _flat(expected: dict) -> dict:
    """A hypothesis' outputs with its cache's arrays beside them: ``{"h", "cache": {"i"}}`` -> ``{"h", "i"}``."""
    cache = expected.get("cache")
    flat = {k: v for k, v in expected.items() if k != "cache"}
    if isinstance(cache, dict):
        flat.update({k: v for k, v in cache.items() if k not in flat and isinstance(v, np.ndarray)})
    return flat


def _reproduces(hyp: Hypothesis, case: dict, got: dict, required: tuple[str, ...],
                reference: dict | None = None) -> bool:
    """Does ``hyp`` give every ``required`` key of ``got``, and agree on the other keys of ``got`` it has?

    For a hypothesis about the line that builds an output (``hyp.output_line``) and with ``reference`` (the
    reference's values on ``case``), another key (a cached intermediate) may match the reference's value
    instead: a student can compute an intermediate right and still use something else in that line
    (``tanh_c`` cached right, ``h = o * np.tanh(c_prev)`` returned). Other hypotheses claim an intermediate
    is computed wrong, so a right cached value refutes them (an i/f swap in the ``c =`` line is no block order).
    """
    try:
        expected = hyp.outputs(case)
    except (ValueError, np.linalg.LinAlgError):
        return False  # the bug is not expressible on this case's shapes
    if expected is None:
        return False
    flat = _flat(expected)
    if any(k not in flat for k in required):
        return False
    for k, v in got.items():
        if k in flat and not _same(flat[k], v):
            if (k in required or not hyp.output_line or reference is None or k not in reference
                    or not _same(reference[k], v)):
                return False
    return True


def _same(want, got: np.ndarray) -> bool:
    want = np.asarray(want, dtype=np.float64)
    return want.shape == got.shape and all_close(want, got, MATCH_RTOL, MATCH_ATOL)


def _differs(hyp: Hypothesis, case: dict, reference: dict, required: tuple[str, ...]) -> bool:
    try:
        flat = _flat(hyp.outputs(case) or {})
    except (ValueError, np.linalg.LinAlgError):
        return False
    return any(k in flat and not all_close(reference[k], np.asarray(flat[k], dtype=np.float64)) for k in required)


def certain_hypothesis(case: dict, got: dict, hypotheses: list[Hypothesis], required: tuple[str, ...],
                       probe_cases: list[dict], run_student: Callable[[dict], dict],
                       run_reference: Callable[[dict], dict]) -> Hypothesis | None:
    """The first hypothesis that reproduces ``got`` on ``case`` and the student's result on a probe case.

    The probe case is the first of ``probe_cases`` on which the hypothesis can be expressed (a
    transposed ``W_xh`` needs a square one); there it must also differ from the reference, else it
    proves nothing. The student runs at most once per probe case.
    """
    on_probe: dict[int, dict | None] = {}
    reference = run_reference(case)
    for hyp in hypotheses:
        if not _reproduces(hyp, case, got, required, reference):
            continue
        for k, probe in enumerate(probe_cases):
            try:
                if hyp.outputs(probe) is None:
                    continue
            except (ValueError, np.linalg.LinAlgError):
                continue
            if k not in on_probe:
                try:
                    on_probe[k] = run_student(probe)
                except (ChannelClosedError, ChannelTimeoutError, ProtocolError):
                    raise
                except Exception:  # noqa: BLE001 - a student that fails on the probe case gets no name
                    on_probe[k] = None
            student = on_probe[k]
            if student is not None:
                expected = run_reference(probe)
                if _differs(hyp, probe, expected, required) and _reproduces(hyp, probe, student, required, expected):
                    return hyp
            break
    return None


# Options a check passes to the student's step, with the value a function that does not read them computes.
OPTION_DEFAULTS = {"reset_after": True}


def ignored_option(hyp: Hypothesis, case: dict, required: tuple[str, ...],
                   run_reference: Callable[[dict], dict]) -> tuple[str, str] | None:
    """``(visible, hidden)`` sentences when the named ``hyp`` is "the option passed is not used": the case passes
    an option of :data:`OPTION_DEFAULTS` at another value than its default and ``hyp`` gives, on this case, what
    the reference gives with the default. Two causes give this one answer and no call can tell them apart: the
    option is not passed on, or the value of an earlier call (the first test's default) is kept in a mutable
    default argument or a global. Both are said. No student call: ``hyp`` was already confirmed on a probe case.
    """
    for key, default in OPTION_DEFAULTS.items():
        value = case.get(key, default)
        if value == default:
            continue
        try:
            under, ref = hyp.outputs(case), run_reference({**case, key: default})
        except (ValueError, np.linalg.LinAlgError):
            continue
        if under is None or not all(k in under and k in ref and all_close(np.asarray(ref[k], dtype=np.float64),
                                                                            np.asarray(under[k], dtype=np.float64))
                                    for k in required):
            continue
        why = (f"{key} is not passed on where it is used, or the value of an earlier call is kept ("
               f"{sequence_probes.STATE_BUG}: a mutable default argument or a global that the first call fills, "
               f"here with {key}={default})")
        return (f"; with {key}={value} passed, your function computes what {key}={default} (the default) gives: {why}",
                f"with {key}={value} passed, your function computes what {key}={default} (the default) gives "
                f"(likely bug: {hyp.bug}): {why}; compute each answer from this call's arguments only")
    return None


def explain_step(case: dict, got: dict, hypotheses: list[Hypothesis], required: tuple[str, ...],
                 probe_cases: list[dict], run_student: Callable[[dict], dict], run_reference: Callable[[dict], dict],
                 find: Callable[[], probes.Finding | None], problems: list[str]) -> str:
    """A step function's failure message after its header: the likely cause first, then the evidence.

    "<one sentence: the likely cause, with the equation line> Evidence: <first bad entries on this
    case>; <what the probes showed>." The cause is a certain name from the catalogue (``(likely
    bug: <class>)``), else the probes' finding phrased as a guess, else advice. ``got`` holds the
    student's outputs on ``case`` (``required`` keys) and intermediates read from its cache;
    ``run_student`` / ``run_reference`` map a case (a probe case here) to the same keys; ``find`` runs
    the probes; ``problems`` are the check's mismatch sentences for this case.
    """
    evidence = "; ".join(problems)
    if probe_cases:
        precision = precision_cause({k: got[k] for k in required if k in got}, case, run_reference,
                                    (probe_cases[0], run_student))
        if precision is not None:  # NB: not noted for hidden_text: a hidden test shows the mismatch, as for any bug
            return f"{precision}. Evidence: {evidence}.{_recipe(case)}"
    hyp = certain_hypothesis(case, got, hypotheses, required, probe_cases, run_student, run_reference)
    # The calls in a fresh order (sequence_probes.call_order_finding) run when no name is certain, and on a hidden
    # case (no recipe), whose message shows no name but may show theirs.
    order = (sequence_probes.call_order_finding(run_student, run_reference, probe_cases[0])
             if probe_cases and (hyp is None or "recipe" not in case) else None)
    if order is not None and (order.bug == sequence_probes.STATE_BUG or hyp is None):
        sequence_probes.note_hidden(order.text, order)
        return f"{order.text} Evidence: {evidence}.{_recipe(case)}"
    if hyp is not None:
        cause = f"Your result matches the reference if {hypothesis_text(hyp, case)} (likely bug: {hyp.bug})"
        sequence_probes.note_hidden(cause, order)
        option = ignored_option(hyp, case, required, run_reference)
        if option is not None:
            hidden_text.note_problem(cause, option[1])
            return f"{cause}, also on the grader's probe case{option[0]}. Evidence: {evidence}.{_recipe(case)}"
        return f"{cause}, also on the grader's probe case. Evidence: {evidence}.{_recipe(case)}"
    try:
        finding = find()
    except (ChannelClosedError, ChannelTimeoutError, ProtocolError):
        raise
    except Exception:  # noqa: BLE001 - the probes explain; their failure must not hide the check's message
        finding = None
    if finding is None:
        return f"{NO_NAME} Evidence: {evidence}.{_recipe(case)}"
    return f"{finding.sentence()} Evidence: {evidence}; {finding.evidence}.{_recipe(case)}"
