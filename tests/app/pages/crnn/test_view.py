"""The CRNN page driven through its parameters, without a browser: every drawn number is the reference cache's."""

import numpy as np
import pytest

from simulator import crnn, losses
from simulator.app.pages.crnn.model import CrnnModel
from simulator.app.pages.crnn.view import CrnnPage
from simulator.app.task_sizes import TASKS
from simulator.lessons import applications, data


def reference(task="video", kind="lstm", seed=0, sample=0):
    """An independent forward pass of the reference CRNN with the page's sizes."""
    s = TASKS[task].kwargs
    if task == "video":
        d = data.moving_shapes(s["n"], frames=s["frames"], size=s["size"], classes=s["classes"], seed=seed)
        model = crnn.CRNN.create((1, s["size"], s["size"]), len(s["classes"]), cnn=applications.VIDEO_CNN,
                                 kind=kind, hidden_size=s["hidden_size"], seed=seed)
    else:
        d = data.digit_sequences(s["n"], terms=s["terms"], seed=seed)
        model = crnn.CRNN.create((1, 8, 8), len(d.info["values"]), cnn=applications.DIGIT_CNN, kind=kind,
                                 hidden_size=s["hidden_size"], seed=seed)
    Y, cache = crnn.forward(model, d.X_test[sample : sample + 1])
    return d, Y, cache


def tile(tiles, k):
    """Tile k as stored in the image source, turned back to row 0 on top."""
    return np.flipud(tiles.source.data["image"][k])


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
def test_every_view_holds_the_reference_cache_at_every_frame(kind):
    page = CrnnPage(CrnnModel(kind=kind, seed=2, sample=3), query={}, background=False)
    d, Y, cache = reference(kind=kind, seed=2, sample=3)
    T = cache["X"].shape[1]
    for k in range(T):
        np.testing.assert_array_equal(tile(page.frames, k), d.X_test[3, k, 0], err_msg=f"frame {k}")
    np.testing.assert_array_equal(page.feature_map.source.data["image"][0], cache["features"][0].T)
    np.testing.assert_array_equal(page.state_map.source.data["image"][0], cache["H"][0].T)
    for t in (2, 0, T - 1):
        page.model.t = t
        fmap = cache["maps"]["relu1"][0, t]
        for k in range(len(fmap)):
            np.testing.assert_array_equal(tile(page.maps, k), fmap[k], err_msg=f"{kind} relu1 t={t} filter {k}")
        np.testing.assert_array_equal(page.vectors.values("fₜ (features)"), cache["features"][0, t])
        np.testing.assert_array_equal(page.vectors.values("hₜ"), cache["H"][0, t])
        if kind == "lstm":
            np.testing.assert_array_equal(page.vectors.values("cₜ"), cache["rnn"]["C"][0, t])
        else:
            assert "cₜ" not in page.vectors.source.data["row"]
        exact = [e for e, r in zip(page.vectors.source.data["exact"], page.vectors.source.data["row"], strict=True)
                 if r == "hₜ"]
        assert [float(e) for e in exact] == cache["H"][0, t].tolist()
        assert page.frames.cursor.visible and page.state_map.cursor.data["left"] == [t - 0.5]
    probs = losses.softmax(Y)[0]
    np.testing.assert_array_equal(page.bars.source.data["p"], probs)
    assert page.bars.source.data["label"] == ["right", "left"]


def test_prediction_is_shown_only_after_the_last_frame():
    page = CrnnPage(CrnnModel(), query={}, background=False)
    page.model.t = 1
    assert page.bars.source.data["p"] == [0.0, 0.0]
    assert "appears at the last frame" in page.readout.object
    page.player.command("last")
    assert page.model.t == 5 and max(page.bars.source.data["p"]) > 0
    assert "rnn-prediction" in page.readout.object


def test_layer_choice_and_digit_task_follow_the_reference():
    page = CrnnPage(CrnnModel(), query={}, background=False)
    m = page.model
    m.param.update(task="digits", kind="gru", sample=7)
    m.layer = "pool1"
    m.t = 2
    d, Y, cache = reference("digits", "gru", sample=7)
    assert m.run.T == 4 and page.model.param.t.bounds == (0, 3)
    for k in range(8):
        np.testing.assert_array_equal(tile(page.maps, k), cache["maps"]["pool1"][0, 2, k])
    assert tile(page.maps, 0).shape == (4, 4)
    np.testing.assert_array_equal(tile(page.frames, 2), d.X_test[7, 2, 0])
    assert page.bars.source.data["label"] == [str(v) for v in d.info["values"]]


def test_url_sets_the_controls_and_bad_values_become_messages():
    page = CrnnPage(query={"task": "digits", "kind": "rnn", "sample": "4", "layer": "conv1", "t": "3"},
                    background=False)
    m = page.model
    assert (m.task, m.kind, m.sample, m.layer, m.t) == ("digits", "rnn", 4, "conv1", 3)
    bad = CrnnPage(query={"kind": "<script>", "t": "99", "sample": "x"}, background=False)
    assert (bad.model.kind, bad.model.t, bad.model.sample) == ("lstm", 0, 0)
    text = bad.messages.pane.object
    assert bad.messages.pane.visible and "URL kind" in text and "URL t" in text and "URL sample" in text
    assert "<script>" not in text


def test_out_of_range_field_gives_a_message_and_keeps_the_value():
    page = CrnnPage(CrnnModel(sample=2), query={}, background=False)
    page.sample_field.value = "10000"  # number fields are text fields: the server parses what was typed
    assert page.model.sample == 2 and page.sample_field.value == "2"
    assert page.messages.pane.visible and "Held-out example: got 10000" in page.messages.pane.object
    page.sample_field.value = "5"
    assert page.model.sample == 5 and not page.messages.pane.visible


def test_training_shows_the_trained_model_of_the_reference_function():
    page = CrnnPage(CrnnModel(kind="gru", seed=1), query={}, background=False)
    page.training.start()
    m = page.model
    assert m.trained and "trained" in page.pipeline.object and page.messages.messages == []
    expected = TASKS["video"].train(**{**TASKS["video"].kwargs, "kind": "gru", "seed": 1})
    for name, value in expected.model.params.items():
        np.testing.assert_array_equal(m.result.model.params[name], value, err_msg=name)
    m.t = 5
    X = expected.data.X_test[:1]
    np.testing.assert_array_equal(page.bars.source.data["p"], losses.softmax(expected.model.predict(X))[0])
    m.kind = "lstm"  # new settings: fresh seeded weights again
    assert not m.trained
