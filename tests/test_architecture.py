"""Does each package import only what docs/architecture.md says it may (at module level)?

Lazy imports inside functions (torch in ``interop``, scikit-learn in ``lessons.data``) are allowed on purpose:
they load only when that function runs. What a module imports when it is imported is the contract here.
"""

import ast
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
STDLIB = set(sys.stdlib_module_names)
CORE = {p.stem for p in (REPO / "simulator").glob("*.py") if p.stem != "__init__"}


def module_level_imports(path: Path) -> set[str]:
    """Absolute module names imported when ``path`` is imported (also inside top-level ``if``/``try``)."""
    names = set()
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        for sub in ast.walk(node) if isinstance(node, ast.If | ast.Try) else (node,):
            if isinstance(sub, ast.Import):
                names |= {a.name for a in sub.names}
            elif isinstance(sub, ast.ImportFrom) and sub.level == 0 and sub.module:
                names |= {sub.module} | {f"{sub.module}.{a.name}" for a in sub.names}
    return names


def _is_core(name: str) -> bool:
    parts = name.split(".")
    return parts[0] == "simulator" and (len(parts) == 1 or parts[1] in CORE)


def _stdlib_or_numpy(name: str) -> bool:
    return name.split(".")[0] in STDLIB or name.split(".")[0] == "numpy"


def _files(folder: str, pattern: str = "*.py") -> list[Path]:
    return sorted((REPO / folder).glob(pattern))


def _violations(files, allowed) -> list[str]:
    return [f"{p.relative_to(REPO) if p.is_relative_to(REPO) else p} imports {name}"
            for p in files for name in sorted(module_level_imports(p)) if not allowed(name)]


def test_the_core_imports_numpy_and_the_standard_library_only():
    """DESIGN invariant 2: does simulator/*.py import nothing but NumPy, the stdlib and other core modules?"""
    assert _violations(_files("simulator"), lambda n: _stdlib_or_numpy(n) or _is_core(n)) == []


def test_lesson_workloads_build_on_the_core_only():
    """Do simulator/lessons/ modules import only the core, NumPy, the stdlib and each other (never the app)?"""
    def allowed(name):
        return _stdlib_or_numpy(name) or _is_core(name) or name.startswith("simulator.lessons")
    assert _violations(_files("simulator/lessons"), allowed) == []


def test_exercise_answers_are_thin_wrappers_over_the_core():
    """Do the bptt answers import only the core (nothing is re-derived)?"""
    assert _violations(_files("exercises/answers"), lambda n: _stdlib_or_numpy(n) or _is_core(n)) == []


def test_the_grader_never_imports_the_app_or_the_lessons():
    """Does autograder/ stay free of Panel pages and lesson workloads (it grades against the core only)?"""
    def allowed(name):
        return not name.startswith(("simulator.app", "simulator.lessons", "panel", "bokeh"))
    assert _violations(_files("autograder", "**/*.py"), allowed) == []


def test_the_app_reaches_the_grader_only_through_its_server_interface():
    """Do app pages import no grading internals (sandbox, checks), only ``autograder.server`` where needed?"""
    def allowed(name):
        return not name.startswith("autograder") or name.startswith("autograder.server")
    assert _violations(_files("simulator/app", "**/*.py"), allowed) == []


@pytest.mark.parametrize("bad", ["import torch", "from simulator.app import layout", "import panel as pn"])
def test_the_check_sees_a_forbidden_import(tmp_path, bad):
    """Would a forbidden module-level import in the core be reported (the check can fail)?"""
    path = tmp_path / "cells.py"
    path.write_text(f"import numpy as np\nif True:\n    {bad}\n")
    assert _violations([path], lambda n: _stdlib_or_numpy(n) or _is_core(n))
