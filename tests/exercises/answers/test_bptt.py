"""The bptt exercise's reference (exercises.answers.bptt) against step-by-step loops and finite differences."""

from __future__ import annotations

import numpy as np
import pytest

from exercises.answers import bptt as bptt_answers
from simulator import cells
from simulator.gradients import numerical_gradient


def _case(seed=0, B=2, T=4, D=3, H=5):
    rng = np.random.default_rng(seed)
    params = {"W_xh": 0.5 * rng.standard_normal((D, H)), "W_hh": 0.5 * rng.standard_normal((H, H)),
              "b_h": 0.5 * rng.standard_normal(H)}
    return rng.standard_normal((B, T, D)), rng.standard_normal((B, H)), params, rng.standard_normal((B, T, H))


def test_forward_chains_the_step():
    X, h0, params, _ = _case()
    H, _ = bptt_answers.rnn_forward(X, h0, params)
    h = h0
    for t in range(X.shape[1]):
        h, _ = cells.rnn_step(X[:, t], h, params)
        np.testing.assert_allclose(H[:, t], h, rtol=1e-12, atol=1e-12)


def test_backward_matches_finite_differences():
    X, h0, params, dH = _case(1, B=2, T=3, D=2, H=3)
    _, cache = bptt_answers.rnn_forward(X, h0, params)
    dX, dh0, grads = bptt_answers.rnn_backward(dH, cache)

    def loss():
        return float((dH * bptt_answers.rnn_forward(X, h0, params)[0]).sum())

    for name, arr, got in [("X", X, dX), ("h0", h0, dh0), *[(k, params[k], grads[k]) for k in params]]:
        np.testing.assert_allclose(got, numerical_gradient(loss, arr), rtol=1e-6, atol=1e-8, err_msg=name)


def test_clip_gradients_scales_only_above_max_norm():
    grads = {"a": np.array([3.0]), "b": np.array([[4.0]])}
    clipped, norm = bptt_answers.clip_gradients(grads, 1.0)
    assert norm == pytest.approx(5.0)
    np.testing.assert_allclose(clipped["a"], [0.6])
    np.testing.assert_allclose(clipped["b"], [[0.8]])
    same, _ = bptt_answers.clip_gradients(grads, 10.0)
    np.testing.assert_array_equal(same["b"], grads["b"])
    assert grads["a"][0] == 3.0  # inputs untouched
    with pytest.raises(ValueError, match="grads"):
        bptt_answers.clip_gradients([1.0], 1.0)


def test_hidden_grad_norms_follow_the_carried_gradient():
    X, h0, params, _ = _case(2)
    dh_last = np.random.default_rng(3).standard_normal(h0.shape)
    norms = bptt_answers.hidden_grad_norms(X, h0, params, dh_last)
    h, caches = h0, []
    for t in range(X.shape[1]):
        h, cache = cells.rnn_step(X[:, t], h, params)
        caches.append(cache)
    dh = dh_last
    for t in reversed(range(X.shape[1])):
        assert norms[t] == pytest.approx(np.linalg.norm(dh), rel=1e-12)
        _, dh, _ = cells.rnn_step_backward(dh, caches[t])
    with pytest.raises(ValueError, match="dh_last"):
        bptt_answers.hidden_grad_norms(X, h0, params, dh_last[:, :-1])


def test_spectral_radius():
    assert bptt_answers.spectral_radius(np.array([[0.0, 2.0], [-2.0, 0.0]])) == pytest.approx(2.0)  # eigenvalues +-2i
    assert bptt_answers.spectral_radius(np.array([[0.5, 10.0], [0.0, -0.9]])) == pytest.approx(0.9)
    with pytest.raises(ValueError, match="square"):
        bptt_answers.spectral_radius(np.ones((2, 3)))
