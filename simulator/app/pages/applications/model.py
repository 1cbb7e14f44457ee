"""The Applications page's state as a ``param.Parameterized`` (no GUI): a task, its settings, trained results, inputs.

Training and prediction are the reference's (``simulator.lessons.applications``): ``train_*`` builds the results,
``next_term`` and ``classify_text`` answer for a visitor's digits and sentences, the forecaster's held-out
prices are ``Result.extras["predicted_price"]``. Nothing here computes a layer or a gate.
"""

from __future__ import annotations

import numpy as np
import param

from simulator import losses
from simulator.app.pages.applications.inputs import (
    MAX_UPLOAD_BYTES,
    check_drawing,
    decode_digit_image,
    read_sentence,
    too_large,
)
from simulator.app.task_sizes import TASKS
from simulator.app.training import ChunkedTraining
from simulator.cells import KINDS
from simulator.lessons import applications, data

# Sentences where word order or a negation decides the sentiment (the templates of ``simulator.lessons.data``),
# with the label the templates give them (1 positive, 0 negative).
CONTRAST_LABELS = {"the movie was good , not bad": 1, "the movie was bad , not good": 0, "the food was not bad": 1,
                   "the food was bad": 0, "the hotel was not good at all": 0, "the hotel was good": 1}
CONTRASTS = tuple(CONTRAST_LABELS)


