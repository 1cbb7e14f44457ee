"""Feedback pages: no student text reaches the HTML of ``nbgrader generate_feedback`` unescaped.

Each payload goes, for its own student, into three places at once: the markdown answer, a comment of
the code answer, and the message of an exception the student's code raises (which the grader quotes
under two cells). The pages are made by the real ``grade-course`` and ``nbgrader generate_feedback``.
A page passes when its structure (elements and attribute names) is the benign page's, it holds no
script URL and no event handler, and every payload is visible as text inside a ``<pre>`` block (so
neither the browser nor MathJax interprets it).
"""

from __future__ import annotations

import copy
import html
import random
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import nbformat
import pytest

from autograder import cli
from autograder.feedback import markdown_as_text
from autograder.sandbox import Limits, isolation
from tests.autograder.fixtures import course as fx
from tests.exercises.conftest import project_env

needs_sandbox = pytest.mark.skipif(isolation.detect() is None, reason="no sandbox isolation on this machine")

# Designed with the fix in mind.
PAYLOADS = {
    "script": "<script>alert('x1')</script>",
    "img_onerror": "<img src=x onerror=alert('x2')>",
    "js_link": "[click me](javascript:alert('x3'))",
    "svg_onload": "<svg onload=alert('x4')></svg>",
    "data_uri": "![pic](data:text/html;base64,PHNjcmlwdD5hbGVydCgneDUnKTwvc2NyaXB0Pg==) x5",
    "html_block": "<div>\n<iframe src=\"javascript:alert('x6')\"></iframe>\n</div>",
    "js_image": "![a](javascript:alert('x7'))",
    "attr_injection": "![a](x.png \"t\\\" onerror=\\\"alert('x8')\")",
}
# Held out: written after the fix, never used to adjust it.
HELD_OUT = {
    "fence_break": "```\n</code></pre><script>alert('y1')</script>\n```",
    "entity_scheme": "[x](&#106;avascript:alert('y2'))",
    "reference_link": "[x][1]\n\n[1]: javascript:alert('y3')",
    "details_toggle": "<details open ontoggle=alert('y4')>y4</details>",
    "mathjax_href": "$\\href{javascript:alert('y5')}{click y5}$",
    "meta_refresh": "<meta http-equiv=\"refresh\" content=\"0;url=javascript:alert('y6')\">",
    "autolink": "<javascript:alert('y7')>",
    "comment_trick": "<!-- --><script>alert('y8')</script><!-- -->",
    "long_backticks": "````` `` `<b onmouseover=alert('y9')>y9</b>` ``````",
    "style_import": "<style>@import 'http://evil.invalid/y10.css';</style>",
    "ansi_codes": "\x1b[31m<img src=x onerror=alert('y11')>\x1b[0m \x1b[1m\"><svg onload=alert('y11')>",
}
ALL = {**PAYLOADS, **HELD_OUT}
SCRIPT_URL = re.compile(r"^\s*(javascript|vbscript|data)\s*:", re.IGNORECASE)
URL_ATTRS = {"href", "src", "action", "formaction", "xlink:href", "background", "poster", "data"}


class Page(HTMLParser):
    """The elements of an HTML page, its script elements, and its text with whether it sits in a <pre>."""

    def __init__(self, text: str):
        super().__init__(convert_charrefs=True)
        self.shapes: set[tuple[str, tuple[str, ...]]] = set()
        self.scripts: list[tuple[tuple, str]] = []
        self.handlers: list[tuple[str, str]] = []
        self.urls: list[tuple[str, str]] = []
        self.text_in_pre: list[str] = []
        self.text_outside: list[str] = []
        self._stack: list[str] = []
        self._script: tuple | None = None
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        self.shapes.add((tag, tuple(sorted(name for name, _ in attrs))))
        for name, value in attrs:
            if name.startswith("on"):
                self.handlers.append((tag, name))
            if name in URL_ATTRS and value and SCRIPT_URL.match(value):
                self.urls.append((tag, value))
        if tag == "script":
            self._script = (tuple(sorted(attrs, key=str)), [])
        if tag not in ("br", "img", "meta", "link", "input", "hr"):
            self._stack.append(tag)

    def handle_endtag(self, tag):
        if tag == "script" and self._script is not None:
            self.scripts.append((self._script[0], "".join(self._script[1])))
            self._script = None
        if tag in self._stack:
            while self._stack.pop() != tag:
                pass

    def handle_data(self, data):
        if self._script is not None:
            self._script[1].append(data)
        (self.text_in_pre if "pre" in self._stack else self.text_outside).append(data)


def _edit(nb, payload: str):
    nb = copy.deepcopy(nb)
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("grade_id") == "explain":
            cell.source = payload
        elif meta.get("grade_id") == "apply_twice":
            cell.source = f"# {payload!r}\nraise ValueError({payload!r})"
    return nb


