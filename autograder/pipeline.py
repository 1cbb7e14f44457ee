"""The grading pipeline: one notebook from file to scored report, declared as an ordered list of steps.

:data:`STEPS` (as nbgrader declares its preprocessors), each a function of the :class:`Grading` state:
``read_source`` (the instructor's notebook, classified) -> ``read_secret`` (the course's hidden-case
secret) -> ``read_submission`` -> ``restore`` (the SOURCE's cells in the source's order; locked and test
cells from the source, the student's answers placed by ``grade_id``; nbgrader checksums) -> ``plan_steps``
(student code to the sandbox, test cells here, locked cells both) -> ``run_steps`` (:class:`Runner`) ->
``note_failed_cells``; then (the caller) ``gradebook.record`` -> ``feedback.write_feedback``.

Invariant (DESIGN.md, 5): nothing here executes the student's code; test cells run here and see the
student's functions only as :class:`channel.RemoteRef` and the student's data only as plain values.
A name that a locked cell of the source defines is never taken from the student.
"""

from __future__ import annotations

import ast
import builtins
import contextlib
import dis
import functools
import io
import json
import os
import re
import stat
import time
import traceback
from dataclasses import asdict, dataclass, field
from pathlib import Path

import nbformat
import numpy as np
from nbgrader.preprocessors import ClearHiddenTests
from nbgrader.utils import compute_checksum

from autograder import capture, cases, cell_names, channel, hidden_text
from autograder.sandbox import Limits, Sandbox, SandboxFailure
from autograder.sandbox.session import GRADER_PACKAGES

GRADER_ONLY_MODULES = GRADER_PACKAGES
HIDDEN_TESTS = re.compile(r"^\s*#+\s*BEGIN HIDDEN TESTS", re.MULTILINE)
MAX_MESSAGE = 4000
MAX_LISTED = 12  # cells named in one note
# What the grader reads of a notebook before any sandbox exists (stop 23): the file is student data too, and JSON
# amplifies (``{}`` is 3 bytes on disk, a dict of 64 bytes parsed, then a NotebookNode copy and a validation pass).
MAX_NOTEBOOK = 64 * 2**20  # bytes, as submission_files.MAX_KEPT
MAX_JSON_VALUES = 1_000_000  # an upper bound counted on the raw bytes: commas, '[' and '{' (inside strings too)


class NotebookError(ValueError):
    """The notebook cannot be read as a Jupyter notebook; the submission earns 0 with this reason."""


class CourseError(ValueError):
    """The course directory lacks what grading needs (the source notebook); the grader cannot grade."""


@dataclass
class TestResult:
    """One autograded test cell: points earned out of ``max_score`` and what the student should read."""

    __test__ = False  # not a pytest test class, whatever its name

    grade_id: str
    score: float
    max_score: float
    message: str
    output: str = ""


@dataclass
class Report:
    """Everything a graded notebook produced; ``tests`` are in notebook order."""

    notebook: str
    tests: list[TestResult] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    cells: list[dict] = field(default_factory=list)
    sandbox: str = ""
    limits: str = ""  # which limits held the sandbox: a cgroup (v1 or v2) for the whole sandbox, or rlimits only

    @property
    def score(self) -> float:
        return float(sum(t.score for t in self.tests))

    @property
    def max_score(self) -> float:
        return float(sum(t.max_score for t in self.tests))

    def to_json(self) -> dict:
        """The ``--json`` contract: score, max_score and one entry per test cell."""
        return {
            "score": self.score,
            "max_score": self.max_score,
            "tests": [{k: v for k, v in asdict(t).items() if k != "output"} for t in self.tests],
            "notes": list(self.notes),
        }


@dataclass(frozen=True)
class SourceCell:
    """A cell of the instructor's source notebook as grading needs it."""

    index: int
    kind: str  # "test", "locked", "solution", "answer" (manually graded) or "plain"
    cell_type: str
    grade_id: str | None
    points: float
    source: str
    release_checksum: str | None


@dataclass(frozen=True)
class Step:
    """One thing the runner does: run student code in the sandbox, a test cell here, or a locked cell in both.

    A locked cell (the instructor's setup, restored from the source) runs in the sandbox, so the
    student's code can use what it defines, and here, so that test cells use the instructor's
    helpers and data and never a version the student redefined.
    """

    kind: str  # "student", "locked" or "test"
    code: str
    label: str
    grade_id: str | None = None
    points: float = 0.0
    grader_code: str = ""
    defines: frozenset[str] = frozenset()
    hidden: bool = False  # a test cell with hidden tests: its message quotes no text the student chose


