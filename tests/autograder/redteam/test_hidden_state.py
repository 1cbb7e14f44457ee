"""Red team, hidden inputs kept in the sandbox: nothing outside a hidden test's own message may depend on them.

Found by this review: a correct ``rnn_step`` that appends every ``x`` it sees to a global, and an
``rnn_step_backward`` that raises ``ValueError(repr(that list))``, printed the hidden cases' inputs in the
*visible* backward tests' messages (which quote the student's exception), since rnn_cell grades the
backward's visible tests after the forward's hidden one in the same sandbox. Principle: a sandbox that
held hidden inputs is never asked anything again; the step after a test that drew hidden cases gets a
fresh sandbox with the student's cells replayed (they never saw a hidden input), so whatever was kept
(globals, files in /tmp or the home, the environment, module attributes, forked processes) is gone.

The test is non-interference with respect to the course secret: the same notebook graded under two
secrets (so two sets of hidden inputs) must give identical visible messages, cell records and notes;
only the hidden tests' own messages (shapes and expected entries, from the secret) may differ.
``TUNED`` is the payload the fix was written against; ``HELD_OUT`` were written after it and run once.
"""

from __future__ import annotations

import os

import pytest

from autograder.pipeline import grade_notebook
from autograder.sandbox import isolation
from tests.autograder.hostile import courses

pytestmark = pytest.mark.skipif(isolation.detect() is None, reason="no sandbox isolation on this machine")

# name -> (how the forward keeps x, how a later function gets it back)
TUNED = {"global_list": ("_kept.append(float(x.ravel()[0]))", "list(_kept)")}
HELD_OUT = {
    "tmp_file": ("open('/tmp/kept.txt', 'a').write(repr(float(x.ravel()[0])) + ';')",
                 "open('/tmp/kept.txt').read() if os.path.exists('/tmp/kept.txt') else ''"),
    "home_file": ("open(os.path.expanduser('~/kept.txt'), 'a').write(repr(float(x.ravel()[0])) + ';')",
                  "open(os.path.expanduser('~/kept.txt')).read() if os.path.exists(os.path.expanduser('~/kept.txt')) "
                  "else ''"),
    "environment": ("os.environ.__setitem__('KEPT', os.environ.get('KEPT', '') + repr(float(x.ravel()[0])))",
                    "os.environ.get('KEPT', '')"),
    "module_attribute": ("setattr(np, '_kept', getattr(np, '_kept', ()) + (float(x.ravel()[0]),))",
                         "getattr(np, '_kept', ())"),
    "sys_modules": ("sys.modules.setdefault('kept_mod', types.ModuleType('kept_mod')).__dict__.setdefault('v', [])"
                    ".append(float(x.ravel()[0]))", "sys.modules['kept_mod'].v if 'kept_mod' in sys.modules else []"),
    "forked_keeper": ("_keeper(float(x.ravel()[0]))", "_ask_keeper()"),
    "builtins_attribute": ("setattr(builtins, '_kept', getattr(builtins, '_kept', ()) + (float(x.ravel()[0]),))",
                              "getattr(builtins, '_kept', ())"),
}
PAYLOADS = {**TUNED, **HELD_OUT}

HELPERS = '''import builtins, os, socket, sys, types, time
import numpy as np

_kept = []

def _keeper(value):
    # A forked process that outlives the call and answers with what it was given, over a socket in /tmp.
    if os.path.exists("/tmp/keeper.sock"):
        return
    if os.fork() == 0:
        server = socket.socket(socket.AF_UNIX)
        server.bind("/tmp/keeper.sock")
        server.listen(1)
        while True:
            conn, _ = server.accept()
            conn.sendall(repr(value).encode())
            conn.close()

def _ask_keeper():
    for _ in range(20):
        try:
            s = socket.socket(socket.AF_UNIX)
            s.connect("/tmp/keeper.sock")
            return s.recv(100).decode()
        except OSError:
            time.sleep(0.05)
    return ""
'''


def _forward(keep: str) -> str:
    return f'''
def f(x, h_prev, params, activation="tanh"):
    {keep}
    a = x @ params["W_xh"] + h_prev @ params["W_hh"] + params["b_h"]
    h = np.tanh(a)
    return h, {{"x": x, "h_prev": h_prev, "a": a, "h": h, "activation": activation, "params": params}}
'''


def _cells():
    cells = [("locked", "setup", "import numpy as np\nfrom autograder.checks import check_rnn_step", 0),
             ("solution", "helpers", "### BEGIN SOLUTION\npass\n### END SOLUTION", 0)]
    for name in PAYLOADS:
        cells += [("solution", f"forward_{name}", "### BEGIN SOLUTION\npass\n### END SOLUTION", 0),
                  ("test", f"hidden_{name}", f"### BEGIN HIDDEN TESTS\ncheck_rnn_step(f_{name}, hidden=True)\n"
                                             "### END HIDDEN TESTS", 1)]
    for name in PAYLOADS:
        cells += [("solution", f"later_{name}", "### BEGIN SOLUTION\npass\n### END SOLUTION", 0),
                  ("test", f"visible_{name}", f"check_rnn_step(g_{name})", 1)]
    return cells


