"""An unknown address gets a readable 404 page that links every page, with the path escaped."""

import urllib.error
import urllib.request

import pytest

pytestmark = pytest.mark.browser


def test_unknown_path_gets_a_readable_404_with_links(server):
    """Does /no-such-page<b> answer 404 with the escaped path and a link to each page?"""
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(server + "/no-such-page%3Cb%3E", timeout=10)
    assert info.value.code == 404
    body = info.value.read().decode()
    assert "No page at /no-such-page%3Cb%3E" in body and "<b>" not in body
    for slug in ("cell", "architectures", "bptt", "crnn", "applications"):
        assert f'href="/{slug}"' in body


def test_pages_and_bokeh_static_files_still_resolve(server):
    """Does the 404 handler leave the pages and Bokeh's static files alone?"""
    for path in ("/", "/cell", "/static/js/bokeh.min.js"):
        assert urllib.request.urlopen(server + path, timeout=30).status == 200
