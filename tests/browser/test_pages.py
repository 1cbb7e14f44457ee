"""Each page in real Chromium: it loads, Step advances it, a shown number equals the reference, the URL
round-trips the state, hostile URLs give a message, and nothing is logged to the console as an error."""

from __future__ import annotations

from urllib.parse import parse_qs, urlparse

import pytest

from simulator import architectures as arch
from simulator import sequence
from simulator.app.pages.architectures import examples
from simulator.app.pages.cell import presets

from .conftest import screenshot

pytestmark = pytest.mark.browser


def text_of(page, selector: str) -> str:
    return page.locator(selector).first.inner_text(timeout=40000).strip()


def exact_of(page, selector: str) -> float:
    """The exact number behind a readout (the page prints 4 significant digits and keeps ``repr`` in data-exact)."""
    el = page.locator(selector).first
    shown = el.inner_text(timeout=40000).strip()
    exact = float(el.get_attribute("data-exact"))
    assert len(shown) <= 10, f"the readout prints too many digits: {shown}"
    assert abs(float(shown) - exact) <= 1e-3 * max(abs(exact), 1e-4), (shown, exact)
    return exact


def wait_text(page, selector: str, expected: str, contains: bool = False) -> None:
    """Wait until the element matching ``selector`` (searched through shadow roots) shows ``expected``."""
    page.wait_for_function(
        """([sel, want, contains]) => {
          const find = (root) => {
            const el = root.querySelector(sel);
            if (el) return el;
            for (const host of root.querySelectorAll('*')) {
              if (host.shadowRoot) { const hit = find(host.shadowRoot); if (hit) return hit; }
            }
            return null;
          };
          const el = find(document);
          const text = el ? el.textContent.trim() : null;
          return text !== null && (contains ? text.includes(want) : text === want);
        }""", arg=[selector, expected, contains], timeout=40000)


def wait_query(page, key: str, value: str) -> None:
    """Wait until the page URL's query has ``key=value`` (the server writes the URL after the values)."""
    page.wait_for_function("([k, v]) => new URLSearchParams(window.location.search).get(k) === v",
                           arg=[key, value], timeout=40000)


def query(page) -> dict[str, str]:
    return {k: v[-1] for k, v in parse_qs(urlparse(page.url).query).items()}


def test_home_lists_the_pages(server, open_page):
    page = open_page(server + "/")
    page.get_by_role("link", name="Cell").first.wait_for(timeout=40000)
    assert page.get_by_role("link", name="Architectures").count() >= 1
    screenshot(page, "home")


def test_cell_page_steps_shows_the_reference_and_round_trips_the_url(server, open_page, browser):
    page = open_page(server + "/cell?kind=gru&H=5&T=12&t=2&gate=z&inputs=random&seed=7")
    wait_text(page, ".rnn-t", "t = 2")
    page.get_by_role("button", name="Step ▶").click()
    wait_text(page, ".rnn-t", "t = 3")
    X = presets.make_inputs("random", 3, 12, seed=7)
    _, cache = sequence.forward(presets.make_cell("gru", 3, 5, seed=7), X)
    assert exact_of(page, ".rnn-h") == cache["steps"][3]["h"][0, 0]
    assert exact_of(page, ".rnn-selected") == cache["steps"][3]["z"][0, 0]
    wait_query(page, "t", "3")
    q = query(page)
    assert (q["kind"], q["H"], q["T"], q["t"], q["gate"], q["inputs"], q["seed"]) == (
        "gru", "5", "12", "3", "z", "random", "7")
    page.keyboard.press("ArrowRight")
    wait_text(page, ".rnn-t", "t = 4")
    wait_query(page, "t", "4")
    again = open_page(page.url)  # the shared link reproduces the state
    wait_text(again, ".rnn-t", "t = 4")
    assert exact_of(again, ".rnn-h") == cache["steps"][4]["h"][0, 0]


def test_cell_page_screenshot_and_compare(server, open_page):
    page = open_page(server + "/cell?kind=lstm&H=6&T=24&t=7&gate=f")
    wait_text(page, ".rnn-t", "t = 7")
    page.wait_for_timeout(600)
    screenshot(page, "cell")
    page.locator("input[type=checkbox]").first.check()
    wait_query(page, "compare", "true")
    page.wait_for_timeout(800)
    screenshot(page, "cell-compare")


def test_hostile_url_gives_a_message_and_the_page_still_works(server, open_page):
    page = open_page(server + "/cell?H=abc&T=99999&kind=%3Cscript%3Ealert(1)%3C/script%3E&edits=W_h[0,0]=nan")
    for words in ("URL H", "URL T", "URL kind", "not finite"):
        wait_text(page, ".rnn-message-text", words, contains=True)
    wait_text(page, ".rnn-t", "t = 0")
    page.get_by_role("button", name="Step ▶").click()
    wait_text(page, ".rnn-t", "t = 1")


def test_architectures_page_steps_and_round_trips(server, open_page):
    page = open_page(server + "/architectures?arch=encoder_decoder&kind=lstm&item=1&trained=false")
    wait_text(page, ".rnn-s", "0")
    page.get_by_role("button", name="Step ▶").click()
    wait_text(page, ".rnn-s", "1")
    ex = examples.example("encoder_decoder", 1)
    params = arch.init_params("lstm", 7, 6, len(ex.classes), decoder=True, seed=0)
    _, cache = arch.encoder_decoder_forward(ex.x, params, ex.T_out)
    assert exact_of(page, ".rnn-h") == cache["H"][0, 1, 0]
    page.keyboard.press("End")
    last = len(cache["phase"]) - 1
    wait_text(page, ".rnn-s", str(last))
    wait_query(page, "s", str(last))
    assert (query(page)["arch"], query(page)["trained"]) == ("encoder_decoder", "false")
    again = open_page(page.url)
    wait_text(again, ".rnn-s", str(last))
    trained = open_page(server + "/architectures?arch=encoder_decoder&kind=lstm&s=13")  # Ode to Joy: 12 + 3 steps
    wait_text(trained, ".rnn-s", "13")
    trained.wait_for_timeout(600)
    screenshot(trained, "architectures")
