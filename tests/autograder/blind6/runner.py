"""Grade the sixth blind catalogue in-process, as blind5's runner does (docs/blind6.md).

``python -m tests.autograder.blind6.runner tune|held-out|all [-v]``. Each bug's edited ``solution.py`` is graded
by its function's check, visible then hidden (a fixed secret), each on a fresh module, and scored by the shared
runner (``tests/autograder/blind_runner.py``): *caught*, *located*, *named*, *false name*.
"""

from __future__ import annotations

import types
from pathlib import Path

from tests.autograder import blind_runner as shared
from tests.autograder.blind6.catalogue import BUGS, Bug, half
from tests.autograder.blind_runner import Result

SECRET = b"blind6-catalogue-secret-76543210"
SOURCE = Path(__file__).with_name("solution.py")
FUNCTIONS = (*shared.FUNCTIONS, "gru_step_backward")
CATALOGUE = shared.Catalogue("blind6", SECRET, SOURCE, BUGS, half)


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
