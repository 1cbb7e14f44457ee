import numpy as np
import param
import pytest

from simulator import gradients
from simulator.app.pages.bptt import view as bptt
from simulator.app.pages.bptt.model import BPTTLab
from simulator.gradients import numerical_gradient
from simulator.lessons import bptt_lab

KINDS = ("rnn", "lstm", "gru")


def _page(**settings) -> bptt.BPTTPage:
    lab = BPTTLab(**{"T": 12, "hidden": 8, **settings})
    return bptt.BPTTPage(lab=lab, query={})


def _cells(grid) -> dict[tuple[int, int], float]:
    """(row, column) -> value of a ValueGrid's source (NaN for blank cells)."""
    d = grid.source.data
    return {(y, x): v for x, y, v in zip(d["x"], d["y"], d["value"], strict=True)}


@pytest.mark.parametrize("kind", KINDS)
def test_backward_animation_shows_reference_bptt_and_finite_differences(kind):
    """Are the page's dL/dh_t, step contributions and running sums the reference BPTT's, and is the final
    running sum the finite-difference gradient of the loss?"""
    page = _page(anim_kind=kind, anim_length=6, anim_hidden=3)
    lab = page.lab
    config = lab.anim_config()
    params = bptt_lab.init_params(config)
    data = config.data(1, seed=config.seed + 2)
    ref = bptt_lab.flow(params, config, data.X, data.y, jacobians=False)
    key = bptt_lab.RECURRENT_KEY[kind]
    running = np.zeros_like(params[key])
    for k in range(0, 7):
        lab.anim_step = k
        shown = _cells(page.grid_dh)
        for t in range(6):
            for j in range(3):
                if t >= 6 - k:
                    assert shown[(j, t)] == ref.dh[0, t, j]
                else:
                    assert np.isnan(shown[(j, t)])
        if kind == "lstm":
            dc = _cells(page.grid_dc)
            if k:
                assert dc[(0, 6 - k)] == ref.dc[0, 6 - k, 0]
        if k:
            t = 6 - k
            running += ref.contrib[t][key]
            contrib = _cells(page.grid_contrib)
            np.testing.assert_array_equal([[contrib[(r, c)] for c in range(running.shape[1])]
                                           for r in range(running.shape[0])], ref.contrib[t][key])
            run = _cells(page.grid_running)
            np.testing.assert_allclose([[run[(r, c)] for c in range(running.shape[1])]
                                        for r in range(running.shape[0])], running, rtol=1e-12, atol=1e-15)
    # after the last step the running sum is dW: compare with central finite differences of the loss
    run = _cells(page.grid_running)
    shown_total = np.array([[run[(r, c)] for c in range(running.shape[1])] for r in range(running.shape[0])])

    def loss():
        return bptt_lab.flow(params, config, data.X, data.y, jacobians=False).loss

    np.testing.assert_allclose(shown_total, numerical_gradient(loss, params[key]), rtol=1e-6, atol=1e-9)
    assert "bptt-t" in page.anim_status.object and "t = 0" in page.anim_status.object


@pytest.mark.parametrize("weight", ["input", "bias"])
def test_animation_shows_input_and_bias_contributions(weight):
    page = _page(anim_kind="gru", anim_length=5, anim_hidden=3, anim_weight=weight)
    lab = page.lab
    key = {"input": "W_x", "bias": "b_x"}[weight]
    assert lab.anim_key == key
    lab.anim_step = 2
    contrib = np.atleast_2d(lab.walk.contrib[key][3])
    shown = _cells(page.grid_contrib)
    np.testing.assert_array_equal([[shown[(r, c)] for c in range(contrib.shape[1])] for r in range(contrib.shape[0])],
                                  contrib)
    assert f"d{key}⁽3⁾" in page.grid_contrib.figure.title.text
    lab.anim_step = 5
    run = _cells(page.grid_running)
    total = np.atleast_2d(lab.walk.grads[key])
    np.testing.assert_allclose([[run[(r, c)] for c in range(total.shape[1])] for r in range(total.shape[0])], total,
                               rtol=1e-12, atol=1e-15)


