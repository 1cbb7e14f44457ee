"""Red team, a whole course: ``grade-course`` on planted links, odd file names and a broken notebook,
then ``nbgrader generate_feedback`` on a student who writes HTML everywhere a student's text can go.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from tests.autograder.redteam import payloads
from tests.exercises.conftest import REPO, nbgrader, project_env

XSS = ("<script>alert(1)</script>", "<img src=x onerror=alert(2)>", "<svg onload=alert(3)>",
       "<iframe srcdoc='<script>alert(4)</script>'>", '"><a href="javascript:alert(5)">x</a>')
# Markup only: the same words with "<" escaped as "&lt;" are text (a quote inside text needs no escaping).
RAW = re.compile(r"<script>alert|<img src=x onerror|<svg onload|<iframe srcdoc|<a href=\"javascript:", re.I)

XSS_BACKWARD = f'''import numpy as np
print({XSS!r})  # </script><script>alert(6)</script>

def rnn_step_backward(dh, cache):
    print("<script>alert(7)</script>")
    raise ValueError({" ".join(XSS)!r})
'''


def _xss_notebook(course: Path) -> nbformat.NotebookNode:
    def edit(nb):
        nb.metadata["title"] = "</title><script>alert(8)</script>"
        for cell in nb.cells:
            if payloads.grade_id(cell) == "rnn_step_backward":
                cell.outputs = [nbformat.v4.new_output("display_data", data={"text/html": " ".join(XSS)})]
        added = nbformat.v4.new_markdown_cell(" ".join(XSS))
        added.attachments = {"x.svg": {"image/svg+xml": "PHN2ZyBvbmxvYWQ9YWxlcnQoOSk+"}}
        nb.cells.append(added)
    return payloads.filled(course, "rnn_cell", {"rnn_step_backward": XSS_BACKWARD}, edit)


def _submit(course: Path, student: str, nb=None) -> Path:
    folder = course / "submitted" / student / "rnn_cell"
    folder.mkdir(parents=True)
    if nb is not None:
        payloads.write(folder / "rnn_cell.ipynb", nb)
    (folder / "timestamp.txt").write_text("2026-11-26 12:00:00.000000 UTC")
    return folder


@pytest.fixture(scope="module")
def course(redteam_course, tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("redteam_course") / "course"
    root.mkdir()
    shutil.copy(redteam_course / "nbgrader_config.py", root)
    shutil.copytree(redteam_course / "source" / "rnn_cell", root / "source" / "rnn_cell")
    right = payloads.filled(redteam_course, "rnn_cell")
    _submit(root, "good", right)
    _submit(root, "xss", _xss_notebook(redteam_course))
    _submit(root, "deep", b'{"cells": ' + b"[" * 50000 + b"]" * 50000 + b"}")
    (root / "submitted" / "dirlink").mkdir()
    os.symlink("../good/rnn_cell", root / "submitted" / "dirlink" / "rnn_cell")  # another student's folder
    nblink = _submit(root, "nblink")
    os.symlink(root / "source" / "rnn_cell" / "rnn_cell.ipynb", nblink / "rnn_cell.ipynb")  # the instructor's
    names = _submit(root, "names", right)
    for name in ("<img src=x onerror=alert(10)>.txt", "new\nline.txt", "..txt"):
        (names / name).write_text("x")
    with open(names / "sparse.bin", "wb") as f:
        f.truncate(64 << 20)
    return root


@pytest.fixture(scope="module")
def run(course):
    out = subprocess.run([sys.executable, "-m", "autograder", "grade-course", str(course), "--assignment",
                          "rnn_cell", "--workers", "2"], capture_output=True, text=True, env=project_env(),
                         cwd=REPO, timeout=900)
    assert out.returncode == 0, out.stderr[-3000:]
    feedback = nbgrader("generate_feedback", "rnn_cell", "--force", cwd=course)
    return out.stdout, feedback


def _line(stdout: str, student: str) -> str:
    return next(line for line in stdout.splitlines() if line.startswith(f"{student}:"))


def test_links_to_other_folders_or_the_source_earn_nothing(run):
    stdout, _ = run
    for student in ("dirlink", "nblink"):
        line = _line(stdout, student)
        assert line.startswith(f"{student}: 0/9") and "link" in line, line


def test_a_broken_notebook_costs_only_its_student(run):
    stdout, _ = run
    assert _line(stdout, "deep").startswith("deep: 0/9")
    assert _line(stdout, "good").startswith("good: 9/9")
    assert _line(stdout, "names").startswith("names: 9/9")


def test_nothing_but_the_graded_notebook_and_metadata_reaches_autograded(course, run):
    for student in ("names", "nblink", "dirlink"):
        folder = course / "autograded" / student / "rnn_cell"
        extra = sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []
        assert set(extra) <= {"rnn_cell.ipynb", "timestamp.txt", "submission_secret.txt"}, extra
    for path in (course / "autograded").rglob("*"):
        assert not path.is_symlink(), path


def test_no_student_text_reaches_the_feedback_page_as_html(course, run):
    _, feedback = run
    assert feedback.returncode == 0, feedback.stderr[-3000:]
    page = (course / "feedback" / "xss" / "rnn_cell" / "rnn_cell.html").read_text()
    assert "alert(2)" in page  # control: the student's text is on the page, as text
    assert not RAW.search(page), RAW.search(page).group(0)
    assert "alert(8)" not in page.split("<body", 1)[0]  # the notebook title is the instructor's
    assert "hidden=True" not in page and "BEGIN HIDDEN TESTS" not in page  # no recipe for a hidden case
