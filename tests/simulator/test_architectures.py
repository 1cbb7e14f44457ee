"""Architectures: finite differences for every parameter, student path, a torch twin, caches, bad input, training."""

import zlib

import numpy as np
import pytest

from simulator import architectures as ar
from simulator import cells
from simulator.gradients import numerical_gradient
from simulator.optim import Adam
from simulator.train import Trainer, minibatches

# (kind, activation, reset_after): every cell and option
CELLS = [("rnn", "tanh", True), ("rnn", "relu", True), ("lstm", "tanh", True), ("gru", "tanh", True),
         ("gru", "tanh", False)]
# (architecture, feedback, teacher forcing)
VARIANTS = [("one_to_one", None, False), ("many_to_one", None, False), ("many_to_many", None, False)] + [
    (arch, fb, False) for arch in ("one_to_many", "encoder_decoder") for fb in ar.FEEDBACKS
] + [("one_to_many", "argmax", True), ("encoder_decoder", "identity", True)]
GENERATORS = ("one_to_many", "encoder_decoder")


def _seed(*parts) -> int:
    """A seed that is the same in every run (``hash`` of a str is not)."""
    return zlib.crc32(repr(parts).encode()) % 10_000


def _ids(v):
    return "-".join(str(p) for p in v)


def _case(arch, feedback, teacher, kind, seed, dtype=np.float64):
    """Seeded random sizes in 1..3 (one of them forced to 1), random parameters and biases, inputs, options."""
    rng = np.random.default_rng(seed)
    B, T, D, H, K, T_out = rng.integers(1, 4, size=6)
    sizes = [B, T, D, H, K, T_out]
    sizes[seed % 6] = 1
    B, T, D, H, K, T_out = (int(s) for s in sizes)
    if arch == "one_to_many" and (feedback != "none" or teacher):
        D = K  # outputs are fed back as inputs
    params = ar.init_params(kind, D, H, K, decoder=arch == "encoder_decoder", seed=seed, dtype=dtype)
    for v in params.values():
        v += rng.normal(scale=0.5, size=v.shape).astype(dtype)  # random biases too
    X = rng.normal(size=(B, D) if arch in ("one_to_one", "one_to_many") else (B, T, D)).astype(dtype)
    args = [X, params]
    kwargs = {}
    if arch in GENERATORS:
        n = T if arch == "one_to_many" else T_out
        args.append(n)
        kwargs["feedback"] = feedback
        if teacher:
            kwargs["targets"] = (rng.integers(0, K, size=(B, n)) if feedback == "argmax"
                                 else rng.normal(size=(B, n, K)).astype(dtype))
    return args, kwargs


def _options(kind, activation, reset_after):
    return {"activation": activation} if kind == "rnn" else {"reset_after": reset_after} if kind == "gru" else {}


@pytest.mark.parametrize("cell", CELLS, ids=_ids)
@pytest.mark.parametrize("variant", VARIANTS, ids=_ids)
def test_backward_matches_finite_differences(variant, cell):
    """Does every parameter gradient and the input gradient equal central finite differences of sum(Y * G)?"""
    arch, feedback, teacher = variant
    kind = cell[0]
    seed = _seed(variant, cell)
    args, kwargs = _case(arch, feedback, teacher, kind, seed)
    kwargs.update(_options(*cell))
    forward, backward = ar.FORWARD[arch], ar.BACKWARD[arch]
    Y, cache = forward(*args, **kwargs)
    G = np.random.default_rng(seed + 1).normal(size=Y.shape)  # random upstream gradient

    def f():
        return float(np.sum(forward(*args, **kwargs)[0] * G))

    dX, grads = backward(G, cache)
    params = args[1]
    assert set(grads) == set(params)
    for name, value in params.items():
        assert grads[name].shape == value.shape and grads[name].dtype == value.dtype, name
        np.testing.assert_allclose(grads[name], numerical_gradient(f, value), rtol=1e-5, atol=1e-7,
                                   err_msg=f"d{name} for {arch} {cell} feedback={feedback} teacher={teacher}")
    np.testing.assert_allclose(dX, numerical_gradient(f, args[0]), rtol=1e-5, atol=1e-7,
                               err_msg=f"dX for {arch} {cell} feedback={feedback} teacher={teacher}")


