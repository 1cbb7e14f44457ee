"""Compare with my implementation, in real Chromium: your LSTM beside the reference on the Cell page.

A known bug (gate order, no tanh on c_t) is lit at its first step and vector; a correct cell shows no
difference; hostile code (an infinite loop, a huge output, wrong types) gets a message and the page keeps
stepping.
"""

from __future__ import annotations

import re

import pytest

from autograder.sandbox import isolation
from tests.autograder.server import http
from tests.autograder.server.conftest import released_course
from tests.browser.test_course_browser import page_text

pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(isolation.detect() is None, reason="no sandbox isolation on this machine")]

LSTM = '''import numpy as np

def lstm_step(x, h_prev, c_prev, params):
    H = h_prev.shape[1]
    z = x @ params["W_x"] + h_prev @ params["W_h"] + params["b"]
    i, f, g, o = (z[:, k * H:(k + 1) * H] for k in range(4))
    i, f, g, o = 1 / (1 + np.exp(-i)), 1 / (1 + np.exp(-f)), np.tanh(g), 1 / (1 + np.exp(-o))
    c = f * c_prev + i * g
    h = o * np.tanh(c)
    return h, c, {"i": i, "f": f, "g": g, "o": o, "c": c, "h": h}
'''


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    import subprocess
    import sys

    root = tmp_path_factory.mktemp("compare-site")
    course = released_course(root / "course")
    out = subprocess.run([sys.executable, "-m", "autograder", "users", "--course", str(course), "add", "ada",
                          "--role", "student"], cwd=http.REPO, env=http.env(), capture_output=True, text=True,
                         check=True)
    code = re.search(r"set-up code: (\S+)", out.stdout).group(1)
    port = http.free_port()
    proc = http.start_server(course, port, log=root / "serve.log")
    yield {"base": f"http://127.0.0.1:{port}", "code": code}
    proc.terminate()
    proc.wait(30)


@pytest.fixture(scope="module")
def signed_in(browser, site):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.goto(f"{site['base']}/course/setup?user=ada&code={site['code']}")
    page.fill("#password", "ada long password")
    page.fill("#again", "ada long password")
    page.click("button[type=submit]")
    page.wait_for_url(f"{site['base']}/course")
    yield context
    context.close()


def _compare(context, site, code: str):
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(f"{site['base']}/cell?kind=lstm&T=8&H=4&D=3")
    page.get_by_text("Compare with my implementation").first.click()
    page.locator("textarea").last.fill(code)
    page.get_by_role("button", name="Compare", exact=True).click()
    page.wait_for_function("""() => {
      const walk = (n) => (n.shadowRoot ? walk(n.shadowRoot) : '') + Array.from(n.childNodes).map(walk).join(' ')
        + (n.nodeType === 3 ? n.textContent : '');
      const text = walk(document.body);
      return /matches the reference|first leaves the reference|stopped|could not|defines no/.test(text);
    }""", timeout=90_000)
    return page, errors


def test_a_correct_cell_shows_no_difference(signed_in, site):
    page, errors = _compare(signed_in, site, LSTM)
    assert "matches the reference at every one of the 8 steps" in page_text(page)
    assert not errors
    page.close()


@pytest.mark.parametrize("edit, vectors", [(("i, f, g, o = (z", "f, i, g, o = (z"), ("iₜ", "fₜ")),
                                           (("h = o * np.tanh(c)", "h = o * c"), ("hₜ",))])
def test_a_known_bug_is_lit_at_its_first_step_and_vector(signed_in, site, edit, vectors):
    page, errors = _compare(signed_in, site, LSTM.replace(*edit))
    text = page_text(page)
    assert "first leaves the reference at step t = 0" in text and any(f"in {v}" in text for v in vectors), text[:3000]
    assert not errors
    page.close()


@pytest.mark.parametrize("code, words", [
    ("def lstm_step(x, h, c, p):\n    while True:\n        pass\n", "stopped"),
    ("import numpy as np\ndef lstm_step(x, h, c, p):\n    return np.zeros((3000, 3000)), c, {}\n", "shape"),
    ("def lstm_step(x, h, c, p):\n    return 'h', None, []\n", "step t=0"),
])
def test_hostile_code_gets_a_message_and_the_page_keeps_working(signed_in, site, code, words):
    page, errors = _compare(signed_in, site, code)
    assert words in page_text(page)
    page.keyboard.press("ArrowRight")  # the reference view still steps
    page.wait_for_timeout(300)
    assert not errors
    page.close()
