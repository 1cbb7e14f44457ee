"""Red team, grader-side compute: what the student returns to a locked cell that runs in the grader."""

from __future__ import annotations

from tests.autograder.redteam import payloads


def test_a_locked_cell_does_not_amplify_what_the_student_returned(graded):
    """Was hole H2 (train_readout ran in the grader on a 32 MiB bool block: +560 MiB resident); closed in 74865a8."""
    baseline, attacked = graded["crnn_probe_cheat"], graded["crnn_amplify"]
    assert baseline.max_rss_kib > 0 and attacked.returncode == 0, attacked.stderr[-2000:]
    growth_kib = attacked.max_rss_kib - baseline.max_rss_kib
    assert growth_kib < 4 * payloads.AMPLIFY_BYTES // 1024, (
        f"the grader grew by {growth_kib // 1024} MiB for {payloads.AMPLIFY_BYTES >> 20} MiB returned")
