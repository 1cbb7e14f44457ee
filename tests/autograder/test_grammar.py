"""The grammar of slips: with no slip each program is the reference; a student with any one slip gets that slip's
name; a name needs the student's return on the grader's probe case too, so a coincidence or a lie is not named."""

import numpy as np
import pytest

from autograder import architecture_checks, architecture_grammar, bptt_checks, bptt_grammar, crnn_checks, crnn_grammar
from autograder.cases import hidden_secret, sequence_cases
from autograder.grammar import Grammar, Site, options
from autograder.sequence_probes import Confirmation, Suspect, confirmed, fewest_slips
from exercises.answers import bptt as answers
from simulator import architectures, cells, conv, crnn
from tests.autograder.bugs.sequences import namespace

SOLUTION = namespace("bptt")  # its rnn_forward returns the prescribed cache, the list of step caches


@pytest.fixture(scope="module", autouse=True)
def _secret():
    with hidden_secret(b"test_grammar"):
        yield


def _close(a: dict, b: dict) -> bool:
    return set(a) <= set(b) and all(np.allclose(np.asarray(b[k]), np.asarray(a[k])) for k in a)


def _message(check, *args) -> str:
    with pytest.raises(AssertionError) as err:
        check(*args)
    return str(err.value)


# ----------------------------------------------------------------------------- no slip: the reference
def test_every_program_without_a_slip_is_the_reference():
    """Does each grammar's program with the empty choice return the reference on visible, hidden and probe cases?"""
    seq = [*sequence_cases(False), *sequence_cases(True), bptt_grammar.probe_sequence_case()]
    for c in seq:
        H, cache = answers.rnn_forward(c["X"], c["h0"], c["params"])
        dX, dh0, grads = answers.rnn_backward(c["dH"], cache)
        assert _close({"H": H}, bptt_grammar.forward_grammar().program(c, {}))
        assert _close({"dX": dX, "dh0": dh0, **grads}, bptt_grammar.backward_grammar().program(c, {}))
        norms = answers.hidden_grad_norms(c["X"], c["h0"], c["params"], c["dh_last"])
        assert _close({"norms": norms}, bptt_grammar.norms_grammar().program(c, {}))
    clip = bptt_grammar.probe_clip_case()
    clipped, norm = answers.clip_gradients(clip["grads"], clip["max_norm"])
    assert _close({**clipped, "norm": norm}, bptt_grammar.clip_grammar().program(clip, {}))
    W = bptt_grammar.probe_matrix_case()
    assert _close({"rho": answers.spectral_radius(W["W"])}, bptt_grammar.radius_grammar().program(W, {}))
    for name in architectures.ARCHITECTURES:
        for c in [*architecture_checks._cases(name, False), *architecture_checks._cases(name, True),
                  *(architecture_grammar.probe_case(name, k) for k in cells.STEP_FUNCTIONS)]:
            assert _close({"Y": architecture_checks._reference(name, c)},
                          architecture_grammar.grammar(name).program(c, {})), (name, c["label"])
    for c in [*crnn_checks._crnn_cases(False), *(crnn_checks.probe_crnn_case(k) for k in cells.STEP_FUNCTIONS)]:
        want = crnn.crnn_forward(*c["args"], cells.STEP_FUNCTIONS[c["kind"]][0])[0]
        assert _close({"y": want}, crnn_grammar.grammar().program(c, {}))
    for c in [*crnn_checks._conv_cases(True), crnn_checks.probe_conv_case()]:
        assert _close({"out": crnn_checks._conv(c)}, crnn_grammar.conv_grammar().program(c, {}))
    for c in [*crnn_checks._pool_cases(True), crnn_checks.probe_pool_case()]:
        assert _close({"out": conv.maxpool_forward(*c["args"])[0]}, crnn_grammar.pool_grammar().program(c, {}))
    for c in [*crnn_checks._feature_cases(True), crnn_checks.probe_feature_case()]:
        assert _close({"features": crnn.frame_features(*c["args"])[0]}, crnn_grammar.cnn_grammar().program(c, {}))


