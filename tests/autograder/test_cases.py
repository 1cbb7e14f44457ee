"""Hidden cases come from the course's secret: refused without it, never printed, never released; visible ones
stay reproducible."""

from __future__ import annotations

import ast
import inspect
import os
import re
import stat
import subprocess
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from autograder import cases, checks
from exercises.answers import bptt as bptt_answers
from simulator import architectures, cells, conv, crnn
from tests.autograder.fixtures import course as fx

REPO = Path(__file__).resolve().parents[2]
HIDDEN_CHECKS = [name for name in checks.__all__ if "hidden" in inspect.signature(getattr(checks, name)).parameters]


@pytest.fixture
def no_secret(tmp_path, monkeypatch):
    """No secret handed over and no course above the working directory: a student's machine."""
    monkeypatch.chdir(tmp_path)
    with cases.hidden_secret(None):
        yield


def _dummy_args(name: str) -> list:
    params = [p for p in inspect.signature(getattr(checks, name)).parameters.values()
              if p.default is inspect.Parameter.empty]
    return ["one_to_one" if p.name == "name" else (lambda *a, **k: None) for p in params]


# ----------------------------------------------------------------------------- no secret, no hidden cases
@pytest.mark.parametrize("name", HIDDEN_CHECKS)
def test_every_hidden_check_refuses_without_the_secret(name, no_secret):
    """Does every check of the facade refuse hidden=True, with a message saying why, when no secret is handed over?"""
    with pytest.raises(cases.HiddenCasesUnavailableError, match="instructor's secret"):
        getattr(checks, name)(*_dummy_args(name), hidden=True)


@pytest.mark.parametrize("make", [lambda: cases.step_cases("gru", hidden=True), lambda: cases.sequence_cases(True),
                                  lambda: cases.clip_cases(True), lambda: cases.matrix_cases(True),
                                  lambda: cases.hidden_shapes(), lambda: cases.hidden_rng("anything", 3)])
def test_hidden_case_sets_refuse_without_the_secret(make, no_secret):
    """Can a student who installed the package build no hidden case set at all?"""
    with pytest.raises(cases.HiddenCasesUnavailableError):
        make()


def test_a_student_folder_is_not_a_course(tmp_path, monkeypatch):
    """Does a folder with nbgrader_config.py but no source/ (a student's) give no secret, and make none?"""
    (tmp_path / "nbgrader_config.py").write_text("c = get_config()\n")
    monkeypatch.chdir(tmp_path)
    with cases.hidden_secret(None), pytest.raises(cases.HiddenCasesUnavailableError):
        cases.step_cases("rnn", hidden=True)
    assert not (tmp_path / cases.SECRET_DIR).exists()
    assert cases.find_course(tmp_path) is None


def test_visible_cases_need_no_secret_and_are_reproducible(no_secret):
    """Do the visible cases work without a secret, the same on every call, with a recipe to rebuild them?"""
    first, again = cases.step_cases("lstm", hidden=False), cases.step_cases("lstm", hidden=False)
    assert all(np.array_equal(a["x"], b["x"]) for a, b in zip(first, again, strict=True))
    assert first[0]["recipe"] == "step_cases('lstm', hidden=False)[0]"
    assert cases.sequence_cases(False)[1]["recipe"] == "sequence_cases(hidden=False)[1]"
    for name in HIDDEN_CHECKS:  # and every check's visible cases run without a secret
        with pytest.raises(AssertionError):
            getattr(checks, name)(*_dummy_args(name), hidden=False)


# ----------------------------------------------------------------------------- the secret decides the cases
def test_hidden_cases_follow_the_secret():
    """Are hidden cases the same under one secret, different under another, and free of recipes?"""
    with cases.hidden_secret(b"course A"):
        a1, a2 = cases.step_cases("rnn", hidden=True), cases.step_cases("rnn", hidden=True)
        seq = cases.sequence_cases(True)
    with cases.hidden_secret(b"course B"):
        b = cases.step_cases("rnn", hidden=True)
    assert all(np.array_equal(x["x"], y["x"]) for x, y in zip(a1, a2, strict=True))
    assert not all(x["x"].shape == y["x"].shape and np.allclose(x["x"], y["x"]) for x, y in zip(a1, b, strict=True))
    assert all("recipe" not in c for c in [*a1, *b, *seq])


def test_the_public_seed_does_not_rebuild_hidden_cases():
    """Do hidden cases differ from anything the package's fixed seeds give (the old public seed included)?"""
    with cases.hidden_secret(b"some course"):
        hidden = cases.step_cases("rnn", hidden=True)
    for seed in (20_241, 7, 20_241 + 1):
        rng = np.random.default_rng(seed)
        assert not np.allclose(rng.standard_normal(hidden[0]["x"].shape), hidden[0]["x"])


