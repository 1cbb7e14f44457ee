"""Stop 23, class "descriptors inherited by the sandbox": nothing of the host is reachable through an open fd.

A mount namespace hides paths, not open files: a directory descriptor that the grader had open without
``O_CLOEXEC`` when it started the sandbox (the course folder, the gradebook's directory, the secret's folder)
would let the student ``openat(fd, "..")`` its way out of the constructed tree, and a regular file descriptor
would be read whole. The grader starts bubblewrap with ``close_fds=True`` and passes only its pipes.

Tested from both sides: the grader opens a directory, a regular file (a stand-in secret) and a socket and makes
them inheritable on purpose before it starts the sandbox; inside, the student walks every descriptor number.
All were written before they first ran and were run once; none needed a fix (docs/autograder.md, stop 23).
"""

from __future__ import annotations

import os
import socket

import pytest

from autograder.sandbox import Limits, Sandbox, isolation

pytestmark = pytest.mark.skipif(isolation.detect() is None, reason="no sandbox isolation on this machine")

WALK = '''
import os, stat
def walk():
    out = {}
    for fd in range(0, 4096):
        try:
            mode = os.fstat(fd).st_mode
        except OSError:
            continue
        kind = ("dir" if stat.S_ISDIR(mode) else "file" if stat.S_ISREG(mode) else "fifo" if stat.S_ISFIFO(mode)
                else "chr" if stat.S_ISCHR(mode) else "sock" if stat.S_ISSOCK(mode) else "other")
        escapes = []
        for how in ("openat", "fchdir", "listdir", "read"):
            try:
                if how == "openat":
                    os.close(os.open("..", os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd))
                elif how == "fchdir":
                    os.fchdir(fd)
                    os.chdir("/")  # NB: no descriptor of the walk's own (a first version leaked one per fd: 'dir')
                elif how == "listdir":
                    os.listdir(fd)
                elif kind == "file":
                    os.pread(fd, 64, 0)
                else:
                    continue
                escapes.append(how)
            except OSError:
                pass
        out[str(fd)] = [kind, escapes]
    return out
'''


@pytest.fixture
def planted(tmp_path):
    secret = tmp_path / "secret"
    secret.write_bytes(b"INSTRUCTOR-SECRET")
    fds = [os.open(tmp_path, os.O_RDONLY | os.O_DIRECTORY), os.open(secret, os.O_RDONLY)]
    sock = socket.socket()
    fds.append(sock.fileno())
    for fd in fds:
        os.set_inheritable(fd, True)  # NB: as a careless grader-side library would leave them
    yield fds
    for fd in fds[:2]:
        os.close(fd)
    sock.close()


def test_held_out_no_inherited_descriptor_reaches_a_host_file_directory_or_socket(planted):
    with Sandbox(Limits(wall=20)) as sb:
        sb.exec_cell(WALK, "walk")
        seen = sb.get("walk")()
    assert seen, "the walk ran and saw at least the standard descriptors"
    kinds = {fd: kind for fd, (kind, _) in seen.items()}
    assert set(kinds.values()) <= {"fifo", "chr"}, (planted, seen)  # the channel's pipes, the relay's pipe, /dev/null
    assert not any(escapes for _, escapes in seen.values()), seen


def test_held_out_the_student_sees_only_a_few_pipes(planted):
    """The channel (two ends, kept twice by the worker), the output relay and /dev/null: a handful, not the grader's."""
    with Sandbox(Limits(wall=20)) as sb:
        sb.exec_cell(WALK, "walk")
        seen = sb.get("walk")()
    assert len(seen) <= 8, seen
    assert not set(planted) & {int(fd) for fd, (kind, _) in seen.items() if kind not in ("fifo", "chr")}
