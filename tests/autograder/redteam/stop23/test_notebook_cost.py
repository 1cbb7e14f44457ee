"""Stop 23, class "grader work on the submitted notebook itself": what the grader parses is bounded.

Every earlier round bounded what the *sandbox* sends (the channel's caps, the fetch bound, the output cap);
the notebook file is student data too, and the grader reads and parses it in the trusted process before any
sandbox starts (``pipeline.load_notebook``, used by ``grade``, ``grade-course`` and the course server). JSON
amplifies: ``{}`` is 3 bytes on disk and a dict of 64 bytes once parsed, then ``nbformat`` copies every
dict into a ``NotebookNode`` and validates it. ``grade-course`` keeps at most 64 MiB of a notebook
(``submission_files.MAX_KEPT``), ``grade`` and the course server read the file whole, whatever its size.

The contract tested: a notebook over the byte bound, or holding more JSON values than the bound (counted on
the raw bytes, before any parse), is refused with a ``NotebookError`` that says what was too large and what
to do; an ordinary notebook with a few MiB of outputs is read. Payloads ``tuned:`` were fixed against;
``held-out:`` were written before the fix first ran on them and were run once, unchanged. The memory cost
before the fix was measured once by hand (docs/autograder.md, stop 23); no test measures time or memory.
"""

from __future__ import annotations

import base64
import json
import os
import stat

import pytest

from autograder import pipeline
from tests.autograder.fixtures import course as fx

MAX_NOTEBOOK = getattr(pipeline, "MAX_NOTEBOOK", 64 * 2**20)  # NB: getattr: it also runs on the code before the fix


def _notebook_with(tmp_path, name: str, extra_cell_json: bytes) -> os.PathLike:
    """The solved fixture notebook with one more raw cell spliced in as raw JSON bytes (never built in memory)."""
    nb = json.dumps(fx.solved_notebook()).encode()
    head, sep, tail = nb.partition(b'"cells": [')
    assert sep, "the fixture notebook's JSON has a cells list"
    path = tmp_path / f"{name}.ipynb"
    with open(path, "wb") as out:
        out.write(head + sep + extra_cell_json + b"," + tail)
    return path


def _raw_cell(metadata_list: bytes) -> bytes:
    return b'{"cell_type": "raw", "metadata": {"junk": ' + metadata_list + b'}, "source": ""}'


def _repeated(item: bytes, total: int) -> bytes:
    n = max(total // (len(item) + 1), 1)
    return b"[" + b",".join([item] * n) + b"]"


PAYLOADS = {
    "tuned: 40 MiB of empty dicts in a cell's metadata": lambda: _raw_cell(_repeated(b"{}", 40 * 2**20)),
    "held-out: 40 MiB of empty lists in a cell's metadata": lambda: _raw_cell(_repeated(b"[]", 40 * 2**20)),
    "held-out: 40 MiB of one-digit floats": lambda: _raw_cell(_repeated(b"0.5", 40 * 2**20)),
    "held-out: 300 000 empty code cells": lambda: b",".join(
        [b'{"cell_type": "code", "metadata": {}, "source": "", "outputs": [], "execution_count": null}'] * 300_000),
    "held-out: nested small dicts in an output's data": lambda: (
        b'{"cell_type": "code", "metadata": {}, "source": "", "execution_count": 1, "outputs": '
        b'[{"output_type": "execute_result", "execution_count": 1, "metadata": {}, "data": {"application/json": '
        + _repeated(b'{"a":{"b":1}}', 30 * 2**20) + b"}}]}"),
}


@pytest.mark.parametrize("name", list(PAYLOADS))
def test_a_notebook_of_many_small_json_values_is_refused_before_it_is_parsed(tmp_path, name):
    path = _notebook_with(tmp_path, "amplified", PAYLOADS[name]())
    with pytest.raises(pipeline.NotebookError) as info:
        pipeline.load_notebook(path)
    assert "JSON values" in str(info.value) and "outputs" in str(info.value), str(info.value)


def test_held_out_a_notebook_over_the_byte_bound_is_refused(tmp_path):
    """A sparse file: big on disk only in its size; the grader must not read it whole to find out."""
    path = _notebook_with(tmp_path, "big", b'{"cell_type": "raw", "metadata": {}, "source": "x"}')
    with open(path, "r+b") as f:
        f.truncate(MAX_NOTEBOOK + 4096)  # NUL bytes after the JSON: not a notebook either way
    with pytest.raises(pipeline.NotebookError) as info:
        pipeline.load_notebook(path)
    assert "MiB" in str(info.value) and "outputs" in str(info.value), str(info.value)


def test_held_out_a_fifo_or_a_device_is_refused_without_blocking(tmp_path):
    fifo = tmp_path / "fifo.ipynb"
    os.mkfifo(fifo)
    link = tmp_path / "zero.ipynb"
    link.symlink_to("/dev/zero")
    for path in (fifo, link):
        with pytest.raises(pipeline.NotebookError) as info:
            pipeline.load_notebook(path)
        assert "not a regular file" in str(info.value), str(info.value)
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)


def test_control_a_notebook_with_a_few_mib_of_outputs_is_read_and_graded(tmp_path):
    nb = fx.solved_notebook()
    png = base64.b64encode(os.urandom(3 * 2**20)).decode()
    text = ", ".join(str(k) for k in range(100_000))  # a long printed list: 100 000 commas inside a string
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = [{"output_type": "display_data", "metadata": {}, "data": {"image/png": png}},
                            {"output_type": "stream", "name": "stdout", "text": text}]
            break
    path = fx.write_notebook(tmp_path / f"{fx.ASSIGNMENT}.ipynb", nb)
    read = pipeline.load_notebook(path)
    assert len(read.cells) == len(nb.cells)
    assert any(o.get("data", {}).get("image/png") == png for c in read.cells for o in c.get("outputs", []))
