"""The cell checks grade each function on its own, resist hostile students, and explain bugs nobody listed.

Independent credit and invariant 7 (a score rests only on single student returns compared with trusted
values); hostile payloads of our own (stateful forwards, lying calls, look-alike arrays, mutating
caches); the ablation probes' localisation; and the bug catalogue's caught / located / named rates.
"""

from __future__ import annotations

import re

import numpy as np
import pytest

from autograder import cases, cell_checks, checks, probes
from simulator import cells
from tests.autograder.bugs import cells as bug_catalogue
from tests.autograder.bugs import cells_independent as independent

KINDS = ("rnn", "lstm", "gru")
BACKWARD_CHECK = {"rnn": checks.check_rnn_step_backward, "lstm": checks.check_lstm_step_backward,
                  "gru": checks.check_gru_step_backward}
FORWARD_CHECK = {"rnn": checks.check_rnn_step, "lstm": checks.check_lstm_step, "gru": checks.check_gru_step}
OPTIONS = {"rnn": [{}], "lstm": [{}], "gru": [{}, {"reset_after": False}]}


def _zero_grads(kind):
    def backward(*args):
        cache = args[-1]
        states = [np.zeros_like(cache["h_prev"])] * (2 if kind == "lstm" else 1)
        return (np.zeros_like(cache["x"]), *states, {k: np.zeros_like(v) for k, v in cache["params"].items()})
    return backward


def _wrong_forwards(kind):
    """Forwards that are wrong in different ways: zeros with no cache, a crash, and a stateful liar."""
    n_out = 2 if kind == "lstm" else 1

    def zeros(x, h_prev, *rest, **kw):
        return (*[np.zeros_like(h_prev)] * n_out, None)

    def crash(*args, **kw):
        raise ValueError("my forward is broken")

    seen = []

    def liar(*args, **kw):
        # right on the first call of each input, garbage on any repeated or perturbed call
        seen.append(args[0].tobytes())
        out = cells.STEP_FUNCTIONS[kind][0](*args, **kw)
        if len(seen) > 1:
            return (*[np.full_like(o, 7.0) for o in out[:-1]], {})
        return out

    return [zeros, crash, liar]


# ----------------------------------------------------------------------------- independent credit
@pytest.mark.parametrize("kind", KINDS)
def test_correct_backward_with_wrong_forward_earns_the_backward_points(kind):
    """Correct backward + wrong forward: does every backward test pass, and does a zero backward fail them all?"""
    backward = cells.STEP_FUNCTIONS[kind][1]
    for forward in _wrong_forwards(kind):
        for opts in OPTIONS[kind]:
            for hidden in (False, True):
                for wrt in ("inputs", "params", "all"):
                    BACKWARD_CHECK[kind](forward, backward, hidden=hidden, wrt=wrt, **opts)
                    with pytest.raises(AssertionError, match="differs"):
                        BACKWARD_CHECK[kind](forward, _zero_grads(kind), hidden=hidden, wrt=wrt, **opts)


@pytest.mark.parametrize("kind", KINDS)
def test_stateful_forward_cannot_buy_backward_points(kind):
    """Is an all-zero backward refused even when the forward remembers inputs and lies on repeated calls?

    The old checks fell back to finite differences of the student's own forward, which such a forward
    fools; now the forward is not called by the backward's test at all.
    """
    calls = []

    def forward(*args, **kw):
        calls.append(1)
        outs = cells.STEP_FUNCTIONS[kind][0](*args, **kw)
        return (*[np.zeros_like(o) for o in outs[:-1]], outs[-1]) if len(calls) > 1 else outs

    for wrt in ("inputs", "params"):
        with pytest.raises(AssertionError):
            BACKWARD_CHECK[kind](forward, _zero_grads(kind), hidden=True, wrt=wrt)
    assert calls == []


def test_forward_that_lies_on_its_first_call_fails():
    """Is the forward graded on the one call per case (a function right only when asked twice fails)?"""
    seen = set()

    def forward(x, h_prev, params):
        key = x.tobytes()
        h, cache = cells.rnn_step(x, h_prev, params)
        if key not in seen:
            seen.add(key)
            return h + 1.0, cache
        return h, cache

    with pytest.raises(AssertionError, match="h differs"):
        checks.check_rnn_step(forward)


