"""Blind catalogue 5: its form, the student solution it edits, and the tune half's measured rates (docs/blind5.md)."""

from __future__ import annotations

import re

from tests.autograder.blind5 import catalogue, runner


def test_the_catalogue_has_16_or_more_bugs_split_in_two_equal_halves():
    keys = [b.key for b in catalogue.BUGS]
    assert len(keys) >= 16 and len(set(keys)) == len(keys)
    halves = [catalogue.half(k) for k in keys]
    assert abs(halves.count("tune") - halves.count("held-out")) <= 1


def test_every_edit_applies_once_and_no_pattern_matches_an_empty_message():
    for bug in catalogue.BUGS:
        runner.build(bug)  # raises if an old text is not found exactly once
        assert bug.function in runner.FUNCTIONS
        assert bug.patterns and not any(re.search(p, "", re.I) for p in bug.patterns), bug.key


def test_the_unedited_solution_passes_every_check_visible_and_hidden():
    """Control: every bug's failure comes from its edit (the student solution it edits is right)."""
    m = runner.build(None)
    for function in runner.FUNCTIONS:
        for hidden in (False, True):
            assert runner.grade(function, m, {}, hidden) is None, function


def test_the_scoring_rules():
    """Named needs a class and a pattern in the cause (before the evidence); a class without a pattern is false."""
    bug = catalogue.BUGS[0]
    assert runner.cause_of("f, visible case 1: X (likely bug: y). Evidence: block order") == \
        "f, visible case 1: X (likely bug: y)."
    assert not any(re.search(p, runner.cause_of("x (likely bug: sign). Evidence: block"), re.I) for p in bug.patterns)


def test_the_tune_half_keeps_its_measured_rates():
    """The tune half after tuning (docs/blind5.md): all caught and located, at least 9 of 11 named, at most one false
    name. The held-out half is run by hand, once (``python -m tests.autograder.blind5.runner held-out``)."""
    results = runner.run("tune")
    assert all(r.caught for r in results) and all(r.located for r in results)
    assert sum(r.named for r in results) >= 9 and sum(r.false_name for r in results) <= 1


def test_the_held_out_half_keeps_its_floor():
    """Regression floor of the held-out half, run once after tuning (docs/blind5.md): all caught and located."""
    results = runner.run("held-out")
    assert all(r.caught for r in results) and all(r.located for r in results)
