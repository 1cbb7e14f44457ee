"""Is the fourth blind catalogue well formed, does its runner grade and score honestly, is every tuning bug caught?"""

from __future__ import annotations

import re
from dataclasses import dataclass
from types import SimpleNamespace

import pytest

from tests.autograder.blind4 import heldout, runner, tuning
from tests.autograder.blind4.catalogue import ASSIGNMENTS, BUGS, Bug, by_assignment


def test_the_catalogue_is_big_and_covers_every_function_in_both_halves():
    """At least 100 bugs with unique names; each half holds a bug of every answer function."""
    assert len(BUGS) >= 100
    assert len({b.name for b in BUGS}) == len(BUGS)
    for which in (tuning.BUGS, heldout.BUGS):
        for a in ASSIGNMENTS:
            assert {b.function for b in which if b.assignment == a} == set(runner.FUNCTIONS[a]), a


def test_the_halves_alternate_within_each_assignment_and_do_not_overlap():
    """Even positions are tuning, odd ones held out, and together they are the whole catalogue."""
    names_t, names_h = {b.name for b in tuning.BUGS}, {b.name for b in heldout.BUGS}
    assert not names_t & names_h and names_t | names_h == {b.name for b in BUGS}
    for group in by_assignment().values():
        for k, bug in enumerate(group):
            assert (bug.name in names_t) == (k % 2 == 0), bug.name


@pytest.mark.parametrize("bug", BUGS, ids=lambda b: b.name)
def test_every_edit_applies_once_and_yields_code_that_compiles(bug: Bug):
    """Each bug changes its function's solution, in that function only, and the result is valid Python."""
    solved = runner.answers(bug.assignment)
    code = runner.apply_edits(solved[bug.function], bug.function, bug.edits)
    assert code != solved[bug.function]
    compile(code, bug.name, "exec")
    assert bug.misconception and bug.grader_name and bug.patterns
    for pattern in bug.patterns:
        assert not re.search(pattern, "", re.IGNORECASE), f"{bug.name}: {pattern!r} matches an empty message"


def test_an_edit_that_does_not_apply_once_is_refused():
    """A stale edit must fail loudly, never grade the unedited solution as the bug."""
    with pytest.raises(runner.EditError, match="occurs 0 times"):
        runner.apply_edits("a = 1\n", "f", (("f", "b = 2", "b = 3"),))
    with pytest.raises(runner.EditError, match="occurs 2 times"):
        runner.apply_edits("a = 1\na = 1\n", "f", (("f", "a = 1", "a = 2"),))


def test_each_test_cell_belongs_to_its_function():
    """Test ids map to the function they grade (the longest name wins: rnn_step_backward over rnn_step)."""
    assert runner.owner_of("rnn_cell", "test_rnn_step_hidden") == "rnn_step"
    assert runner.owner_of("rnn_cell", "test_rnn_step_backward_params_visible") == "rnn_step_backward"
    assert runner.owner_of("gru_cell", "test_gru_step_reset_before") == "gru_step"
    assert runner.owner_of("gru_cell", "test_gru_step_backward_reset_before") == "gru_step_backward"
    assert runner.owner_of("architectures", "test_many_to_one_visible") == "many_to_one_forward"
    assert runner.owner_of("crnn", "test_training_run") == "crnn_forward"
    assert runner.owner_of("crnn", "test_q1") is None


def _report(*tests):
    return SimpleNamespace(tests=[SimpleNamespace(grade_id=g, score=s, max_score=m, message=msg)
                                  for g, s, m, msg in tests],
                           score=sum(t[1] for t in tests), max_score=sum(t[2] for t in tests))


def test_scoring_caught_located_named():
    """Named needs a pattern in a failed test of the edited function; located needs no unrelated failure."""
    bug = next(b for b in BUGS if b.name == "rnnb_db_mean")
    ok = ("test_rnn_step_visible", 1, 1, "")
    named = runner.score_report(bug, _report(ok, ("test_rnn_step_backward_params_visible", 0, 1,
                                                  "grads['b_h'] differs (likely bug: averaged over the batch)")))
    assert (named.caught, named.located, named.named) == (True, True, True)
    unnamed = runner.score_report(bug, _report(ok, ("test_rnn_step_backward_params_visible", 0, 1, "b_h differs")))
    assert (unnamed.caught, unnamed.located, unnamed.named) == (True, True, False)
    elsewhere = runner.score_report(bug, _report(("test_rnn_step_visible", 0, 1, "the mean is wrong"),
                                                 ("test_rnn_step_backward_params_visible", 0, 1, "b_h differs")))
    assert (elsewhere.located, elsewhere.named) == (False, False)
    missed = runner.score_report(bug, _report(ok, ("test_rnn_step_backward_params_visible", 1, 1, "")))
    assert (missed.caught, missed.located, missed.named) == (False, False, False)


@dataclass(frozen=True)
class _NoBug:
    name: str
    assignment: str
    function: str
    edits: tuple = ()
    patterns: tuple = ()


def test_the_runner_grades_a_solution_fully_and_catches_a_bug_through_the_sandbox():
    """The unedited solution earns full marks; one bug per cell assignment loses points in its own function."""
    bugs = [_NoBug("solution", "rnn_cell", "rnn_step"),
            next(b for b in tuning.BUGS if b.name == "rnn_weights_swapped")]
    solution, swapped = runner.run(bugs)
    assert not solution.error and solution.max_score > 0 and solution.score == solution.max_score
    assert not swapped.error and swapped.caught and swapped.located


@pytest.mark.slow
def test_every_tuning_bug_is_caught():
    """Each bug of the tuning half loses points (one notebook per bug, through the sandbox: a few minutes)."""
    outcomes = runner.run(tuning.BUGS)
    missed = [f"{o.bug}: {o.error or 'full marks'}" for o in outcomes if not o.caught]
    assert not missed, missed
