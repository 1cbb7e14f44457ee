"""The exercise checks: reference functions pass; every catalogued bug fails with its name; return values are
read strictly; inputs mutated in place are caught; caches stay opaque; students only see plain values."""

from __future__ import annotations

import numpy as np
import pytest

from autograder import checks
from autograder import hypotheses as hyp
from autograder.architecture_checks import hypotheses as architecture_hypotheses
from autograder.compare import SEQUENCE, SEQUENCE_GRAD, Layout, describe_mismatch
from exercises.answers import bptt as bptt_answers
from simulator import architectures, cells

REFERENCE_CALLS = [
    lambda h: checks.check_rnn_step(cells.rnn_step, hidden=h),
    lambda h: checks.check_rnn_step_backward(cells.rnn_step, cells.rnn_step_backward, hidden=h),
    lambda h: checks.check_lstm_step(cells.lstm_step, hidden=h),
    lambda h: checks.check_lstm_step_backward(cells.lstm_step, cells.lstm_step_backward, hidden=h),
    lambda h: checks.check_gru_step(cells.gru_step, hidden=h),
    lambda h: checks.check_gru_step(cells.gru_step, hidden=h, reset_after=False),
    lambda h: checks.check_gru_step_backward(cells.gru_step, cells.gru_step_backward, hidden=h),
    lambda h: checks.check_gru_step_backward(cells.gru_step, cells.gru_step_backward, hidden=h, reset_after=False),
    lambda h: checks.check_rnn_forward(bptt_answers.rnn_forward, hidden=h),
    lambda h: checks.check_rnn_backward(bptt_answers.rnn_forward, bptt_answers.rnn_backward, hidden=h),
    lambda h: checks.check_clip_gradients(bptt_answers.clip_gradients, hidden=h),
    lambda h: checks.check_hidden_grad_norms(bptt_answers.hidden_grad_norms, hidden=h),
    lambda h: checks.check_spectral_radius(bptt_answers.spectral_radius, hidden=h),
    *[lambda h, n=n: checks.check_architecture(n, architectures.FORWARD[n], hidden=h)
      for n in architectures.ARCHITECTURES],
]


@pytest.mark.parametrize("hidden", [False, True])
@pytest.mark.parametrize("k", range(len(REFERENCE_CALLS)))
def test_reference_passes_with_one_ok_line(k, hidden, capsys):
    """Does every check accept the reference and print one line starting with ok:?"""
    REFERENCE_CALLS[k](hidden)
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1 and out[0].startswith("ok: ") and "rtol=1e-06" in out[0]


# ----------------------------------------------------------------------------- students that have one bug
def _or_reference(outputs, reference):
    return reference if outputs is None else outputs


def _step_student(kind: str, h: hyp.Hypothesis):
    """A forward step function that returns what the reference returns under the bug ``h`` (and its cache)."""
    def rnn_or_gru(x, h_prev, params, reset_after=True):
        case = {"x": x, "h_prev": h_prev, "params": params, "reset_after": reset_after}
        ref = cells.gru_step(x, h_prev, params, reset_after=reset_after) if kind == "gru" else \
            cells.rnn_step(x, h_prev, params)
        out = _or_reference(h.outputs(case), {"h": ref[0], "cache": ref[1]})
        return out["h"], out["cache"]

    def lstm(x, h_prev, c_prev, params):
        ref_h, ref_c, cache = cells.lstm_step(x, h_prev, c_prev, params)
        out = _or_reference(h.outputs({"x": x, "h_prev": h_prev, "c_prev": c_prev, "params": params}),
                            {"h": ref_h, "c": ref_c, "cache": cache})
        return out["h"], out["c"], out["cache"]

    return lstm if kind == "lstm" else rnn_or_gru


FORWARD = [(kind, h) for kind, make in hyp.FORWARD.items() for h in make()]
STEP_CHECKS = {"rnn": checks.check_rnn_step, "lstm": checks.check_lstm_step, "gru": checks.check_gru_step}


@pytest.mark.parametrize("kind,h", FORWARD, ids=[f"{k}-{h.bug}-{i}" for i, (k, h) in enumerate(FORWARD)])
def test_forward_bug_is_named(kind, h):
    """Does a step with one catalogued bug fail, and does the message name that bug?"""
    with pytest.raises(AssertionError) as err:
        STEP_CHECKS[kind](_step_student(kind, h), hidden=True)
    msg = str(err.value)
    assert f"(likely bug: {h.bug})" in msg
    assert "rtol=1e-06, atol=1e-08" in msg and "differs" in msg