# ----------------------------------------------------------------------------- load
def load_notebook(path: Path | str) -> nbformat.NotebookNode:
    """Read a notebook; :class:`NotebookError` with the reason if it is not valid notebook JSON."""
    path = Path(path)
    data = _read_bounded(path)
    values = data.count(b",") + data.count(b"[") + data.count(b"{")
    if values > MAX_JSON_VALUES:
        raise NotebookError(f"{path.name} was not read: it holds about {values} JSON values (commas and brackets), "
                            f"more than the {MAX_JSON_VALUES} the grader parses; clear the cells' outputs "
                            "(Kernel > Restart & Clear Output) and remove large metadata, then submit again")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise NotebookError(f"cannot read {path.name}: {exc}") from None
    del data
    try:
        nb = nbformat.reads(text, as_version=4)
    except Exception as exc:  # noqa: BLE001 - nbformat raises many kinds for malformed JSON
        raise NotebookError(f"{path.name} is not a valid notebook: {str(exc).splitlines()[0][:300]}") from None
    if "\\ud" in text or "\\uD" in text:  # NB: lone surrogates (a JSON escape) could not be written out again
        nb = channel.valid_text(nb)
    if not isinstance(nb.get("cells"), list):
        raise NotebookError(f"{path.name} is not a valid notebook: no list of cells")
    for cell in nb.cells:
        if not isinstance(cell, dict) or not isinstance(cell.get("source", ""), str):
            raise NotebookError(f"{path.name} is not a valid notebook: a cell has no text source")
        cell.setdefault("metadata", nbformat.NotebookNode())
        cell.setdefault("cell_type", "code")
    return nb


def _read_bounded(path: Path) -> bytes:
    """At most :data:`MAX_NOTEBOOK` bytes of the regular file ``path`` (a FIFO or a device is refused unread)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        raise NotebookError(f"cannot read {path.name}: {exc}") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise NotebookError(f"cannot read {path.name}: it is not a regular file (a FIFO, a device or a folder); "
                                "submit the notebook file itself")
        if info.st_size > MAX_NOTEBOOK:
            raise NotebookError(_too_large(path, info.st_size))
        chunks, size = [], 0
        while size <= MAX_NOTEBOOK and (chunk := os.read(fd, min(1 << 20, MAX_NOTEBOOK + 1 - size))):
            chunks.append(chunk)
            size += len(chunk)
    except OSError as exc:
        raise NotebookError(f"cannot read {path.name}: {exc}") from None
    finally:
        os.close(fd)
    if size > MAX_NOTEBOOK:  # NB: a file that grew while it was read
        raise NotebookError(_too_large(path, size))
    return b"".join(chunks)


def _too_large(path: Path, size: int) -> str:
    return (f"{path.name} was not read: it is {size / 2**20:.1f} MiB, more than the {MAX_NOTEBOOK // 2**20} MiB the "
            "grader reads; clear the cells' outputs (Kernel > Restart & Clear Output) and submit again")


def source_notebook_path(course: Path | str, assignment: str, notebook: str | None = None) -> Path:
    """``course/source/<assignment>/<notebook>.ipynb`` (``notebook`` defaults to the only one there)."""
    folder = Path(course) / "source" / assignment
    if notebook is not None and (folder / f"{notebook}.ipynb").is_file():
        return folder / f"{notebook}.ipynb"
    candidates = sorted(p for p in folder.glob("*.ipynb") if not p.name.startswith("."))
    if (folder / f"{assignment}.ipynb").is_file():
        return folder / f"{assignment}.ipynb"
    if len(candidates) == 1:
        return candidates[0]
    raise CourseError(f"assignment {assignment!r}: expected its source notebook in {folder}, found "
                      f"{[p.name for p in candidates] or 'none'}")


def load_source(course: Path | str, assignment: str, notebook: str | None = None) -> list[SourceCell]:
    """The source notebook's cells, classified, with the checksum each locked cell has in the release."""
    path = source_notebook_path(course, assignment, notebook).resolve()
    stat = path.stat()
    return list(_load_source(path, stat.st_mtime_ns, stat.st_size))


@functools.lru_cache(maxsize=8)
def _load_source(path: Path, mtime_ns: int, size: int) -> tuple[SourceCell, ...]:
    # Cached per file version: a grading worker reads the source once for all its submissions.
    try:
        nb = load_notebook(path)
    except NotebookError as exc:
        raise CourseError(f"source notebook: {exc}") from None
    clear = ClearHiddenTests()
    cells = []
    for k, cell in enumerate(nb.cells):
        meta = cell.metadata.get("nbgrader", {})
        grade, solution = bool(meta.get("grade")), bool(meta.get("solution"))
        locked = bool(meta.get("locked")) or (grade and not solution)
        if grade and not solution and cell.cell_type == "code":
            kind = "test"
        elif grade and solution:
            kind = "answer"
        elif solution:
            kind = "solution"
        elif locked:
            kind = "locked"
        else:
            kind = "plain"
        checksum = None
        if meta.get("grade_id") and locked:
            release = nbformat.from_dict(json.loads(json.dumps(cell)))
            clear._remove_hidden_test_region(release)
            checksum = compute_checksum(release)
        points = float(meta.get("points", 0) or 0) if grade else 0.0
        cells.append(SourceCell(k, kind, cell.cell_type, meta.get("grade_id"), points, cell.source, checksum))
    if not any(c.kind == "test" for c in cells):
        raise CourseError(f"source notebook {path} has no autograded test cells")
    return tuple(cells)


