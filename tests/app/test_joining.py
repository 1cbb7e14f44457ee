"""Are new sessions admitted one at a time, at a bounded share of the time, with a "Joining…" page meanwhile?"""

import asyncio
import math

import pytest

from simulator.app import joining


class FakeTime:
    """A clock that moves only when a build works (``work``) or the gate sleeps."""

    def __init__(self):
        self.now = 100.0

    def clock(self):
        return self.now

    async def sleep(self, seconds):
        self.now += seconds
        await asyncio.sleep(0)

    def work(self, seconds):
        self.now += seconds


@pytest.mark.parametrize("share", [0.5, 0.2, 1.0])
def test_builds_run_one_at_a_time_in_arrival_order_and_take_at_most_their_share(share):
    """Five sessions arrive together; builds of 0.4, 0.1, 0.3, 0.2, 0.5 s: never two at once, in order, and each
    starts no sooner than b * (1/share - 1) after the previous one ended."""
    fake = FakeTime()
    gate = joining.JoinGate(share, clock=fake.clock, sleep=fake.sleep)
    durations = [0.4, 0.1, 0.3, 0.2, 0.5]
    inside, log, waiting = [], [], []

    async def student(k):
        async with gate.turn():
            inside.append(k)
            assert len(inside) == 1, inside
            start = fake.clock()
            fake.work(durations[k])
            await asyncio.sleep(0)  # let the others try to get in
            waiting.append(gate.waiting)
            log.append((k, start, fake.clock()))
            inside.remove(k)

    async def main():
        await asyncio.gather(*(student(k) for k in range(5)))

    asyncio.run(main())
    assert [k for k, *_ in log] == [0, 1, 2, 3, 4] and gate.built == 5 and gate.waiting == 0
    assert waiting[0] == 5  # the first build knows four classmates wait behind it
    for (_, s0, e0), (k, s1, _) in zip(log, log[1:], strict=False):
        assert s1 >= e0 + (e0 - s0) * (1 / share - 1) - 1e-9, (share, k)
    busy = sum(e - s for _, s, e in log[:-1])
    assert busy / (log[-1][1] - log[0][1]) <= share + 1e-9


def test_time_a_build_slept_for_the_loop_is_not_its_own():
    """Two builds of 0.6 s wall, 0.4 s of it asleep while the loop answered others (buildyield): the next starts
    after the build's own 0.2 s times (1/share - 1), not after its wall time."""
    fake, asleep = FakeTime(), {"s": 0.0}
    gate = joining.JoinGate(0.5, clock=fake.clock, sleep=fake.sleep, waited=lambda: asleep["s"])
    log = []

    async def student():
        async with gate.turn():
            start = fake.clock()
            fake.work(0.2)
            fake.now += 0.4
            asleep["s"] += 0.4
            log.append((start, fake.clock()))

    async def main():
        await asyncio.gather(student(), student())

    asyncio.run(main())
    (s0, e0), (s1, _) = log
    assert e0 - s0 == pytest.approx(0.6)
    assert s1 - e0 == pytest.approx(0.2)  # 0.2 * (1 / 0.5 - 1); 0.6 had it counted the sleep


def test_a_build_that_fails_still_hands_the_turn_on():
    """A build that raises (a broken page) releases the gate for the next student."""
    gate = joining.JoinGate(1.0)

    async def main():
        async def broken():
            async with gate.turn():
                raise RuntimeError("page failed")

        async def fine():
            async with gate.turn():
                return "built"

        return await asyncio.gather(broken(), fine(), return_exceptions=True)

    first, second = asyncio.run(main())
    assert isinstance(first, RuntimeError) and second == "built" and gate.waiting == 0


@pytest.mark.parametrize("raw", ["0", "-0.5", "1.5", "nan", "half", "inf"])
def test_a_bad_share_is_refused_naming_the_variable(raw):
    with pytest.raises(ValueError, match="RNN_JOIN_SHARE: got"):
        joining.share_from_env({"RNN_JOIN_SHARE": raw})


@pytest.mark.parametrize("bad", [0, 2, math.nan, -1])
def test_a_bad_share_is_refused_by_the_gate(bad):
    with pytest.raises(ValueError, match="share: got"):
        joining.JoinGate(bad)


def test_the_share_defaults_and_reads_the_environment():
    assert joining.share_from_env({}) == joining.SHARE and joining.share_from_env({"RNN_JOIN_SHARE": " 0.25 "}) == 0.25


@pytest.mark.parametrize(("ahead", "words"), [(0, "building your page. It"), (1, "a classmate"),
                                              (7, "those of 7 classmates")])
def test_the_joining_notice_says_how_many_are_built_first(ahead, words):
    """The notice is the body's first element, once, says what happens, and removes itself once drawn."""
    page = "<html><head></head><body><div id='root'></div></body></html>"
    out = joining.with_notice(page, ahead)
    assert out.count('id="rnn-joining"') == 1 and out.index('id="rnn-joining"') < out.index("id='root'")
    assert words in out and 'role="status"' in out and "B.documents.length" in out
    assert out.replace(out[out.index("<div id=\"rnn-joining\""):out.index("</script>") + 9], "") == page