def test_jacobian_heatmap_is_the_product_of_step_jacobians():
    """Does the ||dh_T/dh_t|| heatmap hold the 2-norms of J_T ... J_{t+1} for each cell, same sequence?"""
    page = _page()
    lab = page.lab
    shown = page.map_jac.source.data["norm"][0]  # (3, T)
    shown_dh = page.map_dh.source.data["norm"][0]
    assert shown.shape == (3, 12)
    for row, kind in enumerate(KINDS):
        seq = lab.compare[kind].seq
        J = gradients.step_jacobians(seq)  # (B, T, S, S)
        B, T, S, _ = J.shape
        H = lab.hidden
        norms = np.zeros((B, T))
        for b in range(B):
            prod = np.eye(S)
            for t in range(T - 1, -1, -1):
                norms[b, t] = np.linalg.norm(prod[:H, :H], 2)
                prod = prod @ J[b, t]
        np.testing.assert_allclose(shown[row], norms.mean(axis=0), rtol=1e-9, err_msg=kind)
        np.testing.assert_allclose(shown_dh[row], np.linalg.norm(lab.compare[kind].dh, axis=2).mean(axis=0))
    line = page.lines_jac.sources["LSTM"].data["y"]
    np.testing.assert_allclose(line, shown[1])


def test_scale_slider_turns_vanishing_into_exploding():
    page = _page(T=30, recurrent_init="identity", activation="relu")
    lab = page.lab
    with param.edit_constant(page.scale_slider):
        page.scale_slider.value_throttled = 0.5  # what the browser sends when the slider is released at 0.5
    assert lab.recurrent_scale == 0.5
    assert page.map_jac.source.data["norm"][0][0, 0] < 1e-6
    assert "spectral radius ρ = <code class='bptt-rho'>0.5000" in page.spectrum_text.object
    lab.recurrent_scale = 1.5
    assert page.scale_slider.value == 1.5
    assert page.map_jac.source.data["norm"][0][0, 0] > 1e3
    assert "1.5000" in page.spectrum_text.object
    sv = page.spectrum.sources["RNN W_hh"].data["y"]
    np.testing.assert_allclose(sv, np.full(8, 1.5))


def test_training_grows_the_curves_and_play_pauses():
    page = _page(kind="gru", iterations_per_tick=2)
    lab = page.lab
    lab.train(3)
    assert len(page.loss_curve.sources["loss"].data["y"]) == 3
    np.testing.assert_allclose(page.loss_curve.sources["loss"].data["y"], lab.run.history.loss)
    assert page.train_dh.source.data["norm"][0].shape == (3, 12)
    np.testing.assert_allclose(page.train_dh.source.data["norm"][0][-1], lab.run.history.dh_norm[-1])
    assert "bptt-iteration'>3<" in page.train_status.object
    lab.tick()  # not playing: nothing happens
    assert lab.run.iteration == 3
    page.play.clicks += 1
    assert lab.playing and "Pause" in page.play.label
    lab.tick()
    assert lab.run.iteration == 5 and len(page.loss_curve.sources["loss"].data["y"]) == 5
    page.play.clicks += 1
    assert not lab.playing and "Train" in page.play.label
    norms = page.norm_curve.sources
    np.testing.assert_allclose(norms["after clipping"].data["y"], np.minimum(lab.run.history.grad_norm, 1.0))
    page.reset_button.clicks += 1
    assert lab.run.iteration == 0 and page.loss_curve.sources["loss"].data["y"] == []


def test_learning_rate_and_clipping_apply_to_the_running_optimiser():
    page = _page()
    lab = page.lab
    lab.train(2)
    lab.lr = 0.002
    lab.clip = False
    assert lab.run.optimizer.lr == 0.002 and lab.run.optimizer.clip_norm is None
    assert lab.run.iteration == 2  # no restart


def test_url_round_trip_and_bad_values():
    page = bptt.BPTTPage(lab=BPTTLab(), query={"kind": "gru", "T": "15", "scale": "0.8", "clip": "false"})
    lab = page.lab
    assert (lab.kind, lab.T, lab.recurrent_scale, lab.clip) == ("gru", 15, 0.8, False)
    assert page.url.keys["recurrent_scale"] == "scale"
    bad = bptt.BPTTPage(lab=BPTTLab(), query={"T": "abc", "lr": "nan", "kind": "<script>alert(1)</script>"})
    assert bad.lab.T == 30 and bad.lab.lr == 0.01 and bad.lab.kind == "lstm"
    text = bad.messages.pane.object
    assert bad.messages.pane.visible and "URL T" in text and "URL lr" in text and "<script>" not in text


def test_divergence_stops_training_with_a_message():
    """A non-finite loss (here forced) pauses training and says why, in the page."""
    page = _page(kind="rnn")
    lab = page.lab
    grads = {k: np.zeros_like(v) for k, v in lab.run.params.items()}
    lab.run.trainer.loss_and_grads = lambda params, batch: (float("nan"), grads)
    lab.playing = True
    lab.tick()
    assert not lab.playing and "Play" not in page.play.label
    assert "Training stopped" in lab.error and "loss: became nan" in page.messages.pane.object
    assert page.messages.pane.visible
    page.reset_button.clicks += 1  # a new run clears the message
    assert lab.error == "" and not page.messages.pane.visible


