"""In CI a skip fails the run, in one process or in parallel; a run that collects nothing fails too.

A missing oracle (torch, Keras, Chromium, bubblewrap) cannot pass silently, and neither can a selection that
matches no test (pytest's exit code 5, turned into a failure by ``scripts/test``).
"""

import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

CONFTEST = Path(__file__).with_name("conftest.py")
ROOT = Path(__file__).resolve().parents[1]

SKIPPING = {
    "module_importorskip": ('import pytest\ntorch = pytest.importorskip("no_such_oracle_module")\n\n\n'
                            'def test_x():\n    pass\n'),
    "importorskip_in_test": 'import pytest\n\n\ndef test_x():\n    pytest.importorskip("no_such_oracle_module")\n',
    "skipif_marker": 'import pytest\n\n\n@pytest.mark.skipif(True, reason="no chromium")\ndef test_x():\n    pass\n',
    "skip_in_fixture": textwrap.dedent('''
        import pytest


        @pytest.fixture
        def browser():
            pytest.skip("/usr/bin/chromium is not installed")


        def test_x(browser):
            pass
        '''),
}


def _run(tmp_path: Path, body: str, ci: str) -> subprocess.CompletedProcess:
    (tmp_path / "conftest.py").write_text(CONFTEST.read_text())
    (tmp_path / "test_case.py").write_text(body)
    (tmp_path / "test_other.py").write_text("def test_other():\n    pass\n")  # the run is never empty
    env = {**os.environ, "CI": ci}
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("name", sorted(SKIPPING))
def test_a_skip_fails_in_ci_and_names_its_reason(tmp_path, name):
    """Does every way of skipping (module, test, marker, fixture) fail the run when CI=true?"""
    out = _run(tmp_path, SKIPPING[name], "true")
    assert out.returncode != 0, out.stdout
    assert "skipped in CI, where nothing may skip" in out.stdout


@pytest.mark.parametrize("name", sorted(SKIPPING))
def test_a_skip_is_a_skip_outside_ci(tmp_path, name):
    """On a newcomer's partial machine, do the same tests skip and the run pass?"""
    out = _run(tmp_path, SKIPPING[name], "")
    assert out.returncode == 0, out.stdout
    assert "skipped" in out.stdout


def test_every_way_of_skipping_fails_in_ci_under_xdist_too(tmp_path):
    """Run in parallel (``-n 2 --dist loadgroup``, as scripts/test does): does each skip still fail in CI?"""
    (tmp_path / "conftest.py").write_text(CONFTEST.read_text())
    for name, body in SKIPPING.items():
        (tmp_path / f"test_{name}.py").write_text(body)
    (tmp_path / "test_other.py").write_text("def test_other():\n    pass\n")
    out = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-n", "2", "--dist",
                          "loadgroup", "-rA", str(tmp_path)], cwd=tmp_path, env={**os.environ, "CI": "true"},
                         capture_output=True, text=True, timeout=300)
    assert out.returncode != 0, out.stdout
    for name in SKIPPING:
        assert re.search(rf"(FAILED|ERROR) test_{name}\.py.*skipped in CI, where nothing may skip", out.stdout), \
            (name, out.stdout[-3000:])
    assert re.search(r"PASSED test_other\.py", out.stdout), out.stdout[-3000:]


@pytest.mark.parametrize("workers", ["0", "2"])
def test_scripts_test_fails_when_no_test_is_collected(workers):
    """Does ``scripts/test`` (what .ci/run calls) exit 1 with a reason when pytest collects nothing (code 5)?"""
    env = {**os.environ, "RNN_TEST_PYTEST_ONLY": "1", "PYTEST_WORKERS": workers, "CI": "true"}
    out = subprocess.run([str(ROOT / "scripts" / "test"), "-q", "-p", "no:cacheprovider", "-k", "no_test_has_this_name",
                          "tests/test_ci_skips.py"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 1, (out.returncode, out.stdout[-2000:], out.stderr[-2000:])
    assert "pytest collected no tests: failing on purpose" in out.stderr
