"""Kernel limits for a whole sandbox: one cgroup per sandbox caps the memory and tasks of all its processes.

RLIMIT_AS bounds each process, so a student who forks six children gets six address spaces. A cgroup
counts every page and every task of every process in it, children and tmpfs files included:

* **cgroup v2** (unified hierarchy): ``memory.max``, ``memory.swap.max = 0``, ``pids.max`` in one
  directory ``<parent>/autograder-<grader pid>-<n>``;
* **cgroup v1**: the same child directory in the ``memory`` hierarchy (``memory.limit_in_bytes``,
  ``memory.memsw.limit_in_bytes`` when swap is accounted) and in the ``pids`` hierarchy (``pids.max``);
* on both, where the ``cpu`` controller can be used, a CPU quota (v2 ``cpu.max``, v1 ``cpu.cfs_quota_us``):
  all the sandbox's processes together get at most ``Limits.cpus`` cores at any moment. RLIMIT_CPU bounds
  each process's CPU seconds, not how many processes spin at once: 32 busy children took every core of the
  host, and with it the wall-clock deadlines of every other grading there (stop 22). The quota is optional:
  without the controller the sandbox still runs and :attr:`Cgroup.describe` says "no CPU quota".

The parent is the grader's own cgroup (so the sandbox also stays inside whatever limits the grader has)
or, on v2 when the grader's cgroup cannot delegate controllers, the root of the hierarchy. Which one is
used is decided at run time by :func:`detect` and reported by :attr:`Cgroup.describe`; where neither
is writable the sandbox keeps only its per-process rlimits and says so (``Sandbox.limits_used`` and a
:class:`LimitWarning`).

The first process of the sandbox joins the cgroup in its ``preexec_fn`` (before ``exec``), so everything it
starts is inside from its first instruction. :meth:`Cgroup.remove` kills what is left and removes the
directories; :func:`sweep` removes directories left by graders that died (their pid is gone).

Not covered: kernel memory the cgroup does not charge (some kernel objects), and a grader killed
between creating a cgroup and removing it leaves an empty directory until the next grader's sweep.
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import os
import signal
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

PREFIX = "autograder-"
_counter = itertools.count()


class LimitWarning(UserWarning):
    """The sandbox runs with per-process limits only: no cgroup controller could be used here."""


@dataclass
class Hierarchy:
    """Where sandbox cgroups go: ``version`` 1 or 2 and one parent directory per controller."""

    version: int
    parents: dict[str, Path]  # controller name -> parent directory ("memory", "pids", maybe "cpu"); v2: all the same


@dataclass
class Cgroup:
    """One sandbox's cgroup (its directories in each hierarchy) and the limits written into it."""

    version: int
    dirs: dict[str, Path]
    memory: int
    tasks: int
    cpus: float | None = None  # the CPU quota in cores, or None where no cpu controller could be used
    removed: bool = field(default=False)

    @property
    def describe(self) -> str:
        """What is enforced, for ``grade``'s output: e.g. ``cgroup v1: memory 512 MiB, 18 tasks, whole sandbox``."""
        cpu = f", {self.cpus:g} CPU cores" if self.cpus is not None else " (no CPU quota: no usable cpu controller)"
        return (f"cgroup v{self.version}: memory {self.memory / 2**20:g} MiB and {self.tasks} tasks{cpu} "
                "for the whole sandbox")

    def limit_cpu(self, cpus: float) -> None:
        """Cap the whole cgroup at ``cpus`` cores (before any process joins), where the cpu controller is usable."""
        if "cpu" not in self.dirs:
            return
        quota, period = _cpu_quota(cpus)
        if self.version == 2:
            (self.dirs["cpu"] / "cpu.max").write_text(f"{quota} {period}")
        else:
            (self.dirs["cpu"] / "cpu.cfs_period_us").write_text(str(period))
            (self.dirs["cpu"] / "cpu.cfs_quota_us").write_text(str(quota))
        self.cpus = float(cpus)

    def throttled(self) -> int:
        """How many scheduling periods the kernel held the sandbox back at its CPU quota (``cpu.stat``)."""
        if "cpu" not in self.dirs:
            return 0
        with contextlib.suppress(OSError, ValueError):
            for line in (self.dirs["cpu"] / "cpu.stat").read_text().splitlines():
                key, _, value = line.partition(" ")
                if key == "nr_throttled":
                    return int(value)
        return 0

    def _procs_files(self) -> list[Path]:
        return sorted({d / "cgroup.procs" for d in self.dirs.values()})

    def joiner(self):
        """A function that moves the calling process into the cgroup (for a ``preexec_fn``: paths made now)."""
        files = [str(p) for p in self._procs_files()]

        def join() -> None:
            pid = str(os.getpid()).encode()
            for procs in files:
                fd = os.open(procs, os.O_WRONLY)
                try:
                    os.write(fd, pid)
                finally:
                    os.close(fd)

        return join

    def pids(self) -> list[int]:
        """The processes now in the cgroup."""
        found: set[int] = set()
        for procs in self._procs_files():
            with contextlib.suppress(OSError):
                found |= {int(p) for p in procs.read_text().split()}
        return sorted(found)

    def peak_memory(self) -> int | None:
        """The most memory the cgroup ever held, in bytes (``memory.peak`` / ``memory.max_usage_in_bytes``)."""
        name = "memory.peak" if self.version == 2 else "memory.max_usage_in_bytes"
        with contextlib.suppress(OSError, ValueError):
            return int((self.dirs["memory"] / name).read_text().split()[0])
        return None

    def oom_kills(self) -> int:
        """How many processes the kernel killed for going over the memory limit."""
        name = "memory.events" if self.version == 2 else "memory.oom_control"
        with contextlib.suppress(OSError, ValueError):
            for line in (self.dirs["memory"] / name).read_text().splitlines():
                key, _, value = line.partition(" ")
                if key == "oom_kill":
                    return int(value)
        return 0

    def kill(self, timeout: float = 5.0) -> None:
        """SIGKILL every process in the cgroup, until it is empty (``cgroup.kill`` on v2)."""
        deadline = time.monotonic() + timeout
        if self.version == 2:
            with contextlib.suppress(OSError):
                (self.dirs["memory"] / "cgroup.kill").write_text("1")
        while (pids := self.pids()) and time.monotonic() < deadline:
            for pid in pids:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, signal.SIGKILL)
            time.sleep(0.01)

    def remove(self, timeout: float = 5.0) -> None:
        """Kill what is left and delete the cgroup's directories (retrying while the kernel frees them)."""
        if self.removed:
            return
        self.kill(timeout)
        deadline = time.monotonic() + timeout
        for path in sorted(set(self.dirs.values())):
            while path.exists():
                try:
                    path.rmdir()
                except FileNotFoundError:
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        warnings.warn(f"could not remove the sandbox cgroup {path}", LimitWarning, stacklevel=2)
                        break
                    time.sleep(0.02)
        self.removed = True