def _backward_student(kind: str, h: hyp.Hypothesis):
    """A backward that returns the outputs under the bug ``h`` (or the reference's) on the cache it is handed."""
    names = {"rnn": ("dx", "dh_prev"), "lstm": ("dx", "dh_prev", "dc_prev"), "gru": ("dx", "dh_prev")}[kind]

    def backward(*args):
        *upstream, cache = args
        case = {"x": cache["x"], "h_prev": cache["h_prev"], "params": cache["params"], "dh": upstream[0],
                "reset_after": cache.get("reset_after", True), "cache": cache}
        if kind == "lstm":
            case.update(c_prev=cache["c_prev"], dc=upstream[1])
        out = h.outputs(case)
        if out is None:
            return cells.STEP_FUNCTIONS[kind][1](*upstream, cache)
        return (*(out[n] for n in names), {k: out[k] for k in cache["params"]})

    return backward


BACKWARD = [(kind, h) for kind, make in hyp.BACKWARD.items() for h in make()]
BACKWARD_CHECKS = {"rnn": checks.check_rnn_step_backward, "lstm": checks.check_lstm_step_backward,
                   "gru": checks.check_gru_step_backward}


@pytest.mark.parametrize("kind,h", BACKWARD, ids=[f"{k}-{h.bug}-{i}" for i, (k, h) in enumerate(BACKWARD)])
def test_backward_bug_is_named(kind, h):
    """Does a backward step with one catalogued bug fail, naming the bug?"""
    with pytest.raises(AssertionError) as err:
        BACKWARD_CHECKS[kind](None, _backward_student(kind, h), hidden=True)
    assert f"(likely bug: {h.bug})" in str(err.value)


def _sequence_case(X, h0, params, **extra):
    return {"X": X, "h0": h0, "params": params, **extra}


@pytest.mark.parametrize("h", hyp.rnn_forward_hypotheses(), ids=lambda h: h.bug)
def test_rnn_forward_bug_is_named(h):
    def student(X, h0, params):
        return h.outputs(_sequence_case(X, h0, params))["H"], None

    with pytest.raises(AssertionError) as err:
        checks.check_rnn_forward(student, hidden=True)
    assert f"(likely bug: {h.bug})" in str(err.value)


@pytest.mark.parametrize("h", hyp.rnn_backward_hypotheses(), ids=lambda h: h.bug)
def test_rnn_backward_bug_is_named(h):
    def student(dH, cache):
        out = h.outputs(_sequence_case(cache["X"], cache["state0"][0], cache["params"], dH=dH))
        return out["dX"], out["dh0"], {k: out[k] for k in cache["params"]}

    with pytest.raises(AssertionError) as err:
        checks.check_rnn_backward(bptt_answers.rnn_forward, student, hidden=True)
    msg = str(err.value)
    assert f"(likely bug: {h.bug})" in msg
    if h.bug.startswith("missing accumulation"):
        assert "dX differs from step t=" in msg and "match" in msg  # the last step is right, earlier ones not


@pytest.mark.parametrize("h", hyp.clip_gradients_hypotheses(), ids=lambda h: h.bug)
def test_clip_gradients_bug_is_named(h):
    def student(grads, max_norm):
        out = h.outputs({"grads": grads, "max_norm": max_norm})
        return {k: out[k] for k in grads}, out["norm"]

    with pytest.raises(AssertionError) as err:
        checks.check_clip_gradients(student, hidden=True)
    assert f"(likely bug: {h.bug})" in str(err.value)


@pytest.mark.parametrize("h", hyp.hidden_grad_norms_hypotheses(), ids=lambda h: h.bug)
def test_hidden_grad_norms_bug_is_named(h):
    def student(X, h0, params, dh_last):
        return h.outputs(_sequence_case(X, h0, params, dh_last=dh_last))["norms"]

    with pytest.raises(AssertionError) as err:
        checks.check_hidden_grad_norms(student, hidden=True)
    assert f"(likely bug: {h.bug})" in str(err.value)


@pytest.mark.parametrize("h", hyp.spectral_radius_hypotheses(), ids=lambda h: h.bug)
def test_spectral_radius_bug_is_named(h):
    with pytest.raises(AssertionError) as err:
        checks.check_spectral_radius(lambda W: h.outputs({"W": W})["rho"], hidden=True)
    assert f"(likely bug: {h.bug})" in str(err.value)


ARCH = [(n, h) for n in architectures.ARCHITECTURES for h in architecture_hypotheses(n)]


@pytest.mark.parametrize("name,h", ARCH, ids=[f"{n}-{h.bug}" for n, h in ARCH])
def test_architecture_bug_is_named(name, h):
    def student(*args):
        *inputs, step = args
        kind = next(k for k, (s, _) in cells.STEP_FUNCTIONS.items() if s is step)
        out = h.outputs({"args": tuple(inputs), "kind": kind})
        return (architectures.FORWARD[name](*args)[0] if out is None else out["Y"]), None

    with pytest.raises(AssertionError) as err:
        checks.check_architecture(name, student, hidden=True)
    assert f"(likely bug: {h.bug})" in str(err.value)


