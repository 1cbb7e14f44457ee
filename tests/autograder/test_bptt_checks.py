"""The bptt checks: the solution passes, each suspect and each probe names its bug, a wrong forward costs only its
own test, probes never change a score, and the catalogue of student bugs is caught, located and named."""

import re
from pathlib import Path

import nbformat
import numpy as np
import pytest

from autograder import bptt_checks as checks
from autograder import bptt_grammar
from autograder.pipeline import grade_notebook
from autograder.sandbox import Limits, isolation
from exercises.answers import bptt as answers
from tests.autograder.bugs.sequences import BUGS, half, messages, namespace, outcome

EXERCISES = Path(__file__).resolve().parents[2] / "exercises"
SOLUTION = namespace("bptt")
CAUSE = re.compile(r"\): (.*?) Evidence:")


def _case(X, h0, params, **extra):
    return {"X": X, "h0": h0, "params": params, **extra}


def _message(check, *args) -> str:
    with pytest.raises(AssertionError) as err:
        check(*args)
    return str(err.value)


@pytest.mark.parametrize("hidden", [False, True])
def test_notebook_solution_and_reference_pass(hidden, capsys):
    """Do the notebook's solution and the reference answers pass every check?"""
    for ns in (SOLUTION, vars(answers)):
        checks.check_rnn_forward(ns["rnn_forward"], hidden)
        checks.check_clip_gradients(ns["clip_gradients"], hidden)
        checks.check_hidden_grad_norms(ns["hidden_grad_norms"], hidden)
        checks.check_spectral_radius(ns["spectral_radius"], hidden)
    checks.check_rnn_backward(SOLUTION["rnn_forward"], SOLUTION["rnn_backward"], hidden)
    checks.check_rnn_backward(answers.rnn_forward, answers.rnn_backward, hidden)
    assert capsys.readouterr().out.count("ok: ") == 10


# ----------------------------------------------------------------------------- suspects
@pytest.mark.parametrize("s", checks.rnn_forward_suspects(), ids=lambda s: s.text[:40])
def test_forward_suspect_is_named(s):
    """Does an rnn_forward that computes a suspect's H (of any shape) fail with that suspect's name?"""
    def student(X, h0, params):
        out = s.outputs(_case(X, h0, params))
        return (answers.rnn_forward(X, h0, params)[0] if out is None else out["H"]), None

    assert f"(likely bug: {s.bug})" in _message(checks.check_rnn_forward, student, True)


@pytest.mark.parametrize("s", checks.rnn_backward_suspects(), ids=lambda s: s.text[:40])
def test_backward_suspect_is_named(s):
    """Does an rnn_backward that returns a suspect's gradients fail with that suspect's name?"""
    def student(dH, caches):
        X = np.stack([c["x"] for c in caches], axis=1)  # T x (B, D) -> (B, T, D)
        out = s.outputs(_case(X, caches[0]["h_prev"], caches[0]["params"], dH=dH))
        if out is None:
            return SOLUTION["rnn_backward"](dH, caches)
        return out["dX"], out["dh0"], {k: out[k] for k in caches[0]["params"]}

    assert f"(likely bug: {s.bug})" in _message(checks.check_rnn_backward, SOLUTION["rnn_forward"], student, True)


def _split_clip(out):
    return {k: v for k, v in out.items() if k != "norm"}, out["norm"]


@pytest.mark.parametrize(("make", "check", "student"), [
    (checks.clip_suspects, checks.check_clip_gradients,
     lambda s: lambda grads, m: _split_clip(s.outputs({"grads": grads, "max_norm": m}))),
    (checks.norms_suspects, checks.check_hidden_grad_norms,
     lambda s: lambda X, h0, p, d: s.outputs(_case(X, h0, p, dh_last=d))["norms"]),
    (checks.radius_suspects, checks.check_spectral_radius, lambda s: lambda W: s.outputs({"W": W})["rho"]),
], ids=["clip", "norms", "radius"])
def test_other_suspects_are_named(make, check, student):
    """Does every clipping, gradient-norm and spectral-radius suspect fail its check with its name?"""
    for s in make():
        assert f"(likely bug: {s.bug})" in _message(check, student(s), True), s.text


