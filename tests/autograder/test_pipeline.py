"""The grading pipeline step by step, and whole notebooks of the fixture course and the real exercises."""

import copy
import re
import shutil
import stat
from pathlib import Path

import nbformat
import pytest
from nbgrader.preprocessors import ClearHiddenTests, ClearSolutions

from autograder import cases, cell_names, pipeline
from autograder.feedback import write_feedback
from autograder.pipeline import (
    CourseError,
    NotebookError,
    grade_notebook,
    grader_prelude,
    load_notebook,
    load_source,
    plan,
    restore_cells,
    sandbox_code,
)
from autograder.sandbox import Limits, isolation
from tests.autograder.fixtures import course as fx

needs_sandbox = pytest.mark.skipif(isolation.detect() is None, reason="no sandbox isolation on this machine")
LIMITS = Limits(wall=10.0, cpu=60, memory=1024 * 2**20, processes=16)
EXERCISES = Path(__file__).resolve().parents[2] / "exercises"


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    return fx.write_course(tmp_path_factory.mktemp("course"))


def _ids(cells, kind):
    return [c["grade_id"] for c in cells if c["kind"] == kind]


# ----------------------------------------------------------------------------- load and restore
def test_load_source_classifies_cells_and_computes_release_checksums(course):
    """Are test, locked and solution cells told apart, with the checksum each has in the release?"""
    source = load_source(course, fx.ASSIGNMENT)
    kinds = {c.grade_id: c.kind for c in source if c.grade_id}
    assert kinds["test_rnn_step_hidden"] == "test" and kinds["imports"] == "locked"
    assert kinds["rnn_step"] == "solution" and kinds["explain"] == "answer"
    release = {c.metadata.nbgrader["grade_id"]: c.metadata.nbgrader.get("checksum") for c in
               fx.release_notebook().cells if "nbgrader" in c.metadata}
    for cell in source:
        if cell.kind in ("test", "locked"):
            assert cell.release_checksum == release[cell.grade_id]


def test_missing_source_is_a_course_error(tmp_path):
    """Does a course without the assignment's source say where it looked?"""
    with pytest.raises(CourseError, match="source notebook"):
        load_source(tmp_path, "rnn_cell")


def test_load_notebook_rejects_malformed_json(tmp_path):
    """Is invalid JSON a NotebookError naming the file?"""
    path = fx.write_notebook(tmp_path / "bad.ipynb", "{oops")
    with pytest.raises(NotebookError, match="bad.ipynb"):
        load_notebook(path)


def test_untouched_release_restores_without_notes(course):
    """Does a release notebook match every checksum (no cell reported as modified)?"""
    cells, notes = restore_cells(fx.release_notebook(), load_source(course, fx.ASSIGNMENT))
    assert notes == []
    assert _ids(cells, "test") == list(fx.TESTS)


def test_restore_uses_source_tests_with_hidden_parts(course):
    """Do test cells come from the source, hidden tests included, whatever the student's copy says?"""
    nb = fx.release_notebook()
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == "test_rnn_step_hidden":
            cell.source = "pass"
    cells, notes = restore_cells(nb, load_source(course, fx.ASSIGNMENT))
    hidden = next(c for c in cells if c["grade_id"] == "test_rnn_step_hidden")
    assert "reference_step" in hidden["source"]
    assert notes == ["cell test_rnn_step_hidden was modified in the submission; restored from the source"]


def test_restore_keeps_added_cells_in_order_and_restores_deleted_ones(course):
    """Are student-added cells kept where they were, and deleted test cells put back in order?"""
    nb = fx.solved_notebook()
    nb.cells.insert(3, nbformat.v4.new_code_cell("helper = 1"))
    nb.cells = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") != "test_q1"]
    cells, notes = restore_cells(nb, load_source(course, fx.ASSIGNMENT))
    order = [c["grade_id"] or c["source"] for c in cells if c["cell_type"] == "code"]
    assert order.index("helper = 1") == order.index("rnn_step") + 1
    assert order.index("answers") < order.index("test_q1") < order.index("apply_twice")
    assert any("test_q1 was missing" in n for n in notes)


