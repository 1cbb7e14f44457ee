"""Does the real-``serve.py`` test helper fail with the server's own reason when the server cannot start?"""

from __future__ import annotations

import pytest

from tests.app.serving import serving


def test_a_server_that_exits_fails_the_fixture_naming_why(tmp_path):
    """A server that exits at once: is its exit code and log tail in the error, instead of a yielded dead URL?"""
    reason = "unrecognized arguments: --no-such-option"
    with pytest.raises(RuntimeError) as failed, serving(["--no-such-option"], tmp_path / "server.log"):
        pytest.fail("yielded a URL although the server had exited")
    assert "did not answer" in str(failed.value) and "exit code 2" in str(failed.value)
    assert reason in str(failed.value)
