"""Readout numbers: short on screen, exact in data-exact, never 17 digits."""

import html
import re

import numpy as np
import pytest

from simulator.app.components.numbers import number_html, short


@pytest.mark.parametrize(("value", "text"), [(0.07661711705918613, "0.07662"), (-0.5, "-0.5"), (0.0, "0"),
                                             (123.456789, "123.5"), (1e-7, "1.000e-07"), (2.5e7, "2.500e+07"),
                                             (1.0, "1"), (-0.99999999, "-1")])
def test_short_keeps_four_significant_digits(value, text):
    assert short(value) == text


def test_every_shown_number_is_short_and_its_exact_value_round_trips():
    """For many random magnitudes: at most 10 characters shown, within 0.05 % of the value, exact repr kept."""
    rng = np.random.default_rng(0)
    values = rng.standard_normal(500) * 10.0 ** rng.integers(-9, 9, 500)
    for v in values:
        out = number_html(v, "rnn-h")
        exact = float(re.search(r'data-exact="([^"]+)"', out).group(1))
        shown = html.unescape(re.search(r">([^<]+)</code>", out).group(1))
        assert exact == v and len(shown) <= 10
        assert abs(float(shown) - v) <= 5e-4 * abs(v), (v, shown)


def test_the_class_is_escaped():
    assert '"x&quot;&gt;' in number_html(1.0, 'x">')