# ----------------------------------------------------------------------------- messages
def test_time_location_in_message():
    """Does the message name the first differing step, the first bad unit and the steps that match?"""
    expected = np.zeros((1, 5, 3))
    got = expected.copy()
    got[0, 3, 2], got[0, 4, 0] = 0.377, 1.0
    expected[0, 3, 2] = 0.412
    got[0, 3, 2] = 0.377
    msg = describe_mismatch("h", expected, got, SEQUENCE)
    assert msg.startswith("h differs from step t=3 on (first bad: unit 2, expected 0.412, got 0.377); t=0..2 match")
    back = describe_mismatch("dX", expected, got, SEQUENCE_GRAD)
    assert back.startswith("dX differs from step t=4") and "already the last step differs" in back
    gates = describe_mismatch("b", np.zeros(8), np.r_[np.zeros(2), 1.0, np.zeros(5)], Layout(("column",),
                              blocks=("i", "f", "g", "o")))
    assert "gate f, unit 0" in gates and "gates that differ: f" in gates
    assert describe_mismatch("h", expected, expected.copy(), SEQUENCE) is None


def test_backward_graded_on_the_reference_cache_whatever_the_forward():
    """Does a correct backward pass with a forward that is wrong, and a zero backward fail with a right one?"""
    def no_bias(x, h_prev, params):
        return cells.rnn_step(x, h_prev, {**params, "b_h": np.zeros_like(params["b_h"])})

    def zero_grads(dh, cache):
        return (np.zeros_like(cache["x"]), np.zeros_like(cache["h_prev"]),
                {k: np.zeros_like(v) for k, v in cache["params"].items()})

    for wrt in ("inputs", "params"):
        checks.check_rnn_step_backward(no_bias, cells.rnn_step_backward, hidden=True, wrt=wrt)
        with pytest.raises(AssertionError, match="differs"):
            checks.check_rnn_step_backward(cells.rnn_step, zero_grads, wrt=wrt)


def test_not_implemented_is_reported_as_missing_code():
    def stub(x, h_prev, params):
        raise NotImplementedError()

    with pytest.raises(AssertionError, match="raises NotImplementedError"):
        checks.check_rnn_step(stub)


def test_choice():
    checks.check_choice(" b ", "question 2", expected="B")
    for answer, pattern in ((None, "no answer yet"), (2, "expected a string"), ("E", "expected one of"),
                            ("A", "not the right answer")):
        with pytest.raises(AssertionError, match=pattern):
            checks.check_choice(answer, "question 2", expected="B")


# ----------------------------------------------------------------------------- strict reading of return values
class Rigged:
    """Claims to equal anything and to be any array; every use is recorded."""

    calls: list[str] = []

    def __eq__(self, other):
        Rigged.calls.append("__eq__")
        return True

    def __array__(self, *args, **kwargs):
        Rigged.calls.append("__array__")
        return np.zeros((2, 4))

    def __len__(self):
        Rigged.calls.append("__len__")
        return 2

    __hash__ = object.__hash__


class Subclass(np.ndarray):
    pass


def _ref_h(x, h_prev, params):
    return cells.rnn_step(x, h_prev, params)[0]


@pytest.mark.parametrize("make,pattern", [
    (lambda h: Rigged(), "got an object of type Rigged"),
    (lambda h: h.tolist(), "got an object of type list"),
    (lambda h: h.view(Subclass), "got an object of type Subclass"),
    (lambda h: h.astype(np.float32), "dtype float32, expected float64"),
    (lambda h: (h > 0), "dtype bool"),
    (lambda h: h[:, :-1], r"shape \(2, 3\), expected \(2, 4\)"),
    (lambda h: np.where(h > 0, np.nan, h), "expected finite values only"),
])
def test_bad_return_values_fail_clearly(make, pattern):
    Rigged.calls = []
    with pytest.raises(AssertionError, match=pattern):
        checks.check_rnn_step(lambda x, h_prev, params: (make(_ref_h(x, h_prev, params)), None))
    assert Rigged.calls == []


def test_rigged_tuple_and_dict_are_refused():
    class RiggedTuple(tuple):
        pass

    with pytest.raises(AssertionError, match="got an object of type RiggedTuple"):
        checks.check_rnn_step(lambda x, h, p: RiggedTuple((_ref_h(x, h, p), None)))
    with pytest.raises(AssertionError, match=r"expected a tuple of 2 values \(h, cache\), got 3"):
        checks.check_rnn_step(lambda x, h, p: (_ref_h(x, h, p), None, None))

    class RiggedDict(dict):
        pass

    def backward(dh, cache):
        dx, dh_prev, grads = cells.rnn_step_backward(dh, cache)
        return dx, dh_prev, RiggedDict(grads)

    with pytest.raises(AssertionError, match="got an object of type RiggedDict"):
        checks.check_rnn_step_backward(cells.rnn_step, backward)


