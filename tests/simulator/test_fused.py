"""The fused fast cores against the readable steps (1e-12), and the readable steps' activation hooks."""

import functools

import numpy as np
import pytest

from simulator import cells, fused, sequence
from simulator.cells import Cell
from simulator.gradients import numerical_gradient

CASES = [("rnn", {"activation": "tanh"}), ("rnn", {"activation": "relu"}), ("lstm", {}),
         ("gru", {"reset_after": True}), ("gru", {"reset_after": False})]
IDS = ["rnn-tanh", "rnn-relu", "lstm", "gru-after", "gru-before"]
STEPS = {"rnn": (cells.rnn_step, cells.rnn_step_backward), "lstm": (cells.lstm_step, cells.lstm_step_backward),
         "gru": (cells.gru_step, cells.gru_step_backward)}
TIGHT = {"rtol": 1e-12, "atol": 1e-14}


def shapes(seed: int, n: int = 8) -> list[tuple[int, int, int]]:
    """(B, D, H): the all-ones corner, each size 1 alone, then seeded random sizes 1..6."""
    rng = np.random.default_rng(seed)
    return [(1, 1, 1), (1, 4, 3), (3, 1, 2), (2, 3, 1)] + [tuple(int(v) for v in rng.integers(1, 7, 3))
                                                          for _ in range(n)]


def random_case(kind, B, D, H, rng):
    """Random weights, random non-zero biases, input, states and upstream gradients (float64)."""
    params = {k: rng.uniform(-0.9, 0.9, s) for k, s in cells.param_shapes(kind, D, H).items()}
    x = rng.standard_normal((B, D))
    n = 2 if kind == "lstm" else 1
    states = tuple(rng.standard_normal((B, H)) for _ in range(n))
    up = tuple(rng.standard_normal((B, H)) for _ in range(n))
    return params, x, states, up


def readable(kind, x, states, params, opts, **hooks):
    out = STEPS[kind][0](x, *states, params, **opts, **hooks)
    return out[:-1], out[-1]


def readable_backward(kind, up, cache, **hooks):
    out = STEPS[kind][1](*up, cache, **hooks)
    return out[0], out[1:-1], out[-1]


def fused_step(kind, x, states, params, opts):
    """The fused core on the input projection, with the cache completed as ``sequence`` completes it."""
    in_w, in_b = cells.INPUT_PARAMS[kind]
    out = fused.CORES[kind](x @ params[in_w] + params[in_b], *states, params, **opts)
    cache = out[-1]
    cache.update(x=x, params=params)
    return out[:-1], cache


def fused_backward(kind, up, cache, params, **fast):
    """The fused backward core plus the input gradients: the same outputs as the readable backward."""
    out = fused.CORE_BACKWARDS[kind](*up, cache, params, **fast)
    dxw, dprev, grads = out[0], out[1:-1], dict(out[-1])
    in_w, in_b = cells.INPUT_PARAMS[kind]
    dx, grads[in_w], grads[in_b] = fused.input_grads(cache["x"], dxw, params[in_w])
    return dx, dprev, grads


def assert_same_cache(a, b, where):
    assert set(a) == set(b), f"{where}: cache keys {sorted(a)} vs {sorted(b)}"
    for k in a:
        if isinstance(a[k], np.ndarray):
            assert a[k].shape == b[k].shape, f"{where}: cache[{k!r}] shape"
            np.testing.assert_allclose(a[k], b[k], **TIGHT, err_msg=f"{where}: cache[{k!r}]")
        elif k == "params":
            assert a[k] is b[k], f"{where}: cache['params'] is the dict passed in"
        else:
            assert a[k] == b[k], f"{where}: cache[{k!r}] {a[k]!r} vs {b[k]!r}"


