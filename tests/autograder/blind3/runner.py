"""Grade each catalogue bug as a real submission through the sandboxed grader and score its feedback.

A bug's submission is the release notebook (nbgrader's own preprocessors remove solutions and hidden
tests and add checksums) with every solution cell holding the source's solution, one cell edited by the
bug's ``(old, new)`` replacements. It is graded by ``autograder.cli.grade_submission``, the function a
``grade-course`` worker runs: one sandbox per notebook, several notebooks in parallel processes.

For each bug the outcome records:

- caught: the score is below the solution's score on the same course;
- located: a lost test belongs to the bug's function, and every lost test belongs to it or to a function
  that calls it (:data:`CALLERS`);
- named: one of the bug's regular expressions (written before the first run) matches the messages of the
  lost tests, case-insensitive.

Not covered: "named" is a keyword judgement, so a message that uses other words for the right idea counts
as a miss, and a message that lists many candidate causes can match by luck.
"""

from __future__ import annotations

import copy
import json
import re
import shutil
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from tests.autograder.blind3.catalogue import ARCHITECTURES, ASSIGNMENTS, Bug

REPO = Path(__file__).resolve().parents[3]
EXERCISES = REPO / "exercises"
SOLUTION_MARK = re.compile(r"^\s*### (BEGIN|END) SOLUTION\s*$")
FIXED_SECRET = bytes(range(7, 39))  # 32 bytes: the same hidden cases on every run

# Functions whose tests may fail too when the bug's function is wrong, because they call it.
CALLERS = {
    ("bptt", "rnn_forward"): ("hidden_grad_norms",),
    ("crnn", "conv2d_forward"): ("frame_features", "crnn_forward", "training_run"),
    ("crnn", "maxpool_forward"): ("frame_features", "crnn_forward", "training_run"),
    ("crnn", "frame_features"): ("crnn_forward", "training_run"),
    ("crnn", "crnn_forward"): ("training_run",),
    ("rnn_cell", "rnn_step"): ("rnn_step_backward",),
    ("lstm_cell", "lstm_step"): ("lstm_step_backward",),
    ("gru_cell", "gru_step"): ("gru_step_backward",),
}


@dataclass
class Outcome:
    """What grading one bug showed."""

    bug: Bug
    score: float
    max_score: float
    full: float
    lost: dict[str, str] = field(default_factory=dict)  # grade_id -> message
    notes: list[str] = field(default_factory=list)

    @property
    def caught(self) -> bool:
        return self.score < self.full

    @property
    def located(self) -> bool:
        own = [g for g in self.lost if _test_of(g, self.bug.function)]
        allowed = (self.bug.function, *CALLERS.get((self.bug.assignment, self.bug.function), ()))
        return bool(own) and all(any(_test_of(g, f) for f in allowed) for g in self.lost)

    @property
    def feedback(self) -> str:
        """What the lost tests said, whole."""
        return "\n".join(self.lost.values())

    @property
    def diagnosis(self) -> str:
        """What the lost tests said, without the case headers, evidence, tolerances and exception texts."""
        return "\n".join(diagnosis_text(m) for m in self.lost.values())

    @property
    def named(self) -> bool:
        return self.caught and any(re.search(p, self.diagnosis, re.IGNORECASE | re.DOTALL) for p in self.bug.names)


_HEADER = re.compile(r"^[\w.]+, (visible|hidden) case \d+ of \d+ \(")
_BOILERPLATE = (
    re.compile(r"(Evidence|Its inputs|Tolerance):.*", re.DOTALL),  # the data after the diagnosis
    re.compile(r"\((tolerance|hidden cases):[^()]*(\([^()]*\)[^()]*)*\)"),
    re.compile(r"raised (\w+): .*?\(cell [^()]*\)", re.DOTALL),  # NumPy's own words, not the grader's
    re.compile(r"(first bad entry at|differs at) [^:;()]*(\([^()]*\))?(: expected [-+.\deE]+)?"),
)


def diagnosis_text(message: str) -> str:
    """The grader's own words in ``message``: a bug is "named" only by these, never by the data it quotes.

    Removed: the case header ``rnn_step, visible case 1 of 2 (B=2, D=3, H=4):`` (its shapes would match
    "D ... H"), everything from ``Evidence:`` on, tolerance and hidden-case notes, the text of an exception
    NumPy raised (up to the ``(cell ..., line ...)`` marker; the grader's explanation after it is kept), and
    "first bad entry at batch 0, unit 0" phrases.
    """
    text = message
    match = _HEADER.match(text)
    if match:
        depth, k = 1, match.end()
        while k < len(text) and depth:
            depth += {"(": 1, ")": -1}.get(text[k], 0)
            k += 1
        text = text[k:].lstrip(": ")
    text = _BOILERPLATE[2].sub(lambda m: f"raised {m.group(1)}", text)
    for pattern in (_BOILERPLATE[0], _BOILERPLATE[1], _BOILERPLATE[3]):
        text = pattern.sub("", text)
    return " ".join(text.split())


