"""The command line: ``grade`` prints the JSON contract; ``grade-course`` fills nbgrader's gradebook."""

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest

from autograder import cli
from autograder.gradebook import open_gradebook
from autograder.sandbox import isolation
from tests.autograder.fixtures import course as fx

pytestmark = pytest.mark.skipif(isolation.detect() is None, reason="no sandbox isolation on this machine")
REPO = Path(__file__).resolve().parents[2]
FAST = ["--wall", "10", "--memory", "1024", "--processes", "16"]


def _run(*args, cwd=REPO):
    return subprocess.run([sys.executable, "-m", "autograder", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=300)


def test_grade_json_contract(tmp_path):
    """Does `grade --json` print score, max_score and one entry per test, and exit 0 on a partial score?"""
    course = fx.write_course(tmp_path / "course")
    nb = fx.write_notebook(tmp_path / "rnn_cell.ipynb", fx.with_code(fx.solved_notebook(), "answers", "answer_q1 = 1"))
    done = _run("grade", str(nb), "--assignment", "rnn_cell", "--course", str(course), "--json", *FAST)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["score"] == 6.0 and result["max_score"] == 7.0
    assert [t["grade_id"] for t in result["tests"]] == list(fx.TESTS)
    assert all(set(t) == {"grade_id", "score", "max_score", "message"} for t in result["tests"])
    assert "q1: wrong answer" in result["tests"][2]["message"]


def test_grade_malformed_notebook_reports_zero_with_reason(tmp_path, capsys):
    """Does an unreadable notebook give 0 points and the reason, with exit code 0?"""
    course = fx.write_course(tmp_path / "course")
    nb = fx.write_notebook(tmp_path / "rnn_cell.ipynb", "{truncated")
    code = cli.main(["grade", str(nb), "--assignment", "rnn_cell", "--course", str(course), "--json", *FAST])
    result = json.loads(capsys.readouterr().out)
    assert code == 0 and result["score"] == 0.0 and "not a valid notebook" in result["notes"][0]


def test_grade_without_a_course_exits_nonzero_with_a_message(tmp_path, capsys):
    """Does a missing course or assignment make the grader say why it could not grade?"""
    nb = fx.write_notebook(tmp_path / "rnn_cell.ipynb", fx.solved_notebook())
    code = cli.main(["grade", str(nb), "--assignment", "rnn_cell", "--course", str(tmp_path / "nowhere")])
    assert code == 2 and "cannot grade" in capsys.readouterr().err


def test_unsafe_flag_is_required_without_a_sandbox(tmp_path, capsys, monkeypatch):
    """Is grading refused when no sandbox is available and --unsafe-no-sandbox is not given?"""
    course = fx.write_course(tmp_path / "course")
    nb = fx.write_notebook(tmp_path / "rnn_cell.ipynb", fx.solved_notebook())
    monkeypatch.setattr(isolation, "detect", lambda: None)
    code = cli.main(["grade", str(nb), "--assignment", "rnn_cell", "--course", str(course)])
    assert code == 2 and "--unsafe-no-sandbox" in capsys.readouterr().err
    code = cli.main(["grade", str(nb), "--assignment", "rnn_cell", "--course", str(course), "--json",
                     "--unsafe-no-sandbox"])
    assert code == 0 and json.loads(capsys.readouterr().out)["score"] == 7.0


def test_grade_course_fills_the_gradebook_for_nbgrader_export_and_feedback(tmp_path, capsys):
    """Do grade-course's scores reach `nbgrader export` and `nbgrader generate_feedback`, past bad submissions?"""
    wrong = fx.with_code(fx.solved_notebook(), "answers", "answer_q1 = 'B'")
    course = fx.write_course(tmp_path / "course", {"alice": fx.solved_notebook(), "bob": fx.release_notebook(),
                                                   "carol": "{bad json", "dan": wrong})
    (course / "submitted" / "erin" / "rnn_cell").mkdir(parents=True)
    code = cli.main(["grade-course", str(course), "--assignment", "rnn_cell", "--workers", "2", *FAST])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "graded 5 of 5 submissions" in out and "%" in err  # tqdm's bar
    gb = open_gradebook(course)
    try:
        scores = {s: gb.find_submission("rnn_cell", s).score for s in ("alice", "bob", "carol", "dan", "erin")}
    finally:
        gb.close()
    assert scores == {"alice": 7.0, "bob": 0.0, "carol": 0.0, "dan": 6.0, "erin": 0.0}
    export = subprocess.run(["nbgrader", "export"], cwd=course, capture_output=True, text=True, timeout=300)
    assert export.returncode == 0, export.stderr
    with open(course / "grades.csv") as f:
        rows = {r["student_id"]: float(r["raw_score"]) for r in csv.DictReader(f)}
    assert rows == scores
    feedback = subprocess.run(["nbgrader", "generate_feedback", "rnn_cell"], cwd=course, capture_output=True,
                              text=True, timeout=300)
    assert feedback.returncode == 0, feedback.stderr
    html = (course / "feedback" / "dan" / "rnn_cell" / "rnn_cell.html").read_text()
    assert "q1: wrong answer" in html


def test_grade_course_accepts_any_executor(tmp_path):
    """Does grade_course run on a caller's concurrent.futures executor (as a Dask client's would)?"""
    from concurrent.futures import ThreadPoolExecutor

    course = fx.write_course(tmp_path / "course", {"alice": fx.solved_notebook()})
    with ThreadPoolExecutor(1) as pool:
        results = cli.grade_course(course, "rnn_cell", executor=pool, progress=False)
    assert results["alice"].score == 7.0
