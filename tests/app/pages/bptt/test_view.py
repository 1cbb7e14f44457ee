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


# ----------------------------------------------------------------------------- heavy work in the worker pool
def _served(**settings):
    """A page whose recomputes and batches go through a private one-worker pool, polled by the test."""
    import threading

    from simulator.app.workpool import Runner, WorkPool

    pool = WorkPool(workers=1, max_queue=8)
    runner = Runner(pool=pool, background=True)
    lab = BPTTLab(**{"T": 12, "hidden": 8, **settings})
    return bptt.BPTTPage(lab=lab, query={}, runner=runner), runner, pool, threading


def _drain(runner, page=None, limit=4000):
    import time

    for _ in range(limit):
        runner.poll()
        if not runner.busy():
            return True
        time.sleep(0.005)
    return False


def test_a_setting_change_is_computed_off_the_event_loop_and_says_so(monkeypatch):
    """Does changing T compute in a worker thread (never the caller's), say 'computing' meanwhile with the
    place in the queue, and then show exactly the reference comparison of the latest setting only?"""
    page, runner, pool, threading = _served()
    lab = page.lab
    threads, real = [], bptt_lab.compare_cells
    monkeypatch.setattr(bptt_lab, "compare_cells", lambda config: threads.append((threading.get_ident(), config.T))
                        or real(config))
    go = threading.Event()
    other = pool.submit("another session", lambda: go.wait(30))
    while other.state != "running":
        go.wait(0.005)
    old_run = lab.run
    lab.T, lab.T, lab.T = 20, 25, 30  # three quick changes while the worker is busy
    assert threads == [] and lab.computing and lab.run is old_run  # nothing computed by the caller
    runner.poll()
    assert "Computing for the new settings" in page.compute_status.object
    assert "you are number 1 in the queue" in page.compute_status.object
    go.set()
    assert _drain(runner)
    assert [T for _, T in threads] == [20, 30]  # the one admitted at once, then only the latest
    assert all(ident != threading.get_ident() for ident, _ in threads)
    assert not lab.computing and page.compute_status.object == ""
    expected = real(lab.config())
    np.testing.assert_array_equal(page.map_dh.source.data["image"][0],
                                  np.log10(np.stack([expected[k].dh_norm for k in KINDS])))
    assert lab.run is not old_run and lab.run.config.T == 30 and lab.iteration == 0


def test_reset_and_pause_answer_at_once_while_a_batch_runs_and_its_result_is_dropped():
    """While a batch runs in the pool, do Pause and Reset change the page at once, and is the old run's batch
    never published over the fresh run?"""
    page, runner, pool, threading = _served(iterations_per_tick=3)
    lab = page.lab
    gate = threading.Event()
    first_run = lab.run
    real_step = first_run.step
    first_run.step = lambda n: gate.wait(30) and real_step(n)  # the batch holds the worker until released
    lab.playing = True
    runner.poll()
    assert page.play.label == "❚❚ Pause" and page._training_busy()
    lab.playing = False  # Pause: the label flips before the batch ends
    assert page.play.label == "▶ Train" and "Pausing after this batch" in page.train_status.object
    page.reset_button.clicks += 1  # Reset while the batch still runs
    assert lab.computing
    gate.set()
    assert _drain(runner)
    assert lab.run is not first_run and lab.iteration == 0 and not lab.computing
    assert first_run.iteration == 3  # the batch did run, and was dropped
    assert "bptt-iteration'>0<" in page.train_status.object


def test_a_failing_recompute_or_batch_becomes_a_message_and_the_page_keeps_working(monkeypatch):
    """Does an exception in a worker show a sentence in the page (no traceback) and leave Reset usable?"""
    page, runner, pool, _ = _served()
    lab = page.lab
    monkeypatch.setattr(bptt_lab, "compare_cells", lambda config: {}["boom"])
    lab.T = 14
    assert _drain(runner)
    assert "KeyError" in page.messages.pane.object and "Traceback" not in page.messages.pane.object
    assert not lab.computing
    monkeypatch.undo()
    lab.T = 16
    assert _drain(runner) and lab.run.config.T == 16
    lab.run.step = lambda n: 1 / 0
    page._train_once()
    assert _drain(runner)
    assert "ZeroDivisionError" in page.messages.pane.object and not lab.playing