def test_a_passing_check_calls_the_student_once_per_case():
    """Do probes run only when a check fails (so a passing grade rests on one call per case)?"""
    calls = []

    def forward(x, h_prev, c_prev, params):
        calls.append(1)
        return cells.lstm_step(x, h_prev, c_prev, params)

    checks.check_lstm_step(forward, hidden=True, cache=True)
    assert len(calls) == len(cases.step_cases("lstm", hidden=True)) + len(cases.large_step_cases("lstm", hidden=True))


def test_cache_missing_a_key_points_at_the_forward():
    """Does a forward whose cache misses a key fail its own test, naming the key, while the backward passes?"""
    def forward(x, h_prev, c_prev, params):
        h, c, cache = cells.lstm_step(x, h_prev, c_prev, params)
        return h, c, {k: v for k, v in cache.items() if k != "c_prev"}

    with pytest.raises(AssertionError, match=r"cache has no key 'c_prev'.*bug of lstm_step, not of the backward"):
        checks.check_lstm_step(forward, cache=True)
    checks.check_lstm_step_backward(forward, cells.lstm_step_backward, hidden=True)


@pytest.mark.parametrize("entry,pattern", [
    ("a", r"rnn_step's cache\['a'\]: shape \(2, 3\), expected \(2, 4\)"),
    ("params", r"rnn_step's cache\['params'\]: keys \['W_hh'\], expected"),
    ("activation", r"rnn_step's cache\['activation'\]: expected 'tanh'"),
])
def test_malformed_cache_entries_are_named(entry, pattern):
    """Is a cache entry of the wrong shape, keys or type reported with the case and the key?"""
    def forward(x, h_prev, params):
        h, cache = cells.rnn_step(x, h_prev, params)
        bad = {"a": cache["a"][:, :-1], "params": {"W_hh": params["W_hh"]}, "activation": 1}[entry]
        return h, {**cache, entry: bad}

    with pytest.raises(AssertionError, match=r"rnn_step, visible case 1 of 2 \(B=2, D=3, H=4\): " + pattern):
        checks.check_rnn_step(forward, cache=True)


def test_cache_value_wrong_fails_the_forward():
    """Is a cache entry that differs from the reference's reported with its key?"""
    def forward(x, h_prev, params):
        h, cache = cells.rnn_step(x, h_prev, params)
        return h, {**cache, "a": h}

    with pytest.raises(AssertionError, match=r"rnn_step's cache\['a'\] differs"):
        checks.check_rnn_step(forward, cache=True)


def test_shape_and_dtype_problems_cost_only_their_own_test():
    """A bias gradient shaped as a column, or a float32 dx: does only the test that reads it fail?"""
    def column_bias(dh, cache):
        dx, dh_prev, grads = cells.rnn_step_backward(dh, cache)
        return dx, dh_prev, {**grads, "b_h": grads["b_h"][:, None]}

    checks.check_rnn_step_backward(None, column_bias, hidden=True, wrt="inputs")
    with pytest.raises(AssertionError, match=r"shaped as a column \(likely bug: bias shaped as a column\)"):
        checks.check_rnn_step_backward(None, column_bias, wrt="params")

    def float32_dx(dh, cache):
        dx, dh_prev, grads = cells.rnn_step_backward(dh, cache)
        return dx.astype(np.float32), dh_prev, grads

    checks.check_rnn_step_backward(None, float32_dx, hidden=True, wrt="params")
    with pytest.raises(AssertionError, match="dtype float32"):
        checks.check_rnn_step_backward(None, float32_dx, wrt="inputs")