# ----------------------------------------------------------------------------- restore
def _student_checksum(cell) -> str | None:
    meta = cell.get("metadata", {}).get("nbgrader")
    if not isinstance(meta, dict) or not meta.get("grade_id"):
        return None
    try:
        return compute_checksum(cell)
    except (KeyError, TypeError, ValueError, AttributeError):
        return None


def _grade_id(cell) -> str | None:
    meta = cell.metadata.get("nbgrader") if isinstance(cell.get("metadata"), dict) else None
    grade_id = meta.get("grade_id") if isinstance(meta, dict) else None
    return grade_id if isinstance(grade_id, str) else None


def _moved(order: list[int]) -> set[int]:
    """The entries of ``order`` outside one longest increasing run: the cells a student moved."""
    if not order:
        return set()
    best = [1] * len(order)
    prev = [-1] * len(order)
    for j in range(len(order)):
        for i in range(j):
            if order[i] < order[j] and best[i] + 1 > best[j]:
                best[j], prev[j] = best[i] + 1, i
    j, kept = max(range(len(order)), key=best.__getitem__), set()
    while j >= 0:
        kept.add(order[j])
        j = prev[j]
    return set(order) - kept


def restore_cells(student_nb, source: list[SourceCell]) -> tuple[list[dict], list[str]]:
    """The notebook to grade: the SOURCE notebook's cells in the source's order, the student's answers
    placed by ``grade_id``.

    Locked and test cells always come from the source (with hidden tests); one the student changed
    (checksum differs from the release), deleted, retyped or duplicated is restored and noted, and a
    copy anywhere else in the submission is ignored. Each answer (solution) cell holds the student's
    cell of that ``grade_id`` (every copy, in the submission's order, if it was duplicated). A code cell
    the student added runs just before the source cell that follows it in the submission (at the end if
    none does). Notes say when cells were reordered, duplicated, added or are missing.
    Returns (cells as ``{"kind", "source", "grade_id", "points", "cell_type", "index", "position"}``, notes).
    """
    by_id = {c.grade_id: c for c in source if c.grade_id}
    plain_code = {c.source.strip() for c in source if c.kind == "plain" and c.cell_type == "code"}
    copies: dict[str, list] = {}
    added_before: dict[int | None, list[tuple[int, str]]] = {}
    pending: list[tuple[int, str]] = []
    added: list[int] = []
    first_order: list[int] = []
    for position, cell in enumerate(student_nb.cells, start=1):
        src = by_id.get(_grade_id(cell))
        if src is None:
            # A cell the student added (or one whose nbgrader metadata was removed): the student's code.
            if cell.get("cell_type") == "code" and cell.source.strip():
                pending.append((position, cell.source))
                if cell.source.strip() not in plain_code:
                    added.append(position)
            continue
        added_before.setdefault(src.index, []).extend(pending)
        pending = []
        if src.grade_id not in copies:
            first_order.append(src.index)
        copies.setdefault(src.grade_id, []).append(cell)
    added_before.setdefault(None, []).extend(pending)

    out, notes = [], []

    def emit(kind: str, text: str, src: SourceCell | None = None, position: int | None = None) -> None:
        out.append({"kind": kind, "source": text, "grade_id": src.grade_id if src else None,
                    "points": src.points if src else 0.0, "cell_type": src.cell_type if src else "code",
                    "index": src.index if src else None, "position": position})

    for src in source:
        for position, text in added_before.get(src.index, []):
            emit("student", text, position=position)
        if not src.grade_id:
            continue  # the source's untracked cells: the student's copy, if any, ran as the student's code
        found = copies.get(src.grade_id, [])
        if src.kind in ("test", "locked"):
            if not found:
                notes.append(f"cell {src.grade_id} was missing from the submission; restored from the source")
            elif any(_student_checksum(c) != src.release_checksum or c.get("cell_type") != src.cell_type
                     for c in found):
                notes.append(f"cell {src.grade_id} was modified in the submission; restored from the source")
            if len(found) > 1:
                notes.append(f"cell {src.grade_id} appears {len(found)} times in the submission; the source's "
                             "copy was graded at its place and the others were ignored")
            emit(src.kind, src.source, src)
            continue
        if not found:
            notes.append(f"answer cell {src.grade_id} is missing from the submission; graded as empty")
            emit(src.kind, "", src)
            continue
        if len(found) > 1:
            notes.append(f"answer cell {src.grade_id} appears {len(found)} times in the submission; every copy "
                         "ran at its place, in the submission's order")
        for cell in found:
            if src.cell_type == "code" and cell.get("cell_type") != "code":
                notes.append(f"answer cell {src.grade_id} was turned into {cell.get('cell_type')}; it holds no code")
                emit(src.kind, "", src)
            else:
                emit(src.kind, cell.source, src)
    for position, text in added_before.get(None, []):
        emit("student", text, position=position)
    moved = _moved(first_order)
    if moved:
        ids = [c.grade_id for c in source if c.index in moved]
        notes.append(f"cells were reordered in the submission (moved: {', '.join(ids)}); every cell was graded "
                     "in the source notebook's order")
    if added:
        shown = ", ".join(f"#{k}" for k in added[:MAX_LISTED]) + (
            f" and {len(added) - MAX_LISTED} more" if len(added) > MAX_LISTED else "")
        notes.append(f"code cells were added to the submission (cell{'s' if len(added) > 1 else ''} {shown} "
                     "there); each ran just before the source cell that follows it in the submission")
    return out, notes


