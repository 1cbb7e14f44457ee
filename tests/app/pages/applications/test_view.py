"""The Applications page without a browser: training through chunks equals the reference, inputs are checked."""

import base64
import io
import threading
import time

import numpy as np
import pytest
from bokeh.events import Tap
from PIL import Image

from simulator import losses
from simulator.app.pages.applications.inputs import MAX_UPLOAD_BYTES, decode_digit_image, read_sentence
from simulator.app.pages.applications.model import ApplicationsModel
from simulator.app.pages.applications.view import ApplicationsPage
from simulator.app.task_sizes import TASKS
from simulator.app.training import ChunkedTraining
from simulator.app.workpool import Runner, WorkPool
from simulator.lessons import applications, data


def image_bytes(array, fmt="PNG") -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.asarray(array, dtype=np.uint8)).save(buf, fmt)
    return buf.getvalue()


@pytest.fixture(scope="module")
def digits_result():
    """A digit CRNN after a few iterations: enough to check that the page shows the reference's answers."""
    return applications.train_digits(n=60, iterations=3, hidden_size=8, seed=4)


@pytest.fixture(scope="module")
def sentiment_result():
    return applications.train_sentiment(n=120, iterations=20, seed=1)


def page_with(*results, **settings):
    page = ApplicationsPage(ApplicationsModel(**settings), query={}, background=False)
    for r in results:
        page.model.set_result(r)
    return page


# ----------------------------------------------------------------------------- training
def test_before_training_the_page_says_to_train_and_hides_the_try_views():
    page = page_with(task="sentiment")
    assert page.untrained.visible and "not trained yet" in page.untrained.object
    assert not page.sentiment_view.visible and not page.video_view.visible and page.metrics.object == ""


def test_forecast_trained_in_chunks_equals_the_reference_and_is_plotted():
    page = page_with(task="forecast", kind="gru", seed=3, symbol="IBM", mode="many_to_many")
    page.training.start()
    assert page.messages.messages == [] and page.forecast_view.visible and not page.untrained.visible
    r = page.model.result
    expected = applications.train_forecaster(**{**TASKS["forecast"].kwargs, "kind": "gru", "seed": 3,
                                                "symbol": "IBM", "mode": "many_to_many"})
    np.testing.assert_array_equal(r.extras["predicted_price"], expected.extras["predicted_price"])
    assert r.metrics == expected.metrics
    assert f"{expected.metrics['naive_rmse']:.3f}" in page.metrics.object
    page.model.window = 70
    info = expected.data.info
    assert page.next_src.data["price"] == [info["next_price_test"][70], expected.extras["predicted_price"][70],
                                           info["last_price_test"][70]]
    history = page.window_src.data["price"]
    assert len(history) == info["window"] + 1 and history[-1] == info["last_price_test"][70]
    period = page.period_src.data
    np.testing.assert_array_equal(period["forecast"], expected.extras["predicted_price"][10:131])
    np.testing.assert_array_equal(period["actual"], info["next_price_test"][10:131])
    assert str(info["dates_test"][70]) in page.forecast_text.object
    assert len(page.training.curve_source.data["loss"]) == len(expected.history.loss)


def test_chunked_training_can_be_stopped_and_reports_errors_as_messages():
    job = ChunkedTraining(applications.train_forecaster, {"iterations": 300, "seed": 0})
    job.grant(10)
    snap = job.wait(60)
    assert snap.iteration == 10 and snap.waiting and not snap.done
    job.cancel()
    snap = job.run()
    assert snap.done and snap.iteration == 10 and snap.result is not None and len(snap.result.history.loss) == 10

    def broken(progress, **kwargs):
        raise RuntimeError("boom")

    page = page_with(task="video")
    page.training.make_job = lambda: ChunkedTraining(broken, {"iterations": 5}, name="Training")
    page.training.start()
    assert "boom" in page.messages.pane.object and "Traceback" not in page.messages.pane.object
    assert page.model.results == {} and not page.training.train_button.disabled


def _poll_until(runner, done, limit=3000):
    for _ in range(limit):
        runner.poll()
        if done():
            return True
        time.sleep(0.01)
    return False


