"""Colours the pages set themselves meet WCAG AA text contrast (4.5:1); the contrast formula is WCAG's."""

import pytest

from simulator.app.components.a11y import BUTTON_COLORS, contrast
from simulator.app.components.equations import HIGHLIGHT


def test_contrast_matches_the_wcag_reference_values():
    assert contrast("#000000", "#ffffff") == pytest.approx(21.0)
    assert contrast("#ffffff", "#ffffff") == pytest.approx(1.0)
    assert contrast("#767676") == pytest.approx(4.54, abs=0.01)  # the lightest grey that passes on white


@pytest.mark.parametrize("color", [HIGHLIGHT, "#595959", "#6b4f1d", *BUTTON_COLORS.values()])
def test_text_colours_pass_aa(color):
    """The equations' highlight, the readout hint, the unknown-word note and the darkened buttons (white text)."""
    background = "#ffffff"
    assert contrast(color, background) >= 4.5, color
