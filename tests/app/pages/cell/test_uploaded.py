"""The Cell page's "Your model" section, driven without a browser: uploaded files shown with the frameworks' numbers."""

import html
import io
import re

import numpy as np
import pytest

from simulator.app.components.model_upload import ModelUpload
from simulator.app.pages.cell.uploaded import UploadedCellModel, UploadedSection

torch = pytest.importorskip("torch")
keras = pytest.importorskip("keras")
safetensors_numpy = pytest.importorskip("safetensors.numpy")

pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation doesn't accept a copy keyword",
                                        "ignore:You are saving your model as an HDF5 file")
KERAS_CLASSES = {"rnn": "SimpleRNN", "lstm": "LSTM", "gru": "GRU"}
TOL = 1e-5


def shown(diagram, name):
    d = diagram.cells.data
    return np.array([float(e) for e, n in zip(d["exact"], d["name"], strict=True) if n == name])


def close(ours, theirs, where):
    ours, theirs = np.asarray(ours, dtype=np.float64), np.asarray(theirs, dtype=np.float64)
    assert ours.shape == theirs.shape, where
    err = np.abs(ours - theirs).max() / max(np.abs(theirs).max(), 1e-12)
    assert err <= TOL, f"{where}: relative error {err:.2e}"


def randomise(model, seed):
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if layer.get_weights():
            layer.set_weights([rng.uniform(-0.8, 0.8, w.shape).astype(w.dtype) for w in layer.get_weights()])


def upload(section, path):
    data = path.read_bytes()
    section.upload.load(path.name, data, len(data))


def test_section_is_hidden_and_quiet_before_an_upload():
    """Before any upload: is the body hidden, no message shown, and the model the ordinary preset CellModel?"""
    section = UploadedSection()
    section.__panel__()
    assert not section.body.visible and not section.messages.pane.visible
    assert section.model.loaded is None and section.model.run.cache["cell"].name == ""



def test_the_controls_are_disabled_and_say_why_until_a_model_is_loaded(tmp_path):
    """Before an upload the input and vector controls did nothing (an empty "Selected vector" menu): are they
    disabled, the menu saying what to do, and all enabled with the cell's vectors once a model is loaded?"""
    import panel as pn

    section = UploadedSection()
    inputs = [w for w in section.controls.select(pn.widgets.Widget) if not isinstance(w, pn.widgets.FileInput)]
    assert len(inputs) >= 5 and all(w.disabled for w in inputs), [w for w in inputs if not w.disabled]
    assert list(section.gate_select.options) == ["(upload a model first)"]
    model = keras.Sequential([keras.Input((None, 2)), keras.layers.LSTM(3), keras.layers.Dense(1)])
    path = tmp_path / "lstm.keras"
    model.save(path)
    upload(section, path)
    assert not any(w.disabled for w in section.needs_model)
    assert set(section.gate_select.options.values()) >= {"h", "c", "f", "i", "o"}
    section.upload.load("broken.keras", b"not a model", 11)  # refused: the previous model stays, and its controls
    assert section.upload.message and section.model.loaded is not None
    assert not any(w.disabled for w in section.needs_model) and "h" in section.gate_select.options.values()


def test_the_body_is_built_and_sent_on_the_first_upload(tmp_path):
    """A section already on the page (in a document): does the first upload add the body's plots there, drawn?"""
    import panel as pn
    from bokeh.document import Document
    from bokeh.models import Plot

    model = keras.Sequential([keras.Input((None, 2)), keras.layers.GRU(3, return_sequences=True),
                              keras.layers.Dense(1)])
    randomise(model, 5)
    path = tmp_path / "gru.keras"
    model.save(path)
    section = UploadedSection()
    doc = Document()
    pn.Column(section).server_doc(doc)
    assert not [m for m in doc.models if isinstance(m, Plot)]
    upload(section, path)
    assert section.built and section.body.visible
    assert len([m for m in doc.models if isinstance(m, Plot)]) == 3  # diagram, head plot, the heatmaps (one figure)
    m = section.model
    m.t = 2
    close(shown(section.diagram, "h"), model.layers[0](m.run.X).detach().numpy()[0][2], "h_t at t=2")

