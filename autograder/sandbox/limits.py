"""Resource limits of one sandbox and the ``preexec_fn`` that applies them before the interpreter starts."""

from __future__ import annotations

import os
import resource
from dataclasses import dataclass


@dataclass(frozen=True)
class Limits:
    """What one student's sandbox may use.

    ``wall`` bounds each request (one cell, or every call a test cell makes), in seconds;
    ``cpu`` is the CPU time of the whole sandbox process (RLIMIT_CPU, seconds); ``memory`` the memory of
    all the sandbox's processes together (a cgroup's ``memory.max``, see :mod:`.cgroups`) and of each
    process's address space (RLIMIT_AS, bytes, which also turns one huge allocation into a MemoryError);
    ``processes`` the processes and threads of the whole sandbox (a cgroup's ``pids.max``, plus the
    sandbox's own launcher processes) and of its user (RLIMIT_NPROC);
    ``file_size`` the largest file it may write (RLIMIT_FSIZE, bytes); ``open_files`` RLIMIT_NOFILE;
    ``output`` how much of its stdout and stderr the grader keeps (the rest is read and dropped);
    ``disk`` the size of each of its two writable tmpfs (home and ``/tmp``) under bubblewrap;
    ``notebook`` the wall-clock budget of one whole notebook (cells left when it runs out are not run);
    ``cpus`` how many CPU cores all the sandbox's processes together may keep busy at once (a cgroup's CPU
    quota, ``cpu.max`` / ``cpu.cfs_quota_us``): RLIMIT_CPU bounds each process's seconds, not how many
    processes spin at once, so without it one sandbox's busy children took every core of the host, and the
    wall-clock deadlines of other gradings on it (stop 22).
    """

    wall: float = 30.0
    cpu: int = 300
    memory: int = 2 * 2**30
    processes: int = 32
    file_size: int = 16 * 2**20
    open_files: int = 64
    output: int = 64 * 2**10
    disk: int = 64 * 2**20
    notebook: float = 600.0
    startup: float = 20.0
    cpus: float = 1.0

    def __post_init__(self):
        for name in ("wall", "cpu", "memory", "processes", "file_size", "open_files", "output", "disk", "notebook",
                     "startup", "cpus"):
            value = getattr(self, name)
            if not isinstance(value, int | float) or isinstance(value, bool) or value <= 0:
                raise ValueError(f"Limits.{name}: expected a positive number, got {value!r}")


def user_tasks(uid: int) -> int:
    """How many processes and threads ``uid`` runs now (what RLIMIT_NPROC counts)."""
    total = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/status") as f:
                fields = dict(line.split(":", 1) for line in f if ":" in line)
        except OSError:
            continue
        if int(fields.get("Uid", "-1 0").split()[0]) == uid:
            total += int(fields.get("Threads", "1").strip() or 1)
    return total


def rlimits(limits: Limits, already: int = 0) -> dict[int, int]:
    """The ``setrlimit`` values (soft = hard) that ``limits`` asks for.

    ``already`` is how many tasks the user the sandbox runs as has before it starts: RLIMIT_NPROC counts
    them all, so the sandbox gets ``limits.processes`` on top (0 when it has a user of its own).
    """
    return {
        resource.RLIMIT_CORE: 0,
        resource.RLIMIT_CPU: int(limits.cpu),
        resource.RLIMIT_AS: int(limits.memory),
        resource.RLIMIT_FSIZE: int(limits.file_size),
        resource.RLIMIT_NOFILE: int(limits.open_files),
        resource.RLIMIT_NPROC: int(limits.processes) + int(already),
    }


def make_preexec(limits: Limits, uid: int | None, already: int = 0, join=None):
    """A ``preexec_fn``: join the sandbox's cgroup, new session (so the grader can kill the process group),
    limits, then drop to ``uid``.

    ``join`` (from :meth:`.cgroups.Cgroup.joiner`) runs first, while the process is still privileged, so
    the whole sandbox is inside its cgroup from the start. RLIMIT_NPROC counts every process of a user and
    is ignored for root, so the sandbox runs as an otherwise unused ``uid`` whose only processes are this
    sandbox's.
    """
    values = rlimits(limits, already)

    def preexec() -> None:
        if join is not None:
            join()
        os.setsid()
        for which, value in values.items():
            resource.setrlimit(which, (value, value))
        if uid is not None:
            os.setgroups([])
            os.setgid(uid)
            os.setuid(uid)

    return preexec
