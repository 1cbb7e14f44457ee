"""The cached Bokeh defaults (simulator/app/bokehdefaults.py) change nothing a page sends or a model holds."""

from __future__ import annotations

import re

import panel as pn
import pytest
from bokeh.core.json_encoder import serialize_json
from bokeh.core.properties import List, String
from bokeh.document import Document
from bokeh.models import ColumnDataSource, Div, Range1d
from bokeh.plotting import figure
from bokeh.themes import Theme

import serve
from simulator.app import bokehdefaults

PAGES = [path for path in serve.routes() if path != "/course"]


@pytest.fixture
def cached():
    bokehdefaults.install()
    yield
    bokehdefaults.uninstall()


def _page_json(path: str) -> str:
    doc = Document()
    with pn.io.server.set_curdoc(doc):
        serve.routes()[path]().server_doc(doc)
    text = serialize_json(doc.to_json(), pretty=True)
    ids: dict[str, int] = {}
    # Bokeh's ids (p1234), Panel's (32 hex digits, Column00012) and object ids in names differ per build:
    # number them in order of appearance
    return re.sub(r"\b(p\d+|[0-9a-f]{32}|[A-Z][A-Za-z]*\d{5,}|[a-z-]+-\d{6,})\b",
                  lambda m: f"#{ids.setdefault(m.group(1), len(ids))}", text)


@pytest.mark.parametrize("path", PAGES)
def test_every_page_sends_the_same_document_with_and_without_the_cache(path):
    bokehdefaults.uninstall()
    own = _page_json(path)
    bokehdefaults.install()
    try:
        first, again = _page_json(path), _page_json(path)  # the second build reads the cache filled by the first
    finally:
        bokehdefaults.uninstall()
    assert first == own
    assert again == own


def test_the_comparison_can_fail():
    """Control: a page with one property changed is told apart by the same normalisation."""
    bokehdefaults.uninstall()
    assert _page_json("/cell") != _page_json("/cell").replace('"sizing_mode"', '"sizing_mod"', 1)


def test_a_container_default_is_never_shared_between_models(cached):
    a, b = Div(), Div()
    a.tags.append("mine")
    a.css_classes = [*a.css_classes, "x"]
    assert b.tags == [] and b.css_classes == []
    assert Div().css_classes == []


def test_a_theme_still_decides_a_themed_models_defaults(cached):
    plain = figure()
    assert plain.background_fill_color == "#ffffff"  # fills the cache for this class and property
    doc = Document()
    doc.theme = Theme(json={"attrs": {"Plot": {"background_fill_color": "#123456"}}})
    themed = figure()
    doc.add_root(themed)
    assert themed.background_fill_color == "#123456"
    assert figure().background_fill_color == "#ffffff"
    doc.remove_root(themed)  # the theme leaves with the document
    assert themed.background_fill_color == "#ffffff" and themed.themed_values() is None


def test_values_set_on_a_model_are_still_validated(cached):
    Range1d().start  # noqa: B018  (a default read first)
    with pytest.raises(ValueError):
        Range1d(start="not a number")
    with pytest.raises(ValueError):
        ColumnDataSource().data = "a string"


def test_clear_forgets_a_default_changed_at_run_time(cached):
    from bokeh.model import Model

    class Tagged(Model):
        __implementation__ = None
        label = String(default="first")
        names = List(String)

    assert Tagged().label == "first"
    Tagged.__dict__["label"].property._default = "second"
    assert Tagged().label == "first"  # documented: a class changed after its first read needs clear()
    bokehdefaults.clear()
    assert Tagged().label == "second"
    assert Tagged().names == []


def test_install_twice_and_uninstall_restore_bokehs_own_lookups():
    from bokeh.core.property.descriptors import PropertyDescriptor

    own = PropertyDescriptor.instance_default
    bokehdefaults.install()
    bokehdefaults.install()
    assert PropertyDescriptor.instance_default is not own
    bokehdefaults.uninstall()
    assert PropertyDescriptor.instance_default is own


@pytest.mark.parametrize("value", ["2", "yes", "", " 1"])
def test_a_bad_switch_value_is_named(value):
    with pytest.raises(ValueError, match="RNN_BOKEH_DEFAULTS: got .*expected 1"):
        bokehdefaults.install_unless_off({"RNN_BOKEH_DEFAULTS": value})


def test_the_switch_turns_the_cache_off_and_on():
    from bokeh.core.property.descriptors import PropertyDescriptor

    own = PropertyDescriptor.instance_default
    try:
        assert bokehdefaults.install_unless_off({"RNN_BOKEH_DEFAULTS": "0"}) is False
        assert PropertyDescriptor.instance_default is own
        assert bokehdefaults.install_unless_off({}) is True
        assert PropertyDescriptor.instance_default is not own
    finally:
        bokehdefaults.uninstall()
