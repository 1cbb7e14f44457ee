r"""The equations of one step in LaTeX, each followed by the same equation with unit ``j``'s numbers.

Every number substituted is read from the reference step cache (``sequence.forward``'s
``cache["steps"][t]``); the results on the right of ``=`` are the cache's values, not recomputed.
Notation as in DESIGN.md: row vectors, ``x_t W_xh``; ``\odot`` is the elementwise product.
"""

from __future__ import annotations

from collections.abc import Mapping

import panel as pn

HIGHLIGHT = "#b34700"  # 5.5:1 on white (WCAG AA text); #d35400 was 4.2:1
# the selected line is also marked by a symbol, so the selection is never carried by colour alone (WCAG 1.4.1)
MARK = r"\blacktriangleright\;"
SIGMA = r"\sigma"


def _n(v: float, lead: bool = False) -> str:
    """A number as substituted: 3 decimals, negative numbers in parentheses unless ``lead`` (nothing before)."""
    return f"{v:.3f}" if v >= 0 or lead else f"({v:.3f})"


def equation_rows(kind: str, s: Mapping, j: int, options: Mapping) -> list[tuple[str, str, str]]:
    """(vector name, symbolic equation, numeric equation for unit j) for each line of ``kind``'s step."""
    def v(name):
        return float(s[name][0, j])

    if kind == "rnn":
        act = r"\tanh" if options.get("activation", "tanh") == "tanh" else r"\operatorname{relu}"
        return [
            ("a", r"a_t = x_t W_{xh} + h_{t-1} W_{hh} + b_h", rf"a_t[j] = {_n(v('a'), True)}"),
            ("h", rf"h_t = {act}(a_t)", rf"h_t[j] = {act}({_n(v('a'), True)}) = {_n(v('h'), True)}"),
        ]
    if kind == "lstm":
        rows = []
        for g, fn in (("f", SIGMA), ("i", SIGMA), ("g", r"\tanh"), ("o", SIGMA)):
            rows.append((g, rf"{g}_t = {fn}(x_t W_{{x{g}}} + h_{{t-1}} W_{{h{g}}} + b_{g})",
                         rf"{g}_t[j] = {fn}({_n(v('a_' + g), True)}) = {_n(v(g), True)}"))
        rows.append(("c", r"c_t = f_t \odot c_{t-1} + i_t \odot g_t",
                     rf"c_t[j] = {_n(v('f'), True)} \cdot {_n(v('c_prev'))} + {_n(v('i'))} \cdot {_n(v('g'))}"
                     rf" = {_n(v('c'), True)}"))
        rows.append(("h", r"h_t = o_t \odot \tanh(c_t)",
                     rf"h_t[j] = {_n(v('o'), True)} \cdot \tanh({_n(v('c'), True)})"
                     rf" = {_n(v('o'), True)} \cdot {_n(v('tanh_c'))}"
                     rf" = {_n(v('h'), True)}"))
        return rows
    H = s["z"].shape[1]
    xw, hw = s["xw"][0], s["hw"][0]
    rows = []
    for k, g in enumerate(("z", "r")):
        rows.append((g, rf"{g}_t = \sigma(x_t W_{{x{g}}} + b_{{x{g}}} + h_{{t-1}} W_{{h{g}}} + b_{{h{g}}})",
                     rf"{g}_t[j] = \sigma({_n(xw[k * H + j], True)} + {_n(hw[k * H + j])}) = {_n(v(g), True)}"))
    if s.get("reset_after", True):
        sym = r"n_t = \tanh(x_t W_{xn} + b_{xn} + r_t \odot (h_{t-1} W_{hn} + b_{hn}))"
        num = rf"n_t[j] = \tanh({_n(xw[2 * H + j], True)} + {_n(v('r'))} \cdot {_n(hw[2 * H + j])})"
    else:
        sym = r"n_t = \tanh(x_t W_{xn} + b_{xn} + (r_t \odot h_{t-1}) W_{hn} + b_{hn})"
        num = rf"n_t[j] = \tanh({_n(xw[2 * H + j], True)} + {_n(hw[2 * H + j])})"
    rows.append(("n", sym, num + rf" = \tanh({_n(v('a_n'), True)}) = {_n(v('n'), True)}"))
    rows.append(("h", r"h_t = z_t \odot h_{t-1} + (1 - z_t) \odot n_t",
                 rf"h_t[j] = {_n(v('z'), True)} \cdot {_n(v('h_prev'))} + (1 - {_n(v('z'))}) \cdot {_n(v('n'))}"
                 rf" = {_n(v('h'), True)}"))
    return rows


def step_latex(kind: str, step_cache: Mapping, t: int, j: int, selected: str = "",
               options: Mapping | None = None) -> str:
    """LaTeX (``$$ ... $$``) of ``kind``'s step ``t`` with unit ``j``'s numbers; the ``selected`` line coloured
    and marked with ``MARK``.

    ``step_cache`` is ``cache["steps"][t]`` of ``sequence.forward`` for a batch of one sequence.
    """
    lines = []
    for name, sym, num in equation_rows(kind, step_cache, j, options or {}):
        if name == selected:
            sym, num = rf"\textcolor{{{HIGHLIGHT}}}{{{MARK}{sym}}}", rf"\textcolor{{{HIGHLIGHT}}}{{{num}}}"
        lines.append(rf"{sym} &\quad {num}")
    header = rf"\text{{step }} t = {t},\ \text{{unit }} j = {j}"
    return "$$\\begin{aligned}" + header + r"\\[2pt]" + r"\\".join(lines) + r"\end{aligned}$$"


class Equations:
    """A LaTeX pane that shows ``step_latex``; ``update`` only replaces the text."""

    def __init__(self, pane=None, **kwargs):
        """``pane``: any view with a settable ``object`` (default a ``pn.pane.LaTeX`` with KaTeX)."""
        self.pane = pane if pane is not None else pn.pane.LaTeX("", renderer="katex", styles={"font-size": "15px"},
                                                                 **kwargs)

    def update(self, kind: str, step_cache: Mapping, t: int, j: int, selected: str = "",
               options: Mapping | None = None) -> None:
        self.pane.object = step_latex(kind, step_cache, t, j, selected, options)
