"""The Applications page in real Chromium: bad uploads get clear messages, Train runs with a progress bar and
then shows the forecast, and nothing is logged as a console error."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from .conftest import screenshot
from .test_pages import text_of, wait_text

pytestmark = pytest.mark.browser


def test_bad_uploads_and_empty_drawings_get_messages_then_drawn_and_uploaded_digits_are_taken(server, open_page,
                                                                                               tmp_path):
    page = open_page(server + "/applications?task=digits&slot=1")
    upload = page.locator("input.rnn-upload-input")
    upload.wait_for(state="attached", timeout=20000)
    text = tmp_path / "notes.txt"
    text.write_text("not an image")
    huge = tmp_path / "huge.png"
    huge.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(3 * 1024 * 1024))
    broken = tmp_path / "broken.png"
    buf = io.BytesIO()
    Image.fromarray(np.full((40, 40), 200, dtype=np.uint8)).save(buf, "PNG")
    broken.write_bytes(buf.getvalue()[:50])
    for path, words in ((text, "not a PNG or JPEG file"), (huge, "expected at most 2 MB"),
                        (broken, "could not be read as an image")):
        upload.set_input_files(str(path))
        wait_text(page, ".rnn-message-text", words, contains=True)

    page.get_by_role("button", name="Use my drawing").click()
    wait_text(page, ".rnn-message-text", "the grid is empty", contains=True)
    box = page.locator(".rnn-drawing").bounding_box()
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2 + 10)  # a cell near the middle
    page.get_by_role("button", name="Use my drawing").click()
    wait_text(page, ".rnn-digit-note", "slot(s) 1", contains=True)
    page.get_by_role("button", name="Back to the held-out digits").click()
    wait_text(page, ".rnn-digit-note", "")
    good = tmp_path / "seven.png"
    digit = np.full((64, 64), 255, dtype=np.uint8)
    digit[10:16, 12:52] = 0
    digit[16:56, 40:46] = 0
    Image.fromarray(digit).save(good)
    upload.set_input_files(str(good))
    wait_text(page, ".rnn-digit-note", "slot(s) 1", contains=True)
    assert page.locator(".rnn-message-text").count() == 0 or text_of(page, ".rnn-message-text") == ""


def test_training_shows_progress_then_the_forecast_against_the_naive_baseline(server, open_page):
    page = open_page(server + "/applications?task=forecast&kind=gru&window=40")
    wait_text(page, ".rnn-status", "Not trained yet.")
    page.get_by_role("button", name="Train", exact=True).click()
    wait_text(page, ".rnn-status", "Trained:", contains=True)
    wait_text(page, ".rnn-metrics", "vs naive", contains=True)
    forecast = text_of(page, ".rnn-forecast-answer")
    assert "actual" in forecast and "naive" in forecast and "model" in forecast
    page.wait_for_function("() => window.location.search.includes('task=forecast')", timeout=20000)
    screenshot(page, "applications")
