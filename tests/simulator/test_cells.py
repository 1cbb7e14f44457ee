"""One-step cells: finite differences for every argument, PyTorch twins, named caches, initialisers."""

import numpy as np
import pytest

from simulator import cells, interop
from simulator.cells import Cell
from simulator.gradients import numerical_gradient

torch = pytest.importorskip("torch")

CASES = [("rnn", {"activation": "tanh"}), ("rnn", {"activation": "relu"}), ("lstm", {}),
         ("gru", {"reset_after": True}), ("gru", {"reset_after": False})]
IDS = ["rnn-tanh", "rnn-relu", "lstm", "gru-after", "gru-before"]


def random_params(kind, D, H, rng, dtype=np.float64):
    """Random weights and random non-zero biases."""
    return {k: rng.uniform(-0.9, 0.9, s).astype(dtype) for k, s in cells.param_shapes(kind, D, H).items()}


def step(kind, x, states, params, opts):
    """Call the public step function; returns (states tuple, cache)."""
    out = {"rnn": cells.rnn_step, "lstm": cells.lstm_step, "gru": cells.gru_step}[kind](x, *states, params, **opts)
    return out[:-1], out[-1]


def step_backward(kind, dstates, cache):
    """Call the public backward; returns (dx, dstates_prev tuple, grads)."""
    out = {"rnn": cells.rnn_step_backward, "lstm": cells.lstm_step_backward,
           "gru": cells.gru_step_backward}[kind](*dstates, cache)
    return out[0], out[1:-1], out[-1]


def rel_err(a, b) -> float:
    return float(np.abs(a - b).max() / max(np.abs(b).max(), 1e-12))


@pytest.mark.parametrize(("kind", "opts"), CASES, ids=IDS)
@pytest.mark.parametrize(("B", "D", "H"), [(3, 4, 5), (1, 1, 1), (2, 1, 3)])
def test_step_backward_matches_finite_differences(kind, opts, B, D, H):
    """Does each step backward give dx, dh_prev (dc_prev) and every parameter gradient of sum(dh*h [+ dc*c])?"""
    rng = np.random.default_rng(B * 100 + D * 10 + H)
    params = random_params(kind, D, H, rng)
    x = rng.standard_normal((B, D))
    states = tuple(rng.standard_normal((B, H)) for _ in range(2 if kind == "lstm" else 1))
    up = tuple(rng.standard_normal((B, H)) for _ in states)

    def loss():
        new, _ = step(kind, x, states, params, opts)
        return float(sum((s * u).sum() for s, u in zip(new, up, strict=True)))

    _, cache = step(kind, x, states, params, opts)
    dx, dprev, grads = step_backward(kind, up, cache)
    assert set(grads) == set(params)
    tol = {"rtol": 1e-6, "atol": 1e-8}
    np.testing.assert_allclose(dx, numerical_gradient(loss, x), **tol, err_msg=f"{kind} {opts} dx")
    for name, s, ds in zip(("h_prev", "c_prev"), states, dprev, strict=False):
        np.testing.assert_allclose(ds, numerical_gradient(loss, s), **tol, err_msg=f"{kind} {opts} d{name}")
    for k, p in params.items():
        assert grads[k].shape == p.shape
        np.testing.assert_allclose(grads[k], numerical_gradient(loss, p), **tol, err_msg=f"{kind} {opts} d{k}")