# ----------------------------------------------------------------------------- probes (no suspect knows the bug)
def _forward_walk(dH, caches):
    T = dH.shape[1]
    carry, dxs, grads = np.zeros_like(dH[:, 0]), [], None
    for t in range(T):
        dx, carry, g = SOLUTION["rnn_step_backward"](dH[:, t] + 0.5 * carry, caches[t])  # forward, and damped
        dxs.append(dx)
        grads = g if grads is None else {k: grads[k] + g[k] for k in g}
    return np.stack(dxs, axis=1), carry, grads


def _no_carry(dH, caches):
    dxs, grads, dh0 = [], None, None
    for t in reversed(range(dH.shape[1])):
        dx, dh0, g = SOLUTION["rnn_step_backward"](dH[:, t] * 1.5, caches[t])  # and a wrong scale on top
        dxs.insert(0, dx)
        grads = g if grads is None else {k: grads[k] + g[k] for k in g}
    return np.stack(dxs, axis=1), dh0, grads


@pytest.mark.parametrize(("student", "bug"), [(_forward_walk, "BPTT walked forward in time"),
                                              (_no_carry, "missing accumulation of dh from the next step")])
def test_backward_probes_name_what_no_suspect_reproduces(student, bug):
    """Does a one-hot upstream gradient on one step tell the direction the gradient travels, unlisted bugs too?"""
    message = _message(checks.check_rnn_backward, SOLUTION["rnn_forward"], student, True)
    assert "No common bug" not in message and "Your result matches" not in message
    assert "Probably" in message and f"(likely bug: {bug})" in message


def test_dx_misplaced_is_not_called_a_forward_walk():
    """A backward that computes every step right but stores dX reversed: is it blamed on dX's placement, not on
    the direction of BPTT (a one-hot probe alone cannot tell them apart)?"""
    def reversed_dx(dH, caches):
        dX, dh0, grads = SOLUTION["rnn_backward"](dH, caches)
        return dX[:, ::-1].copy(), dh0, grads

    message = _message(checks.check_rnn_backward, SOLUTION["rnn_forward"], reversed_dx, True)
    assert "walked forward" not in message.split("Evidence:")[0]
    assert "(likely bug: dX stored in the wrong order)" in message or "(likely bug: time reversed)" in message


def test_forward_probes_locate_the_input_and_the_state():
    """Do T=1 and W_hh = 0 runs tell a wrong input step from a wrong previous state?"""
    def last_input(X, h0, params):
        return SOLUTION["rnn_forward"](np.repeat(X[:, -1:], X.shape[1], axis=1), h0, params)

    def half_state(X, h0, params):
        h, out = h0, []
        for t in range(X.shape[1]):
            h, _ = SOLUTION["rnn_step"](X[:, t], 0.5 * h if t else h, params)
            out.append(h)
        return np.stack(out, axis=1), None

    assert "(likely bug: wrong input step)" in _message(checks.check_rnn_forward, last_input, True)
    assert "(likely bug: recurrent term wrong)" in _message(checks.check_rnn_forward, half_state, True)


def _clip_with(scale_of, norm_of=lambda n: n):
    def student(grads, max_norm):
        clipped, n = answers.clip_gradients(grads, max_norm)
        s = scale_of(n, max_norm)
        return ({k: g * s for k, g in grads.items()} if s is not None else clipped), norm_of(n)
    return student


