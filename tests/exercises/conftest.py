"""One generated course per assignment, graded once per session: stock ``nbgrader autograde`` on the solution,
the untouched release and one buggy notebook per bug class; release notebooks run in fresh kernels.

Kernels are the cost, so every notebook is executed exactly once and independent jobs run two at a time.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
import pytest

from tests.exercises.bugs import BUGS

REPO = Path(__file__).resolve().parents[2]
EXERCISES = REPO / "exercises"
ASSIGNMENTS = ("rnn_cell", "lstm_cell", "gru_cell", "bptt", "architectures", "crnn")
SOLUTION_MARK = re.compile(r"^\s*### (BEGIN|END) SOLUTION\s*$")


def project_env() -> dict[str, str]:
    """The environment of graded kernels: the project importable even when it is not installed."""
    env = os.environ.copy()
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), *filter(None, [env.get("PYTHONPATH")])])
    env.setdefault("JUPYTER_PLATFORM_DIRS", "1")
    return env


def nbgrader(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "nbgrader", *args], cwd=cwd, env=project_env(),
                          capture_output=True, text=True, timeout=600)


def make_course(root: Path, assignments=ASSIGNMENTS) -> Path:
    root.mkdir(parents=True)
    shutil.copy(EXERCISES / "nbgrader_config.py", root)
    for name in assignments:
        shutil.copytree(EXERCISES / "source" / name, root / "source" / name)
    return root


def solution_code(source: str) -> str:
    """What a student who solved the cell would have in it: the solution without the fence lines."""
    return "\n".join(line for line in source.splitlines() if not SOLUTION_MARK.match(line))


def filled_release(release: nbformat.NotebookNode, source: nbformat.NotebookNode,
                   edits: tuple[tuple[str, str, str], ...] = ()) -> nbformat.NotebookNode:
    """The release notebook with every solution cell filled with the source's solution, edited by ``edits``."""
    nb = nbformat.from_dict(release)
    answers = {c.metadata["nbgrader"]["grade_id"]: c.source for c in source.cells
               if c.metadata.get("nbgrader", {}).get("solution")}
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("solution") and cell.cell_type == "code":
            code = solution_code(answers[meta["grade_id"]])
            for grade_id, old, new in edits:
                if grade_id == meta["grade_id"]:
                    assert code.count(old) == 1, f"bug edit {old!r} must occur once in {grade_id}"
                    code = code.replace(old, new)
            cell.source = code
    return nb


@dataclass
class Graded:
    """The outcome of ``nbgrader autograde`` for one assignment."""

    course: Path
    returncode: int
    log: str
    scores: dict[str, dict[str, tuple[float, float]]] = field(default_factory=dict)  # student -> id -> (got, max)
    errors: dict[str, dict[str, str]] = field(default_factory=dict)  # student -> test id -> error text


def _read_results(graded: Graded, assignment: str) -> None:
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{graded.course / 'gradebook.db'}") as gb:
        for student in gb.students:
            nb = gb.find_submission_notebook(assignment, assignment, student.id)
            graded.scores[student.id] = {g.name: (float(g.score or 0.0), float(g.max_score))
                                         for g in nb.grades if g.cell.cell_type == "code" or g.auto_score is not None}
    for path in (graded.course / "autograded").glob(f"*/{assignment}/{assignment}.ipynb"):
        nb = nbformat.read(path, as_version=4)
        errors = {}
        for cell in nb.cells:
            meta = cell.metadata.get("nbgrader", {})
            outs = [o for o in cell.get("outputs", []) if o.output_type == "error"]
            if meta.get("grade") and outs:
                errors[meta["grade_id"]] = f"{outs[0].ename}: {outs[0].evalue}"
        graded.errors[path.parts[-3]] = errors


