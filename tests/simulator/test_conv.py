"""Conv layers against torch.nn.functional (float64) and central finite differences."""

import numpy as np
import pytest
import torch
import torch.nn.functional as tfn
from numpy.testing import assert_allclose

from simulator import conv
from simulator.gradients import numerical_gradient

TRIALS = range(6)


def _t(a):
    return torch.tensor(a, dtype=torch.float64, requires_grad=True)


def _conv_case(seed):
    rng = np.random.default_rng(seed)
    N, C, F = rng.integers(1, 4), rng.integers(1, 4), rng.integers(1, 5)
    KH, KW = rng.integers(1, 4), rng.integers(1, 4)
    stride, padding = int(rng.integers(1, 3)), int(rng.integers(0, 3))
    H, W = int(rng.integers(KH, 9)), int(rng.integers(KW, 9))
    x = rng.standard_normal((N, C, H, W))
    K = rng.standard_normal((F, C, KH, KW))
    b = rng.standard_normal(F)
    return rng, x, K, b, stride, padding


@pytest.mark.parametrize("trial", TRIALS)
def test_conv2d_matches_torch(trial):
    """Do output and all three gradients agree with torch's conv2d for random shapes, strides and padding?"""
    rng, x, K, b, stride, padding = _conv_case(trial)
    out, cache = conv.conv2d_forward(x, K, b, stride=stride, padding=padding)
    tx, tK, tb = _t(x), _t(K), _t(b)
    tout = tfn.conv2d(tx, tK, tb, stride=stride, padding=padding)
    assert_allclose(out, tout.detach().numpy(), atol=1e-12, err_msg=f"out, trial {trial}")
    dout = rng.standard_normal(out.shape)
    tout.backward(torch.tensor(dout))
    dx, grads = conv.conv2d_backward(dout, cache)
    assert_allclose(dx, tx.grad.numpy(), atol=1e-12, err_msg=f"dx, trial {trial}")
    assert_allclose(grads["K"], tK.grad.numpy(), atol=1e-12, err_msg=f"dK, trial {trial}")
    assert_allclose(grads["b"], tb.grad.numpy(), atol=1e-12, err_msg=f"db, trial {trial}")


@pytest.mark.parametrize("trial", TRIALS[:3])
def test_conv2d_finite_differences(trial):
    """Does the conv2d backward match central finite differences of a random projection of the output?"""
    rng, x, K, b, stride, padding = _conv_case(100 + trial)
    out, cache = conv.conv2d_forward(x, K, b, stride=stride, padding=padding)
    dout = rng.standard_normal(out.shape)
    dx, grads = conv.conv2d_backward(dout, cache)

    def f():
        return float(np.sum(conv.conv2d_forward(x, K, b, stride=stride, padding=padding)[0] * dout))

    for name, arr, analytic in (("x", x, dx), ("K", K, grads["K"]), ("b", b, grads["b"])):
        assert_allclose(analytic, numerical_gradient(f, arr), atol=1e-6, err_msg=f"{name}, trial {trial}")


@pytest.mark.parametrize("trial", TRIALS)
def test_maxpool_matches_torch(trial):
    """Does max-pooling (forward and the routed gradient) agree with torch's max_pool2d, overlapping windows too?"""
    rng = np.random.default_rng(200 + trial)
    size = int(rng.integers(1, 4))
    stride = int(rng.integers(1, size + 2))
    x = rng.standard_normal((rng.integers(1, 4), rng.integers(1, 4), rng.integers(size, 9), rng.integers(size, 9)))
    out, cache = conv.maxpool_forward(x, size, stride)
    tx = _t(x)
    tout = tfn.max_pool2d(tx, size, stride)
    assert_allclose(out, tout.detach().numpy(), atol=0, err_msg=f"out, trial {trial}")
    dout = rng.standard_normal(out.shape)
    tout.backward(torch.tensor(dout))
    assert_allclose(conv.maxpool_backward(dout, cache), tx.grad.numpy(), atol=1e-12, err_msg=f"dx, trial {trial}")