def test_a_crash_names_the_students_line():
    """Does an exception in the student's code say where it was raised (not a traceback into the grader)?"""
    def forward(x, h_prev, params):
        a = x @ params["W_xh"] + h_prev @ params["W_hh"] + params["b_h"].reshape(-1, 1)
        return np.tanh(a), {}

    with pytest.raises(AssertionError) as err:
        checks.check_rnn_step(forward)
    msg = str(err.value)
    assert msg.startswith("rnn_step, visible case 1 of 2 (B=2, D=3, H=4): rnn_step raised ValueError")
    assert "test_probes.py, line" in msg and "in forward" in msg and "bias shaped as a column" in msg


# ----------------------------------------------------------------------------- hostile payloads
def test_backward_that_mutates_the_handed_cache_is_caught():
    """Is an in-place change to the cache the grader hands the backward reported, naming the entry?"""
    def backward(dh, dc, cache):
        out = cells.lstm_step_backward(dh, dc, cache)
        cache["f"] *= 0.0
        return out

    with pytest.raises(AssertionError, match=r"changed its input in place: cache\['f'\] was modified"):
        checks.check_lstm_step_backward(None, backward)


def test_backward_reading_an_unprescribed_key_gets_a_clear_message():
    """Does a KeyError from the backward name the prescribed keys instead of a traceback?"""
    def backward(dh, cache):
        cache["my_own_key"]

    with pytest.raises(AssertionError, match=r"KeyError 'my_own_key'.*prescribed keys are x, h_prev, z, r, n, hw"):
        checks.check_gru_step_backward(None, backward)


class LookAlike:
    """Pretends to be every array; records any use."""

    used: list[str] = []

    def __array__(self, *a, **k):
        LookAlike.used.append("__array__")
        return np.zeros(1)

    def __eq__(self, other):
        LookAlike.used.append("__eq__")
        return True

    def __getattr__(self, name):
        LookAlike.used.append(name)
        raise AttributeError(name)

    __hash__ = object.__hash__


@pytest.mark.parametrize("where", ["dx", "grads", "grad entry"])
def test_backward_returning_look_alikes_is_refused_untouched(where):
    LookAlike.used = []

    def backward(dh, cache):
        dx, dh_prev, grads = cells.rnn_step_backward(dh, cache)
        if where == "dx":
            return LookAlike(), dh_prev, grads
        if where == "grads":
            return dx, dh_prev, LookAlike()
        return dx, dh_prev, {**grads, "W_hh": LookAlike()}

    with pytest.raises(AssertionError, match="got an object of type LookAlike"):
        checks.check_rnn_step_backward(None, backward, wrt="all")
    assert LookAlike.used == []


def test_forward_cache_that_mutates_later_is_read_at_its_own_call():
    """A forward that rewrites its previous caches on every call: is each cache judged as returned?"""
    caches = []

    def forward(x, h_prev, params):
        for old in caches:
            old["a"][...] = 99.0
        h, cache = cells.rnn_step(x, h_prev, params)
        cache = {**cache, "a": cache["a"].copy()}
        caches.append(cache)
        return h, cache

    checks.check_rnn_step(forward, hidden=True, cache=True)


def test_probe_inputs_cannot_change_a_grade():
    """A right function that lies on probe-shaped inputs still passes; a wrong one right on them still fails."""
    W_probe = probes.probe_case("rnn")["params"]["W_hh"]

    def right_but_lies_on_probes(x, h_prev, params):
        h, cache = cells.rnn_step(x, h_prev, params)
        is_probe = params["W_hh"].shape == W_probe.shape and np.array_equal(params["W_hh"], W_probe)
        return (h * 0.0 if is_probe else h), cache

    checks.check_rnn_step(right_but_lies_on_probes, hidden=True)

    def wrong_but_right_on_probes(x, h_prev, params):
        h, cache = cells.rnn_step(x, h_prev, params)
        is_probe = params["W_hh"].shape == W_probe.shape and np.array_equal(params["W_hh"], W_probe)
        return (h if is_probe else h + 1.0), cache

    with pytest.raises(AssertionError) as err:
        checks.check_rnn_step(wrong_but_right_on_probes)
    assert "depends on this case's shapes" in str(err.value)


# ----------------------------------------------------------------------------- probes localise and do not overclaim
def _step_message(kind, forward, hidden=False, **opts) -> str:
    with pytest.raises(AssertionError) as err:
        FORWARD_CHECK[kind](forward, hidden=hidden, **opts)
    return str(err.value)


