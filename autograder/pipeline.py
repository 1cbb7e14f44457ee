"""The grading pipeline: one notebook from file to scored report, one single-purpose step per function.

``load_notebook`` -> ``load_source`` -> ``restore_cells`` (nbgrader checksums; the source's locked and
test cells replace the student's, deleted or retyped ones still count) -> ``plan`` (the student's code
and the test cells in notebook order) -> ``Runner`` (student code in the sandbox, each test cell in
this process with the student's names resolved through the channel) -> ``score`` -> (the caller)
``gradebook.record`` -> ``feedback.write_feedback``.

Invariant (DESIGN.md, 5): nothing here executes the student's code; test cells run here and see the
student's functions only as :class:`channel.RemoteRef` and the student's data only as plain values.
"""

from __future__ import annotations

import ast
import builtins
import contextlib
import functools
import io
import json
import re
import time
import traceback
from dataclasses import asdict, dataclass, field
from pathlib import Path

import nbformat
from nbgrader.preprocessors import ClearHiddenTests
from nbgrader.utils import compute_checksum

from autograder import channel
from autograder.sandbox import Limits, Sandbox, SandboxFailure

GRADER_ONLY_MODULES = ("autograder",)
MAX_MESSAGE = 4000


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


# ----------------------------------------------------------------------------- load
def load_notebook(path: Path | str) -> nbformat.NotebookNode:
    """Read a notebook; :class:`NotebookError` with the reason if it is not valid notebook JSON."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise NotebookError(f"cannot read {path.name}: {exc}") from None
    try:
        nb = nbformat.reads(text, as_version=4)
    except Exception as exc:  # noqa: BLE001 - nbformat raises many kinds for malformed JSON
        raise NotebookError(f"{path.name} is not a valid notebook: {str(exc).splitlines()[0][:300]}") from None
    if not isinstance(nb.get("cells"), list):
        raise NotebookError(f"{path.name} is not a valid notebook: no list of cells")
    for cell in nb.cells:
        if not isinstance(cell, dict) or not isinstance(cell.get("source", ""), str):
            raise NotebookError(f"{path.name} is not a valid notebook: a cell has no text source")
        cell.setdefault("metadata", nbformat.NotebookNode())
        cell.setdefault("cell_type", "code")
    return nb


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


def restore_cells(student_nb, source: list[SourceCell]) -> tuple[list[dict], list[str]]:
    """The notebook to grade: the student's cells, with every locked and test cell taken from the source.

    Student cells are matched to source cells by ``grade_id``. Locked and test cells always come from
    the source (with hidden tests); one the student changed (checksum differs from the release),
    deleted or turned into another type is restored and noted. Solution cells keep the student's text.
    Returns (cells as ``{"kind", "source", "grade_id", "points", "cell_type"}``, notes).
    """
    by_id = {c.grade_id: c for c in source if c.grade_id}
    out, notes, seen = [], [], set()

    def emit(src: SourceCell, text: str | None = None) -> None:
        seen.add(src.grade_id)
        out.append({"kind": src.kind, "source": src.source if text is None else text, "grade_id": src.grade_id,
                    "points": src.points, "cell_type": src.cell_type, "index": src.index})

    def emit_missing_before(index: int) -> None:
        for src in source:
            if src.index < index and src.grade_id and src.grade_id not in seen and src.kind in ("test", "locked"):
                notes.append(f"cell {src.grade_id} was missing from the submission; restored from the source")
                emit(src)

    for cell in student_nb.cells:
        meta = cell.metadata.get("nbgrader") if isinstance(cell.metadata, dict) else None
        grade_id = meta.get("grade_id") if isinstance(meta, dict) else None
        src = by_id.get(grade_id) if isinstance(grade_id, str) else None
        if src is None or src.grade_id in seen:
            # A cell the student added (or one whose nbgrader metadata was removed): the student's code.
            if cell.get("cell_type") == "code":
                out.append({"kind": "student", "source": cell.source, "grade_id": None, "points": 0.0,
                            "cell_type": "code", "index": None})
            continue
        emit_missing_before(src.index)
        if src.kind in ("test", "locked"):
            if _student_checksum(cell) != src.release_checksum or cell.get("cell_type") != src.cell_type:
                notes.append(f"cell {src.grade_id} was modified in the submission; restored from the source")
            emit(src)
        elif src.kind == "solution" and src.cell_type == "code" and cell.get("cell_type") != "code":
            notes.append(f"answer cell {src.grade_id} was turned into {cell.get('cell_type')}; it holds no code")
            emit(src, "")
        else:
            emit(src, cell.source)
    emit_missing_before(len(source) + 1)
    return out, notes


# ----------------------------------------------------------------------------- extract
def _strip_magics(code: str) -> str:
    return "\n".join("" if line.lstrip().startswith(("%", "!")) else line for line in code.splitlines())


def _is_grader_import(node: ast.stmt) -> bool:
    if isinstance(node, ast.Import):
        return all(a.name.split(".")[0] in GRADER_ONLY_MODULES for a in node.names)
    if isinstance(node, ast.ImportFrom):
        return node.level == 0 and (node.module or "").split(".")[0] in GRADER_ONLY_MODULES
    return False


def sandbox_code(code: str) -> str:
    """A cell's code as the sandbox runs it: no IPython magics, no imports of the grader's own package.

    The notebooks import ``autograder.checks`` for the visible tests; in the sandbox that import would
    fail and stop the rest of the cell, so it is removed (the checks run in the grader anyway).
    """
    code = _strip_magics(code)
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return code
    kept = [node for node in tree.body if not _is_grader_import(node)]
    if len(kept) == len(tree.body):
        return code
    return ast.unparse(ast.Module(body=kept, type_ignores=[]))


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
    """What to run, in notebook order: the student's code goes to the sandbox, tests run here, locked cells both."""
    steps = []
    for k, cell in enumerate(cells):
        if cell["cell_type"] != "code":
            continue
        label = cell["grade_id"] or f"#{k + 1}"
        if cell["kind"] == "test":
            steps.append(Step("test", _strip_magics(cell["source"]), label, cell["grade_id"], cell["points"]))
        elif cell["kind"] == "locked" and cell["source"].strip():
            steps.append(Step("locked", sandbox_code(cell["source"]), label,
                              grader_code=_strip_magics(cell["source"])))
        elif cell["source"].strip():  # solution cells, manually graded code answers, cells the student added
            steps.append(Step("student", sandbox_code(cell["source"]), label))
    return steps


