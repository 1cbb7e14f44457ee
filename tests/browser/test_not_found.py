"""Readable errors everywhere: an unknown address gets a 404 page that links every page (path escaped); a bad URL
value on each page, an oversize upload and a page that fails to build (a forced 500) each say what was wrong and
what was expected, with a link home, and the page keeps working."""

import logging
import socket
import urllib.error
import urllib.request

import panel as pn
import pytest

from simulator.app import layout

from .test_pages import wait_text

pytestmark = pytest.mark.browser

# every element of the flattened tree matching a selector, as text
DEEP_TEXT = """(sel) => {
  const out = [];
  const walk = (root) => {
    for (const el of root.querySelectorAll("*")) {
      if (el.matches(sel)) out.push(el.textContent.replace(/\\s+/g, " ").trim());
      if (el.shadowRoot) walk(el.shadowRoot);
    }
  };
  walk(document);
  return out;
}"""


def test_unknown_path_gets_a_readable_404_with_links(server):
    """Does /no-such-page<b> answer 404 with the escaped path and a link to each page?"""
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(server + "/no-such-page%3Cb%3E", timeout=10)
    assert info.value.code == 404
    body = info.value.read().decode()
    assert "there is no page at /no-such-page%3Cb%3E" in body and "no-such-page<b>" not in body and 'lang="en"' in body
    for slug in ("cell", "architectures", "bptt", "crnn", "applications"):
        assert f'href="/{slug}"' in body


def test_pages_and_bokeh_static_files_still_resolve(server):
    """Does the 404 handler leave the pages and Bokeh's static files alone?"""
    for path in ("/", "/cell", "/static/js/bokeh.min.js"):
        assert urllib.request.urlopen(server + path, timeout=30).status == 200


# one bad value per page, of different kinds (a word, a number out of range, text in a number, markup)
BAD_URLS = [
    ("/cell?kind=lstmx&H=abc", ["URL kind: got 'lstmx'; expected one of rnn, lstm, gru",
                                "URL H: got 'abc'; expected a whole number"]),
    ("/architectures?arch=nope&H=0", ["URL arch: got 'nope'; expected one of", "URL H: got '0'; expected a value"]),
    ("/bptt?scale=zz&anim_kind=%3Cb%3Ex", ["URL scale: got 'zz'; expected a number",
                                          "URL anim_kind: got '<b>x'; expected one of rnn, lstm, gru"]),
    ("/crnn?task=nope&seed=-1", ["URL task: got 'nope'; expected one of video, digits",
                                 "URL seed: got '-1'; expected a value from 0"]),
    ("/applications?task=1e3", ["URL task: got '1e3'; expected one of video, digits, sentiment, forecast"]),
]


@pytest.mark.parametrize("url, says", BAD_URLS)
def test_a_bad_url_value_says_what_was_wrong_and_expected_with_a_link_home(server, open_page, url, says):
    """Does each page name the parameter, what it got and what it expected, keep the markup inert, link home?"""
    page = open_page(server + url)
    page.locator(".rnn-message-text").first.wait_for(timeout=40000)
    text = " ".join(page.evaluate(DEEP_TEXT, ".rnn-message-text"))
    for line in says:
        assert line in text, (line, text)
    assert not page.evaluate(DEEP_TEXT, ".rnn-message-text b")  # "<b>" arrived as text, not as markup
    assert page.evaluate(DEEP_TEXT, 'nav a[href="/"]') == ["Home"]


def test_an_oversize_model_upload_is_refused_with_its_size_and_the_cap(server, open_page):
    """Is a 9 MiB model file refused in the page (its size and the 8 MiB cap named) while the page keeps stepping?"""
    page = open_page(server + "/cell?kind=lstm&T=5")
    wait_text(page, ".rnn-t", "t = 0")
    page.locator("input[type=file]").first.set_input_files(
        files=[{"name": "huge.keras", "mimeType": "application/octet-stream", "buffer": b"\0" * (9 * 2**20)}])
    page.wait_for_function(f"() => ({DEEP_TEXT})('*').some(t => t.includes('expected at most 8,388,608'))",
                           timeout=40000)
    assert any("huge.keras: 9,437,184 bytes; expected at most 8,388,608" in t for t in page.evaluate(DEEP_TEXT, "*"))
    page.get_by_role("button", name="Step ▶").click()
    wait_text(page, ".rnn-t", "t = 1")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def failing_server():
    """A server whose /broken page raises while it is built (a forced 500) and whose /fine page works."""
    def broken():
        raise RuntimeError("forced failure for the test")

    port = _free_port()
    routes = {"/broken": lambda: layout.page("cell", broken), "/fine": lambda: layout.page("", lambda: "fine")}
    server = pn.serve(routes, port=port, address="127.0.0.1", show=False, threaded=True,
                      websocket_origin=[f"127.0.0.1:{port}"])
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


def test_a_page_that_fails_to_build_shows_a_readable_error_page(failing_server, open_page, caplog):
    """Does a forced failure give a readable page (what, expected, home link, no message text) and one log line?"""
    with caplog.at_level(logging.ERROR, logger="simulator.app"):
        page = open_page(failing_server + "/broken")
        page.locator(".rnn-failure").first.wait_for(timeout=40000)
    text = " ".join(page.evaluate(DEEP_TEXT, ".rnn-failure"))
    assert "The Cell page could not be built" in text and "RuntimeError" in text
    assert "What was wrong:" in text and "What was expected:" in text and "forced failure" not in text
    assert page.evaluate(DEEP_TEXT, '.rnn-failure a[href="/"]') == ["Go to the home page"]
    lines = [r.getMessage() for r in caplog.records if r.name == "simulator.app"]
    assert len(lines) == 1 and "forced failure for the test" in lines[0]
    assert not any(r.exc_info for r in caplog.records if r.name == "simulator.app")
    fine = open_page(failing_server + "/fine")  # the server keeps serving
    fine.locator(".rnn-nav").first.wait_for(timeout=40000)
