"""Grade the fifth blind catalogue in-process: each bug's edited ``solution.py`` through its function's check,
visible then hidden (a fixed secret), and score caught / located / named / falsely named.

``python -m tests.autograder.blind5.runner tune|held-out|all [-v]``. The scoring is the shared runner's
(``tests/autograder/blind_runner.py``, docs/blind5.md); blind5 grades the visible and the hidden test on one module.
"""

from __future__ import annotations

import types
from pathlib import Path

from tests.autograder import blind_runner as shared
from tests.autograder.blind5.catalogue import BUGS, Bug, half
from tests.autograder.blind_runner import ARCHITECTURES, FUNCTIONS, WHERE, Result, cause_of, check_of

SECRET = b"blind5-catalogue-secret-01234567"
SOURCE = Path(__file__).with_name("solution.py")
CATALOGUE = shared.Catalogue("blind5", SECRET, SOURCE, BUGS, half, fresh_module_per_test=False, width=700)
__all__ = ["ARCHITECTURES", "FUNCTIONS", "WHERE", "Result", "build", "cause_of", "check_of", "grade", "run", "score"]


def build(bug: Bug | None) -> types.ModuleType:
    """``solution.py`` with the bug's edits applied (each ``old`` exactly once), as a fresh module."""
    return shared.build(CATALOGUE, bug)


def grade(function: str, m: types.ModuleType, options: dict, hidden: bool) -> str | None:
    return shared.grade(function, m, options, hidden, SECRET)


def score(bug: Bug) -> Result:
    return shared.score(CATALOGUE, bug)


def run(which: str, verbose: bool = False) -> list[Result]:
    return shared.run(CATALOGUE, which, verbose)


if __name__ == "__main__":
    shared.main(CATALOGUE)
