"""One running sandbox: start the isolated interpreter, talk to it through the channel, kill it."""

from __future__ import annotations

import contextlib
import json
import os
import select
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import warnings
from pathlib import Path

from autograder import channel
from autograder.sandbox import cgroups, isolation
from autograder.sandbox.limits import Limits, make_preexec, user_tasks

SIGNALS = {
    signal.SIGKILL: "killed (SIGKILL): over the memory or process limits, or stopped by the grader",
    signal.SIGSEGV: "crashed with a segmentation fault (SIGSEGV)",
    signal.SIGXCPU: "used up its CPU time limit (SIGXCPU)",
    signal.SIGXFSZ: "wrote a file over the size limit (SIGXFSZ)",
    signal.SIGABRT: "aborted (SIGABRT)",
    signal.SIGBUS: "crashed with a bus error (SIGBUS)",
    signal.SIGFPE: "crashed with a floating point exception (SIGFPE)",
}


# Tasks of the sandbox's cgroup that are not the student's: bubblewrap and the init of its PID namespace,
# or unshare and its forked child.
# bubblewrap and its init, the launcher of the rlimits level; and the worker's output relay (worker._start_relay)
LAUNCHER_TASKS = {"bwrap": 3, "rlimits": 2, "none": 1}
GRADER_PACKAGES = ("autograder",)  # a cell's imports of these are dropped in the sandbox, which lacks them
_warned: list[bool] = []


class SandboxFailure(BaseException):
    """The sandbox crashed, exited, timed out or broke the protocol; the test cell it happened in fails.

    A ``BaseException`` on purpose: a check's ``except Exception`` must not turn it into a
    different message, and the pipeline must see it to restart the sandbox.
    """


class SandboxUnavailableError(RuntimeError):
    """No isolation that enforces limits exists here, and the unsafe mode was not asked for."""


class _GraderPeer(channel.Peer):
    """The grader's end: every request runs under the session's deadline; a broken sandbox is killed."""

    def __init__(self, session: Sandbox, rfd: int, wfd: int):
        # Grader-side functions handed to the student are bounded by the case they came with (channel.Guard);
        # half the wall time, so that the refusal, not the timeout, names the cause.
        # NB: write_back=False: a reply never writes into the grader's objects (docs/redteam.md, H14)
        super().__init__(rfd, wfd, owner="grader", remote_name="sandbox", guard_seconds=session.limits.wall / 2,
                         write_back=False, defang_text=True)
        self.session = session
        self.depth = 0
        self.what = "the student's code"

    def request(self, header: dict, payload=None):
        if self.session.dead:
            raise SandboxFailure(self.session.dead)
        if self.depth == 0 and self.session.cgroup is not None:
            self.session.oom_before = self.session.cgroup.oom_kills()
        self.depth += 1
        try:
            return super().request(header, payload)
        except channel.ChannelTimeoutError:
            self.session.kill(f"timed out: no answer within {self.session.limits.wall:g} s while running "
                              f"{self.what} (an endless loop or a long sleep?)")
        except channel.ChannelClosedError:
            self.session.kill(self.session.exit_reason(f"while running {self.what}"))
        except channel.ProtocolError as exc:
            self.session.kill(f"sent malformed data while running {self.what}: {exc}")
        except channel.TooLargeError:
            raise  # NB: nothing was written; the sandbox is still in step
        except (ValueError, RecursionError, TypeError) as exc:
            if isinstance(exc, channel.RemoteError):
                raise
            raise TypeError(f"cannot send this value to the student's code: {exc}") from None
        finally:
            self.depth -= 1
            if self.depth == 0:
                # Grader-side functions handed to the student are valid only during the call they came with.
                self.objects.clear()
        raise SandboxFailure(self.session.dead)

    def call(self, target, args, kwargs):
        previous, self.what = self.what, f"{target.__name__}()"
        try:
            return super().call(target, args, kwargs)
        finally:
            self.what = previous


