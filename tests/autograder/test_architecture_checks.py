"""The architecture checks: the solution passes, each suspect and each probe names its bug (wiring bugs no suspect
knows too), probes that raise change nothing, and the catalogue of student bugs is caught, located and named."""

import numpy as np
import pytest

from autograder import architecture_checks as checks
from autograder import architecture_diagnosis as diagnosis
from autograder import architecture_grammar
from simulator import architectures, cells
from tests.autograder.bugs.sequences import BUGS, half, namespace, outcome

SOLUTION = namespace("architectures")
NAMES = architectures.ARCHITECTURES


def _message(name, fn, hidden=True) -> str:
    with pytest.raises(AssertionError) as err:
        checks.check_architecture(name, fn, hidden)
    return str(err.value)


def _kind(step) -> str:
    return next(k for k, (s, _) in cells.STEP_FUNCTIONS.items() if s is step)


@pytest.mark.parametrize("hidden", [False, True])
def test_notebook_solution_passes(hidden, capsys):
    """Does the notebook's solution of every architecture pass its visible and hidden checks?"""
    for name in NAMES:
        checks.check_architecture(name, SOLUTION[f"{name}_forward"], hidden)
    assert capsys.readouterr().out.count("ok: ") == len(NAMES)


SUSPECTS = [(n, s) for n in NAMES for s in diagnosis.suspects(n)]


@pytest.mark.parametrize(("name", "s"), SUSPECTS, ids=[f"{n}-{s.text[:30]}" for n, s in SUSPECTS])
def test_suspect_is_named(name, s):
    """Does a function returning a suspect's Y (time-major ones of another shape too) fail with its name?"""
    def student(*args):
        *inputs, step = args
        out = s.outputs({"args": tuple(inputs), "kind": _kind(step)})
        return (architectures.FORWARD[name](*args)[0] if out is None else out["Y"]), None

    assert f"(likely bug: {s.bug})" in _message(name, student)


# ----------------------------------------------------------------------------- probes, with no suspect at all
def _reference(name):
    return architectures.FORWARD[name]


def _reads_second_to_last(X, params, step):
    H = architectures.many_to_one_forward(X, params, step)[1]["H"]
    return (H[:, -3 if X.shape[1] > 2 else 0] @ params["W_hy"] + params["b_y"]), None  # an earlier state


def _first_input_only(X, params, step):
    return _reference("many_to_one")(np.repeat(X[:, :1], X.shape[1], axis=1), params, step)


def _shifted_outputs(X, params, step):
    Y = _reference("many_to_many")(X, params, step)[0]
    return np.concatenate([np.full_like(Y[:, :1], 0.25), Y[:, :-1]], axis=1), None  # y_t emitted one step late


def _future_inputs(X, params, step):
    return _reference("many_to_many")(np.roll(X, -1, axis=1), params, step)  # step t reads x_{t+1}


def _ed_stored_reversed(X, params, T, step):
    Y, cache = _reference("encoder_decoder")(X, params, T, step)
    return Y[:, ::-1].copy(), cache  # every output right, stored last to first


def _half_feedback(x, params, T, step):
    return _reference("one_to_many")(x, params, T, step, feedback="softmax")


@pytest.mark.parametrize(("name", "fn", "bug"), [
    ("many_to_one", _reads_second_to_last, "wrong state read"),
    ("many_to_one", _first_input_only, "wrong state read"),
    ("many_to_many", _shifted_outputs, "off by one step"),
    ("many_to_many", _future_inputs, "time reversed"),
    ("one_to_many", _half_feedback, "wrong feedback"),
    ("encoder_decoder", _ed_stored_reversed, "time reversed"),
], ids=["m2o-earlier-state", "m2o-first-input", "m2m-late-output", "m2m-future-input", "o2m-feedback",
        "ed-stored-reversed"])
