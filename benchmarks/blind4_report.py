"""Grade one half of the fourth blind catalogue through the sandbox and print caught / located / named rates.

Usage: ``python benchmarks/blind4_report.py --half tuning [--workers 1] [--only NAME ...]``.
Prints the rates per assignment and overall, and writes a markdown table of every bug (and, for each miss,
the feedback the grader gave) to ``build/blind4_<half>.md`` (never a tracked file). The definitions of
caught, located and named are in ``tests/autograder/blind4/runner.py``. The held-out half is run once, by
the lead, at the end: never tune on it.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.autograder.blind4.catalogue import ASSIGNMENTS, half  # noqa: E402
from tests.autograder.blind4.runner import Outcome, owner_of, run  # noqa: E402

SHOWN = 600  # characters of feedback shown per missed bug


def rates(outcomes: list[Outcome]) -> str:
    n = len(outcomes) or 1
    c, lo, na = (sum(getattr(o, k) for o in outcomes) for k in ("caught", "located", "named"))
    return (f"caught {c}/{len(outcomes)} ({100 * c / n:.0f}%), located {lo}/{len(outcomes)} ({100 * lo / n:.0f}%), "
            f"named {na}/{len(outcomes)} ({100 * na / n:.0f}%)")


def feedback(o: Outcome) -> str:
    """The failed tests' messages, the edited function's visible tests first, on one line each."""
    own = sorted(o.failed, key=lambda t: (owner_of(o.assignment, t) != o.function, "hidden" in t, t))
    parts = [f"`{t}`: {' '.join(o.failed[t].split())}" for t in own]
    text = " / ".join(parts) or o.error or "(no test failed)"
    return (text[:SHOWN] + "...") if len(text) > SHOWN else text


def markdown(which: str, bugs, outcomes: list[Outcome], seconds: float) -> str:
    lines = [f"# Blind catalogue 4, {which} half: {rates(outcomes)}", "",
             f"{len(outcomes)} bugs graded through the sandbox in {seconds:.0f} s.", "",
             "| assignment | rate |", "|---|---|"]
    for a in ASSIGNMENTS:
        group = [o for o in outcomes if o.assignment == a]
        lines.append(f"| {a} | {rates(group)} |")
    lines += ["", "| bug | function | grader's name (ours) | caught | located | named |", "|---|---|---|---|---|---|"]
    mark = {True: "yes", False: "**no**"}
    for bug, o in zip(bugs, outcomes, strict=True):
        lines.append(f"| {bug.name} | {bug.function} | {bug.grader_name} | {mark[o.caught]} | {mark[o.located]} "
                     f"| {mark[o.named]} |")
    lines += ["", "## Misses (not caught, located or named) with the feedback given", ""]
    for bug, o in zip(bugs, outcomes, strict=True):
        if not (o.caught and o.located and o.named):
            miss = ", ".join(k for k in ("caught", "located", "named") if not getattr(o, k))
            lines.append(f"- **{bug.name}** ({bug.assignment}.{bug.function}; not {miss}; expected: "
                         f"{bug.grader_name}): {feedback(o).replace('|', '/')}")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--half", required=True, choices=("tuning", "heldout"))
    parser.add_argument("--workers", type=int, default=1, help="notebooks graded at once (default 1: 2 cores shared)")
    parser.add_argument("--only", nargs="*", default=None, help="grade only these bug names")
    args = parser.parse_args(argv)
    bugs = [b for b in half(args.half) if args.only is None or b.name in args.only]
    start = time.monotonic()
    outcomes = run(bugs, workers=args.workers)
    seconds = time.monotonic() - start
    for a in ASSIGNMENTS:
        group = [o for o in outcomes if o.assignment == a]
        if group:
            print(f"{a:14s} {rates(group)}")
    print(f"{'all':14s} {rates(outcomes)}  ({seconds:.0f} s)")
    out = REPO / "build" / f"blind4_{args.half}.md"
    out.parent.mkdir(exist_ok=True)
    out.write_text(markdown(args.half, bugs, outcomes, seconds))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