@pytest.mark.parametrize(("student", "bug"), [
    (_clip_with(lambda n, m: 0.9 * min(1.0, m / n)), ("wrong scale", "rescaled without need")),
    (_clip_with(lambda n, m: 0.5 * m / n if n > m else None), ("wrong scale",)),
    (_clip_with(lambda n, m: None, norm_of=lambda n: 1.1 * n), ("wrong norm returned",)),
], ids=["scale", "scale-when-clipping", "norm"])
def test_clip_probes_tell_the_scale_from_the_norm(student, bug, monkeypatch):
    """With no suspect, does the check say whether the scale or the returned norm is wrong?"""
    monkeypatch.setattr(checks, "clip_suspects", lambda: [])
    monkeypatch.setattr(bptt_grammar, "grammar_suspects", lambda n: [])
    message = _message(checks.check_clip_gradients, student, True)
    assert any(f"(likely bug: {b})" in message for b in bug), message


# ----------------------------------------------------------------------------- independent credit, probes never score
@pytest.mark.parametrize("forward", [
    lambda X, h0, params: (SOLUTION["rnn_forward"](X, h0, params)[0] + 1.0, None),
    lambda X, h0, params: (_ for _ in ()).throw(ValueError("my forward is broken")),
    lambda X, h0, params: (X.__iadd__(1.0), None),
], ids=["wrong values", "raises", "in place"])
def test_wrong_forward_does_not_cost_the_backward(forward, capsys):
    """Does a correct rnn_backward pass on the prescribed reference cache whatever is wrong with rnn_forward?"""
    checks.check_rnn_backward(forward, SOLUTION["rnn_backward"], hidden=True)
    assert "prescribed cache" in capsys.readouterr().out


def test_backward_that_cannot_read_the_prescribed_cache_is_told_so():
    """Does a backward written for its own cache format, with a wrong forward, read which cache it was given?"""
    def forward(X, h0, params):
        return answers.rnn_forward(X, h0, params)[0] * 2.0, {"mine": True}

    def backward(dH, cache):
        return cache["mine"]

    message = _message(checks.check_rnn_backward, forward, backward)
    assert "prescribes" in message and "list of the T caches" in message and "TypeError" in message


def test_a_function_that_lies_to_probes_keeps_its_score():
    """Does a forward that is right only on calls after the first still fail, and one that raises on every probe
    still get the check's evidence?"""
    calls = []

    def liar(X, h0, params):
        calls.append(1)
        H, cache = answers.rnn_forward(X, h0, params)
        return (H + 1.0 if len(calls) == 1 else H), cache

    assert "rnn_forward, hidden case 1" in _message(checks.check_rnn_forward, liar, True)
    seen = []

    def only_once(X, h0, params):
        seen.append(1)
        if len(seen) > 1:
            raise RuntimeError("probe refused")
        return answers.rnn_forward(X, h0, params)[0] * 0.5, None

    message = _message(checks.check_rnn_forward, only_once, True)
    assert "H differs" in message and len(seen) > 1  # probes ran, raised, and the evidence still stands


def test_hidden_messages_carry_no_recipe_and_say_the_same_cause():
    """Is a hidden message free of inputs, and does the same bug get the same cause on visible and hidden cases?"""
    bug = next(b for b in BUGS if b.name == "backward_walks_forward")
    ns = namespace("bptt", bug.edits)
    visible = _message(checks.check_rnn_backward, ns["rnn_forward"], ns["rnn_backward"], False)
    hidden = _message(checks.check_rnn_backward, ns["rnn_forward"], ns["rnn_backward"], True)
    assert "Inputs:" not in hidden and "sequence_cases" not in hidden
    assert CAUSE.search(visible).group(1) == CAUSE.search(hidden).group(1)


# ----------------------------------------------------------------------------- the catalogue
@pytest.mark.parametrize("bug", [b for b in BUGS if b.assignment == "bptt"], ids=lambda b: f"{half(b)}-{b.name}")
def test_catalogue_bug_is_caught_and_located(bug):
    """Does every bptt bug of the catalogue fail the edited function's check with a located message?"""
    result = outcome(bug)
    assert result.caught and result.located, result.message