def test_probes_name_wiring_bugs_without_suspects(name, fn, bug, monkeypatch):
    """With every suspect and the grammar removed, do the probes (change one input, one output step, inputs off)
    name the bug on the visible cases (T >= 3)?"""
    monkeypatch.setattr(checks, "hypotheses", lambda n: [])
    monkeypatch.setattr(architecture_grammar, "grammar_suspects", lambda n: [])
    message = _message(name, fn, hidden=False)
    assert "Probably" in message and f"(likely bug: {bug})" in message, message


def test_an_output_that_ignores_its_input_is_not_called_off_by_one(monkeypatch):
    """On a one-step case, an output blind to x_0 (a constant) shows no later output following x_0: is it left
    unnamed by the probes rather than called "off by one step"?"""
    monkeypatch.setattr(checks, "hypotheses", lambda n: [])
    monkeypatch.setattr(architecture_grammar, "grammar_suspects", lambda n: [])

    def constant(X, params, step):
        return np.full((X.shape[0], X.shape[1], params["W_hy"].shape[1]), 0.25), None

    message = _message("many_to_many", constant)
    assert "off by one" not in message and "likely bug" not in message, message


def _reads_c(X, params, step):
    C = architectures.many_to_many_forward(X, params, step)[1]["C"]
    return (_reference("many_to_many")(X, params, step)[0] if C is None else 0.5 * C @ params["W_hy"]), None


def test_shut_output_gate_tells_a_cell_state_read(monkeypatch):
    """With no suspect, does shutting the LSTM's output gate (h ~ 0) expose outputs that read c?"""
    monkeypatch.setattr(checks, "hypotheses", lambda n: [])
    monkeypatch.setattr(architecture_grammar, "grammar_suspects", lambda n: [])
    assert "(likely bug: cell state read)" in _message("many_to_many", _reads_c)


def test_decoder_state_probe(monkeypatch):
    """Does an encoder-decoder whose decoder forgets its state between steps get 'state not carried'?"""
    monkeypatch.setattr(checks, "hypotheses", lambda n: [])
    monkeypatch.setattr(architecture_grammar, "grammar_suspects", lambda n: [])

    def forgetful(X, params, T_out, step):
        ys = [_reference("encoder_decoder")(X, params, 1, step)[0][:, 0]]
        dec = {k[4:]: v for k, v in params.items() if k.startswith("dec_")}
        dec.update(W_hy=params["W_hy"], b_y=params["b_y"])
        for _ in range(T_out - 1):  # every later step from the zero state, reading the fed-back output
            x = architectures.feed_back(ys[-1], "argmax")
            ys.append(_reference("one_to_one")(x, dec, step)[0])
        return np.stack(ys, axis=1), None

    assert "(likely bug: state not carried between steps)" in _message("encoder_decoder", forgetful)


def test_probe_that_raises_keeps_the_evidence(monkeypatch):
    """Does a function that raises on every probe call still fail with the check's own evidence?"""
    monkeypatch.setattr(checks, "hypotheses", lambda n: [])
    monkeypatch.setattr(architecture_grammar, "grammar_suspects", lambda n: [])
    calls = []

    def once(X, params, step):
        calls.append(1)
        if len(calls) > 1:
            raise RuntimeError("no probes, thanks")
        return _reference("many_to_many")(X, params, step)[0] * 2.0, None

    message = _message("many_to_many", once, hidden=False)
    assert "Y differs" in message and "No common bug" in message and len(calls) > 1


# ----------------------------------------------------------------------------- the catalogue
@pytest.mark.parametrize("bug", [b for b in BUGS if b.assignment == "architectures"],
                         ids=lambda b: f"{half(b)}-{b.name}")
def test_catalogue_bug_is_caught_and_located(bug):
    """Does every architecture bug of the catalogue fail the edited function's check with a located message?"""
    result = outcome(bug)
    assert result.caught and result.located, result.message


def test_tune_half_is_named():
    """Are at least 90% of the tune half's architecture bugs named?"""
    results = [outcome(b) for b in BUGS if b.assignment == "architectures" and half(b) == "tune"]
    assert sum(r.named for r in results) >= 0.9 * len(results), [r.bug.name for r in results if not r.named]
