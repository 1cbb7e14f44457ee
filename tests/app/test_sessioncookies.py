"""Do sessions take their cookies from their own request, with none left in the page's token?"""

from http.cookies import SimpleCookie
from types import SimpleNamespace

from bokeh.server import contexts
from tornado.httputil import HTTPHeaders

from simulator.app import sessioncookies


def _request(cookie_header: str):
    jar = SimpleCookie()
    jar.load(cookie_header)
    return SimpleNamespace(cookies=jar, headers=HTTPHeaders({"Cookie": cookie_header, "User-Agent": "test"}),
                           arguments={})


def test_a_session_reads_the_cookies_of_its_own_request_over_the_tokens():
    proxy = sessioncookies.RequestProxy(_request('user="signed-value"; theme=dark'), arguments={},
                                        cookies={"theme": "light"}, headers={"User-Agent": "test", "Cookie": ""})
    assert proxy.cookies == {"user": "signed-value", "theme": "dark"}
    assert proxy.headers["Cookie"] == 'user="signed-value"; theme=dark'


def test_a_request_without_cookies_leaves_no_cookie_header():
    proxy = sessioncookies.RequestProxy(SimpleNamespace(cookies={}, headers=HTTPHeaders(), arguments={}),
                                        arguments={}, cookies={}, headers={"Cookie": ""})
    assert proxy.cookies == {} and "Cookie" not in proxy.headers


def test_the_token_options_keep_every_cookie_and_the_cookie_header_out():
    assert sessioncookies.TOKEN_OPTIONS == {"include_cookies": [], "exclude_headers": ["Cookie"]}


def test_install_replaces_the_proxy_bokeh_builds_sessions_with():
    before = contexts._RequestProxy
    try:
        sessioncookies.install()
        assert contexts._RequestProxy is sessioncookies.RequestProxy
    finally:
        contexts._RequestProxy = before
