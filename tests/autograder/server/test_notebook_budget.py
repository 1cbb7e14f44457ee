"""Notebooks whose shape makes checking them costly: the work of reading an upload is bounded by its structure.

Principle: an upload's structure is counted (cells, JSON values) on the cheap parse, before the costly one
(nbformat's schema validation costs about 50 microseconds per cell whatever its size): 100,000 empty cells in
13 MiB took 4-6 s of the server process's CPU (the GIL: every page of the process waited), ten a minute per
student. Measured with ``time.process_time`` while finding it; the tests assert the refusals, never a time.

``tuning``: the payload the fix was written against; ``held out``: written with it, before the fix.
"""

from __future__ import annotations

import json

import pytest

from autograder.server import accounts
from autograder.server.submissions import MAX_CELLS, MAX_PARTS, MAX_VALUES, RefusedError
from tests.autograder.fixtures import course as fx
from tests.autograder.server.conftest import notebook_bytes

A = fx.ASSIGNMENT


def _nb(cells, metadata=None) -> bytes:
    return json.dumps({"nbformat": 4, "nbformat_minor": 5, "metadata": metadata or {}, "cells": cells}).encode()


def _cell(k=0, **kw) -> dict:
    return {"cell_type": "code", "source": "", "metadata": {"nbgrader": {"grade_id": "rnn_step"}}, "outputs": [],
            "execution_count": None, "id": f"c{k}", **kw}


COSTLY = {  # name -> (bytes, half)
    "100k empty cells": (lambda: _nb([_cell(k) for k in range(100_000)]), "tuning"),
    "one more cell than allowed": (lambda: _nb([_cell(k) for k in range(MAX_CELLS + 1)]), "held out"),
    "100k markdown cells": (lambda: _nb([{"cell_type": "markdown", "source": "", "metadata": {}, "id": f"m{k}"}
                                          for k in range(100_000)]), "held out"),
    "source as 1.5M one-character lines": (lambda: _nb([_cell(source=["x"] * 1_500_000)]), "held out"),
    "one cell, 200k outputs": (lambda: _nb([_cell(outputs=[{"output_type": "stream", "name": "stdout",
                                                            "text": "x"}] * 200_000)]), "held out"),
    "notebook metadata with 1.2M keys": (lambda: _nb([_cell()], {f"{i:x}": 0 for i in range(1_200_000)}),
                                         "held out"),
    # written after "one cell, 200k outputs" (held out) passed the first fix, which counted cells only; held out
    # for the second (outputs counted too)
    "2,000 cells with 30 outputs each": (lambda: _nb([_cell(k, outputs=[{"output_type": "stream", "name": "stdout",
                                                                         "text": "x"}] * 30) for k in range(2_000)]),
                                         "held out 2"),
    "100k display outputs": (lambda: _nb([_cell(outputs=[{"output_type": "display_data", "metadata": {},
                                                          "data": {"text/plain": "x"}}] * 100_000)]), "held out 2"),
    "100k attachments": (lambda: _nb([{"cell_type": "markdown", "source": "", "metadata": {}, "id": "m",
                                       "attachments": {f"a{i}.png": {"image/png": ""} for i in range(100_000)}}]),
                         "held out 2"),
}


@pytest.fixture
def ada(quiet):
    return accounts.add_user(quiet.engine, "ada", "student")[0]


@pytest.fixture
def quiet(tmp_path):
    from autograder.server.service import CourseServer
    from tests.autograder.server.conftest import released_course

    srv = CourseServer(released_course(tmp_path / "course"), grade=False, rate_limit=100)
    yield srv
    srv.close()


@pytest.mark.parametrize("case", list(COSTLY))
def test_a_costly_shape_is_refused_naming_its_size(quiet, ada, case):
    data = COSTLY[case][0]()
    assert len(data) <= 16 * 2**20, "the payload must fit the upload limit to test the structure bound"
    with pytest.raises(RefusedError) as err:
        quiet.submit(ada, A, f"{A}.ipynb", data)
    assert err.value.status == 422 and f"{A}.ipynb" in err.value.message, err.value.message
    assert any(f"{bound:,} {what}" in err.value.message for bound, what in
               ((MAX_CELLS, "cells"), (MAX_PARTS, "values"), (MAX_VALUES, "values"))), err.value.message
    assert quiet.submissions_of(ada) == []


REAL = {  # large but ordinary notebooks: accepted
    "30 cells, 12 MiB of output text": lambda: _nb([_cell(k, outputs=[{"output_type": "stream", "name": "stdout",
                                                                        "text": "x" * 400_000}]) for k in range(30)]),
    "300 cells, 100k output lines": lambda: _nb([_cell(k, source=["a = 1\n"] * 20, outputs=[
        {"output_type": "stream", "name": "stdout", "text": ["step\n"] * 330}]) for k in range(300)]),
    "the solved notebook": lambda: notebook_bytes(fx.solved_notebook()),
}


@pytest.mark.parametrize("case", list(REAL))
def test_a_large_ordinary_notebook_is_accepted(quiet, ada, case):
    assert quiet.submit(ada, A, f"{A}.ipynb", REAL[case]()) > 0