def assert_same_backward(a, b, where):
    (dx1, dp1, g1), (dx2, dp2, g2) = a, b
    np.testing.assert_allclose(dx1, dx2, **TIGHT, err_msg=f"{where}: dx")
    assert len(dp1) == len(dp2)
    for name, s1, s2 in zip(("dh_prev", "dc_prev"), dp1, dp2, strict=False):
        np.testing.assert_allclose(s1, s2, **TIGHT, err_msg=f"{where}: {name}")
    assert set(g1) == set(g2), f"{where}: gradient keys"
    for k in g1:
        assert g1[k].shape == g2[k].shape, f"{where}: d{k} shape"
        np.testing.assert_allclose(g1[k], g2[k], **TIGHT, err_msg=f"{where}: d{k}")


@pytest.mark.parametrize(("kind", "opts"), CASES, ids=IDS)
def test_fused_forward_equals_readable(kind, opts):
    """Do the fused cores give the readable steps' states and every named cache entry, to 1e-12?"""
    rng = np.random.default_rng(1)
    for trial, (B, D, H) in enumerate(shapes(2)):
        params, x, states, _ = random_case(kind, B, D, H, rng)
        where = f"{kind} {opts} trial {trial} (B, D, H)={(B, D, H)}"
        new_r, cache_r = readable(kind, x, states, params, opts)
        new_f, cache_f = fused_step(kind, x, states, params, opts)
        assert len(new_r) == len(new_f), where
        for name, a, b in zip(("h", "c"), new_r, new_f, strict=False):
            np.testing.assert_allclose(a, b, **TIGHT, err_msg=f"{where}: {name}")
        assert_same_cache(cache_r, cache_f, where)


@pytest.mark.parametrize(("kind", "opts"), CASES, ids=IDS)
def test_fused_backward_equals_readable(kind, opts):
    """Do the fused backward cores give the readable dx, dh_prev (dc_prev) and every gradient, to 1e-12,
    on either one's cache?"""
    rng = np.random.default_rng(3)
    for trial, (B, D, H) in enumerate(shapes(4)):
        params, x, states, up = random_case(kind, B, D, H, rng)
        where = f"{kind} {opts} trial {trial} (B, D, H)={(B, D, H)}"
        _, cache_r = readable(kind, x, states, params, opts)
        _, cache_f = fused_step(kind, x, states, params, opts)
        expected = readable_backward(kind, up, cache_r)
        assert_same_backward(fused_backward(kind, up, cache_f, params), expected, f"{where}, fused")
        # sequence's generic path and gradients' Jacobians mix them: each backward on the other's cache
        assert_same_backward(fused_backward(kind, up, cache_r, params), expected, f"{where}, fused on readable")
        assert_same_backward(readable_backward(kind, up, cache_f), expected, f"{where}, readable on fused")


@pytest.mark.parametrize(("kind", "opts"), CASES, ids=IDS)
def test_fused_backward_options_change_nothing(kind, opts):
    """Do the speed options (W_hT, preallocated dxw/dhw, param_grads=False) give the same numbers,
    written where asked?"""
    rng = np.random.default_rng(5)
    B, D, H = 3, 2, 4
    params, x, states, up = random_case(kind, B, D, H, rng)
    _, cache = fused_step(kind, x, states, params, opts)
    core_backward = fused.CORE_BACKWARDS[kind]
    plain = core_backward(*up, cache, params)
    rec = params["W_hh" if kind == "rnn" else "W_h"]
    nH = rec.shape[1]
    buf = np.zeros((B, 2, nH))  # strided (B, nH) slices, as sequence passes them
    extra = {"dhw": np.zeros((B, 2, nH))[:, 1]} if kind == "gru" and opts["reset_after"] else {}
    fast = core_backward(*up, cache, params, W_hT=np.ascontiguousarray(rec.T), dxw=buf[:, 1],
                         param_grads=False, **extra)
    assert fast[-1] == {}
    assert np.shares_memory(fast[0], buf), "dxw is written into the buffer passed"
    for k, (a, b) in enumerate(zip(plain[:-1], fast[:-1], strict=True)):
        np.testing.assert_allclose(b, a, **TIGHT, err_msg=f"{kind} {opts}: output {k}")
    np.testing.assert_array_equal(buf[:, 0], 0.0, err_msg="the neighbouring slice is left alone")


