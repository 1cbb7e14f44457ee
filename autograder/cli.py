"""Command line: ``grade`` one notebook, or ``grade-course`` every submission of an assignment."""

from __future__ import annotations

import argparse
import functools
import json
import sys
import tempfile
from collections.abc import Sequence
from concurrent.futures import Executor, ProcessPoolExecutor, as_completed
from pathlib import Path

import nbformat

from autograder.feedback import write_autograded
from autograder.gradebook import GradebookError
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
from autograder.submission_files import (
    STUDENT_ID,
    Submission,
    SubmissionFileError,
    check_against_inbound,
    check_provenance,
    check_student_id,
    inbound_folder,
    list_students,
    read_metadata,
    read_regular,
    read_submission,
    solution_regions,
)

DEFAULT_COURSE = Path(__file__).resolve().parent.parent / "exercises"
DEFAULT_EXCHANGE = "/srv/nbgrader/exchange"  # nbgrader's default Exchange.root


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
    many.add_argument("--exchange", default=None,
                      help="the nbgrader exchange collect read from (default: the course's Exchange.root, "
                           f"else {DEFAULT_EXCHANGE}); its inbound is checked for planted links")
    many.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    _sandbox_options(many)
    return parser


def printable(text: str) -> str:
    """``text`` with control characters (but newlines) escaped: messages quote student values and names."""
    return "".join(c if c.isprintable() or c == "\n" else repr(c)[1:-1] for c in text)


def _print_report(report: Report) -> None:
    for test in report.tests:
        mark = "ok  " if test.score == test.max_score else "FAIL"
        print(f"{mark} {test.grade_id}: {test.score:g}/{test.max_score:g}")
        if test.score < test.max_score:
            print("     " + printable(test.message).replace("\n", "\n     "))
    for note in report.notes:
        print(f"note: {printable(note)}")
    print(f"score: {report.score:g}/{report.max_score:g} (sandbox: {report.sandbox or 'not started'})")
    print(f"limits: {report.limits or 'not started'}")


def grade_command(args: argparse.Namespace) -> int:
    """``grade``: exit 0 whenever grading finished, 2 when the grader could not grade.

    The notebook is read once, without following a link (a link, pipe or device earns 0 with the reason).
    """
    level = "none" if args.unsafe_no_sandbox else "auto"
    name = args.notebook.name
    try:
        data = read_regular(args.notebook)
    except SubmissionFileError as exc:
        load_source(args.course, args.assignment, args.notebook.stem)  # a missing course is exit 2, as before
        report = _not_graded(args.course, args.assignment, name, str(exc))
    else:
        report = grade_submission(args.course, args.assignment, name, data, _limits(args), level,
                                  args.unsafe_no_sandbox)
    if args.json:
        print(json.dumps(report.to_json(), indent=1))
    else:
        _print_report(report)
    return 0


def grade_submission(course: Path, assignment: str, name: str, data: bytes | None, limits: Limits, level: str,
                     unsafe: bool) -> Report:
    """Grade the verified bytes ``data`` of notebook ``name``: runs in a worker process (or on a Dask worker).

    The bytes are graded from a private copy; the submission's own path is never opened here.
    """
    if data is None:
        return _not_graded(course, assignment, name, f"{name} was not submitted",
                           f"{name} is missing from the submission")
    with tempfile.TemporaryDirectory(prefix="autograder-") as tmp:
        path = Path(tmp) / name
        path.write_bytes(data)
        return grade_notebook(path, course, assignment, limits, level, unsafe)


def _not_graded(course: Path, assignment: str, name: str, reason: str, note: str | None = None) -> Report:
    """A report of zeros on every test, each saying why nothing was graded."""
    report = Report(notebook=Path(name).stem, notes=[note or reason])
    report.tests = [TestResult(c.grade_id, 0.0, c.points, f"not graded: {reason}")
                    for c in load_source(course, assignment) if c.kind == "test"]
    return report


def _parse(data: bytes | None) -> nbformat.NotebookNode | None:
    """The student's notebook for the feedback page (None when it is not notebook JSON)."""
    try:
        return nbformat.reads(data.decode("utf-8"), as_version=4) if data is not None else None
    except Exception:  # noqa: BLE001 - nbformat raises many kinds for malformed JSON
        return None


