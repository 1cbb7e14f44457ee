"""Stop 22, class "CPU a limit does not see": the whole sandbox may keep at most ``Limits.cpus`` cores busy.

RLIMIT_CPU bounds the CPU seconds of each process, not how many processes or threads spin at once: a
student's code that starts busy children (32 tasks are allowed) took every core of the host for as long as
its notebook was graded (up to ``--notebook-budget``), and with it the CPU that the wall-clock deadlines
of *other* students' gradings on the same machine (``grade-course --workers N``, the course server) count
on. The fix is a kernel mechanism, a CPU quota on the sandbox's cgroup (``cgroups``: v2 ``cpu.max``, v1
``cpu.cfs_quota_us``). The tests read the kernel's own files from the host, never a clock: every task of the
sandbox is in a cgroup whose quota is at most ``cpus`` cores, and the kernel's count of periods it held
that cgroup back (``nr_throttled``) grew while the payload ran.

Payloads ``tuned:`` were fixed against; ``held-out:`` were written before the fix first ran on them and were
run once, unchanged.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from autograder.sandbox import Limits, Sandbox, cgroups, isolation

pytestmark = pytest.mark.skipif(isolation.detect() != "bwrap" or cgroups.detect() is None,
                                reason="needs bubblewrap and a usable cgroup hierarchy")

CPUS = 0.1  # a tenth of a core: any one busy task goes over it within one 100 ms period
SPIN = 6.0  # how long each payload's tasks spin (they are killed with the sandbox before that ends)

COMMON = f'''
import os, sys, time, threading
SPIN = {SPIN}
def _spin(seconds=SPIN):
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        pass
def wait(seconds):
    time.sleep(seconds)
    return True
'''

PAYLOADS = {
    "tuned: four forked children spinning": '''
def run():
    for _ in range(4):
        if os.fork() == 0:
            _spin()
            os._exit(0)
    return True
''',
    "held-out: four threads spinning in pure Python": '''
def run():
    for _ in range(4):
        threading.Thread(target=_spin, daemon=True).start()
    return True
''',
    "held-out: new interpreters started by subprocess": '''
import subprocess
def run():
    global _kids
    _kids = [subprocess.Popen([sys.executable, "-I", "-S", "-c",
                               "import time\\nend = time.monotonic() + %r\\nwhile time.monotonic() < end: pass" % SPIN])
             for _ in range(3)]
    return True
''',
    "held-out: a double-forked setsid daemon spinning after the call returned": '''
def run():
    if os.fork() == 0:
        os.setsid()
        if os.fork() == 0:
            for _ in range(3):
                if os.fork() == 0:
                    break
            _spin()
        os._exit(0)
    os.wait()
    return True
''',
    "held-out: children that lower their own priority and scheduling class": '''
def run():
    for policy in ("SCHED_BATCH", "SCHED_IDLE", None):
        if os.fork() == 0:
            try:
                os.nice(19)
                if policy:
                    os.sched_setscheduler(0, getattr(os, policy), os.sched_param(0))
            except OSError:
                pass
            _spin()
            os._exit(0)
    return True
''',
    "held-out: NumPy products in threads (the GIL released)": '''
import numpy as np
def _products():
    a = np.random.default_rng(0).normal(size=(200, 200))
    end = time.monotonic() + SPIN
    while time.monotonic() < end:
        a = np.tanh(a @ a)
def run():
    for _ in range(3):
        threading.Thread(target=_products, daemon=True).start()
    return True
''',
    "held-out: forks up to the task limit, each spinning": '''
def run():
    for _ in range(40):
        try:
            pid = os.fork()
        except OSError:
            break
        if pid == 0:
            _spin()
            os._exit(0)
    return True
''',
}


def _cpu_cgroup(pid: int) -> Path | None:
    """The directory of ``pid``'s cgroup in the hierarchy holding the cpu controller (v1 ``cpu``, else v2)."""
    mounts = cgroups._mounts()
    try:
        lines = Path(f"/proc/{pid}/cgroup").read_text().splitlines()
    except OSError:
        return None  # the task ended
    paths = {}
    for line in lines:
        _, names, path = line.split(":", 2)
        for name in names.split(",") if names else [""]:
            paths[name] = path
    for point, fstype, options in mounts:
        if fstype == "cgroup" and "cpu" in options and "cpu" in paths:
            return Path(point) / paths["cpu"].lstrip("/")
    for point, fstype, _ in mounts:
        if fstype == "cgroup2" and "" in paths:
            return Path(point) / paths[""].lstrip("/")
    return None