@pytest.mark.parametrize("which", ["x", "h_prev", "W_hh"])
def test_inputs_mutated_in_place_are_caught(which):
    def student(x, h_prev, params):
        h, cache = cells.rnn_step(x, h_prev, params)
        {"x": x, "h_prev": h_prev, "W_hh": params["W_hh"]}[which][0] += 1.0
        return h, cache

    with pytest.raises(AssertionError, match="changed its input in place"):
        checks.check_rnn_step(student)


def test_backward_mutating_dh_is_caught():
    def backward(dh, cache):
        out = cells.rnn_step_backward(dh, cache)
        dh *= 2
        return out

    with pytest.raises(AssertionError, match="changed its input in place: dh was modified"):
        checks.check_rnn_step_backward(cells.rnn_step, backward)


class Opaque:
    """A cache the grader must not touch: any attribute access, comparison or conversion raises."""

    def __getattribute__(self, name):
        raise RuntimeError(f"the grader inspected the cache ({name})")

    def __eq__(self, other):
        raise RuntimeError("the grader compared the cache")

    __hash__ = None


def test_an_object_as_cache_fails_the_forward_without_being_touched():
    """Is a cache that is not a dict refused by the forward's check (cache=True) without calling into it?"""
    def forward(x, h_prev, c_prev, params):
        h, c, _ = cells.lstm_step(x, h_prev, c_prev, params)
        return h, c, Opaque()

    checks.check_lstm_step(forward)  # the outputs are right; the cache is not compared
    with pytest.raises(AssertionError, match="cache: expected a dict with at least the keys x, h_prev, c_prev"):
        checks.check_lstm_step(forward, cache=True)


ALLOWED = (np.ndarray, float, int, str, bool, type(None))


def _plain(value) -> bool:
    if type(value) in (list, tuple):
        return all(_plain(v) for v in value)
    if type(value) is dict:
        return all(type(k) is str and _plain(v) for k, v in value.items())
    return type(value) in ALLOWED or callable(value)


def test_students_receive_only_plain_values():
    """Are student functions called only with arrays, scalars, str/bool/None, containers and callables?"""
    seen = []

    def spy(fn):
        def wrapped(*args, **kwargs):
            seen.append(_plain(list(args)) and _plain(kwargs))
            return fn(*args, **kwargs)
        return wrapped

    # Caches returned by the spied forward are the reference's dicts; only the check's own inputs matter.
    checks.check_gru_step(spy(cells.gru_step), hidden=True, reset_after=False)
    checks.check_rnn_forward(spy(bptt_answers.rnn_forward), hidden=True)
    checks.check_clip_gradients(spy(bptt_answers.clip_gradients), hidden=True)
    checks.check_encoder_decoder_forward(spy(architectures.encoder_decoder_forward), hidden=True)
    checks.check_choice("A", "q")
    assert seen and all(seen)


def test_hidden_cases_are_seeded_random_with_size_one_dimensions():
    """Do hidden cases cover B, D and H of 1, several trials, and stay the same from run to run?"""
    from autograder import cases

    shapes = cases.hidden_shapes()
    assert len(shapes) >= 5 and shapes == cases.hidden_shapes()
    assert all(any(s[k] == 1 for s in shapes) for k in range(3))
    assert len(set(shapes)) == len(shapes)
    step = cases.step_cases("lstm", hidden=True)
    assert all(np.abs(c["params"]["b"]).min() > 0 for c in step)  # random, never zero, biases
    assert cases.step_cases("lstm", hidden=True)[2]["dh"].tolist() == step[2]["dh"].tolist()


def test_unrecognised_bug_tells_how_to_get_the_visible_case():
    """When no hypothesis fits, does a visible case's message say how to rebuild its inputs (a hidden one not)?"""
    from autograder import cases

    def zeros(x, h, c, p):
        return np.zeros_like(h), np.zeros_like(c), None

    with pytest.raises(AssertionError) as err:
        checks.check_lstm_step(zeros)
    msg = str(err.value)
    assert "likely bug" not in msg and ("Likely cause" in msg or "No common bug" in msg)
    assert "from autograder.cases import step_cases; case = step_cases('lstm', hidden=False)[0]" in msg
    assert cases.step_cases("lstm", hidden=False)[0]["label"] in msg
    with pytest.raises(AssertionError) as err:
        checks.check_lstm_step(zeros, hidden=True)
    assert "step_cases" not in str(err.value) and "hidden=True" not in str(err.value)