def find_inbound(course: Path, exchange: Path | str | None) -> Path | None:
    """The exchange's inbound folder of this course: ``exchange``, else ``Exchange.root`` as nbgrader finds it.

    nbgrader reads ``nbgrader_config.py`` from Jupyter's config folders, then from the course directory
    (later ones win); so does this, falling back to nbgrader's default root.
    """
    from jupyter_core.paths import jupyter_config_path
    from traitlets.config.loader import ConfigFileNotFound, PyFileConfigLoader

    from autograder.gradebook import course_settings

    if exchange is None:
        for folder in [*reversed(jupyter_config_path()), str(course)]:
            try:
                config = PyFileConfigLoader("nbgrader_config.py", path=folder).load_config()
            except (ConfigFileNotFound, OSError):
                continue
            exchange = config.get("Exchange", {}).get("root") or exchange
    folder = inbound_folder(exchange or DEFAULT_EXCHANGE, course_settings(course)[1])
    return folder if folder.is_dir() else None


def verify_submissions(course: Path, assignment: str, exchange: Path | str | None = None, notebook: str | None = None,
                       ) -> tuple[dict[str, Submission], dict[str, str], dict[str, str]]:
    """Read every submission without following links: ``(verified, refused, bad_ids)``, each by student.

    Then, when the course has an exchange inbound, every submission must be a faithful copy of one of
    the student's inbound folders (:func:`submission_files.check_against_inbound`); raises
    :class:`CourseError` before anything is graded when submissions came through an exchange
    (``submission_secret.txt``) and its inbound is not found. Last, a copy of the instructor's source
    notebook is refused (:func:`submission_files.check_provenance`).
    """
    verified, refused, bad_ids = {}, {}, {}
    for student in list_students(course, assignment):
        try:
            check_student_id(student)
        except SubmissionFileError as exc:
            bad_ids[student] = str(exc)
            continue
        try:
            verified[student] = read_submission(course, student, assignment, notebook)
        except SubmissionFileError as exc:
            refused[student] = str(exc)
    inbound = find_inbound(course, exchange)
    via_exchange = [s for s, sub in verified.items() if sub.secret is not None]
    if via_exchange and inbound is None:
        raise CourseError(f"{len(via_exchange)} submissions came through an nbgrader exchange (they hold "
                          "submission_secret.txt) but its inbound folder was not found: pass --exchange DIR, "
                          "the --Exchange.root that collect used, so they can be checked for links")
    regions = solution_regions([c.source for c in load_source(course, assignment)])
    for student, sub in list(verified.items()):
        try:
            if inbound is not None:
                check_against_inbound(sub, inbound)
            for rel, data in sub.files.items():
                if rel.endswith(".ipynb"):
                    check_provenance(f"submitted/{student}/{assignment}/{rel}", data, regions)
        except SubmissionFileError as exc:
            refused[student] = str(exc)
            del verified[student]
    return verified, refused, bad_ids


def _pages_of_refused(course: Path, assignment: str, refused: dict[str, str],
                      verified: dict[str, Submission]) -> dict[str, Submission]:
    """The checked timestamp and secret of each refused submission whose page of reasons can be released.

    ``release_feedback`` needs both files next to every page (it stops at the first page without them),
    so a refused submission gets a page only with a timestamp, and with a secret when others came by exchange.
    """
    exchanged = any(sub.secret for sub in verified.values())
    pages = {}
    for student in refused:
        meta = read_metadata(course, student, assignment)
        if meta.timestamp and (meta.secret or not exchanged):
            pages[student] = meta
    return pages


def _timestamp(sub: Submission | None):
    from nbgrader.utils import parse_utc

    return parse_utc(sub.timestamp) if sub is not None and sub.timestamp else None


