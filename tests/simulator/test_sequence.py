"""Unroll and BPTT: against PyTorch twins (float64), finite differences, the generic path and float32."""

import numpy as np
import pytest

from simulator import cells, interop, sequence
from simulator.cells import Cell
from simulator.gradients import numerical_gradient

torch = pytest.importorskip("torch")

# (kind, options): every cell and option; torch has no reset-before GRU (checked against Keras instead)
CASES = [("rnn", {"activation": "tanh"}), ("rnn", {"activation": "relu"}), ("lstm", {}),
         ("gru", {"reset_after": True}), ("gru", {"reset_after": False})]
TORCH_CASES = CASES[:4]
IDS = [f"{k}-{'-'.join(map(str, o.values()))}" if o else k for k, o in CASES]


def _shapes(seed: int, n: int) -> list[tuple[int, int, int, int]]:
    """The all-ones corner case plus ``n`` seeded random (B, T, D, H) with B=1, T=1, D=1, H=1 each likely."""
    rng = np.random.default_rng(seed)
    return [(1, 1, 1, 1), (1, 6, 1, 3), (3, 1, 2, 1)] + [tuple(int(v) for v in rng.integers(1, 6, 4)) for _ in range(n)]


def random_cell(kind, D, H, rng, dtype=np.float64, **opts) -> Cell:
    """A cell with random weights and random (non-zero) biases."""
    params = {k: rng.uniform(-0.8, 0.8, shape).astype(dtype) for k, shape in cells.param_shapes(kind, D, H).items()}
    return Cell(kind, params, **opts)


def random_state(kind, B, H, rng, dtype=np.float64):
    if kind == "lstm":
        return (rng.standard_normal((B, H)).astype(dtype), rng.standard_normal((B, H)).astype(dtype))
    return rng.standard_normal((B, H)).astype(dtype)


def rel_err(a, b) -> float:
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return float(np.abs(a - b).max() / max(np.abs(b).max(), 1e-12))


def torch_twin(cell, X, state0, dH, dstate_T):
    """Run ``to_torch(cell)`` forward and backward; return H, dX, dstate0 and dparams in our layout."""
    module = interop.to_torch(cell)
    Xt = torch.from_numpy(X).requires_grad_(True)
    lstm = cell.kind == "lstm"
    s0 = tuple(torch.from_numpy(s)[None].requires_grad_(True) for s in (state0 if lstm else (state0,)))
    out, final = module(Xt, s0 if lstm else s0[0])
    final = final if lstm else (final,)
    loss = (out * torch.from_numpy(dH)).sum()
    for f, d in zip(final, dstate_T if lstm else (dstate_T,), strict=True):
        loss = loss + (f[0] * torch.from_numpy(d)).sum()
    loss.backward()
    g_ih, g_hh = module.weight_ih_l0.grad.numpy(), module.weight_hh_l0.grad.numpy()
    gb_ih, gb_hh = module.bias_ih_l0.grad.numpy(), module.bias_hh_l0.grad.numpy()
    H = cell.hidden_size
    if cell.kind == "rnn":
        dparams = {"W_xh": g_ih.T, "W_hh": g_hh.T, "b_h": gb_ih}
    elif lstm:
        dparams = {"W_x": g_ih.T, "W_h": g_hh.T, "b": gb_ih}
    else:
        dparams = {"W_x": interop._swap_zr(g_ih, H, 0).T, "W_h": interop._swap_zr(g_hh, H, 0).T,
                   "b_x": interop._swap_zr(gb_ih, H, 0), "b_h": interop._swap_zr(gb_hh, H, 0)}
    ds0 = tuple(s.grad[0].numpy() for s in s0)
    return out.detach().numpy(), Xt.grad.numpy(), ds0 if lstm else ds0[0], dparams


def _pairs(a, b):
    return zip(a, b, strict=True) if isinstance(a, tuple) else [(a, b)]