@pytest.mark.parametrize(("kind", "opts"), CASES[:4], ids=IDS[:4])
def test_step_matches_torch_float64(kind, opts):
    """Does one step (forward and backward) equal a one-step torch.nn twin to 1e-9?"""
    rng = np.random.default_rng(7)
    for B, D, H in [(4, 3, 5), (1, 1, 1)]:
        params = random_params(kind, D, H, rng)
        module = interop.to_torch(Cell(kind, params, **opts))
        x = rng.standard_normal((B, D))
        states = tuple(rng.standard_normal((B, H)) for _ in range(2 if kind == "lstm" else 1))
        up = tuple(rng.standard_normal((B, H)) for _ in states)
        new, cache = step(kind, x, states, params, opts)
        dx, dprev, _ = step_backward(kind, up, cache)

        xt = torch.from_numpy(x[:, None]).requires_grad_(True)  # (B, D) -> (B, 1, D)
        st = tuple(torch.from_numpy(s[None]).requires_grad_(True) for s in states)  # (B, H) -> (1, B, H)
        _, final = module(xt, st if kind == "lstm" else st[0])
        final = final if kind == "lstm" else (final,)
        sum((f[0] * torch.from_numpy(u)).sum() for f, u in zip(final, up, strict=True)).backward()
        for ours, theirs in zip(new, final, strict=True):
            assert rel_err(ours, theirs[0].detach().numpy()) <= 1e-9
        assert rel_err(dx, xt.grad[:, 0].numpy()) <= 1e-9
        for ours, theirs in zip(dprev, st, strict=True):
            assert rel_err(ours, theirs.grad[0].numpy()) <= 1e-9


@pytest.mark.parametrize(("kind", "opts"), CASES, ids=IDS)
def test_cache_names_every_intermediate(kind, opts):
    """Does the cache hold the named pre-activations, gates, candidate and states, consistent with each other?"""
    rng = np.random.default_rng(3)
    B, D, H = 3, 2, 4
    params = random_params(kind, D, H, rng)
    x = rng.standard_normal((B, D))
    states = tuple(rng.standard_normal((B, H)) for _ in range(2 if kind == "lstm" else 1))
    new, cache = step(kind, x, states, params, opts)
    sig = lambda a: 1 / (1 + np.exp(-a))  # noqa: E731
    np.testing.assert_array_equal(cache["x"], x)
    np.testing.assert_array_equal(cache["h_prev"], states[0])
    np.testing.assert_array_equal(cache["h"], new[0])
    if kind == "rnn":
        a = x @ params["W_xh"] + states[0] @ params["W_hh"] + params["b_h"]
        np.testing.assert_allclose(cache["a"], a, rtol=1e-12)
        act = np.tanh(a) if opts["activation"] == "tanh" else np.maximum(a, 0)
        np.testing.assert_allclose(cache["h"], act, rtol=1e-12)
    elif kind == "lstm":
        a = x @ params["W_x"] + states[0] @ params["W_h"] + params["b"]
        np.testing.assert_allclose(cache["a"], a, rtol=1e-12)
        for k, name in enumerate("ifgo"):
            np.testing.assert_allclose(cache[f"a_{name}"], a[:, k * H : (k + 1) * H], rtol=1e-12)
            expected = np.tanh(cache["a_g"]) if name == "g" else sig(cache[f"a_{name}"])
            np.testing.assert_allclose(cache[name], expected, rtol=1e-12, err_msg=name)
        c = cache["f"] * states[1] + cache["i"] * cache["g"]
        np.testing.assert_allclose(cache["c"], c, rtol=1e-12)
        np.testing.assert_array_equal(cache["c_prev"], states[1])
        np.testing.assert_allclose(cache["h"], cache["o"] * np.tanh(c), rtol=1e-12)
    else:
        W_x, W_h, b_x, b_h = params["W_x"], params["W_h"], params["b_x"], params["b_h"]
        xw = x @ W_x + b_x
        hw = states[0] @ W_h + b_h
        z = sig(xw[:, :H] + hw[:, :H])
        r = sig(xw[:, H : 2 * H] + hw[:, H : 2 * H])
        if opts["reset_after"]:
            a_n = xw[:, 2 * H :] + r * hw[:, 2 * H :]
            assert cache["rh"] is None
        else:
            a_n = xw[:, 2 * H :] + (r * states[0]) @ W_h[:, 2 * H :] + b_h[2 * H :]
            np.testing.assert_allclose(cache["rh"], r * states[0], rtol=1e-12)
        for name, val in (("z", z), ("r", r), ("a_n", a_n), ("n", np.tanh(a_n)), ("xw", xw)):
            np.testing.assert_allclose(cache[name], val, rtol=1e-12, err_msg=name)
        np.testing.assert_allclose(cache["h"], z * states[0] + (1 - z) * np.tanh(a_n), rtol=1e-12)
        assert cache["reset_after"] is opts["reset_after"]


