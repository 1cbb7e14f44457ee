"""State kept between calls, seen through a raise: a function that answered an earlier graded case right and now
raises is called again on that earlier case; an answer that now differs (or a raise) is state kept between calls
(a mutable default argument, a global or a module-level buffer that the first call filled).

The earlier case is a graded case the check has already scored and passed, so the repeated call only explains
(DESIGN invariant 7): one student call, after the check has failed, compared with the grader's values on that case.
Not covered: a function that raises on its first graded case (no earlier answer to repeat), or whose state changes
no answer to the earlier case (it then raises for another reason, which the check reports as it is).
"""

from __future__ import annotations

from collections.abc import Callable

from autograder.sequence_probes import STATE_BUG, attempt, same


def rerun_finding(run: Callable[[dict], dict], reference: Callable[[dict], dict], earlier: dict) -> str | None:
    """The cause sentence when ``run`` (the student on a case) now answers ``earlier``, which it answered right
    before, differently or not at all; else None.
    """
    got = attempt(lambda: run(earlier))
    want = reference(earlier)
    if got is not None and all(k in got and same(v, got[k]) for k, v in want.items()):
        return None
    now = "now raises on" if got is None else "now gives another answer to"
    return (f"Your function {now} an earlier case that it answered right (likely bug: {STATE_BUG}): something it "
            "keeps between calls (a mutable default argument such as def f(..., acc={}), a global, or a module-level "
            "buffer) carries the first call's arrays into this one; build every array inside the call")