@pytest.mark.parametrize(("kind", "opts"), TORCH_CASES, ids=IDS[:4])
def test_matches_torch_float64(kind, opts):
    """Do H, dX, dstate0 and every parameter gradient match torch.nn to 1e-9 on random shapes?"""
    rng = np.random.default_rng(10)
    for trial, (B, T, D, H) in enumerate(_shapes(11, 5)):
        cell = random_cell(kind, D, H, rng, **opts)
        X = rng.standard_normal((B, T, D))
        state0 = random_state(kind, B, H, rng)
        dH = rng.standard_normal((B, T, H))
        dstate_T = random_state(kind, B, H, rng)
        Hs, cache = sequence.forward(cell, X, state0)
        dX, dparams, dstate0 = sequence.backward(dH, cache, dstate_T)
        tH, tdX, tds0, tdp = torch_twin(cell, X, state0, dH, dstate_T)
        where = f"{kind} {opts} trial {trial} (B,T,D,H)={(B, T, D, H)}"
        assert rel_err(Hs, tH) <= 1e-9, f"H {where}"
        assert rel_err(dX, tdX) <= 1e-9, f"dX {where}"
        for ours, theirs in _pairs(dstate0, tds0):
            assert rel_err(ours, theirs) <= 1e-9, f"dstate0 {where}"
        assert set(dparams) == set(cell.params)
        for k in dparams:
            assert dparams[k].shape == cell.params[k].shape, f"shape of d{k} {where}"
            assert rel_err(dparams[k], tdp[k]) <= 1e-9, f"d{k} {where}"


@pytest.mark.parametrize(("kind", "opts"), TORCH_CASES, ids=IDS[:4])
def test_torch_round_trip_keeps_the_function(kind, opts):
    """Does a torch module loaded by from_torch compute the module's outputs, and export back unchanged?"""
    rng = np.random.default_rng(12)
    B, T, D, H = 2, 5, 3, 4
    torch.manual_seed(0)
    cls = {"rnn": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[kind]
    extra = {"nonlinearity": opts["activation"]} if kind == "rnn" else {}
    module = cls(D, H, batch_first=True, dtype=torch.float64, **extra)
    cell = interop.from_torch(module)
    assert (cell.kind, cell.options()) == (kind, opts)
    X = rng.standard_normal((B, T, D))
    Hs, _ = sequence.forward(cell, X)
    assert rel_err(Hs, module(torch.from_numpy(X))[0].detach().numpy()) <= 1e-12
    again = interop.from_torch(interop.to_torch(cell))
    for k, v in cell.params.items():
        np.testing.assert_array_equal(again.params[k], v, err_msg=f"{kind} {k} after to_torch/from_torch")


@pytest.mark.parametrize(("kind", "opts"), CASES, ids=IDS)
@pytest.mark.parametrize(("B", "T", "D", "H"), [(2, 3, 2, 3), (1, 1, 1, 1)])
def test_finite_differences_every_parameter_state_and_input(kind, opts, B, T, D, H):
    """Does BPTT agree with central differences for every parameter, X, state0 (float64)?"""
    rng = np.random.default_rng(20 + B + T)
    cell = random_cell(kind, D, H, rng, **opts)
    X = rng.standard_normal((B, T, D))
    state0 = random_state(kind, B, H, rng)
    dH = rng.standard_normal((B, T, H))
    dstate_T = random_state(kind, B, H, rng)
    s0 = state0 if kind == "lstm" else (state0,)
    dT = dstate_T if kind == "lstm" else (dstate_T,)

    def loss():
        Hs, cache = sequence.forward(cell, X, state0)
        return float((Hs * dH).sum() + sum((f * d).sum() for f, d in zip(cache["final"], dT, strict=True)))

    _, cache = sequence.forward(cell, X, state0)
    dX, dparams, dstate0 = sequence.backward(dH, cache, dstate_T)
    for k, p in cell.params.items():
        num = numerical_gradient(loss, p)
        np.testing.assert_allclose(dparams[k], num, rtol=1e-6, atol=1e-8, err_msg=f"{kind} {opts} d{k}")
    np.testing.assert_allclose(dX, numerical_gradient(loss, X), rtol=1e-6, atol=1e-8, err_msg="dX")
    for name, s, ds in zip(("h0", "c0"), s0, dstate0 if kind == "lstm" else (dstate0,), strict=False):
        np.testing.assert_allclose(ds, numerical_gradient(loss, s), rtol=1e-6, atol=1e-8, err_msg=f"d{name}")


def _generic(cell: Cell) -> Cell:
    step, back = cells.STEP_FUNCTIONS[cell.kind]
    return Cell(cell.kind, cell.params, activation=cell.activation, reset_after=cell.reset_after,
                step=step, step_backward=back)


@pytest.mark.parametrize(("kind", "opts"), CASES, ids=IDS)
def test_fast_path_equals_generic_path(kind, opts):
    """Do the fused fast path and the step-by-step path (the readable reference steps) give the same numbers?"""
    rng = np.random.default_rng(30)
    for B, T, D, H in [(3, 6, 4, 5), (1, 1, 1, 1)]:
        cell = random_cell(kind, D, H, rng, **opts)
        generic = _generic(cell)
        assert cell.is_reference and not generic.is_reference
        X = rng.standard_normal((B, T, D))
        state0 = random_state(kind, B, H, rng)
        dH = rng.standard_normal((B, T, H))
        results = []
        for c in (cell, generic):
            Hs, cache = sequence.forward(c, X, state0)
            dX, dparams, dstate0 = sequence.backward(dH, cache, record=True)
            results.append((Hs, dX, dparams, dstate0, cache))
        (H1, dX1, dp1, ds1, c1), (H2, dX2, dp2, ds2, c2) = results
        np.testing.assert_allclose(H1, H2, rtol=1e-12, atol=1e-14, err_msg="H")
        np.testing.assert_allclose(dX1, dX2, rtol=1e-12, atol=1e-14, err_msg="dX")
        for a, b in _pairs(ds1, ds2):
            np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14, err_msg="dstate0")
        for k in dp1:
            np.testing.assert_allclose(dp1[k], dp2[k], rtol=1e-12, atol=1e-14, err_msg=f"d{k}")
        for name in c1["grads"]:
            if name != "contrib":
                np.testing.assert_allclose(c1["grads"][name], c2["grads"][name], rtol=1e-12, atol=1e-14)
        for t in range(T):
            for k in dp1:
                np.testing.assert_allclose(c1["grads"]["contrib"][t][k], c2["grads"]["contrib"][t][k],
                                           rtol=1e-12, atol=1e-14, err_msg=f"contribution of step {t} to d{k}")
        tr1, tr2 = sequence.trace(c1), sequence.trace(c2)
        for name in ("h", "h_prev") + cells.GATES[kind]:
            np.testing.assert_allclose(tr1[name], tr2[name], rtol=1e-12, atol=1e-14, err_msg=f"trace {name}")


