"""Losses against PyTorch (float64, autograd gradients), finite differences, stability and bad input."""

import zlib

import numpy as np
import pytest

from simulator import losses
from simulator.gradients import numerical_gradient

SHAPES = [(1, 1), (1, 3), (5, 4), (1, 1, 1), (2, 1, 3), (3, 4, 5), (4, 6, 1)]


def _torch():
    return pytest.importorskip("torch")


def _case(shape, seed, masked):
    rng = np.random.default_rng(seed)
    Z = rng.normal(scale=3.0, size=shape)
    y = rng.integers(0, shape[-1], size=shape[:-1])
    mask = None
    if masked:
        mask = rng.uniform(0.0, 2.0, size=shape[:-1]) * (rng.random(shape[:-1]) < 0.7)
        mask.reshape(-1)[0] = 0.5  # at least one counted item
    return Z, y, mask


@pytest.mark.parametrize("masked", [False, True])
@pytest.mark.parametrize("shape", SHAPES)
def test_cross_entropy_matches_torch(shape, masked):
    """Do the loss and dL/dlogits equal torch's cross_entropy (weighted mean over counted items)?"""
    torch = _torch()
    Z, y, mask = _case(shape, zlib.crc32(repr((shape, masked)).encode()), masked)
    loss, dZ = losses.softmax_cross_entropy(Z, y, mask)
    z = torch.tensor(Z, dtype=torch.float64, requires_grad=True)
    K = shape[-1]
    per_item = torch.nn.functional.cross_entropy(z.reshape(-1, K), torch.tensor(y.reshape(-1)), reduction="none")
    if mask is None:
        ref = per_item.mean()
        assert torch.allclose(ref, torch.nn.functional.cross_entropy(z.reshape(-1, K), torch.tensor(y.reshape(-1))))
    else:
        w = torch.tensor(mask.reshape(-1))
        ref = (w * per_item).sum() / w.sum()
    ref.backward()
    np.testing.assert_allclose(loss, ref.item(), rtol=1e-12, atol=1e-14, err_msg=f"loss {shape} masked={masked}")
    np.testing.assert_allclose(dZ, z.grad.numpy(), rtol=1e-9, atol=1e-14, err_msg=f"dlogits {shape}")
    assert dZ.shape == Z.shape and dZ.dtype == np.float64


@pytest.mark.parametrize("masked", [False, True])
@pytest.mark.parametrize("shape", SHAPES)
def test_mse_matches_torch(shape, masked):
    """Do the loss and dL/dY equal torch's mse_loss (mask: weighted mean over items and components)?"""
    torch = _torch()
    rng = np.random.default_rng(zlib.crc32(repr((shape, masked, "mse")).encode()))
    Y, T = rng.normal(size=shape), rng.normal(size=shape)
    _, _, mask = _case(shape, 7, masked)
    loss, dY = losses.mean_squared_error(Y, T, mask)
    y = torch.tensor(Y, requires_grad=True)
    if mask is None:
        ref = torch.nn.functional.mse_loss(y, torch.tensor(T))
    else:
        w = torch.tensor(mask)[..., None]
        ref = (w * (y - torch.tensor(T)) ** 2).sum() / (w.sum() * shape[-1])
    ref.backward()
    np.testing.assert_allclose(loss, ref.item(), rtol=1e-12, err_msg=f"loss {shape} masked={masked}")
    np.testing.assert_allclose(dY, y.grad.numpy(), rtol=1e-9, atol=1e-15, err_msg=f"dY {shape}")


@pytest.mark.parametrize("masked", [False, True])
def test_gradients_match_finite_differences(masked):
    """Do both gradients equal central finite differences of the returned loss?"""
    Z, y, mask = _case((3, 4, 5), 3, masked)
    _, dZ = losses.softmax_cross_entropy(Z, y, mask)
    num = numerical_gradient(lambda: losses.softmax_cross_entropy(Z, y, mask)[0], Z)
    np.testing.assert_allclose(dZ, num, rtol=1e-6, atol=1e-9)
    T = np.random.default_rng(1).normal(size=Z.shape)
    _, dY = losses.mean_squared_error(Z, T, mask)
    num = numerical_gradient(lambda: losses.mean_squared_error(Z, T, mask)[0], Z)
    np.testing.assert_allclose(dY, num, rtol=1e-6, atol=1e-9)


