"""Compare a student's arrays with the reference and say where they first part: time step, gate, unit."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

RTOL = 1e-6
ATOL = 1e-8


def tolerance_text(rtol: float = RTOL, atol: float = ATOL) -> str:
    return f"|got - expected| <= atol + rtol*|expected| with rtol={rtol:g}, atol={atol:g}"


def close(expected: np.ndarray, got: np.ndarray, rtol: float = RTOL, atol: float = ATOL) -> np.ndarray:
    """Elementwise ``|got - expected| <= atol + rtol |expected|`` (the test of ``np.isclose``, written out)."""
    return np.abs(got - expected) <= atol + rtol * np.abs(expected)


def all_close(expected: np.ndarray, got: np.ndarray, rtol: float = RTOL, atol: float = ATOL) -> bool:
    return expected.shape == got.shape and bool(close(expected, got, rtol, atol).all())


@dataclass(frozen=True)
class Layout:
    """What the axes of an array mean: names per axis, which axis is time, gate blocks on the last axis.

    ``time_axis`` is the index of the time axis or None; ``backward`` says that time runs from T-1 down
    (a gradient is computed last step first); ``blocks`` names equal column blocks of the last axis
    (e.g. ``("i", "f", "g", "o")``).
    """

    axes: tuple[str, ...]
    time_axis: int | None = None
    backward: bool = False
    blocks: tuple[str, ...] = ()


STATE = Layout(("batch", "unit"))
SEQUENCE = Layout(("batch", "t", "unit"), time_axis=1)
SEQUENCE_GRAD = Layout(("batch", "t", "unit"), time_axis=1, backward=True)


def _where(idx: tuple[int, ...], layout: Layout, shape: tuple[int, ...]) -> str:
    parts = []
    for axis, (name, i) in enumerate(zip(layout.axes, idx, strict=False)):
        if axis == layout.time_axis:
            continue
        if layout.blocks and axis == len(shape) - 1:
            width = shape[-1] // len(layout.blocks)
            parts.append(f"gate {layout.blocks[i // width]}, unit {i % width}")
        elif shape[axis] > 1 or name == "unit":
            parts.append(f"{name} {i}")
    return ", ".join(parts)


def _span(first: int, last: int, none: str) -> str:
    if first > last:
        return none
    return f"t={first} matches" if first == last else f"t={min(first, last)}..{max(first, last)} match"


def describe_mismatch(name: str, expected: np.ndarray, got: np.ndarray, layout: Layout | None = None,
                      rtol: float = RTOL, atol: float = ATOL) -> str | None:
    """None if ``got`` matches ``expected``; otherwise one sentence locating the first difference.

    With a time axis: "h differs from step t=3 on (first bad: unit 2, expected 0.412, got 0.377);
    t=0..2 match". With gate blocks, the first differing gate is named.
    """
    ok = close(expected, got, rtol, atol)
    if ok.all():
        return None
    layout = layout or Layout(tuple(f"index{k}" for k in range(expected.ndim)))
    bad = ~ok
    n_bad, n = int(bad.sum()), bad.size
    if layout.time_axis is not None:
        T = expected.shape[layout.time_axis]
        other = tuple(a for a in range(expected.ndim) if a != layout.time_axis)
        bad_t = bad.any(axis=other)  # (T,)
        order = range(T - 1, -1, -1) if layout.backward else range(T)
        t = next(t for t in order if bad_t[t])
        sub_bad = np.take(bad, t, axis=layout.time_axis)
        idx_sub = tuple(int(i) for i in np.argwhere(sub_bad)[0])
        idx = idx_sub[: layout.time_axis] + (t,) + idx_sub[layout.time_axis :]
        if layout.backward:
            good = _span(t + 1, T - 1, "already the last step differs")
        else:
            good = _span(0, t - 1, "already the first step t=0 differs")
        return (f"{name} differs from step t={t} on (first bad: {_where(idx, layout, expected.shape)}, "
                f"expected {expected[idx]:.6g}, got {got[idx]:.6g}); {good}; {n_bad} of {n} entries differ")
    idx = tuple(int(i) for i in np.argwhere(bad)[0])
    where = _where(idx, layout, expected.shape)
    blocks = ""
    if layout.blocks:
        width = expected.shape[-1] // len(layout.blocks)
        names = [g for k, g in enumerate(layout.blocks) if bad[..., k * width : (k + 1) * width].any()]
        blocks = f"; gates that differ: {', '.join(names)}"
    return (f"{name} differs at {where or 'its value'} (expected {expected[idx]:.6g}, got {got[idx]:.6g}); "
            f"{n_bad} of {n} entries differ{blocks}")
