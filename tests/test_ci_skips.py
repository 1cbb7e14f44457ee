"""In CI a skip fails the run: a missing oracle (torch, Keras, Chromium, bubblewrap) cannot pass silently."""

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

CONFTEST = Path(__file__).with_name("conftest.py")

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
