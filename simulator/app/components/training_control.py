"""A Train / Stop control with a progress bar and a loss curve, driving ``ChunkedTraining`` from a periodic callback.

Every tick the page reads a snapshot of the worker, updates the bar, the status line and the loss curve,
and grants the next small chunk of iterations; the Bokeh models are touched only here, in the page's thread.
"""

from __future__ import annotations

import html
from collections.abc import Callable

import panel as pn
from bokeh.models import ColumnDataSource
from bokeh.plotting import figure

from simulator.app.components.doclock import locked
from simulator.app.training import ChunkedTraining, Snapshot

CHUNK = 5          # iterations granted first; then doubled while the worker finishes within a tick, halved if not
MAX_CHUNK = 80
PERIOD_MS = 120    # tick period


class TrainingControl(pn.viewable.Viewer):
    """Train and Stop buttons, a progress bar, a status line and the training loss curve.

    Inputs:
    - make_job: builds the ``ChunkedTraining`` for the page's current settings (may raise ValueError).
    - on_done: called with the ``applications.Result`` when training ends without error.
    - on_message: called with a list of messages to show ([] clears them).
    - background: train from a periodic callback (the served page); False trains at once (tests).
    """

    def __init__(self, make_job: Callable[[], ChunkedTraining], on_done: Callable, on_message: Callable,
                 background: bool = True, label: str = "Train"):
        super().__init__()
        self.make_job, self.on_done, self.on_message, self.background = make_job, on_done, on_message, background
        self.job: ChunkedTraining | None = None
        self._callback = None
        self._chunk = CHUNK
        self.train_button = pn.widgets.Button(label=label, color="success", width=120,
                                              css_classes=["rnn-train"])
        self.stop_button = pn.widgets.Button(label="Stop", width=80, disabled=True)
        self.train_button.on_click(lambda e: self.start())
        self.stop_button.on_click(lambda e: self.stop())
        self.bar = pn.indicators.Progress(value=0, max=100, width=210, bar_color="success", active=False,
                                          css_classes=["rnn-progress"])
        self.status = pn.pane.HTML('<span class="rnn-status">Not trained yet.</span>', width=300,
                                   styles={"font-size": "13px"})
        self.curve_source = ColumnDataSource({"it": [], "loss": []})
        self.curve = figure(width=300, height=140, title="training loss", tools="", toolbar_location=None,
                            x_axis_label="iteration", x_range=(0, 1), y_range=(0, 1))
        self.curve.title.text_font_size = "12px"
        self.curve.min_border = 4
        self.curve.line("it", "loss", source=self.curve_source, line_width=1.5)
        _cancel_when_session_ends(self)

    @property
    def running(self) -> bool:
        return self.job is not None and not self.job.snapshot().done

    @locked  # NB: a button click may arrive without the document lock; these change plain Bokeh models
    def start(self) -> None:
        """Start a fresh training run with the current settings (a running one is stopped first)."""
        self.stop()
        try:
            self.job = self.make_job()
        except ValueError as exc:
            self.on_message([str(exc)])
            return
        self.on_message([])
        self.curve_source.data = {"it": [], "loss": []}
        self.bar.param.update(value=0, max=max(self.job.total, 1), active=True)
        self.curve.x_range.update(start=0, end=max(self.job.total, 1))
        self.train_button.disabled, self.stop_button.disabled = True, False
        self._set_status("Training: starting ...")
        self._chunk = CHUNK
        if self.background:
            self.job.grant(CHUNK)
            self._callback = pn.state.add_periodic_callback(self.tick, period=PERIOD_MS)
        else:
            self._finish(self.job.run(chunk=CHUNK))

    def tick(self) -> None:
        """Show the worker's progress; grant the next chunk when it has used the last one."""
        if self.job is None:
            return
        snap = self.job.snapshot()
        self._show(snap)
        if snap.done:
            self._finish(snap)
        elif snap.waiting:
            self._chunk = min(2 * self._chunk, MAX_CHUNK)  # fast iterations: fewer, larger chunks
            self.job.grant(self._chunk)
        else:
            self._chunk = max(1, self._chunk // 2)  # slow iterations: the next grant is smaller

    @locked
    def stop(self) -> None:
        """Ask the worker to stop; the reference loop keeps the best parameters so far and evaluates them."""
        if self.job is not None and not self.job.snapshot().done:
            self.job.cancel()
            self._set_status("Stopping: evaluating the best weights so far ...")
            if not self.background:
                self._finish(self.job.run())

    def _show(self, snap: Snapshot) -> None:
        self.bar.value = min(snap.iteration, self.bar.max)
        n = len(self.curve_source.data["it"])
        if len(snap.loss) > n:
            self.curve_source.stream({"it": list(range(n + 1, len(snap.loss) + 1)), "loss": list(snap.loss[n:])})
            self.curve.y_range.update(start=0, end=1.05 * max(snap.loss))
        score = "" if snap.score is None else f", validation score {snap.score:.3f}"
        last = f", loss {snap.loss[-1]:.4f}" if snap.loss else ""
        self._set_status(f"Training: iteration {snap.iteration} of at most {snap.total}{last}{score}")

    def _finish(self, snap: Snapshot) -> None:
        if self._callback is not None:
            self._callback.stop()
            self._callback = None
        self._show(snap)
        self.bar.param.update(value=self.bar.max if not snap.error else self.bar.value, active=False)
        self.train_button.disabled, self.stop_button.disabled = False, True
        if snap.error:
            self._set_status("Training failed.")
            self.on_message([snap.error])
            return
        self._set_status(f"Trained: {snap.iteration} iterations.")
        self.on_done(snap.result)

    def _set_status(self, text: str) -> None:
        self.status.object = f'<span class="rnn-status">{html.escape(text)}</span>'

    def __panel__(self):
        return pn.Column(pn.Row(self.train_button, self.stop_button), self.bar, self.status, pn.pane.Bokeh(self.curve))


def _cancel_when_session_ends(control: TrainingControl) -> None:
    """A closed browser tab must not leave a worker waiting for its next chunk."""
    doc = pn.state.curdoc
    if doc is None or doc.session_context is None:
        return

    def cancel(session_context) -> None:
        if control.job is not None:
            control.job.cancel()

    doc.on_session_destroyed(cancel)