def grade_course(course: Path | str, assignment: str, executor: Executor | None = None, workers: int = 1,
                 limits: Limits | None = None, unsafe: bool = False, db_url: str | None = None,
                 progress: bool = True, exchange: Path | str | None = None) -> dict[str, Report | str]:
    """Grade every submission of ``assignment``, record scores and write autograded notebooks.

    Before anything is graded: the gradebook is opened once (a wrong ``db_url`` or a missing driver
    raises :class:`gradebook.GradebookError`), the sandbox is started once, and every submission is read
    and verified (:func:`verify_submissions`); a refused one earns 0 with the reason.

    ``executor`` is any ``concurrent.futures.Executor``: by default a local ``ProcessPoolExecutor`` with
    ``workers`` processes; a Dask cluster works too (``distributed.Client(...).get_executor()``). Workers
    receive the verified bytes, never a path into the submission. The gradebook is written here, in this
    process only. Returns ``{student: Report or error text}``.
    """
    from tqdm import tqdm

    from autograder.gradebook import (
        assign_late_penalty,
        check_gradebook,
        course_config,
        ensure_assignment,
        open_gradebook,
        record,
    )

    course = Path(course).resolve()
    source = load_source(course, assignment)
    name = source_notebook_path(course, assignment).name
    check_gradebook(course, db_url)  # NB: before grading, so a wrong URL or driver costs nothing
    config = course_config(course)
    limits = limits or Limits()
    level = "none" if unsafe else "auto"
    if not unsafe:
        from autograder.sandbox import Sandbox

        Sandbox(limits, level)  # fail now, not once per student, when there is no sandbox
    verified, refused, bad_ids = verify_submissions(course, assignment, exchange, name)
    results: dict[str, Report | str] = {s: f"not graded: {why}" for s, why in bad_ids.items()}
    own = executor is None
    if own:
        warm_imports(source)  # NB: before the pool forks, so every worker starts with the checks imported
        executor = ProcessPoolExecutor(max_workers=max(1, workers))
    futures = {executor.submit(grade_submission, course, assignment, name, sub.files.get(name), limits, level,
                               unsafe): s for s, sub in verified.items()}
    # NB: the gradebook is opened after the workers started, so no worker inherits its database connection.
    gb = open_gradebook(course, db_url)
    try:
        ensure_assignment(gb, assignment, Path(name).stem, source)
        pages = _pages_of_refused(course, assignment, refused, verified)

        def outcomes():
            # Refused submissions first (nothing to wait for), then graded ones as they finish.
            for student, why in refused.items():
                yield student, functools.partial(_not_graded, course, assignment, name, why)
            for future in as_completed(futures):
                yield futures[future], future.result

        for student, get_report in tqdm(outcomes(), total=len(futures) + len(refused), desc=f"grading {assignment}",
                                        unit="notebook", disable=not progress, file=sys.stderr):
            sub = verified.get(student) or pages.get(student)
            try:
                report = get_report()
                record(gb, report, assignment, student, _timestamp(sub))
                assign_late_penalty(gb, assignment, Path(name).stem, student, config)
                if sub is not None:
                    answers = _parse(sub.files.get(name)) if student in verified else None
                    write_autograded(report, course, assignment, sub, answers, student)
                results[student] = report
            except Exception as exc:  # noqa: BLE001 - one bad submission must not stop the others
                gb.db.rollback()
                results[student] = f"{type(exc).__name__}: {exc}"
    finally:
        gb.close()
        if own:
            executor.shutdown()
    return results


def zero_reason(report: Report) -> str:
    """Why a report scored nothing, on one line: the refusal, the first failed cell of the student, or test."""
    failed = [t.message for t in report.tests if t.score < t.max_score]
    reasons = [m.removeprefix("not graded: ") for m in failed if m.startswith("not graded: ")]
    reasons += [n for n in report.notes if n.startswith("cell ") and "was modified" not in n
                and "was missing" not in n]
    reasons += [f"{t.grade_id}: {t.message}" for t in report.tests if t.score < t.max_score]
    reasons += report.notes
    line = " ".join(printable(reasons[0] if reasons else "no test passed").split())
    return line if len(line) <= 200 else line[:197] + "..."


def grade_course_command(args: argparse.Namespace) -> int:
    """``grade-course``: a line per student (each zero with its reason), then a summary; exit 0 when done."""
    results = grade_course(args.course, args.assignment, workers=args.workers, limits=_limits(args),
                           unsafe=args.unsafe_no_sandbox, db_url=args.db_url, progress=not args.no_progress,
                           exchange=args.exchange)
    for student, result in sorted(results.items()):
        if isinstance(result, Report):
            why = f" ({zero_reason(result)})" if result.score == 0 and result.max_score > 0 else ""
            print(f"{student}: {result.score:g}/{result.max_score:g}{why}")
        else:  # an id refused as unsafe is shown quoted, so it cannot drive the terminal
            shown = student if STUDENT_ID.fullmatch(student) else repr(student)
            print(f"{shown}: {' '.join(printable(result).split())}")
    print(f"graded {sum(isinstance(r, Report) for r in results.values())} of {len(results)} submissions")
    used = sorted({r.limits for r in results.values() if isinstance(r, Report) and r.limits})
    print(f"limits: {'; '.join(used) or 'no sandbox started'}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m autograder``."""
    args = build_parser().parse_args(argv)
    try:
        if args.command == "grade":
            return grade_command(args)
        return grade_course_command(args)
    except (CourseError, GradebookError, SandboxUnavailableError, ValueError, OSError) as exc:
        print(f"autograder: cannot grade: {exc}", file=sys.stderr)
        return 2
