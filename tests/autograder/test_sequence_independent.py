"""The sequence diagnosis measured on the blind catalogue (tests/autograder/bugs/sequences_independent.py), and the
mechanisms its tune half led to: lifted step bugs, a common factor, output-size formulas, the default stride."""

import re

import numpy as np
import pytest

from autograder import bptt_checks, crnn_checks, crnn_diagnosis
from autograder.cases import hidden_secret
from simulator import conv
from tests.autograder.bugs import sequences
from tests.autograder.bugs import sequences_independent as independent
from tests.autograder.bugs import sequences_slips as slips

TUNE = [b for b in independent.BUGS if b.half == "tune"]
CAUSE = re.compile(r"\): (.*?) Evidence:")


@pytest.fixture(scope="module", autouse=True)
def _secret():
    with hidden_secret(b"test_sequence_independent"):
        yield


def test_catalogue_is_large_split_and_applies():
    """Are there >= 40 bugs over all three assignments and both halves, each edit applying once?"""
    assert len(independent.BUGS) >= 40
    assert {(b.assignment, b.half) for b in independent.BUGS} == {
        (a, h) for a in independent.ASSIGNMENTS for h in ("tune", "held-out")}
    assert len({b.name for b in independent.BUGS}) == len(independent.BUGS)
    for bug in independent.BUGS:
        sequences.namespace(bug.assignment, bug.edits)  # raises if an edit does not apply exactly once


def test_tune_half_rates():
    """Tune half: every bug caught, failing exactly the expected functions and located; >= 90% named."""
    table = independent.measure(TUNE)
    for assignment, row in table.items():
        assert row["caught"] == row["exact"] == row["located"] == row["bugs"], (assignment, row)
        assert row["false"] == 0, (assignment, row)  # a wrong name is worse than none
    named = sum(r["named"] for r in table.values())
    assert named >= 0.9 * len(TUNE), table


def test_slips_tune_half_rates():
    """The slips catalogue's tune half (tests/autograder/bugs/sequences_slips.py): every bug caught and exact,
    >= 90% located and named, and no wrong name."""
    bugs = [b for b in slips.BUGS if b.half == "tune"]
    table = independent.measure(bugs)
    assert all(r["caught"] == r["exact"] == r["bugs"] and r["false"] == 0 for r in table.values()), table
    assert sum(r["located"] for r in table.values()) >= 0.9 * len(bugs), table
    assert sum(r["named"] for r in table.values()) >= 0.9 * len(bugs), table


def test_the_grammar_names_most_of_the_tune_half_without_the_hand_lists():
    """With every hand-written suspect list emptied, do the grammar and the probes still name >= 80% of the blind
    catalogue's tune half, with at most one wrong name?"""
    with sequences.probes_only(grammar=True):
        table = independent.measure(TUNE)
    assert sum(r["named"] for r in table.values()) >= 0.8 * len(TUNE), table
    assert sum(r["false"] for r in table.values()) <= 1, table


def test_held_out_half_keeps_its_measured_rates():
    """Held-out half, measured once after tuning (docs/diagnosis.md): a floor on the rates after the fixes that
    run led to, so they cannot silently fall."""
    table = independent.measure([b for b in independent.BUGS if b.half == "held-out"])
    located = {"bptt": 14, "architectures": 8, "crnn": 14}  # of 14, 9 and 15
    named = {"bptt": 14, "architectures": 9, "crnn": 14}
    for assignment, row in table.items():
        assert row["caught"] == row["exact"] == row["bugs"], (assignment, row)
        assert row["located"] >= located[assignment] and row["named"] >= named[assignment], (assignment, row)


def test_bugs_written_while_tuning_stay_caught():
    """The bugs written while tuning (tuned on, not held out): all caught and exact, most located and named."""
    table = independent.measure(independent.AFTER_TUNING)
    assert all(r["caught"] == r["exact"] == r["bugs"] for r in table.values()), table
    assert sum(r["located"] for r in table.values()) >= 18 and sum(r["named"] for r in table.values()) >= 17


@pytest.mark.parametrize("bug", [b for b in TUNE], ids=lambda b: b.name)
def test_visible_and_hidden_messages_state_one_class(bug):
    """Does every failing message of the edited function (visible and hidden) name the same bug class?"""
    found = sequences.messages(sequences.namespace(bug.assignment, bug.edits), bug.function)
    classes = [{part for named in re.findall(r"\(likely bug: (.*?)\)(?=\s|$|[.;,])", m)
                for part in named.split(" or ")} for m in found]  # "a or b": two bugs giving the same result
    assert found and all(classes), found
    assert set.intersection(*classes), classes


