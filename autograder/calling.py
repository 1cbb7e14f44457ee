"""Calling a student's function safely: inputs passed as copies and checked for in-place changes."""

from __future__ import annotations

from collections.abc import Callable

from autograder import hidden_text
from autograder.values import changed_input, copy_args, fail, type_name


def ok(message: str) -> None:
    hidden_text.note_ok(message)
    print(f"ok: {message}")


def call(fn: Callable, name: str, args: tuple, kwargs: dict | None = None, tail: tuple = (),
         names: tuple[str, ...] | None = None):
    """Call a student's function on copies of ``args`` and fail if it changed any of them in place.

    ``tail`` holds opaque values (a student's own cache) passed after ``args`` as they are; ``names``
    are the arguments' names for messages.
    """
    if not callable(fn):
        fail(f"{name}: expected a function, got an object of type {type_name(fn)}", name,
             "expected a function, got another type")
    passed = copy_args(args)
    try:
        out = fn(*passed, *tail, **(kwargs or {}))
    except NotImplementedError:
        fail(f"{name} raises NotImplementedError: replace the stub's `raise NotImplementedError()` "
             "with your code", name, "raises NotImplementedError: replace the stub with your code")
    for k, (orig, got) in enumerate(zip(args, passed, strict=True)):
        arg = names[k] if names else f"argument {k + 1}"
        msg = changed_input(orig, got, arg)
        if msg:
            fail(f"{name} changed its input in place: {msg}. Compute new arrays instead (h = ..., not h_prev += ...).",
                 name, f"changed its input {arg} in place; compute new arrays instead")
    return out


def header(name: str, k: int, n: int, case: dict, hidden: bool) -> str:
    """Which function and which case a message is about; recorded, since a hidden test's message may show it."""
    text = f"{name}, {'hidden' if hidden else 'visible'} case {k + 1} of {n} ({case['label']})"
    hidden_text.note_header(text)
    return text
