"""H17: the grader's regular expressions read student text in linear time, and that text is bounded on arrival.

An error frame the student forges (its own code can find the worker's ``Peer`` and write on the reply
descriptor) may carry up to 16 MiB of message and traceback, which the grader kept whole. The pipeline read
the cell and line out of the traceback with ``File "<cell ([^>]*)>"``, retried from every ``File "<cell ``:
quadratic, 200 000 characters took 11 s and 12 MB would take about a day, in the grader's process, outside every
sandbox limit. ``hidden_text``'s mismatch pattern was quadratic in a long word (8 000 characters: 1.2 s).
Now an error's text is cut to ``channel.MAX_TEXT`` on arrival and both patterns are linear.

Each payload runs in a subprocess with a liveness bound (a hang would otherwise hang the suite); the bound is
far above the time the fixed code takes and far below the time the old code took: it detects a hang, it does
not measure speed. Payloads ``tuned:`` were fixed against; ``held-out:`` were written before the fix first ran.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.exercises.conftest import REPO, project_env

LIVENESS_SECONDS = 240

SCRIPT = r'''
import json, os, sys
from autograder import channel, hidden_text, pipeline, values

kind, field, text = sys.argv[1], sys.argv[2], sys.argv[3]
MB = 2**20
body = {"cells": 'File "<cell ', "digits": 'File "<cell x>", line ' + "9" * MB,
        "word": "a" * MB, "tail": 'File "<cell a>", line 1, in ' + "b" * MB}[text]
body = body * (MB // len(body)) if len(body) < 100 else body
out = {}
if kind == "frame":
    a_r, b_w = os.pipe(); b_r, a_w = os.pipe()
    grader = channel.Peer(a_r, a_w, "grader", "sandbox", write_back=False)
    import threading
    frame = {"op": "error", "kind": "ValueError", "message": "m", "traceback": "t"}
    frame[field] = body
    threading.Thread(target=lambda: (channel.read_frame(b_r), channel.write_frame(b_w, frame, [])), daemon=True).start()
    try:
        grader.request({"op": "get", "name": "x"})
    except channel.RemoteError as exc:
        out["kept"] = max(len(exc.kind), len(str(exc.args[1])), len(exc.remote_traceback))
        out["message"] = pipeline._failure_message(exc)[:300]
else:  # a hidden check's message holding the text, composed by hidden_text
    exc = values.CheckError(body)
    with hidden_text.recording() as facts:
        out["message"] = hidden_text.compose_failure(exc, body, facts, "check(f)", "<test>")[:300]
print(json.dumps(out))
'''

PAYLOADS = {
    "tuned: a traceback of 'File \"<cell ' repeated": ("frame", "traceback", "cells"),
    "held-out: a message of 'File \"<cell ' repeated": ("frame", "message", "cells"),
    "held-out: a traceback with a line number of a million digits": ("frame", "traceback", "digits"),
    "held-out: a traceback ending in a 1 MB function name": ("frame", "traceback", "tail"),
    "held-out: an exception kind of one 1 MB word": ("frame", "kind", "word"),
    "held-out: a hidden check message of one 1 MB word": ("hidden", "", "word"),
    "held-out: a hidden check message of 'File \"<cell ' repeated": ("hidden", "", "cells"),
}


@pytest.mark.parametrize("name", list(PAYLOADS))
def test_student_text_is_read_in_bounded_time_and_kept_bounded(name):
    """Does the grader finish reading the payload (liveness bound), keeping at most MAX_TEXT characters of it?"""
    from autograder import channel

    kind, field, text = PAYLOADS[name]
    try:
        out = subprocess.run([sys.executable, "-c", SCRIPT, kind, field, text], capture_output=True, text=True,
                             cwd=REPO, env=project_env(), timeout=LIVENESS_SECONDS)
    except subprocess.TimeoutExpired:
        pytest.fail(f"the grader was still reading {name!r} after {LIVENESS_SECONDS} s")
    assert out.returncode == 0, out.stderr[-2000:]
    result = json.loads(out.stdout.splitlines()[-1])
    assert result["message"]
    if kind == "frame":
        assert result["kept"] <= channel.MAX_TEXT