def test_bptt_hands_each_step_its_cache_and_the_carried_gradient():
    """Does BPTT call the step backward once per step, t = T-1 down to 0, with that step's cache and
    dL/dh_t = dH_t + (dh_prev of step t+1), dL/dc_t = (dc_prev of step t+1), starting from dstate_T?"""
    rng = np.random.default_rng(35)
    B, T, D, H = 2, 4, 3, 2
    calls = []

    def spy(dh, dc, cache):
        out = cells.lstm_step_backward(dh, dc, cache)
        calls.append((cache, dh.copy(), dc.copy(), out))
        return out

    cell = random_cell("lstm", D, H, rng)
    spied = Cell("lstm", cell.params, step=cells.lstm_step, step_backward=spy)
    X = rng.standard_normal((B, T, D))
    dH = rng.standard_normal((B, T, H))
    dstate_T = random_state("lstm", B, H, rng)
    _, cache = sequence.forward(spied, X)
    dX, dparams, dstate0 = sequence.backward(dH, cache, dstate_T)
    assert [id(c[0]) for c in calls] == [id(s) for s in reversed(cache["steps"])], "each step's own cache, last first"
    carried = dstate_T
    for t, (_, dh, dc, out) in zip(reversed(range(T)), calls, strict=True):
        np.testing.assert_array_equal(dh, dH[:, t] + carried[0], err_msg=f"dL/dh_{t}")
        np.testing.assert_array_equal(dc, carried[1], err_msg=f"dL/dc_{t}")
        np.testing.assert_array_equal(dX[:, t], out[0], err_msg=f"dX[:, {t}] is the step's dx")
        carried = out[1:3]
    for a, b in zip(dstate0, carried, strict=True):
        np.testing.assert_array_equal(a, b)
    for k in dparams:
        np.testing.assert_allclose(dparams[k], sum(c[3][-1][k] for c in calls), rtol=1e-13, err_msg=k)
    _, fused_cache = sequence.forward(cell, X)
    dX_f, dparams_f, _ = sequence.backward(dH, fused_cache, dstate_T)
    np.testing.assert_allclose(dX_f, dX, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize(("kind", "opts"), CASES, ids=IDS)
def test_record_contributions_sum_to_the_gradient(kind, opts):
    """With record=True, are dL/dh_t and the per-step contributions those of BPTT, and unchanged results?"""
    rng = np.random.default_rng(40)
    B, T, D, H = 2, 5, 3, 4
    cell = random_cell(kind, D, H, rng, **opts)
    X = rng.standard_normal((B, T, D))
    dH = rng.standard_normal((B, T, H))
    _, cache = sequence.forward(cell, X)
    dX, dparams, dstate0 = sequence.backward(dH, cache)
    dX_r, dparams_r, _ = sequence.backward(dH, cache, record=True)
    np.testing.assert_allclose(dX_r, dX, rtol=1e-12)
    contrib = cache["grads"]["contrib"]
    assert len(contrib) == T
    for k in dparams:
        np.testing.assert_allclose(dparams_r[k], dparams[k], rtol=1e-12, atol=1e-14, err_msg=f"d{k} recorded")
        np.testing.assert_allclose(sum(c[k] for c in contrib), dparams[k], rtol=1e-12, atol=1e-14, err_msg=k)
    dh = cache["grads"]["dh"]
    np.testing.assert_allclose(dh[:, T - 1], dH[:, T - 1], rtol=1e-15, err_msg="dL/dh_T is the loss's own")
    # dL/dh_t for t < T differs from dH[:, t]: it includes what flowed back from later steps
    assert not np.allclose(dh[:, 0], dH[:, 0])
    if kind == "lstm":
        np.testing.assert_allclose(cache["grads"]["dc"][:, T - 1], 0.0)


@pytest.mark.parametrize(("kind", "opts"), CASES, ids=IDS)
def test_float32_stays_float32(kind, opts):
    """Do float32 inputs and parameters give float32 outputs, gradients, caches and records?"""
    rng = np.random.default_rng(50)
    B, T, D, H = 2, 4, 3, 5
    cell = random_cell(kind, D, H, rng, dtype=np.float32, **opts)
    X = rng.standard_normal((B, T, D)).astype(np.float32)
    state0 = random_state(kind, B, H, rng, np.float32)
    Hs, cache = sequence.forward(cell, X, state0)
    dX, dparams, dstate0 = sequence.backward(rng.standard_normal((B, T, H)).astype(np.float32), cache, record=True)
    arrays = {"H": Hs, "dX": dX, **{f"d{k}": v for k, v in dparams.items()}, "dh": cache["grads"]["dh"]}
    arrays.update({f"dstate0[{i}]": s for i, s in enumerate(dstate0 if kind == "lstm" else (dstate0,))})
    arrays.update({f"trace {k}": v for k, v in sequence.trace(cache).items()})
    arrays.update({f"contrib {k}": v for k, v in cache["grads"]["contrib"][0].items()})
    for name, arr in arrays.items():
        assert arr.dtype == np.float32, f"{name} is {arr.dtype}"
    # and the float32 result is the float64 one, rounded
    cell64 = Cell(kind, {k: v.astype(np.float64) for k, v in cell.params.items()}, **opts)
    s64 = tuple(s.astype(np.float64) for s in state0) if kind == "lstm" else state0.astype(np.float64)
    H64, _ = sequence.forward(cell64, X.astype(np.float64), s64)
    np.testing.assert_allclose(Hs, H64, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize(("kind", "opts"), CASES, ids=IDS)
def test_editing_params_in_place_changes_the_next_forward(kind, opts):
    """Does forward read cell.params at each call, so an in-place edit shows in the next result?"""
    rng = np.random.default_rng(60)
    cell = random_cell(kind, 3, 4, rng, **opts)
    X = rng.standard_normal((2, 5, 3))
    before, _ = sequence.forward(cell, X)
    rec = "W_hh" if kind == "rnn" else "W_h"
    cell.params[rec] *= 0.5
    cell.params[cells.INPUT_PARAMS[kind][1]] += 0.3
    after, _ = sequence.forward(cell, X)
    fresh, _ = sequence.forward(Cell(kind, {k: v.copy() for k, v in cell.params.items()}, **opts), X)
    assert not np.allclose(before, after)
    np.testing.assert_array_equal(after, fresh)


def test_zero_initial_state_is_the_default():
    """Is state0=None the same as explicit zeros, and dstate_T=None the same as zeros?"""
    rng = np.random.default_rng(70)
    cell = random_cell("lstm", 3, 4, rng)
    X = rng.standard_normal((2, 3, 3))
    dH = rng.standard_normal((2, 3, 4))
    zeros = (np.zeros((2, 4)), np.zeros((2, 4)))
    H1, c1 = sequence.forward(cell, X)
    H2, c2 = sequence.forward(cell, X, zeros)
    np.testing.assert_array_equal(H1, H2)
    g1 = sequence.backward(dH, c1)
    g2 = sequence.backward(dH, c2, zeros)
    np.testing.assert_array_equal(g1[0], g2[0])
    for k in g1[1]:
        np.testing.assert_array_equal(g1[1][k], g2[1][k])