# ----------------------------------------------------------------------------- one slip: its name
def _singles(grammar: Grammar) -> list[Suspect]:
    return [s for s in grammar.suspects() if s.slips == 1]


def _forward_student(s):
    def student(X, h0, params):
        out = s.outputs({"X": X, "h0": h0, "params": params})
        return (answers.rnn_forward(X, h0, params)[0] if out is None else out["H"]), None
    return student


def _backward_student(s):
    def student(dH, caches):
        X = np.stack([c["x"] for c in caches], axis=1)  # T x (B, D) -> (B, T, D)
        out = s.outputs({"X": X, "h0": caches[0]["h_prev"], "params": caches[0]["params"], "dH": dH})
        if out is None:
            return SOLUTION["rnn_backward"](dH, caches)
        return out["dX"], out["dh0"], {k: out[k] for k in caches[0]["params"]}
    return student


SEQUENCE_SLIPS = ([("forward", s) for s in _singles(bptt_grammar.forward_grammar())]
                  + [("backward", s) for s in _singles(bptt_grammar.backward_grammar())])


@pytest.mark.parametrize(("which", "s"), SEQUENCE_SLIPS, ids=[f"{w}-{s.text[:36]}" for w, s in SEQUENCE_SLIPS])
def test_a_one_slip_sequence_student_is_named(which, s, monkeypatch):
    """With the hand-written suspect lists emptied, is an rnn_forward / rnn_backward with one slip named by it?"""
    monkeypatch.setattr(bptt_checks, "rnn_forward_suspects", lambda: [])
    monkeypatch.setattr(bptt_checks, "rnn_backward_suspects", lambda: [])
    monkeypatch.setattr(bptt_checks, "step_bug_suspects", lambda *a, **k: [])
    if which == "forward":
        message = _message(bptt_checks.check_rnn_forward, _forward_student(s), False)
    else:
        message = _message(bptt_checks.check_rnn_backward, SOLUTION["rnn_forward"], _backward_student(s), False)
    assert f"(likely bug: {s.bug})" in message, message


ARCH_SLIPS = [(n, s) for n in architectures.ARCHITECTURES for s in _singles(architecture_grammar.grammar(n))]


@pytest.mark.parametrize(("name", "s"), ARCH_SLIPS, ids=[f"{n}-{s.text[:36]}" for n, s in ARCH_SLIPS])
def test_a_one_slip_architecture_is_named(name, s, monkeypatch):
    """With the hand-written hypotheses emptied, is an architecture with one slip named by it on the visible cases
    (or is the slip invisible there, as a cell-state slip is for an RNN)?"""
    monkeypatch.setattr(architecture_checks, "hypotheses", lambda n: [])

    def student(*args):
        *inputs, step = args
        kind = next(k for k, (f, _) in cells.STEP_FUNCTIONS.items() if f is step)
        out = s.outputs({"args": tuple(inputs), "kind": kind})
        return (architectures.FORWARD[name](*args)[0] if out is None else out["Y"]), None

    try:
        architecture_checks.check_architecture(name, student, False)
    except AssertionError as err:
        assert f"(likely bug: {s.bug})" in str(err), str(err)
    else:  # passing is right only if the slip cannot show on the visible cases (an RNN has no cell state, ...)
        for c in architecture_checks._cases(name, False):
            out = s.outputs(c)
            assert out is None or np.allclose(out["Y"], architecture_checks._reference(name, c)), s.text


# ----------------------------------------------------------------------------- a name needs the probe case
def _fake(bug: str, on_case: float, on_probe: float, slips: int = 1) -> Suspect:
    return Suspect(bug, bug, lambda c: {"y": np.array([on_probe if c["label"] == "probe" else on_case])},
                   slips=slips)


