"""A class in real Chromium: set a password, sign in, upload, watch the status, read the feedback, follow its link
into the simulator; the instructor's dashboard, refused to a student; another student's feedback refused."""

from __future__ import annotations

import json
import re

import pytest

from autograder.sandbox import isolation
from tests.autograder.fixtures import course as fx
from tests.autograder.server import http
from tests.autograder.server.conftest import buggy_notebook, released_course
from tests.browser.conftest import screenshot, tracebacks

pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(isolation.detect() is None, reason="no sandbox isolation on this machine")]


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    root = tmp_path_factory.mktemp("course-site")
    course = released_course(root / "course")
    codes = {}
    for name, role in (("ada", "student"), ("bo", "student"), ("prof", "instructor")):
        import subprocess
        import sys

        out = subprocess.run([sys.executable, "-m", "autograder", "users", "--course", str(course), "add", name,
                              "--role", role], cwd=http.REPO, env=http.env(), capture_output=True, text=True,
                             check=True)
        codes[name] = re.search(r"set-up code: (\S+)", out.stdout).group(1)
    port = http.free_port()
    log = root / "serve.log"
    proc = http.start_server(course, port, log=log)
    (root / "buggy.ipynb").write_text(json.dumps(buggy_notebook()))
    (root / "solved.ipynb").write_text(json.dumps(fx.solved_notebook()))
    yield {"base": f"http://127.0.0.1:{port}", "codes": codes, "root": root}
    proc.terminate()
    proc.wait(30)
    bad = [tb for tb in tracebacks(log.read_text()) if "WebSocketClosedError" not in tb]
    assert not bad, "the server logged a traceback:\n" + "\n\n".join(bad)[:4000]


DEEP_TEXT = """() => {
  const out = [];
  const walk = (node) => {
    if (node.nodeType === Node.TEXT_NODE) { out.push(node.textContent); return; }
    if (node.shadowRoot) walk(node.shadowRoot);
    for (const child of node.childNodes) walk(child);
  };
  walk(document.body);
  return out.join(" ");
}"""


def page_text(page) -> str:
    """All the text of the page, inside Panel's shadow roots too."""
    return page.evaluate(DEEP_TEXT)


def _set_password(page, site, name: str) -> None:
    page.goto(f"{site['base']}/course/setup?user={name}&code={site['codes'][name]}")
    page.fill("#password", f"{name} long password")
    page.fill("#again", f"{name} long password")
    page.click("button[type=submit]")
    page.wait_for_url(f"{site['base']}/course")
    page.wait_for_selector("text=Signed in as")


def _submit(page, path) -> int:
    page.set_input_files("input.rnn-upload-input", str(path))
    page.wait_for_selector("text=Chosen:")
    page.get_by_role("button", name="Submit").click()
    text = page.wait_for_selector("text=/Submission #\\d+ is queued/").inner_text()
    return int(re.search(r"#(\d+)", text).group(1))


def test_a_student_submits_watches_it_grade_and_follows_the_feedback_into_the_simulator(browser, site):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    _set_password(page, site, "ada")
    sid = _submit(page, site["root"] / "buggy.ipynb")
    # The status moves from queued/being graded to graded without a reload.
    page.wait_for_selector(f"a[href='/course/feedback?id={sid}']")
    page.wait_for_selector("text=/graded: \\d+ \\/ 7/", timeout=120_000)
    screenshot(page, "course")
    page.click(f"a[href='/course/feedback?id={sid}']")
    page.wait_for_selector("text=Tests, in notebook order")
    body = page_text(page)
    assert "test_rnn_step_visible" in body and "✗" in body and "Score:" in body
    screenshot(page, "course-feedback")
    link = page.locator("a[href^='/cell?kind=rnn']").first
    link.click()
    page.wait_for_url(re.compile(r".*/cell\?.*kind=rnn.*"))
    page.wait_for_selector("text=Step")
    # The dashboard is for instructors only.
    page.goto(f"{site['base']}/course/dashboard")
    page.wait_for_selector("text=This page is for instructors")
    assert "Misconceptions" not in page_text(page)
    context.close()
    assert not errors, errors
    site["ada_submission"] = sid


def test_another_student_cannot_read_adas_feedback(browser, site):
    sid = site.get("ada_submission", 1)
    context = browser.new_context()
    page = context.new_page()
    _set_password(page, site, "bo")
    page.goto(f"{site['base']}/course/feedback?id={sid}")
    page.wait_for_selector(f"text=No submission {sid} of yours")
    assert "test_rnn_step_visible" not in page_text(page)
    # A guest (no session) is asked to sign in and sees nothing of anyone's work.
    guest = browser.new_context().new_page()
    guest.goto(f"{site['base']}/course/feedback?id={sid}")
    guest.wait_for_selector("text=Sign in to submit")
    assert "test_rnn_step_visible" not in page_text(guest)
    context.close()


def test_the_instructor_sees_the_class_on_the_dashboard(browser, site):
    context = browser.new_context(viewport={"width": 1400, "height": 1200})
    page = context.new_page()
    _set_password(page, site, "prof")
    page.goto(f"{site['base']}/course/dashboard?assignment=rnn_cell")
    page.wait_for_selector("text=Misconceptions")
    page.wait_for_selector("text=/\\d+ students? graded/")
    body = page_text(page)
    assert "ada" in body and "Regrade all" in body and "Download grades.csv" in body
    screenshot(page, "course-dashboard")
    context.close()


def test_the_instructor_downloads_grades_csv(browser, site):
    """Is the file, built in a thread since the callback is async, what the browser downloads?"""
    context = browser.new_context(viewport={"width": 1400, "height": 1200}, accept_downloads=True)
    page = context.new_page()
    page.goto(f"{site['base']}/login")  # the password was set by the dashboard test's set-up link
    page.fill("#username", "prof")
    page.fill("#password", "prof long password")
    page.click("button[type=submit]")
    page.wait_for_url(f"{site['base']}/course")
    page.goto(f"{site['base']}/course/dashboard?assignment=rnn_cell")
    page.wait_for_selector("text=Misconceptions")
    with page.expect_download(timeout=60_000) as download:
        page.get_by_role("button", name="Download grades.csv").click()
    text = open(download.value.path(), encoding="utf-8").read()
    assert text.startswith("student,submission,timestamp,late,score,max_score") and "\nada," in text
    context.close()


def test_wrong_password_and_forged_form_are_refused(browser, site):
    page = browser.new_context().new_page()
    page.goto(f"{site['base']}/login")
    page.fill("#username", "ada")
    page.fill("#password", "not the password")
    page.click("button[type=submit]")
    page.wait_for_selector("text=Wrong user name or password")
    import urllib.error
    import urllib.request

    forged = urllib.request.Request(f"{site['base']}/login", data=b"username=ada&password=x", method="POST")
    with pytest.raises(urllib.error.HTTPError) as err:  # no CSRF token: a cross-site form cannot sign anyone in
        urllib.request.urlopen(forged, timeout=20)
    assert err.value.code == 403