# ----------------------------------------------------------------------------- extract
_strip_magics = cell_names.strip_magics


def _is_grader_import(node: ast.stmt) -> bool:
    if isinstance(node, ast.Import):
        return all(a.name.split(".")[0] in GRADER_ONLY_MODULES for a in node.names)
    if isinstance(node, ast.ImportFrom):
        return node.level == 0 and (node.module or "").split(".")[0] in GRADER_ONLY_MODULES
    return False


def sandbox_code(code: str) -> str:
    """A cell's code as the sandbox runs it: no IPython magics.

    The notebooks import ``autograder.checks`` for the visible tests; in the sandbox that import would
    fail and stop the rest of the cell, so the worker leaves it out (``Sandbox.exec_cell``'s ``drop``).
    The grader never parses the student's code: a cell can exhaust the parser (a 200 000-deep
    expression raises ``MemoryError``, a long sum ``RecursionError``), which the sandbox's limits bound.
    """
    return _strip_magics(code)


def grader_prelude(source: list[SourceCell]) -> str:
    """The imports the test cells' namespace starts with: those of the source's locked cells, plus
    ``autograder`` imports from its other non-test code cells.

    Only the instructor's source is read here, never the submission, and solution cells contribute
    only ``autograder`` imports: no import can put a name such as the reference ``rnn_step`` in front
    of the student's function of that name.
    """
    lines = []
    for cell in source:
        if cell.cell_type != "code" or cell.kind == "test":
            continue
        try:
            tree = ast.parse(_strip_magics(cell.source))
        except SyntaxError:
            continue
        for node in tree.body:
            if isinstance(node, ast.Import | ast.ImportFrom) and (cell.kind == "locked" or _is_grader_import(node)):
                lines.append(ast.unparse(node))
    return "\n".join(dict.fromkeys(lines))


def warm_imports(source: list[SourceCell]) -> None:
    """Import what the source's test cells and prelude import, so forked grading workers start warm.

    Only the instructor's source is read; the namespace is thrown away (imports stay in ``sys.modules``).
    """
    lines = grader_prelude(source).splitlines()
    for cell in source:
        if cell.kind == "test":
            with contextlib.suppress(SyntaxError):
                tree = ast.parse(_strip_magics(cell.source))
                lines += [ast.unparse(n) for n in tree.body if isinstance(n, ast.Import | ast.ImportFrom)]
    for line in dict.fromkeys(lines):
        with contextlib.suppress(Exception):
            exec(compile(line, "<warm imports>", "exec"), {})  # noqa: S102 - the source's own imports


def plan(cells: list[dict]) -> list[Step]:
    """What to run, in the restored (source) order: the student's code goes to the sandbox, tests run
    here, locked cells both; each locked step carries the names its source text defines.
    """
    steps = []
    for k, cell in enumerate(cells):
        if cell["cell_type"] != "code":
            continue
        label = cell["grade_id"] or f"#{cell.get('position') or k + 1}"
        if cell["kind"] == "test":
            steps.append(Step("test", _strip_magics(cell["source"]), label, cell["grade_id"], cell["points"],
                              hidden=HIDDEN_TESTS.search(cell["source"]) is not None))
        elif cell["kind"] == "locked" and cell["source"].strip():
            steps.append(Step("locked", sandbox_code(cell["source"]), label,
                              grader_code=_strip_magics(cell["source"]),
                              defines=cell_names.defined_names(cell["source"])))
        elif cell["source"].strip():  # solution cells, manually graded code answers, cells the student added
            steps.append(Step("student", sandbox_code(cell["source"]), label))
    return steps


