"""How the sandbox is isolated on this machine: the command line that starts its interpreter.

Three levels, strongest first:

* ``"bwrap"``: bubblewrap with the network, PID, IPC and UTS namespaces unshared (no network, own
  process tree), a filesystem constructed by :mod:`.runtime` (the Python standard library, NumPy,
  the worker and the OS libraries they load, at neutral paths under ``/sandbox``) and a private
  writable home; plus the resource limits of :mod:`.limits` and an unprivileged user (the worker
  drops to it when the grader runs as root).
* ``"rlimits"``: no bubblewrap; network and PID namespaces via ``unshare -r -n -p`` when available,
  the resource limits and an unprivileged user. The filesystem is not hidden (files readable by every user stay
  readable), so this level is weaker and :func:`detect` says so.
* ``"none"``: a plain child process with no limits, only with ``--unsafe-no-sandbox``.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np

from autograder.sandbox import runtime

HERE = Path(__file__).resolve().parent
CHANNEL = HERE.parent / "channel.py"
WORKER = HERE / "worker.py"
LEVELS = ("bwrap", "rlimits", "none")
SANDBOX_HOME = "/home/student"
UID_BASE = 61000
UID_SPAN = 4000
ENV = {
    "PATH": "/usr/bin:/bin",
    "LANG": "C.UTF-8",
    "OPENBLAS_NUM_THREADS": "1",
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "PYTHONHASHSEED": "0",
    "PYTHONDONTWRITEBYTECODE": "1",
}


def sandbox_uid() -> int | None:
    """An otherwise unused uid for this grader process's sandboxes (``None`` when we cannot switch users)."""
    if os.geteuid() != 0:
        return None
    return UID_BASE + os.getpid() % UID_SPAN


@functools.lru_cache(maxsize=1)
def bwrap_path() -> str | None:
    """The bubblewrap binary if it exists and can create namespaces here as an unprivileged user."""
    path = shutil.which("bwrap")
    if path is None:
        return None
    cmd = [path, "--ro-bind", "/", "/", *_unshare_flags(), "--die-with-parent", "--as-pid-1", "true"]
    if os.geteuid() == 0:
        try:
            ok = subprocess.run(cmd, capture_output=True, timeout=10).returncode == 0
        except (OSError, subprocess.SubprocessError):
            ok = False
        return path if ok else None
    return path if _runs_unprivileged(cmd) else None


def _unshare_flags() -> list[str]:
    # As root, no user namespace: the worker then drops to the sandbox uid, which RLIMIT_NPROC counts
    # (inside a user namespace created by root every process would still count as root, which it ignores).
    if os.geteuid() == 0:
        return ["--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts", "--unshare-cgroup-try",
                "--cap-drop", "ALL", "--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID"]
    return ["--unshare-all", "--cap-drop", "ALL"]


def _runs_unprivileged(cmd: list[str]) -> bool:
    uid = sandbox_uid()

    def drop() -> None:
        if uid is not None:
            os.setgroups([])
            os.setgid(uid)
            os.setuid(uid)

    try:
        return subprocess.run(cmd, preexec_fn=drop, capture_output=True, timeout=10).returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False


@functools.lru_cache(maxsize=1)
def unshare_path() -> str | None:
    """``unshare`` if an unprivileged user can get its own (empty) network namespace with it here."""
    path = shutil.which("unshare")
    return path if path is not None and _runs_unprivileged([path, "-r", "-n", "-p", "-f", "true"]) else None


def detect() -> str | None:
    """The strongest isolation level available, or ``None`` if none enforces limits."""
    if sys.platform != "linux":
        return None
    if bwrap_path() and _runtime_ready():
        return "bwrap"
    if unshare_path() and _interpreter_readable_by(sandbox_uid()):
        return "rlimits"
    return None


@functools.lru_cache(maxsize=1)
def _runtime_ready() -> bool:
    """Whether the constructed filesystem of :mod:`.runtime` could be built (bubblewrap runs nothing else)."""
    try:
        runtime.tree()
    except (OSError, RuntimeError, subprocess.SubprocessError) as exc:
        import warnings

        warnings.warn(f"bubblewrap is here but the sandbox's filesystem could not be built: {exc}", stacklevel=2)
        return False
    return True


def _interpreter_readable_by(uid: int | None) -> bool:
    if uid is None:
        return True
    paths = [Path(sys.executable).resolve(), Path(sys.base_prefix), Path(np.__file__)]
    for path in paths:
        for part in [path, *path.parents]:
            mode = part.stat().st_mode
            if part.is_dir() and not mode & 0o001:
                return False
    return True


