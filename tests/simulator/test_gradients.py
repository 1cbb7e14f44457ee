"""Gradient tools: finite differences, clipping, Jacobians through time (vs FD and torch), spectra."""

import numpy as np
import pytest

from simulator import cells, gradients, interop, sequence
from simulator.cells import Cell

torch = pytest.importorskip("torch")

CASES = [("rnn", {"activation": "tanh"}), ("rnn", {"activation": "relu"}), ("lstm", {}),
         ("gru", {"reset_after": True}), ("gru", {"reset_after": False})]
IDS = ["rnn-tanh", "rnn-relu", "lstm", "gru-after", "gru-before"]


def random_cell(kind, D, H, rng, **opts):
    params = {k: rng.uniform(-0.9, 0.9, s) for k, s in cells.param_shapes(kind, D, H).items()}
    return Cell(kind, params, **opts)


def run(kind, opts, B=2, T=4, D=3, H=3, seed=0):
    rng = np.random.default_rng(seed)
    cell = random_cell(kind, D, H, rng, **opts)
    X = rng.standard_normal((B, T, D))
    s0 = tuple(rng.standard_normal((B, H)) for _ in range(2 if kind == "lstm" else 1))
    _, cache = sequence.forward(cell, X, s0 if kind == "lstm" else s0[0])
    return cell, X, cache


def states_over_time(cache):
    """s_t for t = 0..T as (B, T+1, S): h, or (h, c) concatenated for the LSTM."""
    s0 = np.concatenate(cache["state0"], axis=1)
    steps = [np.concatenate([s["h"], s["c"]], axis=1) if "c" in s else s["h"] for s in cache["steps"]]
    return np.stack([s0, *steps], axis=1)


def final_state(cell, X_tail, s):
    """s_T from state s (B, S) after running X_tail (B, T', D)."""
    if X_tail.shape[1] == 0:
        return s.copy()
    H = cell.hidden_size
    state0 = (s[:, :H], s[:, H:]) if cell.kind == "lstm" else s
    _, cache = sequence.forward(cell, X_tail, state0)
    return np.concatenate(cache["final"], axis=1)


@pytest.mark.parametrize(("kind", "opts"), CASES, ids=IDS)
def test_state_jacobians_match_finite_differences(kind, opts):
    """Is ds_T/ds_t (every t, every example) the central-difference Jacobian of the unrolled map?"""
    cell, X, cache = run(kind, opts)
    Js = gradients.state_jacobians(cache)
    B, T = X.shape[:2]
    S = Js.shape[-1]
    assert Js.shape == (B, T + 1, S, S) and S == (2 if kind == "lstm" else 1) * cell.hidden_size
    states = states_over_time(cache)
    eps = 1e-6
    for t in range(T + 1):
        num = np.empty((B, S, S))
        for k in range(S):
            s_up, s_down = states[:, t].copy(), states[:, t].copy()
            s_up[:, k] += eps
            s_down[:, k] -= eps
            num[:, :, k] = (final_state(cell, X[:, t:], s_up) - final_state(cell, X[:, t:], s_down)) / (2 * eps)
        np.testing.assert_allclose(Js[:, t], num, rtol=1e-6, atol=1e-8, err_msg=f"{kind} {opts} ds_T/ds_{t}")
    np.testing.assert_array_equal(Js[:, T], np.broadcast_to(np.eye(S), (B, S, S)))


@pytest.mark.parametrize(("kind", "opts"), CASES[:4], ids=IDS[:4])
def test_state_jacobians_match_torch_autograd(kind, opts):
    """Do they equal torch.autograd.functional.jacobian of the torch twin, per example, to 1e-10?"""
    cell, X, cache = run(kind, opts, B=2, T=5, D=2, H=4, seed=1)
    Js = gradients.state_jacobians(cache)
    module = interop.to_torch(cell)
    states = states_over_time(cache)
    H = cell.hidden_size
    for b in range(X.shape[0]):
        for t in range(X.shape[1]):  # t = T is the identity, checked elsewhere
            x_tail = torch.from_numpy(X[b : b + 1, t:])

            def f(s, x_tail=x_tail):
                if kind == "lstm":
                    _, (h, c) = module(x_tail, (s[None, None, :H], s[None, None, H:]))
                    return torch.cat([h[0, 0], c[0, 0]])
                return module(x_tail, s[None, None])[1][0, 0]

            J = torch.autograd.functional.jacobian(f, torch.from_numpy(states[b, t].copy())).numpy()
            np.testing.assert_allclose(Js[b, t], J, rtol=1e-10, atol=1e-12, err_msg=f"{kind} b={b} t={t}")