@pytest.mark.parametrize(("kind", "opts"), CASES, ids=IDS)
def test_float32_step_stays_float32(kind, opts):
    """Do float32 inputs give float32 states, cache arrays and gradients?"""
    rng = np.random.default_rng(4)
    params = random_params(kind, 3, 4, rng, np.float32)
    x = rng.standard_normal((2, 3)).astype(np.float32)
    states = tuple(rng.standard_normal((2, 4)).astype(np.float32) for _ in range(2 if kind == "lstm" else 1))
    new, cache = step(kind, x, states, params, opts)
    dx, dprev, grads = step_backward(kind, tuple(np.ones_like(s) * 0.3 for s in new), cache)
    for name, arr in [("x", dx), *[("state", s) for s in (*new, *dprev)], *grads.items(),
                      *[(k, v) for k, v in cache.items() if isinstance(v, np.ndarray)]]:
        assert arr.dtype == np.float32, f"{name}: {arr.dtype}"


def test_sigmoid_is_stable_and_keeps_dtype():
    """Is sigmoid exact at the extremes (no overflow warning) and dtype-preserving?"""
    a = np.array([-1000.0, -30.0, 0.0, 30.0, 1000.0])
    with np.errstate(all="raise"):
        s = cells.sigmoid(a)
    np.testing.assert_allclose(s, [0.0, 1 / (1 + np.exp(30.0)), 0.5, 1 / (1 + np.exp(-30.0)), 1.0], atol=1e-15)
    assert cells.sigmoid(a.astype(np.float32)).dtype == np.float32


@pytest.mark.parametrize("kind", cells.KINDS)
def test_init_params_shapes_seed_and_schemes(kind):
    """Are initial parameters shaped, seeded, Glorot-bounded and orthogonal/identity per gate block?"""
    D, H = 5, 4
    p = cells.init_params(kind, D, H, seed=3)
    assert {k: v.shape for k, v in p.items()} == cells.param_shapes(kind, D, H)
    q = cells.init_params(kind, D, H, seed=3)
    for k in p:
        np.testing.assert_array_equal(p[k], q[k])
        assert p[k].flags.writeable and p[k].flags.c_contiguous
    other = cells.init_params(kind, D, H, seed=4)
    w_in = "W_xh" if kind == "rnn" else "W_x"
    assert not np.array_equal(p[w_in], other[w_in])
    assert np.abs(p[w_in]).max() <= np.sqrt(6 / (D + H))
    rec = p["W_hh" if kind == "rnn" else "W_h"]
    for k in range(rec.shape[1] // H):
        block = rec[:, k * H : (k + 1) * H]
        np.testing.assert_allclose(block.T @ block, np.eye(H), atol=1e-12, err_msg=f"block {k} orthogonal")
    ident = cells.init_params(kind, D, H, recurrent_init="identity", recurrent_scale=0.5)
    rec = ident["W_hh" if kind == "rnn" else "W_h"]
    np.testing.assert_array_equal(rec[:, :H], 0.5 * np.eye(H))
    f32 = cells.init_params(kind, D, H, dtype=np.float32)
    assert all(v.dtype == np.float32 for v in f32.values())


def test_init_lstm_forget_bias():
    """Is only the LSTM forget-gate bias block set (Keras unit_forget_bias)?"""
    b = cells.init_params("lstm", 2, 3, forget_bias=2.0)["b"]
    np.testing.assert_array_equal(b, [0, 0, 0, 2, 2, 2, 0, 0, 0, 0, 0, 0])


def test_cell_create_and_properties():
    """Does Cell.create give the sizes, dtype and options asked for?"""
    cell = Cell.create("gru", 3, 7, seed=1, dtype=np.float32, reset_after=False)
    assert (cell.input_size, cell.hidden_size, cell.dtype) == (3, 7, np.float32)
    assert cell.options() == {"reset_after": False} and cell.is_reference
    assert Cell.create("rnn", 2, 2, activation="relu").options() == {"activation": "relu"}
    assert cell.step_functions() == cells.STEP_FUNCTIONS["gru"]
