"""The worker pool's admission control: a global and a per-session budget, places in the queue, release."""

import threading

import pytest

from simulator.app.workpool import BusyError, WorkPool


def _gate():
    """A job that blocks until the returned event is set (so the test decides when workers are free)."""
    go = threading.Event()
    return go, (lambda: go.wait(10) and "finished")


def test_one_job_per_owner_and_places_in_the_queue():
    """Does each owner hold at most one job, and does a queued job know its place?"""
    pool = WorkPool(workers=1, max_queue=5)
    go, job = _gate()
    first = pool.submit("a", job)
    with pytest.raises(BusyError, match="already has work"):
        pool.submit("a", job)
    second, third = pool.submit("b", lambda: 2), pool.submit("c", lambda: 3)
    for _ in range(200):  # the worker picks the first job up
        if first.state == "running":
            break
        threading.Event().wait(0.01)
    assert first.position() == 0 and (second.position(), third.position()) == (1, 2)
    assert pool.stats() == {"running": 1, "queued": 2, "workers": 1}
    go.set()
    assert first.wait(10) and second.wait(10) and third.wait(10)
    assert (first.result, second.result, third.result) == ("finished", 2, 3)
    pool.submit("a", lambda: "again").wait(10)  # a finished job frees its owner's budget


def test_a_full_queue_refuses_with_a_message_instead_of_piling_up():
    """Is the global budget enforced with a message that says the server is busy?"""
    pool = WorkPool(workers=1, max_queue=2)
    go, job = _gate()
    pool.submit("running", job)
    for _ in range(200):
        if pool.stats()["running"] == 1:
            break
        threading.Event().wait(0.01)
    pool.submit("q1", lambda: 1)
    pool.submit("q2", lambda: 2)
    with pytest.raises(BusyError, match="server is busy: 2 jobs"):
        pool.submit("q3", lambda: 3)
    go.set()


def test_release_drops_the_queued_job_of_a_closed_session_and_errors_become_text():
    """Does a closed session's queued job never run, and does a failing job report instead of raising?"""
    pool = WorkPool(workers=1, max_queue=5)
    go, job = _gate()
    pool.submit("busy", job)
    ran = []
    queued = pool.submit("gone", lambda: ran.append(1))
    pool.release("gone")
    assert queued.done and queued.state == "cancelled" and queued.position() == 0
    failing = pool.submit("bad", lambda: 1 / 0)
    go.set()
    assert failing.wait(10)
    assert failing.error.startswith("ZeroDivisionError") and failing.result is None
    assert not ran
