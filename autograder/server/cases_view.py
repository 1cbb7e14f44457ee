"""What the simulator's pages may take from grading: visible cases, and the exercises' reference answers.

A feedback link can open the exact visible case that failed; a compare section shows the reference answer of
the function the student wrote beside theirs.

Only visible cases: they are in every student's notebook already. Hidden cases need the course's secret and
are never shown (DESIGN invariant 8).
"""

from __future__ import annotations

import numpy as np

from autograder import cases
from exercises.answers import bptt


def visible_step_case(kind: str, k: int) -> dict:
    """Visible case ``k`` of ``{kind}_step``: ``x`` (B, D), ``h_prev`` [``c_prev``] (B, H), ``params``, ``label``.

    ``ValueError`` naming what was wrong for an unknown kind or case number.
    """
    if kind not in ("rnn", "lstm", "gru"):
        raise ValueError(f"case: kind {kind!r}; expected rnn, lstm or gru")
    visible = cases.step_cases(kind, hidden=False)
    if not 0 <= k < len(visible):
        raise ValueError(f"case: number {k + 1}; {kind}_step has visible cases 1 to {len(visible)}")
    case = visible[k]
    return {key: case[key] for key in ("x", "h_prev", "c_prev", "params", "label") if key in case}


def reference_hidden_grad_norms(X, h0, params: dict, dh_last) -> np.ndarray:
    """``||dL/dh_t||`` for each t of the bptt exercise's reference (``exercises.answers.bptt``), (T,)."""
    return bptt.hidden_grad_norms(X, h0, params, dh_last)


def array_reader(what: str, shape: tuple[int, ...]):
    """A strict reader of one student return: a float64 array of ``shape`` (``autograder.values``), else it fails
    with a sentence saying what was expected. For the compare sections, which must not read student values
    themselves.
    """
    from autograder.values import as_array

    return lambda value: as_array(value, what, tuple(shape))


def pair_reader(name: str, what: str, shape: tuple[int, ...]):
    """A strict reader of a ``(Y, cache)`` return whose ``Y`` must be a float64 array of ``shape``."""
    from autograder.values import as_array, as_tuple

    return lambda value: as_array(as_tuple(value, 2, name, "(Y, cache)")[0], what, tuple(shape))