@pytest.mark.parametrize(("kind", "opts"), CASES, ids=IDS)
def test_fused_step_matches_finite_differences(kind, opts):
    """Does the fused path (core + input gradients) give the central-difference gradients itself?"""
    rng = np.random.default_rng(7)
    params, x, states, up = random_case(kind, 2, 3, 2, rng)

    def loss():
        new, _ = fused_step(kind, x, states, params, opts)
        return float(sum((s * u).sum() for s, u in zip(new, up, strict=True)))

    _, cache = fused_step(kind, x, states, params, opts)
    dx, dprev, grads = fused_backward(kind, up, cache, params)
    tol = {"rtol": 1e-6, "atol": 1e-8}
    np.testing.assert_allclose(dx, numerical_gradient(loss, x), **tol, err_msg="dx")
    for s, ds in zip(states, dprev, strict=True):
        np.testing.assert_allclose(ds, numerical_gradient(loss, s), **tol, err_msg="dstate")
    for k, p in params.items():
        np.testing.assert_allclose(grads[k], numerical_gradient(loss, p), **tol, err_msg=f"d{k}")


# ----------------------------------------------------------------------------- activation hooks
@pytest.mark.parametrize(("kind", "opts"), CASES, ids=IDS)
def test_default_hooks_are_the_reference_exactly(kind, opts):
    """Is passing the default hooks bit-for-bit the same as passing none?"""
    rng = np.random.default_rng(9)
    params, x, states, up = random_case(kind, 3, 2, 4, rng)
    new, cache = readable(kind, x, states, params, opts)
    new_h, cache_h = readable(kind, x, states, params, opts, sigmoid=cells.sigmoid, tanh=np.tanh)
    for a, b in zip(new, new_h, strict=True):
        np.testing.assert_array_equal(a, b)
    for k, v in cache.items():
        if isinstance(v, np.ndarray):
            np.testing.assert_array_equal(v, cache_h[k], err_msg=k)
    back = readable_backward(kind, up, cache)
    back_h = readable_backward(kind, up, cache, dsigmoid=cells.dsigmoid, dtanh=cells.dtanh)
    np.testing.assert_array_equal(back[0], back_h[0])
    for a, b in zip(back[1], back_h[1], strict=True):
        np.testing.assert_array_equal(a, b)
    for k in back[2]:
        np.testing.assert_array_equal(back[2][k], back_h[2][k], err_msg=k)


def test_hooks_are_keyword_only_and_derivatives_are_of_the_output():
    """Are the hooks keyword-only, and do dsigmoid/dtanh map an output to the derivative?"""
    rng = np.random.default_rng(10)
    params, x, states, _ = random_case("lstm", 2, 2, 3, rng)
    with pytest.raises(TypeError):
        cells.lstm_step(x, *states, params, np.tanh)
    a = rng.standard_normal(50)
    eps = 1e-6
    for f, df in ((cells.sigmoid, cells.dsigmoid), (np.tanh, cells.dtanh)):
        np.testing.assert_allclose(df(f(a)), (f(a + eps) - f(a - eps)) / (2 * eps), rtol=1e-8, atol=1e-10)


def marked(kind, opts, x, states, params):
    """Forward with marker hooks: sigmoid -> 0.25 everywhere, tanh -> 3a; returns (states, cache)."""
    return readable(kind, x, states, params, opts, sigmoid=lambda a: np.full_like(a, 0.25), tanh=lambda a: 3 * a)