@pytest.mark.parametrize("fmt", ["keras", "h5"])
@pytest.mark.parametrize(("kind", "opts"), [("rnn", {"activation": "relu"}), ("lstm", {}),
                                            ("gru", {"reset_after": True}), ("gru", {"reset_after": False})],
                         ids=["rnn-relu", "lstm", "gru-after", "gru-before"])
def test_uploaded_keras_cell_is_drawn_with_keras_numbers_at_every_step(tmp_path, fmt, kind, opts):
    """Upload a Keras many-to-many model: are the diagram's h_t and the head readout Keras's at every step?"""
    cls = getattr(keras.layers, KERAS_CLASSES[kind])
    model = keras.Sequential([keras.Input((None, 3)), cls(4, return_sequences=True, **opts),
                              keras.layers.Dense(2, activation="sigmoid")])
    randomise(model, 1)
    path = tmp_path / f"mine.{fmt}"
    model.save(path)
    section = UploadedSection()
    upload(section, path)
    m = section.model
    assert section.body.visible and not section.upload.message, section.upload.message
    assert (m.kind, m.H, m.D) == (kind, 4, 3)
    X = m.run.X  # the preset the page chose, fed to the layer
    hs = model.layers[0](X).detach().numpy()[0]  # (T, H)
    ys = model(X).detach().numpy()[0]  # (T, 2)
    m.T = 7
    X = m.run.X
    hs, ys = model.layers[0](X).detach().numpy()[0], model(X).detach().numpy()[0]
    assert m.run.T == 7
    for t in (*range(7), 1):  # every step, then back to one
        m.t = t
        close(shown(section.diagram, "h"), hs[t], f"{fmt} {kind} h_t at t={t}")
        close(shown(section.diagram, "x"), X[0, t], f"{fmt} {kind} x_t at t={t}")
        head = [float(v) for v in re.findall(r'class="rnn-upload-head" data-exact="([^"]+)"', section.readout.text)]
        close(head, ys[t], f"{fmt} {kind} head at t={t}")
    # the other presets also run the uploaded weights
    m.inputs = "random"
    close(m.run.series["h"], model.layers[0](m.run.X).detach().numpy()[0], f"{fmt} {kind} random preset")


def test_typed_sentence_through_the_embedding_gives_keras_running_probability(tmp_path):
    """Embedding -> LSTM -> Dense(sigmoid) with a vocabulary file: is the head at word t Keras's on the prefix?"""
    vocab = ["<pad>", "<unk>", "the", "movie", "was", "good", "not", "bad"]
    model = keras.Sequential([keras.Input((None,), dtype="int32"), keras.layers.Embedding(len(vocab), 5),
                              keras.layers.LSTM(3), keras.layers.Dense(1, activation="sigmoid")])
    randomise(model, 2)
    path = tmp_path / "clf.keras"
    model.save(path)
    section = UploadedSection()
    upload(section, path)
    assert section.model.source == "preset"  # no vocabulary yet: a sentence cannot be typed
    text = "\n".join(vocab).encode()
    section.upload.load_vocabulary("words.txt", text, len(text))
    m = section.model
    assert m.source == "sentence" and m.vocabulary == tuple(vocab)
    m.sentence = "The movie was not good, zebra"
    assert m.words == ["the", "movie", "was", "not", "good", ",", "zebra"]
    ids = np.array([[2, 3, 4, 6, 5, 1, 1]])  # unknown words -> <unk>
    for t in range(ids.shape[1]):
        expect = model(ids[:, : t + 1]).detach().numpy()[0]
        close(m.head[t], expect, f"P(positive) after word {t}")
        m.t = t
        assert f"word <b>{m.words[t]}</b>" in section.readout.text


