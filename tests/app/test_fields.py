"""Number fields: what was typed is accepted whole or refused with a message, never changed silently."""

import param
import pytest

from simulator.app.components.errors import MessageBox
from simulator.app.components.fields import checked_field
from simulator.app.pages.cell.model import CellModel
from simulator.app.pages.cell.view import CellPage


class Settings(param.Parameterized):
    H = param.Integer(default=4, bounds=(1, 32), doc="Hidden size H.")
    lr = param.Number(default=0.01, bounds=(1e-4, 1.0), doc="Learning rate.")


def _field(name, **kwargs):
    s, box = Settings(), MessageBox()
    return s, box, checked_field(s, name, box.reporter("field"), **kwargs)


@pytest.mark.parametrize("typed", ["1e3", "13.0", "1,3", "0x1f", "4 4", "four", "inf", "-", "3e0"])
def test_a_whole_number_field_refuses_what_is_not_digits(typed):
    """Is "1e3" (which a browser integer field turns into 13) refused, naming the text and what is expected?"""
    s, box, w = _field("H")
    w.value = typed
    assert s.H == 4 and w.value == "4"
    text = " ".join(box.messages)
    assert "H:" in text and "whole number" in text and "from 1 to 32" in text


@pytest.mark.parametrize(("typed", "value"), [("13", 13), (" 7 ", 7), ("+2", 2), ("032", 32), ("١٣", 13)])
def test_a_whole_number_field_accepts_digits(typed, value):
    s, box, w = _field("H")
    w.value = typed
    assert s.H == value and not box.messages


@pytest.mark.parametrize(("typed", "ok"), [("1e-3", True), ("0.5", True), ("nan", False), ("-inf", False),
                                           ("5", False), ("abc", False), ("", False)])
def test_a_number_field_accepts_exponents_and_refuses_the_rest(typed, ok):
    import panel as pn

    s, box, w = _field("lr", widget=pn.widgets.FloatInput)
    w.value = typed
    assert (s.lr == float(typed) if ok else s.lr == 0.01)
    assert bool(box.messages) != ok


def test_T_in_word_mode_is_refused_with_the_reason_not_reverted_silently():
    page = CellPage(CellModel(inputs="word", word="hello"), query={})
    t_field = page.controls.select(lambda w: getattr(w, "label", "") == "T (steps)")[0]
    assert page.model.T == 5 and t_field.value == "5"
    t_field.value = "9"
    assert page.model.T == 5 and t_field.value == "5"
    text = page.messages.pane.object
    assert "T: got 9, but the page uses 5" in text and "length of the word" in text
    page.model.inputs = "sine"
    t_field.value = "9"
    assert page.model.T == 9 and not page.messages.pane.visible
