"""Input fields checked by the model's own parameters: a bad value becomes a message and the field reverts.

Number fields are text fields parsed by the server. A browser number field silently drops the characters it
does not allow (typing "1e3" into Bokeh's integer field sends 13), so what reaches the model would not be
what the student typed; here the typed text arrives as it is and is accepted whole or refused with a message.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import panel as pn
import param


def parse_number(p: param.Parameter, text) -> int | float:
    """The typed ``text`` as a value for parameter ``p`` (whole number for ``Integer``); ValueError saying why."""
    raw = "" if text is None else str(text).strip()
    if not raw:
        raise ValueError(f"{p.label}: the field is empty or not a number; expected {_expected(p)}")
    if isinstance(p, param.Integer):
        try:
            return int(raw, 10)
        except ValueError:
            raise ValueError(f"{p.label}: got {raw[:40]!r}, which is not a whole number (digits only, no exponent "
                             f"or decimal point); expected {_expected(p)}. The previous value is kept.") from None
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"{p.label}: got {raw[:40]!r}, which is not a number; expected {_expected(p)}. "
                         "The previous value is kept.") from None
    if not math.isfinite(value):
        raise ValueError(f"{p.label}: got {raw[:40]!r}; expected a finite number, {_expected(p)}. "
                         "The previous value is kept.")
    return value


def checked_field(obj: param.Parameterized, name: str, report: Callable[[list[str]], None],
                  widget: type = pn.widgets.IntInput, label: str | None = None, **kwargs) -> pn.widgets.Widget:
    """A text field for ``obj.<name>`` whose text goes through the parameter's validation (type, bounds).

    ``widget`` says the kind of number (``IntInput``: whole numbers, ``FloatInput``: any number); the field
    itself is a ``TextInput``. A refused value is reported (``report``) and the field shows the value in use.
    When the model keeps another value than the one typed (e.g. T follows the word in word mode), the field
    says so, with the model's reason if it gives one (``obj.override_reason(name)``).
    """
    p = obj.param[name]
    kwargs.pop("step", None)  # a text field has no spinner
    w = pn.widgets.TextInput(label=label or p.label, value=_text(getattr(obj, name)), description=p.doc,
                             css_classes=["rnn-number", f"rnn-field-{name}"], **kwargs)
    state = {"busy": False}

    def to_model(event):
        if state["busy"]:
            return
        try:
            value = parse_number(p, event.new)
            setattr(obj, name, value)
        except ValueError as exc:
            typed = str(event.new).strip()[:40]
            report([_message(p, typed if _is_number(typed) else repr(typed), exc)])
            to_widget()
            return
        kept = getattr(obj, name)
        if kept != value:
            why = getattr(obj, "override_reason", lambda n: "")(name)
            report([f"{p.label}: got {value}, but the page uses {kept}" + (f": {why}" if why else "") + "."])
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


def _message(p: param.Parameter, shown: str, exc: Exception) -> str:
    text = str(exc)
    if text.startswith(p.label):
        return text
    return f"{p.label}: got {shown}; expected {_expected(p)}. The previous value is kept."
