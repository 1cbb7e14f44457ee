"""The CRNN page's state as a ``param.Parameterized`` (no GUI): a task, a cell, a held-out example, a frame.

The numbers come from ``simulator.crnn.forward``'s cache (``frame_view``) on one held-out example; the
probabilities are ``simulator.losses.softmax`` of its output. Weights are the seeded initialisation
until the page trains them with the same reference function and sizes as the Applications page.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import param

from simulator import crnn, losses
from simulator.app.task_sizes import TASKS
from simulator.cells import KINDS
from simulator.lessons import applications, data

CRNN_TASKS = ("video", "digits")
LAYERS = ("conv1", "relu1", "pool1")


@dataclass
class CrnnRun:
    """One forward pass on one held-out example: the model, the example, its cache and output probabilities."""

    model: crnn.CRNN
    X: np.ndarray          # (1, T, C, H, W)
    label: str             # the true class, as a word or number
    classes: tuple         # class index -> label
    cache: dict
    probs: np.ndarray      # (K,) softmax of the last output

    @property
    def T(self) -> int:
        return self.X.shape[1]


def untrained(task: str, kind: str, seed: int) -> applications.Result:
    """The task's data and a freshly initialised CRNN, sized as ``applications.train_*`` builds them."""
    s = TASKS[task].kwargs
    if task == "video":
        d = data.moving_shapes(s["n"], frames=s["frames"], size=s["size"], classes=s["classes"], seed=seed)
        model = crnn.CRNN.create((1, s["size"], s["size"]), len(s["classes"]), cnn=applications.VIDEO_CNN,
                                 kind=kind, hidden_size=s["hidden_size"], seed=seed)
        return applications.Result("video", model, applications.History(), {}, d)
    d = data.digit_sequences(s["n"], terms=s["terms"], seed=seed)
    values = d.info["values"]
    model = crnn.CRNN.create((1, 8, 8), len(values), cnn=applications.DIGIT_CNN, kind=kind,
                             hidden_size=s["hidden_size"], seed=seed)
    return applications.Result("digits", model, applications.History(), {}, d, {"values": values})


def classes_of(result: applications.Result) -> tuple:
    return tuple(result.data.info["classes"]) if result.task == "video" else tuple(result.extras["values"])


class CrnnModel(param.Parameterized):
    """Settings of the CRNN page and the reference run they produce."""

    task = param.Selector(objects=list(CRNN_TASKS), default="video",
                          doc="What the CRNN reads: generated videos (direction of motion) or rows of handwritten "
                              "digits (next term of the sequence).")
    kind = param.Selector(objects=list(KINDS), default="lstm", doc="The recurrent cell that reads the features.")
    seed = param.Integer(default=0, bounds=(0, 9999), doc="Seed of the data and of the initial weights.")
    sample = param.Integer(default=0, bounds=(0, 59), doc="Which held-out example is shown (0-based).")
    t = param.Integer(default=0, bounds=(0, 5), doc="Frame shown (0-based).")
    layer = param.Selector(objects=list(LAYERS), default="relu1",
                           doc="Which CNN layer's feature maps are drawn (conv, after ReLU, after max-pool).")
    trained = param.Boolean(default=False, doc="Whether the weights have been trained on the page.")
    run = param.ClassSelector(class_=CrnnRun, doc="The forward pass of the current settings.")

    def __init__(self, **params):
        super().__init__(**params)
        self._result: applications.Result | None = None
        self._rebuild()

    @property
    def result(self) -> applications.Result:
        """The task's data and model (trained or freshly initialised)."""
        return self._result

    @param.depends("task", "kind", "seed", watch=True)
    def _rebuild(self) -> None:
        """New settings: fresh seeded weights (training is lost) and the held-out set of the task."""
        self._result = untrained(self.task, self.kind, self.seed)
        self.trained = False
        n = len(self._result.data.X_test)
        self.param.sample.bounds = (0, n - 1)
        if self.sample > n - 1:
            self.sample = n - 1  # the watcher runs the forward pass
        else:
            self._forward()

    def use_result(self, result: applications.Result) -> None:
        """Show a trained model (``applications.train_video`` / ``train_digits`` with the page's settings)."""
        self._result = result
        self.trained = True
        self._forward()

    @param.depends("sample", watch=True)
    def _forward(self) -> None:
        r = self._result
        X = r.data.X_test[self.sample : self.sample + 1]  # (1, T, C, H, W)
        Y, cache = crnn.forward(r.model, X)
        classes = classes_of(r)
        label = classes[int(r.data.y_test[self.sample])]
        T = X.shape[1]
        with param.parameterized.batch_call_watchers(self):
            self.param.t.bounds = (0, T - 1)
            self.param.update(t=min(self.t, T - 1),
                              run=CrnnRun(r.model, X, label, classes, cache, losses.softmax(Y)[0]))

    def view(self) -> dict:
        """Everything about the current frame, straight from the cache (``crnn.frame_view``)."""
        return crnn.frame_view(self.run.cache, 0, self.t)