def _wrapped(kind):
    """A 'student' step pair: the reference functions behind new callables (so no reference shortcut applies)."""
    ref_step, ref_back = cells.STEP_FUNCTIONS[kind]
    return (lambda *a, **k: ref_step(*a, **k)), (lambda *a, **k: ref_back(*a, **k))


@pytest.mark.parametrize("cell", CELLS, ids=_ids)
@pytest.mark.parametrize("variant", VARIANTS, ids=_ids)
def test_student_step_functions_equal_the_reference_path(variant, cell):
    """Do cells.*_step (and a wrapped copy) passed as `step` give the reference's outputs, states and gradients?"""
    arch, feedback, teacher = variant
    kind = cell[0]
    seed = _seed(variant, cell, "student")
    args, kwargs = _case(arch, feedback, teacher, kind, seed)
    kwargs.update(_options(*cell))
    forward, backward = ar.FORWARD[arch], ar.BACKWARD[arch]
    Y, ref = forward(*args, **kwargs)
    G = np.random.default_rng(seed).normal(size=Y.shape)
    dX, grads = backward(G, ref, record=True)
    step, step_backward = _wrapped(kind)
    for how in ({"step": cells.STEP_FUNCTIONS[kind][0]}, {"step": step, "step_backward": step_backward},
                {"step": kind}):
        Y2, got = forward(*args, **how, **kwargs)
        dX2, grads2 = backward(G, got, record=True)
        msg = f"{arch} {cell} via {how}"
        np.testing.assert_allclose(Y2, Y, rtol=1e-12, atol=1e-14, err_msg=msg)
        np.testing.assert_allclose(got["H"], ref["H"], rtol=1e-12, atol=1e-14, err_msg=msg)
        if kind == "lstm":
            np.testing.assert_allclose(got["C"], ref["C"], rtol=1e-12, atol=1e-14, err_msg=msg)
        np.testing.assert_allclose(dX2, dX, rtol=1e-10, atol=1e-13, err_msg=msg)
        for name in grads:
            np.testing.assert_allclose(grads2[name], grads[name], rtol=1e-10, atol=1e-13, err_msg=f"{name} {msg}")
        np.testing.assert_allclose(got["grads"]["dh"], ref["grads"]["dh"], rtol=1e-10, atol=1e-13, err_msg=msg)