def test_saturated_gates_are_exactly_open_or_shut():
    case = probes.probe_case("lstm")
    for gate, value, want in (("f", -probes.SATURATION, 0.0), ("o", probes.SATURATION, 1.0)):
        _, _, cache = cells.lstm_step(case["x"], case["h_prev"], case["c_prev"], probes.saturate(case, "lstm", gate,
                                                                                                value)["params"])
        assert np.abs(cache[gate] - want).max() < 1e-20


def test_if_swap_in_the_c_line_is_not_called_a_block_order():
    """i and f exchanged only in c = f*c_prev + i*g: h and c equal the block-swap's, yet no block order is named:
    the line is (the gates the student cached are right)."""
    def forward(x, h_prev, c_prev, params):
        h, c, cache = cells.lstm_step(x, h_prev, c_prev, params)
        c = cache["i"] * c_prev + cache["f"] * cache["g"]
        return cache["o"] * np.tanh(c), c, {**cache, "c": c, "tanh_c": np.tanh(c)}

    for hidden in (False, True):
        msg = _step_message("lstm", forward, hidden)
        assert "you read the blocks" not in msg and "gate order swapped" not in msg
        assert "(likely bug: gates exchanged in the cell update)" in msg


def test_gru_convention_mix_is_not_named_by_a_one_by_one_coincidence():
    """r applied to W_hn's product but not to b_hn equals reset-before when H = 1 only: never named so."""
    def forward(x, h_prev, params, reset_after=True):
        H = h_prev.shape[1]
        _, cache = cells.gru_step(x, h_prev, params, reset_after=reset_after)
        hw_n = h_prev @ params["W_h"][:, 2 * H:]
        n = np.tanh(cache["xw"][:, 2 * H:] + cache["r"] * hw_n + params["b_h"][2 * H:])
        return cache["z"] * h_prev + (1 - cache["z"]) * n, cache

    msg = _step_message("gru", forward, hidden=True)
    assert "hidden case 1 of 5 (B=1, D=1, H=1)" in msg  # the coincidence is there to be fallen for
    assert "other GRU convention" not in msg and "where the reset gate enters" in msg


def _cause(message: str) -> str:
    """The explanation of a failure message, without the case-specific numbers."""
    m = re.search(r"(Your result matches the reference if .*?\(likely bug: [^)]*\)|Likely cause .*? Evidence:)",
                  message)
    return m.group(1) if m else message.split("): ", 1)[-1]


TUNE = [b for b in bug_catalogue.BUGS if b.half == "tune"]


@pytest.mark.parametrize("bug", TUNE, ids=[b.name for b in TUNE])
def test_same_explanation_on_visible_and_hidden_cases(bug):
    """Does the same bug get the same explanation on its visible and its hidden test?"""
    failing = bug_catalogue.score(bug)["failing"]
    by_test = {}
    for test_id, msg in failing.items():
        base = test_id.removesuffix("_visible").removesuffix("_hidden")
        by_test.setdefault(base, []).append(_cause(msg))
    pairs = [causes for causes in by_test.values() if len(causes) == 2]
    assert all(a == b for a, b in pairs), pairs


def test_tune_half_is_caught_located_and_named():
    """On the bugs the diagnosis was tuned on: all caught and located, at least 90% named, per assignment."""
    for assignment, row in bug_catalogue.measure("tune").items():
        assert row["bugs"] >= 5
        assert row["caught"] == row["located"] == row["bugs"], (assignment, row)
        assert row["named"] >= 0.9 * row["bugs"], (assignment, row)


def test_held_out_half_keeps_its_measured_rates():
    """The held-out half, run once after tuning (docs/diagnosis.md): a floor, so the rates cannot silently fall."""
    for assignment, row in bug_catalogue.measure("held-out").items():
        assert row["bugs"] >= 5
        assert row["caught"] == row["bugs"], (assignment, row)
        assert row["located"] >= 0.8 * row["bugs"] and row["named"] >= 0.8 * row["bugs"], (assignment, row)