# ----------------------------------------------------------------------------- finding a hierarchy
def _mounts() -> list[tuple[str, str, set[str]]]:
    """``(mount point, fstype, super options)`` of every cgroup mount this process sees."""
    found = []
    with contextlib.suppress(OSError), open("/proc/self/mountinfo") as f:
        for line in f:
            left, _, right = line.partition(" - ")
            fields, tail = left.split(), right.split()
            if len(fields) >= 5 and len(tail) >= 3 and tail[0] in ("cgroup", "cgroup2"):
                found.append((fields[4].replace("\\040", " "), tail[0], set(tail[2].split(","))))
    return found


def _own_paths() -> dict[str, str]:
    """The calling process's cgroup in each hierarchy: ``{"": v2 path, "memory": v1 path, ...}``."""
    paths = {}
    with contextlib.suppress(OSError), open("/proc/self/cgroup") as f:
        for line in f:
            parts = line.rstrip("\n").split(":", 2)
            if len(parts) == 3:
                for name in parts[1].split(",") if parts[1] else [""]:
                    paths[name] = parts[2]
    return paths


def _writable_dir(path: Path) -> bool:
    return path.is_dir() and os.access(path, os.W_OK | os.X_OK)


def _v2_parent(mount: Path, own: str) -> Path | None:
    for parent in (mount / own.lstrip("/"), mount):
        controllers = (parent / "cgroup.controllers")
        try:
            available = set(controllers.read_text().split())
            enabled = set((parent / "cgroup.subtree_control").read_text().split())
        except OSError:
            continue
        if not {"memory", "pids"} <= available or not _writable_dir(parent):
            continue
        missing = {"memory", "pids"} - enabled
        if missing:
            try:
                (parent / "cgroup.subtree_control").write_text(" ".join(f"+{c}" for c in sorted(missing)))
            except OSError:
                continue  # a v2 cgroup with processes of its own cannot hand controllers to children
        return parent
    return None


@functools.lru_cache(maxsize=1)
def detect() -> Hierarchy | None:
    """The hierarchy sandbox cgroups are made in: v2 if it has both controllers, else v1, else ``None``."""
    own = _own_paths()
    mounts = _mounts()
    for point, fstype, _ in mounts:
        if fstype == "cgroup2" and "" in own:
            parent = _v2_parent(Path(point), own[""])
            if parent is not None:
                parents = {"memory": parent, "pids": parent}
                if _v2_enable_cpu(parent):
                    parents["cpu"] = parent
                found = _with_optional_cpu(2, parents)
                if found is not None:
                    return found
    parents = {}
    for point, fstype, options in mounts:
        for controller in ("memory", "pids", "cpu"):
            if fstype == "cgroup" and controller in options and controller in own and controller not in parents:
                parent = Path(point) / own[controller].lstrip("/")
                if _writable_dir(parent):
                    parents[controller] = parent
    if {"memory", "pids"} <= set(parents):
        return _with_optional_cpu(1, parents)
    return None