@pytest.mark.parametrize(("kind", "opts"), CASES, ids=IDS)
def test_forward_hooks_replace_every_activation(kind, opts):
    """Does every gate use the sigmoid= hook and every candidate and state activation the tanh= hook?"""
    rng = np.random.default_rng(11)
    params, x, states, _ = random_case(kind, 2, 3, 4, rng)
    new, cache = marked(kind, opts, x, states, params)
    h_prev = states[0]
    if kind == "rnn":
        a = x @ params["W_xh"] + h_prev @ params["W_hh"] + params["b_h"]
        expected_h = 3 * a if opts["activation"] == "tanh" else np.maximum(a, 0)  # relu ignores the tanh hook
        np.testing.assert_allclose(new[0], expected_h, rtol=1e-12)
        return
    if kind == "lstm":
        a = x @ params["W_x"] + h_prev @ params["W_h"] + params["b"]
        H = h_prev.shape[1]
        for name in "ifo":
            np.testing.assert_array_equal(cache[name], 0.25, err_msg=name)
        np.testing.assert_allclose(cache["g"], 3 * a[:, 2 * H : 3 * H], rtol=1e-12)
        c = 0.25 * states[1] + 0.25 * cache["g"]
        np.testing.assert_allclose(new[1], c, rtol=1e-12)
        np.testing.assert_allclose(cache["tanh_c"], 3 * c, rtol=1e-12)
        np.testing.assert_allclose(new[0], 0.25 * 3 * c, rtol=1e-12)
        return
    for name in "zr":
        np.testing.assert_array_equal(cache[name], 0.25, err_msg=name)
    np.testing.assert_allclose(cache["n"], 3 * cache["a_n"], rtol=1e-12)
    np.testing.assert_allclose(new[0], 0.25 * h_prev + 0.75 * cache["n"], rtol=1e-12)


# Replacement activations with their derivatives written from the output, as the hooks take them.
SCALED = {"sigmoid": lambda a: cells.sigmoid(2 * a), "dsigmoid": lambda s: 2 * s * (1 - s),
          "tanh": lambda a: 0.5 * np.tanh(a), "dtanh": lambda t: 0.5 * (1 - (2 * t) ** 2)}
SWAPPED = {"sigmoid": np.tanh, "dsigmoid": cells.dtanh, "tanh": cells.sigmoid, "dtanh": cells.dsigmoid}


@pytest.mark.parametrize("hooks", [SCALED, SWAPPED], ids=["scaled", "swapped"])
@pytest.mark.parametrize(("kind", "opts"), CASES, ids=IDS)
def test_backward_hooks_differentiate_the_hooked_forward(kind, opts, hooks):
    """With matching hooks, is the backward the exact gradient of the hooked forward (finite differences)?
    A site left on the true function or derivative would break the match."""
    rng = np.random.default_rng(13)
    params, x, states, up = random_case(kind, 2, 3, 3, rng)
    fwd = {"sigmoid": hooks["sigmoid"], "tanh": hooks["tanh"]}
    back = {"dsigmoid": hooks["dsigmoid"], "dtanh": hooks["dtanh"]}

    def loss():
        new, _ = readable(kind, x, states, params, opts, **fwd)
        return float(sum((s * u).sum() for s, u in zip(new, up, strict=True)))

    _, cache = readable(kind, x, states, params, opts, **fwd)
    dx, dprev, grads = readable_backward(kind, up, cache, **back)
    tol = {"rtol": 1e-6, "atol": 1e-8}
    np.testing.assert_allclose(dx, numerical_gradient(loss, x), **tol, err_msg=f"{kind} {opts} dx")
    for s, ds in zip(states, dprev, strict=True):
        np.testing.assert_allclose(ds, numerical_gradient(loss, s), **tol, err_msg=f"{kind} {opts} dstate")
    for k, p in params.items():
        np.testing.assert_allclose(grads[k], numerical_gradient(loss, p), **tol, err_msg=f"{kind} {opts} d{k}")
    if kind != "rnn" or opts["activation"] == "tanh":  # the hooks must matter where they are used
        _, plain = readable(kind, x, states, params, opts)
        assert not np.allclose(plain["h"], cache["h"])


