"""Pieces shared by several notebooks: setup and cell-state helpers, functions as header + body, test cells, a quiz."""

from __future__ import annotations

from builders.cells import clean, md, solution, tests

SETUP = '''
import numpy as np

np.set_printoptions(precision=4, suppress=True)


def sigmoid(a):
    """Logistic function 1 / (1 + exp(-a)), written as (1 + tanh(a/2)) / 2 so that it never overflows."""
    return 0.5 * (1.0 + np.tanh(0.5 * a))
'''


def state_helpers(items: str) -> str:
    """Notebook helpers for code that runs any cell: ``zero_state`` (for B ``items``) and ``run_step``."""
    return clean(f'''
def zero_state(cp, B):
    """The zero initial state for B {items}: h (B, H), or the pair (h, c) for an LSTM (params W_x, W_h, b)."""
    H = (cp["W_hh"] if "W_hh" in cp else cp["W_h"]).shape[0]
    h = np.zeros((B, H))
    return (h, np.zeros((B, H))) if "b" in cp else h


def run_step(step, x, state, cp):
    """One step of any cell: returns (new_state, h); state is h, or (h, c) for an LSTM."""
    if isinstance(state, tuple):
        h, c, _ = step(x, state[0], state[1], cp)
        return (h, c), h
    h, _ = step(x, state, cp)
    return h, h
''')


def function(header: str, body: str, with_solution: bool = True) -> str:
    """A function's source: ``header`` (def line and docstring) then ``body``, the body fenced as a solution."""
    head, code = clean(header), clean(body)
    code = "\n".join("    " + line if line else "" for line in code.splitlines())
    if with_solution:
        code = "    ### BEGIN SOLUTION\n" + code + "\n    ### END SOLUTION"
    return head + "\n" + code


def check_pair(grade_id: str, check: str, args: str, questions: tuple[str, str], points: tuple[float, float] = (1, 1),
               module: str = "autograder.checks", options: str = "") -> list:
    """The visible and the hidden test cell of one check, ``<grade_id>_visible`` and ``<grade_id>_hidden``.

    They call ``check(args, options)`` and ``check(args, hidden=True, options)``, ``check`` imported from ``module``;
    ``questions`` and ``points`` are the two cells' docstring questions and points.
    """
    call = f"from {module} import {check}\n\n{check}({args}"
    opts = f", {options}" if options else ""
    return [tests(f"{grade_id}_visible", points[0], questions[0], f"{call}{opts})"),
            tests(f"{grade_id}_hidden", points[1], questions[1], hidden=f"{call}, hidden=True{opts})")]


def quiz(header: str, questions: list[tuple[str, str, list[str], str]], module: str = "autograder.checks") -> list:
    """A knowledge check: ``header`` and the questions, one solution cell of answers, a test cell per question.

    ``questions`` holds (id, text, four options, key); the keys appear only in the solution and hidden tests.
    """
    shown = [f"**{qid[1:]}.** {text}\n\n" + "\n".join(f"- {'ABCD'[k]}. {opt}" for k, opt in enumerate(opts))
             for qid, text, opts, _ in questions]
    cells = [md("\n\n".join([clean(header), *shown]))]
    blank = "\n".join(f"answer_{qid} = None" for qid, _, _, _ in questions)
    body = "\n".join(f'answer_{qid} = "{key}"' for qid, _, _, key in questions)
    hint = "# Replace None by one letter, then delete the NotImplementedError line."
    cells.append(solution("knowledge_check", f"{hint}\n{blank}\n### BEGIN SOLUTION\n{body}\n### END SOLUTION"))
    for qid, _, _, key in questions:
        cells.append(tests(f"test_{qid}", 1, f"Is question {qid[1:]} answered correctly?", f'''
        from {module} import check_choice

        check_choice(answer_{qid}, "question {qid[1:]}")
        ''', hidden=f'''
        check_choice(answer_{qid}, "question {qid[1:]}", expected="{key}")
        '''))
    return cells
