"""One generated course and one grading of every payload per session, two at a time, through the real CLI.

Each payload is graded by ``python -m autograder grade NOTEBOOK --json`` in its own process, as an
instructor would; the process's peak resident memory (``getrusage`` in a wrapper whose only child it is)
is kept with the result.
"""

from __future__ import annotations

import json
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.autograder.redteam import payloads
from tests.exercises.conftest import REPO, project_env


@dataclass
class Graded:
    """What ``grade --json`` printed for one payload, and how much memory the grading process took."""

    returncode: int
    stdout: str
    stderr: str
    max_rss_kib: int

    @property
    def report(self) -> dict:
        return json.loads(self.stdout)

    def test(self, grade_id: str) -> dict:
        return next(t for t in self.report["tests"] if t["grade_id"] == grade_id)

    def score(self, *grade_ids: str) -> float:
        return sum(self.test(g)["score"] for g in grade_ids)


# A wrapper whose only child is the grader: its RUSAGE_CHILDREN peak is the grader's (or a process it reaped).
_MEASURED = ("import resource, subprocess, sys; rc = subprocess.run(sys.argv[1:]).returncode; "
             "print('MAXRSS', resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, file=sys.stderr); "
             "sys.exit(rc)")


def grade(path: Path, assignment: str, course: Path, *options: str) -> Graded:
    cmd = [sys.executable, "-c", _MEASURED, sys.executable, "-m", "autograder", "grade", str(path),
           "--assignment", assignment, "--course", str(course), "--json", *options]
    out = subprocess.run(cmd, capture_output=True, env=project_env(), cwd=REPO, timeout=900)
    err = out.stderr.decode(errors="replace")
    head, _, tail = err.rpartition("MAXRSS ")
    return Graded(out.returncode, out.stdout.decode(errors="replace"), head, int(tail.split()[0]))


@pytest.fixture(scope="session")
def redteam_course(tmp_path_factory) -> Path:
    return payloads.build_course(tmp_path_factory.mktemp("redteam") / "course")


@pytest.fixture(scope="session")
def graded(redteam_course) -> dict[str, Graded]:
    """Every payload of :func:`payloads.notebooks`, graded once."""
    folder = redteam_course.parent / "payloads"
    jobs = {name: (payloads.write(folder / f"{name}.ipynb", nb), assignment)
            for name, (assignment, nb) in payloads.notebooks(redteam_course).items()}
    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = {name: pool.submit(grade, path, assignment, redteam_course, *payloads.OPTIONS.get(name, ()))
                   for name, (path, assignment) in jobs.items()}
        return {name: f.result() for name, f in futures.items()}