def test_background_training_runs_in_pool_slices_and_equals_the_reference():
    """Does training in the pool wait its turn (saying where), advance slice by slice, and equal the reference?"""
    pool = WorkPool(workers=1, max_queue=8)
    runner = Runner(pool=pool, background=True)
    page = ApplicationsPage(ApplicationsModel(task="forecast"), query={}, background=True, runner=runner)
    control = page.training
    kwargs = {**TASKS["forecast"].kwargs, "iterations": 40, "kind": "gru", "seed": 3}
    control.make_job = lambda: ChunkedTraining(applications.train_forecaster, kwargs)
    go = threading.Event()
    other = pool.submit("another session", lambda: go.wait(30))  # holds the only worker
    assert _poll_until(runner, lambda: other.state == "running")
    control.start()
    try:
        runner.poll()
        assert "you are number 1 in the queue" in control.status.object, control.status.object
        assert control.job.snapshot().iteration == 0  # nothing computed while waiting
        go.set()
        assert other.wait(30)
        assert _poll_until(runner, lambda: page.model.result is not None), control.status.object
        assert "in the queue" not in control.status.object and control.bar.value == control.bar.max
        expected = applications.train_forecaster(**kwargs)
        np.testing.assert_array_equal(page.model.result.history.loss, expected.history.loss)
        np.testing.assert_array_equal(page.model.result.extras["predicted_price"], expected.extras["predicted_price"])
        assert len(control.curve_source.data["loss"]) == len(expected.history.loss)
        assert not runner.busy()
    finally:
        control.abandon()


def test_stop_in_the_pool_evaluates_the_best_weights_and_abandon_ends_the_thread():
    """Does Stop end a pool-run training with an evaluated result, and does abandoning end its thread unevaluated?"""
    runner = Runner(pool=WorkPool(workers=1, max_queue=8), background=True)
    page = ApplicationsPage(ApplicationsModel(task="forecast"), query={}, background=True, runner=runner)
    control = page.training
    control.make_job = lambda: ChunkedTraining(applications.train_forecaster, {"iterations": 300, "seed": 1})
    control.start()
    assert _poll_until(runner, lambda: control.job.snapshot().iteration >= 3)
    control.stop()
    assert "Stopping" in control.status.object
    assert _poll_until(runner, lambda: page.model.result is not None), control.status.object
    r = page.model.result
    assert len(r.history.loss) < 300 and np.isfinite(r.metrics["rmse"]) and not control.train_button.disabled

    control.start()
    job = control.job
    assert _poll_until(runner, lambda: job.snapshot().iteration >= 2)
    control.abandon()
    assert _poll_until(runner, lambda: job.snapshot().done and not runner.busy())
    assert job._thread is not None and (job._thread.join(30) or not job._thread.is_alive())
    assert job.snapshot().result is None and page.model.result is r  # no evaluation, nothing published
    assert "Not trained" in control.status.object


# ----------------------------------------------------------------------------- trying the models
def test_digit_answers_are_the_reference_next_term_and_drawings_replace_a_slot(digits_result):
    page = page_with(digits_result, task="digits", sample=5)
    r = digits_result
    value, probs = applications.next_term(r, r.data.X_test[5])
    np.testing.assert_array_equal(page.digit_bars.source.data["p"], probs)
    assert f">{value}<" in page.digit_text.object
    for k in range(4):
        np.testing.assert_array_equal(np.flipud(page.digit_row.source.data["image"][k]), r.data.X_test[5, k, 0])
    page.model.slot = 2
    page.drawing.toggle(3, 4)
    page.drawing.toggle(3, 4)
    page.drawing._tapped(Tap(page.drawing.figure, x=4.2, y=3.9))  # a click inside cell (row 4, col 4)
    page.drawing._tapped(Tap(page.drawing.figure, x=9.0, y=1.0))  # outside the grid: ignored
    assert page.drawing.source.data["value"][3 * 8 + 4] == 1.0 and page.drawing.cells[4, 4] == 0.5
    assert page.drawing.cells.sum() == 1.5
    page._attempt(lambda: page.model.put_drawing(page.drawing.cells))
    frames = r.data.X_test[5].copy()
    frames[2, 0] = page.drawing.cells
    _, probs = applications.next_term(r, frames)
    np.testing.assert_array_equal(page.digit_bars.source.data["p"], probs)
    assert "your digit" in page.digit_row.source.data["tile"][2] and "rule says" not in page.digit_text.object
    assert page.digit_row.cursor.left == pytest.approx(2 * 8.6 - 0.15)


