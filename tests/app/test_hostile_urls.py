"""Every URL key of both pages fed malformed and hostile values: the page builds, says why, keeps defaults."""

import pytest

from simulator.app.pages.architectures import view as architectures
from simulator.app.pages.cell import view as cell
from simulator.app.pages.cell.model import CellModel

NASTY = ["", " ", "-1", "1e9", "nan", "inf", "-inf", "<script>alert(1)</script>", "\x00", "[]", "{}", "9" * 300,
         "0x10", "1.5", "TRUE", "None", "../../etc/passwd", "W_h[0,0]=1e400", "é" * 50]


@pytest.mark.parametrize("value", NASTY)
def test_cell_page_survives_every_key(value):
    query = dict.fromkeys([*cell.URL_KEYS.values(), "speed", "slow"], value)
    page = cell.CellPage(query=query)
    m = page.model
    assert m.kind in ("rnn", "lstm", "gru") and 1 <= m.H <= 32 and 0 <= m.t < m.run.T
    assert m.run.cache["steps"][m.t]["h"].shape == (1, m.H)
    assert "<script>" not in page.messages.pane.object
    default = CellModel()
    if value in ("", " ", "nan", "<script>alert(1)</script>"):
        assert (m.H, m.T, m.kind) == (default.H, default.T, default.kind)
        assert page.messages.pane.visible


@pytest.mark.parametrize("value", NASTY)
def test_architectures_page_survives_every_key(value):
    query = dict.fromkeys([*architectures.URL_KEYS.values(), "speed"], value)
    page = architectures.ArchitecturesPage(query=query)
    m = page.model
    assert 0 <= m.s < m.run.S and "<script>" not in page.messages.pane.object