def test_sandbox_code_drops_magics_and_never_parses_the_student_s_code():
    """Does the sandbox copy lose IPython magics, keep the rest as written, and survive code no parser can hold?

    The `autograder` imports are left out by the sandbox's worker (test_sandbox.py), not here.
    """
    code = "%matplotlib inline\nimport numpy as np\nfrom autograder.checks import check_rnn_step\nx = np.ones(2)\n"
    out = sandbox_code(code)
    assert "%matplotlib" not in out and "from autograder.checks import check_rnn_step" in out
    assert "import numpy as np" in out and "x = np.ones(2)" in out
    assert sandbox_code("def broken(:\n") == "def broken(:"
    for deep in ("x = " + "-" * 200_000 + "1", "x = " + "+".join(["1"] * 300_000), "f = " + "lambda: " * 50_000 + "1"):
        assert sandbox_code(deep) == deep


def test_grader_prelude_takes_only_trusted_imports():
    """Does the test namespace get the locked cells' imports and autograder imports, never a solution's?"""
    source = [
        pipeline.SourceCell(0, "locked", "code", "setup", 0, "import numpy as np\nx = 1", None),
        pipeline.SourceCell(1, "solution", "code", "sol", 0,
                            "from simulator.cells import rnn_step\nfrom autograder.checks import check_rnn_step", None),
        pipeline.SourceCell(2, "test", "code", "t", 1, "import os", None),
    ]
    prelude = grader_prelude(source)
    assert "import numpy as np" in prelude and "from autograder.checks import check_rnn_step" in prelude
    assert "simulator" not in prelude and "os" not in prelude and "x = 1" not in prelude


def test_plan_sends_code_to_the_sandbox_and_keeps_tests_here(course):
    """Are solution and locked code cells sandbox steps, tests grader steps, markdown nothing?"""
    cells, _ = restore_cells(fx.solved_notebook(), load_source(course, fx.ASSIGNMENT))
    steps = plan(cells)
    assert [s.label for s in steps if s.kind == "test"] == list(fx.TESTS)
    assert [s.label for s in steps if s.kind == "student"] == ["rnn_step", "answers", "apply_twice"]
    assert [s.label for s in steps if s.kind == "locked"] == ["imports"]
    # The grader's imports are dropped by the sandbox's worker, which parses the cell (test_sandbox.py), not here.
    assert "autograder" in steps[0].code and "autograder" in steps[0].grader_code


# ----------------------------------------------------------------------------- whole notebooks
def _grade(course, tmp_path, nb, assignment=fx.ASSIGNMENT):
    path = fx.write_notebook(tmp_path / f"{assignment}.ipynb", nb)
    return grade_notebook(path, course, assignment, LIMITS)


@needs_sandbox
def test_solved_notebook_earns_full_marks_and_release_zero(course, tmp_path):
    """Does the solution earn every point and the untouched release none?"""
    solved = _grade(course, tmp_path, fx.solved_notebook())
    assert solved.score == solved.max_score == sum(fx.TESTS.values())
    assert solved.sandbox in ("bwrap", "rlimits")
    release = _grade(course, tmp_path, fx.release_notebook())
    assert release.score == 0.0
    assert "NotImplementedError" in next(t.message for t in release.tests if t.grade_id == "test_apply_twice")


@needs_sandbox
def test_an_error_in_one_cell_does_not_stop_the_others(course, tmp_path):
    """Does a student cell that raises still let later cells define their names?"""
    nb = fx.with_code(fx.solved_notebook(), "answers", "answer_q1 = 'A'\nraise RuntimeError('oops')")
    report = _grade(course, tmp_path, nb)
    assert report.score == report.max_score
    assert any("RuntimeError" in c["message"] for c in report.cells if c["kind"] == "student")


@needs_sandbox
def test_wrong_answer_gets_the_checks_diagnostic(course, tmp_path):
    """Does a wrong rnn_step fail with the exercise checks' message and keep other points?"""
    wrong = fx.RNN_STEP.replace("np.tanh(a)", "1 / (1 + np.exp(-a))")
    nb = fx.with_code(fx.solved_notebook(), "rnn_step", wrong)
    report = _grade(course, tmp_path, nb)
    scores = {t.grade_id: t.score for t in report.tests}
    assert scores["test_rnn_step_visible"] == 0 and scores["test_q1"] == 1
    message = next(t.message for t in report.tests if t.grade_id == "test_rnn_step_visible")
    assert "differ" in message


