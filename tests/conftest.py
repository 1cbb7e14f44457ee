"""Shared test settings: Keras on PyTorch, no skip in CI, no foreign event loop, parallel groups by shared fixture.

Tests skip where an oracle or a tool is missing (torch, Keras, Chromium, bubblewrap, PostgreSQL), so that a
newcomer's partial machine still runs the rest. In CI (``CI=true``) the machine is set up by ``.ci/run``, so a
skip can only mean that something the suite promises to check went unchecked: it fails, with the skip's reason.
The principle is "no skip in CI", not a list of oracles, so a new ``importorskip`` is covered without editing this.

Playwright's sync API marks its event loop as running in the test thread between its calls, for as long as the
session's browser lives, so a later test's ``asyncio.run`` would fail ("cannot be called from a running event
loop") depending on which tests ran before it. A test that does not use the ``browser`` fixture runs with no
event loop marked running in its thread (the mark is put back afterwards). Not covered: a module- or
session-scoped fixture that calls ``asyncio.run`` after a browser test (it is set up outside the test).

Under pytest-xdist (``scripts/test`` runs ``-n``/``--dist loadgroup``), tests that share a fixture broader than
a function (a server, a port, a database, a browser, one graded course) must run in one worker, or each worker
would build that fixture again (or two would fight over it). The rule, by construction rather than by a list:
tests are joined into one ``xdist_group`` when they share a session-scoped fixture defined in this repository,
and the tests of a module join when they use a module- or class-scoped one; every other test is distributed on
its own. Not covered: state shared outside fixtures (a fixed port or a fixed file written by two modules).
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

os.environ.setdefault("KERAS_BACKEND", "torch")

IN_CI = os.environ.get("CI", "").lower() == "true"
TESTS = Path(__file__).resolve().parent
BROADER_THAN_FUNCTION = ("session", "package", "module", "class")


def _fail_if_skipped_in_ci(report) -> None:
    if IN_CI and report.skipped and not hasattr(report, "wasxfail"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        report.outcome = "failed"
        report.longrepr = f"skipped in CI, where nothing may skip: {reason}"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    _fail_if_skipped_in_ci(outcome.get_result())


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector):
    # A module-level ``pytest.importorskip`` skips the whole module while it is collected.
    outcome = yield
    _fail_if_skipped_in_ci(outcome.get_result())


# ----------------------------------------------------------------------------- no foreign running event loop
@pytest.fixture(autouse=True)
def _no_foreign_running_loop(request):
    """Clear a running-loop mark left by Playwright's sync API for a test that does not use the browser."""
    foreign = asyncio._get_running_loop()
    if foreign is None or "browser" in request.fixturenames:
        yield
        return
    asyncio._set_running_loop(None)
    try:
        yield
    finally:
        asyncio._set_running_loop(foreign)


# ----------------------------------------------------------------------------- xdist groups by shared fixture
def _ours(fixturedef) -> bool:
    """Is the fixture defined in this repository's tests (not pytest's or a plugin's, e.g. tmp_path_factory)?"""
    func = getattr(fixturedef, "func", None)
    code = getattr(func, "__code__", None)
    return code is not None and Path(code.co_filename).resolve().is_relative_to(TESTS)


def shared_keys(item) -> set[str]:
    """What ``item`` shares with other tests: ``session:<fixture>`` and ``module:<file>`` keys (maybe none)."""
    keys = set()
    info = getattr(item, "_fixtureinfo", None)
    for name in getattr(info, "names_closure", ()):
        for fixturedef in info.name2fixturedefs.get(name, ())[-1:]:  # the definition this item uses
            if fixturedef.scope in BROADER_THAN_FUNCTION and _ours(fixturedef):
                if fixturedef.scope in ("session", "package"):
                    keys.add(f"session:{fixturedef.baseid}::{name}")
                else:
                    keys.add(f"module:{item.path}")
    return keys


def groups(items) -> dict[int, str]:
    """``{index of item: group name}`` for the items that share a broad fixture, joined transitively."""
    parent: dict[str, str] = {}

    def find(key: str) -> str:
        while parent.setdefault(key, key) != key:
            parent[key] = parent[parent[key]]
            key = parent[key]
        return key

    keyed = {k: shared_keys(item) for k, item in enumerate(items)}
    for keys in keyed.values():
        first, *rest = sorted(keys) or [None]
        for key in rest:
            parent[find(key)] = find(first)
    names: dict[str, str] = {}
    out = {}
    for k, keys in keyed.items():
        if keys:
            root = find(min(keys))
            out[k] = names.setdefault(root, f"shared{len(names)}")
    return out


@pytest.hookimpl(tryfirst=True)  # NB: before xdist's own hook, which reads the groups into the node ids
def pytest_collection_modifyitems(config, items):
    # NB: xdist's workers see --dist loadgroup as ``option.loadgroup`` (their own ``dist`` is "no")
    if not getattr(config.option, "loadgroup", False) and getattr(config.option, "dist", "no") != "loadgroup":
        return
    for k, name in groups(items).items():
        items[k].add_marker(pytest.mark.xdist_group(name))
