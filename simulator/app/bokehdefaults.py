"""Bokeh's stable property defaults, worked out once per model class instead of on every read.

A property a page never set is read from its default: ``PropertyDescriptor._get_default`` ->
``instance_default`` -> ``Property.themed_default``, which walks the class's MRO for overridden defaults
(``HasProps._overridden_defaults``), copies the default and validates it again (``prepare_value``), and
``has_unstable_default`` asks each property's whole type tree whether its default is a function. Building a
page reads every property of every model several times (constructing it, ``references()``, ``to_json``), so
on /cell about a third of a session's build CPU went there, for answers that depend only on the class and the
property name. ``install`` keeps them:

- ``_overridden_defaults(cls)``: one dict per class (a fresh copy is returned, as Bokeh does);
- ``has_unstable_default``: one bool per (descriptor, class);
- ``instance_default`` of a model without theme values, when the default is stable (not a function) and the
  prepared value is immutable (None, bool, int, float, str, or a tuple of these): one value per
  (descriptor, class). Anything else (a themed model, a list, dict or model default, an unstable default)
  goes through Bokeh's own code every time;
- ``themed_values``: read from the instance's ``__dict__``. Bokeh's ``getattr(self, "__themed_values__", None)``
  raises and catches an AttributeError on every model without theme values (nearly all of them), about a tenth
  of a build's CPU once the lookups above are cached.

The caches hold only what Bokeh would compute from the class alone, so they are exact as long as a class's
``__overridden_defaults__`` and its properties' defaults are not changed after the first model of it is read;
nothing in Bokeh or Panel does that once a class exists. Values sent by a browser are not affected: they are
set, not defaults, and still validated by ``prepare_value`` as before. Not covered: a program that edits a
Bokeh class's defaults at run time must call ``clear()`` (or not ``install``).
"""

from __future__ import annotations

import os

from bokeh.core.has_props import HasProps
from bokeh.core.property.descriptors import PropertyDescriptor

_IMMUTABLE = (type(None), bool, int, float, str)

_overridden: dict[type, dict] = {}
_unstable: dict[tuple[int, type], bool] = {}
_defaults: dict[tuple[int, type], object] = {}
_originals: dict[str, object] = {}


def _immutable(value) -> bool:
    if isinstance(value, tuple):
        return all(_immutable(v) for v in value)
    return type(value) in _IMMUTABLE


def _overridden_defaults(cls) -> dict:
    found = _overridden.get(cls)
    if found is None:
        found = _overridden[cls] = _originals["overridden"].__func__(cls)
    return dict(found)


def _has_unstable_default(self: PropertyDescriptor, obj: HasProps) -> bool:
    key = (id(self), type(obj))
    found = _unstable.get(key)
    if found is None:
        found = _unstable[key] = _originals["unstable"](self, obj)
    return found


def _instance_default(self: PropertyDescriptor, obj: HasProps):
    if obj.themed_values() is not None:
        return _originals["instance"](self, obj)
    key = (id(self), type(obj))
    try:
        return _defaults[key]
    except KeyError:
        pass
    value = _originals["instance"](self, obj)
    if _immutable(value) and not _has_unstable_default(self, obj):
        _defaults[key] = value
    return value


def _themed_values(self: HasProps) -> dict | None:
    return self.__dict__.get("__themed_values__")


def install() -> None:
    """Replace the four lookups with their cached forms (once per process; a second call does nothing)."""
    if _originals:
        return
    _originals["overridden"] = HasProps.__dict__["_overridden_defaults"]
    _originals["unstable"] = PropertyDescriptor.has_unstable_default
    _originals["instance"] = PropertyDescriptor.instance_default
    _originals["themed"] = HasProps.themed_values
    HasProps.themed_values = _themed_values
    HasProps._overridden_defaults = classmethod(_overridden_defaults)
    PropertyDescriptor.has_unstable_default = _has_unstable_default
    PropertyDescriptor.instance_default = _instance_default


def install_unless_off(environ: dict[str, str] | None = None) -> bool:
    """``install`` unless ``RNN_BOKEH_DEFAULTS`` is ``0`` (to rule the cache out, or to measure without it);
    returns whether it is installed. Any value but ``0`` or ``1`` raises ValueError naming it.
    """
    value = (os.environ if environ is None else environ).get("RNN_BOKEH_DEFAULTS", "1")
    if value not in ("0", "1"):
        raise ValueError(f"RNN_BOKEH_DEFAULTS: got {value!r}; expected 1 (cache Bokeh's defaults) or 0 (do not)")
    if value == "1":
        install()
    return value == "1"


def uninstall() -> None:
    """Bokeh's own lookups again, and the caches emptied (for the tests' controls)."""
    if not _originals:
        return
    HasProps._overridden_defaults = _originals.pop("overridden")
    PropertyDescriptor.has_unstable_default = _originals.pop("unstable")
    PropertyDescriptor.instance_default = _originals.pop("instance")
    HasProps.themed_values = _originals.pop("themed")
    clear()


def clear() -> None:
    """Forget every cached default (after changing a Bokeh class's defaults at run time)."""
    _overridden.clear()
    _unstable.clear()
    _defaults.clear()
