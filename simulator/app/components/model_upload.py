"""Upload a trained model (and its vocabulary) into the session: a size-capped picker, a layer chooser, messages.

The file goes through ``simulator.interop.load_file`` (nothing in it is executed); what it holds lives only in
this session's ``ModelUpload`` object, never on disk, so a page link cannot carry it (the page says so).
Reading a file (up to ``MAX_MODEL_BYTES``, HDF5 or zip parsing: up to a second) is a job of the session's
worker-pool ``Runner``: the event loop only receives the parsed model and shows it; while the job waits the
page says "Reading …: the server is busy, you are number N in the queue". A newer upload replaces one not yet
read. Every refusal becomes one message naming the file and the problem; the page keeps working.
"""

from __future__ import annotations

import html
import logging

import numpy as np
import panel as pn
import param

from simulator import interop
from simulator.app.components.upload import ImageUpload
from simulator.app.workpool import Runner, session_runner
from simulator.interop import LoadedModel
from simulator.lessons import data

log = logging.getLogger("simulator.app")
MAX_MODEL_BYTES = 8 * 1024 * 1024  # base64: ~11 MB over the websocket, under serve.py's 24 MiB message cap
MAX_VOCAB_BYTES = 2 * 1024 * 1024
MAX_CSV_BYTES = 1024 * 1024
MODEL_ACCEPT = ".keras,.h5,.hdf5,.safetensors,.npz,.pt,.pth"


class FilePicker(ImageUpload):
    """``<input type=file>`` for any file type, announced by size but not sent when larger than ``max_bytes``."""

    accept = param.String(default=MODEL_ACCEPT, doc="Hint for the browser's file dialog.")
    max_bytes = param.Integer(default=MAX_MODEL_BYTES, bounds=(1, MAX_MODEL_BYTES),
                              doc="Files larger than this are not sent to the server.")
    label = param.String(default="Upload a model file", doc="Accessible name of the picker.")

    _esm = ImageUpload._esm.replace('input.setAttribute("aria-label", "Upload a PNG or JPEG image of one digit");',
                                    'input.setAttribute("aria-label", model.label);')


def too_large(name: str, size: int, cap: int) -> str:
    return f"{name}: {size:,} bytes; expected at most {cap:,} (the upload size cap)"


def read_vocabulary(name: str, content: bytes) -> tuple[str, ...]:
    """One word per line (line k is word id k), UTF-8; ``ValueError`` naming the file otherwise."""
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError(f"{name}: is not UTF-8 text ({exc.reason} at byte {exc.start}); "
                         "expected one word per line") from None
    words = text.splitlines()
    if words and words[-1] == "":
        words.pop()
    if not words:
        raise ValueError(f"{name}: holds no words; expected one word per line, line k being word id k")
    if not all(w.isprintable() for w in words):
        raise ValueError(f"{name}: contains control characters; expected one printable word per line")
    return tuple(w.strip() for w in words)


def read_csv_sequence(name: str, content: bytes, D: int, max_steps: int) -> np.ndarray:
    """A CSV of ``T`` rows and ``D`` numbers (one row per time step; one header line allowed) -> ``(T, D)``."""
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError:
        raise ValueError(f"{name}: is not UTF-8 text; expected a CSV of numbers, one row per time step") from None
    rows = [r for r in (line.strip() for line in text.splitlines()) if r]
    out = []
    for k, row in enumerate(rows):
        cells = [c.strip() for c in row.replace(";", ",").split(",")]
        try:
            values = [float(c) for c in cells]
        except ValueError:
            if k == 0 and not out:
                continue  # a header line
            raise ValueError(f"{name}: line {k + 1} ({row[:40]!r}) is not a row of numbers") from None
        if len(values) != D:
            raise ValueError(f"{name}: line {k + 1} has {len(values)} numbers; expected {D} (the layer's input "
                             "size D), one row per time step")
        out.append(values)
    if not out:
        raise ValueError(f"{name}: holds no rows of numbers; expected T rows of {D} numbers")
    if len(out) > max_steps:
        raise ValueError(f"{name}: {len(out)} rows; expected at most {max_steps} time steps")
    X = np.array(out)
    if not np.isfinite(X).all():
        raise ValueError(f"{name}: contains NaN or infinity; expected finite numbers")
    return X


