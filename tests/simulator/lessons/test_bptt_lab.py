import numpy as np
import pytest

from simulator import gradients
from simulator.gradients import numerical_gradient
from simulator.lessons import bptt_lab
from simulator.lessons.bptt_lab import LabConfig, LongRangeRun

KINDS = ("rnn", "lstm", "gru")


def _small(kind: str, **kw) -> LabConfig:
    base = dict(kind=kind, T=5, K=3, hidden=3, batch=2, seed=2, recurrent_init="gaussian", gate_bias=0.7)
    return LabConfig(**{**base, **kw})


def _random_params(config: LabConfig) -> dict:
    """Initial parameters plus a random nudge, so no bias is zero and no gate sits at its default."""
    params = bptt_lab.init_params(config)
    rng = np.random.default_rng(11)
    for v in params.values():
        v += 0.3 * rng.standard_normal(v.shape)
    return params


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("task", ["first_symbol", "adding"])
def test_flow_gradients_equal_finite_differences(kind, task):
    """Are the recorded BPTT gradients of the lab's network the derivatives of its loss?"""
    config = _small(kind, task=task, activation="tanh")
    params = _random_params(config)
    data = config.data(2, seed=5)
    rec = bptt_lab.flow(params, config, data.X, data.y)

    def loss():
        return bptt_lab.flow(params, config, data.X, data.y, jacobians=False).loss

    for name, value in params.items():
        num = numerical_gradient(loss, value)
        np.testing.assert_allclose(rec.grads[name], num, rtol=1e-6, atol=1e-8, err_msg=f"{kind} {task} d{name}")


@pytest.mark.parametrize("kind", KINDS)
def test_per_step_contributions_sum_to_the_gradient(kind):
    """Do the per-step contributions add up to each cell parameter's gradient?"""
    config = _small(kind, T=7)
    params = _random_params(config)
    data = config.data(2, seed=1)
    rec = bptt_lab.flow(params, config, data.X, data.y, jacobians=False)
    for name in rec.contrib[0]:
        total = sum(c[name] for c in rec.contrib)
        np.testing.assert_allclose(total, rec.grads[name], rtol=1e-12, atol=1e-14, err_msg=name)


@pytest.mark.parametrize("kind", KINDS)
def test_jacobian_norms_are_norms_of_products_of_step_jacobians(kind):
    """Is ||dh_T/dh_t|| the 2-norm of J_T ... J_{t+1}, and dL/dh_t = dL/dh_T (dh_T/dh_t)?"""
    config = _small(kind, T=6, hidden=4)
    params = _random_params(config)
    data = config.data(3, seed=4)
    rec = bptt_lab.flow(params, config, data.X, data.y)
    J = gradients.step_jacobians(rec.seq)  # (B, T, S, S), J[:, t] = ds_{t+1}/ds_t
    B, T, S, _ = J.shape
    H = config.hidden
    for b in range(B):
        prod = np.eye(S)
        for t in range(T - 1, -1, -1):
            # output t is the state after step t+1; the product J_T ... J_{t+2} maps it to h_T
            block = prod[:H, :H]
            np.testing.assert_allclose(rec.jacobians[b, t], block, rtol=1e-10, atol=1e-12)
            assert rec.jacobians[b, t].shape == (H, H)
            np.testing.assert_allclose(rec.dh[b, t], rec.dh[b, T - 1] @ block, rtol=1e-9, atol=1e-12)
            prod = prod @ J[b, t]
    expected = np.mean([[np.linalg.norm(rec.jacobians[b, t], 2) for t in range(T)] for b in range(B)], axis=0)
    np.testing.assert_allclose(rec.jac_norm, expected, rtol=1e-10)
    assert rec.jac_norm[-1] == pytest.approx(1.0)
    np.testing.assert_allclose(rec.dh_norm, np.linalg.norm(rec.dh, axis=2).mean(axis=0))


def test_recurrent_scale_turns_vanishing_into_exploding():
    """Does a small recurrent scale make ||dh_T/dh_0|| vanish and a large one (relu) make it explode?"""
    small = bptt_lab.compare_cells(LabConfig(T=30, recurrent_scale=0.5), kinds=("rnn",))["rnn"]
    large = bptt_lab.compare_cells(LabConfig(T=30, recurrent_scale=1.5, activation="relu",
                                              recurrent_init="identity"), kinds=("rnn",))["rnn"]
    assert small.jac_norm[0] < 1e-6
    assert large.jac_norm[0] > 1e3
    spec_small = bptt_lab.spectrum(bptt_lab.init_params(LabConfig(kind="rnn", recurrent_scale=0.5)),
                                    LabConfig(kind="rnn"))
    assert spec_small["W_hh"]["spectral_radius"] == pytest.approx(0.5)  # orthogonal times 0.5


