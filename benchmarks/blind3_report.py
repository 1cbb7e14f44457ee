"""Grade one half of the blind bug catalogue and print how often the feedback catches, locates and names each bug.

Usage: ``python benchmarks/blind3_report.py [--half tuning|heldout] [--workers 2]``. Prints rates per
assignment and every miss with the feedback that was given, and writes the same as markdown to
``build/blind3_<half>.md`` (never to a tracked file). The held-out half is for the lead's single final run.
Baseline: the solution notebook of each assignment, graded in the same run (a bug is caught when it scores
below it). Not a test: nothing here passes or fails.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.autograder.blind3 import catalogue, runner  # noqa: E402


def _short(text: str, limit: int = 400) -> str:
    line = " ".join(text.split())
    return line if len(line) <= limit else line[:limit - 3] + "..."


def grader_version() -> str:
    """The commit the grader ran at, and whether its working tree had uncommitted changes then."""
    def git(*args):
        return subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True).stdout.strip()

    dirty = git("status", "--porcelain", "--", "autograder", "simulator")
    return f"HEAD {git('rev-parse', '--short', 'HEAD') or 'unknown'}" + (
        ", with uncommitted changes in autograder/ or simulator/" if dirty else ", autograder/ and simulator/ clean")


def report(outcomes, half: str, seconds: float, version: str = "") -> str:
    """The markdown report: a table of rates per assignment, then every miss with its feedback."""
    rows = defaultdict(lambda: [0, 0, 0, 0])
    for o in outcomes:
        for key in (o.bug.assignment, "all"):
            r = rows[key]
            r[0] += 1
            r[1] += o.caught
            r[2] += o.caught and o.located
            r[3] += o.named
    lines = [f"## Blind catalogue 3, {half} half: {len(outcomes)} bugs, graded in {seconds:.0f} s", "",
             f"Grader: {version}.", "",
             "| assignment | bugs | caught | located | named |", "|---|---|---|---|---|"]
    for key in (*catalogue.ASSIGNMENTS, "all"):
        if key in rows:
            n, c, lo, na = rows[key]
            lines.append(f"| {key} | {n} | {c} ({c / n:.0%}) | {lo} ({lo / n:.0%}) | {na} ({na / n:.0%}) |")
    for title, failed in (("Not caught", lambda o: not o.caught),
                          ("Caught but not located", lambda o: o.caught and not o.located),
                          ("Caught but not named", lambda o: o.caught and not o.named)):
        misses = [o for o in outcomes if failed(o)]
        lines += ["", f"### {title} ({len(misses)})", ""]
        for o in misses:
            lines.append(f"- **{o.bug.key}** ({o.bug.assignment}.{o.bug.function}, {o.score:g}/{o.full:g}): "
                         f"expected *{o.bug.name}*")
            for grade_id, message in o.lost.items():
                lines.append(f"  - `{grade_id}`: {_short(message)}")
    lines += ["", "### Every bug", "", "| bug | function | expected name | score | caught | located | named |",
              "|---|---|---|---|---|---|---|"]
    for o in outcomes:
        marks = ["yes" if flag else "**no**" for flag in (o.caught, o.caught and o.located, o.named)]
        name = o.bug.name.replace("|", "\\|")  # a bar in a name would end the table cell
        lines.append(f"| {o.bug.key} | {o.bug.assignment}.{o.bug.function} | {name} | {o.score:g}/{o.full:g} | "
                     + " | ".join(marks) + " |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--half", choices=catalogue.HALVES, default="tuning")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args(argv)
    bugs = catalogue.load(args.half)
    runner.check_edits(bugs)
    version = grader_version()
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="blind3-") as tmp:
        outcomes = runner.grade_bugs(bugs, Path(tmp), workers=args.workers)
    after = grader_version()
    if after != version:
        version += f" at the start, {after} at the end (the grader changed during the run)"
    text = report(outcomes, args.half, time.perf_counter() - start, version)
    print(text)
    out = REPO / "build" / f"blind3_{args.half}.md"
    out.parent.mkdir(exist_ok=True)
    out.write_text(text)
    print(f"written to {out.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
