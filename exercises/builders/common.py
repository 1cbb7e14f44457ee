"""Pieces shared by several notebooks: the setup cell, sigmoid, and functions written as header + body."""

from __future__ import annotations

from builders.cells import clean

SETUP = '''
import numpy as np

np.set_printoptions(precision=4, suppress=True)


def sigmoid(a):
    """Logistic function 1 / (1 + exp(-a)), written as (1 + tanh(a/2)) / 2 so that it never overflows."""
    return 0.5 * (1.0 + np.tanh(0.5 * a))
'''


def function(header: str, body: str, with_solution: bool = True) -> str:
    """A function's source: ``header`` (def line and docstring) then ``body``, the body fenced as a solution."""
    head, code = clean(header), clean(body)
    code = "\n".join("    " + line if line else "" for line in code.splitlines())
    if with_solution:
        code = "    ### BEGIN SOLUTION\n" + code + "\n    ### END SOLUTION"
    return head + "\n" + code