# ----------------------------------------------------------------------------- run
# The instructions that read (or delete) a name of the cell's namespace. ``co_names`` also holds every attribute,
# method and imported name (``np.random.default_rng`` lists ``random`` and ``default_rng``), and each was fetched
# from the student if they defined it: five 240 MiB broadcast views named like the attributes a test cell used
# made the grader hold 1.5 GiB at once (round 5).
_NAME_READS = frozenset({"LOAD_NAME", "LOAD_GLOBAL", "LOAD_FROM_DICT_OR_GLOBALS", "DELETE_NAME", "DELETE_GLOBAL"})
MAX_FETCHED = channel.MAX_BLOB  # bytes of arrays, strings and bytes fetched from the student for one cell


def _names_used(code) -> set[str]:
    """The names ``code`` (and the functions, classes and comprehensions in it) reads as variables."""
    names = {ins.argval for ins in dis.get_instructions(code) if ins.opname in _NAME_READS and type(ins.argval) is str}
    for const in code.co_consts:
        if hasattr(const, "co_code"):
            names |= _names_used(const)
    return names


def _held_bytes(value, depth: int = 0) -> int:
    """The bytes a decoded student value holds in the grader (arrays, strings, bytes; plain containers walked)."""
    t = type(value)
    if t is np.ndarray:
        return int(value.nbytes)
    if t in (str, bytes):
        return len(value)
    if depth > channel.MAX_DEPTH:
        return 0
    if t in (list, tuple):
        return sum(_held_bytes(v, depth + 1) for v in value)
    if t is dict:
        return sum(_held_bytes(k, depth + 1) + _held_bytes(v, depth + 1) for k, v in value.items())
    return 0


def _failure_message(exc: BaseException) -> str:
    if isinstance(exc, SandboxFailure):
        return f"the sandbox stopped: {exc}"
    if isinstance(exc, channel.TooLargeError):
        return str(exc)
    if isinstance(exc, AssertionError):
        return str(exc) or "assertion failed"
    if isinstance(exc, channel.RemoteError):
        # NB: bounded quantifiers: the traceback is the student's text, and [^>]* retried from every 'File "<cell '
        # was quadratic (200 000 characters took 11 s)
        frames = re.findall(r'File "<cell ([^>\n]{0,200})>", line (\d{1,9}), in (\S{1,200})', exc.remote_traceback)
        where = f" (cell {frames[-1][0]}, line {frames[-1][1]}, in {frames[-1][2]})" if frames else ""
        detail = f": {exc.args[1]}" if str(exc.args[1]).strip() else ""
        return f"your code raised {exc.kind}{detail}{where}"
    if isinstance(exc, cases.HiddenCasesUnavailableError):
        return str(exc)
    tail = traceback.format_exception(exc)[-2:]
    return "".join(tail).strip() if tail else f"{type(exc).__name__}: {exc}"


def _failed_statement(exc: BaseException, filename: str, tree: ast.Module) -> int:
    """The index of the top-level statement of ``tree`` (compiled as ``filename``) that raised ``exc``;
    0 (every statement) if the traceback does not reach the cell's own code.
    """
    line, tb = None, exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == filename and tb.tb_frame.f_code.co_name == "<module>":
            line = tb.tb_lineno
        tb = tb.tb_next
    if line is None:
        return 0
    for k, stmt in enumerate(tree.body):
        if stmt.lineno <= line <= (stmt.end_lineno or stmt.lineno):
            return k
    return 0


class _Budgeted:
    """``Limits`` as the sandbox reads them, with ``wall`` and ``startup`` never reaching past ``end``.

    The sandbox sets each deadline as ``time.monotonic() + limits.wall`` (the clock read first), so with
    ``wall = min(wall, end - now)`` every deadline is at most ``end``: starting a sandbox, replaying the
    student's cells after a crash and a test's calls all stop when the notebook's budget does.
    """

    def __init__(self, base: Limits, end: float):
        self._base, self.end = base, end

    def __getattr__(self, name: str):
        return getattr(self._base, name)

    @property
    def wall(self) -> float:
        return min(self._base.wall, self.end - time.monotonic())

    @property
    def startup(self) -> float:
        return min(self._base.startup, self.end - time.monotonic())


