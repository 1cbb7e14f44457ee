"""Red team, class 6's guard under threads: ``channel.address_space_cap`` sets RLIMIT_AS, which is per process.

Grader-side functions handed to student code (an architecture's ``step``) run under that cap. The
course server runs "compare" requests in a thread pool of one process (``COMPARE_SLOTS = 2``), and a
Dask executor runs gradings in threads, so two guarded calls can overlap. Here they overlap in a
fixed order: B enters, A enters, B leaves, A leaves. Nothing of student code is needed to show the
mechanism. A student who calls ``step`` in a loop on two compare pages makes that order happen.
"""

from __future__ import annotations

import resource
import threading

import pytest

from autograder import channel


def _overlap() -> tuple[tuple[int, int], tuple[int, int], tuple[int, int]]:
    """(limit before, the limit inside A once B has left, the limit after both): B caps 2 GiB, A 1 GiB."""
    before = resource.getrlimit(resource.RLIMIT_AS)
    b_in, a_in, b_out = threading.Event(), threading.Event(), threading.Event()
    seen = {}

    def b():
        with channel.address_space_cap(2 << 30):
            b_in.set()
            a_in.wait(10)
        b_out.set()

    def a():
        b_in.wait(10)
        with channel.address_space_cap(1 << 30):
            a_in.set()
            b_out.wait(10)
            seen["inside"] = resource.getrlimit(resource.RLIMIT_AS)

    threads = [threading.Thread(target=b), threading.Thread(target=a)]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(20)
        return before, seen["inside"], resource.getrlimit(resource.RLIMIT_AS)
    finally:
        resource.setrlimit(resource.RLIMIT_AS, before)  # NB: this test process must not stay capped


@pytest.fixture(scope="module")
def overlap():
    before = resource.getrlimit(resource.RLIMIT_AS)
    if before[0] != resource.RLIM_INFINITY:
        pytest.skip("the test process already runs under an address-space limit")
    return _overlap()


def test_overlapping_guarded_calls_leave_no_limit_behind(overlap):
    before, _, after = overlap
    assert after == before, f"RLIMIT_AS was {before}, is {after} after both calls ended"


def test_a_guarded_call_stays_capped_while_another_ends(overlap):
    _, inside, _ = overlap
    assert inside[0] != resource.RLIM_INFINITY, f"RLIMIT_AS inside the remaining guarded call: {inside}"
