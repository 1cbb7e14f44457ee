"""Name the likely bug: test which hypothesis from the bug catalogue reproduces a student's wrong outputs."""

from __future__ import annotations

import numpy as np

from autograder.compare import all_close
from autograder.hypotheses import Hypothesis, hypothesis_text

# Looser than the check's own tolerance: a student's buggy code is compared with our rendition of the bug.
MATCH_RTOL = 1e-5
MATCH_ATOL = 1e-7


def matching_hypothesis(got: dict[str, np.ndarray], case: dict, hypotheses: list[Hypothesis]) -> Hypothesis | None:
    """The first hypothesis under which the reference returns every array in ``got``, or None."""
    for hyp in hypotheses:
        try:
            expected = hyp.outputs(case)
        except (ValueError, np.linalg.LinAlgError):
            continue  # the bug is not expressible on this case's shapes
        if expected is None or any(k not in expected for k in got):
            continue
        if all(all_close(np.asarray(expected[k], dtype=np.float64), got[k], MATCH_RTOL, MATCH_ATOL) for k in got):
            return hyp
    return None


def explain(got: dict[str, np.ndarray], case: dict, hypotheses: list[Hypothesis]) -> str:
    """A sentence naming the likely bug, or advice to compare intermediates when no hypothesis fits."""
    hyp = matching_hypothesis(got, case, hypotheses)
    if hyp is None:
        text = "No common bug reproduces your result; print your intermediates next to the equations for this case."
        if "recipe" in case:
            inputs = ", ".join(k for k in case if k not in ("label", "recipe", "reset_after"))
            recipe = case["recipe"]
            text += (f" Its inputs: `from autograder.cases import {recipe.split('(')[0]}; case = {recipe}` "
                     f"(keys {inputs}).")
        return text
    return f"Your result matches the reference if {hypothesis_text(hyp, case)} (likely bug: {hyp.bug})."