def test_maxpool_finite_differences():
    """Is the max-pool gradient the finite-difference one away from ties?"""
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 3, 6, 5))
    out, cache = conv.maxpool_forward(x, 2)
    dout = rng.standard_normal(out.shape)
    num = numerical_gradient(lambda: float(np.sum(conv.maxpool_forward(x, 2)[0] * dout)), x)
    assert_allclose(conv.maxpool_backward(dout, cache), num, atol=1e-6)


@pytest.mark.parametrize("trial", TRIALS[:3])
def test_dense_relu_flatten_match_torch(trial):
    """Do flatten -> dense -> relu agree with torch (forward and gradients), with random biases and upstream?"""
    rng = np.random.default_rng(300 + trial)
    x = rng.standard_normal((3, 2, 4, 3))
    W = rng.standard_normal((24, 5))
    b = rng.standard_normal(5)
    f, fc = conv.flatten_forward(x)
    y, dc = conv.dense_forward(f, W, b)
    r, rc = conv.relu_forward(y)
    tx, tW, tb = _t(x), _t(W), _t(b)
    tr = torch.relu(tfn.linear(torch.flatten(tx, 1), tW.T, tb))
    assert_allclose(r, tr.detach().numpy(), atol=1e-12)
    dout = rng.standard_normal(r.shape)
    tr.backward(torch.tensor(dout))
    dy = conv.relu_backward(dout, rc)
    df, grads = conv.dense_backward(dy, dc)
    assert_allclose(conv.flatten_backward(df, fc), tx.grad.numpy(), atol=1e-12, err_msg="dx")
    assert_allclose(grads["W"], tW.grad.numpy(), atol=1e-12, err_msg="dW")
    assert_allclose(grads["b"], tb.grad.numpy(), atol=1e-12, err_msg="db")

    def loss():
        return float(np.sum(conv.relu_forward(conv.dense_forward(f, W, b)[0])[0] * dout))

    assert_allclose(grads["W"], numerical_gradient(loss, W), atol=1e-6, err_msg="dW vs finite differences")
    assert_allclose(grads["b"], numerical_gradient(loss, b), atol=1e-6, err_msg="db vs finite differences")


def test_caches_are_named():
    """Do the caches carry the intermediates the simulator draws?"""
    x = np.arange(32.0).reshape(1, 2, 4, 4)
    out, cache = conv.conv2d_forward(x, np.ones((3, 2, 3, 3)), np.zeros(3), padding=1)
    assert {"x", "cols", "K", "b", "out"} <= set(cache)
    assert cache["cols"].shape == (16, 18) and out.shape == (1, 3, 4, 4)
    _, pc = conv.maxpool_forward(x, 2)
    assert pc["argmax"].shape == (1, 2, 2, 2) and (pc["argmax"] == 3).all()  # increasing ramp: bottom-right wins


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: conv.conv2d_forward(np.ones((1, 2, 4, 4)), np.ones((3, 1, 3, 3)), np.zeros(3)), "K"),
        (lambda: conv.conv2d_forward(np.ones((1, 1, 4, 4)), np.ones((3, 1, 3, 3)), np.zeros(2)), "b"),
        (lambda: conv.conv2d_forward(np.ones((1, 1, 2, 2)), np.ones((1, 1, 3, 3)), np.zeros(1)), "larger"),
        (lambda: conv.conv2d_forward(np.ones((1, 1, 4, 4)), np.ones((1, 1, 3, 3)), np.zeros(1), stride=0), "stride"),
        (lambda: conv.conv2d_forward(np.ones((4, 4)), np.ones((1, 1, 3, 3)), np.zeros(1)), "4-D"),
        (lambda: conv.maxpool_forward(np.ones((1, 1, 1, 1)), 2), "smaller"),
        (lambda: conv.maxpool_forward(np.full((1, 1, 2, 2), np.nan), 2), "finite"),
        (lambda: conv.dense_forward(np.ones((2, 3)), np.ones((4, 2)), np.zeros(2)), "rows"),
    ],
)
def test_bad_input_raises_value_error(call, match):
    """Does bad input raise a ValueError that names the argument?"""
    with pytest.raises(ValueError, match=match):
        call()
