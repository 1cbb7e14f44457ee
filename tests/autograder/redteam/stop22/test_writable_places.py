"""Stop 22, class "storage a limit may not see": every place the sandbox can write is bounded.

Held without a change (written before it first ran, run once): the only writable file systems are the two
tmpfs of ``Limits.disk`` bytes (home and ``/tmp``); ``/dev`` (bubblewrap's own tmpfs, with no size of its
own), ``/dev/shm``, the root and the runtime tree refuse the sandbox user; POSIX shared memory needs
``/dev/shm``; System V shared memory (its own IPC namespace) is memory the cgroup charges, so holding more
than ``Limits.memory`` of it gets the sandbox killed, not the host filled.
"""

from __future__ import annotations

import pytest

from autograder.sandbox import Limits, Sandbox, SandboxFailure, cgroups, isolation

pytestmark = pytest.mark.skipif(isolation.detect() != "bwrap", reason="needs bubblewrap")

DISK = 16 * 2**20
MEMORY = 384 * 2**20

FILL = '''
import os
def fill(directory, mib=64):
    """How many MiB could be written under ``directory`` (0 if nothing could be created)."""
    written = 0
    try:
        for k in range(mib):
            with open(os.path.join(directory, f"fill{k}"), "wb") as f:
                f.write(b"x" * 2**20)
            written += 1
    except OSError:
        pass
    return written

def posix_shm():
    import _posixshmem
    try:
        _posixshmem.shm_open("/stop22", os.O_CREAT | os.O_RDWR, 0o600)
        return "created"
    except OSError as exc:
        return type(exc).__name__

def sysv(mib):
    import ctypes
    libc = ctypes.CDLL(None)
    libc.shmat.restype = ctypes.c_void_p
    held = 0
    for _ in range(64):
        sid = libc.shmget(0, mib * 2**20, 0o1000 | 0o600)
        if sid < 0:
            break
        addr = libc.shmat(sid, None, 0)
        ctypes.memset(addr, 1, mib * 2**20)
        libc.shmdt(ctypes.c_void_p(addr))  # detached, not removed: the segment outlives the mapping
        held += mib
    return held
'''

PLACES = ["/dev/shm", "/dev", "/", "/sandbox", "/var/tmp", "/run", "/usr", "/etc"]


def test_no_place_holds_more_than_the_disk_limit():
    with Sandbox(Limits(wall=60, disk=DISK)) as sb:
        sb.exec_cell(FILL, "fill")
        got = {place: sb.get("fill")(place) for place in PLACES}
        bounded = {"/tmp": sb.get("fill")("/tmp")}
        home = sb.get("fill")(".")
        shm = sb.get("posix_shm")()
    assert got == dict.fromkeys(PLACES, 0), got
    assert 0 < bounded["/tmp"] <= DISK // 2**20 and 0 < home <= DISK // 2**20, (bounded, home)
    assert shm != "created"


@pytest.mark.skipif(cgroups.detect() is None, reason="needs a usable cgroup hierarchy")
def test_system_v_shared_memory_is_charged_to_the_sandbox():
    with Sandbox(Limits(wall=60, memory=MEMORY)) as sb:
        sb.exec_cell(FILL, "fill")
        with pytest.raises(SandboxFailure, match="memory limit"):
            sb.get("sysv")(64)  # 64 segments of 64 MiB: 4 GiB if nothing charged them
        peak = sb.cgroup.peak_memory()
    assert peak is not None and peak <= MEMORY
