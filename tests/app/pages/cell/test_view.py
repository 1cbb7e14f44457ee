"""The Cell page driven through its parameters, without a browser: sources must hold the reference's values."""

import numpy as np
import pytest

from simulator import sequence
from simulator.app.pages.cell import presets
from simulator.app.pages.cell.model import SERIES, VECTORS, CellModel
from simulator.app.pages.cell.view import TITLES, CellPage


def reference(kind, inputs="sine", D=3, H=4, T=20, seed=0, weights="default", edits="", word="hello"):
    """An independent run of the reference core with the page's settings."""
    X = presets.make_inputs(inputs, D, T, seed=seed, word=word)
    cell = presets.make_cell(kind, X.shape[2], H, seed=seed, situation=weights)
    presets.apply_edits(cell.params, presets.parse_edits(edits))
    return sequence.forward(cell, X)


def shown(diagram, name):
    d = diagram.cells.data
    return np.array([v for v, n in zip(d["value"], d["name"], strict=True) if n == name])


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
def test_diagram_holds_the_reference_cache_at_every_step_it_is_moved_to(kind):
    page = CellPage(CellModel(kind=kind, H=5, T=9, seed=3), query={})
    _, cache = reference(kind, H=5, T=9, seed=3)
    for t in (4, 0, 8):
        page.model.t = t
        for name in VECTORS[kind]:
            np.testing.assert_array_equal(shown(page.diagram, name), cache["steps"][t][name][0],
                                          err_msg=f"{kind} {name} t={t}")
        exact = [e for e, n in zip(page.diagram.cells.data["exact"], page.diagram.cells.data["name"], strict=True)
                 if n == "h"]
        assert [float(e) for e in exact] == cache["steps"][t]["h"][0].tolist()


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
def test_heatmaps_trajectory_and_equations_follow_the_reference(kind):
    page = CellPage(CellModel(kind=kind, inputs="random", T=12, seed=5), query={})
    page.model.t = 6
    _, cache = reference(kind, inputs="random", T=12, seed=5)
    tr = sequence.trace(cache)
    grid = page.heatmaps
    assert grid.names == list(SERIES[kind]) and grid.cursor.data["left"] == [5.5]
    for name in SERIES[kind]:
        np.testing.assert_array_equal(grid.band(name), tr[name][0].T, err_msg=name)
    # the bands do not overlap: each starts above the top row of the band below it
    ys, heights = grid.source.data["y"], grid.source.data["dh"]
    assert all(ys[k] >= ys[k + 1] + heights[k + 1] for k in range(len(ys) - 1))
    assert set(grid.figure.yaxis.major_label_overrides.values()) == {TITLES[n] for n in SERIES[kind]}
    assert page.trajectory.path.data["t"] == list(range(12))
    latex = page.equations.pane.object
    step = cache["steps"][6]
    assert f"{step['h'][0, 0]:.3f}" in latex and "t = 6" in latex
    assert repr(float(step["h"][0, 0])) in page.readout.text


def test_settings_changes_recompute_from_the_reference():
    page = CellPage(CellModel(), query={})
    m = page.model
    m.param.update(kind="gru", H=6, weights="saturated_forget", edits="W_h[0,1]=0.25", inputs="step", T=15, t=10)
    _, cache = reference("gru", inputs="step", H=6, T=15, weights="saturated_forget", edits="W_h[0,1]=0.25")
    np.testing.assert_array_equal(shown(page.diagram, "z"), cache["steps"][10]["z"][0])
    assert m.error == ""


def test_word_input_sets_sizes_and_t_stays_in_range():
    page = CellPage(CellModel(T=30), query={})
    m = page.model
    m.t = 25
    m.param.update(inputs="word", word="abcab")
    assert (m.D, m.T, m.t) == (3, 5, 4)
    assert (page.player.slider.start, page.player.slider.end) == (0, 4)
    np.testing.assert_array_equal(shown(page.diagram, "x"), [0, 1, 0])  # the 5th character is "b"


def test_compare_mode_shows_each_cell_on_the_same_input():
    page = CellPage(CellModel(compare=True, t=3), query={})
    assert page.compare_view.visible and not page.single_view.visible
    for kind in ("rnn", "lstm", "gru"):
        _, cache = reference(kind)
        np.testing.assert_array_equal(shown(page.compare_diagrams[kind], "h"), cache["steps"][3]["h"][0])
        np.testing.assert_array_equal(shown(page.compare_diagrams[kind], "x"), cache["steps"][3]["x"][0])