def test_a_coincidence_on_the_failing_case_is_refuted_on_the_probe_case():
    """Two suspects reproduce the failing case; the student's return on the probe case keeps only the one that
    reproduces it there too, and a suspect that no probe supports is not named at all."""
    probe = {"label": "probe"}
    a, b = _fake("a", 1.0, 2.0), _fake("b", 1.0, 3.0)
    confirm = Confirmation(probe, lambda c: {"y": np.array([3.0])})
    kept, note = confirmed([a, b], confirm, lambda c: {"y": np.array([0.0])})
    assert kept == [b] and note == ""
    kept, note = confirmed([a], confirm, lambda c: {"y": np.array([0.0])})
    assert kept == [] and "does not reproduce your result on the grader's probe case" in note
    unsupported = Confirmation(probe, lambda c: (_ for _ in ()).throw(RuntimeError("refuses")))
    assert confirmed([a, b], unsupported, None)[0] == [a, b]  # no evidence either way: the matches stand


def test_one_slip_explains_before_two():
    """Is a pair of slips named only when no single slip reproduces the result?"""
    single, pair = _fake("a", 1.0, 1.0), _fake("a and b", 1.0, 1.0, slips=2)
    assert fewest_slips([pair, single]) == [single] and fewest_slips([pair]) == [pair]


def test_a_student_that_lies_after_its_first_call_is_not_named(monkeypatch):
    """A forward that has one slip on its first call and is right afterwards: its probe-case return refutes the
    slip, so no name is given, and its score is the failing case's (probes never change it)."""
    monkeypatch.setattr(bptt_checks, "rnn_forward_suspects", lambda: [])
    calls = []

    def liar(X, h0, params):
        calls.append(1)
        if len(calls) == 1:
            return answers.rnn_forward(X[:, ::-1], h0, params)[0], None  # inputs read in reverse, once
        return answers.rnn_forward(X, h0, params)

    message = _message(bptt_checks.check_rnn_forward, liar, False)
    assert "likely bug: time reversed" not in message
    assert "does not reproduce your result on the grader's probe case" in message


def test_the_grammar_has_sites_with_options():
    """Does a grammar enumerate one suspect per option and one per pair of options at different sites?"""
    g = Grammar((Site("a", "line a", options((1, "A1", "a is 1"), (2, "A2", "a is 2"))),
                 Site("b", "line b", options((1, "B1", "b is 1"),))), lambda c, ch: {"y": np.array([0.0])})
    suspects = g.suspects(pairs=True)
    assert [s.bug for s in suspects] == ["A1", "A2", "B1", "A1 and B1", "A2 and B1"]
    assert [s.slips for s in suspects] == [1, 1, 1, 2, 2] and suspects[3].line == "line a; and line b"


def test_a_further_case_separates_names_the_probe_case_could_not():
    """Two names that agree on the probe case but not on a further grader case: one more student call keeps the
    one the student follows; names that agree on every case stay together (synonyms); none kept if refuted."""
    probe, extra = {"label": "probe"}, {"label": "extra"}

    def suspect(bug, on_extra):
        return Suspect(bug, bug, lambda c: {"y": np.array([on_extra if c["label"] == "extra" else 1.0])})

    a, b, c = suspect("a", 2.0), suspect("b", 3.0), suspect("c", 3.0)
    calls = []

    def student(case):
        calls.append(case["label"])
        return {"y": np.array([3.0 if case["label"] == "extra" else 1.0])}

    confirm = Confirmation(probe, student, (extra,))
    kept, _ = confirmed([a, b, c], confirm, lambda case: {"y": np.array([0.0])})
    assert kept == [b, c] and calls == ["probe", "extra"]
    liar = Confirmation(probe, lambda case: {"y": np.array([9.0 if case["label"] == "extra" else 1.0])}, (extra,))
    assert confirmed([a, b], liar, None)[0] == []