def test_empty_drawing_and_bad_uploads_give_messages_and_change_nothing(digits_result):
    page = page_with(digits_result, task="digits")
    before = page.digit_bars.source.data["p"]
    page._attempt(lambda: page.model.put_drawing(page.drawing.cells))
    assert "the grid is empty" in page.messages.pane.object
    cases = {
        "note.txt": (b"hello", "not a PNG or JPEG file"),
        "fake.png": (image_bytes(np.zeros((9, 9)), "GIF"), "is a GIF image; expected PNG or JPEG"),
        "huge.png": (b"\x89PNG" + bytes(MAX_UPLOAD_BYTES), "at most 2 MB"),
        "broken.png": (image_bytes(np.full((40, 40), 200))[:60], "could not be read as an image"),
        "empty.jpg": (b"", "is empty"),
    }
    for name, (content, expected) in cases.items():
        page.upload._handle_msg({"name": name, "size": len(content),
                                 "data": base64.b64encode(content).decode("ascii")})
        assert expected in page.messages.pane.object, name
        assert page.model.digits == {} and page.digit_bars.source.data["p"] == before
    assert "Traceback" not in page.messages.pane.object
    page.upload._handle_msg({"name": "big.png", "size": 50_000_000})  # the browser refused to send it
    assert "big.png&#x27; is 50.0 MB; expected at most 2 MB" in page.messages.pane.object
    page.upload._handle_msg({"name": "odd.png", "size": 10, "data": "%%% not base64"})
    assert "odd.png&#x27; is empty" in page.messages.pane.object
    seven = image_bytes(np.full((8, 8), 255) - 255 * np.eye(8), "PNG")
    page.upload._handle_msg({"name": "seven.png", "size": len(seven), "data": base64.b64encode(seven).decode()})
    assert not page.messages.pane.visible and list(page.model.digits) == [0]


def test_uploaded_images_become_load_digits_style_8x8_digits():
    images, labels = data.load_digit_images()
    digit = images[11]
    exact = decode_digit_image(image_bytes(np.round(digit * 255)), "d.png")
    np.testing.assert_allclose(exact, np.round(digit * 255) / 255)
    # the same digit, 10x larger, dark ink on white paper, as a JPEG: inverted, cropped, averaged down
    big = np.kron(255 - np.round(digit * 255), np.ones((10, 10)))
    back = decode_digit_image(image_bytes(big, "JPEG"), "photo.JPG")
    assert back.shape == (8, 8) and back.max() == pytest.approx(1.0)
    assert np.corrcoef(back.ravel(), digit.ravel())[0, 1] > 0.6
    with pytest.raises(ValueError, match="pixels on each side"):
        decode_digit_image(image_bytes(np.zeros((10, 5000))), "wide.png")


def test_sentences_are_classified_by_the_reference_and_unknown_words_are_named(sentiment_result):
    page = page_with(sentiment_result, task="sentiment")
    page.model.sentence = "the movie was zorglub , not bad"
    probs = applications.classify_text(sentiment_result, "the movie was zorglub , not bad")
    np.testing.assert_array_equal(page.sentiment_bars.source.data["p"], [probs["negative"], probs["positive"]])
    assert "rnn-unknown" in page.sentiment_text.object and "zorglub" in page.sentiment_text.object
    text, p = page.model.sentiment_contrasts()[1]
    assert f"{p['positive']:.3f}" in page.contrasts.object and text in page.contrasts.object
    assert p == applications.classify_text(sentiment_result, text)
    page.model.sentence = "   "
    assert "Sentence: is empty" in page.messages.pane.object and page.sentiment_bars.source.data["p"] == []
    page.model.sentence = "a " * 70
    assert "at most 60" in page.messages.pane.object
    page.model.sentence = "the film was good"
    assert not page.messages.pane.visible and "rnn-unknown" not in page.sentiment_text.object
    with pytest.raises(ValueError, match="control characters"):
        read_sentence("bad\x00text", sentiment_result.data.info["vocab"])


def test_video_view_shows_the_reference_prediction():
    r = applications.train_video(n=24, frames=4, size=8, hidden_size=4, iterations=2, seed=0)
    page = page_with(r, task="video", sample=3)
    X = r.data.X_test[3:4]
    np.testing.assert_array_equal(page.video_bars.source.data["p"], losses.softmax(r.model.predict(X))[0])
    np.testing.assert_array_equal(np.flipud(page.video_frames.source.data["image"][1]), X[0, 1, 0])
    assert r.data.info["classes"][int(r.data.y_test[3])] in page.video_text.object
    page.model.order = "reversed"
    np.testing.assert_array_equal(page.video_bars.source.data["p"],
                                  losses.softmax(r.model.predict(X[:, ::-1]))[0])
    np.testing.assert_array_equal(np.flipud(page.video_frames.source.data["image"][0]), X[0, -1, 0])
    assert "backwards" in page.video_text.object


def test_url_holds_the_controls_and_bad_values_become_messages():
    page = ApplicationsPage(query={"task": "forecast", "kind": "rnn", "symbol": "MSFT", "mode": "many_to_many",
                                   "seed": "12", "text": "the food was fun"}, background=False)
    m = page.model
    assert (m.task, m.kind, m.symbol, m.mode, m.seed, m.sentence) == ("forecast", "rnn", "MSFT", "many_to_many", 12,
                                                                       "the food was fun")
    assert page.forecast_controls.visible
    bad = ApplicationsPage(query={"task": "chess", "symbol": "TSLA", "seed": "-1"}, background=False)
    text = bad.messages.pane.object
    assert "URL task" in text and "URL symbol" in text and "URL seed" in text and bad.model.task == "video"


