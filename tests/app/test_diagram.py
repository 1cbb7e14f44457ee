"""The cell diagram's text stays legible at every size the pages use: no two labels overlap, numbers readable."""

import pytest

from simulator.app.components.diagram import WIDTH, CellDiagram
from simulator.app.pages.cell.model import VECTORS
from simulator.app.pages.cell.view import COMPARE_SIZE

CHAR_EM = 0.62  # a generous average glyph width in ems (sans-serif, bold heads included)


def _boxes(d: CellDiagram):
    """Pixel boxes (x0, x1, y0, y1, label) of the wire labels and the column heads."""
    fig = d.figure
    sx = fig.width / (fig.x_range.end - fig.x_range.start)
    sy = fig.height / (fig.y_range.end - fig.y_range.start)
    out = []
    for src, px, baseline in ((d.texts, d.label_px, "middle"), (d.heads, d.head_px, "bottom")):
        data = src.data
        aligns = data.get("align", ["center"] * len(data["x"]))
        for x, y, label, align in zip(data["x"], data["y"], data["label"], aligns, strict=True):
            w = len(label) * px * CHAR_EM
            X, Y = (x - fig.x_range.start) * sx, (y - fig.y_range.start) * sy
            x0 = {"left": X, "right": X - w, "center": X - w / 2}[align]
            y0 = Y - px / 2 if baseline == "middle" else Y
            out.append((x0, x0 + w, y0, y0 + px, label))
    return out


@pytest.mark.parametrize("size", [(640, 470), COMPARE_SIZE])
@pytest.mark.parametrize("kind", list(VECTORS))
def test_no_two_labels_overlap(kind, size):
    d = CellDiagram(width=size[0], height=size[1])
    d.set_layout(kind, {n: 4 for n in VECTORS[kind]}, VECTORS[kind])
    boxes = _boxes(d)
    for i, a in enumerate(boxes):
        for b in boxes[i + 1:]:
            overlap = a[0] < b[1] and b[0] < a[1] and a[2] < b[3] and b[2] < a[3]
            assert not overlap, f"{kind} at {size}: {a[4]!r} overlaps {b[4]!r}"
        assert 0 <= a[0] and a[1] <= size[0], f"{a[4]!r} leaves the drawing"


@pytest.mark.parametrize("kind", list(VECTORS))
def test_compare_numbers_are_as_readable_as_the_single_view(kind):
    """Are the numbers in the compare view's diagrams at least 9 px (they were 8 px or hidden)?"""
    d = CellDiagram(width=COMPARE_SIZE[0], height=COMPARE_SIZE[1])
    d.set_layout(kind, {n: 6 for n in VECTORS[kind]}, VECTORS[kind])
    assert int(d.numbers.glyph.text_font_size.rstrip("px")) >= 9
    assert d.figure.width <= WIDTH
