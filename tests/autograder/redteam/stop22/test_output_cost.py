"""Stop 22, class "grader work on the sandbox's output": the grader reads a bounded amount of what it prints.

The grader kept the first ``Limits.output`` bytes of the sandbox's stdout and stderr and read and dropped
the rest for as long as the sandbox lived, in a thread of the trusted process: a daemon thread writing
4 GB in 4 s cost the grader 1.96 s of CPU (measured once, ``getrusage``), up to the whole notebook budget,
in the course server's process too. Now the grader stops reading at the cap and closes its end; a relay
process inside the sandbox (``worker._start_relay``) drops the rest on the sandbox's own CPU quota, so the
student's prints neither block nor raise. Measured after: 0.11 s for the same flood.

The tests count the bytes the grader's process read (``/proc/self/io`` ``rchar``, a kernel counter), never
time: a flood of 256 MiB may cost the grader at most a few MiB of reading, and the sandbox keeps answering.
Payloads ``tuned:`` were fixed against; ``held-out:`` were written before the fix first ran on them and
were run once, unchanged.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from autograder.sandbox import Limits, Sandbox, isolation

pytestmark = pytest.mark.skipif(isolation.detect() is None or not Path("/proc/self/io").exists(),
                                reason="needs a sandbox and /proc/self/io")

FLOOD = 256 * 2**20
READ_BOUND = 16 * 2**20  # what the grader may read meanwhile: the cap, the channel's frames, the test's own imports

COMMON = f'''
import os, sys, threading, time
FLOOD = {FLOOD}
MARK = "FIRST-LINE-OF-OUTPUT"
_done = threading.Event()
_sent = [0]
def _write(fd, block=1 << 16):
    chunk = b"x" * block
    while _sent[0] < FLOOD:
        _sent[0] += os.write(fd, chunk)
def done():
    for _ in range(600):
        if _done.is_set() or os.path.exists("/tmp/flood-done"):
            return _sent[0] if _done.is_set() else int(open("/tmp/flood-done").read())
        time.sleep(0.1)
    return -1
'''

PAYLOADS = {
    "tuned: a daemon thread writing 64 KiB blocks to fd 1": '''
def run():
    print(MARK, flush=True)
    threading.Thread(target=lambda: (_write(1), _done.set()), daemon=True).start()
    return True
''',
    "held-out: print() in a loop during the call": '''
def run():
    print(MARK, flush=True)
    line = "y" * 9999
    while _sent[0] < FLOOD:
        print(line)
        _sent[0] += 10000
    _done.set()
    return True
''',
    "held-out: a forked child flooding stderr after the call returned": '''
def run():
    print(MARK, flush=True)
    if os.fork() == 0:
        try:
            _write(2)
            with open("/tmp/flood-done", "w") as f:
                f.write(str(_sent[0]))
        finally:
            os._exit(0)
    return True
''',
    "held-out: a new interpreter writing to its stdout": '''
import subprocess
def run():
    print(MARK, flush=True)
    code = "import os\\nn = 0\\nb = b'z' * 65536\\nwhile n < %d: n += os.write(1, b)" % FLOOD
    subprocess.run([sys.executable, "-I", "-S", "-c", code], check=True)
    _sent[0] = FLOOD
    _done.set()
    return True
''',
    "held-out: single writes of 16 MiB to sys.stdout.buffer": '''
def run():
    print(MARK, flush=True)
    block = b"w" * (16 * 2**20)
    while _sent[0] < FLOOD:
        _sent[0] += sys.stdout.buffer.write(block)
        sys.stdout.buffer.flush()
    _done.set()
    return True
''',
    "held-out: the student's own descriptors duplicated from 1 and 2": '''
def run():
    print(MARK, flush=True)
    fds = [os.dup(1), os.dup(2)]
    while _sent[0] < FLOOD:
        for fd in fds:
            _sent[0] += os.write(fd, b"v" * 65536)
    _done.set()
    return True
''',
}


def _read_bytes() -> int:
    for line in Path("/proc/self/io").read_text().splitlines():
        if line.startswith("rchar:"):
            return int(line.split()[1])
    raise AssertionError("no rchar in /proc/self/io")


@pytest.mark.parametrize("name", list(PAYLOADS))
def test_a_flood_of_output_costs_the_grader_a_bounded_read(name):
    with Sandbox(Limits(wall=60)) as sb:
        sb.exec_cell(COMMON + PAYLOADS[name], "payload")
        before = _read_bytes()
        assert sb.get("run")() is True
        sent = sb.get("done")()
        read = _read_bytes() - before
        assert sent >= FLOOD, f"control: the payload printed {sent} bytes"
        assert read < READ_BOUND, f"the grader read {read / 2**20:.1f} MiB while the sandbox printed {sent / 2**20:.0f}"
        sb.exec_cell("z = 3", "after")
        assert sb.get("z") == 3  # the sandbox keeps answering
        text = sb.output_text()
    assert text.startswith("FIRST-LINE-OF-OUTPUT") and "more output dropped" in text
    assert len(sb.output) <= Limits().output


def test_output_below_the_cap_arrives_whole():
    """Control: ordinary prints (also of children and after the call) reach the grader in full."""
    code = ('import os\nprint("one", flush=True)\nos.write(2, b"two\\n")\n'
            'def run():\n    print("three", flush=True)\n    if os.fork() == 0:\n        print("four", flush=True)\n'
            '        os._exit(0)\n    os.wait()\n    return True\n')
    with Sandbox(Limits(wall=20)) as sb:
        sb.exec_cell(code, "c")
        assert sb.get("run")() is True
        sb.close()  # NB: the relay ends once every writer is gone; the grader reads to the end
        text = sb.output_text()
    assert text.split() == ["one", "two", "three", "four"] and "dropped" not in text
