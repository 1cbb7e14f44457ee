"""The command line: ``grade`` prints the JSON contract; ``grade-course`` fills nbgrader's gradebook."""

import csv
import json
import os
import re
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from autograder import cli, submission_files
from autograder.gradebook import GradebookError, open_gradebook
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


# ----------------------------------------------------------------------------- item 8: links and special files
SECRET = "INSTRUCTOR-ONLY-4b1e"
ALLOWED = {"rnn_cell.ipynb", "timestamp.txt", "submission_secret.txt"}


def _sub(course: Path, student: str) -> Path:
    return course / "submitted" / student / fx.ASSIGNMENT


def _source(course: Path) -> Path:
    return course / "source" / fx.ASSIGNMENT / f"{fx.ASSIGNMENT}.ipynb"


def _socket(path: Path) -> None:
    import socket

    s = socket.socket(socket.AF_UNIX)
    s.bind(str(path))
    s.close()


# student -> (how to plant it, the file the message must name, what it must call it)
DESIGNED = {
    "abs_link": (lambda c, d: _relink(d / "rnn_cell.ipynb", _source(c)), "rnn_cell/rnn_cell.ipynb", "symbolic link"),
    "rel_link": (lambda c, d: _relink(d / "rnn_cell.ipynb", Path("../../../source/rnn_cell/rnn_cell.ipynb")),
                 "rnn_cell/rnn_cell.ipynb", "symbolic link"),
    "linked_folder": (lambda c, d: (shutil.rmtree(d), d.symlink_to(_source(c).parent)),
                      "submitted/linked_folder/rnn_cell is", "symbolic link"),
    "linked_timestamp": (lambda c, d: _relink(d / "timestamp.txt", c / "instructor_only.txt"), "timestamp.txt",
                         "symbolic link"),
    "linked_extra": (lambda c, d: (d / "notes.txt").symlink_to(c / "instructor_only.txt"), "notes.txt",
                     "symbolic link"),
    "fifo": (lambda c, d: os.mkfifo(d / "notes.txt"), "notes.txt", "named pipe"),
    "hardlink": (lambda c, d: ((d / "rnn_cell.ipynb").unlink(), os.link(_source(c), d / "rnn_cell.ipynb")),
                 "rnn_cell/rnn_cell.ipynb", "hard link"),
}
HELD_OUT = {
    "dangling": (lambda c, d: (d / "data.npy").symlink_to("/nonexistent/data.npy"), "data.npy", "symbolic link"),
    "loop": (lambda c, d: (d / "loop").symlink_to("loop"), "rnn_cell/loop", "symbolic link"),
    "nested": (lambda c, d: ((d / "a" / "b").mkdir(parents=True), (d / "a" / "b" / "c.txt").symlink_to(
        c / "instructor_only.txt")), "a/b/c.txt", "symbolic link"),
    "socket": (lambda c, d: _socket(d / "sock"), "rnn_cell/sock", "socket"),
    "device": (lambda c, d: os.mknod(d / "null", 0o600 | stat.S_IFCHR, os.makedev(1, 3)), "rnn_cell/null",
               "character device"),
    "linked_subfolder": (lambda c, d: (d / "data").symlink_to(c / "source"), "rnn_cell/data", "symbolic link"),
    "linked_student": (lambda c, d: (shutil.move(d.parent, c / "elsewhere"), d.parent.symlink_to(c / "elsewhere")),
                       "submitted/linked_student is", "symbolic link"),
    "bad_timestamp": (lambda c, d: (d / "timestamp.txt").write_text(SECRET), "timestamp.txt", "timestamp"),
    "bad_secret": (lambda c, d: (d / "submission_secret.txt").write_text("<script>alert(1)</script>"),
                   "submission_secret.txt", "hexadecimal"),
}