def _v2_enable_cpu(parent: Path) -> bool:
    """Hand the cpu controller to ``parent``'s children if it can (optional: without it, no CPU quota)."""
    try:
        if "cpu" not in (parent / "cgroup.controllers").read_text().split():
            return False
        if "cpu" not in (parent / "cgroup.subtree_control").read_text().split():
            (parent / "cgroup.subtree_control").write_text("+cpu")
        return "cpu" in (parent / "cgroup.subtree_control").read_text().split()
    except OSError:
        return False


def _with_optional_cpu(version: int, parents: dict[str, Path]) -> Hierarchy | None:
    """The hierarchy with its cpu controller if a cgroup with a quota can be made there, else without it."""
    if "cpu" in parents and _probe(version, parents):
        return Hierarchy(version, parents)
    plain = {c: p for c, p in parents.items() if c != "cpu"}
    return Hierarchy(version, plain) if _probe(version, plain) else None


def _probe(version: int, parents: dict[str, Path]) -> bool:
    # Writable directories are not enough (a read-only bind, a seccomp filter): create and remove one.
    try:
        group = _make(Hierarchy(version, parents), memory=2**30, tasks=64, cpus=1.0)
    except OSError:
        return False
    group.remove()
    return True


# ----------------------------------------------------------------------------- making one
def _cpu_quota(cpus: float) -> tuple[int, int]:
    """``(quota, period)`` in microseconds for ``cpus`` cores (the kernel takes a quota of at least 1 ms)."""
    period = 100_000
    return max(1_000, int(cpus * period)), period


def _make(hierarchy: Hierarchy, memory: int, tasks: int, cpus: float | None = None) -> Cgroup:
    name = f"{PREFIX}{os.getpid()}-{next(_counter)}"
    dirs = {c: p / name for c, p in hierarchy.parents.items()}
    group = Cgroup(hierarchy.version, dirs, int(memory), int(tasks))
    try:
        for path in sorted(set(dirs.values())):
            path.mkdir()
        if hierarchy.version == 2:
            (dirs["memory"] / "memory.max").write_text(str(int(memory)))
            with contextlib.suppress(OSError):
                (dirs["memory"] / "memory.swap.max").write_text("0")
            (dirs["pids"] / "pids.max").write_text(str(int(tasks)))
        else:
            (dirs["memory"] / "memory.limit_in_bytes").write_text(str(int(memory)))
            with contextlib.suppress(OSError):  # only where swap is accounted
                (dirs["memory"] / "memory.memsw.limit_in_bytes").write_text(str(int(memory)))
            (dirs["pids"] / "pids.max").write_text(str(int(tasks)))
        if cpus is not None:
            group.limit_cpu(cpus)
    except OSError:
        group.remove()
        raise
    return group


def create(memory: int, tasks: int, cpus: float | None = None) -> Cgroup | None:
    """A new cgroup capping ``memory`` bytes, ``tasks`` tasks and ``cpus`` cores, or ``None`` if none can be made.

    The CPU quota applies where a cpu controller is usable (``Cgroup.cpus`` is None otherwise).
    """
    hierarchy = detect()
    if hierarchy is None:
        return None
    sweep(hierarchy)
    try:
        return _make(hierarchy, memory, tasks, cpus)
    except OSError as exc:
        warnings.warn(f"could not create a sandbox cgroup ({exc}); per-process limits only", LimitWarning,
                      stacklevel=2)
        return None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def sweep(hierarchy: Hierarchy | None = None) -> list[Path]:
    """Remove the empty sandbox cgroups of graders that no longer run; returns what was removed."""
    hierarchy = hierarchy or detect()
    removed: list[Path] = []
    if hierarchy is None:
        return removed
    for parent in set(hierarchy.parents.values()):
        with contextlib.suppress(OSError):
            for entry in parent.iterdir():
                owner = entry.name[len(PREFIX):].split("-")[0] if entry.name.startswith(PREFIX) else ""
                if owner.isdigit() and not _alive(int(owner)):
                    with contextlib.suppress(OSError):
                        entry.rmdir()
                        removed.append(entry)
    return removed


def leftovers() -> list[Path]:
    """The sandbox cgroups of the calling grader process that still exist (none once all are closed)."""
    hierarchy = detect()
    if hierarchy is None:
        return []
    mine = f"{PREFIX}{os.getpid()}-"
    return sorted(p for parent in set(hierarchy.parents.values()) for p in parent.iterdir()
                  if p.name.startswith(mine))
