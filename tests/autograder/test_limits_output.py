"""Does ``grade`` (and ``grade-course``) say which limits held the sandbox: a cgroup for the whole sandbox, or
per-process rlimits only (issue 11, item 5)?"""

import subprocess
import sys

import pytest

from autograder.sandbox import isolation
from tests.autograder.fixtures import course as fx

pytestmark = pytest.mark.skipif(isolation.detect() is None, reason="no sandbox isolation on this machine")


def test_grade_prints_the_limits_it_used(tmp_path):
    course = fx.write_course(tmp_path / "course", {"ada": fx.solved_notebook()})
    path = course / "submitted" / "ada" / fx.ASSIGNMENT / f"{fx.ASSIGNMENT}.ipynb"
    out = subprocess.run([sys.executable, "-m", "autograder", "grade", str(path), "--assignment", fx.ASSIGNMENT,
                          "--course", str(course), "--memory", "512"], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    line = next(line for line in out.stdout.splitlines() if line.startswith("limits: "))
    assert ("cgroup" in line and "512 MiB" in line) or "rlimits per process only" in line, line
