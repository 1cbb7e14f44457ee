"""Does a page build in its thread step aside while the event loop has work, and still finish when it never idles?"""

import asyncio
import logging
import sys
import threading
import time

import param
import pytest
from bokeh.models import Div

from simulator.app import buildyield


@pytest.fixture
def max_wait(monkeypatch):
    monkeypatch.setattr(buildyield, "_max_wait", 0.05)
    monkeypatch.setattr(buildyield, "STATS", {"checkpoints_waited": 0, "waited_s": 0.0})
    return 0.05


def _python_work(seconds: float) -> None:
    """CPU work in Python bytecode, holding the GIL between switches, as a page build or a message handler does."""
    end = time.thread_time() + seconds
    while time.thread_time() < end:
        sum(range(100))


def _race(idle_of_loop, checkpoints: int = 200, chunks: int = 300) -> list[str]:
    """A build thread (checkpoints with 0.25 ms of work each) against a loop busy with 2 ms chunks back to back.

    Alone, the build is about 0.05 s of CPU and the loop's job 0.6 s: sharing the GIL (handed over every 1 ms, as
    during a real build), the build ends first even when the machine's other work slows one thread down a lot.
    Returns the order in which they ended.
    """
    order: list[str] = []

    async def main():
        loop = asyncio.get_running_loop()
        idle = idle_of_loop(loop)
        done = loop.create_future()

        def build():
            with buildyield.building(idle):
                for _ in range(checkpoints):
                    _python_work(0.00025)
                    buildyield.checkpoint()
            order.append("build")

        def chunk(left: int):
            _python_work(0.002)
            if left:
                loop.call_soon(chunk, left - 1)
            else:
                order.append("loop")
                done.set_result(None)

        await asyncio.sleep(0)  # the loop has waited in its selector once (watched from here on)
        thread = threading.Thread(target=build)
        thread.start()
        loop.call_soon(chunk, chunks)
        await done
        await loop.run_in_executor(None, thread.join, 60)

    saved = sys.getswitchinterval()
    sys.setswitchinterval(0.001)
    try:
        asyncio.run(main())
    finally:
        sys.setswitchinterval(saved)
    return order


def test_a_watched_loop_finishes_its_work_before_the_build_goes_on(max_wait):
    order = _race(buildyield.watch)
    assert order == ["loop", "build"], order
    assert buildyield.STATS["checkpoints_waited"] > 0 and buildyield.STATS["waited_s"] > 0


def test_control_an_unwatched_loop_shares_the_gil_and_the_shorter_build_ends_first(max_wait):
    order = _race(lambda loop: None)
    assert order == ["build", "loop"], order
    assert buildyield.STATS["checkpoints_waited"] == 0


def _build_on_a_loop_never_idle(checkpoints: int) -> buildyield.Idle:
    never_idle = buildyield.Idle()
    never_idle.idle = False
    with buildyield.building(never_idle):
        for _ in range(checkpoints):
            buildyield.checkpoint()
    return never_idle


def test_a_build_still_advances_when_its_loop_is_never_idle(max_wait, monkeypatch):
    monkeypatch.setattr(buildyield, "_max_wait", 0.005)
    _build_on_a_loop_never_idle(6)
    assert buildyield.STATS["checkpoints_waited"] == 6
    assert buildyield.STATS["waited_s"] >= 6 * 0.005 * 0.5  # each waited (the cap, give or take the clock)


def test_a_build_waits_at_most_its_budget_in_all_then_shares_the_gil(max_wait, monkeypatch):
    """A loop kept busy on purpose (a flood of messages) delays a page by at most the budget, never forever."""
    monkeypatch.setattr(buildyield, "_max_wait", 0.01)
    monkeypatch.setattr(buildyield, "BUILD_BUDGET", 0.035)
    never_idle = _build_on_a_loop_never_idle(20)
    assert buildyield.STATS["checkpoints_waited"] == 4  # 10 + 10 + 10 + the 5 ms left, then no more waits
    assert buildyield.STATS["waited_s"] == pytest.approx(0.035, abs=0.02)
    with buildyield.building(never_idle):  # the next build has its own budget
        buildyield.checkpoint()
    assert buildyield.STATS["checkpoints_waited"] == 5


