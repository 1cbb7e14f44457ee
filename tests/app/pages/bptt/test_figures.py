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


def _tick_value(label: str) -> float:
    """A tick label read back as a number: ``0.02``, ``10⁻⁵``, ``2·10⁻⁵``."""
    digits = str.maketrans("⁻⁰¹²³⁴⁵⁶⁷⁸⁹", "-0123456789")
    if "10" in label and any(c in label for c in "⁻⁰¹²³⁴⁵⁶⁷⁸⁹"):
        mantissa, _, power = label.rpartition("10")
        return float(mantissa.rstrip("·") or 1) * 10.0 ** int(power.translate(digits))
    return float(label)


def _check_log_axis(lo, hi, pixels, min_gap=18.0):
    from simulator.app.components.log_axis import log_ticks, tick_labels

    ticks = np.array(log_ticks(lo, hi, pixels, min_gap))
    where = f"lo={lo!r}, hi={hi!r}, pixels={pixels}: ticks {ticks.tolist()}"
    assert ticks.size >= 2 and np.all((ticks >= lo) & (ticks <= hi)), where
    y = pixels * (np.log10(ticks) - np.log10(lo)) / (np.log10(hi) - np.log10(lo))
    assert np.diff(y).min() >= min_gap, f"{where}: labels {np.diff(y).min():.1f} px apart"
    labels = tick_labels(ticks.tolist())
    assert len(set(labels)) == len(labels), f"{where}: repeated labels {labels}"
    np.testing.assert_allclose([_tick_value(s) for s in labels], ticks, rtol=2e-3, err_msg=f"{where}: {labels}")
    assert all("e" not in s for s in labels), labels


@pytest.mark.parametrize("seed", range(6))
def test_log_ticks_never_crowd_and_always_label_the_range(seed):
    """Random ranges from a factor 1.0001 to 300 decades, short and tall plots: at least two labels in range,
    at least 18 px apart, distinct, and each label reads back as its tick."""
    rng = np.random.default_rng(seed)
    for _ in range(60):
        lo = 10.0 ** rng.uniform(-300, 10)
        hi = min(lo * 10.0 ** (10.0 ** rng.uniform(-4, np.log10(300))), 1e300)
        if not hi > lo:
            continue
        _check_log_axis(lo, hi, float(rng.integers(40, 600)))


@pytest.mark.parametrize(("lo", "hi", "pixels"), [(0.1, 10.0, 130), (0.83, 3.2, 110), (0.98, 1.02, 130),
                                                  (1e-300, 1.0, 160), (1e-6, 1e2, 40), (5.0, 5.0001, 300),
                                                  (0.999, 1000.001, 45), (1e-9, 3e-9, 60)])
def test_log_ticks_of_the_labs_ranges_and_edges(lo, hi, pixels):
    """Held-out: the empty plot (0.1 .. 10), a clipped run (0.83 .. 3.2), a flat run, the 1e-300 floor, a tiny
    plot, a range of one part in 50000, ranges just inside decade bounds."""
    _check_log_axis(lo, hi, pixels)


@pytest.mark.parametrize("bad", [(0.0, 1.0, 100), (2.0, 1.0, 100), (1.0, float("inf"), 100), (1.0, 2.0, 0)])
def test_log_ticks_refuse_a_range_a_log_axis_cannot_show(bad):
    from simulator.app.components.log_axis import log_ticks

    with pytest.raises(ValueError, match="expected finite 0 < lo < hi"):
        log_ticks(*bad)


@pytest.mark.parametrize("data", [None, [0.95, 1.05], [1.0, 1.0], [1e-7, 3e4], [2.0, 2.3, 2.6]])
def test_a_log_curve_plot_shows_readable_ticks_before_and_after_data(data):
    """The gradient-norm plot had Bokeh's LogTicker, which on its empty 0.1 .. 10 range drew 1, 2, ... 10 piled
    at the top: the ticks are now fixed on the server, spaced for the plot's height, inside its range."""
    from bokeh.models import FixedTicker

    from simulator.app.pages.bptt.figures import Curves

    c = Curves("gradient norm", ["before clipping", "after clipping"], ["#d62728", "#9467bd"], width=340,
               height=220, y_log=True)
    if data is not None:
        c.set_line("before clipping", range(len(data)), data)
    ticker, r = c.figure.yaxis[0].ticker, c.figure.y_range
    assert isinstance(ticker, FixedTicker)
    ticks = np.array(ticker.ticks)
    assert ticks.size >= 2 and np.all((ticks >= r.start) & (ticks <= r.end)), (ticks, r.start, r.end)
    y = c.plot_pixels * np.log10(ticks / r.start) / np.log10(r.end / r.start)
    assert np.diff(y).min() >= 18
    assert set(c.figure.yaxis[0].major_label_overrides) == set(ticker.ticks)
