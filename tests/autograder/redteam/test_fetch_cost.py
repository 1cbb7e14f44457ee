"""Round 5, H19: grader memory on the student's names that an instructor's cell seems to use.

Before a test or locked cell runs in the grader, the student's names it uses are fetched from the sandbox. "Uses"
was ``co_names``, which also lists every attribute, method and imported name: a hidden test calling
``np.random.default_rng(1)`` and ``rng.normal(...)`` and reading ``h.shape`` fetched the student's globals
``random``, ``default_rng``, ``normal``, ``shape`` (and ``ndarray``) if they existed. Five 240 MiB broadcast views
(which cost the sandbox nothing until each is sent) made the grader's peak 1574 MiB against 134 MiB for a right
answer (measured once, ``grade --json`` under ``getrusage``), and the number of names is the course's, so the
grader's memory had no bound. Principle: *fetch what the cell reads as a variable, and bound what one cell
fetches*: the names come from the instructions that load or delete a name (``LOAD_NAME``, ``LOAD_GLOBAL``, ...),
and the data fetched for one cell is at most ``pipeline.MAX_FETCHED`` (256 MiB, one message's cap) together, else
the cell fails naming the limit and leaves none of the names behind.

The tests observe the fetch without measuring memory: a 17 MiB string cannot be sent (``channel.TooLargeError``),
so a fetched one fails the test, and an unfetched one does not. ``tuned:`` payloads were fixed against;
``held-out:`` were written after the fix and run once.
"""

from __future__ import annotations

import io

import pytest

from autograder import pipeline
from autograder.sandbox import Limits, isolation
from tests.autograder.fixtures import course as fx

pytestmark = pytest.mark.skipif(isolation.detect() is None, reason="no sandbox isolation on this machine")

_UNSENDABLE = 'import numpy as np\n\n_text = "x" * (17 * 2**20)\n{names} = _text\n\n' + fx.RNN_STEP.replace(
    "    ### BEGIN SOLUTION\n", "").replace("\n    ### END SOLUTION", "")

PAYLOADS = {
    # the hidden test's attributes and methods: np.random.default_rng, rng.normal, h.shape, np.ndarray
    "tuned: the hidden test's attribute names": ("default_rng = random = normal = shape = ndarray",
                                                ("test_rnn_step_hidden",)),
    "held-out: another test's attribute names": ("array_equal = ones", ("test_apply_twice",)),
}


@pytest.fixture(scope="module")
def reports(tmp_path_factory):
    root = tmp_path_factory.mktemp("fetch")
    course = fx.write_course(root / "course", {})
    out = {}
    for k, (name, (names, _)) in enumerate(PAYLOADS.items()):
        nb = fx.with_code(fx.solved_notebook(), "rnn_step", _UNSENDABLE.replace("{names}", names))
        out[name] = pipeline.grade_notebook(fx.write_notebook(root / f"p{k}" / "rnn_cell.ipynb", nb), course,
                                            fx.ASSIGNMENT)
    return out


@pytest.mark.parametrize("name", sorted(PAYLOADS))
def test_attribute_names_are_never_fetched(reports, name):
    report = reports[name]
    for grade_id in PAYLOADS[name][1]:
        test = next(t for t in report.tests if t.grade_id == grade_id)
        assert test.score == test.max_score, (grade_id, test.message)


def test_held_out_the_names_read_as_variables_are_found_and_attributes_are_not():
    code = compile("import numpy as np\nfrom m import imported\nv = np.linalg.norm(a)\nclass K:\n    y = b\n"
                   "f(lambda: c)\n[d for _ in e]\ndel g\nh.attribute = 1\n", "<test>", "exec")
    used = pipeline._names_used(code)
    assert {"np", "a", "b", "c", "d", "e", "f", "g", "h"} <= used, used
    assert not used & {"linalg", "norm", "attribute", "imported", "numpy", "m"}, used


STUDENT = '''
import numpy as np
big1 = np.broadcast_to(np.float64(1.0), (12 * 2**20,))   # 96 MiB each once sent
big2 = np.broadcast_to(np.float64(2.0), (12 * 2**20,))
big3 = [np.broadcast_to(np.float64(3.0), (12 * 2**20,))]
small = 1.5
'''


@pytest.fixture(scope="module")
def runner():
    r = pipeline.Runner(Limits(wall=60.0, memory=2 * 2**30))
    r._ensure_sandbox()
    r.sandbox.exec_cell(STUDENT, "student")
    yield r
    r.sandbox.close()


def test_held_out_the_data_one_cell_fetches_is_bounded(runner):
    namespace: dict = {"__builtins__": __builtins__}
    exc = runner._exec_here("total = big1.sum() + big2.sum() + big3[0].sum() + small", "<test cell t>", "a test",
                            namespace, io.StringIO())
    assert isinstance(exc, ValueError) and "MiB of data together" in str(exc), exc
    assert "big1" in str(exc) and "keep large data out" in str(exc), exc
    assert not {"big1", "big2", "big3", "small", "total"} & set(namespace), sorted(namespace)


def test_held_out_within_the_bound_a_cell_reads_the_students_data(runner):
    namespace: dict = {"__builtins__": __builtins__}
    exc = runner._exec_here("total = float(big1[:4].sum() + small)", "<test cell t>", "a test", namespace,
                            io.StringIO())
    assert exc is None and namespace["total"] == 5.5, exc
    assert "big1" not in namespace and "small" not in namespace


def test_an_argument_list_left_another_length_is_a_message_not_a_grader_error():
    """``values.changed_input`` compares the student's copy as left (any plain value): it never lets zip raise."""
    import numpy as np

    from autograder.values import changed_input

    o = np.ones((2, 2))
    assert "length changed in place (now 2)" in changed_input((o,), [o, o], "xs")
    assert "replaced by an object of type int" in changed_input([o], 5, "xs")
    assert changed_input([o], (o.copy(),), "xs") is None