def _relink(path: Path, target: Path) -> None:
    path.unlink()
    path.symlink_to(target)


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    """One course: a healthy student and one per planted link or special file, graded by one grade-course."""
    cases = {**DESIGNED, **HELD_OUT}
    if os.geteuid() != 0:
        cases.pop("device")
    course = fx.write_course(tmp_path_factory.mktemp("planted") / "course",
                             {s: fx.solved_notebook() for s in ["alice", *cases, "bad<img src=x onerror=alert(1)>"]})
    (course / "instructor_only.txt").write_text(SECRET)
    for student, (plant, _, _) in cases.items():
        plant(course, _sub(course, student))
    results = cli.grade_course(course, fx.ASSIGNMENT, workers=2, progress=False,
                               limits=cli.Limits(wall=10, memory=1024 * 2**20, processes=16))
    return course, results, cases


def _check_refused(planted, student: str) -> None:
    course, results, cases = planted
    if student not in cases:
        pytest.skip(f"{student} needs root")
    _, named, kind = cases[student]
    report = results[student]
    assert isinstance(report, cli.Report) and report.score == 0 and report.max_score > 0, (student, report)
    why = cli.zero_reason(report)
    assert named in why and kind in why, (student, why)
    folder = course / "autograded" / student / fx.ASSIGNMENT
    for path in folder.rglob("*") if folder.is_dir() else []:
        assert path.name in ALLOWED and not path.is_symlink(), (student, path)
        text = path.read_text(errors="replace")
        assert SECRET not in text and "reference_step" not in text and "BEGIN SOLUTION" not in text, (student, path)


@pytest.mark.parametrize("student", list(DESIGNED))
def test_links_and_special_files_are_refused(planted, student):
    """Is a submission with a link, pipe or hard link refused with a message naming it, leaking nothing?"""
    _check_refused(planted, student)


@pytest.mark.parametrize("student", list(HELD_OUT))
def test_held_out_links_and_special_files_are_refused(planted, student):
    """Held out: dangling links, loops, nested links, sockets, devices, linked folders, forged metadata."""
    _check_refused(planted, student)


def test_healthy_submission_next_to_planted_ones_is_graded(planted):
    """Is the healthy student graded as usual, with her timestamp, and the unsafe student id refused?"""
    from nbgrader.utils import parse_utc

    course, results, _ = planted
    assert {t.grade_id: t.score for t in results["alice"].tests}["test_q1"] == 1.0
    written = sorted(p.name for p in (course / "autograded" / "alice" / fx.ASSIGNMENT).iterdir())
    assert written == ["rnn_cell.ipynb", "timestamp.txt"]
    bad = "bad<img src=x onerror=alert(1)>"
    assert isinstance(results[bad], str) and "student id" in results[bad]
    assert not (course / "autograded" / bad).exists()
    with open_gradebook(course) as gb:
        assert gb.find_submission(fx.ASSIGNMENT, "alice").timestamp == parse_utc("2026-11-26 12:00:00.000000 UTC")
        assert bad not in {s.id for s in gb.students}


@pytest.mark.parametrize("plant", ["link", "fifo"])
def test_grade_refuses_a_linked_or_special_notebook(tmp_path, capsys, plant):
    """Does `grade` on a link or a FIFO give 0 with the reason (no hang, the source not graded)?"""
    course = fx.write_course(tmp_path / "course")
    nb = tmp_path / "rnn_cell.ipynb"
    nb.symlink_to(_source(course)) if plant == "link" else os.mkfifo(nb)
    code = cli.main(["grade", str(nb), "--assignment", "rnn_cell", "--course", str(course), "--json", *FAST])
    result = json.loads(capsys.readouterr().out)
    assert code == 0 and result["score"] == 0.0
    assert ("symbolic link" if plant == "link" else "named pipe") in result["notes"][0]


def _inbound_course(tmp_path: Path) -> tuple[Path, Path]:
    course = fx.write_course(tmp_path / "course", {"bob": fx.solved_notebook()})
    (_sub(course, "bob") / "submission_secret.txt").write_text("ab" * 64)
    inbound = tmp_path / "exchange" / "rnn-test" / "inbound"
    shutil.copytree(_sub(course, "bob"), inbound / "bob+rnn_cell+2026-11-26 12:00:00.000000 UTC")
    return course, inbound


