"""Does the cell feedback hold under any course secret? The cell bug catalogues run under N random hidden-case secrets.

Hidden cases are drawn from the course's secret (``autograder.cases``), which the instructor's course makes
at random: a diagnosis that holds under the secret our tests pin may fail under another one (a 1x1x1 case
where two hypotheses agree, a hidden draw where a bug vanishes). For each of ``N`` secrets this runs every
bug of ``cells.py`` and ``cells_independent.py`` (their runner: the notebook's test cells, in this process,
with the secret set by ``cases.hidden_secret``) and counts, per bug, under how many secrets it is

- caught: some test cell fails; caught hidden: some hidden test fails; located / named: as the catalogue
  scores them;
- named on hidden: a failing *hidden* test's message matches the bug's ``cause``;
- same: every test that fails on both its visible and its hidden cases gives the same cause on both
  (``cause_gist``: the bug classes named, else the explanation with the case's numbers masked).

``python -m tests.autograder.bugs.secrets [N] [--seed S] [-v]`` prints the bugs that are not N of N on
every count, and the totals (a bug counts as robust when it is N of N on every count it reaches under
the pinned secret). Secrets are ``BLAKE2b(f"{S}:{k}")``; without ``--seed`` ``S`` is random and printed.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import sys
from collections.abc import Iterable

from autograder import cases
from tests.autograder.bugs import cells, cells_independent

COUNTS = ("caught", "caught_hidden", "located", "named", "named_hidden", "same")


def secret_of(seed: str, k: int) -> bytes:
    """The ``k``-th secret of a measurement seeded ``seed`` (32 bytes, as a course's)."""
    return hashlib.blake2b(f"{seed}:{k}".encode(), digest_size=cases.SECRET_BYTES).digest()


def cause_gist(message: str) -> str:
    """The cause a failure message names: the ``(likely bug: <class>)`` names before its evidence, else its explanation
    without what depends on the case (numbers, sizes, indices, a batch index a B = 1 case leaves out, and
    "row"/"column", which a (1, 1) bias gradient cannot tell apart).
    """
    named = sorted(set(re.findall(r"\(likely bug: ([^)]*)\)", message.split(" Evidence: ")[0])))
    if named:
        return "likely bug: " + "; ".join(re.sub(r"row or column|row|column", "2-D", n) for n in named)
    m = re.search(r"(Your result matches the reference if .*?\(likely bug: [^)]*\)|Likely cause .*? Evidence:)",
                  message)
    text = (m.group(1) if m else message.split("): ", 1)[-1]).split(" Its inputs:")[0]
    text = re.sub(r"-?\d+(\.\d+)?(e[-+]?\d+)?", "#", text)
    return re.sub(r"row or column|row|column", "2-D", text.replace("batch #, ", ""))


def pairs(failing: dict[str, str]) -> dict[str, dict[str, str]]:
    """Failing messages grouped by test: ``{"test_rnn_step": {"visible": msg, "hidden": msg}}``."""
    out: dict[str, dict[str, str]] = {}
    for test_id, msg in failing.items():
        for side in ("visible", "hidden"):
            if test_id.endswith(f"_{side}"):
                out.setdefault(test_id.removesuffix(f"_{side}"), {})[side] = msg
    return out


def score(bug) -> dict[str, bool]:
    """The counts of one bug under the secret in force (``cases.hidden_secret``)."""
    s = cells.score(bug)
    grouped = pairs(s["failing"])
    hidden = [p["hidden"] for p in grouped.values() if "hidden" in p]
    both = [p for p in grouped.values() if len(p) == 2]
    return {"caught": s["caught"], "caught_hidden": bool(hidden), "located": s["located"], "named": s["named"],
            "named_hidden": any(re.search(bug.cause, m) for m in hidden),
            "same": all(cause_gist(p["visible"]) == cause_gist(p["hidden"]) for p in both),
            "gists": {t: {k: cause_gist(v) for k, v in p.items()} for t, p in grouped.items()}}


def catalogue() -> list:
    """Every cell bug of both catalogues (names are unique within each; prefixed by the catalogue)."""
    return [*cells.BUGS, *cells_independent.BUGS]


def label(bug) -> str:
    return f"{'independent' if isinstance(bug, cells_independent.IndependentBug) else 'cells'}:{bug.name}"


def measure(secret_list: Iterable[bytes], bugs: list | None = None) -> dict[str, dict]:
    """Per bug: how many secrets gave each count, and the distinct hidden gists seen (to show what varied)."""
    bugs = catalogue() if bugs is None else bugs
    table = {label(b): {**dict.fromkeys(COUNTS, 0), "n": 0, "seen": {}} for b in bugs}
    for secret in secret_list:
        with cases.hidden_secret(secret):
            for bug in bugs:
                s, row = score(bug), table[label(bug)]
                row["n"] += 1
                for k in COUNTS:
                    row[k] += int(s[k])
                for test, gists in s["gists"].items():
                    if "hidden" in gists:
                        row["seen"].setdefault(test, {}).setdefault(gists["hidden"], 0)
                        row["seen"][test][gists["hidden"]] += 1
    return table


def main(argv: list[str]) -> None:
    n = next((int(a) for a in argv if a.isdigit()), 10)
    seed = argv[argv.index("--seed") + 1] if "--seed" in argv else secrets.token_hex(8)
    verbose = "-v" in argv
    print(f"{n} secrets, seed {seed}")
    table = measure(secret_of(seed, k) for k in range(n))
    robust = 0
    for name, row in table.items():
        full = all(row[k] in (0, row["n"]) for k in COUNTS) and row["same"] == row["n"]
        robust += int(full)
        if not full or verbose:
            print(f"{name:55} " + " ".join(f"{k} {row[k]}/{row['n']}" for k in COUNTS))
            for test, gists in row["seen"].items():
                if len(gists) > 1 or verbose:
                    for gist, count in gists.items():
                        print(f"    {test} hidden x{count}: {gist[:300]}")
    print(f"{robust} of {len(table)} bugs give the same counts under every secret and the same cause on visible "
          f"and hidden cases")
    for cat in ("cells", "independent"):
        rows = [r for k, r in table.items() if k.startswith(cat + ":")]
        sums = {k: sum(r[k] for r in rows) for k in COUNTS}
        print(f"{cat:12} bugs {len(rows)} x {n} secrets: " + ", ".join(f"{k} {v}" for k, v in sums.items()))


if __name__ == "__main__":
    main(sys.argv[1:])
