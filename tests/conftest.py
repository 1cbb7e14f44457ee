"""Shared test settings: Keras runs on the PyTorch backend; in CI a skipped test is a failed test.

Tests skip where an oracle or a tool is missing (torch, Keras, Chromium, bubblewrap, PostgreSQL), so that a
newcomer's partial machine still runs the rest. In CI (``CI=true``) the machine is set up by ``.ci/run``, so a
skip can only mean that something the suite promises to check went unchecked: it fails, with the skip's reason.
The principle is "no skip in CI", not a list of oracles, so a new ``importorskip`` is covered without editing this.
"""

import os

import pytest

os.environ.setdefault("KERAS_BACKEND", "torch")

IN_CI = os.environ.get("CI", "").lower() == "true"


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
