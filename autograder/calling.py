"""Calling a student's function safely: inputs passed as copies and checked for in-place changes.

Each call also records which call a return came from, so that a strict read of that return which fails
(:mod:`autograder.values`: a NaN, a wrong shape) names the test case it happened on, whatever the check's
own message says: the case's header when the check composed it (:func:`header`) for the very inputs of the
call, else the function, its inputs' shapes and which of its calls in the test cell it was.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from contextvars import ContextVar

import numpy as np

from autograder import channel, hidden_text
from autograder.values import changed_input, copy_args, fail, type_name

MAX_IDS = 10_000  # containers and arrays of one return remembered by identity

# The header composed last and the identities of its case's values; the last call: (where, its return, ids).
_CASE: ContextVar[tuple[str, frozenset[int]] | None] = ContextVar("autograder_open_case", default=None)
_LAST: ContextVar[tuple[str, str, object, frozenset[int]] | None] = ContextVar("autograder_last_call", default=None)
_COUNTS: ContextVar[dict[str, int] | None] = ContextVar("autograder_call_counts", default=None)


def ok(message: str) -> None:
    hidden_text.note_ok(message)
    print(f"ok: {message}")


@contextlib.contextmanager
def scope() -> Iterator[None]:
    """One test cell's record of calls: counted from 1, forgotten (with the last return) when the block ends."""
    tokens = (_CASE.set(None), _LAST.set(None), _COUNTS.set({}))
    try:
        yield
    finally:
        _COUNTS.reset(tokens[2])
        _LAST.reset(tokens[1])
        _CASE.reset(tokens[0])


def call(fn: Callable, name: str, args: tuple, kwargs: dict | None = None, tail: tuple = (),
         names: tuple[str, ...] | None = None):
    """Call a student's function on copies of ``args`` and fail if it changed any of them in place.

    ``tail`` holds opaque values (a student's own cache) passed after ``args`` as they are; ``names``
    are the arguments' names for messages. A function in the sandbox changes its own copies only (the
    channel never writes into the grader's objects); the copies as it left them come back with its answer
    (:func:`channel.arguments_reported`) and are compared here with ``args``.
    """
    if not callable(fn):
        fail(f"{name}: expected a function, got an object of type {type_name(fn)}", name,
             "expected a function, got another type")
    passed = copy_args(args)
    where = _where(name, args, names)
    try:
        with channel.arguments_reported() as reported:
            out = fn(*passed, *tail, **(kwargs or {}))
    except NotImplementedError:
        fail(f"{name} raises NotImplementedError: replace the stub's `raise NotImplementedError()` "
             "with your code", name, "raises NotImplementedError: replace the stub with your code")
    # NB: only a direct call's report lines up with args (a local wrapper may call the sandbox with other arguments)
    left = _as_left(reported, passed, len(args)) if isinstance(fn, channel.RemoteRef) else passed
    for k, orig in enumerate(args):
        arg = names[k] if names else f"argument {k + 1}"
        msg = changed_input(orig, left[k], arg) if left is not None else f"{arg} came back as another structure"
        if msg:
            fail(f"{name} changed its input in place: {msg}. Compute new arrays instead (h = ..., not h_prev += ...).",
                 name, f"changed its input {arg} in place; compute new arrays instead")
    _LAST.set((*where, out, frozenset(_ids(out))))
    return out


def _as_left(reported: list, passed: tuple, n: int) -> tuple | None:
    """The arguments as the function left them: its report through the channel, else (a local function) ``passed``."""
    if not reported:
        return passed  # NB: no report (not a call through the channel): the copies passed are what it left
    after = reported[-1][0]
    return tuple(tuple.__iter__(after))[:n] if type(after) is tuple and len(after) >= n else None


def header(name: str, k: int, n: int, case: dict, hidden: bool) -> str:
    """Which function and which case a message is about; recorded, since a hidden test's message may show it."""
    text = f"{name}, {'hidden' if hidden else 'visible'} case {k + 1} of {n} ({case['label']})"
    hidden_text.note_header(text)
    _CASE.set((text, frozenset(_ids(case))))
    return text


def open_case() -> str | None:
    """The header :func:`header` composed last in this test cell, if any."""
    case = _CASE.get()
    return None if case is None else case[0]


def returned_by(value) -> tuple[str, str, bool] | None:
    """``(visible, hidden-safe, is_header)``: the call whose return holds ``value`` (the last call only), or None.

    It is the case's header when the check composed one for the call's very inputs, else the function with
    its inputs' shapes (the only part a hidden test may show; a hidden case's label gives shapes too) and,
    visibly, which of its calls in the test cell it was.
    """
    last = _LAST.get()
    if last is None or not last[0] or id(value) not in last[3]:
        return None
    return last[0], last[1], last[0] == last[1] == open_case()


def _where(name: str, args: tuple, names: tuple[str, ...] | None) -> tuple[str, str]:
    case = _CASE.get()
    inputs = [id(a) for a in args if type(a) in (np.ndarray, dict, list, tuple)]
    if case is not None and inputs and all(i in case[1] for i in inputs):
        return case[0], case[0]  # NB: the header the check composed for these very inputs
    if case is not None and case[0].startswith(f"{name}, "):
        return "", ""  # NB: a header of this function is open: the check names its case (it may be this one)
    counts = _COUNTS.get()
    shapes = ", ".join(f"{names[k] if names and k < len(names) else f'argument {k + 1}'} {_shape_text(a)}"
                       for k, a in enumerate(args))
    safe = f"{name} called on {shapes}" if shapes else f"{name} called"
    if counts is None:
        return safe, safe
    counts[name] = counts.get(name, 0) + 1
    return f"{safe} (its call {counts[name]} in this test)", safe


def _shape_text(value) -> str:
    """A grader value said by its shape only: ``(3, 4)``, ``{'W': (3, 4)}``, ``a number``, ``2 items``."""
    t = type(value)
    if t is np.ndarray:
        return str(value.shape)
    if t is dict:
        return "{" + ", ".join(f"{k!r}: {_shape_text(v)}" for k, v in list(value.items())[:8]) + "}"
    if t in (list, tuple):
        return f"{len(value)} items"
    if t in (float, int, bool) or isinstance(value, np.generic):
        return "a number"
    return f"a {type_name(value)}"


def _ids(value, depth: int = 0, out: list[int] | None = None) -> list[int]:
    """Identities of ``value`` and of the containers and arrays in it (exact types: nothing the student wrote runs)."""
    out = [] if out is None else out
    t = type(value)
    if len(out) >= MAX_IDS or depth > channel.MAX_DEPTH or t not in (np.ndarray, dict, list, tuple):
        return out
    out.append(id(value))
    if t is dict:
        for v in dict.values(value):
            _ids(v, depth + 1, out)
    elif t is list:
        for v in list.__iter__(value):
            _ids(v, depth + 1, out)
    elif t is tuple:
        for v in tuple.__iter__(value):
            _ids(v, depth + 1, out)
    return out