def _answers() -> dict[str, str]:
    answers = {"helpers": HELPERS}
    for name, (keep, recall) in PAYLOADS.items():
        answers[f"forward_{name}"] = _forward(keep) + f"f_{name} = f\n"
        # The later cell itself fails with what was kept (a cell's failure is a note), and so does g on its test.
        answers[f"later_{name}"] = (f"def g_{name}(x, h_prev, params):\n"
                                    f"    raise ValueError('KEPT:' + repr({recall}))\n"
                                    f"raise ValueError('CELL:' + repr({recall}))\n")
    return answers


def _set_secret(course, secret: bytes) -> None:
    folder = course / ".autograder"
    folder.mkdir(mode=0o700, exist_ok=True)
    path = folder / "secret"
    path.unlink(missing_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(secret)


@pytest.fixture(scope="module")
def reports(tmp_path_factory):
    """The same notebook graded under two course secrets."""
    root = tmp_path_factory.mktemp("hidden-state")
    course = courses.write_course(root / "course", _cells())
    path = courses.write(root / "s" / f"{courses.ASSIGNMENT}.ipynb", courses.answered(_cells(), _answers()))
    out = []
    for secret in (b"\x01" * 32, b"\x02" * 32):
        _set_secret(course, secret)
        out.append(grade_notebook(path, course, courses.ASSIGNMENT))
    return out


def test_control_every_forward_passed_its_hidden_test_under_both_secrets(reports):
    """Control: each forward ran on the hidden cases (and kept what it saw) in both gradings."""
    for report in reports:
        tests = {t.grade_id: t for t in report.tests}
        failed = {n: tests[f"hidden_{n}"].message for n in PAYLOADS if tests[f"hidden_{n}"].score != 1}
        assert not failed, failed  # NB: only the failing ones (a CI run cut the whole list before them)


@pytest.mark.parametrize("name", sorted(PAYLOADS), ids=lambda n: f"{'held-out' if n in HELD_OUT else 'tuned'}:{n}")
def test_no_later_message_depends_on_the_hidden_inputs(reports, name):
    a, b = ({t.grade_id: t for t in r.tests} for r in reports)
    assert a[f"visible_{name}"].score == 0 and "KEPT:" in a[f"visible_{name}"].message  # control: it ran
    assert a[f"visible_{name}"].message == b[f"visible_{name}"].message, (a[f"visible_{name}"].message,
                                                                          b[f"visible_{name}"].message)
    cells = [{c["label"]: c for c in r.cells}[f"later_{name}"] for r in reports]
    assert "CELL:" in cells[0]["message"] and cells[0]["message"] == cells[1]["message"], cells


def test_no_note_depends_on_the_hidden_inputs(reports):
    assert reports[0].notes == reports[1].notes


# Held out: the hidden cases drawn by an instructor's *locked* cell (not a test cell), which calls the forward.
LOCKED_DRAWS = ("from autograder import cases\n"
                "c = cases.step_cases('rnn', hidden=True)[0]\n"
                "_ = f_global_list(c['x'], c['h_prev'], c['params'])\n")


def test_hidden_cases_drawn_by_a_locked_cell_taint_the_sandbox_too(tmp_path):
    cells = [("locked", "setup", "import numpy as np\nfrom autograder.checks import check_rnn_step", 0),
             ("solution", "helpers", "### BEGIN SOLUTION\npass\n### END SOLUTION", 0),
             ("solution", "forward_global_list", "### BEGIN SOLUTION\npass\n### END SOLUTION", 0),
             ("locked", "draws", LOCKED_DRAWS, 0),
             ("solution", "later_global_list", "### BEGIN SOLUTION\npass\n### END SOLUTION", 0),
             ("test", "visible_global_list", "check_rnn_step(g_global_list)", 1)]
    answers = {k: v for k, v in _answers().items() if k in ("helpers", "forward_global_list", "later_global_list")}
    course = courses.write_course(tmp_path / "course", cells)
    path = courses.write(tmp_path / "s" / f"{courses.ASSIGNMENT}.ipynb", courses.answered(cells, answers))
    messages = []
    for secret in (b"\x03" * 32, b"\x04" * 32):
        _set_secret(course, secret)
        report = grade_notebook(path, course, courses.ASSIGNMENT)
        cells_by_label = {c["label"]: c for c in report.cells}
        # (its sandbox copy cannot import autograder; it runs, and calls the forward, in the grader)
        assert "failed in the grader" not in cells_by_label["draws"]["message"], cells_by_label["draws"]
        messages.append((report.tests[0].message, cells_by_label["later_global_list"]["message"], report.notes))
    assert "KEPT:" in messages[0][0] and messages[0] == messages[1], messages
