"""The autograder's tests run the checks' hidden cases with a fixed test secret, as the grader hands the course's.

Tests that need the real behaviour (no secret, or a course's own secret) set theirs with ``cases.hidden_secret``.
The cell diagnosis must not depend on this choice: ``test_secret_robustness.py`` runs bugs under fresh secrets, and
``python -m tests.autograder.bugs.secrets N`` measures both cell catalogues under N secrets (docs/diagnosis.md).
"""

import pytest

from autograder import cases

TEST_SECRET = b"scan 2"


@pytest.fixture(autouse=True)
def hidden_case_secret():
    with cases.hidden_secret(TEST_SECRET):
        yield