@needs_sandbox
def test_feedback_notebook_shows_failures(course, tmp_path):
    """Does the autograded notebook hold the student's answers and each failing test's message, no hidden test?"""
    report = _grade(course, tmp_path, fx.with_code(fx.solved_notebook(), "answers", "answer_q1 = 'B'"))
    sub = course / "submitted" / "dora" / fx.ASSIGNMENT
    fx.write_notebook(sub / f"{fx.ASSIGNMENT}.ipynb", fx.with_code(fx.solved_notebook(), "answers", "answer_q1 = 'B'"))
    out = write_feedback(report, course, fx.ASSIGNMENT, "dora")
    nb = nbformat.read(out, as_version=4)
    by_id = {c.metadata.get("nbgrader", {}).get("grade_id"): c for c in nb.cells}
    assert by_id["answers"].source == "answer_q1 = 'B'"
    assert "q1: wrong answer" in by_id["test_q1"].outputs[0]["evalue"]
    assert "reference_step" not in by_id["test_rnn_step_hidden"].source  # hidden tests stay hidden


def _release(source_path: Path) -> nbformat.NotebookNode:
    nb = nbformat.read(source_path, as_version=4)
    for pre in (ClearSolutions(), ClearHiddenTests()):
        nb, _ = pre.preprocess(copy.deepcopy(nb), {})
    return nb


@needs_sandbox
@pytest.mark.skipif(not (EXERCISES / "source").is_dir(), reason="exercises/ not present")
@pytest.mark.parametrize("assignment", ["rnn_cell", "architectures"])
def test_exercise_solutions_earn_full_marks_and_releases_zero(assignment, tmp_path):
    """Does each real exercise's source earn every point through the sandbox, and its release 0?"""
    course = tmp_path / "course"  # a copy: grading makes the course's secret, which the repository must not get
    shutil.copytree(EXERCISES / "source" / assignment, course / "source" / assignment)
    shutil.copy(EXERCISES / "nbgrader_config.py", course)
    source_path = course / "source" / assignment / f"{assignment}.ipynb"
    solved = _grade(course, tmp_path, nbformat.read(source_path, as_version=4), assignment)
    failed = [(t.grade_id, t.message) for t in solved.tests if t.score < t.max_score]
    assert failed == [] and solved.max_score > 0
    release = _grade(course, tmp_path, _release(source_path), assignment)
    assert release.score == 0.0


# ----------------------------------------------------------------------------- names a cell defines and uses
def test_defined_names_reads_every_binding_form_from_the_text():
    """Does defined_names find what a locked cell binds at top level, in every form, and nothing inside functions?"""
    code = """
import numpy as np, os.path
from math import pi as PI
a = b, c = 1, 2
d += 1
e: int = 3
for f, (g, h) in []:
    pass
with open("x") as i:
    pass
try:
    pass
except ValueError as j:
    pass
if (k := 5):
    del l
[m := v for v in range(3)]
def fn(arg):
    inner = 1
    global n
    n = arg
class C:
    attribute = 1
lambda q: (r := q)
match a:
    case {"k": s, **t}:
        pass
    case [u, *w]:
        pass
"""
    expected = {"np", "os", "PI", "a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l", "m", "fn", "n", "C",
                "s", "t", "u", "w"}
    assert cell_names.defined_names(code) == expected
    assert cell_names.defined_names("from math import *") >= {"pi", "sqrt"}
    assert cell_names.defined_names("def broken(:") == frozenset()


def test_used_names_are_the_names_a_cell_reads_but_does_not_define():
    """Does used_names list what a test cell depends on, without its own assignments or attribute names?"""
    code = "x = probe_accuracy + 1\nassert np.isclose(x, expected), label\nexpected = 2"
    assert cell_names.used_names(code) == {"probe_accuracy", "np", "label"}