def test_catalogue_is_large_enough_and_split_by_name():
    """At least 25 bug classes over the three cells, forward and backward, both halves non-empty per cell."""
    bugs = bug_catalogue.BUGS
    assert len({b.name for b in bugs}) == len(bugs) >= 25
    for assignment in bug_catalogue.ASSIGNMENTS:
        mine = [b for b in bugs if b.assignment == assignment]
        assert {b.half for b in mine} == {"tune", "held-out"}
        assert {b.function.endswith("_backward") for b in mine} == {True, False}
    assert all(b.half == cell_checks_half(b.name) for b in bugs)


def cell_checks_half(name: str) -> str:
    import hashlib

    return "tune" if hashlib.sha256(name.encode()).digest()[0] % 2 == 0 else "held-out"


def test_backward_probes_use_the_reference_cache_of_each_probe():
    """Is the cache handed to a backward the reference forward's, with every prescribed key?"""
    for kind in KINDS:
        for ra in (True, False):
            case = probes.probe_case(kind, ra)
            cache = cell_checks.backward_cache(kind, case)
            assert set(cell_checks.CACHE_KEYS[kind]) <= set(cache)
            assert cell_checks.cache_problem(cell_checks.SPECS[kind], cache, cache) is None


# ----------------------------------------------------------------------------- through the sandbox
def test_probes_and_independent_credit_through_the_sandbox(tmp_path):
    """Graded in the sandbox, where every student call crosses the channel: does an lstm_cell notebook with a
    forward bug (i and f exchanged in the c line) lose only the forward's points, with the probes' explanation?"""
    import nbformat

    from autograder.pipeline import grade_notebook
    from autograder.sandbox import Limits, isolation

    if isolation.detect() is None:
        pytest.skip("no sandbox isolation on this machine")
    exercises = bug_catalogue.ROOT / "exercises"
    nb = nbformat.read(exercises / "source" / "lstm_cell" / "lstm_cell.ipynb", as_version=4)
    cell = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "lstm_step")
    assert cell.source.count("c = f * c_prev + i * g") == 1
    cell.source = cell.source.replace("c = f * c_prev + i * g", "c = i * c_prev + f * g")
    path = tmp_path / "lstm_cell.ipynb"
    nbformat.write(nb, path)
    report = grade_notebook(path, exercises, "lstm_cell", Limits(wall=20.0, cpu=60, memory=1024 * 2**20,
                                                                   processes=16))
    scores = {t.grade_id: (t.score, t.max_score) for t in report.tests}
    forward = {t for t in scores if t.startswith("test_lstm_step_") and "backward" not in t}
    assert forward and all(scores[t][0] == 0 for t in forward)
    assert all(s == m > 0 for t, (s, m) in scores.items() if t not in forward), scores
    message = next(t.message for t in report.tests if t.grade_id == "test_lstm_step_visible")
    assert "(likely bug: gates exchanged in the cell update)" in message and "you read the blocks" not in message


@pytest.mark.parametrize("kind,gate,make,expected", [
    ("lstm", "f", lambda c: {**c, "f": np.tanh(c["a_f"])}, "f uses tanh instead of sigmoid"),
    ("lstm", "i", lambda c: {**c, "i": c["o"]}, "i reads the columns of block 4 (the o block) instead of block 1"),
    ("gru", "z", lambda c: {**c, "z": np.maximum(c["xw"][:, :c["z"].shape[1]] + c["hw"][:, :c["z"].shape[1]], 0.0)},
     "z uses relu instead of sigmoid"),
])
def test_one_gate_with_another_function_or_block_is_identified(kind, gate, make, expected):
    """A single gate computed with another activation, or from another gate's columns: is it named exactly?"""
    def forward(*args, **kw):
        out = cells.STEP_FUNCTIONS[kind][0](*args, **kw)
        cache = make(out[-1])
        if kind == "lstm":
            c = cache["f"] * cache["c_prev"] + cache["i"] * cache["g"]
            cache.update(c=c, tanh_c=np.tanh(c))
            return cache["o"] * np.tanh(c), c, cache
        n, z = cache["n"], cache["z"]
        return z * cache["h_prev"] + (1 - z) * n, cache

    for hidden in (False, True):
        msg = _step_message(kind, forward, hidden)
        assert expected in msg and f"your cache['{gate}']" in msg


