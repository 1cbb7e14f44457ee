"""Grade blind-catalogue bugs through the real sandboxed pipeline and score the feedback: caught, located, named.

Each bug becomes one student notebook: the assignment's release (nbgrader's own ClearSolutions,
ClearHiddenTests and ComputeChecksums on the source) with every answer cell filled with the source's
solution, then the bug's edits applied. The notebook is graded by :func:`autograder.pipeline.grade_notebook`
against a private copy of the course with a fixed hidden-case secret, exactly as ``python -m autograder grade``
would. The CLI starts one sandbox per notebook (a bug is one notebook), so the runner cannot share a sandbox
between bugs; it grades notebooks in a small process pool instead (``workers``, default 1: two cores shared).

Scoring a bug's report (written before any run, and never tuned on the grader's wording):

- caught:  at least one test cell lost points;
- located: a test of the edited function lost points, and every test that lost points belongs to the edited
  function or to a function that calls it (``CALLS``), so the feedback points at the right place;
- named:   one of the bug's keyword patterns (case-insensitive regular expressions) occurs in the message of a
  failed test of the edited function (hidden tests carry no diagnosis, so in practice a visible one).

What this does NOT measure: whether the feedback's explanation is *right* beyond the keywords (a message that
names the right term for the wrong reason counts as named), how a student reads it, or bugs spread over
several functions (each bug edits one function).
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import tempfile
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from tests.autograder.blind3.runner import release_notebook, source_notebook  # one copy of nbgrader's release steps

REPO = Path(__file__).resolve().parents[3]
EXERCISES = REPO / "exercises"
SOLUTION_MARK = re.compile(r"^\s*### (BEGIN|END) SOLUTION\s*$")
SECRET = hashlib.blake2b(b"blind4 fixed course secret", digest_size=32).digest()

# Which answer cells call which (a bug in a callee may honestly fail its callers' tests too).
CALLS = {
    "frame_features": ("conv2d_forward", "maxpool_forward"),
    "crnn_forward": ("frame_features", "conv2d_forward", "maxpool_forward"),
    "hidden_grad_norms": ("rnn_forward",),
}

# Test cells of each answer cell: a test belongs to the function whose name it starts with (longest match).
FUNCTIONS = {
    "rnn_cell": ("rnn_step", "rnn_step_backward"),
    "lstm_cell": ("lstm_step", "lstm_step_backward"),
    "gru_cell": ("gru_step", "gru_step_backward"),
    "bptt": ("rnn_forward", "rnn_backward", "clip_gradients", "spectral_radius", "hidden_grad_norms"),
    "architectures": ("one_to_one_forward", "many_to_one_forward", "many_to_many_forward", "one_to_many_forward",
                      "encoder_decoder_forward"),
    "crnn": ("conv2d_forward", "maxpool_forward", "frame_features", "crnn_forward"),
}
TEST_PREFIX = {"one_to_one_forward": "one_to_one", "many_to_one_forward": "many_to_one",
               "many_to_many_forward": "many_to_many", "one_to_many_forward": "one_to_many",
               "encoder_decoder_forward": "encoder_decoder"}
EXTRA_TESTS = {"test_training_run": "crnn_forward"}  # the training run is graded on crnn_forward's states


def owner_of(assignment: str, test_id: str) -> str | None:
    """The answer function a test cell grades (None for the knowledge-check questions)."""
    if test_id in EXTRA_TESTS and assignment == "crnn":
        return EXTRA_TESTS[test_id]
    best = None
    for fn in FUNCTIONS[assignment]:
        prefix = "test_" + TEST_PREFIX.get(fn, fn)
        if (test_id == prefix or test_id.startswith(prefix + "_")) and (best is None or len(fn) > len(best)):
            best = fn
    if best == "rnn_step" and test_id.startswith("test_rnn_step_backward"):
        best = "rnn_step_backward"
    return best


def solution_code(source: str) -> str:
    """What a student who solved the cell would have in it: the solution without the fence lines."""
    return "\n".join(line for line in source.splitlines() if not SOLUTION_MARK.match(line))


def answers(assignment: str) -> dict[str, str]:
    """The solution code of every answer cell, by grade_id."""
    return {c.metadata["nbgrader"]["grade_id"]: solution_code(c.source) for c in source_notebook(assignment).cells
            if c.metadata.get("nbgrader", {}).get("solution") and c.cell_type == "code"}


class EditError(ValueError):
    """A bug's edit does not apply to the solution exactly once."""