class Runner:
    """Runs a plan: the student's code in a sandbox, each test cell here with proxies for the student's names.

    If the sandbox dies (crash, timeout, memory), the step in which it died fails with the reason and
    the next step gets a fresh sandbox that has re-run the student's code so far (except the cells
    that killed it).

    Locked cells' names are the grader's (DESIGN.md, invariant 5): every name a locked cell of the plan
    defines (read from the source's text) is never fetched from the student, and if that cell fails
    here, every test that uses one of the names it did not get to define fails with the cell's reason.

    The notebook budget (``Limits.notebook``) is a hard bound: every request to the sandbox, including
    starting one and replaying the student's cells after a crash, gets at most the time left.
    """

    def __init__(self, limits: Limits | None = None, level: str = "auto", unsafe: bool = False):
        self.limits = limits or Limits()
        self.sandbox = Sandbox(self.limits, level, unsafe)
        self.history: list[Step] = []
        self.failed: dict[str, str] = {}
        self.grader_names: frozenset[str] = frozenset()
        self.test_labels: frozenset[str] = frozenset()
        self.broken: dict[str, tuple[str, str]] = {}  # name -> (locked cell, why it failed here)
        self.budget_end = float("inf")
        self.tainted = False  # hidden inputs were in the running sandbox (see _ensure_sandbox)

    # ------------------------------------------------------------------ budget
    def _spent(self, slack: float = 0.0) -> bool:
        return time.monotonic() >= self.budget_end - slack

    def _budget_text(self) -> str:
        return f"the notebook used up its {self.limits.notebook:g} s grading budget"

    def _message(self, exc: BaseException) -> str:
        # A request cut short by the budget ends a hair before budget_end (see _Budgeted).
        if isinstance(exc, SandboxFailure) and self._spent(slack=0.05):
            return f"not finished: {self._budget_text()} (the sandbox was stopped)"
        return _failure_message(exc)

    # ------------------------------------------------------------------ steps
    def run(self, steps: list[Step], prelude: str, report: Report) -> None:
        """Run every step, appending a :class:`TestResult` per test and a record per cell to ``report``."""
        namespace: dict = {"__name__": "__main__", "__builtins__": builtins}
        exec(compile(prelude, "<grader prelude>", "exec"), namespace)  # noqa: S102 - the source's own imports
        # NB: names the instructor's test cells define (an expected value, a helper) are the grader's too
        self.test_labels = frozenset(s.label for s in steps if s.kind == "test")
        self.grader_names = frozenset().union(*(s.defines for s in steps if s.kind == "locked"),
                                              *(cell_names.defined_names(s.code) for s in steps if s.kind == "test"))
        report.sandbox = self.sandbox.level
        self.budget_end = time.monotonic() + self.limits.notebook
        self.sandbox.limits = _Budgeted(self.limits, self.budget_end)
        try:
            for step in steps:
                if self._spent():
                    why = f"not run: {self._budget_text()}"
                    if step.kind == "test":
                        report.tests.append(TestResult(step.grade_id, 0.0, step.points, why))
                    report.cells.append({"label": step.label, "kind": step.kind, "ok": False, "message": why})
                    continue
                if step.kind in ("student", "locked"):
                    record = self._run_student(step)
                    if step.kind == "locked":
                        here = self._run_locked_here(step, namespace)
                        if here and record["ok"]:
                            record.update(ok=False, message=f"failed in the grader: {here}")
                    report.cells.append(record)
                else:
                    result = self._run_test(step, namespace)
                    report.tests.append(result)
                    report.cells.append({"label": step.label, "kind": "test", "ok": result.score > 0,
                                         "message": result.message, "output": result.output})
        finally:
            report.limits = self.sandbox.limits_used
            self.sandbox.close()

    def _ensure_sandbox(self, hidden_step: bool = False) -> None:
        """A running sandbox for the next request: restarted after a crash, and after hidden inputs were in it.

        A sandbox that held hidden inputs (``tainted``) serves only a test marked hidden next (its message is
        composed from grader facts); any other step gets a fresh sandbox with the student's cells replayed.
        """
        if self.tainted and not hidden_step:
            self.sandbox.kill("recycled: a test with hidden cases ran in it")
            self.tainted = False
        if not self.sandbox.dead:
            return
        self.sandbox.start()
        for step in self.history:
            # NB: the replay is charged to the notebook's budget (_Budgeted) like any other request.
            try:
                self.sandbox.exec_cell(step.code, step.label)
            except channel.RemoteError:
                continue

    def _run_student(self, step: Step) -> dict:
        try:
            self._ensure_sandbox()
            self.sandbox.exec_cell(step.code, step.label)
        except (channel.RemoteError, SandboxFailure, channel.TooLargeError) as exc:
            if isinstance(exc, channel.RemoteError):
                self.history.append(step)
            self.failed[step.label] = self._message(exc)
            return {"label": step.label, "kind": step.kind, "ok": False, "message": self.failed[step.label]}
        self.history.append(step)
        return {"label": step.label, "kind": step.kind, "ok": True, "message": ""}

    def _exec_here(self, text: str, filename: str, what: str, namespace: dict,
                   out: io.StringIO, hidden_step: bool = False) -> BaseException | None:
        """Compile, arm, resolve, exec and clean up one instructor cell in the test namespace; the failure or None.

        The student's names the cell uses (not the grader's own) are fetched afresh and removed again
        afterwards; what the cell itself assigned stays.
        """
        fetched: dict = {}
        try:
            code = compile(text, filename, "exec")
            self._ensure_sandbox(hidden_step)
            self.sandbox.arm(what)
            fetched = self._resolve(code, namespace)
            with capture.captured(out):  # NB: per thread; redirect_stdout is process-wide
                exec(code, namespace)  # noqa: S102 - the instructor's cell, restored from the source
        except (Exception, SandboxFailure) as exc:  # noqa: BLE001 - any failure is the cell's result
            return exc
        finally:
            for name, value in fetched.items():
                if namespace.get(name) is value:
                    del namespace[name]
        return None

    def _resolve(self, code, namespace: dict) -> dict:
        """Put the student's names that the cell uses (and the grader does not define) into ``namespace``."""
        wanted = {n for n in _names_used(code) if n not in namespace and not hasattr(builtins, n)}
        wanted -= self.grader_names  # NB: a locked cell's names come from the grader or not at all
        if not wanted:
            return {}
        available = self.sandbox.names()
        fetched, held = {}, 0
        for name in sorted(wanted & set(available)):
            fetched[name] = self.sandbox.get(name)
            held += _held_bytes(fetched[name])
            if held > MAX_FETCHED:  # NB: one message is bounded by the channel; the names of one cell are bounded here
                names = ", ".join(fetched)
                fetched.clear()
                raise ValueError(f"the names of your code that this cell reads ({names}) hold more than "
                                 f"{MAX_FETCHED / 2**20:.0f} MiB of data together; the grader copies what a test "
                                 "reads, so keep large data out of the names the tests use")
        namespace.update(fetched)  # NB: only once all are fetched, so a refusal leaves nothing behind
        return fetched

    def _run_locked_here(self, step: Step, namespace: dict) -> str:
        """Run the instructor's locked cell in the test cells' namespace (not scored, output dropped).

        Returns "" or why it failed; the names it did not get to define are marked broken.
        """
        filename = f"<locked cell {step.label}>"
        with hidden_text.recording() as facts, channel.redaction_scope(False):
            exc = self._exec_here(step.grader_code, filename,
                                  f"the student's code called by locked cell {step.label}", namespace, io.StringIO())
            hidden = channel.redacting()  # NB: a locked cell that draws hidden cases taints the sandbox too
        self.tainted = self.tainted or hidden
        if exc is None:
            for name in step.defines:
                self.broken.pop(name, None)
            return ""
        why = (hidden_text.compose_failure(exc, self._message(exc), facts, step.grader_code, filename) if hidden
               else self._message(exc))
        self._mark_broken(step.grader_code, filename, exc, step.defines, step.label, why)
        return why

    def _mark_broken(self, code: str, filename: str, exc: BaseException, defines: frozenset[str], label: str,
                     why: str) -> None:
        """The names an instructor cell did not get to define (it failed at ``exc``) are broken until it runs.

        Locked and test cells alike: a later test that reads one fails with this reason, and never gets the
        student's value of that name (DESIGN invariant 7).
        """
        try:
            tree = ast.parse(code)
        except SyntaxError:
            tree = ast.Module(body=[], type_ignores=[])
        failed = _failed_statement(exc, filename, tree)
        done = frozenset().union(*(cell_names.bound_names(s) for s in tree.body[:failed]))
        missing = frozenset().union(*(cell_names.bound_names(s) for s in tree.body[failed:])) or defines
        for name in defines:
            if name in missing:
                self.broken[name] = (label, why)
            elif name in done:
                self.broken.pop(name, None)

    def _broken_text(self, needs: list[str], verb: str) -> str:
        cells = {self.broken[n][0]: self.broken[n][1] for n in needs}
        return "; ".join(f"{verb} {', '.join(n for n in needs if self.broken[n][0] == label)}, which "
                         f"{'test' if label in self.test_labels else 'locked'} cell {label} should have defined, "
                         f"but that cell failed: {why.splitlines()[0][:300]}" for label, why in cells.items())

    def _run_test(self, step: Step, namespace: dict) -> TestResult:
        needs = sorted(n for n in cell_names.used_names(step.code) if n in self.broken)
        if needs:
            message = self._broken_text(needs, "not run: it uses")
            return TestResult(step.grade_id, 0.0, step.points, message[:MAX_MESSAGE])
        out = io.StringIO()
        filename = f"<test cell {step.label}>"
        with hidden_text.recording() as facts, channel.redaction_scope(step.hidden):
            exc = self._exec_here(step.code, filename, f"the student's code called by test {step.label}",
                                  namespace, out, hidden_step=step.hidden)
            hidden = channel.redacting()  # NB: drawing a hidden case switched it on too (cases)
        if hidden:
            # NB: hidden inputs were in this sandbox: the next step gets a fresh one (the student's cells replayed,
            # which never saw them), so no later message, note or visible test can quote what was kept of them
            self.tainted = True
            # NB: the one place a hidden test's message is composed: grader facts only, whatever the check wrote
            if exc is None:
                return TestResult(step.grade_id, step.points, step.points, hidden_text.compose_pass(facts), "")
            message = hidden_text.compose_failure(exc, self._message(exc), facts, step.code, filename)
            self._mark_broken(step.code, filename, exc, cell_names.defined_names(step.code), step.label, message)
            return TestResult(step.grade_id, 0.0, step.points, message[:MAX_MESSAGE], "")
        if exc is not None:
            message = self._message(exc)
            self._mark_broken(step.code, filename, exc, cell_names.defined_names(step.code), step.label, message)
            if isinstance(exc, NameError) and getattr(exc, "name", None) in self.broken:
                # Read at call time by a helper the test called (not in the test's own text).
                message = self._broken_text([exc.name], "failed: it needed")
            elif isinstance(exc, NameError) and self.failed:
                message += "\n(earlier cells of yours failed: " + "; ".join(
                    f"{label}: {why.splitlines()[0]}" for label, why in self.failed.items()) + ")"
            return TestResult(step.grade_id, 0.0, step.points, message[:MAX_MESSAGE], out.getvalue()[-MAX_MESSAGE:])
        printed = out.getvalue()
        return TestResult(step.grade_id, step.points, step.points, printed.strip()[-MAX_MESSAGE:] or "passed",
                          printed[-MAX_MESSAGE:])


