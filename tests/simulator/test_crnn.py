"""CRNN: end-to-end gradients by finite differences, agreement with a torch.nn twin, caches for the app."""

import numpy as np
import pytest
import torch
from numpy.testing import assert_allclose

from simulator import crnn, interop, losses
from simulator.cells import Cell
from simulator.gradients import numerical_gradient

SMALL_CNN = ({"kind": "conv", "filters": 2, "kernel": 3, "padding": 1, "stride": 1}, {"kind": "relu"},
             {"kind": "pool", "size": 2}, {"kind": "flatten"}, {"kind": "dense", "units": 4}, {"kind": "relu"})


def _model(kind, head, seed):
    model = crnn.CRNN.create((2, 6, 5), 3, cnn=SMALL_CNN, kind=kind, hidden_size=3, head=head, seed=seed)
    rng = np.random.default_rng(seed)
    for v in model.params.values():  # random biases everywhere: zero biases hide bugs
        v += 0.2 * rng.standard_normal(v.shape)
    return model, rng


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("head", ["many_to_one", "many_to_many"])
def test_crnn_gradients_match_finite_differences(kind, head):
    """Does BPTT through the cell and back through the CNN of every frame give the finite-difference gradient?"""
    model, rng = _model(kind, head, {"rnn": 1, "lstm": 2, "gru": 3}[kind])
    X = rng.standard_normal((2, 3, 2, 6, 5))
    y = rng.integers(0, 3, size=(2,) if head == "many_to_one" else (2, 3))

    def loss():
        return losses.softmax_cross_entropy(model.forward(X)[0], y)[0]

    Y, cache = model.forward(X)
    _, dY = losses.softmax_cross_entropy(Y, y)
    dX, grads = model.backward(dY, cache)
    assert set(grads) == set(model.params)
    for name, value in model.params.items():
        assert grads[name].shape == value.shape, name
        assert_allclose(grads[name], numerical_gradient(loss, value), atol=1e-7, rtol=1e-5,
                        err_msg=f"{name}, {kind}, {head}")
    assert_allclose(dX, numerical_gradient(loss, X), atol=1e-7, rtol=1e-5, err_msg=f"X, {kind}, {head}")


def _torch_twin(model):
    """The same CRNN in torch.nn with copied weights (float64)."""
    conv_layer = torch.nn.Conv2d(2, 2, 3, padding=1, dtype=torch.float64)
    dense = torch.nn.Linear(12, 4, dtype=torch.float64)  # pool1 output (2, 3, 2) flattened
    p = model.params
    with torch.no_grad():
        conv_layer.weight.copy_(torch.from_numpy(p["conv1.K"]))
        conv_layer.bias.copy_(torch.from_numpy(p["conv1.b"]))
        dense.weight.copy_(torch.from_numpy(p["dense1.W"].T.copy()))
        dense.bias.copy_(torch.from_numpy(p["dense1.b"]))
    cnn = torch.nn.Sequential(conv_layer, torch.nn.ReLU(), torch.nn.MaxPool2d(2), torch.nn.Flatten(), dense,
                              torch.nn.ReLU())
    cell_keys = [k for k in p if "." not in k and k not in ("W_hy", "b_y")]
    rnn = interop.to_torch(Cell(model.kind, {k: p[k] for k in cell_keys}))
    head = torch.nn.Linear(3, 3, dtype=torch.float64)
    with torch.no_grad():
        head.weight.copy_(torch.from_numpy(p["W_hy"].T.copy()))
        head.bias.copy_(torch.from_numpy(p["b_y"]))

    def run(X):
        B, T = X.shape[:2]
        F = cnn(X.reshape(B * T, *X.shape[2:])).reshape(B, T, -1)
        H = rnn(F)[0]
        return head(H[:, -1])

    return run, [conv_layer.weight, conv_layer.bias, dense.weight, dense.bias, head.weight]


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
def test_crnn_matches_torch_twin(kind):
    """Do outputs and CNN/readout gradients equal those of conv -> relu -> pool -> linear -> nn.RNN/LSTM/GRU?"""
    model, rng = _model(kind, "many_to_one", 10)
    X = rng.standard_normal((3, 4, 2, 6, 5))
    run, weights = _torch_twin(model)
    tX = torch.tensor(X, requires_grad=True)
    tY = run(tX)
    Y, cache = model.forward(X)
    assert_allclose(Y, tY.detach().numpy(), atol=1e-12)
    dY = rng.standard_normal(Y.shape)
    tY.backward(torch.from_numpy(dY))
    dX, grads = model.backward(dY, cache)
    assert_allclose(dX, tX.grad.numpy(), atol=1e-12, err_msg="dX")
    ours = [grads["conv1.K"], grads["conv1.b"], grads["dense1.W"].T, grads["dense1.b"], grads["W_hy"].T]
    for name, g, w in zip(["conv1.K", "conv1.b", "dense1.W", "dense1.b", "W_hy"], ours, weights, strict=True):
        assert_allclose(g, w.grad.numpy(), atol=1e-12, err_msg=name)