@pytest.mark.parametrize(("kind", "opts"), CASES, ids=IDS)
def test_hooked_steps_drop_into_sequence(kind, opts):
    """Does a hooked reference step run through sequence.forward/backward like a student's, BPTT included?"""
    rng = np.random.default_rng(15)
    B, T, D, H = 2, 3, 2, 3
    params = {k: rng.uniform(-0.9, 0.9, s) for k, s in cells.param_shapes(kind, D, H).items()}
    step, step_backward = STEPS[kind]
    cell = Cell(kind, params, **opts, step=functools.partial(step, sigmoid=SCALED["sigmoid"], tanh=SCALED["tanh"]),
                step_backward=functools.partial(step_backward, dsigmoid=SCALED["dsigmoid"], dtanh=SCALED["dtanh"]))
    X = rng.standard_normal((B, T, D))
    dH = rng.standard_normal((B, T, H))

    def loss():
        Hs, _ = sequence.forward(cell, X)
        return float((Hs * dH).sum())

    Hs, cache = sequence.forward(cell, X)
    ref, _ = sequence.forward(Cell(kind, params, **opts), X)
    assert not np.allclose(Hs, ref) or (kind == "rnn" and opts["activation"] == "relu")
    dX, dparams, _ = sequence.backward(dH, cache)
    np.testing.assert_allclose(dX, numerical_gradient(loss, X), rtol=1e-6, atol=1e-8, err_msg="dX")
    for k, p in params.items():
        np.testing.assert_allclose(dparams[k], numerical_gradient(loss, p), rtol=1e-6, atol=1e-8, err_msg=f"d{k}")


def counting(values):
    """A hook returning ``values[k](a)`` at its k-th call, and the list of arguments it was called with."""
    seen = []

    def hook(a):
        seen.append(a)
        return values[len(seen) - 1](a)

    return hook, seen


@pytest.mark.parametrize(("kind", "opts"), CASES, ids=IDS)
def test_hook_call_order_and_arguments_are_the_contract(kind, opts):
    """Is each hook called once per site, forward in equation order, backward on the cache's own arrays?
    (autograder/hypotheses.py changes one site by counting calls or by identity.)"""
    rng = np.random.default_rng(17)
    params, x, states, up = random_case(kind, 2, 3, 4, rng)
    consts = [lambda a, v=v: np.full_like(a, v) for v in (0.1, 0.2, 0.3)]
    scales = [lambda a, k=k: (3 + 2 * k) * a for k in range(2)]
    sigmoid, sig_seen = counting(consts)
    tanh, tanh_seen = counting(scales)
    new, cache = readable(kind, x, states, params, opts, sigmoid=sigmoid, tanh=tanh)
    gates = {"rnn": "", "lstm": "ifo", "gru": "zr"}[kind]
    assert len(sig_seen) == len(gates)
    for k, name in enumerate(gates):
        np.testing.assert_array_equal(cache[name], (0.1, 0.2, 0.3)[k], err_msg=f"sigmoid call {k} is {name}")
    if kind == "lstm":
        assert len(tanh_seen) == 2
        np.testing.assert_allclose(cache["g"], 3 * cache["a_g"], rtol=1e-12, err_msg="tanh call 0 is g")
        np.testing.assert_allclose(cache["tanh_c"], 5 * new[1], rtol=1e-12, err_msg="tanh call 1 is tanh(c)")
    elif kind == "gru":
        assert len(tanh_seen) == 1
        np.testing.assert_allclose(cache["n"], 3 * cache["a_n"], rtol=1e-12)
    else:
        assert len(tanh_seen) == (1 if opts["activation"] == "tanh" else 0)

    _, cache = readable(kind, x, states, params, opts)
    dsigmoid, dsig_seen = counting([cells.dsigmoid] * 3)
    dtanh, dtanh_seen = counting([cells.dtanh] * 2)
    readable_backward(kind, up, cache, dsigmoid=dsigmoid, dtanh=dtanh)
    tanh_sites = {"rnn": ("h",) if opts.get("activation") == "tanh" else (), "lstm": ("tanh_c", "g"),
                  "gru": ("n",)}[kind]
    assert [id(a) for a in dsig_seen] == [id(cache[name]) for name in gates], "dsigmoid on cache[i], [f], [o] ..."
    assert [id(a) for a in dtanh_seen] == [id(cache[name]) for name in tanh_sites], f"dtanh on {tanh_sites}"