def test_inbound_check_accepts_a_faithful_copy(tmp_path):
    """Does a faithful copy pass, even next to a linked folder someone else planted under the same name?"""
    course, inbound = _inbound_course(tmp_path)
    submission_files.check_against_inbound(submission_files.read_submission(course, "bob", "rnn_cell"), inbound)
    planted = inbound / "bob+rnn_cell+2026-11-25 12:00:00.000000 UTC"
    planted.mkdir()
    (planted / "rnn_cell.ipynb").symlink_to(_source(course))
    submission_files.check_against_inbound(submission_files.read_submission(course, "bob", "rnn_cell"), inbound)


@pytest.mark.parametrize("attack", ["linked_inbound_folder", "content_differs", "inbound_gone", "fifo_in_inbound"])
def test_inbound_check_refuses(tmp_path, attack):
    """Is a submission refused when its inbound folders hold links or do not match what was collected?"""
    course, inbound = _inbound_course(tmp_path)
    folder = next(inbound.iterdir())
    if attack == "linked_inbound_folder":
        shutil.rmtree(folder)
        folder.symlink_to(_source(course).parent)
    elif attack == "content_differs":  # a link swapped back for a regular file after collect
        (folder / "rnn_cell.ipynb").write_text(json.dumps(fx.release_notebook()))
    elif attack == "fifo_in_inbound":
        os.mkfifo(folder / "pipe")
    else:
        shutil.rmtree(folder)
    sub = submission_files.read_submission(course, "bob", "rnn_cell")
    with pytest.raises(submission_files.SubmissionFileError, match="inbound"):
        submission_files.check_against_inbound(sub, inbound)


def test_exchange_submissions_without_an_exchange_are_refused_before_grading(tmp_path, capsys):
    """Are submissions that came through an exchange refused at once when grade-course cannot see its inbound?"""
    course, _ = _inbound_course(tmp_path)
    code = cli.main(["grade-course", str(course), "--assignment", "rnn_cell", "--exchange", str(tmp_path / "none"),
                     "--no-progress", *FAST])
    err = capsys.readouterr().err
    assert code == 2 and "--exchange" in err and len(err.strip().splitlines()) == 1
    assert not (course / "autograded").exists()


# ----------------------------------------------------------------------------- item 11: gradebook URL, zeros
@pytest.mark.parametrize("url, expected", [
    ("not a url", "is not a database URL"),
    ("nosuchdialect://host/db", "no such database dialect"),
    ("postgresql+pg8000://user@localhost/db", "pg8000"),
    ("sqlite:////nonexistent/folder/gradebook.db", "cannot open the gradebook"),
    ("postgresql://user:hunter2@127.0.0.1:1/db", "cannot open the gradebook"),  # held out: no server
])
def test_wrong_db_url_is_refused_before_grading(tmp_path, capsys, url, expected):
    """Is a wrong --db-url refused with one line (password hidden), before any submission is graded?"""
    course = fx.write_course(tmp_path / "course", {"alice": fx.solved_notebook()})
    code = cli.main(["grade-course", str(course), "--assignment", "rnn_cell", "--db-url", url, "--no-progress",
                     *FAST])
    out, err = capsys.readouterr()
    assert code == 2 and expected in err and len(err.strip().splitlines()) == 1, err
    assert "hunter2" not in err and "Traceback" not in err and out == ""
    assert not (course / "autograded").exists()
    pool = _Recorder()
    with pytest.raises(GradebookError):
        cli.grade_course(course, "rnn_cell", executor=pool, db_url=url, progress=False)
    assert pool.submitted == [], "grading started before the gradebook was checked"


class _Recorder:
    """An executor that records what it was asked to run and runs nothing."""

    def __init__(self):
        self.submitted = []

    def submit(self, fn, *args, **kwargs):
        self.submitted.append(args)
        raise AssertionError("nothing should be graded")


def test_missing_postgres_driver_names_the_extra(tmp_path, capsys, monkeypatch):
    """Without the PostgreSQL driver, does grade-course say which extra to install, before grading?"""
    course = fx.write_course(tmp_path / "course", {"alice": fx.solved_notebook()})
    for module in ("psycopg", "psycopg2"):
        monkeypatch.setitem(sys.modules, module, None)
    code = cli.main(["grade-course", str(course), "--assignment", "rnn_cell", "--db-url",
                     "postgresql://user@localhost/db", "--no-progress", *FAST])
    err = capsys.readouterr().err
    assert code == 2 and "[postgres]" in err and "not installed" in err and len(err.strip().splitlines()) == 1
    assert not (course / "autograded").exists()