class ApplicationsModel(param.Parameterized):
    """Settings of the Applications page, the trained results, and what a visitor asks the models."""

    task = param.Selector(objects=list(TASKS), default="video", doc="Which application is shown.")
    kind = param.Selector(objects=list(KINDS), default="lstm", doc="The recurrent cell used when training.")
    seed = param.Integer(default=0, bounds=(0, 9999), doc="Seed of the data, the weights and the batch order.")
    symbol = param.Selector(objects=list(data.SYMBOLS), default="AAPL", doc="Stock whose prices are forecast.")
    mode = param.Selector(objects=["many_to_one", "many_to_many"], default="many_to_one",
                          doc="Forecast head: the last state only, or a next-day target at every step.")
    sample = param.Integer(default=0, bounds=(0, 199), doc="Held-out example shown (video or digit sequence).")
    slot = param.Integer(default=0, bounds=(0, 3), doc="Which digit of the sequence a drawing or upload replaces.")
    window = param.Integer(default=0, bounds=(0, 10_000), doc="Held-out forecast window shown (0 = the first).")
    order = param.Selector(objects=["recorded", "reversed", "shuffled"], default="recorded",
                           doc="Frame order fed to the video model: as recorded, played backwards, or shuffled.")
    sentence = param.String(default="the movie was not bad", doc="A sentence for the sentiment model.")
    trained = param.Boolean(default=False, doc="The current task has a trained model (in the URL: a reopened "
                                                "page trains it again, with the same seed, hence the same result).")
    results = param.Dict(default={}, doc="task -> applications.Result of the last finished training.")
    digits = param.Dict(default={}, doc="slot -> (8, 8) digit image drawn or uploaded by the visitor.")

    # ------------------------------------------------------------------ training
    def training_job(self) -> ChunkedTraining:
        """The reference training of the current task at the page's sizes, with the chosen cell and seed."""
        settings = TASKS[self.task]
        kwargs = {**settings.kwargs, "kind": self.kind, "seed": self.seed}
        if self.task == "forecast":
            kwargs.update(symbol=self.symbol, mode=self.mode)
        return ChunkedTraining(settings.train, kwargs, name=f"Training the {settings.title.lower()} model")

    def set_result(self, result: applications.Result) -> None:
        """Keep a finished training's result and fit the example indices to its held-out data."""
        results = dict(self.results)
        results[result.task] = result
        if result.task == "forecast":
            self.param.window.bounds = (0, len(result.data.X_test) - 1)
            self.window = min(self.window, len(result.data.X_test) - 1)
        elif result.task in ("video", "digits"):
            self.param.sample.bounds = (0, len(result.data.X_test) - 1)
            self.sample = min(self.sample, len(result.data.X_test) - 1)
            if result.task == "digits":
                T = result.data.X_test.shape[1]
                self.param.slot.bounds = (0, T - 1)
                self.slot = min(self.slot, T - 1)
        self.results = results
        self.trained = self.result is not None

    @param.depends("task", watch=True)
    def _on_task(self) -> None:
        self.trained = self.result is not None

    @property
    def result(self) -> applications.Result | None:
        """The trained result of the current task, or None before training."""
        return self.results.get(self.task)

    def _need(self, task: str) -> applications.Result:
        r = self.results.get(task)
        if r is None:
            raise ValueError(f"{TASKS[task].title}: not trained yet; press Train first")
        return r

    # ------------------------------------------------------------------ trying the models
    def video(self) -> dict:
        """The held-out video ``sample`` in frame ``order``: frames (T, S, S), the recorded video's class, and
        the probabilities ``softmax(model.predict(frames))`` for the frames in that order.
        """
        r = self._need("video")
        X = r.data.X_test[self.sample : self.sample + 1]
        T = X.shape[1]
        if self.order == "reversed":
            order = np.arange(T)[::-1]
        elif self.order == "shuffled":
            order = np.random.default_rng([self.seed, self.sample]).permutation(T)
        else:
            order = np.arange(T)
        X = X[:, order]  # (1, T, C, H, W) in the chosen order
        probs = losses.softmax(r.model.predict(X))[0]
        classes = r.data.info["classes"]
        return {"frames": X[0, :, 0], "order": order, "label": classes[int(r.data.y_test[self.sample])],
                "classes": classes, "probs": probs}

    def digit_frames(self) -> tuple[np.ndarray, list[bool]]:
        """The digit sequence to read: held-out ``sample`` with the visitor's digits in their slots.

        Returns frames (T, 1, 8, 8) and which slots hold the visitor's digits.
        """
        r = self._need("digits")
        frames = r.data.X_test[self.sample].copy()  # (T, 1, 8, 8)
        mine = [False] * len(frames)
        for slot, image in self.digits.items():
            if 0 <= slot < len(frames):
                frames[slot, 0] = image
                mine[slot] = True
        return frames, mine

    def digit_answer(self) -> dict:
        """``applications.next_term`` of the current sequence, with the held-out truth when untouched."""
        r = self._need("digits")
        frames, mine = self.digit_frames()
        value, probs = applications.next_term(r, frames)
        terms = r.data.info["terms_test"][self.sample]
        truth = None if any(mine) else int(r.extras["values"][int(r.data.y_test[self.sample])])
        return {"frames": frames, "mine": mine, "value": value, "probs": probs, "values": r.extras["values"],
                "terms": [None if m else int(d) for d, m in zip(terms, mine, strict=True)], "truth": truth}

    def put_digit(self, image: np.ndarray) -> None:
        """Put an (8, 8) digit image into slot ``slot``."""
        digits = dict(self.digits)
        digits[self.slot] = np.asarray(image, dtype=np.float64)
        self.digits = digits

    def put_drawing(self, cells) -> None:
        self.put_digit(check_drawing(cells))

    def put_upload(self, content: bytes | None, filename: str = "", size: int | None = None) -> None:
        """An uploaded file's bytes (None: the browser did not send a file of ``size`` bytes, too large)."""
        if content is None and size is not None and size > MAX_UPLOAD_BYTES:
            raise ValueError(too_large(filename, size))
        self.put_digit(decode_digit_image(content, filename))

    def clear_digits(self) -> None:
        self.digits = {}

    def sentiment(self) -> dict:
        """``applications.classify_text`` of ``sentence`` and the words the model has never seen."""
        r = self._need("sentiment")
        words, unknown = read_sentence(self.sentence, r.data.info["vocab"])
        probs = applications.classify_text(r, self.sentence)
        return {"words": words, "unknown": unknown, "probs": probs}

    def sentiment_contrasts(self) -> list[tuple[str, dict[str, float]]]:
        """``classify_text`` of sentences where word order or a negation decides (``CONTRASTS``)."""
        r = self._need("sentiment")
        return [(text, applications.classify_text(r, text)) for text in CONTRASTS]

    def forecast(self, days: int = 60) -> dict:
        """Held-out window ``window``: the prices before it, the next day's price, the model's and the naive forecast.

        Also the held-out period around it (``days`` either side) and the metrics of the whole held-out set.
        """
        r = self._need("forecast")
        info, k = r.data.info, self.window
        w = info["window"]
        dates, prices = info["dates"], info["prices"]
        end = int(np.flatnonzero(dates == info["dates_test"][k])[0]) - 1  # day t: the window's last price
        lo, hi = max(0, k - days), min(len(info["dates_test"]), k + days + 1)
        return {"history_dates": dates[end - w : end + 1], "history": prices[end - w : end + 1],
                "day": info["dates_test"][k], "actual": float(info["next_price_test"][k]),
                "forecast": float(r.extras["predicted_price"][k]), "naive": float(info["last_price_test"][k]),
                "period_dates": info["dates_test"][lo:hi], "period_actual": info["next_price_test"][lo:hi],
                "period_forecast": r.extras["predicted_price"][lo:hi], "period_naive": info["last_price_test"][lo:hi],
                "metrics": r.metrics, "symbol": info["symbol"], "mode": info["mode"]}
