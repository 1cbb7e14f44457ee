"""Does every page's document pass Bokeh's validation (which the server skips per session), and is the skip undoable?"""

import panel as pn
import pytest
from bokeh.core.validation import check_integrity
from bokeh.document import Document
from bokeh.settings import settings

from simulator.app import docvalidation
from simulator.app.registry import available_pages


@pytest.fixture
def restored_setting():
    yield
    settings.perform_document_validation.unset_value()


@pytest.mark.parametrize("slug, module", available_pages(), ids=[slug for slug, _ in available_pages()])
def test_every_page_document_has_no_validation_error(slug, module):
    doc = Document()
    doc.add_root(pn.panel(module.create()).get_root(doc))
    issues = check_integrity(doc.models)
    assert not issues.error, [(e.code, e.name, e.text) for e in issues.error]
    assert all(w.name == "EMPTY_LAYOUT" for w in issues.warning), [(w.code, w.name) for w in issues.warning]


def test_the_server_skips_validation_unless_the_environment_asks_for_it(restored_setting):
    assert docvalidation.skip_in_server({}) is False
    assert settings.perform_document_validation() is False
    settings.perform_document_validation.unset_value()
    assert docvalidation.skip_in_server({"BOKEH_VALIDATE_DOC": "true"}) is True


def test_a_broken_document_is_reported_by_the_same_check():
    """The control: the check the tests run instead does find Bokeh's errors."""
    from bokeh.models import ColumnDataSource, GlyphRenderer, Scatter
    from bokeh.plotting import figure

    fig = figure()
    fig.renderers.append(GlyphRenderer(data_source=ColumnDataSource({"x": [1]}), glyph=Scatter(x="x", y="y")))
    doc = Document()
    doc.add_root(fig)
    assert check_integrity(doc.models).error
