"""The sizes at which the pages train each application: CPU-friendly, seconds rather than minutes.

Both the CRNN page and the Applications page train with these, through ``simulator.lessons.applications``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from simulator.lessons import applications


@dataclass(frozen=True)
class TaskSettings:
    """One task: its reference training function, the keyword arguments the pages pass, and how to name it."""

    train: Callable
    kwargs: dict
    title: str
    about: str


TASKS: dict[str, TaskSettings] = {
    "video": TaskSettings(
        applications.train_video,
        {"n": 240, "frames": 6, "size": 12, "classes": ("right", "left"), "hidden_size": 16, "iterations": 150},
        "Video classification",
        "Generated videos of a shape moving right or left. Every left video is a right video played backwards, "
        "so the frames alone say nothing: a CRNN (a CNN on each frame, then a cell) must read them in order."),
    "digits": TaskSettings(
        applications.train_digits,
        {"n": 800, "terms": 4, "hidden_size": 32, "iterations": 150},
        "Handwritten digit sequences",
        "Rows of four handwritten digits from scikit-learn's load_digits, such as 1 2 4 8, and the task is the "
        "next term (16). A CNN reads each digit image, an RNN the sequence; tested on unseen handwriting."),
    "sentiment": TaskSettings(
        applications.train_sentiment,
        # NB: 16-dimensional word vectors: with 8, the fixed random vectors of 'good' and 'bad' were too alike and
        # the model read "the food was not bad" as negative (p = 0.40) while the page says word order is learned
        {"n": 1200, "iterations": 400, "embedding": 16},
        "Sentiment of short texts",
        "Templated sentences where word order matters: 'the movie was not bad' is positive, and 'good , not bad' "
        "has the same words as 'bad , not good'. Texts are written by simulator.lessons.data from word lists."),
    "forecast": TaskSettings(
        applications.train_forecaster,
        {"iterations": 300},
        "Stock price forecast",
        "Daily prices from bokeh_sampledata: a window of daily returns predicts the next day's price, compared "
        "with the naive forecast 'tomorrow = today' on later, held-out days."),
}
