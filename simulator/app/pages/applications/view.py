"""Applications page: train the lesson's four applications in the browser, then try them on your own input.

The model is ``simulator.app.pages.applications.model.ApplicationsModel`` (no GUI); this module is its view.
Training runs the reference ``simulator.lessons.applications.train_*`` a few iterations per periodic callback.
"""

from __future__ import annotations

import html
from collections.abc import Callable

import numpy as np
import panel as pn
import param
from bokeh.models import ColumnDataSource, HoverTool, Span
from bokeh.plotting import figure

from simulator.app.components.errors import MessageBox
from simulator.app.components.fields import checked_field
from simulator.app.components.reflow import beside
from simulator.app.components.tiles import Bars, DrawingGrid, ImageTiles
from simulator.app.components.training_control import TrainingControl
from simulator.app.components.upload import ImageUpload
from simulator.app.components.urlstate import UrlState
from simulator.app.pages.applications.model import CONTRAST_LABELS, ApplicationsModel
from simulator.app.task_sizes import TASKS
from simulator.app.workpool import Runner

TITLE = "Applications"
SUMMARY = "Train a CRNN on videos and handwritten digits, an LSTM on sentiment, a forecaster on stock prices; try them."

URL_KEYS = {"task": "task", "kind": "kind", "seed": "seed", "symbol": "symbol", "mode": "mode", "sample": "sample",
            "slot": "slot", "window": "window", "order": "order", "sentence": "text", "trained": "trained"}
NAMES = {"rnn": "RNN", "lstm": "LSTM", "gru": "GRU"}
MODES = {"many-to-one": "many_to_one", "many-to-many": "many_to_many"}
COLORS = {"actual": "#222222", "forecast": "#d62728", "naive": "#7f7f7f"}


def _dates(values) -> np.ndarray:
    return np.asarray(values, dtype="datetime64[D]")


def _ms(dates: np.ndarray) -> list[int]:
    """Days as Bokeh's datetime numbers (milliseconds since 1970)."""
    return dates.astype("datetime64[ms]").astype(np.int64).tolist()


def _legend_below(fig) -> None:
    """One row of legend entries under the plot, where it hides no data."""
    legend = fig.legend[0]
    legend.update(orientation="horizontal", label_text_font_size="11px", margin=2, padding=2, spacing=8)
    fig.add_layout(legend, "below")


def _fit(fig, dates: np.ndarray, values) -> None:
    """Explicit ranges around the data (no auto-ranging on empty figures, no console warnings)."""
    x, y = _ms(dates), np.asarray(values, dtype=np.float64)
    pad_x, pad_y = 86_400_000, 0.05 * (float(y.max() - y.min()) or 1.0)
    fig.x_range.update(start=min(x) - pad_x, end=max(x) + pad_x)
    fig.y_range.update(start=float(y.min()) - pad_y, end=float(y.max()) + pad_y)


def reading_summary(words: list[str], unknown: list[str]) -> str:
    """What the model read, as HTML: how many words, which it knows, which become ``<unk>`` and why.

    Only ``,`` and ``.`` are split off by ``data.tokenize``; other punctuation stays on its word ("movie!!!"),
    which is then unknown, so the summary names the known word it would have been.
    """
    known = [w for w in words if w not in unknown]
    head = f"Read {len(words)} word{'s' if len(words) != 1 else ''}: " + " ".join(
        f"<code>{html.escape(w)}</code>" for w in words) + "."
    if not unknown:
        return head + " The model knows all of them."
    listed = ", ".join(f"'{html.escape(w)}'" for w in unknown)
    hints = [f"'{html.escape(w)}' would be '{html.escape(bare)}' without its punctuation"
             for w in unknown if (bare := "".join(ch for ch in w if ch.isalnum())) and bare != w]
    return (head + f" It knows {len(known)} of them; <span class='rnn-unknown' style='color:#6b4f1d'>"
            f"{len(unknown)} it has never seen are read as &lt;unk&gt; (they say nothing to it): {listed}"
            + (f" ({'; '.join(hints)}: only , and . are split off)" if hints else "")
            + "</span>. The model only knows the words of its training sentences.")


