"""A class in real Chromium: set a password, sign in, upload, watch the status, read the feedback, follow its link
into the simulator; the instructor's dashboard, refused to a student; another student's feedback refused; the
pages a newcomer meets first (signed out; signed in before anything is released), looked at and checked by axe."""

from __future__ import annotations

import json
import re

import pytest

from autograder.sandbox import isolation
from tests.autograder.fixtures import course as fx
from tests.autograder.server import http
from tests.autograder.server.conftest import buggy_notebook, released_course
from tests.browser.conftest import screenshot, tracebacks
from tests.browser.test_accessibility import AXE_PATHS, _axe

pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(isolation.detect() is None, reason="no sandbox isolation on this machine")]


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    root = tmp_path_factory.mktemp("course-site")
    course = released_course(root / "course")
    codes = {}
    for name, role in (("ada", "student"), ("bo", "student"), ("prof", "instructor"), ("cy", "student")):
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


@pytest.fixture(scope="module")
def axe_js() -> str:
    for path in AXE_PATHS:
        if path.exists():
            return path.read_text()
    pytest.skip("axe-core is not installed: npm install --prefix build/axe axe-core@4")


def _password(browser, site, name: str) -> str:
    """``name``'s password, set once through the set-up link (in its own browser context)."""
    if name not in site.setdefault("passwords", {}):
        context = browser.new_context()
        _set_password(context.new_page(), site, name)
        context.close()
        site["passwords"][name] = f"{name} long password"
    return site["passwords"][name]


# the shown headings and the sign-in button of a page, through shadow roots (what the eye gets, not the outline)
SHOWN = """() => {
  const out = {headings: [], buttons: []};
  const walk = (root) => {
    for (const el of root.querySelectorAll("*")) {
      if (/^H[1-6]$/.test(el.tagName) && el.checkVisibility() && !el.classList.contains("rnn-sr-title")) {
        const box = el.getBoundingClientRect();
        if (box.width > 20 && box.height > 10) out.headings.push(el.textContent.trim());
      }
      if (el.matches("a.rnn-cta") && el.checkVisibility()) {
        const box = el.getBoundingClientRect();
        out.buttons.push({text: el.textContent.trim(), href: el.getAttribute("href"), w: box.width, h: box.height});
      }
      if (el.shadowRoot) walk(el.shadowRoot);
    }
  };
  walk(document);
  return out;
}"""


@pytest.mark.parametrize("path, title", [("/course", "Course"), ("/course/feedback?id=3", "Feedback"),
                                         ("/course/dashboard", "Dashboard")])
def test_a_signed_out_course_page_shows_its_title_and_a_sign_in_button_that_comes_back(browser, site, axe_js, path,
                                                                                       title):
    """As a newcomer sees it: a visible title, one large Sign in button, and signing in returns to this page."""
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    page.goto(site["base"] + path)
    page.locator(".rnn-nav").first.wait_for(timeout=40000)
    page.wait_for_selector("a.rnn-cta")
    page.wait_for_timeout(1500)  # the accessibility fixes run as views render
    shown = page.evaluate(SHOWN)
    assert title in shown["headings"], shown
    assert len(shown["buttons"]) == 1 and shown["buttons"][0]["text"] == "Sign in", shown
    assert shown["buttons"][0]["h"] >= 44 and shown["buttons"][0]["w"] >= 44, shown
    assert not (violations := _axe(page, axe_js)), "\n".join([path, *violations])
    screenshot(page, f"course-signed-out-{title.lower()}")
    password = _password(browser, site, "cy")
    page.locator("a.rnn-cta").click()
    page.wait_for_url(re.compile(r".*/login\?next="))
    page.fill("#username", "cy")
    page.fill("#password", password)
    page.click("button[type=submit]")
    page.wait_for_url(site["base"] + path)  # back where they were
    context.close()


@pytest.fixture(scope="module")
def unreleased_site(tmp_path_factory):
    """A course whose assignment has not been released yet, with a student and an instructor."""
    import subprocess
    import sys

    root = tmp_path_factory.mktemp("course-unreleased")
    course = root / "course"
    fx.write_course(course)
    codes = {}
    for name, role in (("newbie", "student"), ("teach", "instructor")):
        out = subprocess.run([sys.executable, "-m", "autograder", "users", "--course", str(course), "add", name,
                              "--role", role], cwd=http.REPO, env=http.env(), capture_output=True, text=True,
                             check=True)
        codes[name] = re.search(r"set-up code: (\S+)", out.stdout).group(1)
    port, log = http.free_port(), root / "serve.log"
    proc = http.start_server(course, port, log=log)
    yield {"base": f"http://127.0.0.1:{port}", "codes": codes, "root": root}
    proc.terminate()
    proc.wait(30)
    bad = [tb for tb in tracebacks(log.read_text()) if "WebSocketClosedError" not in tb]
    assert not bad, "the server logged a traceback:\n" + "\n\n".join(bad)[:4000]


@pytest.mark.parametrize("name, expect", [("newbie", "When your instructor releases one"),
                                          ("teach", "nbgrader generate_assignment NAME")])
def test_with_nothing_released_the_course_page_says_what_to_expect(browser, unreleased_site, axe_js, name, expect):
    """No empty menu and idle Submit button: a sentence saying what comes and what to do, free of violations."""
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    _set_password(page, unreleased_site, name)
    page.wait_for_selector(f"text={expect}")
    page.wait_for_timeout(1500)
    assert not page.get_by_text("Choose the assignment and your").first.is_visible()
    assert page.get_by_role("button", name="Submit").count() == 0  # hidden with the form, not greyed out
    assert "No submissions yet" in page_text(page)
    assert not (violations := _axe(page, axe_js)), "\n".join(violations)
    screenshot(page, f"course-nothing-released-{name}")
    context.close()


def test_a_new_student_downloads_the_notebook_and_a_broken_one_is_refused_saying_what_is_expected(browser, site):
    """The notebook to fill in comes from the course page itself; a truncated upload is refused in the page with
    what file is expected, and nothing is listed as submitted."""
    password = _password(browser, site, "cy")
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, accept_downloads=True)
    page = context.new_page()
    page.goto(f"{site['base']}/login")
    page.fill("#username", "cy")
    page.fill("#password", password)
    page.click("button[type=submit]")
    page.wait_for_url(f"{site['base']}/course")
    page.wait_for_selector("text=Signed in as")
    with page.expect_download(timeout=60_000) as download:
        page.get_by_role("button", name="Download this assignment's notebook").click()
    assert download.value.suggested_filename == f"{fx.ASSIGNMENT}.ipynb"
    nb = json.loads(open(download.value.path(), encoding="utf-8").read())
    sources = "".join("".join(c["source"]) for c in nb["cells"])
    assert "NotImplementedError" in sources and "BEGIN SOLUTION" not in sources
    broken = site["root"] / "broken.ipynb"
    broken.write_text(json.dumps(nb)[:2000])
    page.set_input_files("input.rnn-upload-input", str(broken))
    page.wait_for_selector("text=Chosen:")
    page.get_by_role("button", name="Submit").click()
    page.wait_for_selector("text=/broken.ipynb is not a valid notebook/")
    assert "the .ipynb file Jupyter saves" in page_text(page) and "No submissions yet" in page_text(page)
    screenshot(page, "course-broken-upload")
    context.close()