def test_tapping_a_box_selects_its_gate_and_the_equation_line():
    page = CellPage(CellModel(kind="lstm"), query={})
    index = page.diagram.boxes.data["name"].index("f")
    page.diagram.boxes.selected.indices = [index]
    assert page.model.gate == "f"
    assert r"\textcolor" in page.equations.pane.object.split("f_t[j]")[0].rsplit(r"\\", 1)[-1]
    assert page.diagram.highlight.data["x"]  # the column and the box are outlined


def test_hostile_url_shows_messages_and_keeps_defaults():
    page = CellPage(query={"H": "abc", "T": "100000", "kind": "<img src=x onerror=alert(1)>", "t": "5",
                           "edits": "W_h[0,1]=nan", "compare": "perhaps"})
    m = page.model
    assert (m.H, m.T, m.kind, m.t, m.compare) == (4, 20, "lstm", 5, False)
    text = page.messages.pane.object
    for word in ("URL H", "URL T", "URL kind", "URL compare", "not finite"):
        assert word in text
    assert "<img" not in text and "&lt;img" in text and page.messages.pane.visible


def test_bad_fields_show_messages_and_revert():
    page = CellPage(query={})
    h_field = page.controls.select(lambda w: getattr(w, "label", "") == "H (hidden)")[0]
    h_field.value = "99"  # number fields are text fields: the server parses what was typed
    assert page.model.H == 4 and h_field.value == "4" and "H" in page.messages.pane.object
    h_field.value = ""
    assert page.model.H == 4 and h_field.value == "4"
    assert "H (hidden): the field is empty; expected a whole number" in page.messages.pane.object
    page.value_input.value = "twelve"
    page._set_weight()
    assert "not a number" in page.messages.pane.object and page.model.edits == ""
    page.value_input.value = "nan"
    page._set_weight()
    assert "finite" in page.messages.pane.object
    page.param_name.value, page.row_input.value, page.col_input.value = "W_h", 99, 0
    page.value_input.value = "1"
    page._set_weight()
    assert "outside" in page.messages.pane.object
    page.row_input.value = 1
    page._set_weight()
    assert page.model.edits == "W_h[1,0]=1" and page.model.run.cache["params"]["W_h"][1, 0] == 1.0
    assert not page.messages.pane.visible


def test_player_steps_plays_to_the_end_and_stops():
    page = CellPage(CellModel(T=4), query={})
    player = page.player
    player.command("forward")
    player.command("forward")
    player.command("back")
    assert page.model.t == 1
    player.command("last")
    assert page.model.t == 3
    player.command("first")
    for _ in range(5):
        player.tick()
    assert page.model.t == 3 and not player.playing


def test_slow_play_lights_every_vector_of_a_step_before_moving_on():
    page = CellPage(CellModel(kind="gru", T=3, gate="x"), query={"slow": "true"})
    assert page.slow
    seen = []
    for _ in range(len(VECTORS["gru"])):
        page.player.tick()
        seen.append((page.model.t, page.model.gate))
    assert [g for t, g in seen if t == 0] == list(VECTORS["gru"][1:])  # x is lit first, then the rest in order
    assert seen[-1] == (1, "x")
    page.slow = False
    page.player.tick()
    assert (page.model.t, page.model.gate) == (2, "x")


def test_readout_prints_short_numbers_and_says_each_once():
    """Does the readout show 4 significant digits (exact value in data-exact) and h_t only once when h is selected?"""
    import re

    page = CellPage(CellModel(kind="lstm", T=6, seed=3), query={})
    m = page.model
    m.param.update(t=3, gate="h")
    h = float(m.run.cache["steps"][3]["h"][0, 0])
    text = page.readout.text
    assert text.count("data-exact") == 1 and f'data-exact="{h!r}"' in text
    visible = re.sub(r"<[^>]+>", " ", text)
    assert repr(h) not in visible and not re.search(r"\d{6,}", visible)
    m.gate = "f"
    assert page.readout.text.count("data-exact") == 2 and "rnn-selected" in page.readout.text