# ----------------------------------------------------------------------------- generic names (tuned on a 2nd catalogue)
def test_cache_entry_holding_another_quantity_is_named():
    """A cache entry that holds another prescribed quantity (the pre-activation overwritten by tanh in place):
    is the quantity it holds named, and only when it really equals it?"""
    def overwritten(x, h_prev, params):
        a = x @ params["W_xh"] + h_prev @ params["W_hh"] + params["b_h"]
        h = np.tanh(a, out=a)
        return h, {"x": x, "h_prev": h_prev, "a": a, "h": h, "activation": "tanh", "params": params}

    for hidden in (False, True):
        with pytest.raises(AssertionError, match=r"cache\['a'\] differs.*holds what the reference stores as 'h'"):
            checks.check_rnn_step(overwritten, hidden=hidden, cache=True)

    def off(x, h_prev, params):
        h, cache = cells.rnn_step(x, h_prev, params)
        return h, {**cache, "a": cache["a"] + 0.5}

    with pytest.raises(AssertionError) as err:
        checks.check_rnn_step(off, cache=True)
    assert "holds what the reference stores" not in str(err.value)


def test_a_variable_reused_before_the_return_is_named():
    """c overwritten by tanh(c) before the return, or h and c returned in the other order: named, with h right?"""
    def reused(x, h_prev, c_prev, params):
        h, c, cache = cells.lstm_step(x, h_prev, c_prev, params)
        return h, cache["tanh_c"], {**cache, "c": cache["tanh_c"]}

    def swapped(x, h_prev, c_prev, params):
        h, c, cache = cells.lstm_step(x, h_prev, c_prev, params)
        return c, h, cache

    for forward, pattern in ((reused, r"the returned c is tanh\(c\).*\(likely bug: variable reused\)"),
                             (swapped, r"\(likely bug: outputs returned in another order\)")):
        for hidden in (False, True):
            with pytest.raises(AssertionError, match=pattern):
                checks.check_lstm_step(forward, hidden=hidden)


def test_a_product_with_mismatched_sizes_guesses_a_transpose():
    """A backward that multiplies by W_h instead of W_h.T crashes on the inner sizes: is the transpose guessed?"""
    def backward(dh, dc, cache):
        dx, dh_prev, dc_prev, grads = cells.lstm_step_backward(dh, dc, cache)
        return dx, np.concatenate([dh, dh, dh, dh], axis=1) @ cache["params"]["W_h"], dc_prev, grads

    with pytest.raises(AssertionError, match=r"raised ValueError.*\(likely bug: transposed or swapped weights\)"):
        checks.check_lstm_step_backward(None, backward, wrt="inputs")


INDEPENDENT_TUNE = [b for b in independent.BUGS if b.half == "tune"]


def test_second_catalogue_tune_half_is_caught_located_and_named():
    """The catalogue written blind to the diagnosis (tune half): every bug fails exactly the tests written with it,
    is located, and at least 90% are named, per assignment."""
    for assignment, row in independent.measure(INDEPENDENT_TUNE).items():
        assert row["bugs"] >= 5
        assert row["caught"] == row["exact"] == row["located"] == row["bugs"], (assignment, row)
        assert row["named"] >= 0.9 * row["bugs"], (assignment, row)


def test_second_catalogue_held_out_half_keeps_its_measured_rates():
    """The second catalogue's held-out half, run once after tuning (docs/diagnosis.md): a floor on its rates."""
    for assignment, row in independent.measure([b for b in independent.BUGS if b.half == "held-out"]).items():
        assert row["bugs"] >= 5
        assert row["caught"] == row["exact"] == row["located"] == row["bugs"], (assignment, row)
        assert row["named"] >= 0.9 * row["bugs"], (assignment, row)