def test_cache_holds_every_stage_per_frame():
    """Can a page animate frames -> feature maps -> features -> states -> prediction from the cache alone?"""
    model, rng = _model("lstm", "many_to_one", 4)
    X = rng.standard_normal((2, 3, 2, 6, 5))
    Y, cache = model.forward(X)
    assert cache["maps"]["conv1"].shape == (2, 3, 2, 6, 5)
    assert cache["maps"]["pool1"].shape == (2, 3, 2, 3, 2)
    assert cache["features"].shape == (2, 3, 4) and cache["H"].shape == (2, 3, 3)
    view = crnn.frame_view(cache, 1, 2)
    assert_allclose(view["features"], cache["maps"]["relu2"][1, 2])
    assert_allclose(view["h"], cache["H"][1, 2])
    assert set("ifgo") <= set(view["steps"])
    assert_allclose(view["y"], Y[1])
    assert crnn.frame_view(cache, 1, 0)["y"] is None
    # the maps of one frame are those of the CNN run on that frame alone
    single, _ = crnn.cnn_forward(model.layers, model.params, X[1, 2][None])
    assert_allclose(view["features"], single[0])
    with pytest.raises(ValueError, match="b, t"):
        crnn.frame_view(cache, 2, 0)


def test_same_cnn_weights_for_every_frame():
    """Is the CNN gradient the sum over frames (weight sharing), so reversing time keeps the CNN part equal?"""
    model, rng = _model("rnn", "many_to_one", 5)
    X = rng.standard_normal((1, 3, 2, 6, 5))
    _, cache = model.forward(X)
    dF = rng.standard_normal(cache["features"].shape)
    _, per_frame = crnn.cnn_backward(dF.reshape(3, -1), cache["cnn"])
    total = sum(crnn.cnn_backward(dF[:, t], crnn.cnn_forward(model.layers, model.params, X[:, t])[1])[1]["conv1.K"]
                for t in range(3))
    assert_allclose(per_frame["conv1.K"], total, atol=1e-12)


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda: crnn.CRNN.create((1, 8, 8), 2, cnn=[{"kind": "dense", "units": 3}]), "flatten"),
        (lambda: crnn.CRNN.create((1, 8, 8), 2, cnn=[{"kind": "conv", "filters": 2, "kernel": 3}]), "flatten"),
        (lambda: crnn.CRNN.create((1, 8, 8), 2, cnn=[{"kind": "maxpool"}]), "kind"),
        (lambda: crnn.CRNN.create((1, 2, 2), 2, cnn=[{"kind": "conv", "filters": 2, "kernel": 5}, {"kind": "flatten"}]),
         "conv1"),
        (lambda: crnn.CRNN.create((1, 8, 8), 2, head="one_to_many"), "head"),
        (lambda: crnn.CRNN.create((1, 8, 8), 2).forward(np.zeros((2, 3, 1, 9, 9))), "X"),
        (lambda: crnn.CRNN.create((1, 8, 8), 2).forward(np.zeros((2, 1, 8, 8))), "X"),
        (lambda: crnn.backward(np.zeros(2), {}), "cache"),
    ],
)
def test_bad_input_raises_value_error(make, match):
    """Do wrong layer lists, heads and video shapes raise a ValueError that says what was expected?"""
    with pytest.raises(ValueError, match=match):
        make()


def test_functional_form_matches_the_model():
    """Is crnn_forward(X, params, step) the CRNN with the exercise's CNN, for a step function or a kind?"""
    model = crnn.CRNN.create((1, 6, 6), 3, kind="gru", hidden_size=4, seed=2)
    assert [layer["kind"] for layer in model.layers] == [layer["kind"] for layer in crnn.standard_layers(model.params)]
    X = np.random.default_rng(2).standard_normal((2, 3, 1, 6, 6))
    Y, _ = model.forward(X)
    from simulator.cells import gru_step

    assert_allclose(crnn.crnn_forward(X, model.params, gru_step)[0], Y, atol=1e-12)
    assert_allclose(crnn.crnn_forward(X, model.params, "gru")[0], Y, atol=1e-12)
    feats, _ = crnn.frame_features(X[0], model.params)
    assert_allclose(feats, crnn.forward(model, X)[1]["features"][0], atol=1e-12)
    with pytest.raises(ValueError, match="odd"):
        crnn.standard_layers({**model.params, "conv1.K": np.zeros((8, 1, 2, 2))})
    with pytest.raises(ValueError, match="dense1.W"):
        crnn.standard_layers({k: v for k, v in model.params.items() if k != "dense1.W"})


def test_student_step_function_runs_inside_the_crnn():
    """Does a student's step function (any cache) run inside a CRNN, with the same outputs and a drawable view?"""
    from simulator import cells

    def my_rnn_step(x, h_prev, params):
        return np.tanh(x @ params["W_xh"] + h_prev @ params["W_hh"] + params["b_h"]), None

    model, rng = _model("rnn", "many_to_one", 6)
    X = rng.standard_normal((2, 3, 2, 6, 5))
    Y, _ = model.forward(X)
    model.step, model.step_backward = my_rnn_step, cells.rnn_step_backward
    Y2, cache = model.forward(X)
    assert_allclose(Y2, Y, atol=1e-12)
    view = crnn.frame_view(cache, 0, 1)
    assert view["steps"] == {} and view["h"].shape == (3,)