def test_wrong_db_url_from_the_command_line_prints_no_traceback(tmp_path):
    """Does the real command exit 2 with one line on stderr for a bad URL?"""
    course = fx.write_course(tmp_path / "course", {"alice": fx.solved_notebook()})
    done = _run("grade-course", str(course), "--assignment", "rnn_cell", "--db-url", "oops://", "--no-progress",
                *FAST)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.strip().startswith("autograder: cannot grade: gradebook URL")


def test_summary_gives_each_zero_its_reason(tmp_path, capsys):
    """Does every 0 in grade-course's summary say why (malformed, missing, link, failing cell)?"""
    failing = fx.with_code(fx.release_notebook(), "rnn_step", "h = undefined_in_rnn_step")
    hostile = fx.with_code(fx.release_notebook(), "rnn_step", "raise ValueError('\\x1b]0;pwned\\x07\\x1b[2J')")
    course = fx.write_course(tmp_path / "course", {"alice": fx.solved_notebook(), "carol": "{bad json",
                                                   "dan": failing, "eve": fx.solved_notebook(), "fay": hostile})
    (_sub(course, "erin")).mkdir(parents=True)
    _relink(_sub(course, "eve") / "rnn_cell.ipynb", _source(course))
    assert cli.main(["grade-course", str(course), "--assignment", "rnn_cell", "--no-progress", *FAST]) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\x07" not in out, "a student's message drives the instructor's terminal"
    lines = dict(line.split(": ", 1) for line in out.splitlines() if ": " in line)
    assert re.fullmatch(r"0/7 \(cell rnn_step: your code raised ValueError: \\x1b\]0;pwned.*\)", lines["fay"])
    assert "(" not in lines["alice"]
    assert re.fullmatch(r"0/7 \(.*not a valid notebook.*\)", lines["carol"]), lines["carol"]
    assert re.fullmatch(r"0/7 \(cell rnn_step: your code raised NameError.*undefined_in_rnn_step.*\)", lines["dan"])
    assert re.fullmatch(r"0/7 \(.*rnn_cell\.ipynb is a symbolic link.*\)", lines["eve"]), lines["eve"]
    assert re.fullmatch(r"0/7 \(rnn_cell\.ipynb was not submitted\)", lines["erin"]), lines["erin"]


def test_grade_course_records_in_postgresql(tmp_path):
    """With the [postgres] extra, do grade-course's scores and timestamps reach `nbgrader export` from PostgreSQL?"""
    pytest.importorskip("psycopg", reason="the [postgres] extra (psycopg) is not installed")
    from tests.autograder.server import postgres

    if postgres._binaries() is None and not os.environ.get("TEST_POSTGRES_URL"):
        pytest.skip("no PostgreSQL server binaries")
    server = None if os.environ.get("TEST_POSTGRES_URL") else postgres.LocalPostgres()
    try:
        url = postgres.fresh_database(os.environ.get("TEST_POSTGRES_URL") or server.url)
        wrong = fx.with_code(fx.solved_notebook(), "answers", "answer_q1 = 'B'")
        course = fx.write_course(tmp_path / "course", {"alice": fx.solved_notebook(), "dan": wrong})
        results = cli.grade_course(course, "rnn_cell", db_url=url, progress=False,
                                   limits=cli.Limits(wall=10, memory=1024 * 2**20, processes=16))
        export = subprocess.run([sys.executable, "-m", "nbgrader", "export", f"--CourseDirectory.db_url={url}"],
                                cwd=course, capture_output=True, text=True, timeout=300)
        assert export.returncode == 0, export.stderr[-2000:]
        with open(course / "grades.csv") as f:
            rows = {r["student_id"]: r for r in csv.DictReader(f)}
        assert {s: float(r["raw_score"]) for s, r in rows.items()} == {s: r.score for s, r in results.items()}
        assert float(rows["alice"]["raw_score"]) == float(rows["dan"]["raw_score"]) + 1
        assert rows["dan"]["timestamp"].startswith("2026-11-26 12:00:00")
    finally:
        if server is not None:
            server.stop()