@pytest.mark.parametrize(("kind", "opts"), CASES, ids=IDS)
def test_products_of_step_jacobians(kind, opts):
    """Is ds_T/ds_t the product J_T ... J_{t+1}, dh_T/dh_t its (h, h) block, and the norms those of numpy?"""
    _, X, cache = run(kind, opts, seed=2)
    J = gradients.step_jacobians(cache)
    Js = gradients.state_jacobians(cache)
    T = X.shape[1]
    prod = Js[:, T]
    for t in range(T - 1, -1, -1):
        prod = prod @ J[:, t]
        np.testing.assert_allclose(Js[:, t], prod, rtol=1e-12, atol=1e-15)
    Jh = gradients.hidden_jacobians(cache)
    H = cache["cell"].hidden_size
    np.testing.assert_array_equal(Jh, Js[:, :, :H, :H])
    norms = gradients.jacobian_norms(Jh)
    assert norms.shape == X.shape[:1] + (T + 1,)
    np.testing.assert_allclose(norms, np.linalg.norm(Jh, ord=2, axis=(-2, -1)), rtol=1e-12)
    np.testing.assert_allclose(gradients.jacobian_norms(Jh, "fro"), np.linalg.norm(Jh, axis=(-2, -1)), rtol=1e-12)


@pytest.mark.parametrize(("kind", "opts"), CASES, ids=IDS)
def test_jacobians_of_a_readable_step_cache_equal_the_fused_ones(kind, opts):
    """Do the Jacobians of a cache made by the readable step functions equal those of the fused path?"""
    cell, X, cache = run(kind, opts, seed=4)
    step, back = cells.STEP_FUNCTIONS[kind]
    stepped = Cell(kind, cell.params, **opts, step=step, step_backward=back)
    _, cache_r = sequence.forward(stepped, X, cache["state0"] if kind == "lstm" else cache["state0"][0])
    np.testing.assert_allclose(gradients.state_jacobians(cache_r), gradients.state_jacobians(cache),
                               rtol=1e-12, atol=1e-14)


def test_rnn_step_jacobian_formula():
    """For the tanh RNN, is J_t = diag(1 - h_t^2) W_hh^T (column convention of the lesson)?"""
    cell, _, cache = run("rnn", {"activation": "tanh"}, seed=3)
    J = gradients.step_jacobians(cache)
    for t, step in enumerate(cache["steps"]):
        for b in range(J.shape[0]):
            expected = np.diag(1 - step["h"][b] ** 2) @ cell.params["W_hh"].T
            np.testing.assert_allclose(J[b, t], expected, rtol=1e-13)


def test_small_recurrent_weights_make_jacobians_vanish():
    """With ||W_hh|| < 1, do the norms of dh_T/dh_t shrink geometrically as t moves back?"""
    cell = Cell.create("rnn", 2, 6, seed=0, recurrent_scale=0.5)
    X = np.random.default_rng(0).standard_normal((1, 12, 2))
    _, cache = sequence.forward(cell, X)
    norms = gradients.jacobian_norms(gradients.hidden_jacobians(cache))[0]
    assert np.all(np.diff(norms) > 0)  # larger the closer t is to T
    assert norms[0] <= 0.5**12 + 1e-15
    assert gradients.recurrent_spectrum(cell)["W_hh"]["norm"] == pytest.approx(0.5)


