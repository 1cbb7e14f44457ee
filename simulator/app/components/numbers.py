"""Numbers as the pages print them: a few significant digits on screen, the exact float one hover away.

A readout shows ``0.07662``, not ``0.07661711705918613``; the element keeps the exact value (Python's
``repr``, which round-trips to the same float) in ``data-exact`` and in its tooltip, so a test or a
curious student can still read every digit, and a screen reader reads the short form.
"""

from __future__ import annotations

import html
import math

DIGITS = 4  # significant digits shown


def short(value: float, digits: int = DIGITS) -> str:
    """``value`` with ``digits`` significant digits (no exponent between 1e-4 and 1e6), e.g. ``-0.07662``."""
    x = float(value)
    if not math.isfinite(x):
        return str(x)
    if x == 0:
        return "0"
    if 1e-4 <= abs(x) < 1e6:
        decimals = max(digits - 1 - math.floor(math.log10(abs(x))), 0)
        text = f"{x:.{decimals}f}"
        return text.rstrip("0").rstrip(".") if "." in text else text
    return f"{x:.{digits - 1}e}"


def number_html(value: float, css_class: str, digits: int = DIGITS) -> str:
    """``<code class=... data-exact=... title=...>short</code>`` for a readout."""
    exact = repr(float(value))
    return (f'<code class="{html.escape(css_class)}" data-exact="{exact}" title="exact value {exact}">'
            f"{short(value, digits)}</code>")
