"""The Cell page's hidden sections are built on first use: absent from a fresh page, whole once opened."""

import numpy as np
import panel as pn
import pytest
from bokeh.document import Document
from bokeh.models import ColumnDataSource, Plot

from simulator.app.pages.cell import view
from simulator.app.pages.cell.mine import MineSection
from simulator.app.pages.cell.model import CellModel
from simulator.app.pages.cell.uploaded import UploadedSection


def plots(obj) -> set:
    """The Bokeh plots of ``obj`` rendered into a fresh server document."""
    doc = Document()
    pn.Column(obj).server_doc(doc)
    return {m for m in doc.models if isinstance(m, Plot)}


def test_a_fresh_cell_page_sends_only_the_main_view():
    """Does a new /cell session hold only the main view's plots (none of the compare or upload sections)?"""
    page = view.CellPage()
    main = len(plots(page))
    whole = len(plots(view.create()))
    assert main > 0 and whole == main


def test_the_compare_section_is_built_when_its_card_is_opened():
    """Collapsed: one line of text. Opened: picker, three maps and text views, which follow the settings."""
    model = CellModel(kind="gru", T=6, H=3)
    section = MineSection(model)
    assert not section.built and len(section.layout.objects) == 1 and not plots(section.layout)
    model.H = 4  # a settings change before the section exists is harmless
    section.layout.collapsed = False
    assert section.built and len(plots(section.layout)) == 3
    assert set(section.maps) == {"ref", "mine", "diff"} and section.paste in section.mine.controls.objects
    section.run()  # no course on this process: a clear line, not a traceback
    assert "no course" in section.status.object
    model.T = 5
    assert "settings changed" in section.status.object
    assert np.all(section.maps["diff"].source.data["image"][0] == 0)


def test_the_compare_section_named_in_the_url_is_built_at_once():
    """``mine=ID`` opens the card: is it built (and open) without a click?"""
    section = MineSection(CellModel(), {"mine": "17"})
    assert section.built and not section.layout.collapsed


def test_a_test_reaching_for_the_picker_builds_the_section():
    """The picker's names (``paste``, ``status``, ``future``) build the section on first access, once."""
    section = MineSection(CellModel())
    paste = section.paste
    assert section.built and section.paste is paste and section.future is None


def test_the_upload_section_has_no_body_before_an_upload():
    """Before any upload: no diagram, heatmaps or head plot exist or are sent; the upload controls do."""
    section = UploadedSection()
    assert not section.built and not hasattr(section, "diagram") and not plots(section)
    assert section.upload is not None and section.gate_select is not None
    section.model.T = 5  # the section's settings work without a body
    section.model.t = 3
    assert isinstance(section.model.run.cache["steps"], list) and not section.built


def test_the_upload_section_body_follows_its_runs_once_built():
    """Built by hand (as an upload does): does the body appear and draw the section's run?"""
    section = UploadedSection()
    section.build()
    section.build()  # once only
    assert section.built and len(plots(section)) == 3  # diagram, head plot, the heatmaps (one figure)
    assert isinstance(section.head_source, ColumnDataSource) and section.diagram.figure is not None


@pytest.mark.parametrize("change", [{"H": 6}, {"T": 9}, {"kind": "gru"}, {"inputs": "step"}])
def test_a_setting_change_reuses_the_document_models(change):
    """A recompute sends new data, not new models: a new model (a fresh axis ticker) makes Bokeh walk the whole
    document on every setting change (it made each change five times slower)."""
    page = view.CellPage(query={})
    doc = Document()
    pn.Column(page).server_doc(doc)
    before = {m.id for m in doc.models}
    page.model.param.update(**change)
    page.model.param.update(**change)  # and once more, the same
    added = [type(m).__name__ for m in doc.models if m.id not in before]
    assert not added, added