def test_tune_half_is_named():
    """Are at least 90% of the tune half's bptt bugs named (the held-out rate is reported in docs/diagnosis.md)?"""
    results = [outcome(b) for b in BUGS if b.assignment == "bptt" and half(b) == "tune"]
    assert sum(r.named for r in results) >= 0.9 * len(results), [r.bug.name for r in results if not r.named]


@pytest.mark.skipif(isolation.detect() is None, reason="no sandbox isolation on this machine")
def test_through_the_sandbox_a_forward_bug_leaves_the_backward_points(tmp_path):
    """Graded through the sandboxed pipeline, does a notebook whose rnn_forward skips step 0 lose the forward's
    points (with the bug named) and keep every rnn_backward point?"""
    bug = next(b for b in BUGS if b.name == "forward_skips_step_0")
    nb = nbformat.read(EXERCISES / "source" / "bptt" / "bptt.ipynb", as_version=4)
    for gid, old, new in bug.edits:
        cell = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == gid)
        cell.source = cell.source.replace(old, new)
    path = tmp_path / "bptt.ipynb"
    nbformat.write(nb, path)
    report = grade_notebook(path, EXERCISES, "bptt", Limits(wall=60.0, cpu=120, memory=1024 * 2**20, processes=16))
    tests = {t.grade_id: t for t in report.tests}
    assert tests["test_rnn_forward_visible"].score == 0 and tests["test_rnn_forward_hidden"].score == 0
    assert "(likely bug: step 0 skipped)" in tests["test_rnn_forward_visible"].message
    for gid in ("test_rnn_backward_visible", "test_rnn_backward_hidden"):
        assert tests[gid].score == tests[gid].max_score > 0, tests[gid].message


@pytest.mark.parametrize("bug", [b for b in BUGS if half(b) == "tune"], ids=lambda b: b.name)
def test_visible_and_hidden_cases_get_the_same_cause(bug):
    """For every tune-half bug of the three assignments that fails both tests, is the stated cause the same?"""
    found = messages(namespace(bug.assignment, bug.edits), bug.function)
    causes = [m.group(1) for text in found if (m := CAUSE.search(text))]
    assert len(set(causes)) <= 1, causes


def _last_cache_only(forward):
    """A forward right on H whose every cache is the last step's (blind catalogue 4's fwd_caches_last_only)."""
    def rnn_forward(X, h0, params):
        H, caches = forward(X, h0, params)
        return H, [caches[-1]] * len(caches)
    return rnn_forward


@pytest.mark.parametrize("hidden", [False, True])
def test_a_forward_with_wrong_caches_does_not_cost_a_right_backward(hidden, capsys):
    """The notebook's caches are a list of the T step caches: one of that form with the wrong values is a forward
    bug, so the backward is graded on the prescribed cache from the reference and keeps its points."""
    assert isinstance(SOLUTION["rnn_forward"](*_sequence_args())[1], list)  # the form the notebook prescribes
    checks.check_rnn_backward(_last_cache_only(SOLUTION["rnn_forward"]), SOLUTION["rnn_backward"], hidden)
    assert "differs from the reference on cases" in capsys.readouterr().out


def test_a_right_forward_with_the_prescribed_caches_is_used_as_it_is(capsys):
    """The control: the student's own right cache is used (no prescribed-cache note)."""
    checks.check_rnn_backward(SOLUTION["rnn_forward"], SOLUTION["rnn_backward"], False)
    assert "differs from the reference" not in capsys.readouterr().out


def _sequence_args():
    rng = np.random.default_rng(0)
    params = {"W_xh": rng.normal(size=(3, 4)), "W_hh": rng.normal(size=(4, 4)), "b_h": rng.normal(size=4)}
    return rng.normal(size=(2, 5, 3)), rng.normal(size=(2, 4)), params
