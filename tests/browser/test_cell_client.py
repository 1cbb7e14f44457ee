"""Steps on the Cell page cost no round trip: the browser draws them from the run's timeline, the numbers are
the reference's, keys work before any click, and the server hears only one throttled report."""

from __future__ import annotations

import pytest

from simulator import sequence
from simulator.app.pages.cell import presets

from .test_pages import exact_of, query, wait_query, wait_text

pytestmark = pytest.mark.browser


def test_steps_are_drawn_in_the_browser_and_reported_once(server, open_page):
    page = open_page(server + "/cell?kind=lstm&H=5&T=12&inputs=random&seed=7&gate=f")
    sent = []  # message headers the browser sends (a Bokeh message is several frames; the first names its type)
    page.on("websocket", lambda ws: ws.on("framesent", lambda payload: sent.append(payload)
                                          if '"msgtype"' in str(payload) else None))
    page.reload()  # observe the websocket from its start
    wait_text(page, ".rnn-t", "t = 0")
    page.wait_for_timeout(1500)
    before = len(sent)
    page.keyboard.press("ArrowRight")  # keys work before any button was clicked
    wait_text(page, ".rnn-t", "t = 1")
    for t in (2, 3, 4, 5):
        page.get_by_role("button", name="Step ▶").click()
        wait_text(page, ".rnn-t", f"t = {t}")
    page.keyboard.press("ArrowLeft")
    wait_text(page, ".rnn-t", "t = 4")
    during = len(sent) - before
    wait_query(page, "t", "4")  # the URL follows the throttled report
    X = presets.make_inputs("random", 3, 12, seed=7)
    _, cache = sequence.forward(presets.make_cell("lstm", 3, 5, seed=7), X)
    assert exact_of(page, ".rnn-h") == cache["steps"][4]["h"][0, 0]
    assert exact_of(page, ".rnn-selected") == cache["steps"][4]["f"][0, 0]
    assert during <= 1, f"{during} messages reached the server during 6 steps: {sent[before:]}"
    assert len(sent) - before <= 2, sent[before:]  # the one report (two if the 400 ms pause fell mid-way)
    # the drawn formula's text, spaces and zero-width spaces aside (inner_text also holds KaTeX's MathML copy)
    latex = "".join(page.locator(".katex .katex-html").first.text_content().replace("\u200b", "").split())
    assert "t=4" in latex and f"{cache['steps'][4]['f'][0, 0]:.3f}" in latex
    again = open_page(page.url)
    wait_text(again, ".rnn-t", "t = 4")


def test_compare_mode_and_slow_play_run_in_the_browser(server, open_page):
    """Do the three compare diagrams step in the browser, and does slow play light vectors before moving on?"""
    page = open_page(server + "/cell?kind=gru&compare=true&T=6&gate=x&speed=8.0")
    wait_text(page, ".rnn-t", "t = 0")
    page.get_by_role("button", name="Step ▶").click()
    wait_text(page, ".rnn-t", "t = 1")
    slow = open_page(server + "/cell?kind=gru&T=3&gate=x&slow=true&speed=2.0")
    wait_text(slow, ".rnn-t", "t = 0")
    slow.get_by_role("button", name="▶ Play").click()
    wait_text(slow, ".rnn-selected", "", contains=True)
    seen = set()
    for _ in range(150):  # GRU draws x, h_prev, z, r, n, h: slow play shows several of them at t = 0
        text = slow.locator(".rnn-t").first.evaluate("el => el.parentElement.textContent")
        if "t = 0" in text:
            seen.add(text.split("·")[1].split("=")[0].strip())
        if "t = 2" in text:
            break
        slow.wait_for_timeout(100)
    assert len(seen) >= 3, seen
    wait_text(slow, ".rnn-t", "t = 2")


def test_a_step_report_is_one_message_each_way_and_the_url_is_the_servers(server, open_page):
    """The browser writes the step into the URL itself and the server does not send it back (it was one more
    message to the page, and Panel's location answered it with one more message to the server); a later change
    made on the server writes a URL that still holds the step shown."""
    page = open_page(server + "/cell?kind=gru&H=3&T=9&inputs=random&seed=3")
    sent, received = [], []
    page.on("websocket", lambda ws: (ws.on("framesent", lambda p: sent.append(str(p))),
                                     ws.on("framereceived", lambda p: received.append(str(p)))))
    page.reload()
    wait_text(page, ".rnn-t", "t = 0")
    page.get_by_role("button", name="Step ▶").click()  # the first report after a load: the server writes the
    wait_query(page, "unit", "0")  # keys the typed URL lacked (its URL differs from the browser's and is sent)
    page.wait_for_timeout(1500)
    mark_sent, mark_received = len(sent), len(received)
    for t in (2, 3):
        page.get_by_role("button", name="Step ▶").click()
        wait_text(page, ".rnn-t", f"t = {t}")
    wait_query(page, "t", "3")
    page.wait_for_timeout(1500)  # the report and any answer to it
    headers_sent = [f for f in sent[mark_sent:] if '"msgtype"' in f]
    headers_received = [f for f in received[mark_received:] if '"msgtype"' in f]
    assert len(headers_sent) == 1 and '"PATCH-DOC"' in headers_sent[0], sent[mark_sent:]  # the report only
    assert [('"OK"' in h) for h in headers_received] == [True], headers_received  # its OK, no patch
    assert not any('"search"' in f for f in received[mark_received:])
    # a change the server makes (H) writes the URL: it keeps the step the page shows, and reopens there
    field = page.get_by_label("H (hidden)")
    field.fill("4")
    field.press("Enter")
    wait_query(page, "H", "4")
    shown = page.locator(".rnn-t").first.text_content().strip()
    assert shown == f"t = {query(page)['t']}", (shown, page.url)
    again = open_page(page.url)
    wait_text(again, ".rnn-t", shown)
