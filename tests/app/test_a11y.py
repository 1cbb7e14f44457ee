"""Colours meet WCAG AA contrast (4.5:1): the pages' own colours and the colour scale's text (formula: WCAG's)."""

import json
import shutil
import subprocess

import numpy as np
import pytest

from simulator.app.components import client_player, palette
from simulator.app.components.a11y import CODE_COLOR, FOCUS_COLOR, contrast
from simulator.app.components.equations import HIGHLIGHT


def test_contrast_matches_the_wcag_reference_values():
    assert contrast("#000000", "#ffffff") == pytest.approx(21.0)
    assert contrast("#ffffff", "#ffffff") == pytest.approx(1.0)
    assert contrast("#767676") == pytest.approx(4.54, abs=0.01)  # the lightest grey that passes on white


@pytest.mark.parametrize("color", [HIGHLIGHT, "#595959", "#6b4f1d", CODE_COLOR, FOCUS_COLOR])
def test_text_colours_pass_aa(color):
    """The equations' highlight, the readout hint, the unknown-word note, inline code and the focus ring."""
    background = "#ffffff"
    assert contrast(color, background) >= 4.5, color


# --- the colour scale: each cell's number readable on the colour actually drawn ---------------------------------





def test_every_bin_of_the_scale_has_a_text_colour_at_4_5_to_1():
    """Is every palette colour paired with black or white text at WCAG AA contrast?"""
    for colour, text in zip(palette.PALETTE, palette.TEXT_ON, strict=True):
        ink = "#000000" if text == "black" else "#ffffff"
        assert contrast(ink, colour) >= 4.5, (colour, text, contrast(ink, colour))


def _edges() -> np.ndarray:
    n = len(palette.PALETTE)
    edges = palette.LOW + (palette.HIGH - palette.LOW) * np.arange(n + 1) / n
    rng = np.random.default_rng(0)
    return np.concatenate([edges, edges + 1e-9, edges - 1e-9, rng.uniform(-3, 3, 200), [0.62, -0.62, 0.63, -0.63]])


def test_text_colour_follows_the_bin_bokeh_draws():
    """Does the text colour come from the value's bin (Bokeh's LinearColorMapper rule), clipped at both ends?"""
    values = _edges()
    n = len(palette.PALETTE)
    k = np.clip(np.floor((values - palette.LOW) / (palette.HIGH - palette.LOW) * n), 0, n - 1).astype(int)
    assert palette.text_colors(values) == [palette.TEXT_ON[i] for i in k]
    # the old threshold (|v| > 0.62 -> white) put white text on #4393c3 and #d6604d (3.4:1 and 3.7:1)
    assert palette.text_colors(np.array([0.63, -0.63])) == ["black", "black"]
    assert palette.text_colors(np.array([5.0, -5.0, np.nan])) == ["white", "white", "black"]


def test_the_browser_picks_the_same_text_colours_as_the_server():
    """Does the client player's JavaScript ``textOn`` agree with ``palette.text_colors`` on every value?"""
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed (the browser tests need it for axe-core too)")
    values = _edges()
    script = client_player.HELPERS_JS + f"\nconsole.log(JSON.stringify({json.dumps(values.tolist())}.map(textOn)));"
    out = subprocess.run([node, "-e", script], capture_output=True, text=True, timeout=60, check=True).stdout
    assert json.loads(out) == palette.text_colors(values)


@pytest.mark.parametrize("kind, selected", [("rnn", "h"), ("lstm", "f"), ("lstm", "c"), ("gru", "n"), ("gru", "z")])
def test_the_selected_equation_line_is_marked_not_only_coloured(kind, selected):
    """Is the selected line (and only it) marked with a symbol as well as the highlight colour?"""
    from simulator import sequence
    from simulator.app.components.equations import MARK, step_latex
    from simulator.app.pages.cell import presets

    X = presets.make_inputs("sine", 3, 4, seed=0)
    _, cache = sequence.forward(presets.make_cell(kind, 3, 4, seed=0), X)
    lines = step_latex(kind, cache["steps"][2], 2, 1, selected=selected).split(r"\\")
    marked = [line for line in lines if MARK in line]
    assert len(marked) == 1 and rf"{MARK}{selected}_t" in marked[0] and HIGHLIGHT in marked[0]
    assert MARK not in step_latex(kind, cache["steps"][2], 2, 1, selected="")