def bwrap_command(cmd_fd: int, reply_fd: int, uid: int | None, info_fd: int,
                  disk: int) -> tuple[list[str], list[str]]:
    """``(options, command)`` of ``bwrap OPTIONS -- python -I -S worker.py``.

    The sandbox sees only the tree of :mod:`.runtime` and two tmpfs.

    Started as root, the worker switches to ``uid`` before it reads any student code. bubblewrap
    writes the PID of the sandbox's init process to ``info_fd``: killing it ends every process inside.
    The only writable places are the home and ``/tmp``, two tmpfs of ``disk`` bytes each (memory the
    address-space limit does not count, so they are capped here; RLIMIT_FSIZE caps single files).
    Nothing of the host's ``/usr``, ``/etc`` or the interpreter's prefix is mounted: the OS libraries
    the interpreter needs are copies inside the tree. The list is handed to bubblewrap through
    :func:`args_pipe` (``--args FD``), so the sandbox's ``/proc/1/cmdline`` shows no host path; the
    command itself names only paths inside the sandbox.
    """
    args = ["--die-with-parent", "--new-session", "--info-fd", str(info_fd), *_unshare_flags()]
    args += runtime.bwrap_binds()
    for private in ("/tmp", SANDBOX_HOME):
        args += ["--perms", "0755", "--dir", str(Path(private).parent)] if private == SANDBOX_HOME else []
        args += ["--perms", "1777", "--size", str(int(disk)), "--tmpfs", private]
    # No procfs at all: its mountinfo names the host directory each bind comes from (the tree's cache
    # path), and the rest of it is the host kernel's (loadavg, meminfo, cpuinfo, other counters). Nothing
    # the worker, NumPy or a child interpreter needs lives there (they run without it).
    args += ["--dev", "/dev"]
    args += ["--hostname", "sandbox"]  # its own UTS namespace: not the host's name either
    args += ["--chdir", SANDBOX_HOME, "--clearenv", "--setenv", "HOME", SANDBOX_HOME]
    for key, value in {**ENV, **runtime.ENV}.items():
        args += ["--setenv", key, value]
    command = [*runtime.command(), runtime.WORKER_PATH, runtime.LIB, str(cmd_fd), str(reply_fd)]
    return args, command + ([str(uid)] if uid is not None else [])


def args_pipe(args: list[str]) -> int:
    """A pipe's read end holding ``args`` NUL-separated, for ``bwrap --args FD``."""
    data = b"".join(a.encode() + b"\0" for a in args)
    r, w = os.pipe()
    if len(data) > 65536:
        raise RuntimeError("bubblewrap's argument list does not fit a pipe")
    os.write(w, data)
    os.close(w)
    return r


def interpreter() -> str:
    """The real interpreter binary: a virtual environment's ``bin/python`` is a link that may point
    outside what the sandbox mounts (a venv under ``/tmp`` is hidden by the private ``/tmp``); with
    ``-I -S`` the environment's site-packages are not used anyway.
    """
    return str(Path(sys.executable).resolve())


def lib_dir(workdir: Path) -> Path:
    """Outside bubblewrap: a private copy of the worker's library (channel.py and links to NumPy)."""
    lib = workdir.parent / (workdir.name + "-lib")
    lib.mkdir(exist_ok=True)
    shutil.copy(CHANNEL, lib / "channel.py")
    shutil.copy(WORKER, lib / "worker.py")
    for path in runtime.numpy_dirs():
        if not (lib / path.name).exists():
            (lib / path.name).symlink_to(path)
    return lib


def plain_command(level: str, workdir: Path, cmd_fd: int, reply_fd: int) -> list[str]:
    """The interpreter command for ``"rlimits"`` (inside ``unshare``'s namespaces) or ``"none"``.

    ``"rlimits"`` runs the interpreter of the :mod:`.runtime` tree from where the tree lies on the host, so
    its ``sys.path`` holds the standard library and NumPy only (the host's files stay readable at this
    level); ``"none"`` runs the grader's own interpreter with a private copy of the worker's library.
    """
    if level == "rlimits" and _runtime_ready():
        built = runtime.tree()
        cmd = [str(built / "python" / "bin" / runtime.interpreter_name()), *runtime.command()[1:],
               str(built / "worker.py"), str(built / "lib"), str(cmd_fd), str(reply_fd)]
    else:
        lib = lib_dir(workdir)
        cmd = [interpreter(), "-I", "-S", str(lib / "worker.py"), str(lib), str(cmd_fd), str(reply_fd)]
    return [unshare_path(), "-r", "-n", "-p", "-f", "--kill-child", *cmd] if level == "rlimits" else cmd


def environment(level: str, workdir: Path) -> dict[str, str]:
    """The scrubbed environment of the sandbox's first process (bubblewrap then sets the same one inside).

    Under bubblewrap the home is the neutral ``SANDBOX_HOME``: bubblewrap's own process stays inside the
    sandbox as its init, and its environment is readable there. At ``"rlimits"`` the tree's interpreter
    finds its libraries in the tree.
    """
    env = {**ENV, "HOME": SANDBOX_HOME if level == "bwrap" else str(workdir)}
    if level == "rlimits" and _runtime_ready():
        built = runtime.tree()
        env["LD_LIBRARY_PATH"] = f"{built / 'python' / 'lib'}:{built / 'os'}"
    return env