# ----------------------------------------------------------------------------- the pipeline
@dataclass
class Grading:
    """What the steps of one notebook's grading read and write (nbgrader's ``resources``)."""

    path: Path
    course: Path
    assignment: str
    limits: Limits | None = None
    level: str = "auto"
    unsafe: bool = False
    report: Report | None = None
    source: list[SourceCell] = field(default_factory=list)
    secret: bytes = b""
    student_nb: nbformat.NotebookNode | None = None
    cells: list[dict] = field(default_factory=list)
    steps: list[Step] = field(default_factory=list)
    done: bool = False  # a step decided the report is final (a malformed submission)


def read_source(g: Grading) -> None:
    """The instructor's source notebook, classified (:class:`CourseError` if the course lacks it)."""
    g.source = load_source(g.course, g.assignment, g.path.stem)
    g.report = Report(notebook=g.path.stem)


def read_secret(g: Grading) -> None:
    """The course's hidden-case secret, made on first use (:class:`CourseError` if it cannot be read)."""
    try:
        g.secret = cases.course_secret(g.course)
    except (OSError, cases.HiddenCasesUnavailableError) as exc:
        raise CourseError(f"hidden-case secret: {exc}") from None


def read_submission(g: Grading) -> None:
    """The student's notebook; a malformed one earns 0 on every test with the reason, and grading stops."""
    try:
        g.student_nb = load_notebook(g.path)
    except NotebookError as exc:
        g.report.notes.append(str(exc))
        g.report.tests = [TestResult(c.grade_id, 0.0, c.points, f"not graded: {exc}")
                          for c in g.source if c.kind == "test"]
        g.done = True


