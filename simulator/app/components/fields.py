"""Input fields checked by the model's own parameters: a bad value becomes a message and the field reverts."""

from __future__ import annotations

from collections.abc import Callable

import panel as pn
import param


def checked_field(obj: param.Parameterized, name: str, report: Callable[[list[str]], None],
                  widget: type = pn.widgets.IntInput, label: str | None = None, **kwargs) -> pn.widgets.Widget:
    """A widget for ``obj.<name>`` whose values go through the parameter's validation (bounds, type).

    The widget has no client-side bounds, so an out-of-range number reaches the server, which says
    what is allowed (``report``) and puts the field back to the value in use.
    """
    p = obj.param[name]
    w = widget(label=label or p.label, value=getattr(obj, name), description=p.doc, **kwargs)
    state = {"busy": False}

    def to_model(event):
        if state["busy"]:
            return
        try:
            if event.new is None:
                raise ValueError(f"{p.label}: the field is empty or not a number; expected {_expected(p)}")
            setattr(obj, name, event.new)
            report([])
        except ValueError as exc:
            report([_message(p, event.new, exc)])
            to_widget()

    def to_widget(*events):
        state["busy"] = True
        try:
            w.value = getattr(obj, name)
        finally:
            state["busy"] = False

    w.param.watch(to_model, "value")
    obj.param.watch(to_widget, name)
    return w


def _expected(p: param.Parameter) -> str:
    bounds = getattr(p, "bounds", None)
    if bounds:
        return f"a value from {bounds[0]} to {bounds[1]}"
    if isinstance(p, param.Selector):
        return "one of " + ", ".join(map(str, p.objects))
    return "a valid value"


def _message(p: param.Parameter, value, exc: Exception) -> str:
    text = str(exc)
    if text.startswith(p.label):
        return text
    return f"{p.label}: got {value!r}; expected {_expected(p)}. The previous value is kept."
