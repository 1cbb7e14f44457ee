"""Strict reading of what a student's function returned: real float arrays only, no object is trusted.

A student's return value may be any object; these helpers never call its ``__eq__``, ``__array__``,
``__len__``, ``__repr__`` or ``__iter__``. They accept exact ``np.ndarray`` (no subclass) of a float dtype,
python floats, and exact ``tuple``/``list``/``dict`` containers of those; anything else fails with
an ``AssertionError`` naming what was expected.
"""

from __future__ import annotations

import numpy as np

from autograder import hidden_text
from autograder.channel import defang


class CheckError(AssertionError):
    """A check's failure (raised by :func:`fail`): its text is the visible message, never a hidden one."""


def type_name(value) -> str:
    """The name of ``value``'s class, read without calling anything the student defined."""
    name = type.__getattribute__(type(value), "__name__")
    return name if isinstance(name, str) else "object"


def fail(message: str, what: str | None = None, hidden: str | None = None):
    """Raise the ``AssertionError`` that a failing check reports.

    ``hidden`` is the same failure said with grader values only (``what`` the grader's name of the value,
    then the expected type, shape, dtype or keys), which is what a hidden test may show
    (:mod:`autograder.hidden_text`); ``message`` may quote what the student returned.
    """
    from autograder import calling  # NB: calling imports this module

    if (case := calling.open_case()) is not None and message.startswith(f"{case}: {case}: "):
        message = message[len(case) + 2:]  # NB: a read that named its case, wrapped by a check that names it too
    if what is not None and hidden is not None:
        hidden_text.note_problem(message, f"{what}: {hidden}")
    raise CheckError(message)


def _read_failed(message: str, what: str, hidden: str, value):
    """:func:`fail` for a strict read of ``value``, naming the test case (or the call) whose return it is.

    ``calling.returned_by`` knows the call; the case's header goes first (as every check's message starts),
    unless the message already names it.
    """
    from autograder import calling

    where = calling.returned_by(value)
    if where is None or where[0] in message:
        fail(message, what, hidden)
    visible, safe, is_header = where
    named = f"{visible}: {message}"
    # NB: a header is stripped by hidden_text before it matches the problem; a call's description is not
    hidden_text.note_problem(message if is_header else named, f"{what}: {hidden}" if is_header
                             else f"{safe}: {what}: {hidden}")
    raise CheckError(named)


def as_array(value, what: str, shape: tuple[int, ...], dtype=np.float64) -> np.ndarray:
    """A private copy of ``value`` if it is a finite float ndarray of ``shape`` and ``dtype``; else fail.

    ``shape`` may be ``()`` for a scalar; then a python ``float`` (or a 0-d array) is accepted too.
    """
    if shape == () and type(value) in (float, np.float64, np.float32):
        value = np.array(float(value), dtype=np.float64)
    elif type(value) is not np.ndarray:
        expected = "a python float" if shape == () else f"a numpy array of shape {shape}"
        _read_failed(f"{what}: expected {expected}, got an object of type {type_name(value)}", what,
                     f"expected {expected}, got another type", value)
    arr = value  # an exact ndarray: its dtype and shape are read without running anything the student wrote
    if arr.dtype.kind != "f":
        _read_failed(f"{what}: dtype {arr.dtype}, expected a float array ({np.dtype(dtype).name}); "
                     "did an integer or boolean array slip in?", what, f"wrong dtype, expected {np.dtype(dtype).name}",
                     value)
    if arr.shape != tuple(shape):
        _read_failed(f"{what}: shape {arr.shape}, expected {tuple(shape)}", what,
                     f"wrong shape, expected {tuple(shape)}", value)
    if arr.dtype != np.dtype(dtype):
        _read_failed(f"{what}: dtype {arr.dtype}, expected {np.dtype(dtype).name} (the dtype of the inputs); "
                     "avoid casting", what, f"wrong dtype, expected {np.dtype(dtype).name}", value)
    # NB: copied only once it is known to be of the case's shape: a huge wrong return costs no second copy here
    read = np.array(arr, copy=True)
    if not np.isfinite(read).all():
        bad = tuple(int(i) for i in np.argwhere(~np.isfinite(read))[0])
        _read_failed(f"{what}: holds {read[bad]} at index {bad}; expected finite values only", what,
                     "holds a value that is not finite; expected finite values only", value)
    return read