def test_plan_records_the_names_each_locked_cell_defines(course):
    """Does every locked step carry the names its source text defines (and no other step any)?"""
    cells, _ = restore_cells(fx.solved_notebook(), load_source(course, fx.ASSIGNMENT))
    steps = plan(cells)
    locked = next(s for s in steps if s.kind == "locked")
    assert locked.defines == {"np", "check_rnn_step", "close"}
    assert all(not s.defines for s in steps if s.kind != "locked")


# ----------------------------------------------------------------------------- restore in the source's order
def test_restore_follows_the_source_order_and_notes_what_changed(course):
    """Are cells emitted in the source's order whatever the submission's, with notes for moved, copied, added
    and missing cells?"""
    nb = fx.solved_notebook()
    by_id = {c.metadata.get("nbgrader", {}).get("grade_id"): c for c in nb.cells}
    added = nbformat.v4.new_code_cell("helper = 2")
    nb.cells = [by_id["test_q1"], by_id["imports"], added, by_id["rnn_step"], copy.deepcopy(by_id["test_q1"]),
                by_id["test_rnn_step_visible"], by_id["test_rnn_step_hidden"], by_id["answers"],
                by_id["test_apply_twice"], by_id["explain"]]
    cells, notes = restore_cells(nb, load_source(course, fx.ASSIGNMENT))
    order = [c["grade_id"] or c["source"] for c in cells]
    assert order == ["imports", "helper = 2", "rnn_step", "test_rnn_step_visible", "test_rnn_step_hidden",
                     "answers", "test_q1", "apply_twice", "test_apply_twice", "explain"]
    assert next(c for c in cells if c["source"] == "helper = 2")["position"] == 3
    joined = "\n".join(notes)
    assert "reordered in the submission (moved: test_q1)" in joined
    assert "cell test_q1 appears 2 times" in joined
    assert "added to the submission (cell #3 there)" in joined
    assert "answer cell apply_twice is missing" in joined


# ----------------------------------------------------------------------------- the pipeline, one step at a time
def _grading(course, path=Path("rnn_cell.ipynb")):
    return pipeline.Grading(Path(path), Path(course), fx.ASSIGNMENT, LIMITS)


def test_steps_are_declared_in_order():
    """Is the pipeline the declared list of steps, each after what its NB comment says it needs?"""
    names = [s.__name__ for s in pipeline.STEPS]
    assert names == ["read_source", "read_secret", "read_submission", "restore", "plan_steps", "run_steps",
                     "note_failed_cells"]
    text = Path(pipeline.__file__).read_text()
    for after, before in re.findall(r"# NB: (\w+) must come after (\w+)", text):
        if after in names and before in names:
            assert names.index(before) < names.index(after), (after, before)


def test_step_read_source(course):
    """Does read_source classify the source's cells and start the report under the notebook's name?"""
    g = _grading(course)
    pipeline.read_source(g)
    assert [c.grade_id for c in g.source if c.kind == "test"] == list(fx.TESTS)
    assert g.report.notebook == "rnn_cell" and g.report.tests == []


def test_step_read_secret(course, tmp_path):
    """Does read_secret hand over the course's secret, and make a course error of an unusable one?"""
    g = _grading(course)
    pipeline.read_secret(g)
    assert g.secret == cases.course_secret(course)
    broken = fx.write_course(tmp_path / "broken")
    cases.course_secret(broken)
    cases.secret_path(broken).chmod(0o644)
    with pytest.raises(CourseError, match="chmod 600"):
        pipeline.read_secret(_grading(broken))
    assert stat.S_IMODE(cases.secret_path(broken).stat().st_mode) == 0o644  # refused, not silently changed


def test_step_read_submission(course, tmp_path):
    """Does read_submission load a notebook, and end grading with 0 on every test for a malformed one?"""
    g = _grading(course, fx.write_notebook(tmp_path / "rnn_cell.ipynb", fx.solved_notebook()))
    pipeline.read_source(g)
    pipeline.read_submission(g)
    assert not g.done and len(g.student_nb.cells) == len(fx.solved_notebook().cells)
    bad = _grading(course, fx.write_notebook(tmp_path / "bad" / "rnn_cell.ipynb", "{oops"))
    pipeline.read_source(bad)
    pipeline.read_submission(bad)
    assert bad.done and [t.score for t in bad.report.tests] == [0.0] * len(fx.TESTS)
    assert "not a valid notebook" in bad.report.notes[0]