def _test_of(grade_id: str, function: str) -> bool:
    """Is ``grade_id`` a test of ``function``? (``test_rnn_step_visible`` tests rnn_step, not rnn_step_backward.)"""
    test_stem = function.removesuffix("_forward") if function in ARCHITECTURES else function
    rest = grade_id.removeprefix("test_")
    if not rest.startswith(test_stem):
        return False
    tail = rest[len(test_stem):]
    return tail == "" or tail.startswith(("_visible", "_hidden", "_reset_before", "_inputs", "_params"))


def make_course(root: Path, assignments) -> Path:
    """A course folder: the exercises' config and sources, and a fixed hidden-case secret (mode 600)."""
    root.mkdir(parents=True, exist_ok=True)
    shutil.copy(EXERCISES / "nbgrader_config.py", root)
    for name in assignments:
        shutil.copytree(EXERCISES / "source" / name, root / "source" / name, dirs_exist_ok=True)
    secret_dir = root / ".autograder"
    secret_dir.mkdir(mode=0o700, exist_ok=True)
    secret = secret_dir / "secret"
    if not secret.exists():
        secret.write_bytes(FIXED_SECRET)
        secret.chmod(0o600)
    return root


def source_notebook(assignment: str) -> nbformat.NotebookNode:
    return nbformat.read(EXERCISES / "source" / assignment / f"{assignment}.ipynb", as_version=4)


def release_notebook(assignment: str) -> nbformat.NotebookNode:
    """What students receive: nbgrader's preprocessors remove solutions and hidden tests, add checksums."""
    from nbgrader.preprocessors import ClearHiddenTests, ClearSolutions, ComputeChecksums

    nb = copy.deepcopy(source_notebook(assignment))
    for pre in (ClearSolutions(), ClearHiddenTests(), ComputeChecksums()):
        nb, _ = pre.preprocess(nb, {})
    return nb


def solution_code(source: str) -> str:
    """What a student who solved the cell would have in it: the solution without the fence lines."""
    return "\n".join(line for line in source.splitlines() if not SOLUTION_MARK.match(line))


def submission(assignment: str, bug: Bug | None = None) -> bytes:
    """The release filled with the source's solutions, ``bug``'s edits applied to its function's cell."""
    nb = release_notebook(assignment)
    answers = {c.metadata["nbgrader"]["grade_id"]: c.source for c in source_notebook(assignment).cells
               if c.metadata.get("nbgrader", {}).get("solution")}
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if not meta.get("solution"):
            continue
        code = solution_code(answers[meta["grade_id"]])
        if bug is not None and meta["grade_id"] == bug.function:
            for old, new in bug.edits:
                if code.count(old) != 1:
                    raise ValueError(f"bug {bug.key}: edit {old!r} occurs {code.count(old)} times in "
                                     f"{bug.function}; expected exactly once")
                code = code.replace(old, new)
        cell.source = code
    return json.dumps(nb).encode()


def check_edits(bugs) -> None:
    """Every bug's edits apply once and change the code (raises ValueError naming the bug otherwise)."""
    for bug in bugs:
        if bug.assignment not in ASSIGNMENTS:
            raise ValueError(f"bug {bug.key}: unknown assignment {bug.assignment!r}")
        if submission(bug.assignment, bug) == submission(bug.assignment):
            raise ValueError(f"bug {bug.key}: its edits leave the solution unchanged")


def _grade(course: Path, assignment: str, data: bytes):
    from autograder.cli import grade_submission
    from autograder.sandbox import Limits

    report = grade_submission(course, assignment, f"{assignment}.ipynb", data, Limits(), "auto", False)
    return ([(t.grade_id, t.score, t.max_score, t.message) for t in report.tests], list(report.notes))


def grade_bugs(bugs, root: Path, workers: int = 2) -> list[Outcome]:
    """Grade the solution of every assignment involved and each bug's submission; outcomes in ``bugs`` order."""
    from autograder.pipeline import load_source, warm_imports

    bugs = list(bugs)
    assignments = sorted({b.assignment for b in bugs})
    course = make_course(root, assignments)
    for a in assignments:
        warm_imports(load_source(course, a))  # NB: before the pool forks
    with ProcessPoolExecutor(max_workers=workers) as pool:
        full_jobs = {a: pool.submit(_grade, course, a, submission(a)) for a in assignments}
        jobs = [pool.submit(_grade, course, b.assignment, submission(b.assignment, b)) for b in bugs]
        full = {a: sum(t[1] for t in job.result()[0]) for a, job in full_jobs.items()}
        outcomes = []
        for bug, job in zip(bugs, jobs, strict=True):
            tests, notes = job.result()
            outcomes.append(Outcome(bug, sum(t[1] for t in tests), sum(t[2] for t in tests), full[bug.assignment],
                                    {g: m for g, s, mx, m in tests if s < mx}, notes))
    for a, f in full.items():
        if f <= 0:
            raise RuntimeError(f"the solution of {a} scored {f}: the runner or the course is broken")
    return outcomes
