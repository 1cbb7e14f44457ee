"""In parallel (``-n 2 --dist loadgroup``), is each fixture broader than a function built once, on one worker?

A small suite with this repository's ``tests/conftest.py`` (its grouping rule), run by pytest-xdist in its own
process. Each fixture records where it was set up; each test records the worker it ran on. A control runs the
same suite with ``--dist load`` (no groups) and must build the shared fixtures more than once, so the suite
does exercise what the grouping prevents.
"""

from __future__ import annotations

import collections
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

CONFTEST = Path(__file__).with_name("conftest.py")
N = 24  # tests per module: enough that xdist's plain load scheduling gives each worker some of every module

SHARED = textwrap.dedent('''
    import os
    from pathlib import Path

    import pytest

    LOG = Path(os.environ["GROUPS_LOG"])


    def record(what):
        with open(LOG, "a") as log:
            log.write(f"{what} {os.environ.get('PYTEST_XDIST_WORKER', 'main')}\\n")


    @pytest.fixture(scope="session")
    def served():  # shared by two modules: one server for both
        record("setup served")
        return "served"


    @pytest.fixture(scope="session")
    def course(served):  # depends on another session fixture: joins its group
        record("setup course")
        return "course"
    ''')

MODULES = {
    "test_served_a.py": "def test_a_{k}(served):\n    record('test served_a')\n",
    "test_served_b.py": "def test_b_{k}(tmp_path, served):\n    record('test served_b')\n",
    "test_course.py": "def test_c_{k}(course):\n    record('test course')\n",
    "test_module_scope.py": None,  # a module-scoped fixture of its own
    "test_plain.py": "def test_p_{k}(tmp_path):\n    record('test plain')\n",
}

MODULE_SCOPE = textwrap.dedent('''
    import pytest
    from conftest import record


    @pytest.fixture(scope="module")
    def engine():
        record("setup engine")
        return 1

    ''')


def _write_suite(folder: Path) -> None:
    (folder / "conftest.py").write_text(CONFTEST.read_text() + "\n\n" + SHARED)
    for name, body in MODULES.items():
        if body is None:
            text = MODULE_SCOPE + "".join(f"\ndef test_m_{k}(engine):\n    record('test module_scope')\n"
                                          for k in range(N))
        else:
            text = "from conftest import record\n\n\n" + "\n\n".join(body.format(k=k) for k in range(N))
        (folder / name).write_text(text)


def _run(tmp_path: Path, dist: str) -> list[tuple[str, str]]:
    folder = tmp_path / dist
    folder.mkdir()
    _write_suite(folder)
    log = tmp_path / f"{dist}.log"
    out = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-n", "2", "--dist", dist,
                          str(folder)], cwd=folder, env={**os.environ, "CI": "", "GROUPS_LOG": str(log)},
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stdout[-3000:]
    assert f"{len(MODULES) * N} passed" in out.stdout, out.stdout[-3000:]
    return [tuple(line.rsplit(" ", 1)) for line in log.read_text().splitlines()]


@pytest.fixture(scope="module")
def xdist_present():
    pytest.importorskip("xdist")


def test_each_shared_fixture_is_built_once_and_its_tests_share_a_worker(tmp_path, xdist_present):
    """Grouped: one set-up per session and module fixture; their tests on the worker that built it."""
    events = _run(tmp_path, "loadgroup")
    setups = collections.Counter(what for what, _ in events if what.startswith("setup"))
    assert setups == {"setup served": 1, "setup course": 1, "setup engine": 1}, setups
    workers = collections.defaultdict(set)
    for what, worker in events:
        workers[what.removeprefix("setup ").removeprefix("test ")].add(worker)
    shared = workers["served"] | workers["served_a"] | workers["served_b"] | workers["course"]
    assert len(shared) == 1, workers  # the two session fixtures and the three modules that use them
    assert workers["engine"] == workers["module_scope"] and len(workers["module_scope"]) == 1, workers
    assert len(workers["plain"] | shared | workers["module_scope"]) == 2, workers  # and both workers had work


def test_the_control_without_groups_builds_shared_fixtures_twice(tmp_path, xdist_present):
    """Plain ``--dist load``: is some shared fixture built on both workers (what the groups prevent)?"""
    events = _run(tmp_path, "load")
    setups = collections.Counter(what for what, _ in events if what.startswith("setup"))
    assert max(setups.values()) >= 2, setups
