"""The set-up page opened without its whole link (typed by hand, or cut short by a mail program): it says what is
missing and what to do at once, instead of a password form for nobody that fails only after the password was typed
twice."""

from __future__ import annotations

import tornado.testing
import tornado.web

from simulator.app.pages.course.auth import SetupHandler


class SetupPage(tornado.testing.AsyncHTTPTestCase):
    def get_app(self):
        return tornado.web.Application([("/course/setup", SetupHandler)], cookie_secret="test", xsrf_cookies=True)

    def _get(self, query: str):
        answer = self.fetch("/course/setup" + query, raise_error=False)
        return answer.code, answer.body.decode()

    def test_a_link_without_its_code_or_user_says_so_and_shows_no_form(self):
        for query in ("", "?user=ada", "?code=abc", "?user=ada&code=", "?user=%20&code=abc"):
            status, page = self._get(query)
            assert status == 400, (query, status)
            assert "lacks your user name or your one-time code" in page and "<form" not in page, query
            assert "/course/setup?user=NAME&amp;code=CODE" in page and 'href="/login?next=/course"' in page

    def test_the_whole_link_still_shows_the_password_form(self):
        status, page = self._get("?user=ada&code=abc")
        assert status == 200 and "<form" in page and "Choose a password for <strong>ada</strong>" in page
        assert "lacks your" not in page