def test_torch_stack_layer_chooser_and_csv_input(tmp_path):
    """A two-layer nn.GRU from safetensors: does layer 1 read layer 0's h_t, and does a CSV sequence drive it?"""
    torch.manual_seed(3)
    gru, fc = torch.nn.GRU(2, 3, num_layers=2, batch_first=True), torch.nn.Linear(3, 1)
    state = {f"{prefix}.{k}": v for prefix, mod in (("rnn", gru), ("fc", fc)) for k, v in mod.state_dict().items()}
    data = safetensors_numpy.save({k: v.detach().numpy() for k, v in state.items()})
    section = UploadedSection()
    section.upload.load("stack.safetensors", data, len(data))
    m = section.model
    assert list(section.upload.layer_select.options.values()) == [0, 1]
    X = np.random.default_rng(4).standard_normal((5, 2)).astype(np.float32)
    csv = ("x0,x1\n" + "\n".join(",".join(repr(float(v)) for v in row) for row in X)).encode()
    m.source = "csv"
    section._load_csv("seq.csv", csv, len(csv))
    assert not m.error, m.error
    with torch.no_grad():
        top, _ = gru(torch.from_numpy(X[None]))
        first = torch.nn.GRU(2, 3, batch_first=True)
        first.load_state_dict({k: v for k, v in gru.state_dict().items() if k.endswith("_l0")})
        bottom, _ = first(torch.from_numpy(X[None]))
        y = fc(top)
    close(m.run.series["h"], bottom[0].numpy(), "layer 0 h")
    section.upload.layer_select.value = 1
    assert m.layer == 1 and m.D == 3
    close(m.run.X[0], bottom[0].numpy(), "layer 1 reads layer 0's h_t")
    close(m.run.series["h"], top[0].numpy(), "layer 1 h")
    close(m.head, y[0].numpy(), "linear head")
    m.t = 4
    close(shown(section.diagram, "h"), top[0, 4].numpy(), "diagram h at t=4")
    bad = b"1,2,3\n4,5,6\n"
    section._load_csv("wide.csv", bad, len(bad))
    assert "wide.csv: line 1 has 3 numbers; expected 2" in section.messages.pane.object


def test_edits_change_a_copy_not_the_uploaded_weights(tmp_path):
    """Do the page's weight edits act on the shown cell while the uploaded model's weights stay as loaded?"""
    model = keras.Sequential([keras.Input((4, 2)), keras.layers.SimpleRNN(2, return_sequences=True)])
    randomise(model, 5)
    path = tmp_path / "r.keras"
    model.save(path)
    section = UploadedSection()
    upload(section, path)
    m = section.model
    before = m.loaded.recurrent[0].cell.params["W_hh"].copy()
    m.edits = "W_hh[0,1]=2.5"
    assert not m.error and m.run.cache["params"]["W_hh"][0, 1] == 2.5
    np.testing.assert_array_equal(m.loaded.recurrent[0].cell.params["W_hh"], before)


