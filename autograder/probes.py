"""Ablation probes: run a student's step where one term vanishes or stands alone, and name the term that differs.

A probe is a grader-chosen input (the fixed probe case of ``probe_case``, never a graded case, so the
explanation is the same for visible and hidden cases): the same case with some inputs set to zero, a
gate saturated (its weights zero and its bias at +-60, so ``sigmoid`` is exactly 1 or 0), or, for a
backward, one upstream path switched off. The student's function and the reference run on each
probe; which probes differ, and in which outputs, localises the faulty term by construction:

- forward: "only x W_x is non-zero", "only h_prev W_h", "only the bias", ``c_prev = 0``, a gate
  shut or open; the first cached intermediate that differs (the notebooks prescribe the cache keys);
- backward: which gradients differ (each is one line: ``dW_h = h_prev^T da`` ...), which gate blocks
  of the bias gradient differ (``db = sum_B da`` shows ``da`` block by block), and whether the error
  needs the ``dh`` or the ``dc`` path (the other upstream gradient set to zero).

Probes only *explain*: every probe is one more call of the student's function (through the same
sandboxed channel as the graded calls), and no score depends on them (DESIGN.md, invariant 7).
A student function that lies on probe inputs can only mislead its own explanation.

Public API (stable; other checks may build on it): ``Probe``, ``Outcome``, ``Finding``, ``run_probes``,
``probe_case``, ``probe_cases``, ``saturate``, ``pre_activations``, ``identify``, ``forward_finding``,
``backward_finding``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from autograder.channel import ChannelClosedError, ChannelTimeoutError, ProtocolError
from autograder.compare import Layout, all_close, describe_mismatch
from simulator import cells

PROBE_SHAPE = (3, 2, 4)  # (B, D, H): all different, H > 1, so no transposition or broadcast coincides
SQUARE_SHAPE = (3, 4, 4)  # for hypotheses that need D == H (a transposed input weight)
PROBE_SEED = 424_242
SATURATION = 60.0  # sigmoid(+-60) is 1 or 0 to double precision


@dataclass(frozen=True)
class Probe:
    """One grader-chosen input: ``change`` maps the base case to it; ``condition`` says what it isolates."""

    name: str
    condition: str
    change: Callable[[dict], dict]


@dataclass(frozen=True)
class Outcome:
    """What a probe showed: ``bad`` maps each differing output to the sentence locating its first bad entry."""

    probe: Probe
    bad: dict[str, str] = field(default_factory=dict)
    error: str | None = None
    compared: tuple[str, ...] = ()
    got: dict = field(default_factory=dict)
    expected: dict = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.bad and self.error is None

    def evidence(self, *keys: str) -> str:
        """``condition: first mismatch`` for the first of ``keys`` that differs (or the first that does)."""
        if self.error:
            return f"{self.probe.condition}: {self.error}"
        key = next((k for k in keys if k in self.bad), next(iter(self.bad), None))
        return f"{self.probe.condition}: {self.bad[key]}" if key else f"{self.probe.condition}: all match"


@dataclass(frozen=True)
class Finding:
    """A likely cause (one sentence naming the equation line) and the probe evidence for it."""

    cause: str
    evidence: str

    def sentence(self) -> str:
        return f"Likely cause (a guess from probes the grader ran): {self.cause}."

    def text(self) -> str:
        return f"{self.sentence()} Evidence: {self.evidence}."


def run_probes(probes: list[Probe], base: dict, student: Callable[[dict], dict], reference: Callable[[dict], dict],
               layout: Callable[[str], Layout]) -> dict[str, Outcome]:
    """Run every probe on ``student`` and ``reference`` (case -> dict of arrays) and compare the keys both return.

    An ``AssertionError`` or other exception from ``student`` (a bad return value, a crash) becomes the
    probe's ``error``; a broken channel is not swallowed.
    """
    out = {}
    for probe in probes:
        case = probe.change(base)
        expected = reference(case)
        try:
            got = student(case)
        except (ChannelClosedError, ChannelTimeoutError, ProtocolError):
            raise
        except Exception as exc:  # noqa: BLE001 - a probe that fails only explains less
            out[probe.name] = Outcome(probe, error=f"your function failed here ({_short_error(str(exc))})")
            continue
        bad, compared = {}, tuple(k for k in expected if k in got)
        for key in compared:
            want, have = expected[key], got[key]
            if want.shape != have.shape:
                bad[key] = f"{key} has shape {have.shape}, expected {want.shape}"
            elif (m := describe_mismatch(key, want, have, layout(key))) is not None:
                bad[key] = m
        out[probe.name] = Outcome(probe, bad, compared=compared, got=got, expected=expected)
    return out


def _short_error(text: str, limit: int = 400) -> str:
    """``text`` cut at ``limit`` characters, keeping a ``(likely bug: ...)`` guess the cut would lose."""
    guess = GUESS.search(text)
    return text[:limit] + (f" ... {guess.group(0)}" if guess and guess.end() > limit else "")


GUESS = re.compile(r"\(likely bug: ([^)]*)\)")


def _raised(what: str, outcome: Outcome) -> Finding:
    """Why the student's function fails on the probe case, and the guess its error carries, if any.

    The guess (a column bias, a transposed weight) is the one the same error gets on a case where it is
    raised, so a case whose shapes let the bug pass without an error gets the same name.
    """
    guess = GUESS.search(outcome.error or "")
    said = (f"; the error it raises there suggests the cause (likely bug: {guess.group(1)})" if guess else "")
    return Finding(f"{what} fails on the grader's probe case (other shapes than this case's), so the difference "
                   f"likely depends on the shapes{said}", outcome.evidence())


# ----------------------------------------------------------------------------- shapes: when does it raise?
# (B, D, H) of the grader's shape probes, each the generic probe shape with one coincidence added, and what the
# coincidence hides: a function that raises on the generic shape and runs on one of these treats the two sizes
# (or the size 1) as the same thing somewhere. Every variant has all its other sizes different and above 1.
SHAPE_VARIANTS = (
    ((3, 2, 4), "B, D and H all different", ""),
    ((3, 4, 4), "D = H", "an array or size of x's width D stands where one of h_prev's width H belongs (a size "
                         "read from x, as in H = x.shape[1], a weight used without its transpose, or the input "
                         "and recurrent weights exchanged)"),
    ((4, 2, 4), "B = H", "the batch axis B and the unit axis H are confused somewhere (an activation or gradient "
                         "transposed, or a sum or concatenation over the wrong axis)"),
    ((2, 2, 4), "B = D", "the batch axis B and x's feature axis D are confused somewhere (x.T used, or a sum or "
                         "concatenation over the wrong axis)"),
    ((1, 2, 4), "B = 1", "it works for one example only: the batch axis is dropped, indexed or assumed to be 1 "
                         "(x[0], squeeze, reshape(-1), a sum over every axis)"),
    ((3, 1, 4), "D = 1", "a size-1 input axis lets broadcasting hide a wrong shape (an axis dropped or summed)"),
    ((3, 2, 1), "H = 1", "a size-1 unit axis lets broadcasting hide a wrong shape (an axis dropped or summed, or "
                         "the gate blocks sliced with a fixed width)"),
)


def shape_coincidences(B: int, D: int, H: int) -> list[str]:
    """The coincidences of ``SHAPE_VARIANTS`` a case of these sizes has (``["D = H", "B = 1"]``)."""
    have = {"D = H": D == H, "B = H": B == H, "B = D": B == D, "B = 1": B == 1, "D = 1": D == 1, "H = 1": H == 1}
    return [name for name, yes in have.items() if yes]


def shape_finding(kind: str, student: Callable[[dict], dict], reference: Callable[[dict], dict],
                  layout: Callable[[str], Layout], hypotheses=(), with_case: Callable[[dict], dict] = lambda c: c,
                  reset_after: bool = True, what: str = "your function", case_shape: tuple | None = None,
                  outputs: tuple[str, ...] = ()) -> Finding | None:
    """Why a step raises, from the sizes under which it does not: the generic probe case and each coincidence.

    Called only after the student's function raised on a graded case. It runs on the probe case of every
    shape in ``SHAPE_VARIANTS`` (one student call each); the variants where it runs say which sizes it
    confuses ("raises unless D = H"). Where it runs with a wrong result, a catalogue hypothesis (one of
    ``hypotheses``) that reproduces the student there, differs from the reference there, and cannot be
    expressed on the shapes where the student raises is named: the error and the values tell the same
    story. Where it runs and matches, the sentence says so (a size read from the wrong array). Returns
    None when the function raises on every variant or runs on the generic one (then the sizes do not
    explain the error). ``case_shape`` is the failing case's ``(B, D, H)``.
    """
    from autograder import diagnose  # NB: diagnose imports this module

    runs = {}
    for shape, label, _ in SHAPE_VARIANTS:
        case = with_case(probe_case(kind, reset_after, shape))
        try:
            runs[label] = (case, student(case))
        except (ChannelClosedError, ChannelTimeoutError, ProtocolError):
            raise
        except Exception:  # noqa: BLE001 - a raise is the evidence here
            runs[label] = (case, None)
    generic = SHAPE_VARIANTS[0][1]
    ran = [label for label, (_, got) in runs.items() if got is not None]
    if not ran:
        return None
    if generic in ran:
        if case_shape is None:
            return None
        here = shape_coincidences(*case_shape)
        if not here:
            return None
        raised_too = [c for c in here if runs[c][1] is None]
        if not raised_too:
            return None
        meaning = {label: m for _, label, m in SHAPE_VARIANTS}
        return Finding(f"{what} raises on this case, where {' and '.join(here)}, and runs on the grader's probe case "
                       f"where B, D and H all differ and exceed 1 (it raises there too when {', '.join(raised_too)}): "
                       f"{meaning[raised_too[0]]}", f"raised on the probe cases with {', '.join(raised_too)}")
    right, wrong = [], []
    for label in ran:
        case, got = runs[label]
        expected = reference(case)
        keys = [k for k in (outputs or expected) if k in expected]
        same = all(k in got and got[k].shape == expected[k].shape and all_close(expected[k], got[k]) for k in keys)
        (right if same else wrong).append(label)
    meaning = {label: m for _, label, m in SHAPE_VARIANTS}
    ran_text = " or ".join(ran)
    tried = ", ".join(label for _, label, _ in SHAPE_VARIANTS)
    evidence = (f"on the grader's shape probes ({tried}) your function ran only with {ran_text}"
                + (f"; it matched the reference with {' or '.join(right)}" if right else "")
                + (f"; it differed from the reference with {' or '.join(wrong)}" if wrong else ""))
    raised_cases = [runs[label][0] for label in runs if label not in ran]
    for hyp in hypotheses:
        if wrong and all(_names(diagnose, hyp, runs[label][0], runs[label][1], reference, outputs)
                         for label in wrong) and all(not _expressible(hyp, c) for c in raised_cases):
            from autograder.hypotheses import hypothesis_text

            return Finding(f"{what} raises unless {ran_text}, and where it runs your result matches the reference if "
                           f"{hypothesis_text(hyp, runs[wrong[0]][0])} (likely bug: {hyp.bug}), which cannot be "
                           f"computed on the shapes where yours raises", evidence)
    if right and not wrong:
        return Finding(f"{what} raises unless {ran_text} and then matches the reference, so it is right except for a "
                       f"size: {meaning[ran[0]]} (likely bug: {_SIZE_BUG[ran[0]]})", evidence)
    return Finding(f"{what} raises unless {ran_text}: {meaning[ran[0]]}", evidence)


# A function right on the generic probe case and wrong on a case with one of these coincidences.
_WRONG_ONLY = {
    "B = 1": ("size-1 axis dropped", "a batch axis of size 1 is dropped or summed away (squeeze, a sum without axis=, "
              "reshape(-1)) or broadcast into the wrong shape"),
    "D = 1": ("size-1 axis dropped",
              "an input axis of size 1 is dropped or summed away (squeeze, a sum without axis=)"),
    "H = 1": ("size-1 axis dropped",
              "a unit axis of size 1 is dropped or summed away (squeeze, a sum without axis=), or a gate block sliced "
              "with a fixed width"),
    "D = H": ("an axis chosen by its size", "something is chosen by its size, which is ambiguous when D = H (a shape "
              "test, a reshape, or a transpose that only fits in shape)"),
    "B = H": ("an axis chosen by its size", "something is chosen by its size, which is ambiguous when B = H (a shape "
              "test, a reshape, or a transposed state that only fits in shape)"),
    "B = D": ("an axis chosen by its size", "something is chosen by its size, which is ambiguous when B = D (a shape "
              "test, a reshape, or x.T that only fits in shape)"),
}


def coincidence_finding(kind: str, student: Callable[[dict], dict], reference: Callable[[dict], dict],
                        case_shape: tuple[int, int, int], with_case: Callable[[dict], dict] = lambda c: c,
                        reset_after: bool = True, what: str = "your function",
                        outputs: tuple[str, ...] = ()) -> Finding | None:
    """Why a function right on the generic probe case fails this case: the first coincidence of the case's sizes
    (``shape_coincidences``) under which it also fails on a grader-chosen probe case, or None.
    """
    sizes = {label: shape for shape, label, _ in SHAPE_VARIANTS}
    for label in shape_coincidences(*case_shape):
        case = with_case(probe_case(kind, reset_after, sizes[label]))
        expected = reference(case)
        try:
            got = student(case)
        except (ChannelClosedError, ChannelTimeoutError, ProtocolError):
            raise
        except Exception:  # noqa: BLE001 - raising there is failing there
            got = None
        keys = [k for k in (outputs or expected) if k in expected]
        if got is None or not all(k in got and got[k].shape == expected[k].shape and all_close(expected[k], got[k])
                                  for k in keys):
            bug, meaning = _WRONG_ONLY[label]
            return Finding(f"{what} matches the reference on the grader's probe case (B, D and H all different, none "
                           f"1) and fails on one with {label}, as on this case: {meaning} (likely bug: {bug})",
                           f"on the grader's probe case with {label} it {'raised' if got is None else 'differed'}")
    return None


_SIZE_BUG = {"D = H": "a size of D (x's width) used for H", "B = H": "batch and unit axes confused",
             "B = D": "batch and input axes confused", "B = 1": "written for a batch of one",
             "D = 1": "an axis of size 1 assumed", "H = 1": "an axis of size 1 assumed"}


def _expressible(hyp, case: dict) -> bool:
    try:
        return hyp.outputs(case) is not None
    except (ValueError, IndexError, np.linalg.LinAlgError):
        return False


def _names(diagnose, hyp, case: dict, got: dict, reference: Callable[[dict], dict], outputs: tuple[str, ...]) -> bool:
    """Does ``hyp`` reproduce ``got`` (its ``outputs``, and the other keys it has) on ``case`` and differ there?"""
    expected = reference(case)
    required = tuple(k for k in (outputs or got) if k in got and k in expected)
    return diagnose._reproduces(hyp, case, got, required, expected) and diagnose._differs(hyp, case, expected,
                                                                                           required)


# ----------------------------------------------------------------------------- probe inputs
def probe_case(kind: str, reset_after: bool = True, shape: tuple[int, int, int] = PROBE_SHAPE) -> dict:
    """The fixed probe case: ``shape`` (B, D, H), seeded random inputs, params and upstream gradients."""
    B, D, H = shape
    rng = np.random.default_rng(PROBE_SEED)
    shapes = cells.param_shapes(kind, D, H)
    case = {"x": rng.standard_normal((B, D)), "h_prev": 0.8 * rng.standard_normal((B, H)),
            "params": {k: 0.6 * rng.standard_normal(s) for k, s in shapes.items()},
            "dh": rng.standard_normal((B, H)), "reset_after": reset_after,
            "label": f"the grader's probe case B={B}, D={D}, H={H}"}
    if kind == "lstm":
        case["c_prev"] = rng.standard_normal((B, H))
        case["dc"] = rng.standard_normal((B, H))
    return case


def probe_cases(kind: str, reset_after: bool = True) -> list[dict]:
    """The probe cases a named hypothesis is confirmed on: ``PROBE_SHAPE``, then ``SQUARE_SHAPE``."""
    return [probe_case(kind, reset_after), probe_case(kind, reset_after, SQUARE_SHAPE)]


def _zero(case: dict, *names: str) -> dict:
    """``case`` with the inputs (x, h_prev, c_prev, dh, dc) or parameters ``names`` set to zero."""
    out = {**case, "params": dict(case["params"])}
    for name in names:
        if name in case["params"]:
            out["params"][name] = np.zeros_like(case["params"][name])
        else:
            out[name] = np.zeros_like(case[name])
    return out


def saturate(case: dict, kind: str, gate: str, value: float) -> dict:
    """``case`` with gate ``gate`` pinned to ``sigmoid(value)``: its weight blocks zero, its input bias ``value``."""
    k = cells.GATES[kind].index(gate)
    n = len(cells.GATES[kind])
    params = dict(case["params"])
    for name, arr in case["params"].items():
        width = arr.shape[-1] // n
        arr = arr.copy()
        arr[..., k * width:(k + 1) * width] = value if name in ("b", "b_x") else 0.0
        params[name] = arr
    return {**case, "params": params}


def _scaled(case: dict, s: float, *names: str) -> dict:
    out = {**case, "params": dict(case["params"])}
    for name in names:
        if name in case["params"]:
            out["params"][name] = s * case["params"][name]
        else:
            out[name] = s * case[name]
    return out


TERM = {"rnn": {"x": "x W_xh", "h": "h_prev W_hh", "b": "b_h"},
        "lstm": {"x": "x W_x", "h": "h_prev W_h", "b": "b"},
        "gru": {"x": "x W_x + b_x", "h": "h_prev W_h", "b": "b_h"}}
# What each single-term probe sets to zero so that only that term of the pre-activations is left.
ISOLATE = {"rnn": {"x": ("h_prev", "b_h"), "h": ("x", "b_h"), "b": ("x", "h_prev")},
           "lstm": {"x": ("h_prev", "c_prev", "b"), "h": ("x", "c_prev", "b"), "b": ("x", "h_prev", "c_prev")},
           "gru": {"x": ("h_prev", "b_h"), "h": ("x", "b_x", "b_h"), "b": ("x", "h_prev", "b_x")}}


def _isolates(kind: str) -> list[Probe]:
    """Probes where one term of the pre-activations stands alone (the LSTM's cell state zero as well)."""
    return [Probe(f"{t}_only", f"with {' = '.join(zeroed)} = 0 (only {TERM[kind][t]} is non-zero)",
                  lambda c, zeroed=zeroed: _zero(c, *zeroed))
            for t, zeroed in ISOLATE[kind].items()]


FULL = Probe("full", "on the grader's probe case", lambda c: c)


def forward_probes(kind: str) -> list[Probe]:
    """The forward probes of a cell kind (see the module docstring)."""
    probes = [FULL, *_isolates(kind)]
    if kind == "rnn":
        probes += [Probe("zero", "with x = 0, h_prev = 0 and b_h = 0 (a = 0)",
                         lambda c: _zero(c, "x", "h_prev", "b_h")),
                   Probe("small", "with x, h_prev and b_h scaled by 1e-4 (tanh(a) ~ a)",
                         lambda c: _scaled(c, 1e-4, "x", "h_prev", "b_h"))]
    elif kind == "lstm":
        probes += [Probe("c0", "with c_prev = 0", lambda c: _zero(c, "c_prev")),
                   Probe("f_shut", "with the forget gate shut (f = 0, so c = i * g)",
                         lambda c: saturate(c, "lstm", "f", -SATURATION)),
                   Probe("i_shut", "with the input gate shut (i = 0, so c = f * c_prev)",
                         lambda c: saturate(c, "lstm", "i", -SATURATION)),
                   Probe("o_open", "with the output gate open (o = 1, so h = tanh(c))",
                         lambda c: saturate(c, "lstm", "o", SATURATION))]
    else:
        probes += [Probe("z1", "with the update gate at z = 1 (so h = h_prev)",
                         lambda c: saturate(c, "gru", "z", SATURATION)),
                   Probe("z0", "with the update gate at z = 0 (so h = n)",
                         lambda c: saturate(c, "gru", "z", -SATURATION)),
                   Probe("r1", "with the reset gate at r = 1 (both conventions agree)",
                         lambda c: saturate(c, "gru", "r", SATURATION))]
    return probes


# ----------------------------------------------------------------------------- forward: which line
def _gate_line(kind: str, gate: str) -> str:
    k = cells.GATES[kind].index(gate)
    act = "tanh" if gate in ("g", "n") else "sigmoid"
    if kind == "lstm":
        return (f"{gate} = {act}(x W_x{gate} + h_prev W_h{gate} + b_{gate}), block {k + 1} of 4 "
                f"(columns {k}H..{k + 1}H-1 of W_x, W_h and b)")
    return (f"{gate} = {act}(x W_x{gate} + b_x{gate} + h_prev W_h{gate} + b_h{gate}), block {k + 1} of 3 "
            f"(columns {k}H..{k + 1}H-1 of W_x, W_h, b_x and b_h)")


def _terms_text(kind: str, names: list[str]) -> str:
    return " and ".join(TERM[kind][n] for n in names) + (" terms" if len(names) > 1 else " term")


# ----------------------------------------------------------------------------- which function of which block
FUNCTIONS = {"sigmoid": cells.sigmoid, "tanh": np.tanh, "the identity": lambda a: a,
             "relu": lambda a: np.maximum(a, 0.0)}
ACTIVATION = {"i": "sigmoid", "f": "sigmoid", "o": "sigmoid", "g": "tanh", "z": "sigmoid", "r": "sigmoid",
              "n": "tanh", "h": "tanh"}


def pre_activations(kind: str, cache: dict) -> dict[str, np.ndarray]:
    """The reference's pre-activation of each gate (of ``h`` for the RNN) in its cache, keyed ``"pre:<gate>"``.

    A reference function for the probes' ``reference`` may add them: they are never compared (no
    student returns such keys), only used by ``identify``.
    """
    if kind == "rnn":
        return {"pre:h": cache["a"]}
    if kind == "lstm":
        return {f"pre:{g}": cache[f"a_{g}"] for g in cells.GATES["lstm"]}
    H = cache["z"].shape[1]
    pre = cache["xw"][:, :2 * H] + cache["hw"][:, :2 * H]  # (B, 2H): the z and r pre-activations
    return {"pre:z": pre[:, :H], "pre:r": pre[:, H:], "pre:n": cache["a_n"]}


def identify(outcome: Outcome, key: str) -> tuple[str, str] | None:
    """The one (gate, function) such that function(the reference's pre-activation of gate) is the student's ``key``.

    None when no pair or several pairs reproduce it on this probe.
    """
    got = outcome.got.get(key)
    if type(got) is not np.ndarray:
        return None
    found = []
    for name, pre in outcome.expected.items():
        if name.startswith("pre:") and pre.shape == got.shape:
            found += [(name[4:], f) for f, fn in FUNCTIONS.items() if all_close(fn(pre), got, 1e-5, 1e-7)]
    return found[0] if len(found) == 1 else None


def _identified(kind: str, out: dict[str, Outcome], key: str, what: str, line: str) -> Finding | None:
    """A finding naming the function or the block the student's ``key`` is, when the probe case pins it down."""
    match = identify(out["full"], key)
    if match is None or match == (key, ACTIVATION.get(key)):
        return None
    gate, fn = match
    if gate == key:
        return Finding(f"{what} is {fn} of its pre-activation: {key} uses {fn} instead of {ACTIVATION[key]} in "
                       f"{line}", out["full"].evidence(key))
    blocks = cells.GATES[kind]
    where = (f"block {blocks.index(gate) + 1} (the {gate} block) instead of block {blocks.index(key) + 1}"
             if gate in blocks and key in blocks else f"the pre-activation of {gate}")
    return Finding(f"{what} equals {fn} of {gate}'s pre-activation: {key} reads the columns of {where} in {line}",
                   out["full"].evidence(key))


def _term_finding(kind: str, out: dict[str, Outcome], key: str, what: str, line: str) -> Finding:
    """Which single-term probes make ``key`` differ: all (the activation or the block), some (those terms), none."""
    bad = [n[0] for n in ("x_only", "h_only", "b_only") if key in out[n].bad]
    if len(bad) == 3:
        if (found := _identified(kind, out, key, what, line)) is not None:
            return found
        return Finding(f"{what} differs even when only one term is non-zero, so the shared part is the likely "
                       f"culprit: the activation or the columns read in {line}", out["b_only"].evidence(key))
    if bad:
        good = [n for n in ("x", "h", "b") if n not in bad]
        return Finding(f"{what} differs when only the {_terms_text(kind, bad[:1])} is non-zero"
                       f"{' (or only the ' + _terms_text(kind, bad[1:]) + ')' if bad[1:] else ''} and matches when "
                       f"{' or '.join(TERM[kind][n] for n in good)} stands alone: check the {_terms_text(kind, bad)} "
                       f"of {line}", out[f"{bad[0]}_only"].evidence(key))
    return Finding(f"each term alone gives the right {what} but their sum does not: check that the terms of {line} "
                   "are added before the activation", out["full"].evidence(key))


def _rnn_forward(out: dict[str, Outcome]) -> Finding:
    line = "h = tanh(x W_xh + h_prev W_hh + b_h)"
    if not out["zero"].ok:
        return Finding(f"h is not tanh(0) = 0 when a = 0: the activation of {line} is likely not tanh (or something "
                       "is added after it)", out["zero"].evidence("h"))
    full = out["full"]
    if "a" not in full.bad and (found := _identified("rnn", out, "h", "h", line)) is not None:
        return found
    if "a" in full.compared and "a" not in full.bad:
        return Finding(f"your cache['a'] matches the reference but h does not: check the activation of {line}",
                       full.evidence("h"))
    if "a" in full.bad:
        return _term_finding("rnn", out, "a", "your cache['a']", "a = x W_xh + h_prev W_hh + b_h")
    bad = [n[0] for n in ("x_only", "h_only", "b_only") if not out[n].ok]
    if len(bad) == 3 and out["small"].ok:
        return Finding(f"h matches for tiny pre-activations (where tanh(a) ~ a) but not for larger ones: the "
                       f"nonlinearity of {line} is likely missing or another function", out["b_only"].evidence("h"))
    return _term_finding("rnn", out, "h", "h", line)


def _lstm_forward(out: dict[str, Outcome]) -> Finding:
    full = out["full"]
    for gate in cells.GATES["lstm"]:
        if gate in full.bad:
            return _term_finding("lstm", out, gate, f"your cache[{gate!r}]", _gate_line("lstm", gate))
    c_line = "c = f * c_prev + i * g"
    if "c" in full.bad:
        if out["c0"].ok:
            return Finding(f"c differs only when c_prev != 0: check the f * c_prev term of {c_line}",
                           full.evidence("c"))
        f_shut, i_shut = "c" in out["f_shut"].bad, "c" in out["i_shut"].bad
        gates = " while your cached gates match" if set(cells.GATES["lstm"]) <= set(full.compared) else ""
        if f_shut and i_shut:
            return Finding(f"both terms of {c_line} differ{gates} (with f = 0 and with i = 0): check which gate "
                           "multiplies c_prev and which multiplies g", out["f_shut"].evidence("c"))
        if i_shut:
            return Finding(f"c differs when i = 0 (c = f * c_prev) but not when f = 0: check the f * c_prev term of "
                           f"{c_line}", out["i_shut"].evidence("c"))
        if f_shut:
            return Finding(f"c differs when f = 0 (c = i * g) but not when i = 0: check the i * g term of {c_line}",
                           out["f_shut"].evidence("c"))
        return Finding(f"c differs only when neither gate is shut: check how the two terms of {c_line} are combined",
                       full.evidence("c"))
    h_line = "h = o * tanh(c)"
    if "tanh_c" in full.bad:
        return Finding(f"your cache['tanh_c'] differs while c matches: check tanh(c) in {h_line} (it must be the new "
                       "c)", full.evidence("tanh_c"))
    if out["o_open"].ok:
        return Finding(f"h differs only when o < 1 (with o = 1 it matches): check the o factor of {h_line}",
                       full.evidence("h"))
    return Finding(f"h differs even with o = 1 (h = tanh(c)) while c matches: check the tanh(c) part of {h_line} "
                   "(the activation, and that it reads the new c, not c_prev)", out["o_open"].evidence("h"))


def _gru_forward(out: dict[str, Outcome], reset_after: bool) -> Finding:
    full = out["full"]
    for gate in ("z", "r"):
        if gate in full.bad:
            return _term_finding("gru", out, gate, f"your cache[{gate!r}]", _gate_line("gru", gate))
    n_line = ("n = tanh(x W_xn + b_xn + r * (h_prev W_hn + b_hn))" if reset_after
              else "n = tanh(x W_xn + b_xn + (r * h_prev) W_hn + b_hn)")
    h_line = "h = z * h_prev + (1 - z) * n"
    z1, z0, r1 = out["z1"], out["z0"], out["r1"]
    if "n" in full.bad or ("h" in z0.bad and "h" not in z1.bad):
        if "n" not in r1.bad and "h" not in r1.bad:
            option = "reset_after=True" if reset_after else "reset_after=False"
            return Finding(f"n differs only when r < 1 (with r = 1 it matches): check where the reset gate enters "
                           f"{n_line} ({option})", full.evidence("n", "h"))
        if "hw" in full.bad:
            return Finding(f"your cache['hw'] differs: check the recurrent terms hw = h_prev W_h + b_h (n block: "
                           f"the recurrent term of {n_line})", full.evidence("hw"))
        if (found := _identified("gru", out, "n", "your cache['n']", n_line)) is not None:
            return found
        return Finding(f"n differs even with r = 1: check the candidate line {n_line}, its terms and its tanh",
                       r1.evidence("n", "h"))
    if "h" in z1.bad:
        return Finding(f"with z = 1, h must equal h_prev, and yours does not: check {h_line} (which of h_prev and n "
                       "z multiplies)", z1.evidence("h"))
    return Finding(f"h matches with z = 0 and with z = 1 but not in between: check the blend {h_line}",
                   full.evidence("h"))


def forward_finding(kind: str, student: Callable[[dict], dict], reference: Callable[[dict], dict],
                    layout: Callable[[str], Layout], reset_after: bool = True,
                    case_shape: tuple[int, int, int] | None = None) -> Finding | None:
    """Run the forward probes of ``kind`` and name the line (and term) that differs, or None if they cannot tell.

    ``student`` and ``reference`` map a case to ``{"h": .., ["c": ..], <cached intermediates>}``.
    """
    out = run_probes(forward_probes(kind), probe_case(kind, reset_after), student, reference, layout)
    full = out["full"]
    if full.error:
        return _raised("your function", full)
    if full.ok:
        if case_shape is not None and (found := coincidence_finding(
                kind, student, reference, case_shape, reset_after=reset_after, what="your function")):
            return found
        return Finding("on the grader's probe case your function matches the reference, so the difference depends "
                       "on this case's shapes: look for code that depends on a size (broadcasting, a fixed index, "
                       "a sum over the wrong axis)", full.evidence())
    if any(o.error for o in out.values()):
        return None
    if kind == "rnn":
        return _rnn_forward(out)
    if kind == "lstm":
        return _lstm_forward(out)
    return _gru_forward(out, reset_after)


# ----------------------------------------------------------------------------- backward: which line
def backward_probes(kind: str) -> list[Probe]:
    """Backward probes: the probe case, each upstream path alone, and (GRU) the recurrent weights zero."""
    probes = [FULL]
    if kind == "lstm":
        probes += [Probe("dh_only", "with dc = 0 (only the path through h)", lambda c: _zero(c, "dc")),
                   Probe("dc_only", "with dh = 0 (only the incoming dc)", lambda c: _zero(c, "dh"))]
    if kind == "gru":
        probes += [Probe("Wh0", "with W_h = 0 (dh_prev is only the direct term dh * z)", lambda c: _zero(c, "W_h"))]
    return probes


def _blocks_bad(mismatch: str | None) -> list[str]:
    if not mismatch or "gates that differ: " not in mismatch:
        return []
    return [g.strip() for g in mismatch.split("gates that differ: ")[1].split(",")]


def _da_blocks(outcome: Outcome, bias: str, weight: str) -> list[str]:
    """Gate blocks where ``da`` itself differs: both ``d<bias> = sum_B da`` and ``d<weight> = x^T da`` show them.

    One witness alone is the line of that gradient, not ``da``.
    """
    in_weight = _blocks_bad(outcome.bad.get(weight))
    return [g for g in _blocks_bad(outcome.bad.get(bias)) if g in in_weight]


LINES = {
    "rnn": {"dx": "dx = da W_xh^T", "dh_prev": "dh_prev = da W_hh^T", "W_xh": "dW_xh = x^T da",
            "W_hh": "dW_hh = h_prev^T da", "b_h": "db_h = sum over the batch of da"},
    "lstm": {"dx": "dx = da W_x^T", "dh_prev": "dh_prev = da W_h^T", "dc_prev": "dc_prev = dc_total * f",
             "W_x": "dW_x = x^T da", "W_h": "dW_h = h_prev^T da", "b": "db = sum over the batch of da"},
    "gru": {"dx": "dx = dxw W_x^T", "W_x": "dW_x = x^T dxw", "b_x": "db_x = sum over the batch of dxw",
            "dh_prev": "dh_prev = dh * z + da_z W_hz^T + da_r W_hr^T + (the n block's term)"},
}
DA_LINES = {
    "lstm": {"i": "da_i = dc_total * g * i (1 - i)", "f": "da_f = dc_total * c_prev * f (1 - f)",
             "g": "da_g = dc_total * i * (1 - g^2)", "o": "da_o = dh * tanh(c) * o (1 - o)"},
    "gru": {"z": "da_z = dh * (h_prev - n) * z (1 - z)", "n": "da_n = dh * (1 - z) * (1 - n^2)"},
}


def _single_lines(kind: str, full: Outcome, keys: list[str], reset_after: bool, bias: str, sums: str) -> Finding:
    lines = dict(LINES[kind])
    if kind == "gru":
        lines["W_h"] = ("dW_h = [h_prev^T da_z | h_prev^T da_r | " +
                        ("h_prev^T (da_n * r)]" if reset_after else "(r * h_prev)^T da_n]"))
        lines["b_h"] = "db_h = sum over the batch of [da_z | da_r | " + ("da_n * r]" if reset_after else "da_n]")
    bad = [k for k in keys if k in full.bad] or list(full.bad)
    named = "; ".join(lines.get(k, k) for k in bad)
    lines_word = "lines" if len(bad) > 1 else "line"
    if bias in full.compared and bias not in full.bad:
        return Finding(f"the bias gradient {sums} matches, so {sums.split()[-1]} is likely right: check the "
                       f"{lines_word} {named}", full.evidence(*bad))
    return Finding(f"check the {lines_word} {named}", full.evidence(*bad))


def _rnn_backward(out: dict[str, Outcome], keys: list[str]) -> Finding:
    full = out["full"]
    if "b_h" in full.bad and ("dx" in full.bad or "W_xh" in full.bad):
        return Finding("da differs (db_h = sum_B da and the gradients built from it all differ): check "
                       "da = dh * (1 - h^2), the tanh derivative written with the output h", full.evidence("b_h"))
    return _single_lines("rnn", full, keys, True, "b_h", "db_h = sum_B da")


def _lstm_backward(out: dict[str, Outcome], keys: list[str]) -> Finding:
    full = out["full"]
    gates = _da_blocks(full, "b", "W_x")
    if gates:
        on_dh, on_dc = _da_blocks(out["dh_only"], "b", "W_x"), _da_blocks(out["dc_only"], "b", "W_x")
        c_gates = [g for g in gates if g != "o"]
        dc_total = "dc_total = dc + dh * o * (1 - tanh(c)^2)"
        if len(c_gates) == 3 and not on_dc:
            return Finding(f"the gradients of i, f and g all differ, only through the path from h (with dh = 0 they "
                           f"match): check the dh term of {dc_total}", out["dh_only"].evidence("b"))
        if len(c_gates) == 3 and not on_dh:
            return Finding(f"the gradients of i, f and g all differ, only through the incoming dc (with dc = 0 they "
                           f"match): check the dc term of {dc_total}", out["dc_only"].evidence("b"))
        if len(c_gates) == 3:
            return Finding(f"the gradients of i, f and g all differ on both paths: check {dc_total} and the lines "
                           "after it", full.evidence("b"))
        lines = "; ".join(DA_LINES["lstm"][g] for g in gates)
        return Finding(f"the bias gradient db = sum_B da differs in the {', '.join(gates)} block"
                       f"{'s' * (len(gates) > 1)}: check {lines}", full.evidence("b"))
    if "dc_prev" in full.bad and not [k for k in full.bad if k != "dc_prev"]:
        return Finding("only dc_prev differs while da is right: check dc_prev = dc_total * f", full.evidence("dc_prev"))
    return _single_lines("lstm", full, keys, True, "b", "db = sum_B da")


def _gru_backward(out: dict[str, Outcome], keys: list[str], reset_after: bool) -> Finding:
    full = out["full"]
    gates = _da_blocks(full, "b_x", "W_x")
    dr = ("dr = da_n * hw_n, da_r = dr * r (1 - r)" if reset_after
          else "dr = (da_n W_hn^T) * h_prev, da_r = dr * r (1 - r)")
    for gate in ("n", "z", "r"):
        if gate in gates:
            line = DA_LINES["gru"].get(gate, dr)
            return Finding(f"db_x = sum_B dxw differs in the {gate} block: check {line}", full.evidence("b_x"))
    if "dh_prev" in full.bad:
        if "dh_prev" in out["Wh0"].bad:
            return Finding("dh_prev differs even with W_h = 0, where it is only the direct term: check the dh * z term "
                           "of dh_prev (from h = z * h_prev + (1 - z) * n)", out["Wh0"].evidence("dh_prev"))
        n_term = "(da_n * r) W_hn^T" if reset_after else "(da_n W_hn^T) * r"
        return Finding(f"dh_prev's direct term dh * z is right (it matches with W_h = 0): check the recurrent terms "
                       f"da_z W_hz^T + da_r W_hr^T + {n_term}", full.evidence("dh_prev"))
    return _single_lines("gru", full, keys, reset_after, "b_x", "db_x = sum_B dxw")


def backward_finding(kind: str, student: Callable[[dict], dict], reference: Callable[[dict], dict],
                     layout: Callable[[str], Layout], keys: list[str], reset_after: bool = True,
                     case_shape: tuple[int, int, int] | None = None,
                     with_case: Callable[[dict], dict] = lambda c: c) -> Finding | None:
    """Run the backward probes of ``kind`` and name the line that differs; ``keys`` are the graded gradients.

    ``student`` and ``reference`` map a case to the gradients (the reference's cache of the case is
    built by the caller inside them). ``student`` may return more than ``keys`` (all it returned that
    reads cleanly): the bias gradient shows ``da`` block by block even when only dx is graded.
    """
    out = run_probes(backward_probes(kind), probe_case(kind, reset_after), student, reference, layout)
    full = out["full"]
    if full.error:
        return _raised("your backward", full)
    if not any(k in full.bad for k in keys):
        if case_shape is not None and (found := coincidence_finding(
                kind, student, reference, case_shape, with_case, reset_after, "your backward", tuple(keys))):
            return found
        return Finding("on the grader's probe case your backward matches the reference, so the difference depends "
                       "on this case's shapes: look for code that depends on a size (broadcasting, keepdims, "
                       "a sum over the wrong axis)", full.evidence())
    if kind == "rnn":
        return _rnn_backward(out, keys)
    if kind == "lstm":
        return _lstm_backward(out, keys)
    return _gru_backward(out, keys, reset_after)
