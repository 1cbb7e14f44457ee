"""The worker pool's admission control: a global and a per-session budget, places in the queue, release."""

import threading

import pytest

from simulator.app.workpool import BusyError, Runner, WorkPool


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


# ----------------------------------------------------------------------------- one session's Runner
def _poll_until(runners, done, limit=2000):
    for _ in range(limit):
        for r in runners:
            r.poll()
        if done():
            return True
        threading.Event().wait(0.005)
    return False


def _hold(pool):
    """Occupy every worker of ``pool`` with another session's job; returns the event that frees them."""
    go = threading.Event()
    tickets = [pool.submit(f"holder {k}", lambda: go.wait(10)) for k in range(pool.workers)]
    assert _poll_until([], lambda: all(t.state == "running" for t in tickets))
    return go


def test_the_latest_request_of_a_key_wins_and_reads_the_settings_when_admitted():
    """Do three quick setting changes cost one computation, at the last setting?"""
    pool = WorkPool(workers=1, max_queue=8)
    go = _hold(pool)
    runner, settings, computed, shown = Runner(pool=pool, background=True), {"T": 10}, [], []

    def start():
        T = settings["T"]  # read at admission, on the event loop
        return (lambda: computed.append(T) or T * 2), shown.append

    runner.request("network", start)  # admitted at once: queued behind the holder
    for T in (20, 30, 40):
        settings["T"] = T
        runner.request("network", start)
    go.set()
    assert _poll_until([runner], lambda: not runner.busy())
    assert computed == [10, 40] and shown == [20, 80]  # the queued one, then only the latest


def test_a_session_never_holds_two_jobs_and_sees_its_place_shrink():
    """Per-session budget: do a session's two kinds of work run one after the other, with places 3, 2, 1?"""
    pool = WorkPool(workers=1, max_queue=8)
    go = _hold(pool)
    others = [Runner(pool=pool, background=True) for _ in range(2)]
    for k, r in enumerate(others):
        r.request("training", lambda k=k: ((lambda: go.wait(10)), lambda _: None))
    mine, places, order = Runner(pool=pool, background=True), [], []
    mine.request("training", lambda: ((lambda: order.append("training")), lambda _: None), on_wait=places.append)
    mine.request("upload", lambda: ((lambda: order.append("upload")), lambda _: None))
    assert pool.stats()["queued"] == 3  # two others and one of mine: the upload waits in my Runner
    assert places[-1] == 3
    go.set()
    assert _poll_until([mine, *others], lambda: not mine.busy())
    assert order == ["training", "upload"]
    assert places[0] == 3
    assert all(a >= b for a, b in zip(places, places[1:], strict=False))  # never moves back


def test_cancel_and_close_drop_queued_work_and_failures_become_messages():
    """Does a cancelled or closed session's job never run, and do compute and apply errors become messages?"""
    pool = WorkPool(workers=1, max_queue=8)
    go = _hold(pool)
    ran, errors = [], []
    a, b = Runner(pool=pool, background=True), Runner(pool=pool, background=True)
    a.request("x", lambda: ((lambda: ran.append("a")), lambda _: None))
    b.request("y", lambda: ((lambda: ran.append("b")), lambda _: None))
    a.cancel("x")
    b.close()
    b.request("y", lambda: ((lambda: ran.append("b again")), lambda _: None))  # a closed Runner takes nothing
    assert pool.stats()["queued"] == 0 and not a.busy() and not b.busy()
    a.request("bad", lambda: ((lambda: 1 / 0), lambda _: None), on_error=errors.append)
    a.request("worse", lambda: ((lambda: 1), lambda _: [][1]), on_error=errors.append)
    a.request("fine", lambda: ((lambda: 7), lambda v: ran.append(v)))
    go.set()
    assert _poll_until([a], lambda: not a.busy())
    assert ran == [7]
    assert "ZeroDivisionError" in errors[0] and "IndexError" in errors[1] and len(errors) == 2


def test_a_full_pool_refuses_with_a_message_and_a_runner_without_server_runs_at_once():
    """Is the global budget a message, and does a test-mode Runner run chained requests in order, unrecursed?"""
    pool = WorkPool(workers=1, max_queue=1)
    go = _hold(pool)
    Runner(pool=pool, background=True).request("x", lambda: ((lambda: 1), lambda _: None))
    said = []
    Runner(pool=pool, background=True).request("x", lambda: ((lambda: 1), lambda _: None), on_error=said.append)
    assert said and "server is busy" in said[0]
    go.set()

    runner, seen = Runner(background=False), []

    def chain(n):
        def start():
            return (lambda: n), lambda v: seen.append(v) or (v < 5000 and runner.request("c", lambda: chain(v + 1)()))
        return start

    runner.request("c", chain(0))
    assert seen == list(range(5001))  # 5001 chained jobs: a recursion would have overflowed the stack


def test_the_c_library_is_looked_up_once_per_process(monkeypatch):
    """``find_library`` spawns ``ldconfig``: returning memory after each closed session must not repeat it."""
    import ctypes.util

    from simulator.app import workpool

    calls = []
    real = ctypes.util.find_library
    monkeypatch.setattr(ctypes.util, "find_library", lambda name: calls.append(name) or real(name))
    workpool._libc.cache_clear()
    try:
        for _ in range(3):
            workpool.return_memory()
        assert calls == ["c"]
    finally:
        workpool._libc.cache_clear()