def test_exchange_root_comes_from_the_course_config(tmp_path):
    """Without --exchange, is the course config's Exchange.root used, so a faithful copy is graded?"""
    course, inbound = _inbound_course(tmp_path)
    with open(course / "nbgrader_config.py", "a") as f:
        f.write(f"c.Exchange.root = {str(inbound.parent.parent)!r}\n")
    results = cli.grade_course(course, "rnn_cell", progress=False,
                               limits=cli.Limits(wall=10, memory=1024 * 2**20, processes=16))
    assert {t.grade_id: t.score for t in results["bob"].tests}["test_q1"] == 1.0
    assert (course / "autograded" / "bob" / "rnn_cell" / "submission_secret.txt").read_text() == "ab" * 64


# ----------------------------------------------------------------------------- provenance: the source's hidden tests
def _source_as_student_file(course: Path, form: str) -> str:
    nb = json.loads(_source(course).read_text())
    if form == "lines":  # the file format's other spelling of a cell source: a list of lines
        for cell in nb["cells"]:
            cell["source"] = cell["source"].splitlines(keepends=True) if isinstance(cell["source"], str) else \
                cell["source"]
    elif form == "reordered":
        nb["cells"] = nb["cells"][::-1]
    elif form == "edited":  # the source with the student's name added and a test cell changed
        nb["cells"].insert(0, {"cell_type": "markdown", "metadata": {}, "source": "by mallory"})
        nb["cells"][4]["source"] = "pass"
    return json.dumps(nb, indent=4 if form == "reindented" else None)


@pytest.mark.parametrize("form", ["plain", "lines", "reordered", "reindented", "edited"])
def test_a_copy_of_the_source_notebook_is_refused(tmp_path, form):
    """Is a copy of the source notebook (however re-serialised or edited) refused, whatever brought it?"""
    course = fx.write_course(tmp_path / "course", {"alice": fx.solved_notebook()})
    (_sub(course, "alice") / "rnn_cell.ipynb").write_text(_source_as_student_file(course, form))
    results = cli.grade_course(course, "rnn_cell", progress=False,
                               limits=cli.Limits(wall=10, memory=1024 * 2**20, processes=16))
    assert results["alice"].score == 0 and "source notebook" in cli.zero_reason(results["alice"])


def test_markers_around_an_answer_are_not_refused(tmp_path):
    """Is a student who writes nbgrader's markers around the very solution of one cell still graded?"""
    marked = fx.with_code(fx.solved_notebook(), "answers", fx.ANSWER + '\n### BEGIN HIDDEN TESTS\nassert True\n'
                          "### END HIDDEN TESTS")
    course = fx.write_course(tmp_path / "course", {"alice": marked})
    results = cli.grade_course(course, "rnn_cell", progress=False,
                               limits=cli.Limits(wall=10, memory=1024 * 2**20, processes=16))
    assert {t.grade_id: t.score for t in results["alice"].tests}["test_q1"] == 1.0


@pytest.mark.parametrize("exchange_known", [True, False])
def test_a_linked_inbound_folder_is_refused(tmp_path, exchange_known):
    """Held out: an inbound folder that is a link to the source folder: refused with or without --exchange?"""
    course = fx.write_course(tmp_path / "course")
    inbound = tmp_path / "exchange" / "rnn-test" / "inbound"
    inbound.mkdir(parents=True)
    folder = inbound / "bob+rnn_cell+2026-11-26 12:00:00.000000 UTC"
    folder.symlink_to(_source(course).parent)
    shutil.copytree(folder, _sub(course, "bob"))  # what collect's copytree does: it follows the link
    results = cli.grade_course(course, "rnn_cell", progress=False, exchange=inbound.parent.parent if exchange_known
                               else tmp_path / "elsewhere", limits=cli.Limits(wall=10, memory=1024 * 2**20,
                                                                              processes=16))
    why = cli.zero_reason(results["bob"])
    assert results["bob"].score == 0
    assert ("inbound/bob+rnn_cell+2026-11-26 12:00:00.000000 UTC is a symbolic link" in why if exchange_known
            else "source notebook" in why), why
