import numpy as np
import pytest

from simulator.app.pages.cell import presets


@pytest.mark.parametrize("preset", ["sine", "step", "impulse", "random"])
def test_inputs_have_the_requested_shape(preset):
    """Does every numeric preset give one (1, T, D) float64 sequence?"""
    X = presets.make_inputs(preset, 3, 11, seed=2)
    assert X.shape == (1, 11, 3) and X.dtype == np.float64 and np.isfinite(X).all()


def test_word_is_one_hot_over_its_alphabet():
    """Is each character one-hot at its index in the sorted alphabet of the word?"""
    X = presets.make_inputs("word", 99, 99, word="banana")
    assert X.shape == (1, 6, 3)
    np.testing.assert_array_equal(X[0].argmax(axis=1), [1, 0, 2, 0, 2, 0])  # a=0, b=1, n=2
    np.testing.assert_array_equal(X.sum(axis=2), 1.0)


@pytest.mark.parametrize("word, match", [("", "empty"), ("x" * 41, "at most"), ("abcdefghijklmnopq", "distinct"),
                                         ("a\x00b", "control")])
def test_bad_words_are_refused_with_a_reason(word, match):
    with pytest.raises(ValueError, match=match):
        presets.make_inputs("word", 1, 1, word=word)


def test_situations_set_the_named_weights():
    """Do the named situations change exactly what they say?"""
    lstm = presets.make_cell("lstm", 2, 3, seed=1, situation="saturated_forget")
    np.testing.assert_array_equal(lstm.params["b"][3:6], presets.SATURATING_BIAS)
    gru = presets.make_cell("gru", 2, 3, seed=1, situation="saturated_forget")
    np.testing.assert_array_equal(gru.params["b_x"][:3], presets.SATURATING_BIAS)
    rnn = presets.make_cell("rnn", 2, 3, seed=1, situation="identity_recurrence")
    np.testing.assert_array_equal(rnn.params["W_hh"], np.eye(3))
    big = presets.make_cell("rnn", 2, 3, seed=1, situation="large_recurrent")
    np.testing.assert_allclose(np.linalg.svd(big.params["W_hh"], compute_uv=False), 3.0)


def test_edits_parse_apply_and_format():
    edits = presets.parse_edits(" W_h[0, 1] = 0.5 ; b[2]=-1e-3")
    assert edits == [("W_h", (0, 1), 0.5), ("b", (2,), -0.001)]
    cell = presets.make_cell("lstm", 2, 3)
    presets.apply_edits(cell.params, edits)
    assert cell.params["W_h"][0, 1] == 0.5 and cell.params["b"][2] == -0.001
    assert presets.parse_edits(presets.format_edits(edits)) == edits


@pytest.mark.parametrize("text, match", [("W_h[0,1]=nan", "not finite"), ("W_h[0,1]=abc", "not a number"),
                                         ("W_h(0)=1", "cannot read"), ("W_h[0,1]=inf", "not finite")])
def test_malformed_edits_say_why(text, match):
    with pytest.raises(ValueError, match=match):
        presets.parse_edits(text)


@pytest.mark.parametrize("text, match", [("W_q[0,0]=1", "no parameter"), ("W_h[9,0]=1", "outside"),
                                         ("b[0,0]=1", "outside")])
def test_edits_that_do_not_fit_the_cell_say_why(text, match):
    cell = presets.make_cell("lstm", 2, 3)
    with pytest.raises(ValueError, match=match):
        presets.apply_edits(cell.params, presets.parse_edits(text))
