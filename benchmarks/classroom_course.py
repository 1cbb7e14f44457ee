"""A classroom on the course server: N students behind one address sign in, open their pages, submit and wait for
their feedback, while the instructor opens the dashboard, exports and regrades.

Prints the p50 and p95 of sign-in, page (GET and websocket document; the course and feedback pages also
alone), submit-accepted and feedback-visible latency, beside two baselines measured throughout the same run: the
simulator's home page opened by a guest every 3 s (a page that reads no database) and a trivial request (an
unknown API path, every 0.2 s); then what the database says afterwards (nothing lost, each graded once,
lateness by the server's clock). The defaults are ``serve.py --num-procs 2`` with its embedded defaults (one
grading worker per process, SQLite). The simulation itself is ``tests/autograder/server/classroom.py``.

Usage: ``python benchmarks/classroom_course.py [--students 300] [--window 120] [--workers 1] [--num-procs 2]
[--postgres]``; the serving processes' ids are printed first (for ``py-spy dump --pid``).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from autograder.server import db, submissions  # noqa: E402
from tests.autograder.fixtures import course as fx  # noqa: E402
from tests.autograder.server import classroom, http  # noqa: E402
from tests.autograder.server.conftest import buggy_notebook, notebook_bytes, released_course  # noqa: E402


def drain(engine, timeout: float) -> float:
    """Seconds until nothing is queued or running (or ``timeout``)."""
    import sqlalchemy as sa

    start = time.perf_counter()
    while time.perf_counter() - start < timeout:
        with engine.connect() as conn:
            pending = conn.execute(sa.select(sa.func.count()).select_from(db.submissions).where(
                db.submissions.c.status.in_(("queued", "running")))).scalar_one()
        if not pending:
            break
        time.sleep(0.5)
    return time.perf_counter() - start


def serving(pid: int) -> list[int]:
    """``pid`` and its child processes that run serve.py (with ``--num-procs N``, the N forked servers)."""
    out = [pid]
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            cmd = (stat.parent / "cmdline").read_bytes()
        except OSError:
            continue
        if int(fields[1]) == pid and b"serve.py" in cmd:
            out.append(int(stat.parent.name))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=300)
    parser.add_argument("--window", type=float, default=120.0, help="seconds over which the students arrive")
    parser.add_argument("--workers", type=int, default=1, help="grading processes per server process")
    parser.add_argument("--num-procs", type=int, default=2, help="serve.py processes")
    parser.add_argument("--env", action="append", default=[], metavar="NAME=VALUE",
                        help="an environment variable for serve.py (repeatable), e.g. RNN_JOIN_SHARE=1")
    parser.add_argument("--postgres", action="store_true",
                        help="the server's database on PostgreSQL (TEST_POSTGRES_URL, else one started here)")
    args = parser.parse_args()
    environ = {}
    for item in args.env:
        name, eq, value = item.partition("=")
        if not eq or not name.isidentifier():
            parser.error(f"--env {item[:60]!r}: expected NAME=VALUE")
        environ[name] = value
    pg = None
    with tempfile.TemporaryDirectory(prefix="classroom-") as tmp:
        course = released_course(Path(tmp) / "course")
        url, extra = db.default_url(course), []
        if args.postgres:
            from tests.autograder.server.postgres import LocalPostgres, fresh_database

            base = os.environ.get("TEST_POSTGRES_URL") or (pg := LocalPostgres()).url
            url = fresh_database(base)
            extra = ["--db-url", url]
        engine = db.connect(url)
        books = [notebook_bytes(fx.solved_notebook()), notebook_bytes(buggy_notebook())]
        students, prof = classroom.enrol(engine, args.students, books)
        port = http.free_port()
        proc = http.start_server(course, port, "--grading-workers", str(args.workers), "--num-procs",
                                 str(args.num_procs), *extra, log=Path(tmp) / "serve.log", environ=environ)
        print(f"serve.py {proc.pid}, serving processes: {' '.join(map(str, serving(proc.pid)))}", flush=True)
        try:
            deadline = time.time() + 10 + args.window * 0.6
            submissions.configure(engine, classroom.ASSIGNMENT, deadline=deadline, late_policy="accept")
            run = asyncio.run(_run(port, students, prof, args.window, deadline))
            drained = drain(engine, 900)
        finally:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(60)
        try:
            problems = run.problems + classroom.verify(engine, run, students)
        finally:
            engine.dispose()
            if pg is not None:
                pg.stop()
        log = (Path(tmp) / "serve.log").read_text(errors="replace")
    print(f"{args.students} students behind one address, arriving over {args.window:.0f} s; {args.workers} grading "
          f"worker(s) per process, {args.num_procs} server process(es), {'PostgreSQL' if args.postgres else 'SQLite'}; "
          f"class done in {run.seconds:.1f} s, queue drained "
          f"{drained:.1f} s later")
    print(f"{'latency (s)':22}{'p50':>9}{'p95':>9}{'n':>7}")
    for name, values in run.latencies.items():
        p50, p95, n = classroom.percentiles(values)
        print(f"{name:22}{p50:9.3f}{p95:9.3f}{n:7d}")
    for base in ("home page", "trivial"):
        b50, b95, _ = classroom.percentiles(run.latencies[base])
        for name in ("page", "course page", "feedback page", "cell compare page", "submit-accepted"):
            p50, p95, _ = classroom.percentiles(run.latencies[name])
            print(f"{name} / {base}: p50 {p50 / b50:.1f}x, p95 {p95 / b95:.1f}x")
    print(f"accepted {len(run.accepted)} submissions; regraded {len(run.regraded)}; comparisons refused as busy "
          f"{run.compares_refused}; "
          f"'database is locked' in the server log: {log.count('database is locked')}; "
          f"tracebacks: {log.count('Traceback')}")
    if "Traceback" in log:
        start = log.index("Traceback")
        print("first traceback in the server log:\n" + log[max(0, start - 300):start + 1500])
    print("problems: " + ("none" if not problems else f"{len(problems)}"))
    for p in problems[:40]:
        print("  - " + p)
    if problems:
        sys.exit(1)


async def _run(port, students, prof, window, deadline):
    run = classroom.Run(deadline=deadline)
    return await classroom.classroom(port, students, prof, window, run=run)


if __name__ == "__main__":
    main()
