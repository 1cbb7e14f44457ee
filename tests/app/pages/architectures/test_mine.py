"""The Architectures page's compare section: your architecture function on the page's example, beside the reference."""

import nbformat
import pytest

from autograder.sandbox import isolation
from simulator.app.pages.architectures.mine import ArchitecturesMine
from simulator.app.pages.architectures.model import ArchitectureModel
from tests.exercises.conftest import EXERCISES, solution_code

pytestmark = pytest.mark.skipif(isolation.detect() is None, reason="no sandbox isolation on this machine")


def notebook_code(*grade_ids: str) -> str:
    """The architectures notebook's locked helpers and the solutions of ``grade_ids``, as one pasted block."""
    nb = nbformat.read(EXERCISES / "source" / "architectures" / "architectures.ipynb", as_version=4)
    cells = {c.metadata.get("nbgrader", {}).get("grade_id"): c.source for c in nb.cells}
    return "\n\n".join([cells["setup"], cells["helpers"], *(solution_code(cells[f"{g}_forward"]) for g in grade_ids)])


@pytest.fixture
def section(signed_in_server):

    def run(code: str, **settings):
        part = ArchitecturesMine(ArchitectureModel(**settings))
        part.mine.paste.value = code
        part.mine.run()
        part.mine.future.result(60)
        part.mine.check()
        return part

    yield run


@pytest.mark.parametrize("architecture, kind", [("many_to_one", "lstm"), ("many_to_many", "gru"),
                                                ("one_to_many", "rnn")])
def test_the_notebook_solution_matches_on_the_page_example(section, architecture, kind):
    part = section(notebook_code(architecture), architecture=architecture, kind=kind)
    assert "matches the reference at every one of its" in part.mine.status.object, part.mine.status.object


def test_a_bug_is_located_at_its_output_step(section):
    """many-to-many that emits h_{t-1}'s output: the first output already differs."""
    code = notebook_code("many_to_many").replace("state, h = run_step(step, X[:, t], state, cp)",
                                                 "h_old = state[0] if isinstance(state, tuple) else state\n"
                                                 "        state, h = run_step(step, X[:, t], state, cp)\n"
                                                 "        h = h_old")
    part = section(code, architecture="many_to_many", kind="rnn")
    assert "first leave the reference at output step 0" in part.mine.status.object, part.mine.status.object


@pytest.mark.parametrize("code, words", [
    ("def many_to_one_forward(X, params, step):\n    return 'y', None\n", "outputs"),
    ("def many_to_one_forward(X, params, step):\n    while True:\n        pass\n", "stopped"),
    ("x = 1\n", "defines no function many_to_one_forward"),
])
def test_broken_code_gets_a_message(section, code, words):
    part = section(code, architecture="many_to_one")
    assert words in part.mine.status.object