def test_compare_cells_uses_one_sequence_for_every_cell():
    records = bptt_lab.compare_cells(LabConfig(T=9, probe_size=2))
    assert set(records) == set(KINDS)
    for rec in records.values():
        assert rec.dh.shape == (2, 9, 32) and rec.jac_norm.shape == (9,)
    X = [r.seq["X"] for r in records.values()]
    np.testing.assert_array_equal(X[0], X[1])
    np.testing.assert_array_equal(X[0], X[2])


@pytest.mark.parametrize("kind", KINDS)
def test_backward_walk_running_sums(kind):
    """Does the running sum after step t equal the sum of contributions of steps T-1 .. t, ending at dW?"""
    config = _small(kind, T=6, hidden=4)
    walk = bptt_lab.backward_walk(config)
    key = bptt_lab.RECURRENT_KEY[kind]
    for t in range(6):
        np.testing.assert_allclose(walk.running[key][t], walk.contrib[key][t:].sum(axis=0), atol=1e-14)
    np.testing.assert_allclose(walk.running[key][0], walk.grads[key], rtol=1e-12, atol=1e-15)
    assert walk.dh.shape == (6, 4) and (walk.dc is not None) == (kind == "lstm")
    np.testing.assert_allclose(walk.dh[-1], walk.dy @ bptt_lab.init_params(config)["W_hy"].T)


def test_clipping_records_both_norms():
    """With clipping, is the applied norm min(||g||, c) and the unclipped one kept?"""
    run = LongRangeRun(LabConfig(kind="rnn", T=10, hidden=8, clip=0.05, eval_every=2, eval_size=50))
    run.step(4)
    h = run.history
    assert len(h.loss) == 4 and len(h.dh_norm) == 4 and len(h.jac_norm) == 4 and h.jac_iteration == [1, 2, 3, 4]
    assert all(g > 0.05 for g in h.grad_norm)
    np.testing.assert_allclose(h.clipped_norm, 0.05)
    assert h.accuracy_iteration == [0, 2, 4]
    free = LongRangeRun(LabConfig(kind="rnn", T=10, hidden=8, clip=None, eval_size=50), jacobian_every=2)
    free.step(3)
    assert free.history.jac_iteration == [1, 3] and len(free.history.jac_norm) == 2
    np.testing.assert_array_equal(free.history.clipped_norm, free.history.grad_norm)


def test_runs_are_reproducible():
    a, b = (LongRangeRun(LabConfig(kind="gru", T=8, hidden=6, eval_size=20)) for _ in range(2))
    a.step(5)
    b.step(5)
    np.testing.assert_array_equal(a.history.loss, b.history.loss)
    for k in a.params:
        np.testing.assert_array_equal(a.params[k], b.params[k])


@pytest.mark.parametrize("kw, match", [
    (dict(kind="tcn"), "kind: got 'tcn'"),
    (dict(T=1), r"T: expected an integer in \[2, 500\], got 1"),
    (dict(lr=0.0), "lr: expected a positive learning rate"),
    (dict(clip=-1.0), "clip: expected a positive threshold or None"),
    (dict(recurrent_scale=float("inf")), "recurrent_scale: expected a finite number"),
    (dict(task="copy"), "task: got 'copy'"),
])
def test_bad_config_is_named(kw, match):
    with pytest.raises(ValueError, match=match):
        LabConfig(**kw)


# The lesson's claim, shown rather than assumed: at T = 30 the gated cells learn to remember the first
# symbol while the vanilla RNN stays near chance. Settings: LabConfig defaults (K = 8 symbols, N(0, 0.7^2)
# distractors, H = 32, batch 32, Adam lr 0.01, clipping at 1, orthogonal recurrent init, gate bias 3).
ITERATIONS = 400


@pytest.mark.slow
@pytest.mark.parametrize("kind, low, high", [("lstm", 0.95, 1.0), ("gru", 0.95, 1.0), ("rnn", 0.0, 0.6)])
def test_gated_cells_solve_the_long_range_task_and_the_rnn_does_not(kind, low, high):
    run = LongRangeRun(LabConfig(kind=kind, T=30, seed=0), jacobian_every=10**9)
    accuracy = run.train(ITERATIONS)
    assert low <= accuracy <= high, f"{kind}: held-out accuracy {accuracy:.3f} after {ITERATIONS} iterations"
