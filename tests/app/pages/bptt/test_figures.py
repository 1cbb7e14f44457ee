"""Are the numbers written on the BPTT lab's value grids readable on the colour each cell is drawn with?"""

import numpy as np
import pytest

from simulator.app.components import palette
from simulator.app.components.a11y import contrast
from simulator.app.pages.bptt.figures import ValueGrid

NAMED = {"black": "#000000", "white": "#ffffff"}


@pytest.mark.parametrize("seed, scale", [(None, None), (0, None), (1, None), (2, 3.0), (3, 0.5)])
def test_every_number_has_at_least_4_5_to_1_on_its_cell(seed, scale):
    """Every bin (a sweep of [-1, 1]) and random grids (some fixed scales, some values beyond them): the text
    colour against the bin drawn."""
    rng = np.random.default_rng(seed)
    values = (np.linspace(-1, 1, 81).reshape(3, 27) if seed is None
              else rng.standard_normal((4, 9)) * rng.uniform(0.1, 5))
    grid = ValueGrid("test")
    grid.set_values(values, scale=scale)
    data = grid.source.data
    top = scale or float(np.abs(values).max())
    fills = [palette.PALETTE[k] for k in palette.bins(np.array(data["value"]) / top)]
    ratios = [contrast(NAMED[c], f) for c, f in zip(data["text_color"], fills, strict=True)]
    assert min(ratios) >= 4.5, sorted(zip(ratios, data["text_color"], fills, strict=True))[:3]


def test_a_norm_map_is_blank_until_it_has_norms():
    """Before training, a map shows no colour that could be read as data (NaN, drawn light grey); then the norms."""
    from simulator.app.pages.bptt.figures import NormMap

    norm_map = NormMap("test")
    assert np.isnan(norm_map.source.data["image"][0]).all() and norm_map.mapper.nan_color == "#f4f4f4"
    norm_map.set_norms(np.array([[1.0, 0.1, 0.01]]))
    assert np.allclose(norm_map.source.data["image"][0], [[0.0, -1.0, -2.0]])