# ----------------------------------------------------------------------------- run
def _names_used(code) -> set[str]:
    names = set(code.co_names)
    for const in code.co_consts:
        if hasattr(const, "co_names"):
            names |= _names_used(const)
    return names


def _failure_message(exc: BaseException) -> str:
    if isinstance(exc, SandboxFailure):
        return f"the sandbox stopped: {exc}"
    if isinstance(exc, AssertionError):
        return str(exc) or "assertion failed"
    if isinstance(exc, channel.RemoteError):
        frames = re.findall(r'File "<cell ([^>]*)>", line (\d+), in (\S+)', exc.remote_traceback)
        where = f" (cell {frames[-1][0]}, line {frames[-1][1]}, in {frames[-1][2]})" if frames else ""
        detail = f": {exc.args[1]}" if str(exc.args[1]).strip() else ""
        return f"your code raised {exc.kind}{detail}{where}"
    return f"{type(exc).__name__}: {exc}"


class Runner:
    """Runs a plan: the student's code in a sandbox, each test cell here with proxies for the student's names.

    If the sandbox dies (crash, timeout, memory), the step in which it died fails with the reason and
    the next step gets a fresh sandbox that has re-run the student's code so far (except the cells
    that killed it).
    """

    def __init__(self, limits: Limits | None = None, level: str = "auto", unsafe: bool = False):
        self.sandbox = Sandbox(limits, level, unsafe)
        self.history: list[Step] = []
        self.failed: dict[str, str] = {}

    def _ensure_sandbox(self) -> None:
        if not self.sandbox.dead:
            return
        self.sandbox.start()
        for step in self.history:
            try:
                self.sandbox.exec_cell(step.code, step.label)
            except channel.RemoteError:
                continue

    def run(self, steps: list[Step], prelude: str, report: Report) -> None:
        """Run every step, appending a :class:`TestResult` per test and a record per cell to ``report``."""
        namespace: dict = {"__name__": "__main__", "__builtins__": builtins}
        exec(compile(prelude, "<grader prelude>", "exec"), namespace)  # noqa: S102 - the source's own imports
        report.sandbox = self.sandbox.level
        budget_end = time.monotonic() + self.sandbox.limits.notebook
        try:
            for step in steps:
                if time.monotonic() > budget_end:
                    why = f"not run: the notebook used up its {self.sandbox.limits.notebook:g} s grading budget"
                    if step.kind == "test":
                        report.tests.append(TestResult(step.grade_id, 0.0, step.points, why))
                    report.cells.append({"label": step.label, "kind": step.kind, "ok": False, "message": why})
                    continue
                if step.kind in ("student", "locked"):
                    report.cells.append(self._run_student(step))
                    if step.kind == "locked":
                        self._run_locked_here(step, namespace)
                else:
                    result = self._run_test(step, namespace)
                    report.tests.append(result)
                    report.cells.append({"label": step.label, "kind": "test", "ok": result.score > 0,
                                         "message": result.message, "output": result.output})
        finally:
            self.sandbox.close()

    def _run_student(self, step: Step) -> dict:
        try:
            self._ensure_sandbox()
            self.sandbox.exec_cell(step.code, step.label)
        except (channel.RemoteError, SandboxFailure) as exc:
            if isinstance(exc, channel.RemoteError):
                self.history.append(step)
            self.failed[step.label] = _failure_message(exc)
            return {"label": step.label, "kind": step.kind, "ok": False, "message": self.failed[step.label]}
        self.history.append(step)
        return {"label": step.label, "kind": step.kind, "ok": True, "message": ""}

    def _run_locked_here(self, step: Step, namespace: dict) -> None:
        """Run the instructor's locked cell in the test cells' namespace (not scored, output dropped)."""
        fetched: dict = {}
        try:
            code = compile(step.grader_code, f"<locked cell {step.label}>", "exec")
            self._ensure_sandbox()
            self.sandbox.arm(f"the student's code called by locked cell {step.label}")
            fetched = self._resolve(code, namespace)
            with contextlib.redirect_stdout(io.StringIO()):
                exec(code, namespace)  # noqa: S102 - the instructor's cell, restored from the source
        except (Exception, SandboxFailure):  # noqa: BLE001, S110 - setup errors show up in the tests that need it
            pass
        finally:
            for name, value in fetched.items():
                if namespace.get(name) is value:
                    del namespace[name]

    def _resolve(self, code, namespace: dict) -> dict:
        """Put the student's names that the test cell uses (and the grader does not define) into ``namespace``."""
        wanted = {n for n in _names_used(code) if n not in namespace and not hasattr(builtins, n)}
        if not wanted:
            return {}
        available = self.sandbox.names()
        fetched = {}
        for name in sorted(wanted & set(available)):
            namespace[name] = fetched[name] = self.sandbox.get(name)
        return fetched

    def _run_test(self, step: Step, namespace: dict) -> TestResult:
        out = io.StringIO()
        fetched: dict = {}
        try:
            code = compile(step.code, f"<test cell {step.label}>", "exec")
            self._ensure_sandbox()
            self.sandbox.arm(f"the student's code called by test {step.label}")
            fetched = self._resolve(code, namespace)
            with contextlib.redirect_stdout(out):
                exec(code, namespace)  # noqa: S102 - the instructor's test cell, restored from the source
        except (Exception, SandboxFailure) as exc:  # noqa: BLE001 - any failure of a test cell is its score
            message = _failure_message(exc)
            if not isinstance(exc, AssertionError | SandboxFailure | channel.RemoteError):
                tail = traceback.format_exception(exc)[-2:]
                message = "".join(tail).strip() if tail else message
            if isinstance(exc, NameError) and self.failed:
                message += "\n(earlier cells of yours failed: " + "; ".join(
                    f"{label}: {why.splitlines()[0]}" for label, why in self.failed.items()) + ")"
            return TestResult(step.grade_id, 0.0, step.points, message[:MAX_MESSAGE], out.getvalue()[-MAX_MESSAGE:])
        finally:
            # The student's names are fetched afresh for every cell; what the test cell itself assigned stays.
            for name, value in fetched.items():
                if namespace.get(name) is value:
                    del namespace[name]
        printed = out.getvalue()
        return TestResult(step.grade_id, step.points, step.points, printed.strip()[-MAX_MESSAGE:] or "passed",
                          printed[-MAX_MESSAGE:])


# ----------------------------------------------------------------------------- whole notebook
def grade_notebook(path: Path | str, course: Path | str, assignment: str, limits: Limits | None = None,
                   level: str = "auto", unsafe: bool = False) -> Report:
    """Grade one submitted notebook against the course's source; a malformed notebook earns 0 with the reason."""
    path = Path(path)
    source = load_source(course, assignment, path.stem)
    report = Report(notebook=path.stem)
    try:
        student_nb = load_notebook(path)
    except NotebookError as exc:
        report.notes.append(str(exc))
        report.tests = [TestResult(c.grade_id, 0.0, c.points, f"not graded: {exc}") for c in source if c.kind == "test"]
        return report
    cells, notes = restore_cells(student_nb, source)
    report.notes += notes
    Runner(limits, level, unsafe).run(plan(cells), grader_prelude(source), report)
    report.notes += [f"cell {c['label']}: {c['message']}" for c in report.cells
                     if c["kind"] in ("student", "locked") and not c["ok"]]
    return report
