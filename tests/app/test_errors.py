"""MessageBox: messages by source, shown in a fixed order with the extra lines last, escaped, hidden when empty."""

from __future__ import annotations

import pytest

from simulator.app.components.errors import SOURCES, MessageBox


def test_sources_show_in_fixed_order_then_extra():
    error = ["model broke"]
    box = MessageBox(extra=lambda: list(error))
    box.report("input", ["i"])
    box.report("training", ["t"])
    box.report("field", ["f"])
    box.report("url", ["u1", "u2"])
    assert SOURCES == ("url", "field", "training", "input")
    assert box.messages == ["u1", "u2", "f", "t", "i", "model broke"]
    assert box.pane.visible and box.pane.object == ('<div class="rnn-message-text">u1<br>u2<br>f<br>t<br>i<br>'
                                                    'model broke</div>')


def test_append_extends_and_plain_report_replaces():
    box = MessageBox()
    report_url = box.reporter("url", append=True)
    report_field = box.reporter("field")
    report_url(["URL a: bad"])
    report_url(["URL b: bad"])
    report_field(["H: got 0"])
    report_field(["seed: got -1"])
    assert box.messages == ["URL a: bad", "URL b: bad", "seed: got -1"]
    report_field([])
    assert box.messages == ["URL a: bad", "URL b: bad"] and box.reported("url") == ["URL a: bad", "URL b: bad"]


def test_refresh_reads_extra_again_and_empty_lines_are_dropped():
    error = [""]
    box = MessageBox(extra=lambda: list(error))
    box.refresh()
    assert box.messages == [] and not box.pane.visible and box.pane.object == ""
    error[0] = "loss: became nan"
    box.refresh()
    assert box.messages == ["loss: became nan"] and box.pane.visible
    error[0] = ""
    box.refresh()
    assert box.messages == [] and not box.pane.visible


def test_messages_are_escaped():
    box = MessageBox()
    box.report("url", ["URL kind: got '<script>alert(1)</script>'"])
    assert "<script>" not in box.pane.object and "&lt;script&gt;" in box.pane.object


def test_reported_is_a_copy():
    box = MessageBox()
    box.report("input", ["Sentence: is empty"])
    held = box.reported("input")
    held.append("not reported")
    assert box.reported("input") == ["Sentence: is empty"] and box.messages == ["Sentence: is empty"]


@pytest.mark.parametrize("call", [lambda b: b.report("urls", ["x"]), lambda b: b.reporter("train"),
                                  lambda b: b.reported("")])
def test_unknown_source_is_refused(call):
    box = MessageBox()
    with pytest.raises(ValueError, match="source: got .*; expected one of url, field, training, input"):
        call(box)
    assert box.messages == []