def test_boolean_mask_averages_over_kept_items():
    """Is a boolean mask the plain mean over the items it keeps?"""
    Z, y, _ = _case((4, 6, 3), 5, False)
    keep = np.zeros((4, 6), dtype=bool)
    keep[:, :2] = True
    loss, dZ = losses.softmax_cross_entropy(Z, y, keep)
    ref, _ = losses.softmax_cross_entropy(Z[:, :2], y[:, :2])
    np.testing.assert_allclose(loss, ref, rtol=1e-13)
    assert np.all(dZ[:, 2:] == 0)


def test_cross_entropy_is_stable_for_huge_logits():
    """Do logits of 1e4 give finite, exact results (no overflow, no log(0))?"""
    Z = np.array([[1e4, 0.0, -1e4], [0.0, 1e4, 1e4 - 1.0]])
    loss, dZ = losses.softmax_cross_entropy(Z, np.array([2, 2]))
    expected = (2e4 + np.log1p(np.e)) / 2  # item 0: -log p = 2e4; item 1: 1 + log(1 + e^-1) = log(e + 1)
    assert np.isfinite(dZ).all()
    np.testing.assert_allclose(loss, expected, rtol=1e-12)
    np.testing.assert_allclose(losses.softmax(Z).sum(axis=1), 1.0)


def test_float32_stays_float32():
    Z = np.random.default_rng(0).normal(size=(3, 4)).astype(np.float32)
    _, dZ = losses.softmax_cross_entropy(Z, np.array([0, 1, 3]), np.ones(3, dtype=np.float32))
    _, dY = losses.mean_squared_error(Z, np.zeros_like(Z), np.ones(3))
    assert dZ.dtype == np.float32 and dY.dtype == np.float32


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: losses.softmax_cross_entropy(np.zeros((2, 3)), np.array([0.0, 1.0])), "targets: expected integer"),
        (lambda: losses.softmax_cross_entropy(np.zeros((2, 3)), np.array([0, 3])), "targets: class index 3"),
        (lambda: losses.softmax_cross_entropy(np.zeros((2, 3)), np.array([0, -1])), "targets: class index -1"),
        (lambda: losses.softmax_cross_entropy(np.zeros((2, 3)), np.array([0, 1, 2])),
         r"targets: expected shape \(2,\)"),
        (lambda: losses.softmax_cross_entropy(np.zeros(3), np.array(0)), r"logits: expected shape \(B, K\)"),
        (lambda: losses.softmax_cross_entropy(np.full((1, 2), np.nan), np.array([0])), "logits: contains nan"),
        (lambda: losses.softmax_cross_entropy(np.zeros((2, 3)), np.array([0, 1]), np.array([1.0, -1.0])),
         "mask: contains negative"),
        (lambda: losses.softmax_cross_entropy(np.zeros((2, 3)), np.array([0, 1]), np.zeros(2)), "mask: counts no item"),
        (lambda: losses.softmax_cross_entropy(np.zeros((2, 3)), np.array([0, 1]), np.ones(3)), r"mask: expected shape"),
        (lambda: losses.mean_squared_error(np.zeros((2, 3)), np.zeros((3, 2))), r"targets: expected shape \(2, 3\)"),
        (lambda: losses.mean_squared_error(np.zeros((2, 3)), np.full((2, 3), np.inf)), "targets: contains inf"),
        (lambda: losses.mean_squared_error(np.zeros((2, 3, 1)), np.zeros((2, 3, 1)), np.ones((2,))), "mask: expected"),
    ],
)
def test_bad_input_raises_value_error_naming_the_argument(call, message):
    with pytest.raises(ValueError, match=message):
        call()