def test_step_restore_and_plan_steps(course):
    """Do restore and plan_steps turn the submission into source-ordered cells and then steps, noting changes?"""
    g = _grading(course)
    pipeline.read_source(g)
    g.student_nb = fx.release_notebook()
    g.student_nb.cells = g.student_nb.cells[::-1]
    pipeline.restore(g)
    assert [c["grade_id"] for c in g.cells if c["kind"] == "test"] == list(fx.TESTS)
    assert any("reordered" in n for n in g.report.notes)
    pipeline.plan_steps(g)
    assert [s.label for s in g.steps if s.kind == "test"] == list(fx.TESTS)


@needs_sandbox
def test_step_run_steps_hands_the_course_secret_to_the_test_cells(course):
    """Do the test cells that run_steps executes draw their hidden cases from the course's secret (and only there)?"""
    g = _grading(course)
    pipeline.read_source(g)
    pipeline.read_secret(g)
    with cases.hidden_secret(g.secret):
        expected = repr(float(cases.step_cases("rnn", hidden=True)[2]["x"].sum()))
    # A hidden test's printed output is not shown (it could print the inputs), so the cell asserts instead.
    g.steps = [pipeline.Step("test", "from autograder import cases\n"
                                     f"assert repr(float(cases.step_cases('rnn', hidden=True)[2]['x'].sum())) == {v!r}",
                             label, label, 1.0) for label, v in (("probe", expected), ("control", "0.0"))]
    pipeline.run_steps(g)
    assert [t.score for t in g.report.tests] == [1.0, 0.0]
    assert [t.output for t in g.report.tests] == ["", ""]


def test_step_note_failed_cells(course):
    """Does note_failed_cells add a note for each failed student or locked cell, and none for tests?"""
    g = _grading(course)
    g.report = pipeline.Report(notebook="rnn_cell", cells=[
        {"label": "rnn_step", "kind": "student", "ok": False, "message": "your code raised ValueError"},
        {"label": "imports", "kind": "locked", "ok": True, "message": ""},
        {"label": "test_q1", "kind": "test", "ok": False, "message": "q1: wrong answer"}])
    pipeline.note_failed_cells(g)
    assert g.report.notes == ["cell rnn_step: your code raised ValueError"]


def test_restore_notes_stay_short_for_a_flood_of_added_cells(course):
    """Does a submission with thousands of added cells get one short note, not a list of thousands?"""
    nb = fx.solved_notebook()
    nb.cells += [nbformat.v4.new_code_cell(f"x{k} = {k}") for k in range(5000)]
    cells, notes = restore_cells(nb, load_source(course, fx.ASSIGNMENT))
    assert sum(c["kind"] == "student" and c["grade_id"] is None for c in cells) == 5000
    added = [n for n in notes if "added" in n]
    assert len(added) == 1 and "and 4988 more" in added[0] and len(added[0]) < 400


@needs_sandbox
@pytest.mark.parametrize("deep", ["x = " + "-" * 200_000 + "1", "x = " + "+".join(["1"] * 300_000),
                                  "from autograder import checks\ny = " + "not " * 100_000 + "1"],
                         ids=["unary", "sum", "grader-import-and-nots"])
def test_a_cell_no_parser_can_hold_fails_alone(course, tmp_path, deep):
    """Was a grader crash (the grader parsed student cells: MemoryError, RecursionError, a traceback, exit 1).
    Is such a cell now the student's own failed cell, with every test graded?"""
    nb = fx.solved_notebook()
    nb.cells.insert(3, nbformat.v4.new_code_cell(deep))
    report = grade_notebook(fx.write_notebook(tmp_path / f"{fx.ASSIGNMENT}.ipynb", nb), course, fx.ASSIGNMENT,
                            limits=Limits(wall=10))
    assert {t.grade_id: t.score for t in report.tests} == fx.TESTS
    assert any(not c["ok"] and c["kind"] == "student" for c in report.cells), report.cells
