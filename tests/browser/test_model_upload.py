"""The Cell page's "Your model" section in real Chromium: the lesson's trained .keras file and its vocabulary are
uploaded, the shown h_t is Keras's own, a bad file gets a message naming it, and the page keeps working."""

from __future__ import annotations

import os

import numpy as np
import pytest

from simulator.lessons import data

from .conftest import SCREENSHOTS
from .test_pages import exact_of, wait_text

pytestmark = [pytest.mark.browser,
              pytest.mark.filterwarnings("ignore:__array__ implementation doesn't accept a copy keyword")]
keras = pytest.importorskip("keras")
SECTION = ".rnn-your-model"


@pytest.fixture(scope="module")
def lesson_model(tmp_path_factory):
    """The lesson's classifier trained by examples/train_sentiment_lstm.py: a short run for the test, the script's
    full run when the README's screenshot is being refreshed (RNN_SCREENSHOTS_DIR set, see conftest)."""
    from examples.train_sentiment_lstm import train

    out = tmp_path_factory.mktemp("lesson") / "sentiment_lstm"
    if os.environ.get("RNN_SCREENSHOTS_DIR"):
        return train(out)
    return train(out, n=600, epochs=8)


def keras_h(path, words: list[str], t: int) -> np.ndarray:
    """h_t of the saved model's LSTM for the sentence, by Keras itself (the LSTM run on the first t+1 words)."""
    model = keras.saving.load_model(path)
    vocab = data.build_vocab()
    ids = np.array([[vocab.index(w) for w in words[: t + 1]]])
    embedding, lstm = model.layers[0], model.layers[1]
    return np.asarray(lstm(embedding(ids)).detach())[0]


def test_lesson_model_upload_shows_keras_h_t_and_bad_files_get_messages(server, open_page, lesson_model, tmp_path):
    page = open_page(server + "/cell")
    section = page.locator(SECTION)
    model_input = page.get_by_label("Upload a trained model file")
    model_input.wait_for(state="attached", timeout=40000)

    bad = tmp_path / "notes.keras"
    bad.write_text("this is not a model")
    model_input.set_input_files(str(bad))
    wait_text(page, ".rnn-model-message-text", "notes.keras: is not a model file", contains=True)

    huge = tmp_path / "huge.keras"
    huge.write_bytes(bytes(9 * 1024 * 1024))  # over the cap: the browser sends its size, not its bytes
    model_input.set_input_files(str(huge))
    wait_text(page, ".rnn-model-message-text", "huge.keras: 9,437,184 bytes; expected at most", contains=True)

    model_input.set_input_files(str(lesson_model["model"]))
    wait_text(page, ".rnn-model-summary-text", "sentiment_lstm.keras", contains=True)
    page.get_by_label("Upload a vocabulary file (one word per line)").set_input_files(str(lesson_model["vocabulary"]))
    wait_text(page, ".rnn-upload-text", "(word the)", contains=True)
    words = "the movie was not good".split()
    for t in (1, 2, 3):
        section.get_by_role("button", name="Step ▶").click()
        wait_text(page, ".rnn-upload-text", f"t = {t} (of 0–4) (word {words[t]})", contains=True)
    shown = exact_of(page, ".rnn-upload-h")
    expected = float(keras_h(lesson_model["model"], words, 3)[0])
    assert abs(shown - expected) <= 1e-5 * max(1.0, abs(expected)), (shown, expected)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    section.screenshot(path=str(SCREENSHOTS / "model-upload.png"))
    # the ordinary Cell page above still steps
    page.get_by_role("button", name="Step ▶").first.click()
    wait_text(page, ".rnn-t", "t = 1", contains=True)
