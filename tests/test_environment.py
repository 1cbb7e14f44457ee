"""In CI, the prerequisites of the browser and sandbox tests must be present: their tests skip elsewhere."""

import os
import shutil

import pytest

from autograder.sandbox import isolation

in_ci = pytest.mark.skipif(os.environ.get("CI", "").lower() != "true", reason="only enforced in CI (CI=true)")


@in_ci
def test_chromium_is_installed_for_the_browser_tests():
    """Would the browser tests run, rather than skip, in CI?"""
    assert shutil.which("chromium") or os.path.exists("/usr/bin/chromium"), "install Debian's chromium"


@in_ci
def test_the_grading_sandbox_is_available():
    """Would the sandbox, CLI and hostile-submission tests run, rather than skip, in CI?"""
    assert isolation.detect() is not None, "install bubblewrap (apt-get install -y bubblewrap)"
