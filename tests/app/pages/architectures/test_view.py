"""The Architectures page driven through its parameters: the drawing must hold the reference run's values."""

import numpy as np
import pytest

from simulator import architectures as arch
from simulator import losses
from simulator.app.pages.architectures import examples
from simulator.app.pages.architectures.model import ArchitectureModel, trained_params
from simulator.app.pages.architectures.view import ArchitecturesPage


def reference(name, kind, H=6, seed=0, item=0, length=8):
    ex = examples.example(name, item, length)
    params = arch.init_params(kind, ex.x.shape[-1], H, len(ex.classes), decoder=name == "encoder_decoder", seed=seed)
    extra = (ex.T_out,) if name in ("one_to_many", "encoder_decoder") else ()
    return ex, arch.FORWARD[name](ex.x, params, *extra)


@pytest.mark.parametrize("name", examples.ARCHITECTURES)
@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
def test_unrolled_drawing_matches_the_reference(name, kind):
    page = ArchitecturesPage(ArchitectureModel(architecture=name, kind=kind, item=1, seed=2, trained=False), query={})
    ex, (Y, cache) = reference(name, kind, item=1, seed=2)
    d = page.unrolled
    S = len(cache["phase"])
    assert d.cells.data["step"] == list(range(S))
    np.testing.assert_array_equal(np.array(d.state.data["value"]).reshape(S, -1), cache["H"][0])
    assert d.outputs.data["step"] == cache["output_steps"].tolist()
    assert d.losses.data["step"] == np.flatnonzero(cache["takes_loss"]).tolist()
    Y3 = Y[:, None] if Y.ndim == 2 else Y
    p = losses.softmax(Y3[0], axis=-1)
    for label, row in zip(d.outputs.data["label"], p, strict=True):
        assert label == f"{ex.classes[int(row.argmax())]} {row.max():.2f}"
    sources = [s for s in cache["input_source"] if not (ex.image is not None and s == "x")]
    assert d.inputs.data["source_name"] == sources


def test_stepping_fades_the_future_and_shows_the_step_inside_the_cell():
    page = ArchitecturesPage(ArchitectureModel(architecture="many_to_one", kind="gru", trained=False), query={})
    _, (_, cache) = reference("many_to_one", "gru")
    page.model.s = 4
    alpha = dict(zip(page.unrolled.cells.data["step"], page.unrolled.cells.data["alpha"], strict=True))
    assert alpha[4] == 1.0 and alpha[5] < 1.0 and page.unrolled.current.left == 3.5
    d = page.cell.cells.data
    for name in ("z", "h", "x"):
        values = [v for v, n in zip(d["value"], d["name"], strict=True) if n == name]
        np.testing.assert_array_equal(values, cache["steps"][4][name][0])
    assert "No output at this step" in page.readout.text
    page.model.s = 11
    assert "Loss term here" in page.readout.text


def test_loss_shown_is_the_reference_cross_entropy():
    page = ArchitecturesPage(ArchitectureModel(architecture="many_to_many", kind="lstm", trained=False), query={})
    ex, (Y, _) = reference("many_to_many", "lstm")
    loss, _ = losses.softmax_cross_entropy(Y, ex.targets)
    assert page.model.run.loss == pytest.approx(loss, rel=1e-12)
    assert f"{loss:.4f}" in page.readout.text


def test_hostile_url_and_out_of_range_step():
    page = ArchitecturesPage(query={"arch": "one_to_one", "s": "7", "H": "-3", "item": "9", "kind": "gru"})
    m = page.model
    assert (m.architecture, m.kind, m.s, m.H, m.item) == ("one_to_one", "gru", 0, 6, 0)
    text = page.messages.pane.object
    assert "URL s" in text and "URL H" in text and "URL item" in text


@pytest.mark.parametrize("name", examples.ARCHITECTURES)
def test_trained_weights_answer_every_example_and_the_drawing_uses_them(name):
    """Trained on the four inputs, does each architecture get every example right (shown, not assumed)?"""
    page = ArchitecturesPage(ArchitectureModel(architecture=name, kind="gru", trained=True), query={})
    m = page.model
    params, before, after = trained_params(name, "gru", m.H, m.seed, 8)
    assert after < 0.1 * before
    for item in range(4):
        m.item = item
        np.testing.assert_array_equal(m.run.probs.argmax(axis=1), m.run.example.targets.reshape(-1))
        ex = examples.example(name, item)
        extra = (ex.T_out,) if name in ("one_to_many", "encoder_decoder") else ()
        _, cache = arch.FORWARD[name](ex.x, params, *extra)
        np.testing.assert_array_equal(np.array(page.unrolled.state.data["value"]).reshape(len(cache["phase"]), -1),
                                      cache["H"][0])
    assert "trained here" in page.lesson.object


def test_selecting_a_vector_in_the_step_cell_is_kept_in_the_page_state():
    page = ArchitecturesPage(ArchitectureModel(architecture="many_to_one", kind="lstm", trained=False),
                             query={"gate": "f"})
    assert page.gate == "f" and page.cell.highlight.data["x"]
    index = page.cell.boxes.data["name"].index("o")
    page.cell.boxes.selected.indices = [index]
    assert page.gate == "o"
    page.model.kind = "gru"  # no "o" in a GRU: the drawing falls back to h
    assert page.cell.highlight.data["x"]


@pytest.mark.parametrize("name", examples.ARCHITECTURES)
def test_the_readout_counts_the_steps_the_drawing_shows(name):
    """Does "Step s (of 0–N)" name the same steps as the boxes drawn (it said "of 11" under 12 boxes)?"""
    import re

    page = ArchitecturesPage(ArchitectureModel(architecture=name, kind="rnn", trained=False), query={})
    steps = page.unrolled.cells.data["step"]
    for s in (0, len(steps) - 1):
        page.model.s = s
        text = re.sub("<[^>]+>", "", page.readout.text)
        assert f"Step {s} (of 0–{len(steps) - 1})" in text, text
        assert steps[0] == 0 and steps[-1] == len(steps) - 1


def test_play_honours_the_browsers_reduced_motion_setting(monkeypatch):
    """The server-side player (Architectures, BPTT, CRNN) played at the chosen speed under "reduce motion":
    once the browser says so, is Play capped at one step per second, re-paced mid-play, and the menu's help
    saying why the speed chosen is not the speed seen?"""
    import panel as pn

    from simulator.app.components.player import REDUCED_SPEED

    periods, stopped = [], []

    class Callback:
        def __init__(self, period):
            periods.append(period)

        def stop(self):
            stopped.append(periods[-1])

    monkeypatch.setattr(pn.state, "add_periodic_callback", lambda fn, period: Callback(period))
    player = ArchitecturesPage(ArchitectureModel(trained=False), query={}).player
    player.speed = 8.0
    player.playing = True
    assert periods == [125]
    player.keys._handle_msg("reduced-motion")
    assert player.reduced_motion and periods[-1] == int(1000 / REDUCED_SPEED) and stopped == [125]
    assert "reduced motion" in player.speed_select.description
    player.speed = 0.5  # slower than the cap: the chosen speed
    assert periods[-1] == 2000
    player.keys._handle_msg("full-motion")
    player.speed = 4.0
    assert periods[-1] == 250 and "reduced motion" not in player.speed_select.description
    player.keys._handle_msg("some-other-message")
    assert not player.reduced_motion
