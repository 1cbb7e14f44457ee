"""Blind catalogue 6: its form, the student solution it edits, and both halves' measured rates (docs/blind6.md)."""

from __future__ import annotations

import re

from tests.autograder.blind6 import catalogue, runner


def test_the_catalogue_has_16_or_more_bugs_split_in_two_halves():
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
    for function in ("gru_step", "gru_step_backward"):
        assert runner.grade(function, m, {"reset_after": False}, False) is None, function


def test_the_tune_half_keeps_its_measured_rates():
    """The tune half after tuning (docs/blind6.md): all caught and located, at least 11 of 12 named, no false name."""
    results = runner.run("tune")
    assert all(r.caught for r in results) and all(r.located for r in results)
    assert sum(r.named for r in results) >= 11 and not any(r.false_name for r in results)


def test_the_held_out_half_keeps_its_floor():
    """Regression floor of the held-out half at what its one run after all tuning gave (docs/blind6.md): all 13
    caught and located, 7 named, no false name."""
    results = runner.run("held-out")
    assert all(r.caught for r in results) and all(r.located for r in results)
    assert sum(r.named for r in results) >= 7 and not any(r.false_name for r in results)
