"""Argument checks that turn bad input into a ValueError naming what was wrong and what was expected."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

FLOAT_DTYPES = (np.float32, np.float64)


def as_float_array(name: str, value, ndim: int | None = None) -> np.ndarray:
    """Return ``value`` as a float32/float64 array, or raise ``ValueError`` naming ``name``.

    Integer and boolean arrays are promoted to float64; float16 and complex are refused.
    """
    if isinstance(value, np.ndarray):
        arr = value
    else:
        try:
            arr = np.asarray(value)
        except Exception as exc:  # ragged lists and other unconvertible input
            raise ValueError(f"{name}: could not be read as a numeric array ({exc})") from None
    if arr.dtype.kind in "biu":
        arr = arr.astype(np.float64)
    if arr.dtype.type not in FLOAT_DTYPES:
        raise ValueError(f"{name}: dtype {arr.dtype} is not supported; expected float32 or float64")
    if ndim is not None and arr.ndim != ndim:
        raise ValueError(f"{name}: expected a {ndim}-D array, got shape {arr.shape}")
    return arr


def check_finite(name: str, arr: np.ndarray) -> None:
    """Raise ``ValueError`` if ``arr`` holds NaN or infinity, saying where the first one is."""
    if not np.isfinite(arr).all():
        bad = np.argwhere(~np.isfinite(arr))[0]
        raise ValueError(
            f"{name}: contains {arr[tuple(bad)]} at index {tuple(int(i) for i in bad)}; "
            "expected finite values only"
        )


def check_shape(name: str, arr: np.ndarray, expected: Sequence[int]) -> None:
    """Raise ``ValueError`` unless ``arr.shape == expected``."""
    if tuple(arr.shape) != tuple(expected):
        raise ValueError(f"{name}: expected shape {tuple(expected)}, got {tuple(arr.shape)}")


def check_option(name: str, value, allowed: Sequence) -> None:
    """Raise ``ValueError`` unless ``value`` is one of ``allowed``, of the same type (``1`` is not ``True``)."""
    if not any(type(value) is type(a) and value == a for a in allowed):
        raise ValueError(f"{name}: got {value!r}; expected one of {', '.join(map(repr, allowed))}")


def check_params(params: Mapping, shapes: Mapping[str, tuple[int, ...]], dtype, dtype_of: str = "the input x") -> None:
    """Check that ``params`` has exactly the keys of ``shapes``, those shapes, ``dtype`` and finite values.

    ``dtype_of`` names where ``dtype`` comes from, for the message.
    """
    if not isinstance(params, Mapping):
        raise ValueError(f"params: expected a dict of arrays, got {type(params).__name__}")
    missing = [k for k in shapes if k not in params]
    if missing:
        raise ValueError(f"params: missing {missing}; expected keys {sorted(shapes)}")
    extra = [k for k in params if k not in shapes]
    if extra:
        raise ValueError(f"params: unexpected keys {extra}; expected keys {sorted(shapes)}")
    for key, shape in shapes.items():
        arr = params[key]
        if not isinstance(arr, np.ndarray):
            raise ValueError(f"params[{key!r}]: expected a numpy array, got {type(arr).__name__}")
        check_shape(f"params[{key!r}]", arr, shape)
        if arr.dtype != dtype:
            raise ValueError(f"params[{key!r}]: dtype {arr.dtype} differs from {dtype}, the dtype of {dtype_of}; "
                             "expected all arrays in one float dtype")
        check_finite(f"params[{key!r}]", arr)