def apply_edits(code: str, grade_id: str, edits) -> str:
    """``code`` of cell ``grade_id`` with every edit ``(grade_id, old, new)`` of that cell applied once."""
    for gid, old, new in edits:
        if gid != grade_id:
            continue
        if code.count(old) != 1:
            raise EditError(f"edit of {gid}: {old!r} occurs {code.count(old)} times in the solution, expected once")
        code = code.replace(old, new)
    return code


def buggy_notebook(bug) -> nbformat.NotebookNode:
    """The release with every answer filled with the solution, and the bug's edits applied."""
    nb = release_notebook(bug.assignment)
    solved = answers(bug.assignment)
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("solution") and cell.cell_type == "code":
            cell.source = apply_edits(solved[meta["grade_id"]], meta["grade_id"], bug.edits)
    return nb


def make_course(root: Path, assignments) -> Path:
    """A private course: the config, the sources and a fixed hidden-case secret (so runs are reproducible)."""
    root.mkdir(parents=True, exist_ok=True)
    shutil.copy(EXERCISES / "nbgrader_config.py", root)
    for name in assignments:
        shutil.copytree(EXERCISES / "source" / name, root / "source" / name, dirs_exist_ok=True)
    secret_dir = root / ".autograder"
    secret_dir.mkdir(mode=0o700, exist_ok=True)
    path = secret_dir / "secret"
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as stream:
            stream.write(SECRET)
    return root


@dataclass
class Outcome:
    """How the grader's report scored one bug."""

    bug: str
    assignment: str
    function: str
    score: float
    max_score: float
    failed: dict[str, str] = field(default_factory=dict)  # failed test id -> message
    caught: bool = False
    located: bool = False
    named: bool = False
    error: str = ""


def score_report(bug, report) -> Outcome:
    """caught / located / named of one graded report, as the module docstring defines them."""
    failed = {t.grade_id: t.message for t in report.tests if t.score < t.max_score}
    out = Outcome(bug.name, bug.assignment, bug.function, report.score, report.max_score, failed)
    out.caught = bool(failed)
    allowed = {bug.function} | {fn for fn, callees in CALLS.items() if bug.function in callees}
    owners = {tid: owner_of(bug.assignment, tid) for tid in failed}
    own = [tid for tid, fn in owners.items() if fn == bug.function]
    out.located = bool(own) and all(fn in allowed for fn in owners.values())
    patterns = [re.compile(p, re.IGNORECASE) for p in bug.patterns]
    out.named = any(p.search(failed[tid]) for tid in own for p in patterns)
    return out


def _grade_one(course: str, bug, limits) -> Outcome:
    from autograder.pipeline import grade_notebook

    with tempfile.TemporaryDirectory(prefix="blind4-") as tmp:
        path = Path(tmp) / f"{bug.assignment}.ipynb"
        try:
            nbformat.write(buggy_notebook(bug), path)
            report = grade_notebook(path, course, bug.assignment, limits)
        except Exception as exc:  # noqa: BLE001 - one broken bug must not stop the catalogue
            return Outcome(bug.name, bug.assignment, bug.function, 0.0, 0.0, error=f"{type(exc).__name__}: {exc}")
    return score_report(bug, report)


def run(bugs, workers: int = 1, limits=None, course: Path | None = None) -> list[Outcome]:
    """Grade every bug (one notebook each) and score the reports, in catalogue order."""
    from autograder.sandbox import Limits

    limits = limits or Limits(wall=60.0)
    bugs = list(bugs)
    with tempfile.TemporaryDirectory(prefix="blind4-course-") as tmp:
        root = make_course(Path(course or tmp) / "course", sorted({b.assignment for b in bugs}))
        if workers <= 1:
            return [_grade_one(str(root), bug, limits) for bug in bugs]
        with ProcessPoolExecutor(max_workers=workers) as pool:
            return list(pool.map(_grade_one, [str(root)] * len(bugs), bugs, [limits] * len(bugs)))
