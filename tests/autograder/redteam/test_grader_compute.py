"""Red team, grader-side compute: what the student returns to a locked cell that runs in the grader."""

from __future__ import annotations

import pytest

from tests.autograder.redteam import payloads


@pytest.mark.xfail(strict=True, reason="HOLE: class 6 (grader-side compute on student-chosen values): the crnn "
                   "locked cell training_run runs train_readout in the grader on whatever crnn_forward returned; "
                   "a 32 MiB bool block becomes float64 arrays 8x as large (about +560 MiB resident measured)")
def test_a_locked_cell_does_not_amplify_what_the_student_returned(graded):
    baseline, attacked = graded["crnn_probe_cheat"], graded["crnn_amplify"]
    assert baseline.max_rss_kib > 0 and attacked.returncode == 0, attacked.stderr[-2000:]
    growth_kib = attacked.max_rss_kib - baseline.max_rss_kib
    assert growth_kib < 4 * payloads.AMPLIFY_BYTES // 1024, (
        f"the grader grew by {growth_kib // 1024} MiB for {payloads.AMPLIFY_BYTES >> 20} MiB returned")