def parse_model(name: str, content: bytes, max_bytes: int) -> LoadedModel | str:
    """``interop.load_file`` of an uploaded file, or the message saying why not (a worker thread runs this)."""
    try:
        return interop.load_file(content, name=name, max_bytes=max_bytes)
    except ValueError as exc:
        return str(exc)
    except Exception as exc:  # a reader library failing in a way it does not document: the page goes on
        log.exception("model upload %r", name)
        return (f"{name}: could not be read ({type(exc).__name__}); expected a .keras, .h5, .safetensors, .npz "
                "or .pt model file")


class ModelUpload(pn.viewable.Viewer):
    """The uploaded model of one session: pickers for the model and its vocabulary, a layer chooser, messages."""

    loaded = param.ClassSelector(class_=LoadedModel, default=None, allow_None=True,
                                 doc="The recognised layers of the uploaded file (None before an upload).")
    layer = param.Selector(objects=[0], default=0, doc="Which recurrent layer of the stack to show (0 = lowest).")
    vocabulary = param.ClassSelector(class_=tuple, default=None, allow_None=True,
                             doc="Word k of the vocabulary is id k of the Embedding (from a file or the model).")
    message = param.String(default="", doc="Why the last upload was refused, or notes about it ('' when none).")

    def __init__(self, max_bytes: int = MAX_MODEL_BYTES, runner: Runner | None = None, **params):
        super().__init__(**params)
        self.max_bytes = max_bytes
        self.runner = runner or session_runner()
        self.reading = ""  # the file being read in the pool ('' when none)
        self.picker = FilePicker(self.load, max_bytes=max_bytes, label="Upload a trained model file")
        self.vocab_picker = FilePicker(self.load_vocabulary, accept=".txt,text/plain", max_bytes=MAX_VOCAB_BYTES,
                                       label="Upload a vocabulary file (one word per line)")
        self.lesson_vocab = pn.widgets.Button(
            label="Use the lesson's vocabulary", width=220, visible=False,
            description="simulator.lessons.data.build_vocab(): the words of the lesson's sentiment sentences, "
                        "as examples/train_sentiment_lstm.py saves them")
        self.lesson_vocab.on_click(lambda event: self.use_lesson_vocabulary())
        self.layer_select = pn.widgets.Select(label="Recurrent layer shown", options={"(none)": 0}, width=280,
                                              disabled=True)
        self.layer_select.param.watch(lambda e: setattr(self, "layer", e.new), "value")
        self.summary = pn.pane.HTML("", sizing_mode="stretch_width", css_classes=["rnn-model-summary"])
        self.alert = pn.pane.Alert("", alert_type="warning", visible=False, sizing_mode="stretch_width",
                                   css_classes=["rnn-model-message"])

    # ------------------------------------------------------------------ files in
    def load(self, name: str, content: bytes | None, size: int) -> None:
        """The picker's callback: read the file, or say why not (the previous model stays)."""
        if content is None:
            self._refuse(too_large(name, size, self.max_bytes))
            return
        if not content:
            self._refuse(f"{name}: is empty or could not be read by the browser; expected a model file")
            return
        max_bytes = self.max_bytes

        def start():
            self.reading = name
            return (lambda: parse_model(name, content, max_bytes)), self._parsed

        self.runner.request("upload", start, on_wait=lambda place: self._waiting(name, place),
                            on_error=lambda text: self._parsed(f"{name}: {text}"))

    def _parsed(self, model: LoadedModel | str) -> None:
        """On the event loop: show the parsed model, or the refusal text ``parse_model`` returned."""
        self.reading = ""
        if isinstance(model, str):
            self._refuse(model)
        else:
            self.set_model(model)

    def _waiting(self, name: str, place: int) -> None:
        queue = f": the server is busy, you are number {place} in the queue" if place else ""
        self.summary.object = (f'<span class="rnn-model-reading">Reading {html.escape(name)} …'
                               f'{html.escape(queue)}</span>')

    def set_model(self, model: LoadedModel) -> None:
        """Show ``model``: the layer chooser lists its recurrent layers; the vocabulary is the model's, if any."""
        labels = {f"{k}: {x.name} ({x.cell.kind.upper()}, D={x.cell.input_size}, H={x.cell.hidden_size})": k
                  for k, x in enumerate(model.recurrent)}
        vocabulary = model.vocabulary
        if vocabulary is None and self.vocabulary is not None and self._fits(self.vocabulary, model) is None:
            vocabulary = self.vocabulary
        with param.parameterized.batch_call_watchers(self):
            self.param.layer.objects = list(labels.values())
            self.layer = 0
            self.vocabulary = vocabulary
            self.loaded = model
            self.message = "; ".join(model.notes)
        self.layer_select.options = labels
        self.layer_select.value = 0
        self.layer_select.disabled = len(labels) < 2
        self._show()

    def load_vocabulary(self, name: str, content: bytes | None, size: int) -> None:
        """The vocabulary picker's callback: one word per line, at most as many words as the Embedding has rows."""
        if content is None:
            self._refuse(too_large(name, size, MAX_VOCAB_BYTES))
            return
        try:
            words = read_vocabulary(name, content)
            problem = self._fits(words, self.loaded)
            if problem:
                raise ValueError(f"{name}: {problem}")
        except ValueError as exc:
            self._refuse(str(exc))
            return
        self.vocabulary = words
        self.message = ""
        self._show()

    def use_lesson_vocabulary(self) -> None:
        """The lesson's vocabulary (``data.build_vocab()``), the one ``examples/train_sentiment_lstm.py`` trains on."""
        words = data.build_vocab()
        problem = self._fits(words, self.loaded)
        if problem:
            self._refuse(f"the lesson's vocabulary: {problem}")
            return
        self.vocabulary = words
        self.message = ""
        self._show()

    @staticmethod
    def _fits(words: tuple[str, ...], model: LoadedModel | None) -> str | None:
        if model is None or model.embedding is None:
            return None
        V = model.embedding.params["E"].shape[0]
        if len(words) > V:
            return f"{len(words)} words, but the Embedding has only {V} rows; expected at most {V} (line k = id k)"
        return None

    def _refuse(self, text: str) -> None:
        log.warning("model upload refused: %s", text[:300])
        self.message = text
        self._show()

    # ------------------------------------------------------------------ view
    def _show(self) -> None:
        model = self.loaded
        self.lesson_vocab.visible = (model is not None and model.embedding is not None and self.vocabulary is None
                                     and model.embedding.params["E"].shape[0] == len(data.build_vocab()))
        text = html.escape(self.message)
        self.alert.object = f'<div class="rnn-model-message-text">{text}</div>' if text else ""
        self.alert.visible = bool(self.message)
        model = self.loaded
        if model is None:
            self.summary.object = "<i>No model loaded yet.</i>"
            return
        rows = []
        for x in model:
            if x.role == "embedding":
                V, E = x.params["E"].shape
                rows.append(f"Embedding {x.name!r}: {V} words -> {E} numbers")
            elif x.role == "recurrent":
                rows.append(f"{x.cell.kind.upper()} {x.name!r}: D={x.cell.input_size}, H={x.cell.hidden_size}"
                            + (f", {x.cell.activation}" if x.cell.kind == "rnn" else "")
                            + (f", reset_after={x.cell.reset_after}" if x.cell.kind == "gru" else ""))
            else:
                rows.append(f"Dense {x.name!r}: {x.params['W'].shape[0]} -> {x.params['W'].shape[1]}, "
                            f"{x.options['activation']}")
        vocab = (f"vocabulary of {len(self.vocabulary)} words" if self.vocabulary is not None
                 else "no vocabulary (upload one to type sentences)" if model.embedding is not None else "")
        self.summary.object = ('<span class="rnn-model-summary-text">'
                               f"<b>{html.escape(model.file)}</b> ({model.format}): "
                               + html.escape(" -> ".join(rows) + (f"; {vocab}" if vocab else "")) + "</span>")

    def __panel__(self):
        self._show()
        return pn.Column(
            pn.pane.Markdown("**Your model** (.keras, .h5, .safetensors, .npz or .pt state_dict, at most "
                             f"{self.max_bytes // (1024 * 1024)} MiB). It stays in this browser session only: "
                             "a link to this page does not carry it.", margin=(0, 5)),
            self.picker, self.alert, self.summary, self.layer_select,
            pn.pane.Markdown("Vocabulary for typed sentences (one word per line, line k = word id k):",
                             margin=(4, 5, 0, 5)),
            self.vocab_picker, self.lesson_vocab, sizing_mode="stretch_width",
        )
