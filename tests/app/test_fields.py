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
    bias = param.Number(default=1.0, bounds=(-3.0, 5.0), doc="Gate bias.")


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
    assert "T (steps): got 9, but the page uses 5" in text and "length of the word" in text
    page.model.inputs = "sine"
    t_field.value = "9"
    assert page.model.T == 9 and not page.messages.pane.visible


@pytest.mark.parametrize("typed", ["−0.5", "–0.5", "—0.5", "﹣0.5", "－0.5", "‐0.5", "-0.5"])
def test_a_pasted_unicode_minus_is_a_minus(typed):
    """Is "−0.5" pasted from a typeset page (U+2212, a dash, a full-width minus) read as -0.5, not refused?"""
    import panel as pn

    s, box, w = _field("bias", widget=pn.widgets.FloatInput, label="Gate bias (LSTM f)")
    w.value = typed
    assert s.bias == -0.5 and not box.messages


@pytest.mark.parametrize("typed", ["−2", "－2", "—2"])
def test_a_pasted_unicode_minus_reaches_the_bounds_check_of_a_whole_number_field(typed):
    s, box, w = _field("H", label="H (hidden)")
    w.value = typed
    assert s.H == 4 and len(box.messages) == 1
    assert box.messages[0] == (f"H (hidden): got {typed!r}; expected a whole number from 1 to 32. "
                               "The previous value is kept.")


@pytest.mark.parametrize("typed", ["1e-400", "-1e-324", "0.0001e-330", "٣e-999", "5E-1000"])
def test_a_nonzero_number_too_small_to_hold_is_refused_not_taken_as_zero(typed):
    """Is "1e-400" (float() gives 0.0, inside the bounds) refused instead of silently becoming 0?"""
    import panel as pn

    s, box, w = _field("bias", widget=pn.widgets.FloatInput, label="Gate bias")
    w.value = typed
    assert s.bias == 1.0 and w.value == "1.0"
    assert len(box.messages) == 1 and box.messages[0].startswith("Gate bias: got")
    assert "too small" in box.messages[0] and "from -3.0 to 5.0" in box.messages[0]


@pytest.mark.parametrize("typed", ["0e-999", "0.000", "-0"])
def test_zero_written_any_way_is_zero(typed):
    import panel as pn

    s, box, w = _field("bias", widget=pn.widgets.FloatInput)
    w.value = typed
    assert s.bias == 0.0 and not box.messages


@pytest.mark.parametrize(("typed", "says"), [("9" * 5000, "5000-digit number, far too large"),
                                             ("-" + "7" * 31, "31-digit number, far too large"),
                                             ("9" * 400 + ".0", "too large to hold"),
                                             ("1e400", "too large to hold")])
def test_a_huge_number_is_called_too_large_not_not_a_number(typed, says):
    """Python refuses int() of 4301+ digits and float() gives inf for 1e400: both are numbers, far too large."""
    import panel as pn

    kind = {"widget": pn.widgets.FloatInput} if "." in typed or "e" in typed else {}
    name = "lr" if kind else "H"
    s, box, w = _field(name, **kind)
    w.value = typed
    assert getattr(s, name) == Settings.param[name].default
    assert len(box.messages) == 1 and says in box.messages[0] and "not a" not in box.messages[0]
    assert len(box.messages[0]) < 300, "the message repeats the whole typed text"


@pytest.mark.parametrize(("name", "typed", "hint"), [("lr", "0,5", "e.g. 0.5"), ("H", "1,5", "e.g. 1.5")])
def test_a_decimal_comma_gets_a_hint(name, typed, hint):
    import panel as pn

    kind = {"widget": pn.widgets.FloatInput} if name == "lr" else {}
    s, box, w = _field(name, **kind)
    w.value = typed
    assert "decimal point as '.'" in box.messages[0] and hint in box.messages[0]


def _page_fields():
    """(page slug, built page, its number fields) for every simulator page with number fields."""
    import importlib

    import panel as pn

    out = []
    for slug in ("cell", "architectures", "bptt", "crnn", "applications"):
        page = pn.panel(importlib.import_module(f"simulator.app.pages.{slug}.view").create())
        fields = [w for w in page.select(pn.widgets.TextInput) if "rnn-number" in (w.css_classes or [])]
        out.append((slug, page, fields))
    return out


@pytest.mark.parametrize("typed", ["abc", "", "-99999", "1e400", "NaN"])
def test_every_fields_message_starts_with_the_label_shown_above_it(typed, monkeypatch):
    """Does a refused value name the field by the words on the page ("Learning rate", not the code's "Lr")?"""
    from simulator.app.components import errors

    shown = []
    real = errors.MessageBox.show
    monkeypatch.setattr(errors.MessageBox, "show", lambda self, messages: (shown.append(list(messages)),
                                                                          real(self, messages))[1])
    checked = 0
    for slug, _, fields in _page_fields():
        for w in fields:
            before = w.value
            shown.clear()
            w.value = typed
            if w.value == typed:  # accepted (e.g. -99999 for a field without a lower bound)
                continue
            messages = [m for batch in shown for m in batch]
            assert any(m.startswith(f"{w.label}: got") or m.startswith(f"{w.label}: the field is empty")
                       for m in messages), f"{slug}: field {w.label!r}, typed {typed!r}: {messages}"
            assert w.value == before
            checked += 1
    assert checked >= 20