def restore(g: Grading) -> None:
    """The source's cells in the source's order, the student's answers placed by ``grade_id``, with notes."""
    g.cells, notes = restore_cells(g.student_nb, g.source)
    g.report.notes += notes


def plan_steps(g: Grading) -> None:
    """What runs where: student code in the sandbox, test cells here, locked cells in both."""
    g.steps = plan(g.cells)


def run_steps(g: Grading) -> None:
    """Run the plan; the test cells see the course's secret, so their hidden cases are the course's."""
    with cases.hidden_secret(g.secret):
        Runner(g.limits, g.level, g.unsafe).run(g.steps, grader_prelude(g.source), g.report)


def note_failed_cells(g: Grading) -> None:
    """A note for every student or locked cell that failed, so the student reads why."""
    g.report.notes += [f"cell {c['label']}: {c['message']}" for c in g.report.cells
                       if c["kind"] in ("student", "locked") and not c["ok"]]


STEPS = (
    read_source,
    read_secret,  # NB: read_secret must come after read_source: a missing assignment is the first error
    read_submission,  # NB: read_submission must come after read_source: a malformed submission lists every test
    restore,  # NB: restore must come after read_submission
    plan_steps,  # NB: plan_steps must come after restore
    run_steps,  # NB: run_steps must come after plan_steps and read_secret
    note_failed_cells,  # NB: note_failed_cells must come after run_steps
)


def grade_notebook(path: Path | str, course: Path | str, assignment: str, limits: Limits | None = None,
                   level: str = "auto", unsafe: bool = False) -> Report:
    """Grade one submitted notebook against the course's source: :data:`STEPS` in order, until one is final."""
    g = Grading(Path(path), Path(course), assignment, limits, level, unsafe)
    for step in STEPS:
        step(g)
        if g.done:
            break
    return g.report