def test_adding_problem_trains_as_regression():
    page = _page(task="adding", kind="lstm")
    lab = page.lab
    assert lab.compare["rnn"].Y.shape == (1, 1)
    lab.train(2)
    assert len(page.loss_curve.sources["loss"].data["y"]) == 2
    assert not page.acc_curve.reference.visible and "within ±0.04" in page.train_status.object


def test_animation_length_moves_the_player_bounds():
    page = _page()
    lab = page.lab
    lab.anim_length = 12
    assert page.player.slider.end == 12 and lab.walk.dh.shape == (12, lab.anim_hidden)
    lab.anim_step = 12
    lab.anim_length = 5
    assert lab.anim_step == 5 and page.player.slider.end == 5
    assert "t = 0" in page.anim_status.object


@pytest.mark.parametrize(("sigma", "word"), [(1.0 + 2e-10, "equals 1"), (1.0 - 4e-5, "equals 1"),
                                             (0.9999, "below 1"), (1.0001, "above 1"), (2.5, "above 1"),
                                             (0.3, "below 1")])
def test_the_verdict_matches_the_value_as_printed(sigma, word):
    """Is a sigma printed as 1.0000 called equal to 1 (never 'above 1'), and the others below or above?"""
    assert word in bptt.sigma_verdict(sigma)


def test_orthogonal_weights_at_scale_one_are_not_called_above_one():
    page = _page(recurrent_init="orthogonal", recurrent_scale=1.0)
    text = page.spectrum_text.object
    assert "<code class='bptt-sigma'>1.0000</code>" in text and "equals 1" in text and "above 1" not in text


def test_no_figure_relies_on_automatic_ranges():
    """Does every figure have explicit ranges (an empty DataRange1d figure logs a browser warning per load)?"""
    from bokeh.models import DataRange1d, Plot

    page = _page()
    figures = [m for m in page.__panel__().get_root().references() if isinstance(m, Plot)]
    assert len(figures) >= 10
    auto = [f.title.text for f in figures if isinstance(f.x_range, DataRange1d) or isinstance(f.y_range, DataRange1d)]
    assert not auto, auto
    page.lab.train(4)  # the curves' ranges follow the data
    loss = page.loss_curve
    assert loss.figure.x_range.end == 4.0 and loss.figure.y_range.start < min(loss.sources["loss"].data["y"])
    norms = page.norm_curve.figure.y_range
    assert 0 < norms.start < min(page.norm_curve.sources["before clipping"].data["y"]) <= norms.end


def test_a_batch_of_a_replaced_run_is_not_published():
    """After Reset while a batch was computed elsewhere, does its result stay out of the page?"""
    page = _page(iterations_per_tick=2)
    lab = page.lab
    run, job = lab.steps_job()
    assert job() == "" and run.iteration == 2
    lab.reset()
    lab.finish_steps(run, "")
    assert lab.iteration == 0 and lab.run is not run
    run, job = lab.steps_job()
    lab.finish_steps(run, job())
    assert lab.iteration == 2 and page.train_status.object.count("bptt-iteration'>2<") == 1


def test_a_page_load_at_the_largest_settings_computes_once(monkeypatch):
    """Does a URL with every network setting cost one comparison (it cost one per key: 12 loads stalled 66 s)?"""
    calls = []
    real = bptt_lab.compare_cells
    monkeypatch.setattr(bptt_lab, "compare_cells", lambda config: calls.append(config) or real(config))
    query = {"T": "100", "H": "64", "task": "adding", "seed": "3", "scale": "1.5", "init": "identity",
             "act": "relu", "gate_bias": "1", "kind": "gru", "per_tick": "50"}
    page = bptt.BPTTPage(query=query)
    lab = page.lab
    assert len(calls) == 1 and (calls[0].T, calls[0].hidden, calls[0].task) == (100, 64, "adding")
    assert (lab.T, lab.hidden, lab.kind, lab.iterations_per_tick, lab.recurrent_scale) == (100, 64, "gru", 50, 1.5)
    bad = bptt.BPTTPage(query={"T": "1e9", "H": "<b>", "seed": "4"})
    assert bad.lab.seed == 4 and bad.lab.T == 30 and "URL T" in bad.messages.pane.object
