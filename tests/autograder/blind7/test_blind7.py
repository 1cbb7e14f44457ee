"""Blind catalogue 7: its form, the (reused) student solution it edits, and both halves' measured rates
(docs/blind7.md)."""

from __future__ import annotations

import re

from tests.autograder.blind6 import runner as blind6
from tests.autograder.blind7 import catalogue, runner


def test_the_catalogue_has_24_or_more_bugs_split_in_two_halves():
    keys = [b.key for b in catalogue.BUGS]
    assert len(keys) >= 24 and len(set(keys)) == len(keys)
    halves = [catalogue.half(k) for k in keys]
    assert abs(halves.count("tune") - halves.count("held-out")) <= 1


def test_the_bugs_are_new_and_edit_blind6s_solution_itself():
    from tests.autograder.blind5 import catalogue as c5
    from tests.autograder.blind6 import catalogue as c6
    old = {b.key for b in (*c5.BUGS, *c6.BUGS)}
    old_edits = {e for b in (*c5.BUGS, *c6.BUGS) for e in b.edits}
    assert not old & {b.key for b in catalogue.BUGS}
    assert not old_edits & {e for b in catalogue.BUGS for e in b.edits}
    assert runner.SOURCE == blind6.SOURCE


def test_every_edit_applies_once_and_no_pattern_matches_an_empty_message():
    for bug in catalogue.BUGS:
        runner.build(bug)  # raises if an old text is not found exactly once
        assert bug.function in runner.FUNCTIONS
        assert bug.patterns and not any(re.search(p, "", re.I) for p in bug.patterns), bug.key


def test_the_unedited_solution_passes_the_checks_of_the_graded_functions_under_this_secret():
    """Control: every bug's failure comes from its edit."""
    m = runner.build(None)
    graded = {(b.function, b.options) for b in catalogue.BUGS}
    for function, options in sorted(graded, key=str):
        for hidden in (False, True):
            assert runner.grade(function, m, dict(options), hidden) is None, function