def _quota_cores(group: Path) -> float | None:
    """The cgroup's CPU quota in cores, None if it has none (``max`` / ``-1``)."""
    if (group / "cpu.max").exists():
        quota, period = (group / "cpu.max").read_text().split()
        return None if quota == "max" else int(quota) / int(period)
    quota = int((group / "cpu.cfs_quota_us").read_text())
    return None if quota < 0 else quota / int((group / "cpu.cfs_period_us").read_text())


def _tasks(pids: list[int]) -> int:
    """Threads of the processes ``pids`` (``cgroup.procs`` lists processes; the quota applies to every thread)."""
    total = 0
    for pid in pids:
        try:
            total += len(list(Path(f"/proc/{pid}/task").iterdir()))
        except OSError:
            pass  # ended meanwhile
    return total


def _throttled(group: Path) -> int:
    for line in (group / "cpu.stat").read_text().splitlines():
        key, _, value = line.partition(" ")
        if key == "nr_throttled":
            return int(value)
    return 0


@pytest.mark.parametrize("name", list(PAYLOADS))
def test_the_whole_sandbox_keeps_at_most_its_cpu_quota_busy(name):
    with Sandbox(Limits(wall=30, cpus=CPUS)) as sb:
        sb.exec_cell(COMMON + PAYLOADS[name], "payload")
        tasks_before = sb.cgroup.pids()
        tasks_before_count = _tasks(tasks_before)
        groups_before = {g for g in map(_cpu_cgroup, tasks_before) if g is not None}
        throttled_before = {g: _throttled(g) for g in groups_before}
        assert sb.get("run")() is True
        assert sb.get("wait")(1.5) is True  # the payload's tasks spin meanwhile
        tasks = sb.cgroup.pids()
        assert _tasks(tasks) > tasks_before_count, "control: the payload started tasks of its own"
        groups = {g for g in map(_cpu_cgroup, tasks) if g is not None}
        quotas = {str(g): _quota_cores(g) for g in groups}
        assert all(q is not None and q <= CPUS + 1e-9 for q in quotas.values()), quotas
        assert any(_throttled(g) > throttled_before.get(g, 0) for g in groups), \
            "the kernel never held the sandbox back at its quota"
        assert sb.get("wait")(0.0) is True  # the sandbox still answers


def test_limits_refuse_a_cpu_count_that_is_not_a_positive_number():
    for bad in (0, -1, "1", True):
        with pytest.raises(ValueError, match="Limits.cpus"):
            Limits(cpus=bad)


def test_the_quota_files_are_written_as_each_kernel_interface_expects(tmp_path):
    """v2 (not this machine's) gets ``cpu.max``; v1 ``cpu.cfs_quota_us`` over ``cpu.cfs_period_us``."""
    v2 = tmp_path / "v2"
    v2.mkdir()
    group = cgroups._make(cgroups.Hierarchy(2, {"memory": v2, "pids": v2, "cpu": v2}), memory=2**29, tasks=18,
                          cpus=0.5)
    assert (group.dirs["cpu"] / "cpu.max").read_text() == "50000 100000"
    assert "0.5 CPU cores" in group.describe
    v1 = {c: tmp_path / c for c in ("memory", "pids", "cpu")}
    for path in v1.values():
        path.mkdir()
    group = cgroups._make(cgroups.Hierarchy(1, v1), memory=2**29, tasks=18, cpus=2)
    assert (group.dirs["cpu"] / "cpu.cfs_quota_us").read_text() == "200000"
    assert (group.dirs["cpu"] / "cpu.cfs_period_us").read_text() == "100000"
    plain = cgroups._make(cgroups.Hierarchy(1, {c: v1[c] for c in ("memory", "pids")}), memory=2**29, tasks=18,
                          cpus=2)
    assert plain.cpus is None and "no CPU quota" in plain.describe