def bad_files(tmp_path):
    """(name, bytes, words the message must hold): each a different class of bad upload."""
    model = keras.Sequential([keras.Input((3, 2)), keras.layers.LSTM(2)])
    model.save(tmp_path / "ok.h5")
    h5 = (tmp_path / "ok.h5").read_bytes()
    buf = io.BytesIO()
    np.savez(buf, x=np.array([np.nan], np.float32))
    bi = keras.Sequential([keras.Input((3, 2)), keras.layers.Bidirectional(keras.layers.GRU(2))])
    bi.save(tmp_path / "bi.keras")
    return [("notes.keras", b"just some text", ["not a model file"]),
            ("half.h5", h5[: len(h5) // 2], ["hdf5", "truncated"]),
            ("nan.npz", buf.getvalue(), ["array 'x'", "nan", "finite"]),
            ("bi.keras", (tmp_path / "bi.keras").read_bytes(), ["bidirectional"])]


def test_bad_uploads_get_a_message_and_the_page_keeps_working(tmp_path):
    """Is every bad upload one message naming the file, the previous model kept, and a later good upload shown?"""
    good = keras.Sequential([keras.Input((3, 2)), keras.layers.GRU(2, return_sequences=True)])
    good.save(tmp_path / "good.keras")
    section = UploadedSection()
    upload(section, tmp_path / "good.keras")
    kept = section.model.run.series["h"].copy()
    for name, data, words in bad_files(tmp_path):
        section.upload.load(name, data, len(data))
        text = section.upload.message
        assert text.startswith(f"{name}: "), text
        assert section.upload.alert.visible and name in section.upload.alert.object
        for w in words:
            assert w in text.lower(), f"{w!r} not in {text!r}"
        assert section.model.loaded.file == "good.keras"
        np.testing.assert_array_equal(section.model.run.series["h"], kept)
    section.upload.load("huge.keras", None, 50_000_000)
    assert section.upload.message == "huge.keras: 50,000,000 bytes; expected at most 8,388,608 (the upload size cap)"
    small = ModelUpload(max_bytes=1000)
    data = (tmp_path / "good.keras").read_bytes()
    small.load("good.keras", data, len(data))
    assert "size cap" in small.message and small.loaded is None
    upload(section, tmp_path / "good.keras")
    assert not section.upload.message and section.model.kind == "gru"


def test_vocabulary_problems_are_named(tmp_path):
    """Is a vocabulary longer than the Embedding, or not UTF-8, refused with the file named?"""
    model = keras.Sequential([keras.Input((None,), dtype="int32"), keras.layers.Embedding(3, 2),
                              keras.layers.SimpleRNN(2)])
    model.save(tmp_path / "e.keras")
    section = UploadedSection()
    upload(section, tmp_path / "e.keras")
    section.upload.load_vocabulary("long.txt", b"a\nb\nc\nd\n", 8)
    assert section.upload.message.startswith("long.txt: 4 words, but the Embedding has only 3 rows")
    section.upload.load_vocabulary("bin.txt", b"\xff\xfe\x00", 3)
    assert section.upload.message.startswith("bin.txt: is not UTF-8 text")
    section.model.source = "sentence"
    assert "no vocabulary yet" in section.model.error
    section.upload.load_vocabulary("ok.txt", b"<pad>\nyes\nno\n", 13)
    section.model.sentence = "yes maybe"
    assert "'maybe' not in the vocabulary" in section.model.error


def test_uploaded_model_is_per_session():
    """Do two sections (two browser sessions) hold separate uploads?"""
    a, b = UploadedSection(), UploadedSection()
    t = {"rnn.weight_ih_l0": np.ones((2, 1), np.float32), "rnn.weight_hh_l0": np.ones((2, 2), np.float32) * 0.1}
    data = safetensors_numpy.save(t)
    a.upload.load("a.safetensors", data, len(data))
    assert a.model.loaded is not None and b.model.loaded is None and isinstance(b.model, UploadedCellModel)


def test_the_url_names_the_file_it_cannot_carry():
    """Opened from a link naming a model file: does the section say the file must be uploaded, until it is?"""
    section = UploadedSection(query={"model": "sent.keras"})
    assert "'sent.keras': a link cannot carry the file" in html.unescape(section.messages.pane.object)
    t = {"rnn.weight_ih_l0": np.ones((2, 1), np.float32), "rnn.weight_hh_l0": np.ones((2, 2), np.float32) * 0.1}
    data = safetensors_numpy.save(t)
    section.upload.load("sent.keras", data, len(data))
    assert section.model.file == "sent.keras" and not section.messages.pane.visible
    hostile = UploadedSection(query={"model": "<script>x</script>\x00"})
    assert "control characters" in hostile.messages.pane.object and "<script>" not in hostile.messages.pane.object


def test_layers_too_large_to_draw_are_named():
    """Is a layer wider than the drawing cap refused for drawing with its sizes, not drawn as 300 boxes?"""
    t = {"rnn.weight_ih_l0": np.ones((200, 3), np.float32), "rnn.weight_hh_l0": np.ones((200, 200), np.float32)}
    data = safetensors_numpy.save(t)
    section = UploadedSection()
    section.upload.load("wide.safetensors", data, len(data))
    assert "D=3, H=200" in section.model.error and "at most 128" in section.messages.pane.object
    assert section.model.runs == {}


def test_lesson_vocabulary_button_appears_only_for_a_fitting_embedding(tmp_path):
    """Is the lesson-vocabulary shortcut offered only when the Embedding has the lesson's size, and does it type?"""
    from simulator.lessons import data

    V = len(data.build_vocab())
    for rows, offered in ((V, True), (V + 1, False)):
        model = keras.Sequential([keras.Input((None,), dtype="int32"), keras.layers.Embedding(rows, 3),
                                  keras.layers.GRU(2), keras.layers.Dense(1, activation="sigmoid")])
        path = tmp_path / f"v{rows}.keras"
        model.save(path)
        section = UploadedSection()
        upload(section, path)
        assert section.upload.lesson_vocab.visible is offered
    section.upload.use_lesson_vocabulary()  # on the V + 1 model: fewer words than rows is allowed
    m = section.model
    assert m.source == "sentence" and m.words == ["the", "movie", "was", "not", "good"]
    assert "many-to-one" in section.head_figure.title.text