def test_many_to_many_matches_a_torch_rnn_linear_twin():
    """Do outputs and all gradients equal torch nn.RNN + nn.Linear with copied weights (float64)?"""
    torch = pytest.importorskip("torch")
    for trial, (B, T, D, H, K) in enumerate([(1, 1, 1, 1, 1), (3, 5, 4, 6, 2), (2, 7, 1, 3, 4)]):
        rng = np.random.default_rng(trial)
        params = ar.init_params("rnn", D, H, K, seed=trial)
        params["b_h"] += rng.normal(size=H)
        params["b_y"] += rng.normal(size=K)
        X, G = rng.normal(size=(B, T, D)), rng.normal(size=(B, T, K))
        Y, cache = ar.many_to_many_forward(X, params)
        dX, grads = ar.many_to_many_backward(G, cache)

        rnn = torch.nn.RNN(D, H, batch_first=True, dtype=torch.float64)
        lin = torch.nn.Linear(H, K, dtype=torch.float64)
        with torch.no_grad():
            rnn.weight_ih_l0.copy_(torch.tensor(params["W_xh"].T))
            rnn.weight_hh_l0.copy_(torch.tensor(params["W_hh"].T))
            rnn.bias_ih_l0.copy_(torch.tensor(params["b_h"]))
            rnn.bias_hh_l0.zero_()
            lin.weight.copy_(torch.tensor(params["W_hy"].T))
            lin.bias.copy_(torch.tensor(params["b_y"]))
        x = torch.tensor(X, requires_grad=True)
        y = lin(rnn(x)[0])
        (y * torch.tensor(G)).sum().backward()
        ok = dict(rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(Y, y.detach().numpy(), **ok, err_msg=f"Y trial {trial}")
        np.testing.assert_allclose(dX, x.grad.numpy(), **ok, err_msg=f"dX trial {trial}")
        np.testing.assert_allclose(grads["W_xh"], rnn.weight_ih_l0.grad.numpy().T, **ok)
        np.testing.assert_allclose(grads["W_hh"], rnn.weight_hh_l0.grad.numpy().T, **ok)
        np.testing.assert_allclose(grads["b_h"], rnn.bias_ih_l0.grad.numpy(), **ok)
        np.testing.assert_allclose(grads["W_hy"], lin.weight.grad.numpy().T, **ok)
        np.testing.assert_allclose(grads["b_y"], lin.bias.grad.numpy(), **ok)


def test_encoder_decoder_with_feedback_matches_a_torch_loop():
    """Does free-running softmax feedback through an LSTM encoder-decoder match torch autograd?"""
    torch = pytest.importorskip("torch")
    B, T_in, T_out, D, H, K = 2, 4, 3, 3, 5, 4
    rng = np.random.default_rng(11)
    params = ar.init_params("lstm", D, H, K, decoder=True, seed=3)
    for v in params.values():
        v += rng.normal(scale=0.3, size=v.shape)
    X, G = rng.normal(size=(B, T_in, D)), rng.normal(size=(B, T_out, K))
    Y, cache = ar.encoder_decoder_forward(X, params, T_out, feedback="softmax")
    dX, grads = ar.encoder_decoder_backward(G, cache, record=True)

    p = {k: torch.tensor(v, requires_grad=True) for k, v in params.items()}
    x = torch.tensor(X, requires_grad=True)

    def lstm(xt, h, c, pre):  # gate blocks i, f, g, o as in cells.lstm_step
        a = xt @ p[pre + "W_x"] + h @ p[pre + "W_h"] + p[pre + "b"]
        i, f, g, o = a.chunk(4, dim=1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        return torch.sigmoid(o) * torch.tanh(c), c

    h = c = torch.zeros(B, H, dtype=torch.float64)
    hs, cs, ys = [], [], []
    for t in range(T_in + T_out):
        if t < T_in:
            h, c = lstm(x[:, t], h, c, "")
        else:
            inp = torch.softmax(ys[-1], dim=1) if ys else torch.zeros(B, K, dtype=torch.float64)
            h, c = lstm(inp, h, c, "dec_")
            ys.append(h @ p["W_hy"] + p["b_y"])
            ys[-1].retain_grad()
        h.retain_grad()
        c.retain_grad()
        hs.append(h)
        cs.append(c)
    y = torch.stack(ys, dim=1)
    (y * torch.tensor(G)).sum().backward()
    np.testing.assert_allclose(Y, y.detach().numpy(), rtol=1e-10)
    np.testing.assert_allclose(dX, x.grad.numpy(), rtol=1e-9, atol=1e-13)
    for k in params:
        np.testing.assert_allclose(grads[k], p[k].grad.numpy(), rtol=1e-9, atol=1e-13, err_msg=k)
    # what the app draws: the total dL/dh_t and dL/dc_t reaching every step, and dL/dy_t with feedback
    rec = cache["grads"]
    np.testing.assert_allclose(rec["dh"], torch.stack([h.grad for h in hs], 1).numpy(), rtol=1e-9, atol=1e-13)
    np.testing.assert_allclose(rec["dy"], torch.stack([y.grad for y in ys], 1).numpy(), rtol=1e-9, atol=1e-13)
    # sequence records the dc_t carried back from step t+1; torch's c.grad adds the path through h_t = o tanh(c_t)
    o = np.stack([st["o"] for st in cache["steps"]], axis=1)
    tanh_c = np.tanh(cache["C"])
    dc_total = torch.stack([c.grad for c in cs], 1).numpy()
    np.testing.assert_allclose(rec["dc"] + rec["dh"] * o * (1 - tanh_c**2), dc_total, rtol=1e-9, atol=1e-13)


# ----------------------------------------------------------------------------- what the caches say
def test_caches_say_which_steps_read_emit_and_take_the_loss():
    rng = np.random.default_rng(0)
    B, T, D, H, K = 2, 4, 3, 5, 3
    p = ar.init_params("lstm", D, H, K, seed=0)
    pd = ar.init_params("lstm", D, H, K, decoder=True, seed=0)
    x, X = rng.normal(size=(B, D)), rng.normal(size=(B, T, D))
    expect = {
        "one_to_one": (ar.one_to_one_forward(x, p)[1], ["x"], [1], ["cell"]),
        "one_to_many": (ar.one_to_many_forward(x, p, 3)[1], ["x", "feedback", "feedback"], [1, 1, 1], ["cell"] * 3),
        "many_to_one": (ar.many_to_one_forward(X, p)[1], ["x"] * 4, [0, 0, 0, 1], ["cell"] * 4),
        "many_to_many": (ar.many_to_many_forward(X, p)[1], ["x"] * 4, [1, 1, 1, 1], ["cell"] * 4),
        "encoder_decoder": (ar.encoder_decoder_forward(X, pd, 2)[1], ["x"] * 4 + ["start", "feedback"],
                            [0, 0, 0, 0, 1, 1], ["encoder"] * 4 + ["decoder"] * 2),
    }
    for arch, (cache, sources, emits, phase) in expect.items():
        S = len(sources)
        assert cache["architecture"] == arch and cache["kind"] == "lstm"
        assert cache["input_source"] == sources, arch
        assert cache["phase"] == phase, arch
        np.testing.assert_array_equal(cache["reads_input"], [s == "x" for s in sources], err_msg=arch)
        np.testing.assert_array_equal(cache["emits_output"], np.array(emits, dtype=bool), err_msg=arch)
        np.testing.assert_array_equal(cache["takes_loss"], cache["emits_output"], err_msg=arch)
        np.testing.assert_array_equal(cache["output_steps"], np.flatnonzero(emits), err_msg=arch)
        assert cache["H"].shape == (B, S, H) and cache["C"].shape == (B, S, H), arch
        assert len(cache["steps"]) == S and len(cache["inputs"]) == S, arch
        for s in range(S):  # the states are the per-step caches' states
            np.testing.assert_array_equal(cache["H"][:, s], cache["steps"][s]["h"])
            np.testing.assert_array_equal(cache["C"][:, s], cache["steps"][s]["c"])
        Y3 = cache["Y"].reshape(B, -1, K)
        np.testing.assert_allclose(Y3, cache["H"][:, cache["output_steps"]] @ p["W_hy"] + p["b_y"], rtol=1e-13)


def test_feedback_inputs_are_the_previous_outputs():
    """Is each generated step's input f(y_{t-1}) as documented, for every feedback mode?"""
    rng = np.random.default_rng(2)
    K = 4
    p = ar.init_params("gru", K, 6, K, seed=1)
    x = rng.normal(size=(3, K))
    for fb in ar.FEEDBACKS:
        Y, cache = ar.one_to_many_forward(x, p, 5, feedback=fb)
        np.testing.assert_array_equal(cache["inputs"][0], x)
        for t in range(1, 5):
            y = Y[:, t - 1]
            expected = {"argmax": np.eye(K)[y.argmax(axis=1)], "identity": y, "none": np.zeros_like(y),
                        "softmax": np.exp(y) / np.exp(y).sum(axis=1, keepdims=True)}[fb]
            np.testing.assert_allclose(cache["inputs"][t], expected, rtol=1e-13, atol=1e-15, err_msg=f"{fb} t={t}")


def test_teacher_forcing_with_the_model_own_argmax_equals_free_running():
    """Fed its own argmax outputs as targets, does teacher forcing reproduce free-running generation?"""
    rng = np.random.default_rng(4)
    D, H, K = 3, 5, 4
    for kind in cells.KINDS:
        p = ar.init_params(kind, D, H, K, decoder=True, seed=5)
        X = rng.normal(size=(2, 6, D))
        start = rng.normal(size=(2, K))
        Y, free = ar.encoder_decoder_forward(X, p, 5, feedback="argmax", start=start)
        Yt, forced = ar.encoder_decoder_forward(X, p, 5, targets=Y.argmax(axis=2), start=start)
        np.testing.assert_allclose(Yt, Y, rtol=1e-12, err_msg=kind)
        assert forced["input_source"][-5:] == ["start"] + ["teacher"] * 4
        assert forced["options"]["teacher_forcing"] and not free["options"]["teacher_forcing"]


def test_one_to_one_is_a_feed_forward_net():
    """For a tanh RNN, is one_to_one exactly tanh(x W_xh + b_h) W_hy + b_y (W_hh plays no part)?"""
    rng = np.random.default_rng(0)
    p = ar.init_params("rnn", 5, 4, 3, seed=0)
    p["b_h"] += rng.normal(size=4)
    x = rng.normal(size=(6, 5))
    y, _ = ar.one_to_one_forward(x, p)
    np.testing.assert_allclose(y, np.tanh(x @ p["W_xh"] + p["b_h"]) @ p["W_hy"] + p["b_y"], rtol=1e-13)


def test_float32_stays_float32_and_params_are_read_at_each_call():
    p = ar.init_params("lstm", 2, 3, 2, dtype=np.float32)
    X = np.ones((1, 4, 2), dtype=np.float32)
    Y, cache = ar.many_to_many_forward(X, p)
    dX, grads = ar.many_to_many_backward(np.ones_like(Y), cache)
    assert Y.dtype == dX.dtype == np.float32 and all(g.dtype == np.float32 for g in grads.values())
    p["b_y"] += 1.0  # in place: the next call sees it
    np.testing.assert_allclose(ar.many_to_many_forward(X, p)[0], Y + 1.0, rtol=1e-6)


# ----------------------------------------------------------------------------- bad input
def _bad_cases():
    p = ar.init_params("rnn", 3, 4, 2, seed=0)
    pd = ar.init_params("gru", 3, 4, 2, decoder=True, seed=0)
    X = np.zeros((2, 5, 3))
    wrong_dec = {**pd, "dec_W_x": np.zeros((3, 12))}
    nan_X = X.copy()
    nan_X[1, 2, 0] = np.nan
    _, m2o_cache = ar.many_to_one_forward(X, p)
    student, _ = _wrapped("rnn")
    _, student_cache = ar.many_to_one_forward(X, p, student)
    return [
        (lambda: ar.many_to_one_forward(X, {**p, "extra": np.zeros(1)}), r"params: unexpected keys \['extra'\]"),
        (lambda: ar.many_to_one_forward(X, {k: v for k, v in p.items() if k != "b_y"}), r"params: missing \['b_y'\]"),
        (lambda: ar.many_to_one_forward(X, {"W_hy": np.zeros((4, 2))}), "params: keys .* hold no cell layout"),
        (lambda: ar.many_to_one_forward(X, [1, 2]), "params: expected a dict"),
        (lambda: ar.many_to_one_forward(X, {**p, "W_hy": np.zeros((3, 2))}), r"params\['W_hy'\]: expected shape \(4,"),
        (lambda: ar.many_to_one_forward(X, {**p, "b_y": np.zeros(2, np.float32)}), r"params\['b_y'\]: dtype float32"),
        (lambda: ar.many_to_one_forward(X, {**p, "W_hh": np.zeros((4, 5))}), r"params\['W_hh'\]: expected shape"),
        (lambda: ar.encoder_decoder_forward(X, wrong_dec, 2), r"params\['dec_W_x'\]: expected shape \(2, 12\)"),
        (lambda: ar.many_to_one_forward(X[0], p), r"X: expected a 3-D array"),
        (lambda: ar.many_to_one_forward(np.zeros((2, 5, 4)), p), r"X: expected shape \(B, T, D\) with D=3"),
        (lambda: ar.many_to_one_forward(np.zeros((2, 0, 3)), p), r"X: expected shape .* T >= 1"),
        (lambda: ar.many_to_one_forward(X.astype(np.float32), p), "X: dtype float32 differs"),
        (lambda: ar.many_to_many_forward(nan_X, p), r"X: contains nan at index \(1, 2, 0\)"),
        (lambda: ar.one_to_one_forward(X, p), "x: expected a 2-D array"),
        (lambda: ar.one_to_many_forward(X[:, 0], p, 3), "feeds K=2 outputs back .* D must be K; got D=3"),
        (lambda: ar.one_to_many_forward(X[:, 0], p, 0, feedback="none"), "T: expected a positive integer"),
        (lambda: ar.one_to_many_forward(X[:, 0], p, 2.0, feedback="none"), "T: expected a positive integer"),
        (lambda: ar.one_to_many_forward(X[:, 0], p, 3, feedback="sample"), "feedback: got 'sample'"),
        (lambda: ar.encoder_decoder_forward(X, pd, 3, targets=np.full((2, 3), 2)), r"targets: class index out of"),
        (lambda: ar.encoder_decoder_forward(X, pd, 3, targets=np.zeros((2, 4))), r"targets: expected .* \(B, T, K\)"),
        (lambda: ar.encoder_decoder_forward(X, pd, 3, targets=np.zeros((2, 4), int)),
         r"targets: expected shape \(2, 3\)"),
        (lambda: ar.encoder_decoder_forward(X, pd, 3, start=np.zeros((2, 3))), r"start: expected shape \(B, D\)"),
        (lambda: ar.many_to_one_forward(X, p, "lstm"), "step: 'lstm', but params hold a rnn cell"),
        (lambda: ar.many_to_one_forward(X, p, "cnn"), "step: got 'cnn'"),
        (lambda: ar.many_to_one_forward(X, p, cells.gru_step), "step: cells.gru_step, but params hold a rnn cell"),
        (lambda: ar.many_to_one_forward(X, p, 3), "step: expected None, a cell kind"),
        (lambda: ar.many_to_one_forward(X, p, activation="sigmoid"), "activation: got 'sigmoid'"),
        (lambda: ar.many_to_one_backward(np.ones((2, 2)), student_cache), "step_backward: .* no step_backward"),
        (lambda: ar.many_to_one_backward(np.ones((2, 3)), m2o_cache), r"dY: expected shape \(2, 2\)"),
        (lambda: ar.many_to_one_backward(np.full((2, 2), np.inf), m2o_cache), "dY: contains inf"),
        (lambda: ar.many_to_many_backward(np.ones((2, 5, 2)), m2o_cache), "cache: expected the cache of many_to_many"),
        (lambda: ar.objective("two_to_one"), "architecture: got 'two_to_one'"),
        (lambda: ar.objective("many_to_one", "hinge"), "loss: got 'hinge'"),
        (lambda: ar.objective("many_to_one")(p, X), "batch: expected"),
        (lambda: ar.one_hot(np.array([0, 2]), 2), r"indices: expected integers in \[0, 2\)"),
    ]


@pytest.mark.parametrize("index", range(35))
def test_bad_input_raises_value_error_naming_the_argument(index):
    cases = _bad_cases()
    assert len(cases) == 35
    call, message = cases[index]
    with pytest.raises(ValueError, match=message):
        call()


# ----------------------------------------------------------------------------- training works
def test_many_to_one_learns_to_remember_the_first_input():
    """Does a many-to-one GRU, trained with the Trainer, classify a sequence by its first (noisy) one-hot input?"""
    rng = np.random.default_rng(0)
    n, T, K = 600, 8, 3
    labels = rng.integers(0, K, size=n)
    X = rng.normal(scale=0.5, size=(n, T, K))
    X[:, 0] += 2.0 * np.eye(K)[labels]  # only step 0 carries the class; 7 noise steps follow
    train, test = slice(0, 500), slice(500, None)
    params = ar.init_params("gru", K, 8, K, seed=0)

    def accuracy(p, part=test):
        return float(np.mean(ar.many_to_one_forward(X[part], p)[0].argmax(axis=1) == labels[part]))

    chance = accuracy(params)
    trainer = Trainer(params, ar.objective("many_to_one"), minibatches((X[train], labels[train]), 50),
                      Adam(lr=0.03, clip_norm=5.0), evaluate=accuracy, eval_every=20, seed=0)
    history = trainer.run(300, target=0.97)
    assert history.loss[-1] < 0.5 * history.loss[0]
    assert accuracy(params) >= 0.95 > chance + 0.3


def test_objective_teacher_forces_generators():
    """Is objective()'s loss for one_to_many the teacher-forced cross-entropy of the forward pass?"""
    from simulator.losses import softmax_cross_entropy

    rng = np.random.default_rng(1)
    p = ar.init_params("lstm", 4, 5, 4, seed=1)
    x, targets = rng.normal(size=(3, 4)), rng.integers(0, 4, size=(3, 6))
    loss, grads = ar.objective("one_to_many")(p, (x, targets))
    Y, cache = ar.one_to_many_forward(x, p, 6, targets=targets)
    ref, dY = softmax_cross_entropy(Y, targets)
    assert loss == ref and cache["input_source"] == ["x"] + ["teacher"] * 5
    for k, g in ar.one_to_many_backward(dY, cache)[1].items():
        np.testing.assert_array_equal(grads[k], g)


def test_inputs_and_params_are_not_modified():
    """Do forward and backward leave x, targets, params and dY untouched?"""
    rng = np.random.default_rng(8)
    p = ar.init_params("gru", 3, 4, 3, decoder=True, seed=2)
    X, targets, start = rng.normal(size=(2, 5, 3)), rng.normal(size=(2, 4, 3)), rng.normal(size=(2, 3))
    before = [a.copy() for a in (X, targets, start, *p.values())]
    Y, cache = ar.encoder_decoder_forward(X, p, 4, feedback="identity", targets=targets, start=start)
    dY = rng.normal(size=Y.shape)
    dY_before = dY.copy()
    ar.encoder_decoder_backward(dY, cache, record=True)
    for a, b in zip((X, targets, start, *p.values()), before, strict=True):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(dY, dY_before)


def test_objective_with_mse_and_a_mask_on_many_to_many():
    """Is objective("many_to_many", "mse") the masked MSE of the forward pass, with its backward's gradients?"""
    from simulator.losses import mean_squared_error

    rng = np.random.default_rng(3)
    p = ar.init_params("rnn", 2, 3, 2, seed=3)
    X, T, mask = rng.normal(size=(4, 5, 2)), rng.normal(size=(4, 5, 2)), rng.random((4, 5)) < 0.5
    mask[0, 0] = True
    loss, grads = ar.objective("many_to_many", "mse", activation="relu")(p, (X, T, mask))
    Y, cache = ar.many_to_many_forward(X, p, activation="relu")
    ref, dY = mean_squared_error(Y, T, mask)
    assert loss == ref
    for k, g in ar.many_to_many_backward(dY, cache)[1].items():
        np.testing.assert_array_equal(grads[k], g)