def test_jacobians_refuse_foreign_caches():
    """Is a cache without the reference intermediates (e.g. a student's) refused with a clear message?"""
    cell = Cell.create("lstm", 2, 3)
    _, cache = sequence.forward(cell, np.zeros((1, 2, 2)))
    for s in cache["steps"]:
        del s["tanh_c"]
    with pytest.raises(ValueError, match=r"cache: step caches lack \['tanh_c'\]"):
        gradients.state_jacobians(cache)
    with pytest.raises(ValueError, match="cache: expected the cache returned by sequence.forward"):
        gradients.step_jacobians({"steps": []})
    with pytest.raises(ValueError, match=r"J: expected an array of square matrices .* got shape \(2, 3\)"):
        gradients.jacobian_norms(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="ord: got 1; expected 2 or 'fro'"):
        gradients.jacobian_norms(np.zeros((2, 2)), ord=1)


def test_singular_values_and_spectral_radius():
    """Are they right for a scaled rotation (radius = norm) and a non-normal matrix (radius < norm)?"""
    c, s = np.cos(0.3), np.sin(0.3)
    R = 1.5 * np.array([[c, -s], [s, c]])
    np.testing.assert_allclose(gradients.singular_values(R), [1.5, 1.5])
    assert gradients.spectral_radius(R) == pytest.approx(1.5)
    N = np.array([[0.5, 3.0], [0.0, 0.2]])
    assert gradients.spectral_radius(N) == pytest.approx(0.5)
    assert gradients.singular_values(N)[0] > 3.0
    with pytest.raises(ValueError, match=r"W: expected a square matrix, got shape \(2, 3\)"):
        gradients.spectral_radius(np.zeros((2, 3)))
    with pytest.raises(ValueError, match=r"W: expected a 2-D matrix, got shape \(3,\)"):
        gradients.singular_values(np.zeros(3))


@pytest.mark.parametrize("kind", cells.KINDS)
def test_recurrent_spectrum_per_gate_block(kind):
    """Is there one entry per recurrent block (W_hh, or each gate of W_h) with the block's spectrum?"""
    cell = Cell.create(kind, 3, 4, seed=1, recurrent_scale=0.8)
    spec = gradients.recurrent_spectrum(cell)
    names = ("W_hh",) if kind == "rnn" else cells.GATES[kind]
    assert tuple(spec) == names
    for k, name in enumerate(names):
        block = cell.params["W_hh"] if kind == "rnn" else cell.params["W_h"][:, k * 4 : (k + 1) * 4]
        np.testing.assert_allclose(spec[name]["singular_values"], 0.8 * np.ones(4), rtol=1e-12)  # orthogonal
        assert spec[name]["spectral_radius"] == pytest.approx(np.abs(np.linalg.eigvals(block)).max())
    with pytest.raises(ValueError, match="cell: expected a simulator.cells.Cell, got ndarray"):
        gradients.recurrent_spectrum(np.eye(3))


def test_numerical_gradient_of_a_known_function():
    """Is the central difference of sum(x^3) equal to 3x^2, with x restored afterwards?"""
    x = np.array([[0.5, -1.0], [2.0, 0.1]])
    before = x.copy()
    g = gradients.numerical_gradient(lambda: float((x**3).sum()), x)
    np.testing.assert_allclose(g, 3 * before**2, rtol=1e-8)
    np.testing.assert_array_equal(x, before)
    with pytest.raises(ValueError, match="x: expected a numpy array to perturb in place, got list"):
        gradients.numerical_gradient(lambda: 0.0, [1.0])


def test_global_norm_clipping():
    """Does clipping scale every gradient by max_norm / ||g|| only when ||g|| is larger?"""
    grads = {"a": np.array([3.0, 0.0]), "b": np.array([[4.0]])}
    assert gradients.global_norm(grads) == pytest.approx(5.0)
    clipped, norm = gradients.clip_by_global_norm(grads, 2.5)
    assert norm == pytest.approx(5.0)
    np.testing.assert_allclose(clipped["a"], [1.5, 0.0])
    np.testing.assert_allclose(clipped["b"], [[2.0]])
    same, _ = gradients.clip_by_global_norm(grads, 10.0)
    np.testing.assert_array_equal(same["a"], grads["a"])
    with pytest.raises(ValueError, match="max_norm: expected a positive finite number, got -1"):
        gradients.clip_by_global_norm(grads, -1)
