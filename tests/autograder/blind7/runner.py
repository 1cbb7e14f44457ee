"""Grade the seventh blind catalogue in-process with the shared runner (docs/blind7.md).

``python -m tests.autograder.blind7.runner tune|held-out|all [-v]``. The bugs edit blind6's ``solution.py`` (reused,
not copied); each bug is graded by its function's check, visible then hidden (a fixed secret), each on a fresh module,
and scored by ``tests/autograder/blind_runner.py``: *caught*, *located*, *named*, *false name*.
"""

from __future__ import annotations

import types
from pathlib import Path

from tests.autograder import blind_runner as shared
from tests.autograder.blind6 import runner as blind6
from tests.autograder.blind7.catalogue import BUGS, Bug, half
from tests.autograder.blind_runner import Result

SECRET = b"blind7-catalogue-secret-24681357"
SOURCE: Path = blind6.SOURCE
FUNCTIONS = blind6.FUNCTIONS
CATALOGUE = shared.Catalogue("blind7", SECRET, SOURCE, BUGS, half)


def build(bug: Bug | None) -> types.ModuleType:
    return shared.build(CATALOGUE, bug)


def grade(function: str, m: types.ModuleType, options: dict, hidden: bool) -> str | None:
    return shared.grade(function, m, options, hidden, SECRET)


def score(bug: Bug) -> Result:
    return shared.score(CATALOGUE, bug)


def run(which: str, verbose: bool = False) -> list[Result]:
    return shared.run(CATALOGUE, which, verbose)


if __name__ == "__main__":
    shared.main(CATALOGUE)