def test_second_catalogue_is_large_enough_and_covers_every_function():
    """At least 40 bugs, and every graded function of the three cells has bugs in both halves."""
    bugs = independent.BUGS
    assert len({b.name for b in bugs}) == len(bugs) >= 40
    for half in ("tune", "held-out"):
        assert {b.function for b in bugs if b.half == half} == {
            f"{k}_step{s}" for k in KINDS for s in ("", "_backward")}


@pytest.mark.parametrize("bug", INDEPENDENT_TUNE, ids=[b.name for b in INDEPENDENT_TUNE])
def test_second_catalogue_same_explanation_on_visible_and_hidden(bug):
    """Does each tuned bug of the second catalogue get the same explanation on its visible and hidden test?"""
    def gist(message):
        # The explanation with the case's numbers masked (values, sizes, indices, a batch index B = 1 leaves out),
        # and a 2-D bias gradient's "row"/"column", which a (1, 1) gradient of a 1-unit bias cannot tell apart.
        text = re.sub(r"-?\d+(\.\d+)?(e[-+]?\d+)?", "#", _cause(message).split(" Its inputs:")[0])
        return re.sub(r"row or column|row|column", "2-D", text.replace("batch #, ", ""))

    by_test = {}
    for test_id, msg in independent.score(bug)["failing"].items():
        by_test.setdefault(test_id.removesuffix("_visible").removesuffix("_hidden"), []).append(gist(msg))
    assert all(a == b for a, b in (c for c in by_test.values() if len(c) == 2)), by_test


def test_a_wrong_output_line_with_a_right_cache_is_named():
    """tanh_c cached right but h built from tanh(c_prev): named, since the hypothesis blames only h's line?"""
    def forward(x, h_prev, c_prev, params):
        h, c, cache = cells.lstm_step(x, h_prev, c_prev, params)
        return cache["o"] * np.tanh(c_prev), c, cache

    for hidden in (False, True):
        with pytest.raises(AssertionError, match=r"\(likely bug: previous cell state used\)"):
            checks.check_lstm_step(forward, hidden=hidden)


# ----------------------------------------------------------------------------- classes added with blind catalogue 5
def _graded(check, *args, hidden: bool = False, **kwargs) -> str | None:
    from tests.autograder import graded_message

    return graded_message.grade(check, *args, secret=b"blind5-classes-secret-0123456789", hidden=hidden, **kwargs)


def _zero_block(params, keys, kind, gate):
    k, n = cells.GATES[kind].index(gate), len(cells.GATES[kind])
    out = dict(params)
    for key in keys:
        W = params[key].copy()
        H = W.shape[-1] // n
        W[..., k * H:(k + 1) * H] = 0.0
        out[key] = W
    return out


def lstm_forget_without_recurrence(x, h_prev, c_prev, params):
    # f = sigmoid(x W_xf + b_f): the student computed the recurrent product but left it out of f
    h, c, cache = cells.lstm_step(x, h_prev, c_prev, _zero_block(params, ("W_h",), "lstm", "f"))
    return h, c, {**cache, "params": params}


def gru_z_without_input(x, h_prev, params, reset_after=True):
    h, cache = cells.gru_step(x, h_prev, _zero_block(params, ("W_x", "b_x"), "gru", "z"), reset_after=reset_after)
    return h, {**cache, "params": params}


def lstm_backward_f_without_sigmoid_prime(dh, dc, cache):
    f = cache["f"]
    return cells.lstm_step_backward(dh, dc, cache, dsigmoid=lambda s: np.ones_like(s) if s is f else s * (1 - s))


def gru_backward_r_without_sigmoid_prime(dh, cache):
    r = cache["r"]
    return cells.gru_step_backward(dh, cache, dsigmoid=lambda s: np.ones_like(s) if s is r else s * (1 - s))


def lstm_caches_i_before_sigmoid(x, h_prev, c_prev, params):
    h, c, cache = cells.lstm_step(x, h_prev, c_prev, params)
    H = h.shape[1]
    a = x @ params["W_x"] + h_prev @ params["W_h"] + params["b"]
    return h, c, {k: v for k, v in cache.items() if k in cell_checks.CACHE_KEYS["lstm"]} | {"i": a[:, :H]}