def test_only_build_threads_wait_and_only_while_they_build(max_wait):
    busy = buildyield.Idle()
    busy.idle = False
    buildyield.checkpoint()  # not a build thread: no wait
    seen = []

    def other():
        buildyield.checkpoint()
        seen.append(buildyield.STATS["checkpoints_waited"])

    with buildyield.building(busy):
        thread = threading.Thread(target=other)
        thread.start()
        thread.join(30)
    buildyield.checkpoint()  # the block has ended
    with buildyield.building(None):  # an unwatched loop: never waits
        buildyield.checkpoint()
    assert seen == [0] and buildyield.STATS["checkpoints_waited"] == 0


def test_a_poll_between_ready_callbacks_is_not_idle_and_a_wait_is():
    seen, after = [], []

    async def main():
        loop = asyncio.get_running_loop()
        raw, holder = loop._selector.select, {}

        def recording(timeout=None):  # inside the watch: what the build thread would read during this wait
            seen.append((timeout, holder["idle"].idle))
            return raw(timeout)

        loop._selector.select = recording
        holder["idle"] = idle = buildyield.watch(loop)
        assert buildyield.watch(loop) is idle  # wrapped once
        loop.call_soon(lambda: None)  # a ready callback: the next wait is a poll (timeout 0)
        await asyncio.sleep(0)
        await asyncio.sleep(0.01)  # nothing ready: a real wait
        after.append(idle.idle)  # running this task: busy

    asyncio.run(main())
    assert any(t == 0 for t, _ in seen) and any(t is None or t > 0 for t, _ in seen), seen
    assert all(idle is (t is None or t > 0) for t, idle in seen), seen
    assert after == [False]


def test_model_and_param_object_creation_pass_a_checkpoint_only_when_installed(monkeypatch):
    calls = []
    monkeypatch.setattr(buildyield, "checkpoint", lambda: calls.append(1))

    class P(param.Parameterized):
        x = param.Integer(default=1)

    try:
        assert buildyield.install(0.02)
        Div(text="a")
        P(x=2)
        assert len(calls) >= 2
        assert P(x=3).x == 3 and Div(text="b").text == "b"  # constructors still do their work
    finally:
        buildyield.uninstall()
    calls.clear()
    Div(text="c")
    P(x=4)
    assert calls == []
    assert not buildyield.install(0) and calls == []  # 0: off


def test_a_loop_without_a_selector_is_not_watched_and_says_so_once(caplog):
    class Proactorish:
        pass

    monkey = buildyield._warned_unwatchable
    buildyield._warned_unwatchable = False
    try:
        with caplog.at_level(logging.WARNING, logger="simulator.app.buildyield"):
            assert buildyield.watch(Proactorish()) is None
            assert buildyield.watch(Proactorish()) is None
    finally:
        buildyield._warned_unwatchable = monkey
    assert sum("no selector to watch" in r.getMessage() for r in caplog.records) == 1


@pytest.mark.parametrize("raw, ms", [("20", 20), (" 0 ", 0), ("2.5", 2.5), ("1000", 1000)])
def test_the_environment_sets_the_longest_wait(raw, ms):
    assert buildyield.max_wait_from_env({"RNN_BUILD_YIELD_MS": raw}) == pytest.approx(ms / 1000)
    assert buildyield.max_wait_from_env({}) == pytest.approx(buildyield.MAX_WAIT_MS / 1000)


@pytest.mark.parametrize("raw", ["-1", "1001", "nan", "inf", "fast", "", "1e400"])
def test_a_bad_longest_wait_is_refused_naming_the_variable(raw):
    with pytest.raises(ValueError, match=r"RNN_BUILD_YIELD_MS: got .*expected the milliseconds"):
        buildyield.max_wait_from_env({"RNN_BUILD_YIELD_MS": raw})