# ----------------------------------------------------------------------------- the course's secret file
def test_course_secret_is_made_on_first_use_private_and_ignored_by_git(tmp_path):
    """Is the secret created once, 0600 in a 0700 folder with a .gitignore, outside source/ and release/?"""
    course = fx.write_course(tmp_path / "course")
    secret = cases.course_secret(course)
    path = cases.secret_path(course)
    assert len(secret) == cases.SECRET_BYTES and cases.course_secret(course) == secret
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert (path.parent / ".gitignore").read_text().strip().endswith("*")
    assert "source" not in path.relative_to(course).parts and "release" not in path.relative_to(course).parts


def test_course_secret_is_shared_by_processes_starting_together(tmp_path):
    """Do grading workers that create the secret at the same moment all end up with the same one?"""
    course = fx.write_course(tmp_path / "course")
    with ProcessPoolExecutor(4) as pool:
        secrets = list(pool.map(cases.course_secret, [course] * 8))
    assert len(set(secrets)) == 1 and secrets[0] == cases.course_secret(course)


@pytest.mark.parametrize("plant", ["symlink", "readable by others", "a folder", "too short"])
def test_a_tampered_secret_is_refused_with_the_reason(plant, tmp_path):
    """Is a secret that is a symlink, world-readable, not a file or truncated refused, with a message naming it?"""
    course = fx.write_course(tmp_path / "course")
    path = cases.secret_path(course)
    path.parent.mkdir(mode=0o700)
    if plant == "symlink":
        target = tmp_path / "elsewhere"
        target.write_bytes(os.urandom(32))
        target.chmod(0o600)
        path.symlink_to(target)
    elif plant == "readable by others":
        path.write_bytes(os.urandom(32))
        path.chmod(0o644)
    elif plant == "a folder":
        path.mkdir()
    else:
        path.write_bytes(b"abc")
        path.chmod(0o600)
    with pytest.raises(cases.HiddenCasesUnavailableError, match=re.escape(str(path))):
        cases.course_secret(course)


def test_kernels_in_the_course_find_its_secret(tmp_path, monkeypatch):
    """Does a kernel that nbgrader runs inside the course (autograded/<student>/<assignment>) use its secret?"""
    course = fx.write_course(tmp_path / "course")
    inside = course / "autograded" / "ann" / fx.ASSIGNMENT
    inside.mkdir(parents=True)
    monkeypatch.chdir(inside)
    with cases.hidden_secret(cases.course_secret(course)):
        expected = cases.step_cases("rnn", hidden=True)
    token = cases._SECRET.set(None)  # nothing handed over: the kernel's situation
    try:
        found = cases.step_cases("rnn", hidden=True)
    finally:
        cases._SECRET.reset(token)
    assert all(np.array_equal(a["x"], b["x"]) for a, b in zip(expected, found, strict=True))


