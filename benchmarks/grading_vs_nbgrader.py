"""Seconds per notebook of ``python -m autograder grade-course`` against plain ``nbgrader autograde``.

Run: ``python benchmarks/grading_vs_nbgrader.py [--submissions 20] [--assignment rnn_cell]``.
Baseline: ``nbgrader autograde <assignment> --create --force`` (one Jupyter kernel per notebook, no
sandbox) on the same submissions, in a copy of ``exercises/``. Ours runs every submission in a fresh
bubblewrap sandbox and the test cells in the grader. Both are timed as whole commands (start-up
included) and both write the same course's gradebook. The submissions are the release notebook with
the source's solutions (half), with a bug in the backward pass (a quarter) and untouched (a quarter). Also prints the
speed-up of ``--workers 2`` over ``--workers 1``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat

REPO = Path(__file__).resolve().parents[1]


def run(cmd: list[str], cwd: Path) -> float:
    """Wall seconds of one command; fails loudly if it fails."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    start = time.perf_counter()
    done = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    return elapsed


def solution_text(source: str) -> str:
    """A solution cell as a student would hand it in: the solution without nbgrader's markers."""
    return "\n".join(line for line in source.splitlines()
                     if "### BEGIN SOLUTION" not in line and "### END SOLUTION" not in line)


def make_course(root: Path, assignment: str, n: int) -> Path:
    """A copy of the course with the release generated and ``n`` submissions."""
    course = root / "course"
    course.mkdir(parents=True)
    shutil.copy(REPO / "exercises" / "nbgrader_config.py", course / "nbgrader_config.py")
    shutil.copytree(REPO / "exercises" / "source" / assignment, course / "source" / assignment)
    run(["nbgrader", "generate_assignment", assignment, "--force"], course)
    release = nbformat.read(course / "release" / assignment / f"{assignment}.ipynb", as_version=4)
    source = nbformat.read(course / "source" / assignment / f"{assignment}.ipynb", as_version=4)
    answers = {c.metadata["nbgrader"]["grade_id"]: solution_text(c.source) for c in source.cells
               if c.metadata.get("nbgrader", {}).get("solution")}
    for k in range(n):
        nb = nbformat.reads(nbformat.writes(release), as_version=4)
        if k % 4 != 3:  # a quarter hand in the untouched release
            for cell in nb.cells:
                meta = cell.metadata.get("nbgrader", {})
                if meta.get("solution") and cell.cell_type == "code":
                    cell.source = answers[meta["grade_id"]]
                    if k % 4 == 2:  # a quarter have a bug: W_hh where W_hh.T belongs (dh_prev is wrong)
                        cell.source = cell.source.replace('params["W_hh"].T', 'params["W_hh"]')
        folder = course / "submitted" / f"student{k:02d}" / assignment
        folder.mkdir(parents=True)
        nbformat.write(nb, folder / f"{assignment}.ipynb")
        (folder / "timestamp.txt").write_text("2026-11-26 12:00:00.000000 UTC")
    return course


def scores(course: Path, assignment: str) -> dict[str, float]:
    """Each student's total in the course's gradebook."""
    sys.path.insert(0, str(REPO))
    from autograder.gradebook import open_gradebook

    with open_gradebook(course) as gb:
        return {s.student.id: s.score for s in gb.find_assignment(assignment).submissions}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--submissions", type=int, default=20)
    parser.add_argument("--assignment", default="rnn_cell")
    parser.add_argument("--repeats", type=int, default=3, help="runs of each grade-course command (best kept)")
    args = parser.parse_args()
    n, assignment = args.submissions, args.assignment
    with tempfile.TemporaryDirectory(prefix="grading-bench-") as tmp:
        base = make_course(Path(tmp) / "base", assignment, n)
        times, totals = {}, {}
        # Interleaved repeats, best of each: the machine may be shared, and the load changes over time.
        for rep in range(args.repeats):
            for name in ("nbgrader", "workers1", "workers2"):
                if name == "nbgrader" and rep > 0:
                    continue  # the baseline is slow and steady; one run
                course = Path(tmp) / f"{name}-{rep}"
                shutil.copytree(base, course)
                if name == "nbgrader":
                    cmd = ["nbgrader", "autograde", assignment, "--create", "--force"]
                else:
                    cmd = [sys.executable, "-m", "autograder", "grade-course", str(course), "--assignment",
                           assignment, "--workers", name[-1], "--no-progress"]
                times[name] = min(times.get(name, float("inf")), run(cmd, course))
                totals[name] = scores(course, assignment)
    per = {k: v / n for k, v in times.items()}
    print(f"grading {n} submissions of {assignment} on {os.cpu_count()} CPUs (whole commands, start-up included; "
          f"grade-course best of {args.repeats}; 1-min load average at the end: {os.getloadavg()[0]:.1f})")
    print(f"{'command':<46}{'total s':>9}{'s/notebook':>12}")
    rows = [("nbgrader autograde (baseline, no sandbox)", "nbgrader"),
            ("autograder grade-course --workers 1 (sandbox)", "workers1"),
            ("autograder grade-course --workers 2 (sandbox)", "workers2")]
    for label, key in rows:
        print(f"{label:<46}{times[key]:>9.2f}{per[key]:>12.3f}")
    print(f"ratio grade-course --workers 1 / nbgrader autograde: {per['workers1'] / per['nbgrader']:.2f}x "
          "(bar: <= 1.5x, goal: < 1x)")
    print(f"speed-up of --workers 2 over --workers 1: {times['workers1'] / times['workers2']:.2f}x")
    same = sum(totals["nbgrader"].get(s) == totals["workers1"].get(s) == totals["workers2"].get(s)
               for s in totals["nbgrader"])
    print(f"students with the same total from all three runs: {same} of {len(totals['nbgrader'])} "
          f"(totals: {sorted(set(totals['nbgrader'].values()))})")


if __name__ == "__main__":
    main()
