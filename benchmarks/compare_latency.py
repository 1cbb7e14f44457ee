"""Compare-view latency: from "Compare" to the student's trace ready, for an LSTM with T=20, H=8 (median of 20).

Printed beside the grader's time for the same function: ``grade_notebook`` on the lstm_cell notebook (its
solution), in the same run. Usage: ``python benchmarks/compare_latency.py [--repeats 20]``.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from autograder.pipeline import grade_notebook  # noqa: E402
from autograder.server import accounts  # noqa: E402
from autograder.server.service import CourseServer  # noqa: E402
from autograder.server.trace import first_divergence, reference  # noqa: E402
from simulator.app.pages.cell.presets import make_cell, make_inputs  # noqa: E402

ASSIGNMENT = "lstm_cell"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="compare-latency-") as tmp:
        course = Path(tmp) / "course"
        shutil.copytree(REPO / "exercises" / "source" / ASSIGNMENT, course / "source" / ASSIGNMENT)
        shutil.copytree(course / "source" / ASSIGNMENT, course / "release" / ASSIGNMENT)
        notebook = course / "source" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
        server = CourseServer(course, executor=ThreadPoolExecutor(1))
        user, _, _ = accounts.add_user(server.engine, "ada", "student")
        sid = server.submit(user, ASSIGNMENT, notebook.name, notebook.read_bytes())
        X = make_inputs("sine", 3, 20, seed=0)
        cell = make_cell("lstm", 3, 8, seed=0, situation="default")
        h0 = c0 = np.zeros((1, 8))
        compare = []
        for k in range(args.repeats):
            start = time.perf_counter()
            result = server.compare(user, f"bench{k}", "lstm", X, h0, c0, cell.params, submission_id=sid).result(120)
            compare.append(time.perf_counter() - start)
            assert result["error"] is None, result["error"]
        assert first_divergence(reference("lstm", X, h0, c0, cell.params), result["steps"]) is None
        grading = []
        for _ in range(max(3, args.repeats // 4)):
            start = time.perf_counter()
            grade_notebook(notebook, course, ASSIGNMENT)
            grading.append(time.perf_counter() - start)
        server.close()
    c, g = statistics.median(compare), statistics.median(grading)
    print(f"LSTM T=20 H=8, median of {len(compare)} compares; the grader: median of {len(grading)} gradings")
    print(f"compare (sandbox start, student's code, 20 steps, strict reads)  {c * 1000:8.0f} ms")
    print(f"grade the whole lstm_cell notebook (same function, every test)   {g * 1000:8.0f} ms")
    print(f"compare / grade: {c / g:.2f}   (goal: compare under 1 s)")


if __name__ == "__main__":
    main()
