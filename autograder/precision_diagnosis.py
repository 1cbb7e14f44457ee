"""Precision lost: a float32 or float16 computation somewhere, recognised from the dtype of a return or from a
relative error at the level of those types.

Two signs, each read from a graded return compared with the grader's values (DESIGN invariant 7):

- *the dtype*: a return of the expected shape whose dtype is float32 or float16 where float64 (the inputs' dtype) is
  expected was computed or cast in that type (an array created with ``dtype=np.float32``, an ``.astype``, parameters
  converted "as GPUs do"). :func:`as_array` and :func:`as_array_dict` name it before the strict read reports it;
- *the values*: a float64 return that differs from the reference only by a relative error (of the largest entry)
  above the check's tolerance and within what float32 (``<= 64 eps32``) or float16 (``<= 8 eps16``) arithmetic leaves,
  on the failing case *and* on the grader's probe case (:func:`precision_cause`): a result cast back to float64
  after an intermediate in lower precision. On the probe case the error must be of that type's size too (at least
  ``PROBE_FLOOR`` of its level): a return that is exact there (float64 rounding only) shows no lower precision, it
  is a bug that does nothing on the probe case's sizes (exchanged weights when D == H, ...), and it is left to the
  other explanations. A bug whose effect is that small on both cases is named this way too; the sentence says it
  is a precision-level difference, which it is.

Hidden cases (DESIGN invariant 8, :mod:`autograder.hidden_text`): both signs are diagnoses, shown on visible
cases only. A hidden test says a float32/float16 return exactly as :mod:`autograder.values` says an int64 or object
one ("wrong dtype, expected float64"), and a precision-level difference as any other mismatch (the first bad entry
and its expected value): which lower precision the student returns selects nothing in a hidden test's message.

Not covered: float32 intermediates whose error stays inside the check's tolerance (``rtol = 1e-6``) are not failures
and are not reported; float16 results whose error is above 8 eps16 (a long loop) get the other explanations.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from autograder import values

PRECISION_BUG = "precision lost: float32/float16 somewhere"
_LOW = (np.float32, np.float16)
# The largest relative error (of the largest |entry|) each type's arithmetic leaves in these short computations.
LEVELS = (("float32", 64 * float(np.finfo(np.float32).eps)), ("float16", 8 * float(np.finfo(np.float16).eps)))
_FLOOR = 2e-6  # below this relative error a return passes the check (rtol = 1e-6) or is too close to tell
# On the probe case the error must be at least this fraction of the type's level: far above float64 rounding
# (~1e-16), so a return exact there is not read as lower precision.
PROBE_FLOOR = 1e-3


def _dtype_problem(value, what: str, shape: tuple[int, ...], dtype) -> None:
    if (np.dtype(dtype) == np.float64 and type(value) is np.ndarray and value.dtype.type in _LOW
            and value.shape == tuple(shape)):
        name = value.dtype.name
        # NB: the hidden form is values' own sentence for any wrong dtype (int64, object, ...): no diagnosis in it,
        # and the read names its call or case as values' reads do
        values._read_failed(f"{what}: dtype {name}, expected float64 (the dtype of the inputs): it was computed or "
                            f"cast in {name} (likely bug: {PRECISION_BUG}); look for dtype=np.{name}, "
                            f".astype(np.{name}) or np.{name}(...) and keep float64 throughout", what,
                            f"wrong dtype, expected {np.dtype(dtype).name}", value)


def as_array(value, what: str, shape: tuple[int, ...], dtype=np.float64) -> np.ndarray:
    """:func:`autograder.values.as_array`, naming a float32/float16 return of the right shape as precision lost."""
    _dtype_problem(value, what, shape, dtype)
    return values.as_array(value, what, shape, dtype)


def as_array_dict(value, what: str, shapes: dict[str, tuple[int, ...]], dtype=np.float64) -> dict[str, np.ndarray]:
    """:func:`autograder.values.as_array_dict`, with the same float32/float16 name for each of its arrays."""
    if type(value) is dict and set(value) == set(shapes):
        for k, shape in shapes.items():
            _dtype_problem(dict.__getitem__(value, k), f"{what}[{k!r}]", shape, dtype)
    return values.as_array_dict(value, what, shapes, dtype)


def _worst(got: dict, reference: dict) -> float | None:
    """The largest relative error (to each reference array's largest |entry|) over ``got``; None if not comparable."""
    worst = 0.0
    for k, g in got.items():
        if k not in reference or type(g) is not np.ndarray:
            return None
        r = np.asarray(reference[k], dtype=np.float64)
        if g.shape != r.shape or not r.size or not np.isfinite(g).all():
            return None
        scale = float(np.abs(r).max())
        if scale == 0.0:
            return None
        worst = max(worst, float(np.abs(np.asarray(g, dtype=np.float64) - r).max()) / scale)
    return worst


def precision_level(got: dict, reference: dict) -> str | None:
    """``"float32"`` or ``"float16"`` when every array of ``got`` is its ``reference`` array to within that type's
    level, and some differ by more than the check's tolerance allows; else None.
    """
    worst = _worst(got, reference)
    if worst is None or worst <= _FLOOR:
        return None
    return next((name for name, bound in LEVELS if worst <= bound), None)


def precision_cause(got: dict, case: dict, reference: Callable[[dict], dict],
                    probe: tuple[dict, Callable[[dict], dict]] | None) -> str | None:
    """The cause sentence when ``got`` differs from the reference on ``case`` only at float32/float16 level and the
    student's return on the probe case (``(probe case, run_student)``, one student call) differs at that level too
    (between ``PROBE_FLOOR`` of it and it: not exact there); else None. Visible cases only show the sentence.
    """
    level = precision_level(got, reference(case))
    if level is None or probe is None:
        return None
    probe_case, run = probe
    try:
        on_probe = run(probe_case)
    except Exception:  # noqa: BLE001 - a probe that cannot run names nothing
        return None
    worst = _worst(on_probe, reference(probe_case)) if isinstance(on_probe, dict) else None
    bound = dict(LEVELS)[level]
    if worst is None or not PROBE_FLOOR * bound <= worst <= bound:
        return None  # another error, or none: exact on the probe case is no sign of lower precision
    return (f"Your result equals the reference only to about {level}'s precision (a relative error above the "
            f"tolerance and within {level} rounding, also within it on the grader's probe case) (likely bug: "
            f"{PRECISION_BUG}): some intermediate is computed in {level} and cast back; keep every array float64")


def diagnose(head: str, problems: list[str], got: dict, case: dict, suspects, probes=(), zeros_match: bool = True,
             confirm=None, reference: Callable[[dict], dict] | None = None) -> str:
    """:func:`autograder.sequence_probes.diagnose`, first asking whether the difference is only one of precision
    (:func:`precision_cause`, on the failing case and the confirmation's probe case).
    """
    from autograder import sequence_probes
    from autograder.compare import tolerance_text

    if confirm is not None and reference is not None:
        cause = precision_cause(got, case, reference, (confirm.case, confirm.run))
        if cause is not None:  # NB: not noted for hidden_text: a hidden test shows the mismatch, as for any bug
            return f"{head}: {cause}. Evidence: {'; '.join(problems)}. Tolerance: {tolerance_text()}."
    return sequence_probes.diagnose(head, problems, got, case, suspects, probes, zeros_match, confirm, reference)