def as_tuple(value, n: int, what: str, names: str) -> tuple:
    """The ``n`` items of an exact tuple or list ``value``; ``names`` says what they should be."""
    expected = f"expected a tuple of {n} values ({names})"
    if type(value) not in (tuple, list):
        _read_failed(f"{what}: {expected}, got an object of type {type_name(value)}", what,
                     f"{expected}, got another type", value)
    items = tuple(list.__iter__(value)) if type(value) is list else tuple(tuple.__iter__(value))
    if len(items) != n:
        _read_failed(f"{what}: {expected}, got {len(items)} values", what, f"{expected}, got another number of values",
                     value)
    return items


def as_array_dict(value, what: str, shapes: dict[str, tuple[int, ...]], dtype=np.float64) -> dict[str, np.ndarray]:
    """Copies of the arrays of an exact ``dict`` with exactly the keys of ``shapes``."""
    expected = f"expected a dict with exactly the keys {sorted(shapes)}"
    if type(value) is not dict:
        _read_failed(f"{what}: expected a dict with keys {sorted(shapes)}, got an object of type {type_name(value)}",
                     what, f"{expected}, got another type", value)
    keys = list(dict.keys(value))
    if any(type(k) is not str for k in keys):
        _read_failed(f"{what}: expected string keys {sorted(shapes)}", what, f"{expected}, got other keys", value)
    missing = sorted(set(shapes) - set(keys))
    extra = sorted(set(keys) - set(shapes))
    if missing or extra:
        _read_failed(f"{what}: keys {defang(repr(sorted(keys)))}, expected {sorted(shapes)}"
                     + (f" (missing {missing})" if missing else "")
                     + (f" (unexpected {defang(repr(extra))})" if extra else ""),
                     what, f"{expected}, got other keys", value)
    return {k: as_array(dict.__getitem__(value, k), f"{what}[{k!r}]", shapes[k], dtype) for k in shapes}


def as_float(value, what: str) -> float:
    """A finite python float from a python/numpy float or a 0-d float array."""
    return float(as_array(value, what, ()))


def copy_args(value):
    """A deep copy of check inputs (arrays, dicts, tuples, lists, scalars) to hand to a student."""
    if isinstance(value, np.ndarray):
        return value.copy()
    if isinstance(value, dict):
        return {k: copy_args(v) for k, v in value.items()}
    if isinstance(value, tuple | list):
        return type(value)(copy_args(v) for v in value)
    return value


def changed_input(original, passed, name: str) -> str | None:
    """Describe the first input the student's function changed in place, or None if all are intact."""
    if isinstance(original, np.ndarray):
        if type(passed) is not np.ndarray or passed.shape != original.shape or not np.array_equal(passed, original):
            where = ""
            if type(passed) is np.ndarray and passed.shape == original.shape:
                idx = tuple(int(i) for i in np.argwhere(passed != original)[0])
                where = f" (first changed entry {idx}: was {original[idx]:.6g}, now {passed[idx]:.6g})"
            return f"{name} was modified in place{where}"
        return None
    if isinstance(original, dict):
        if type(passed) is not dict or set(dict.keys(passed)) != set(original):
            return f"{name} (a dict) had its keys changed in place"
        for k in original:
            msg = changed_input(original[k], dict.__getitem__(passed, k), f"{name}[{k!r}]")
            if msg:
                return msg
        return None
    if isinstance(original, tuple | list):
        # NB: ``passed`` is the student's copy as it was left (any plain value): never let zip raise on it
        kind = "a tuple" if isinstance(original, tuple) else "a list"
        if type(passed) not in (tuple, list):
            return f"{name} ({kind}) was replaced by an object of type {type_name(passed)}"
        items = tuple(list.__iter__(passed)) if type(passed) is list else tuple(tuple.__iter__(passed))
        if len(items) != len(original):
            return f"{name} ({kind} of {len(original)} items) had its length changed in place (now {len(items)})"
        for k, (o, p) in enumerate(zip(original, items, strict=True)):
            msg = changed_input(o, p, f"{name}[{k}]")
            if msg:
                return msg
    return None