@pytest.mark.slow
def test_generate_assignment_never_copies_the_secret(tmp_path):
    """Does `nbgrader generate_assignment` leave the secret out of release/ (and everything it writes)?"""
    course = fx.write_course(tmp_path / "course")
    secret = cases.course_secret(course)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run([sys.executable, "-m", "nbgrader", "generate_assignment", fx.ASSIGNMENT, "--force"],
                          cwd=course, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    released = [p for p in (course / "release").rglob("*") if p.is_file()]
    assert released and not any(cases.SECRET_DIR in p.parts for p in released)
    assert not any(secret in p.read_bytes() or secret.hex().encode() in p.read_bytes() for p in released)


# ----------------------------------------------------------------------------- hidden messages give no recipe or input
def _off(value):
    """A wrong answer of the same structure: the first float array (or float) moved by 0.37."""
    if isinstance(value, np.ndarray):
        return value + 0.37
    if isinstance(value, float):
        return value + 0.37
    if isinstance(value, tuple):
        return (_off(value[0]), *value[1:])
    if isinstance(value, dict):
        return {k: _off(v) for k, v in value.items()}
    return value


def _floats(value, out: list[float]) -> list[float]:
    if isinstance(value, np.ndarray) and value.dtype.kind == "f":
        out += [float(v) for v in value.ravel()]
    elif isinstance(value, float):
        out.append(value)
    elif isinstance(value, list | tuple):
        for v in value:
            _floats(v, out)
    elif isinstance(value, dict):
        for v in value.values():
            _floats(v, out)
    return out


def _spied(fn, seen: list):
    def student(*args, **kwargs):
        _floats(args, seen)
        return _off(fn(*args, **kwargs))
    return student


def _crnn_step(X, params, step):
    return crnn.crnn_forward(X, params, step)


WRONG = {
    "check_rnn_step": lambda s: (s(cells.rnn_step),),
    "check_lstm_step": lambda s: (s(cells.lstm_step),),
    "check_gru_step": lambda s: (s(cells.gru_step),),
    "check_rnn_step_backward": lambda s: (cells.rnn_step, s(cells.rnn_step_backward)),
    "check_rnn_forward": lambda s: (s(bptt_answers.rnn_forward),),
    "check_clip_gradients": lambda s: (s(bptt_answers.clip_gradients),),
    "check_spectral_radius": lambda s: (s(bptt_answers.spectral_radius),),
    "check_many_to_one_forward": lambda s: (s(architectures.FORWARD["many_to_one"]),),
    "check_conv2d_forward": lambda s: (s(conv.conv2d_forward),),
    "check_crnn_forward": lambda s: (s(_crnn_step),),
    # held out: added after the fix, not used to tune it
    "check_lstm_step_backward": lambda s: (cells.lstm_step, s(cells.lstm_step_backward)),
    "check_gru_step_backward": lambda s: (cells.gru_step, s(cells.gru_step_backward)),
    "check_rnn_backward": lambda s: (bptt_answers.rnn_forward, s(bptt_answers.rnn_backward)),
    "check_hidden_grad_norms": lambda s: (s(bptt_answers.hidden_grad_norms),),
    "check_encoder_decoder_forward": lambda s: (s(architectures.FORWARD["encoder_decoder"]),),
    "check_maxpool_forward": lambda s: (s(conv.maxpool_forward),),
    "check_frame_features": lambda s: (s(crnn.frame_features),),
}


@pytest.mark.parametrize("name", list(WRONG))
def test_hidden_failures_show_shapes_and_the_first_bad_entry_never_the_inputs(name):
    """Does a failing hidden case's message hold neither a recipe to rebuild it nor any of its input values?"""
    seen: list[float] = []
    with pytest.raises(AssertionError) as err:
        getattr(checks, name)(*WRONG[name](lambda fn: _spied(fn, seen)), hidden=True)
    message = str(err.value)
    assert "hidden case" in message
    assert not re.search(r"hidden\s*=\s*True|cases import|recipe|case = ", message), message
    leaked = {f"{v:.4g}" for v in seen if abs(v) > 1e-3} & set(re.findall(r"-?\d+\.\d+(?:e-?\d+)?", message))
    assert seen and not leaked, f"{name}: inputs {sorted(leaked)} appear in {message}"


def _message_strings(tree: ast.AST):
    docstrings = {id(n.body[0].value) for n in ast.walk(tree)
                  if isinstance(n, ast.Module | ast.FunctionDef | ast.ClassDef | ast.AsyncFunctionDef)
                  and n.body and isinstance(n.body[0], ast.Expr) and isinstance(n.body[0].value, ast.Constant)}
    for node in ast.walk(tree):
        if isinstance(node, ast.JoinedStr):
            yield node, ast.unparse(node)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
            yield node, node.value


def test_no_message_in_the_grader_spells_a_hidden_recipe():
    """Does no string the autograder builds (outside docstrings) tell how to call a case set with hidden=True?"""
    found = []
    for path in sorted((REPO / "autograder").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node, text in _message_strings(tree):
            if re.search(r"hidden\s*=\s*(True|\{)", text):
                found.append(f"{path.relative_to(REPO)}:{node.lineno}: {text[:80]}")
    assert found == []


def test_hidden_large_cases_come_from_the_secret_and_show_shapes_only():
    """The sequence-level large cases: visible ones carry a recipe that rebuilds them, hidden ones change with the
    secret and their labels give shapes only (no reach, no recipe)."""
    from autograder import architecture_checks, crnn_checks

    visible = cases.large_sequence_cases(hidden=False)[0]
    rebuilt = eval(visible["recipe"], {"large_sequence_cases": cases.large_sequence_cases})  # noqa: S307 - our recipe
    assert np.array_equal(rebuilt["X"], visible["X"]) and "large pre-activations" in visible["label"]
    draws = []
    for secret in (b"large-case-secret-one-0123456789", b"large-case-secret-two-0123456789"):
        with cases.hidden_secret(secret):
            seq = cases.large_sequence_cases(hidden=True)[0]
            arch = architecture_checks.large_cases("many_to_one", hidden=True)
            video = crnn_checks.large_crnn_cases(hidden=True)
        for c in (seq, *arch, *video):
            assert "recipe" not in c and "large" in c and "|a|" not in c["label"], c["label"]
        draws.append(seq["h0"])
    assert draws[0].shape != draws[1].shape or not np.array_equal(*draws)