NEW_CLASSES = [
    ("lstm f without h_prev W_hf", cell_checks.check_lstm_step, (lstm_forget_without_recurrence,), {},
     r"recurrent term of the forget gate f.*gate term dropped"),
    ("gru z without x W_xz + b_xz", cell_checks.check_gru_step, (gru_z_without_input,), {},
     r"input term of the update gate z.*gate term dropped"),
    ("lstm backward f without f(1-f)", cell_checks.check_lstm_step_backward,
     (None, lstm_backward_f_without_sigmoid_prime), {},
     r"forget gate's gradient misses the sigmoid derivative.*missing derivative"),
    ("gru backward r without r(1-r)", cell_checks.check_gru_step_backward,
     (None, gru_backward_r_without_sigmoid_prime), {},
     r"reset gate's gradient misses the sigmoid derivative.*missing derivative"),
    ("lstm cache i before its sigmoid", cell_checks.check_lstm_step, (lstm_caches_i_before_sigmoid,), {"cache": True},
     r"i's pre-activation.*cache entry holds the pre-activation"),
]


@pytest.mark.parametrize(("label", "check", "args", "kwargs", "pattern"), NEW_CLASSES, ids=[v[0] for v in NEW_CLASSES])
def test_a_dropped_gate_term_a_missing_gate_derivative_and_a_cached_pre_activation_are_named(label, check, args,
                                                                                             kwargs, pattern):
    """Variants of the classes added for blind catalogue 5 (not its bugs: other gates, other cells) are named."""
    message = _graded(check, *args, **kwargs)
    assert message is not None and re.search(pattern, message), message
    assert "also on the grader's probe case" in message or "pre-activation" in message, message


def test_the_new_classes_are_not_given_to_correct_cells_or_to_other_bugs():
    """Correct cells pass; a bug of another class (the whole recurrence dropped) is not called a gate term dropped."""
    for check, fn, kw in ((cell_checks.check_lstm_step, cells.lstm_step, {"cache": True}),
                          (cell_checks.check_gru_step, cells.gru_step, {"cache": True})):
        assert _graded(check, fn, **kw) is None

    def lstm_no_recurrence(x, h_prev, c_prev, params):
        h, c, cache = cells.lstm_step(x, h_prev, c_prev, {**params, "W_h": np.zeros_like(params["W_h"])})
        return h, c, {**cache, "params": params}

    message = _graded(cell_checks.check_lstm_step, lstm_no_recurrence)
    assert message is not None and "recurrence dropped" in message and "gate term dropped" not in message, message


def test_a_name_inexpressible_on_the_probe_case_is_confirmed_on_a_further_case():
    """Rows and columns exchanged cannot be expressed on the non-square probe case; it is named only after the square
    further case reproduces it, and refuted when the student's return there is something else."""
    from autograder import crnn_checks, sequence_probes
    from autograder.hypotheses import Hypothesis
    from simulator import conv

    def transposed(x, size=2, stride=None):
        out, cache = conv.maxpool_forward(x.swapaxes(2, 3), size, stride)
        return out, cache

    def transposed_only_when_square(x, size=2, stride=None):
        return transposed(x, size, stride) if x.shape[2] != 7 or x.shape[3] != 7 else conv.maxpool_forward(x, size,
                                                                                                          stride)

    message = _graded(crnn_checks.check_maxpool_forward, transposed)
    assert message is not None and "rows and columns exchanged" in message, message
    hyp = next(h for h in crnn_checks.pool_hypotheses() if h.bug == "rows and columns exchanged")
    confirm = crnn_checks._confirmation(transposed_only_when_square, "maxpool_forward", "out",
                                        crnn_checks.probe_pool_case(), crnn_checks._pool_args,
                                        more=(crnn_checks.square_pool_case(),))
    kept, _ = sequence_probes.confirmed([hyp], confirm, lambda c: {"out": conv.maxpool_forward(*c["args"])[0]})
    assert kept == []  # on the square further case this student is right, so the name is refuted
    assert isinstance(hyp, Hypothesis)
