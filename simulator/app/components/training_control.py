"""A Train / Stop control with a progress bar and a loss curve; training runs as time slices in the worker pool.

Each slice is one job of the session's ``workpool.Runner`` (``ChunkedTraining.advance``), so training waits its
turn behind other sessions' heavy work, and the page says "The server is busy: you are number N in the queue"
while it waits. The Bokeh models are touched only on the event loop (the Runner's ``apply`` and ``on_wait``).
"""

from __future__ import annotations

import html
from collections.abc import Callable

import panel as pn
from bokeh.models import ColumnDataSource
from bokeh.plotting import figure

from simulator.app.components.doclock import locked
from simulator.app.training import CHUNK_SECONDS, ChunkedTraining, Snapshot
from simulator.app.workpool import Runner, session_runner

CHUNK = 25  # iterations granted at a time when training without a server (tests, scripts)
KEY = "training"
SHOW_EVERY = 3  # polls (120 ms each) between two progress updates while a slice runs: fewer patches per session


class TrainingControl(pn.viewable.Viewer):
    """Train and Stop buttons, a progress bar, a status line and the training loss curve.

    Inputs:
    - make_job: builds the ``ChunkedTraining`` for the page's current settings (may raise ValueError).
    - on_done: called with the ``applications.Result`` when training ends without error.
    - on_message: called with a list of messages to show ([] clears them).
    - background: train in the worker pool, slice by slice (the served page); False trains at once (tests).
    - runner: the session's ``workpool.Runner`` (default ``session_runner()``).
    """

    def __init__(self, make_job: Callable[[], ChunkedTraining], on_done: Callable, on_message: Callable,
                 background: bool = True, label: str = "Train", runner: Runner | None = None):
        super().__init__()
        self.make_job, self.on_done, self.on_message = make_job, on_done, on_message
        self.runner = runner or session_runner()
        self.background = background and self.runner.background
        self.job: ChunkedTraining | None = None
        self._place = 0
        self._polls = 0
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
        """Start a fresh training run with the current settings (a running one is abandoned first)."""
        self.abandon()
        try:
            job = self.make_job()
        except ValueError as exc:
            self.on_message([str(exc)])
            return
        self.job = job
        self.on_message([])
        self.curve_source.data = {"it": [], "loss": []}
        self.bar.param.update(value=0, max=max(job.total, 1), active=True)
        self.curve.x_range.update(start=0, end=max(job.total, 1))
        self.train_button.disabled, self.stop_button.disabled = True, False
        self._set_status("Training: starting ...")
        if self.background:
            self._request(job)
        else:
            self._finish(job.run(chunk=CHUNK))

    @locked
    def stop(self) -> None:
        """Ask the run to stop; the reference loop keeps the best parameters so far and evaluates them."""
        if self.job is not None and not self.job.snapshot().done:
            self.job.cancel()
            self._set_status("Stopping: evaluating the best weights so far ..." + self._queue_note())
            if not self.background:
                self._finish(self.job.run())

    @locked
    def abandon(self) -> None:
        """Forget the current run (new settings, a new run, the tab closed): it ends without evaluating."""
        job, self.job = self.job, None
        if job is None:
            return
        job.abandon()
        self.runner.cancel(KEY)
        if self.train_button.disabled:
            self.bar.param.update(active=False)
            self.train_button.disabled, self.stop_button.disabled = False, True
            self._set_status("Not trained yet.")

    # ------------------------------------------------------------------ slices in the pool
    def _request(self, job: ChunkedTraining) -> None:
        self.runner.request(KEY, lambda: self._admit(job), on_wait=lambda place: self._waiting(job, place),
                            on_error=lambda text: self._failed(job, text))

    def _admit(self, job: ChunkedTraining):
        """Admitted: one slice of ``job`` (None when the run was replaced or abandoned meanwhile)."""
        if job is not self.job or job.abandoned:
            return None
        return (lambda: job.advance(CHUNK_SECONDS)), (lambda snap: self._advanced(job, snap))

    def _advanced(self, job: ChunkedTraining, snap: Snapshot) -> None:
        if job is not self.job:
            return
        self._place = 0
        if snap.done:
            self._finish(snap)
            return
        self._show(snap)
        self._request(job)  # the next slice goes to the back of the queue: sessions take turns

    def _waiting(self, job: ChunkedTraining, place: int) -> None:
        """At every poll: a new place shows at once; progress within a slice at most every ``SHOW_EVERY`` polls."""
        if job is not self.job:
            return
        self._polls += 1
        if place == self._place and self._polls % SHOW_EVERY:
            return
        self._place = place
        self._show(job.snapshot())

    def _failed(self, job: ChunkedTraining, text: str) -> None:
        if job is not self.job:
            return
        job.abandon()
        self._finish(Snapshot(job.snapshot().iteration, job.total, (), None, False, True, f"Training: {text}", None))

    def _queue_note(self) -> str:
        return f" The server is busy: you are number {self._place} in the queue." if self._place else ""

    def _show(self, snap: Snapshot) -> None:
        self.bar.value = min(snap.iteration, self.bar.max)
        n = len(self.curve_source.data["it"])
        if len(snap.loss) > n:
            self.curve_source.stream({"it": list(range(n + 1, len(snap.loss) + 1)), "loss": list(snap.loss[n:])})
            self.curve.y_range.update(start=0, end=1.05 * max(snap.loss))
        score = "" if snap.score is None else f", validation score {snap.score:.3f}"
        last = f", loss {snap.loss[-1]:.4f}" if snap.loss else ""
        what = "Stopping" if self.job is not None and self.job.cancelled and not snap.done else "Training"
        self._set_status(f"{what}: iteration {snap.iteration} of at most {snap.total}{last}{score}", self._queue_note())

    def _finish(self, snap: Snapshot) -> None:
        self._place = 0
        self._show(snap)
        self.bar.param.update(value=self.bar.max if not snap.error else self.bar.value, active=False)
        self.train_button.disabled, self.stop_button.disabled = False, True
        if snap.error:
            self._set_status("Training failed.")
            self.on_message([snap.error])
            return
        self._set_status(f"Trained: {snap.iteration} iterations.")
        self.on_done(snap.result)

    def _set_status(self, text: str, queue: str = "") -> None:
        note = f' <span class="rnn-queue">{html.escape(queue.strip())}</span>' if queue else ""
        self.status.object = f'<span class="rnn-status">{html.escape(text)}</span>{note}'

    def __panel__(self):
        return pn.Column(pn.Row(self.train_button, self.stop_button), self.bar, self.status, pn.pane.Bokeh(self.curve))


def _cancel_when_session_ends(control: TrainingControl) -> None:
    """A closed browser tab must not leave its training thread waiting for a slice (the Runner drops the job)."""
    doc = pn.state.curdoc
    if doc is None or doc.session_context is None:
        return

    def cancel(session_context) -> None:
        if control.job is not None:
            control.job.abandon()
            control.job = None

    doc.on_session_destroyed(cancel)
