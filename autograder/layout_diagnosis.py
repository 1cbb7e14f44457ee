"""Layout errors: an array built in one axis order and turned into another with ``reshape`` where a transpose
was needed (or transposed where a reshape was), recognised by comparing against both candidate layouts.

For an output of shape ``S`` with named axes (``("batch", "t", "output")``) and every other order ``p`` of them:

- *reshape instead of transpose*: the student holds the values in the layout ``p`` (``Y.transpose(p)``, e.g. a
  time-major ``(T, B, K)`` stack) and calls ``.reshape(S)``: the reference's values, transposed to ``p``, reshaped;
- *transpose instead of reshape*: the student's values are in the right order in memory but are reshaped to the
  permuted shape and transposed back: ``Y.reshape(S[p]).transpose(argsort(p))``.

Each is a :class:`~autograder.sequence_probes.Suspect` of the check that holds it, so it is named only when it
reproduces the student's array on the failing case *and* on the grader's probe case, where it differs from the
reference (a case with a size 1 or with equal sizes cannot tell the layouts apart; the probe case can). The suspects
rearrange the reference's own values (no second copy of the math, DESIGN invariant 1).

Not covered: a reshape of a flattened array whose sizes were mixed with another axis (a ``(B*T, K)`` from a
``(T*B, K)``) is one of these only when it is a reshape of a permutation of the named axes; scrambles that no
single permutation gives (two reshapes) get the check's other explanations.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence

import numpy as np

from autograder.sequence_probes import Suspect

LAYOUT_BUG = "layout error: reshape vs transpose"


def _order(names: Sequence[str], p: tuple[int, ...]) -> str:
    return f"({', '.join(names[k] for k in p)})"


def layout_suspects(key: str, reference: Callable[[dict], dict], names: Sequence[str],
                    line: str = "") -> list[Suspect]:
    """Suspects for ``key`` (an output whose axes are ``names``; ``reference(case)`` gives every output of the check,
    the others kept as they are): for every other axis order, the values held in that order and reshaped (not
    transposed) to the right shape, and the right order reshaped to it and transposed back.
    """
    out = []
    n = len(names)
    want = _order(names, tuple(range(n)))
    fix = line or (f"the line that builds {key} {want}: np.transpose (or np.stack(..., axis=1)) reorders axes, "
                   "reshape only regroups them")
    for p in itertools.permutations(range(n)):
        if p == tuple(range(n)):
            continue

        def reshaped(case, p=p):
            out = reference(case)
            ref = np.asarray(out[key], dtype=np.float64)
            return None if ref.ndim != n else {**out, key: ref.transpose(p).reshape(ref.shape)}

        def transposed(case, p=p):
            out = reference(case)
            ref = np.asarray(out[key], dtype=np.float64)
            if ref.ndim != n:
                return None
            return {**out, key: ref.reshape(tuple(ref.shape[k] for k in p)).transpose(np.argsort(p))}

        held = _order(names, p)
        out.append(Suspect(LAYOUT_BUG, f"{key} is built in the {held} layout and reshaped to {want} where a transpose "
                           f"was needed (reshape keeps the memory order, so the {held} values are regrouped, not "
                           "reordered)", reshaped, line=fix))
        out.append(Suspect(LAYOUT_BUG, f"{key} holds its values in the right order but is reshaped to the {held} "
                           f"shape and transposed back to {want}, where one reshape (or none) was needed",
                           transposed, line=fix))
    return out