def grade_assignment(root: Path, assignment: str) -> Graded:
    """Generate, submit the solution, the untouched release and each bug, then autograde them all."""
    course = make_course(root, (assignment,))
    out = nbgrader("generate_assignment", assignment, cwd=course)
    assert out.returncode == 0, out.stderr[-3000:]
    release = nbformat.read(course / "release" / assignment / f"{assignment}.ipynb", as_version=4)
    source = nbformat.read(course / "source" / assignment / f"{assignment}.ipynb", as_version=4)
    submissions = {"solution": source, "untouched": release}
    submissions.update({bug.name: filled_release(release, source, bug.edits) for bug in BUGS
                        if bug.assignment == assignment})
    for student, nb in submissions.items():
        path = course / "submitted" / student / assignment / f"{assignment}.ipynb"
        path.parent.mkdir(parents=True)
        nbformat.write(nb, path)
    out = nbgrader("autograde", assignment, cwd=course)
    graded = Graded(course, out.returncode, out.stdout + out.stderr)
    if out.returncode == 0:
        _read_results(graded, assignment)
    return graded


def run_release(course: Path, assignment: str) -> nbformat.NotebookNode:
    """Execute the release notebook top to bottom in a fresh kernel, errors recorded, not raised."""
    from nbclient import NotebookClient

    path = course / "release" / assignment / f"{assignment}.ipynb"
    work = course.parent / f"run_{assignment}"
    work.mkdir()
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=120, kernel_name="python3", allow_errors=True,
                            resources={"metadata": {"path": str(work)}})
    client.execute(env=project_env(), cwd=str(work))
    return nb


DOCS = REPO / "docs" / "exercises.md"
RUN_BLOCK = re.compile(r"<!-- run: (\S+) -->\s*```bash\n(.*?)```", re.DOTALL)
WORKFLOW = ("instructor-release", "student-fetch", "student-submit", "instructor-grade", "student-feedback")


def run_documented_workflow(root: Path) -> dict:
    """Run the ``run:`` blocks of docs/exercises.md in order, in a copy of the course, for ``rnn_cell``.

    Between fetching and submitting, the student's notebook is filled with the solution.
    """
    blocks = dict(RUN_BLOCK.findall(DOCS.read_text()))
    repo, exchange, student = root / "repo", root / "exchange", root / "student"
    shutil.copytree(EXERCISES, repo / "exercises",
                    ignore=shutil.ignore_patterns("release", "submitted", "autograded", "feedback", "gradebook.db",
                                                  "grades.csv", "__pycache__"))
    exchange.mkdir()
    student.mkdir()
    env = {**project_env(), "EXCHANGE": str(exchange)}
    results = {"blocks": blocks, "runs": {}}
    for name in WORKFLOW:
        if name == "student-submit":
            path = student / "rnn_cell" / "rnn_cell.ipynb"
            source = nbformat.read(EXERCISES / "source" / "rnn_cell" / "rnn_cell.ipynb", as_version=4)
            nbformat.write(filled_release(nbformat.read(path, as_version=4), source), path)
        out = subprocess.run(["bash", "-euo", "pipefail", "-c", blocks[name]], capture_output=True, text=True,
                             cwd=student if name.startswith("student") else repo, env=env, timeout=600)
        results["runs"][name] = out
        if out.returncode != 0:
            break
    grades = repo / "exercises" / "grades.csv"
    results["grades"] = grades.read_text() if grades.exists() else ""
    results["feedback"] = sorted(p.name for p in (student / "rnn_cell").glob("feedback/*/*.html"))
    return results


def grade_and_run(root: Path, assignment: str) -> tuple[Graded, nbformat.NotebookNode | None]:
    graded = grade_assignment(root, assignment)
    return graded, run_release(graded.course, assignment) if graded.returncode == 0 else None


@pytest.fixture(scope="session")
def course_runs(tmp_path_factory) -> dict:
    """Grade every assignment and run every release notebook, two jobs at a time (the CI has 2 cores)."""
    base = tmp_path_factory.mktemp("courses")
    with ThreadPoolExecutor(max_workers=2) as pool:
        workflow = pool.submit(run_documented_workflow, base / "workflow")
        jobs = {a: pool.submit(grade_and_run, base / a, a) for a in ASSIGNMENTS}
        results = {a: f.result() for a, f in jobs.items()}
        workflow = workflow.result()
    return {"graded": {a: r[0] for a, r in results.items()}, "released": {a: r[1] for a, r in results.items()},
            "workflow": workflow}
