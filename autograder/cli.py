"""Command line: ``grade`` one notebook, or ``grade-course`` every submission of an assignment."""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from collections.abc import Sequence
from concurrent.futures import Executor, ProcessPoolExecutor, as_completed
from pathlib import Path

from autograder.feedback import write_feedback
from autograder.pipeline import (
    CourseError,
    Report,
    TestResult,
    grade_notebook,
    load_source,
    source_notebook_path,
    warm_imports,
)
from autograder.sandbox import Limits, SandboxUnavailableError

DEFAULT_COURSE = Path(__file__).resolve().parent.parent / "exercises"


def _limits(args: argparse.Namespace) -> Limits:
    return Limits(wall=args.wall, cpu=args.cpu, memory=args.memory * 2**20, processes=args.processes,
                  notebook=args.notebook_budget)


def _sandbox_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--wall", type=float, default=30.0, help="seconds per cell and per test cell (default 30)")
    parser.add_argument("--cpu", type=int, default=300, help="CPU seconds per sandbox (default 300)")
    parser.add_argument("--memory", type=int, default=2048, help="address space per sandbox in MiB (default 2048)")
    parser.add_argument("--processes", type=int, default=32, help="processes and threads per sandbox (default 32)")
    parser.add_argument("--notebook-budget", type=float, default=600.0,
                        help="seconds for one whole notebook; later cells are not run (default 600)")
    parser.add_argument("--unsafe-no-sandbox", action="store_true",
                        help="run student code without isolation or limits (only for trusted code)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m autograder", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    one = sub.add_parser("grade", help="grade one notebook")
    one.add_argument("notebook", type=Path)
    one.add_argument("--assignment", required=True)
    one.add_argument("--course", type=Path, default=DEFAULT_COURSE, help="nbgrader course directory")
    one.add_argument("--json", action="store_true", help="print the result as JSON")
    _sandbox_options(one)
    many = sub.add_parser("grade-course", help="grade every submitted/<student>/<assignment>/ into the gradebook")
    many.add_argument("course", type=Path)
    many.add_argument("--assignment", required=True)
    many.add_argument("--workers", type=int, default=1, help="grading processes (default 1)")
    many.add_argument("--db-url", default=None, help="gradebook URL (default: the course's, SQLite)")
    many.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    _sandbox_options(many)
    return parser


def _print_report(report: Report) -> None:
    for test in report.tests:
        mark = "ok  " if test.score == test.max_score else "FAIL"
        print(f"{mark} {test.grade_id}: {test.score:g}/{test.max_score:g}")
        if test.score < test.max_score:
            print("     " + test.message.replace("\n", "\n     "))
    for note in report.notes:
        print(f"note: {note}")
    print(f"score: {report.score:g}/{report.max_score:g} (sandbox: {report.sandbox or 'not started'})")


def grade_command(args: argparse.Namespace) -> int:
    """``grade``: exit 0 whenever grading finished, 2 when the grader could not grade."""
    level = "none" if args.unsafe_no_sandbox else "auto"
    report = grade_notebook(args.notebook, args.course, args.assignment, _limits(args), level,
                            unsafe=args.unsafe_no_sandbox)
    if args.json:
        print(json.dumps(report.to_json(), indent=1))
    else:
        _print_report(report)
    return 0


def grade_submission(course: Path, assignment: str, student: str, limits: Limits, level: str,
                     unsafe: bool) -> Report:
    """Grade ``submitted/<student>/<assignment>/``: runs in a worker process (or on a Dask worker)."""
    name = source_notebook_path(course, assignment).name
    path = Path(course) / "submitted" / student / assignment / name
    if not path.is_file():
        source = load_source(course, assignment)
        report = Report(notebook=path.stem, notes=[f"{name} is missing from the submission"])
        report.tests = [TestResult(c.grade_id, 0.0, c.points, f"not graded: {name} was not submitted")
                        for c in source if c.kind == "test"]
        return report
    return grade_notebook(path, course, assignment, limits, level, unsafe)


def grade_course(course: Path | str, assignment: str, executor: Executor | None = None, workers: int = 1,
                 limits: Limits | None = None, unsafe: bool = False, db_url: str | None = None,
                 progress: bool = True) -> dict[str, Report | str]:
    """Grade every submission of ``assignment``, record scores and write autograded notebooks.

    ``executor`` is any ``concurrent.futures.Executor``: by default a local ``ProcessPoolExecutor`` with
    ``workers`` processes; a Dask cluster works too (``distributed.Client(...).get_executor()``). The
    gradebook is written here, in this process only. Returns ``{student: Report or error text}``.
    """
    from tqdm import tqdm

    from autograder.gradebook import ensure_assignment, open_gradebook, record

    course = Path(course).resolve()
    source = load_source(course, assignment)
    notebook = source_notebook_path(course, assignment).stem
    students = sorted(p.parent.name for p in (course / "submitted").glob(f"*/{assignment}") if p.is_dir())
    limits = limits or Limits()
    level = "none" if unsafe else "auto"
    if not unsafe:
        from autograder.sandbox import Sandbox

        Sandbox(limits, level)  # fail now, not once per student, when there is no sandbox
    own = executor is None
    if own:
        warm_imports(source)  # NB: before the pool forks, so every worker starts with the checks imported
        executor = ProcessPoolExecutor(max_workers=max(1, workers))
    results: dict[str, Report | str] = {}
    futures = {executor.submit(grade_submission, course, assignment, s, limits, level, unsafe): s for s in students}
    # NB: the gradebook is opened after the workers started, so no worker inherits its database connection.
    gb = open_gradebook(course, db_url)
    try:
        ensure_assignment(gb, assignment, notebook, source)
        for future in tqdm(as_completed(futures), total=len(futures), desc=f"grading {assignment}",
                           unit="notebook", disable=not progress, file=sys.stderr):
            student = futures[future]
            try:
                report = future.result()
                record(gb, report, assignment, student)
                write_feedback(report, course, assignment, student)
                stamp = course / "submitted" / student / assignment / "timestamp.txt"
                if stamp.is_file():
                    shutil.copy(stamp, course / "autograded" / student / assignment / "timestamp.txt")
                results[student] = report
            except Exception as exc:  # noqa: BLE001 - one bad submission must not stop the others
                gb.db.rollback()
                results[student] = f"{type(exc).__name__}: {exc}"
    finally:
        gb.close()
        if own:
            executor.shutdown()
    return results


def grade_course_command(args: argparse.Namespace) -> int:
    """``grade-course``: a line per student, then a summary; exit 0 when every submission was processed."""
    results = grade_course(args.course, args.assignment, workers=args.workers, limits=_limits(args),
                           unsafe=args.unsafe_no_sandbox, db_url=args.db_url, progress=not args.no_progress)
    for student, result in sorted(results.items()):
        if isinstance(result, Report):
            print(f"{student}: {result.score:g}/{result.max_score:g}")
        else:
            print(f"{student}: not graded ({result})")
    print(f"graded {sum(isinstance(r, Report) for r in results.values())} of {len(results)} submissions")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m autograder``."""
    args = build_parser().parse_args(argv)
    try:
        if args.command == "grade":
            return grade_command(args)
        return grade_course_command(args)
    except (CourseError, SandboxUnavailableError, ValueError, OSError) as exc:
        print(f"autograder: cannot grade: {exc}", file=sys.stderr)
        return 2