class ApplicationsPage(pn.viewable.Viewer):
    """Task and training controls on the left; on the right, what to try with the trained model."""

    model = param.ClassSelector(class_=ApplicationsModel, doc="The page's settings, results and inputs.")

    def __init__(self, model: ApplicationsModel | None = None, query: dict[str, str] | None = None,
                 background: bool = True, runner: Runner | None = None, **params):
        """``background``: train in the worker pool through ``runner`` (default: the session's); False: at once."""
        super().__init__(model=model or ApplicationsModel(), **params)
        m = self.model
        self.messages = MessageBox()
        self.training = TrainingControl(m.training_job, self._trained, self.messages.reporter("training"),
                                        background=background, runner=runner)
        self.about = pn.pane.Markdown("", width=290, styles={"font-size": "13px"})
        self.metrics = pn.pane.HTML("", width=290, styles={"font-size": "13px"})
        self.untrained = pn.pane.Markdown("", css_classes=["rnn-untrained"], styles={"font-size": "15px"})
        self._build_video()
        self._build_digits()
        self._build_sentiment()
        self._build_forecast()
        self.controls = self._controls()
        m.param.watch(self._refresh, ["task", "results"])
        m.param.watch(lambda *events: self._refresh_try(), ["sample", "slot", "digits", "window", "sentence",
                                                                    "order"])
        self._refresh()
        self.url = UrlState(m, URL_KEYS, on_messages=self.messages.reporter("url", append=True), query=query)
        if m.trained and m.result is None:  # a shared URL of a trained page: train again (same seed, same result)
            self.training.start()

    # ------------------------------------------------------------------ controls
    def _controls(self) -> pn.Column:
        m = self.model
        task = pn.widgets.RadioButtonGroup.from_param(m.param.task, options={s.title: k for k, s in TASKS.items()},
                                                      color="primary", variant="outline",
                                                      orientation="vertical", width=280)
        kind = pn.widgets.RadioButtonGroup.from_param(m.param.kind, options={v: k for k, v in NAMES.items()},
                                                      color="primary", variant="outline", width=280)
        symbol = pn.widgets.Select.from_param(m.param.symbol, label="Stock", width=130)
        mode = pn.widgets.Select.from_param(m.param.mode, label="Forecast head", options=MODES, width=140)
        self.forecast_controls = pn.Row(symbol, mode, visible=False)
        return pn.Column(
            pn.pane.Markdown("**Application**", margin=(0, 5)), task, self.about,
            pn.pane.Markdown("**Cell**", margin=(8, 5, 0, 5)), kind,
            checked_field(m, "seed", self.messages.reporter("field"), label="Seed", width=110),
            self.forecast_controls,
            self.training, self.metrics, width=300)

    def _trained(self, result) -> None:
        self.model.set_result(result)

    # ------------------------------------------------------------------ the four "try it" panels
    def _build_video(self) -> None:
        self.video_frames = ImageTiles("The held-out video, frame by frame", width=640, height=140)
        self.video_bars = Bars("Predicted direction", width=300, height=200)
        self.video_text = pn.pane.HTML("", css_classes=["rnn-video-answer"], styles={"font-size": "14px"})
        order = pn.widgets.RadioButtonGroup.from_param(
            self.model.param.order, options={"as recorded": "recorded", "played backwards": "reversed",
                                             "shuffled": "shuffled"}, color="primary", variant="outline")
        self.video_view = pn.Column(
            pn.Row(checked_field(self.model, "sample", self.messages.reporter("field"), label="Held-out video",
                                 width=130),
                   pn.Column(pn.pane.Markdown("Frame order", margin=(0, 5)), order)),
            pn.pane.Bokeh(self.video_frames.figure), pn.Row(pn.pane.Bokeh(self.video_bars.figure), self.video_text))

    def _build_digits(self) -> None:
        m = self.model
        report = self.messages.reporter("field")
        self.digit_row = ImageTiles("The sequence the CRNN reads (red box: the slot your digit replaces)",
                                    width=520, height=170)
        self.drawing = DrawingGrid()
        use = pn.widgets.Button(label="Use my drawing", color="primary", width=150, css_classes=["rnn-use"])
        use.on_click(lambda e: self._attempt(lambda: m.put_drawing(self.drawing.cells)))
        erase = pn.widgets.Button(label="Clear drawing", width=150)
        erase.on_click(lambda e: self.drawing.set_cells(np.zeros((8, 8))))
        reset = pn.widgets.Button(label="Back to the held-out digits", width=200)
        reset.on_click(lambda e: self._attempt(m.clear_digits))
        self.upload = ImageUpload(self._uploaded, width=230, height=34, css_classes=["rnn-upload"])
        self.digit_bars = Bars("Next term: probabilities", width=480, height=200)
        self.digit_text = pn.pane.HTML("", css_classes=["rnn-digit-answer"], styles={"font-size": "14px"})
        self.digit_note = pn.pane.HTML("", width=260, styles={"font-size": "13px"})
        self.digits_view = pn.Column(
            pn.Row(checked_field(m, "sample", report, label="Held-out sequence", width=140),
                   checked_field(m, "slot", report, label="Slot to replace (0-3)", width=140)),
            pn.Row(pn.pane.Bokeh(self.digit_row.figure), self.digit_text), pn.pane.Bokeh(self.digit_bars.figure))
        # NB: drawing and uploading work before training too; the answer appears once the model is trained.
        self.digits_input = pn.Row(
            pn.Column(pn.pane.Bokeh(self.drawing.figure), css_classes=["rnn-drawing"]),
            pn.Column(use, erase, pn.pane.Markdown("**or upload** a PNG/JPEG of one digit (at most 2 MB):",
                                                   margin=(10, 5, 0, 5)),
                      self.upload, reset, self.digit_note))

    def _uploaded(self, filename: str, content: bytes | None, size: int) -> None:
        self._attempt(lambda: self.model.put_upload(content, filename, size))

    def _build_sentiment(self) -> None:
        m = self.model
        self.sentence_input = pn.widgets.TextInput.from_param(m.param.sentence, label="Type a sentence (press Enter)",
                                                              width=520, css_classes=["rnn-sentence"])
        self.sentiment_bars = Bars("Sentiment", width=300, height=200)
        self.sentiment_text = pn.pane.HTML("", css_classes=["rnn-sentiment-answer"], styles={"font-size": "14px"})
        self.contrasts = pn.pane.HTML("", styles={"font-size": "13px"})
        self.sentiment_view = pn.Column(
            self.sentence_input,
            pn.pane.Markdown("Try *the food was good , not bad*, *the film was not good at all*, "
                             "*the hotel was really awful*.", margin=(0, 5)),
            pn.Row(pn.pane.Bokeh(self.sentiment_bars.figure), self.sentiment_text), self.contrasts)

    def _build_forecast(self) -> None:
        m = self.model
        self.window_fig = figure(width=520, height=300, x_axis_type="datetime", tools="", toolbar_location=None,
                                 x_range=(0, 1), y_range=(0, 1), y_axis_label="price",
                                 title="The window the model reads, and the next day")
        self.window_src = ColumnDataSource({"date": [], "price": []})
        self.window_fig.line("date", "price", source=self.window_src, color=COLORS["actual"], line_width=2,
                             legend_label="window (input)")
        self.next_src = ColumnDataSource({"date": [], "price": [], "what": [], "color": [], "exact": []})
        dots = self.window_fig.scatter("date", "price", source=self.next_src, color="color", size=11,
                                       legend_field="what")
        self.window_fig.add_tools(HoverTool(renderers=[dots], tooltips=[("", "@what"), ("price", "@exact")]))
        _legend_below(self.window_fig)
        self.period_fig = figure(width=520, height=300, x_axis_type="datetime", tools="", toolbar_location=None,
                                 x_range=(0, 1), y_range=(0, 1),
                                 title="Held-out days around it: next-day price and the two forecasts",
                                 y_axis_label="price")
        self.period_src = ColumnDataSource({"date": [], "actual": [], "forecast": [], "naive": []})
        lines = [self.period_fig.line("date", name, source=self.period_src, color=COLORS[name], legend_label=name,
                                      line_width=2 if name == "actual" else 1.5) for name in COLORS]
        self.period_fig.add_tools(HoverTool(renderers=lines[:1], mode="vline", tooltips=[
            ("day", "@date{%F}"), ("actual", "@actual{0.00}"), ("model", "@forecast{0.00}"),
            ("naive", "@naive{0.00}")], formatters={"@date": "datetime"}))
        _legend_below(self.period_fig)
        self.day_span = Span(location=0, dimension="height", line_color="#d62728", line_dash="dashed")
        self.period_fig.add_layout(self.day_span)
        self.forecast_text = pn.pane.HTML("", styles={"font-size": "14px"})
        self.forecast_view = pn.Column(
            checked_field(m, "window", self.messages.reporter("field"), label="Held-out day (window index)",
                          width=200),
            self.forecast_text, pn.Row(pn.pane.Bokeh(self.window_fig), pn.pane.Bokeh(self.period_fig)))

    # ------------------------------------------------------------------ messages
    def _attempt(self, action: Callable[[], None]) -> None:
        """Run a visitor's action; a ValueError becomes a message in the page."""
        try:
            action()
        except ValueError as exc:
            self.messages.report("input", [str(exc)])
        else:
            self.messages.report("input", [])

    # ------------------------------------------------------------------ updates
    def _refresh(self, *events) -> None:
        """Task or results changed: show the task's panel and metrics, then its "try it" view."""
        m = self.model
        s = TASKS[m.task]
        self.about.object = s.about
        self.forecast_controls.visible = m.task == "forecast"
        self.metrics.object = self._metrics_html()
        self._refresh_try()

    def _metrics_html(self) -> str:
        r = self.model.result
        if r is None:
            return ""
        return f'<div class="rnn-metrics">{self._metrics_text(r)}</div>'

    def _metrics_text(self, r) -> str:
        k = r.metrics
        kind = NAMES[r.model.kind]
        if r.task == "forecast":
            verdict = "beats" if k["ratio"] < 1 else "does not beat"
            return (f"<b>{kind}, held-out days:</b> RMSE {k['rmse']:.3f} vs naive {k['naive_rmse']:.3f} "
                    f"(ratio {k['ratio']:.3f}: the model {verdict} the naive forecast); direction right on "
                    f"{k['direction_accuracy']:.1%} of days.")
        extra = ""
        if "baseline_accuracy" in k:
            extra = f"; an order-blind frame-averaging classifier: {k['baseline_accuracy']:.1%}"
        return (f"<b>{kind}, held-out accuracy:</b> <span class='rnn-accuracy'>{k['accuracy']:.1%}</span> "
                f"(chance {k['chance']:.1%}{extra}).")

    def _refresh_try(self) -> None:
        m = self.model
        views = {"video": self.video_view, "digits": self.digits_view, "sentiment": self.sentiment_view,
                 "forecast": self.forecast_view}
        trained = m.result is not None
        for task, view in views.items():
            view.visible = trained and task == m.task
        self.untrained.visible = not trained
        self.digits_input.visible = m.task == "digits"
        slots = ", ".join(str(k) for k in sorted(m.digits))
        note = f"Your digits are in slot(s) {slots}." if slots else ""
        self.digit_note.object = f'<span class="rnn-digit-note">{note}</span>'
        self.untrained.object = (f"**{TASKS[m.task].title}** is not trained yet: press **Train** (a few seconds; "
                                 "the bar shows the progress), then try it here.")
        if not trained:
            return
        try:
            {"video": self._show_video, "digits": self._show_digits, "sentiment": self._show_sentiment,
             "forecast": self._show_forecast}[m.task]()
            kept = [msg for msg in self.messages.reported("input") if not msg.startswith("Sentence")]
        except ValueError as exc:
            kept = [str(exc)]
        self.messages.report("input", kept)

    def _show_video(self) -> None:
        v = self.model.video()
        self.video_frames.set_tiles(list(v["frames"]), [f"position {k}: recorded frame {t}"
                                                        for k, t in enumerate(v["order"])])
        self.video_bars.set_probs(v["classes"], v["probs"])
        best = v["classes"][int(np.argmax(v["probs"]))]
        played = {"recorded": "as recorded", "reversed": "played backwards", "shuffled": "with shuffled frames"}
        self.video_text.object = (f"<p>Fed {played[self.model.order]}, the CRNN says "
                                  f"<b class='rnn-prediction'>{html.escape(best)}</b> "
                                  f"(p = {float(np.max(v['probs'])):.3f}); the recorded video moves "
                                  f"<b>{html.escape(v['label'])}</b>.</p><p style='color:#666'>Play it backwards: "
                                  "the same frames, the other answer. Only their order tells left from right.</p>")

    def _show_digits(self) -> None:
        a = self.model.digit_answer()
        labels = [f"slot {k}: your digit" if mine else f"slot {k}: a handwritten {d}"
                  for k, (d, mine) in enumerate(zip(a["terms"], a["mine"], strict=True))]
        self.digit_row.set_tiles([f[0] for f in a["frames"]], labels)
        self.digit_row.set_cursor(self.model.slot)
        self.digit_bars.set_probs(a["values"], a["probs"])
        shown = ", ".join("?" if d is None else str(d) for d in a["terms"])
        truth = "" if a["truth"] is None else f" The rule says <b>{a['truth']}</b>."
        self.digit_text.object = (f"<p>Written: {shown}</p><p>Next term according to the CRNN: "
                                  f"<b class='rnn-prediction'>{a['value']}</b> (p = {float(np.max(a['probs'])):.3f})."
                                  f"{truth}</p>")

    def _show_sentiment(self) -> None:
        try:
            s = self.model.sentiment()
        except ValueError as exc:
            self.sentiment_bars.clear()
            self.sentiment_text.object = ""
            raise exc
        labels = list(s["probs"])
        p = np.array([s["probs"][k] for k in labels])
        self.sentiment_bars.set_probs(labels, p)
        self.contrasts.object = self._contrasts_html()
        self.sentiment_text.object = (f"<p>{reading_summary(s['words'], s['unknown'])} The model says "
                                      f"<b class='rnn-prediction'>{labels[int(np.argmax(p))]}</b> "
                                      f"(p = {float(np.max(p)):.3f}).</p>")

    def _contrasts_html(self) -> str:
        """p(positive) of the contrast sentences, each marked right or wrong against its template's label."""
        rows, right = [], 0
        for text, p in self.model.sentiment_contrasts():
            want = CONTRAST_LABELS[text]
            ok = (p["positive"] > 0.5) == bool(want)
            right += ok
            verdict = "right" if ok else "<b>wrong</b>"
            rows.append(f"<tr><td>{html.escape(text)}</td><td style='text-align:right'>{p['positive']:.3f}</td>"
                        f"<td>{'positive' if want else 'negative'}</td><td>{verdict}</td></tr>")
        n = len(rows)
        claim = ("it has learned these negations and word orders" if right == n else
                 f"it gets {n - right} of them wrong: it has <b>not</b> fully learned negation and word order")
        return ("<p><b>Word order and negation</b>: p(positive) from the trained model, and the label of the "
                f"template; the model is right on <span class='rnn-contrast-score'>{right} of {n}</span>, so "
                f"{claim}.</p><table class='rnn-contrasts'><tr><th>sentence</th><th>p(positive)</th><th>label</th>"
                "<th>model</th></tr>" + "".join(rows) + "</table>")

    def _show_forecast(self) -> None:
        f = self.model.forecast()
        self.window_src.data = {"date": _dates(f["history_dates"]), "price": f["history"]}
        day = _dates([f["day"]] * 3)
        values = [f["actual"], f["forecast"], f["naive"]]
        self.next_src.data = {"date": day, "price": values, "what": ["actual", "model forecast", "naive (= last)"],
                              "color": [COLORS["actual"], COLORS["forecast"], COLORS["naive"]],
                              "exact": [repr(v) for v in values]}
        self.period_src.data = {"date": _dates(f["period_dates"]), "actual": f["period_actual"],
                                "forecast": f["period_forecast"], "naive": f["period_naive"]}
        self.day_span.location = _ms(_dates([f["day"]]))[0]
        _fit(self.window_fig, _dates(list(f["history_dates"]) + [f["day"]]), [*f["history"], *values])
        _fit(self.period_fig, _dates(f["period_dates"]),
             np.concatenate([f["period_actual"], f["period_forecast"], f["period_naive"]]))
        err, naive = abs(f["forecast"] - f["actual"]), abs(f["naive"] - f["actual"])
        self.forecast_text.object = (
            f"<p class='rnn-forecast-answer'>{html.escape(f['symbol'])} on <b>{html.escape(str(f['day']))}</b>: actual "
            f"<b>{f['actual']:.2f}</b>, model <b class='rnn-prediction'>{f['forecast']:.2f}</b> (off by {err:.2f}), "
            f"naive {f['naive']:.2f} (off by {naive:.2f}).</p>")

    # ------------------------------------------------------------------ view
    def __panel__(self):
        intro = pn.pane.Markdown(
            "## The lesson's applications\n"
            "Pick an application, press **Train** and watch the loss fall; then try the trained network on a "
            "held-out example or on your own input (draw or upload a digit, type a sentence, pick a trading day).",
            sizing_mode="stretch_width")
        return pn.Column(
            intro, self.messages.pane,
            beside(self.controls, pn.Column(pn.pane.Markdown("### Try it", margin=(0, 5)), self.untrained,
                                            self.video_view, self.digits_view, self.digits_input,
                                            self.sentiment_view,
                                            self.forecast_view)),
            sizing_mode="stretch_width")


def create() -> pn.viewable.Viewable:
    """A fresh Applications page for one browser session (settings read from the URL)."""
    return ApplicationsPage()