# ----------------------------------------------------------------------------- mechanisms
def test_common_factor_is_read_as_a_mean_a_doubling_or_zeros():
    """Does the factor finding name a batch mean, a doubled term and an output left at zero, and stay silent on
    a single entry that any factor would explain?"""
    e = {"b_h": np.array([1.0, -2.0, 3.0]), "dh0": np.array([[0.5, 0.25]])}
    sizes = {"B": (4, "the batch"), "T": (3, "time")}
    assert bptt_checks.factor_finding(e, {**e, "b_h": e["b_h"] / 4}, sizes).bug == "averaged over the batch"
    assert bptt_checks.factor_finding(e, {"b_h": 2 * e["b_h"], "dh0": 2 * e["dh0"]}, sizes).bug == "counted twice"
    assert bptt_checks.factor_finding(e, {**e, "dh0": 0 * e["dh0"]}, sizes).bug == "left at zero"
    one = {"b_h": np.array([2.0])}
    assert bptt_checks.factor_finding(one, {"b_h": np.array([5.0])}, sizes) is None
    assert bptt_checks.factor_finding(e, {**e, "b_h": e["b_h"] + 1.0}, sizes) is None


def test_output_size_formulas_are_named_and_ties_named_together():
    """Does a wrong (OH, OW) name the formula that gives it, both when two formulas give the same size?"""
    # H = W = 7, 3x3 kernel, stride 2, padding 1: right 4; without + 1: 3; ceil: 4; padding once: 3
    f = crnn_diagnosis.size_formula_finding((3, 4), ((7, 3), (7, 3)), 2, 1, "line")
    assert "off by one" in f.bug and "padding counted once" in f.bug and "OH" in f.cause and "OW" not in f.cause
    # H = 6: right (6 + 2 - 3) // 2 + 1 = 3; ceil gives 4 alone
    f = crnn_diagnosis.size_formula_finding((4, 4), ((6, 3), (6, 3)), 2, 1, "line")
    assert f.bug == "ceil instead of floor"
    assert crnn_diagnosis.size_formula_finding((9, 9), ((6, 3), (6, 3)), 2, 1, "line") is None


def test_maxpool_default_stride_is_graded():
    """Is a maxpool whose default stride is not the window size caught, and the notebook's default accepted?"""
    def overlapping(x, size=2, stride=None):
        return conv.maxpool_forward(x, size, 1 if stride is None else stride)

    for hidden in (False, True):
        crnn_checks.check_maxpool_forward(conv.maxpool_forward, hidden)
        with pytest.raises(AssertionError, match=r"stride left out.*likely bug: wrong stride"):
            crnn_checks.check_maxpool_forward(overlapping, hidden)


def test_lifted_step_bug_is_named_in_bptt():
    """Is a step-backward bug written inline in BPTT (tanh' as 1 - h) named as that step bug?"""
    def inline(dH, caches):
        T = dH.shape[1]
        dh_next, dxs, grads = np.zeros_like(dH[:, 0]), [None] * T, None
        for t in reversed(range(T)):
            c = caches[t]
            da = (dH[:, t] + dh_next) * (1.0 - c["h"])
            dxs[t], dh_next = da @ c["params"]["W_xh"].T, da @ c["params"]["W_hh"].T
            g = {"W_xh": c["x"].T @ da, "W_hh": c["h_prev"].T @ da, "b_h": da.sum(axis=0)}
            grads = g if grads is None else {k: grads[k] + g[k] for k in g}
        return np.stack(dxs, axis=1), dh_next, grads

    ns = sequences.namespace("bptt")
    with pytest.raises(AssertionError, match=r"each step's backward has this bug: tanh's derivative is written"):
        bptt_checks.check_rnn_backward(ns["rnn_forward"], inline, True)


def test_a_cnn_that_raises_on_a_size_gets_the_size_it_uses():
    """Does a frame_features whose conv has no padding (so dense1 raises) hear which size it flattens to?"""
    def conv_dense(frames, params):
        a, _ = conv.conv2d_forward(frames, params["conv1.K"], params["conv1.b"], stride=1, padding=0)
        p, _ = conv.maxpool_forward(np.maximum(a, 0), 2, 2)
        return np.maximum(p.reshape(len(p), -1) @ params["dense1.W"] + params["dense1.b"], 0), None

    with pytest.raises(AssertionError, match=r"raised ValueError.*likely bug: padding missing.*shape \(2, 8\)"):
        crnn_checks.check_frame_features(lambda f, p: conv_dense(f, p), False)