@pytest.fixture(scope="module")
def pages(tmp_path_factory) -> dict[str, str]:
    """Grade one student per payload (and a benign one), generate the feedback pages with nbgrader."""
    root = tmp_path_factory.mktemp("xss")
    benign = _edit(fx.solved_notebook(), "Because **tanh** saturates: see the [docs](https://numpy.org).")
    students = {"benign": benign, **{name: _edit(fx.solved_notebook(), p) for name, p in ALL.items()}}
    course = fx.write_course(root / "course", students)
    results = cli.grade_course(course, fx.ASSIGNMENT, workers=2, progress=False,
                               limits=Limits(wall=10, memory=1024 * 2**20, processes=16))
    assert all(isinstance(r, cli.Report) for r in results.values()), results
    done = subprocess.run([sys.executable, "-m", "nbgrader", "generate_feedback", fx.ASSIGNMENT], cwd=course,
                          env=project_env(), capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return {s: (course / "feedback" / s / fx.ASSIGNMENT / f"{fx.ASSIGNMENT}.html").read_text() for s in students}


def _assert_safe(pages, name: str, payload: str):
    page, benign = Page(pages[name]), Page(pages["benign"])
    assert page.scripts == benign.scripts, f"{name}: a script element that the benign page does not have"
    assert page.handlers == benign.handlers == [], f"{name}: event handler attributes {page.handlers}"
    assert page.urls == [], f"{name}: script URLs {page.urls}"
    assert page.shapes <= benign.shapes, f"{name}: new elements {page.shapes - benign.shapes}"
    visible = "".join(page.text_in_pre)
    for line in payload.splitlines():
        assert line in visible, f"{name}: the student's text {line!r} is not shown verbatim in a <pre>"
    outside = "".join(page.text_outside)
    marker = re.search(r"alert\('(\w+)'\)|(y\d+)\.css|(x5)", payload)
    assert marker and marker.group(0) not in outside, f"{name}: payload text outside <pre>, where MathJax reads"


@needs_sandbox
@pytest.mark.parametrize("name", list(PAYLOADS))
def test_designed_payloads_are_escaped(pages, name):
    """Is each payload we designed the fix for shown as text, never as HTML, in all three places?"""
    _assert_safe(pages, name, PAYLOADS[name])


@needs_sandbox
@pytest.mark.parametrize("name", list(HELD_OUT))
def test_held_out_payloads_are_escaped(pages, name):
    """Is each held-out payload (not used to build the fix) shown as text, never as HTML?"""
    _assert_safe(pages, name, HELD_OUT[name])


@needs_sandbox
def test_the_benign_page_still_shows_the_answer_and_the_messages(pages):
    """Does the benign page show the written answer and the quoted exception (so the checks can fail)?"""
    page = Page(pages["benign"])
    assert "Because **tanh** saturates" in "".join(page.text_in_pre)
    assert "your code raised ValueError" in html.unescape(pages["benign"])


def test_fenced_text_round_trips_through_nbconvert():
    """Is any text, however many backticks and tags it holds, rendered by nbconvert as exactly that text?"""
    from nbconvert.filters.markdown_mistune import markdown2html_mistune

    rng = random.Random(11)
    pieces = ["`", "```", "````", "~~~", "<", ">", "&", "\"", "'", "[", "](", ")", "!", "$", "\\", "\n", " ",
              "    ", "<script>", "</pre>", "javascript:", "&#106;", "*", "_", "#", "a", "b"]
    for trial in range(300):
        text = "".join(rng.choice(pieces) for _ in range(rng.randint(1, 40))).strip("\n") or "a"
        rendered = markdown2html_mistune(markdown_as_text(text))
        page = Page(rendered)
        assert {tag for tag, _ in page.shapes} <= {"div", "pre", "span"}, (trial, text, rendered)
        assert html.unescape(re.sub(r"<[^>]+>", "", rendered)).strip("\n") == text, (trial, text, rendered)


def test_feedback_notebook_has_no_student_markdown_outside_a_fence(tmp_path):
    """Does write_feedback put a markdown answer in a fence and keep the student's attachments out?"""
    from autograder.feedback import write_feedback
    from autograder.pipeline import Report, TestResult

    course = fx.write_course(tmp_path / "course")
    nb = _edit(fx.solved_notebook(), "<b>hi</b>")
    explain = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "explain")
    explain["attachments"] = {"x.svg": {"image/svg+xml": "PHN2ZyBvbmxvYWQ9YWxlcnQoMSk+"}}
    report = Report(notebook=fx.ASSIGNMENT, tests=[TestResult("test_q1", 0.0, 1.0, "<img src=x onerror=alert(1)>")])
    out = write_feedback(report, course, fx.ASSIGNMENT, "zed", submitted=nb)
    cells = {c.metadata.get("nbgrader", {}).get("grade_id"): c for c in nbformat.read(out, as_version=4).cells}
    assert cells["explain"].source.startswith("```text\n<b>hi</b>") and "attachments" not in cells["explain"]
    assert cells["test_q1"].outputs[0]["output_type"] == "error"
    assert Path(out).parent.name == fx.ASSIGNMENT