class Sandbox:
    """A student's interpreter behind the channel.

    ``level`` is ``"bwrap"``, ``"rlimits"``, ``"none"`` or ``"auto"`` (the strongest available;
    :class:`SandboxUnavailableError` if there is none and ``unsafe`` is false).
    """

    def __init__(self, limits: Limits | None = None, level: str = "auto", unsafe: bool = False):
        self.limits = limits or Limits()
        if level == "auto":
            level = isolation.detect() or ("none" if unsafe else "")
            if not level:
                raise SandboxUnavailableError(
                    "no sandbox that enforces limits is available on this machine (needs Linux with bubblewrap, "
                    "or unprivileged user namespaces); pass --unsafe-no-sandbox to grade without one")
        if level not in isolation.LEVELS:
            raise ValueError(f"level: expected one of {isolation.LEVELS} or 'auto', got {level!r}")
        if level == "none" and not unsafe:
            raise SandboxUnavailableError("level 'none' runs student code without limits; it needs unsafe=True")
        self.level = level
        self.proc: subprocess.Popen | None = None
        self.peer: _GraderPeer | None = None
        self.dead: str = "not started"
        self.output = bytearray()
        self._dropped = [0]
        self._tmp: Path | None = None
        self._init_pid: int | None = None
        self.cgroup: cgroups.Cgroup | None = None
        self.oom_before = 0  # the cgroup's OOM kills before the current request
        self.limits_used = "not started"

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> None:
        """Start a fresh interpreter and wait until its worker says it is ready."""
        self.close()
        self._tmp = Path(tempfile.mkdtemp(prefix="autograder-"))
        workdir = self._tmp / "home"
        workdir.mkdir()
        uid = isolation.sandbox_uid() if self.level != "none" else None
        if uid is not None:
            os.chown(workdir, uid, uid)
        cmd_r, cmd_w = os.pipe()
        reply_r, reply_w = os.pipe()
        out_r, out_w = os.pipe()
        info_r, info_w = os.pipe() if self.level == "bwrap" else (None, None)
        args_r = None
        if self.level == "bwrap":
            options, command = isolation.bwrap_command(cmd_r, reply_w, uid, info_w, self.limits.disk)
            args_r = isolation.args_pipe(options)
            argv = [isolation.bwrap_path(), "--args", str(args_r), "--", *command]
        else:
            argv = isolation.plain_command(self.level, workdir, cmd_r, reply_w)
        passed = tuple(fd for fd in (cmd_r, reply_w, info_w, args_r) if fd is not None)
        switch = uid if self.level == "rlimits" else None
        # Without a user of its own (grader not root) the sandbox shares RLIMIT_NPROC with the grader's user.
        already = user_tasks(os.geteuid()) if uid is None else 0
        already += 1  # NB: the worker's output relay is the sandbox user's task too, not one of the student's
        self.cgroup = self._make_cgroup()
        join = self.cgroup.joiner() if self.cgroup is not None else None
        preexec = make_preexec(self.limits, switch, already, join) if self.level != "none" else os.setsid
        try:
            self.proc = subprocess.Popen(
                argv, stdin=subprocess.DEVNULL, stdout=out_w, stderr=out_w, pass_fds=passed,
                cwd="/" if self.level == "bwrap" else workdir, env=isolation.environment(self.level, workdir),
                preexec_fn=preexec, close_fds=True)
        finally:
            for fd in (*passed, out_w):
                os.close(fd)
        self._init_pid = self._read_init_pid(info_r) if info_r is not None else None
        self.output, self._dropped = bytearray(), [0]
        threading.Thread(target=self._drain, args=(out_r, self.output, self._dropped), daemon=True).start()
        os.set_blocking(cmd_w, False)  # writes honour the deadline even if the sandbox stops reading
        self.peer = _GraderPeer(self, reply_r, cmd_w)
        self.dead = ""
        self.peer.deadline = time.monotonic() + self.limits.startup
        try:
            header, _ = self.peer.receive()
        except (channel.ProtocolError, channel.ChannelTimeoutError) as exc:
            self.kill(self.exit_reason("while starting"))
            raise SandboxFailure(f"{self.dead} ({exc}); output: {self.output_text()[-2000:]}") from None
        if header.get("op") != "ready":
            self.kill("the sandbox did not start properly")
            raise SandboxFailure(self.dead)

    def _make_cgroup(self) -> cgroups.Cgroup | None:
        """The kernel limits of the whole sandbox, or ``None`` (and a loud fallback) where there are none.

        ``limits_used`` says which applied, for ``grade``'s output.
        """
        if self.level == "none":
            self.limits_used = "none (--unsafe-no-sandbox)"
            return None
        group = cgroups.create(self.limits.memory, self.limits.processes + LAUNCHER_TASKS[self.level])
        if group is not None:
            try:
                group.limit_cpu(self.limits.cpus)  # NB: before any process of the sandbox joins the cgroup
            except OSError as exc:
                warnings.warn(f"sandbox CPU quota could not be set ({exc}); the sandbox may use every core",
                              cgroups.LimitWarning, stacklevel=3)
            self.limits_used = group.describe
            return group
        self.limits_used = (f"rlimits per process only: memory {self.limits.memory / 2**20:g} MiB per process, "
                            f"{self.limits.processes} processes of the sandbox user (no writable cgroup "
                            "memory and pids controllers on this machine)")
        if not _warned:
            _warned.append(True)
            warnings.warn(f"sandbox limits: {self.limits_used}; a student's forked children can together use "
                          "more memory than --memory", cgroups.LimitWarning, stacklevel=3)
        return None

    def _read_init_pid(self, fd: int) -> int | None:
        """Bubblewrap's ``{"child-pid": N}`` (``None`` outside bubblewrap or if it did not say)."""
        data, info = b"", None
        deadline = time.monotonic() + self.limits.startup
        with os.fdopen(fd, "rb", buffering=0) as stream:
            while info is None and select.select([stream], [], [], max(deadline - time.monotonic(), 0))[0]:
                chunk = stream.read(4096)
                if not chunk:
                    break
                data += chunk
                with contextlib.suppress(ValueError):
                    info = json.loads(data)
        pid = info.get("child-pid") if isinstance(info, dict) else None
        return pid if type(pid) is int and pid > 1 else None

    def _drain(self, fd: int, kept: bytearray, dropped: list[int]) -> None:
        # Keep the first ``limits.output`` bytes, then stop reading and close the pipe: reading and dropping a flood
        # for the sandbox's lifetime cost the grader half a core (stop 22). The worker's relay then drops the rest
        # inside the sandbox (worker._start_relay), so the student's prints neither block nor fail.
        with os.fdopen(fd, "rb", buffering=0) as stream:
            while chunk := stream.read(min(65536, self.limits.output - len(kept) + 1)):
                room = max(self.limits.output - len(kept), 0)
                kept += chunk[:room]
                if len(chunk) > room:
                    dropped[0] = 1  # NB: a flag; what came after is not read, so not counted
                    break

    def output_text(self) -> str:
        """What the student's code printed (capped at ``limits.output`` bytes)."""
        text = self.output.decode("utf-8", "replace")
        if self._dropped[0]:
            text += f"\n[... more output dropped: only the first {self.limits.output} bytes are kept]"
        return text

    def exit_reason(self, when: str) -> str:
        """Why the interpreter ended (after the channel closed)."""
        if self.proc is None:
            return "the sandbox is not running"
        try:
            code = self.proc.wait(timeout=2)
        except subprocess.TimeoutExpired:
            return f"the student's code closed the channel {when}"
        killed = code in (-signal.SIGKILL, 128 + signal.SIGKILL)
        if killed and self.cgroup is not None and self.cgroup.oom_kills() > self.oom_before:
            return (f"the student's code went over the sandbox's memory limit ({self.limits.memory / 2**20:g} MiB "
                    f"for all its processes together) and was killed (SIGKILL) {when}")
        if code < 0:
            sig = signal.Signals(-code)
            return f"the student's code {SIGNALS.get(sig, f'was killed by {sig.name}')} {when}"
        if self.level == "bwrap" and code > 128:
            sig = code - 128
            text = SIGNALS.get(sig, f"was killed by signal {sig}")
            return f"the student's code {text} {when}"
        return f"the student's code exited the interpreter (exit code {code}, e.g. os._exit) {when}"

    def kill(self, reason: str) -> None:
        """Kill the whole process group and remember ``reason`` for every later request."""
        self.dead = reason
        if self.proc is None or self.proc.poll() is not None:
            return
        if self._init_pid is not None:
            # The init of the sandbox's PID namespace: when it dies the kernel kills everything inside,
            # and bubblewrap (our child) reaps it and exits, so no zombie is left behind.
            with contextlib.suppress(ProcessLookupError):
                os.kill(self._init_pid, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(timeout=5)
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        if self.cgroup is not None:
            self.cgroup.kill()  # anything that left the process group (setsid) is still in the cgroup

    def close(self) -> None:
        """Stop the interpreter and delete its private directory."""
        if self.proc is not None:
            self.kill("the sandbox was closed")
            self.proc = None
        if self.peer is not None:
            for fd in (self.peer.rfd, self.peer.wfd):
                try:
                    os.close(fd)
                except OSError:
                    pass
            self.peer = None
        if self.cgroup is not None:
            self.cgroup.remove()
            self.cgroup = None
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None

    def __enter__(self) -> Sandbox:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ------------------------------------------------------------------ requests
    def _request(self, header: dict, what: str):
        if self.peer is None or self.dead:
            raise SandboxFailure(self.dead or "the sandbox is not running")
        self.peer.deadline = time.monotonic() + self.limits.wall
        self.peer.what = what
        return self.peer.request(header)

    def arm(self, what: str) -> None:
        """Start a new wall-time budget for the calls a test cell is about to make."""
        if self.peer is not None:
            self.peer.deadline = time.monotonic() + self.limits.wall
            self.peer.what = what

    def exec_cell(self, code: str, cell: str, drop: tuple[str, ...] = GRADER_PACKAGES) -> None:
        """Run one of the student's cells in the student's namespace (``RemoteError`` if it raises).

        Its top-level imports of ``drop`` (the grader's own packages) are left out by the worker, which
        parses the cell: student code is never parsed in the grader (a cell can exhaust the parser).
        """
        try:
            self._request({"op": "exec", "code": code, "cell": cell, "drop": list(drop)}, f"cell {cell}")
        except channel.TooLargeError as exc:
            size = len(code.encode()) / 2**20
            raise channel.TooLargeError(f"cell {cell} was not run: it holds {size:.1f} MiB of code, more than the "
                                        f"sandbox takes ({exc}); keep large data in files") from None

    def names(self) -> dict[str, str]:
        """The student's top-level names and their kind: ``"function"``, ``"data"`` or ``"object"``."""
        listing = self._request({"op": "names"}, "the listing of names")
        if type(listing) is not list or not all(
                type(p) is list and len(p) == 2 and all(type(s) is str for s in p) for p in listing):
            self.kill("sent a malformed listing of names")
            raise SandboxFailure(self.dead)
        return dict(listing)

    def get(self, name: str):
        """The value of one of the student's names: plain data, or a :class:`channel.RemoteRef`."""
        return self._request({"op": "get", "name": name}, f"the value of {name}")
