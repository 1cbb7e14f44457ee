"""Input fields checked by the model's own parameters: a bad value becomes a message and the field reverts.

Number fields are text fields parsed by the server. A browser number field silently drops the characters it
does not allow (typing "1e3" into Bokeh's integer field sends 13), so what reaches the model would not be
what the student typed; here the typed text arrives as it is and is accepted whole or refused with a message
that starts with the label shown above the field.

Not covered: a superscript minus (⁻) or other symbols are refused as "not a number" rather than read; a
subnormal value (``1e-320``) is taken with the precision a float has there; Unicode digits of any script are
read as Python reads them.
"""

from __future__ import annotations

import math
import unicodedata
from collections.abc import Callable

import panel as pn
import param


# Characters that mean "minus" in pasted text (PDFs, word processors, the lesson's typeset numbers, Bokeh's
# axis labels): the Unicode minus sign and every dash (category Pd, which holds the small and full-width
# hyphen-minus). Python's float() accepts Unicode digits but refuses these, so "−3" read as "not a number".
def _ascii_signs(raw: str) -> str:
    """``raw`` with each Unicode minus or dash written as ``-`` and a full-width plus as ``+``."""
    out = []
    for ch in raw:
        if ch == "\u2212" or unicodedata.category(ch) == "Pd":
            out.append("-")
        elif ch == "\uff0b":
            out.append("+")
        else:
            out.append(ch)
    return "".join(out)


# More digits than any bound of a field here can need: int() of a longer string is refused by Python itself
# (4300 digits), and the message must still say "too large", not "not a whole number".
MAX_DIGITS = 30


def parse_number(p: param.Parameter, text, label: str | None = None) -> int | float:
    """The typed ``text`` as a value for parameter ``p`` (whole number for ``Integer``); ValueError saying why.

    The message starts with ``label`` (the words shown above the field; default the parameter's label), so it
    names the field the student typed into. Accepted as typed: Unicode digits, a Unicode minus or dash, spaces
    around the number. Refused with a message: an empty field, text, NaN and infinities, a whole-number field's
    exponent or decimal point, and a nonzero number so small it would become 0 (``1e-400``), which a float
    field would otherwise take silently.
    """
    name = label or p.label
    shown = "" if text is None else str(text).strip()[:40]
    raw = _ascii_signs("" if text is None else str(text).strip())
    if not raw:
        raise ValueError(f"{name}: the field is empty; expected {_expected(p)}")
    hint = _decimal_comma_hint(raw)
    if isinstance(p, param.Integer):
        digits = raw.lstrip("+-")
        if digits.isdigit() and len(digits) > MAX_DIGITS:
            raise ValueError(f"{name}: got a {len(digits)}-digit number, far too large; expected {_expected(p)}. "
                             "The previous value is kept.")
        try:
            return int(raw, 10)
        except ValueError:
            raise ValueError(f"{name}: got {shown!r}, which is not written as a whole number (digits only, no "
                             f"exponent or decimal point){hint}; expected {_expected(p)}. "
                             "The previous value is kept.") from None
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"{name}: got {shown!r}, which is not a number{hint}; expected {_expected(p)}. "
                         "The previous value is kept.") from None
    if math.isnan(value) or (math.isinf(value) and raw.lstrip("+-").lower() in ("inf", "infinity")):
        raise ValueError(f"{name}: got {shown!r}; expected a finite number, {_expected(p)}. "
                         "The previous value is kept.")
    if math.isinf(value):
        raise ValueError(f"{name}: got {shown!r}, too large to hold as a number; expected {_expected(p)}. "
                         "The previous value is kept.")
    if value == 0.0 and any(unicodedata.digit(c, 0) for c in raw.lower().split("e")[0]):
        raise ValueError(f"{name}: got {shown!r}, too small to hold as a number (it would become 0); "
                         f"expected {_expected(p)} (type 0 for zero). The previous value is kept.")
    return value


def _decimal_comma_hint(raw: str) -> str:
    """A hint when ``raw`` is a number written with a decimal comma (``1,5``), else ``""``."""
    if raw.count(",") == 1 and "." not in raw:
        try:
            float(raw.replace(",", "."))
        except ValueError:
            return ""
        return f" (write the decimal point as '.', e.g. {raw.replace(',', '.')})"
    return ""


def checked_field(obj: param.Parameterized, name: str, report: Callable[[list[str]], None],
                  widget: type = pn.widgets.IntInput, label: str | None = None, **kwargs) -> pn.widgets.Widget:
    """A text field for ``obj.<name>`` whose text goes through the parameter's validation (type, bounds).

    ``widget`` says the kind of number (``IntInput``: whole numbers, ``FloatInput``: any number); the field
    itself is a ``TextInput``. A refused value is reported (``report``) and the field shows the value in use.
    When the model keeps another value than the one typed (e.g. T follows the word in word mode), the field
    says so, with the model's reason if it gives one (``obj.override_reason(name)``).
    """
    p = obj.param[name]
    shown_label = label or p.label
    kwargs.pop("step", None)  # a text field has no spinner
    w = pn.widgets.TextInput(label=shown_label, value=_text(getattr(obj, name)), description=p.doc,
                             css_classes=["rnn-number", f"rnn-field-{name}"], **kwargs)
    state = {"busy": False}

    def to_model(event):
        if state["busy"]:
            return
        try:
            value = parse_number(p, event.new, shown_label)
            setattr(obj, name, value)
        except ValueError as exc:
            typed = str(event.new).strip()[:40]
            report([_message(p, shown_label, typed if _is_number(typed) else repr(typed), exc)])
            to_widget()
            return
        kept = getattr(obj, name)
        if kept != value:
            why = getattr(obj, "override_reason", lambda n: "")(name)
            report([f"{shown_label}: got {value}, but the page uses {kept}" + (f": {why}" if why else "") + "."])
            to_widget()
        else:
            report([])

    def to_widget(*events):
        state["busy"] = True
        try:
            w.value = _text(getattr(obj, name))
        finally:
            state["busy"] = False

    w.param.watch(to_model, "value")
    obj.param.watch(to_widget, name)
    return w


def _text(value) -> str:
    return repr(value) if isinstance(value, float) else str(value)


def _expected(p: param.Parameter) -> str:
    bounds = getattr(p, "bounds", None)
    kind = "a whole number" if isinstance(p, param.Integer) else "a number"
    if bounds:
        return f"{kind} from {bounds[0]} to {bounds[1]}"
    if isinstance(p, param.Selector):
        return "one of " + ", ".join(map(str, p.objects))
    return kind


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _message(p: param.Parameter, label: str, shown: str, exc: Exception) -> str:
    """The message for a refused value: the parser's own, or (param refused it: bounds) got/expected."""
    text = str(exc)
    if text.startswith(f"{label}:"):
        return text
    return f"{label}: got {shown}; expected {_expected(p)}. The previous value is kept."
