"""Readable ticks for a log-scale axis: as many labels as fit, never a crowded stack.

Bokeh's ``LogTicker`` falls back to linear ticks (1, 2, 3, ... 10) when the range spans about one decade,
which on a log axis piles eight labels into the top third of the plot (the BPTT lab's gradient-norm plot
before training). Here the ticks are chosen on the server from the range and the plot's height in pixels.

A tick ``v`` on ``[lo, hi]`` drawn over ``pixels`` sits at ``pixels * (log10 v - log10 lo) / (log10 hi - log10 lo)``.
Candidates are tried densest first: mantissas ``(1, 1.5, 2, 3, 5, 7)`` in every decade, then ``(1, 2, 5)``,
then ``(1,)``, then every ``k``-th decade (``k`` = 2, 3, 5, 10, ...); the first whose smallest gap between
neighbours is at least ``min_gap`` pixels and that puts at least two ticks in the range is used. A range too
narrow for two of those ticks (``0.98 .. 1.02``) gets evenly spaced "nice" steps (1, 2 or 5 times a power of
ten) instead.

Not covered: the plot's height in pixels is estimated from the figure's height (title, legend and x-axis
subtracted as a constant), so a figure stretched by its layout gets the spacing of its nominal height.
"""

from __future__ import annotations

import math

import numpy as np

SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


def tick_labels(ticks: list[float]) -> list[str]:
    """Labels for a whole axis, in one style and with as few digits as keep neighbours apart.

    Plain numbers when every tick is between 0.001 and 9999, else powers of ten (``10⁻⁴``, ``2·10⁻⁵``): one axis
    never mixes ``0.001`` with ``10⁻⁴``. Three significant digits, more when two ticks would read the same.
    """
    plain = all(1e-3 <= abs(t) < 1e4 for t in ticks)
    for digits in range(3, 16):
        labels = [tick_label(t, plain, digits) for t in ticks]
        if len(set(labels)) == len(labels):
            break
    return labels


def tick_label(v: float, plain: bool | None = None, digits: int = 6) -> str:
    """``v`` with ``digits`` significant digits: plain (``0.02``, ``500``; default between 0.001 and 9999), else
    ``2·10⁻⁵`` or ``10⁶``.
    """
    v = float(f"{v:.12g}")  # 0.30000000000000004 -> 0.3
    if v == 0:
        return "0"
    if plain if plain is not None else 1e-3 <= abs(v) < 1e4:
        return f"{v:.{max(digits, 6)}g}"
    e = math.floor(math.log10(abs(v)))
    m = float(f"{v / 10.0 ** e:.{digits}g}")
    power = "10" + str(e).translate(SUPERSCRIPT)
    return power if m == 1 else f"{m:.{digits}g}·{power}"


def _gaps_ok(ticks: np.ndarray, lo: float, hi: float, pixels: float, min_gap: float) -> bool:
    inside = ticks[(ticks >= lo) & (ticks <= hi)]
    if inside.size < 2:
        return False
    y = pixels * (np.log10(inside) - math.log10(lo)) / (math.log10(hi) - math.log10(lo))
    return bool(np.diff(y).min() >= min_gap)


def _linear(lo: float, hi: float, pixels: float, min_gap: float) -> np.ndarray:
    """Evenly spaced nice ticks in ``[lo, hi]``: the smallest step 1, 2 or 5 x 10^k whose gaps fit."""
    e = math.floor(math.log10(hi - lo)) - 2
    while True:
        for m in (1, 2, 5):
            step = m * 10.0 ** e
            ticks = np.arange(math.ceil(lo / step), math.floor(hi / step) + 1) * step
            if ticks.size >= 2 and _gaps_ok(ticks, lo, hi, pixels, min_gap):
                return ticks
            if ticks.size < 2:
                return np.array([lo, hi])
        e += 1


def log_ticks(lo: float, hi: float, pixels: float, min_gap: float = 18.0) -> list[float]:
    """Tick values for a log axis showing ``[lo, hi]`` (``0 < lo < hi``) over ``pixels`` pixels (module doc)."""
    if not (math.isfinite(lo) and math.isfinite(hi) and 0 < lo < hi) or pixels <= 0:
        raise ValueError(f"log_ticks: got lo={lo!r}, hi={hi!r}, pixels={pixels!r}; "
                         "expected finite 0 < lo < hi and pixels > 0")
    d0, d1 = math.floor(math.log10(lo)), math.ceil(math.log10(hi))
    decades = np.arange(d0, d1 + 1)
    for mantissas in ((1, 1.5, 2, 3, 5, 7), (1, 2, 5), (1,)):
        ticks = np.array([m * 10.0 ** d for d in decades for m in mantissas])
        if _gaps_ok(ticks, lo, hi, pixels, min_gap):
            return [float(t) for t in ticks[(ticks >= lo) & (ticks <= hi)]]
    if d1 - d0 >= 2:
        for k in (2, 3, 5, 10, 20, 50, 100):
            ticks = 10.0 ** np.arange(k * math.floor(d0 / k), d1 + 1, k)
            if _gaps_ok(ticks, lo, hi, pixels, min_gap):
                return [float(t) for t in ticks[(ticks >= lo) & (ticks <= hi)]]
    return [float(t) for t in _linear(lo, hi, pixels, min_gap)]


def set_log_ticks(figure, pixels: float, min_gap: float = 18.0) -> None:
    """Give ``figure``'s log y axis the ticks of ``log_ticks`` for its y range, labelled by ``tick_labels``."""
    from bokeh.models import FixedTicker

    lo, hi = float(figure.y_range.start), float(figure.y_range.end)
    ticks = log_ticks(lo, hi, pixels, min_gap)
    figure.yaxis.ticker = FixedTicker(ticks=ticks, minor_ticks=[])
    figure.yaxis.major_label_overrides = dict(zip(ticks, tick_labels(ticks), strict=True))
