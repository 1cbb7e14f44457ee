"""Sign-in under a class's load: failures counted per account (strict) and per address (generous), hashing bounded.

Principles: an address is not a person (a class behind one NAT shares one), so an account's protection is its own
counter and the address's counter only bounds spraying; password hashing runs in a few threads with a bounded
wait, answered "busy" beyond it, never on the event loop and never on every core at once.
"""

from __future__ import annotations

import asyncio
import os
import threading

import pytest

from autograder.server import signin

NAT = "203.0.113.7"


def test_a_lecture_halls_typos_behind_one_address_lock_nobody_out():
    """Do 300 students behind one address, each mistyping once, all keep the right to sign in?"""
    failures = signin.Failures(per_name=8, per_address=signin.PER_ADDRESS)
    for k in range(300):
        failures.failed(f"student{k:03d}", NAT)
    assert all(failures.blocked(f"student{k:03d}", NAT) is None for k in range(300))
    assert failures.blocked("latecomer", NAT) is None


def test_one_accounts_guesses_block_that_account_only():
    """Are 8 failures on one name a block of that name (from any address), and of nothing else?"""
    failures = signin.Failures(per_name=8, per_address=1000)
    for k in range(8):
        failures.failed("ada", f"198.51.100.{k}")  # spread over addresses: the account's counter still counts
    said = failures.blocked("ada", "192.0.2.1")
    assert said is not None and "for ada" in said
    assert failures.blocked("bo", NAT) is None and failures.blocked("bo", "198.51.100.1") is None


def test_spraying_many_names_from_one_address_is_bounded():
    """Does the address's allowance stop one place trying a few passwords on every name?"""
    failures = signin.Failures(per_name=8, per_address=50)
    for k in range(50):
        failures.failed(f"victim{k}", NAT)
    said = failures.blocked("victim999", NAT)
    assert said is not None and "from your network" in said
    assert failures.blocked("victim999", "192.0.2.1") is None  # another address is not blocked by this one


def test_only_failures_count():
    """Are successful sign-ins free (nothing counted), so a class signing in costs no allowance?"""
    failures = signin.Failures(per_name=1, per_address=1)
    assert failures.blocked("ada", NAT) is None  # asking is not counting
    assert failures.blocked("ada", NAT) is None


def test_hashing_runs_at_most_its_threads_at_once_and_refuses_beyond_the_wait():
    """With 2 threads and 3 waiting places, do 12 simultaneous sign-ins run 2 at a time, 5 served, 7 told busy?"""
    pool = signin.HashPool(threads=2, waiting=3)
    running, peak, lock = [0], [0], threading.Lock()
    gate = threading.Event()

    def slow_hash():
        with lock:
            running[0] += 1
            peak[0] = max(peak[0], running[0])
        gate.wait(10)
        with lock:
            running[0] -= 1
        return "ok"

    async def main():
        tasks = [asyncio.ensure_future(pool.run(slow_hash)) for _ in range(12)]
        await asyncio.sleep(0.2)
        assert pool.queued == 5
        gate.set()
        return await asyncio.gather(*tasks, return_exceptions=True)

    out = asyncio.run(main())
    served = [o for o in out if o == "ok"]
    busy = [o for o in out if isinstance(o, signin.BusyError)]
    assert len(served) == 5 and len(busy) == 7 and peak[0] == 2
    assert "try again in a few seconds" in str(busy[0])
    assert pool.queued == 0  # every slot given back, also after refusals


def test_the_event_loop_keeps_running_while_hashes_are_computed():
    """Does the loop tick while real scrypt hashes run in the pool (they release the GIL, off the loop)?"""
    from autograder.server.accounts import hash_password

    pool = signin.HashPool(threads=2, waiting=16)

    async def main():
        ticks = 0
        jobs = asyncio.gather(*(pool.run(hash_password, "a password") for _ in range(6)))
        while not jobs.done():
            ticks += 1
            await asyncio.sleep(0)
        return ticks, await jobs

    ticks, hashes = asyncio.run(main())
    assert len(set(hashes)) == 6 and all(h.startswith("scrypt$") for h in hashes)
    assert ticks > 6  # the loop ran between (and during) the hashes, not once after them


@pytest.mark.skipif(not hasattr(os, "setpriority"), reason="no per-thread priority on this system")
def test_hashing_threads_run_below_the_event_loop():
    """Is a hashing thread's nice value above the caller's (the event loop is served first)?"""
    pool = signin.HashPool(threads=1, waiting=1)
    mine = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    theirs = asyncio.run(pool.run(lambda: os.getpriority(os.PRIO_PROCESS, threading.get_native_id())))
    assert theirs == min(19, mine + signin.HASH_NICE)