def test_the_reading_names_every_word_it_ignores_and_why(sentiment_result):
    """Does "I absolutely loved this movie!!!" name its unknown words (and the punctuation that hid 'movie')?"""
    page = page_with(sentiment_result, task="sentiment")
    page.model.sentence = "I absolutely loved this movie!!!"
    text = page.sentiment_text.object
    assert "Read 5 words" in text and "It knows 1 of them" in text
    for word in ("'i'", "'absolutely'", "'loved'", "'movie!!!'"):
        assert word in text.split("&lt;unk&gt;")[1], word
    assert "'movie!!!' would be 'movie' without its punctuation" in text
    page.model.sentence = "<b>wow</b> the film"
    assert "<b>wow" not in page.sentiment_text.object and "&lt;b&gt;wow" in page.sentiment_text.object


def test_the_contrast_table_says_right_or_wrong_instead_of_claiming(sentiment_result):
    """Does the page judge each contrast against its label (a weakly trained model is called wrong)?"""
    from simulator.app.pages.applications.model import CONTRAST_LABELS

    page = page_with(sentiment_result, task="sentiment")
    right = sum((p["positive"] > 0.5) == bool(CONTRAST_LABELS[t]) for t, p in page.model.sentiment_contrasts())
    text = page.contrasts.object
    assert f"right on <span class='rnn-contrast-score'>{right} of 6</span>" in text
    assert text.count("<b>wrong</b>") == 6 - right
    assert ("not</b> fully learned" in text) == (right < 6)


def test_the_page_sizes_learn_every_contrast():
    """At the page's own training sizes, does the sentiment model get every contrast right (the claim holds)?"""
    from simulator.app.pages.applications.model import CONTRAST_LABELS
    from simulator.app.task_sizes import TASKS

    s = TASKS["sentiment"]
    for kind, seed in (("lstm", 0), ("rnn", 1)):
        r = s.train(**s.kwargs, kind=kind, seed=seed)
        for text, label in CONTRAST_LABELS.items():
            p = applications.classify_text(r, text)["positive"]
            assert (p > 0.5) == bool(label), (kind, seed, text, p)


def test_a_trained_page_is_in_the_url_and_a_reopened_url_trains_again():
    """Does ?trained=true reproduce the trained model (same seed, same result) and does the flag follow the task?"""
    from simulator.app.components.urlstate import query_of
    from simulator.app.pages.applications.view import URL_KEYS

    page = ApplicationsPage(ApplicationsModel(), query={"task": "sentiment", "seed": "2", "trained": "true",
                                                        "text": "the film was good"}, background=False)
    m = page.model
    assert m.result is not None and m.trained and query_of(m, URL_KEYS)["trained"] == "true"
    again = ApplicationsPage(ApplicationsModel(), query=query_of(m, URL_KEYS), background=False)
    assert again.model.result is not None and not again.messages.messages
    assert again.model.sentiment()["probs"] == m.sentiment()["probs"]
    m.task = "video"
    assert not m.trained and query_of(m, URL_KEYS)["trained"] == "false"
    m.task = "sentiment"
    assert m.trained


def test_twenty_presses_of_train_leave_one_run_and_no_stray_threads():
    """A visitor pressing Train again and again: does each press abandon the previous run (its thread ends
    unevaluated), so the session never holds more than one job and one live training thread?"""
    pool = WorkPool(workers=1, max_queue=8)
    runner = Runner(pool=pool, background=True)
    page = ApplicationsPage(ApplicationsModel(task="forecast"), query={}, background=True, runner=runner)
    control = page.training
    control.make_job = lambda: ChunkedTraining(applications.train_forecaster, {"iterations": 300, "seed": 2})
    jobs = []
    for _ in range(20):
        control.start()
        jobs.append(control.job)
        runner.poll()
        assert pool.stats()["running"] + pool.stats()["queued"] <= 1
    try:
        assert _poll_until(runner, lambda: all(j.snapshot().done for j in jobs[:-1]))
        for job in jobs[:-1]:
            if job._thread is not None:
                job._thread.join(30)
                assert not job._thread.is_alive()
            assert job.snapshot().result is None  # abandoned: never evaluated
        assert _poll_until(runner, lambda: page.model.result is not None)
        assert page.model.result is jobs[-1].snapshot().result
    finally:
        control.abandon()
