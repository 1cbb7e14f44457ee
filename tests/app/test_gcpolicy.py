"""Does the GC policy keep built sessions out of collections and still free closed sessions' cycles?"""

import gc
import logging
import time
import weakref

import pytest

from simulator.app import gcpolicy


class Node:
    pass


@pytest.fixture
def policy(monkeypatch):
    monkeypatch.setattr(gcpolicy, "THAW_EVERY", 3)
    monkeypatch.setitem(gcpolicy.STATE, "closed", 0)
    monkeypatch.setitem(gcpolicy.STATE, "open", 0)
    yield gcpolicy
    gc.unfreeze()


def _cycle():
    node = Node()
    node.me = node  # a reference cycle: only the cyclic collector frees it
    return node, weakref.ref(node)


def test_a_built_session_is_not_walked_and_its_cycles_wait_for_the_thaw(policy):
    """Objects alive at a build are frozen; once garbage, they survive full collections until the third closure."""
    node, alive = _cycle()
    before = gc.get_freeze_count()
    policy._freeze_built(None)  # the next session is about to be built: node is long-lived now
    assert gc.get_freeze_count() > before
    del node
    gc.collect()
    assert alive() is not None  # frozen: a full collection does not walk it
    policy._closed(None)
    policy._closed(None)
    gc.collect()
    assert alive() is not None
    policy._closed(None)  # the third closure thaws: the next full collection frees it
    assert gc.get_freeze_count() == 0
    gc.collect()
    assert alive() is None


def test_young_garbage_is_collected_before_a_freeze(policy):
    """A cycle that is garbage already when the next session is built is freed, not frozen."""
    node, alive = _cycle()
    del node
    policy._freeze_built(None)
    assert alive() is None


def test_long_collections_are_logged(caplog):
    """A collection of at least LOG_MS is one log line naming its generation."""
    with caplog.at_level(logging.INFO, logger="simulator.app"):
        gcpolicy._timed("start", {})
        time.sleep(gcpolicy.LOG_MS / 1000 + 0.02)
        gcpolicy._timed("stop", {"generation": 2, "collected": 7})
        gcpolicy._timed("start", {})
        gcpolicy._timed("stop", {"generation": 0, "collected": 0})
    lines = [r.getMessage() for r in caplog.records if "gc pause" in r.getMessage()]
    assert len(lines) == 1 and "generation 2, 7 collected" in lines[0]


@pytest.mark.parametrize("raw", ["0", "-2", "1.5", "many", "1e3"])
def test_a_bad_thaw_interval_in_the_environment_is_refused_naming_it(raw):
    with pytest.raises(ValueError, match="RNN_GC_THAW_EVERY: got"):
        gcpolicy.thaw_every_from_env({"RNN_GC_THAW_EVERY": raw})


def test_the_thaw_interval_defaults_to_every_closure():
    assert gcpolicy.thaw_every_from_env({}) == 1 and gcpolicy.thaw_every_from_env({"RNN_GC_THAW_EVERY": "16"}) == 16


@pytest.mark.parametrize("bad", [0, -3, 2.5, "8"])
def test_a_bad_thaw_interval_is_refused_with_its_value(bad):
    with pytest.raises(ValueError, match="thaw_every: got"):
        gcpolicy.install(thaw_every=bad)


def test_with_many_sessions_open_a_thaw_waits_for_a_tenth_of_them_to_close(monkeypatch):
    """50 open, THAW_EVERY 1: the first four closures hold (thaw_after(46) = 5), the fifth thaws; an emptied
    server thaws at each closure."""
    monkeypatch.setattr(gcpolicy, "THAW_EVERY", 1)
    monkeypatch.setitem(gcpolicy.STATE, "closed", 0)
    monkeypatch.setitem(gcpolicy.STATE, "open", 50)
    thaws = gcpolicy.STATE["thaws"]
    try:
        for _ in range(4):
            gcpolicy._closed(None)
        assert gcpolicy.STATE["thaws"] == thaws
        gcpolicy._closed(None)
        assert gcpolicy.STATE["thaws"] == thaws + 1 and gcpolicy.STATE["closed"] == 0
        monkeypatch.setitem(gcpolicy.STATE, "open", 1)
        gcpolicy._closed(None)  # the last one: nothing is held on an empty server
        assert gcpolicy.STATE["thaws"] == thaws + 2 and gcpolicy.STATE["open"] == 0
    finally:
        gc.unfreeze()


@pytest.mark.parametrize("open_sessions, every, expected", [(0, 1, 1), (5, 1, 1), (11, 1, 2), (100, 1, 10),
                                                             (100, 16, 16), (-3, 2, 2)])
def test_thaw_after_is_the_larger_of_the_interval_and_a_tenth_of_the_open(monkeypatch, open_sessions, every,
                                                                           expected):
    monkeypatch.setattr(gcpolicy, "THAW_EVERY", every)
    assert gcpolicy.thaw_after(open_sessions) == expected
