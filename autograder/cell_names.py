"""Which names a notebook cell defines and which it reads, from its text alone (``ast``), never by running it.

The grader uses this on the instructor's source: the names a locked cell defines are the grader's
(never fetched from the student), and a test cell depends on the names it reads.
"""

from __future__ import annotations

import ast
import importlib


def strip_magics(code: str) -> str:
    """``code`` without IPython magics and shell escapes (lines starting ``%`` or ``!``)."""
    return "\n".join("" if line.lstrip().startswith(("%", "!")) else line for line in code.splitlines())


def bound_names(node: ast.AST) -> set[str]:
    """Module-level names one top-level statement may bind: every branch counts, function and class
    bodies only through their ``global`` declarations, a comprehension only through ``:=``.
    """
    names: set[str] = set()
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
        names.add(node.name)
        names.update(n for sub in ast.walk(node) if isinstance(sub, ast.Global) for n in sub.names)
        return names
    if isinstance(node, ast.Lambda):
        return names
    if isinstance(node, ast.ListComp | ast.SetComp | ast.DictComp | ast.GeneratorExp):
        return {sub.target.id for sub in ast.walk(node) if isinstance(sub, ast.NamedExpr)}
    if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store | ast.Del):
        names.add(node.id)
    elif isinstance(node, ast.Import | ast.ImportFrom):
        for alias in node.names:
            if alias.name == "*":
                names.update(_star_names(node))
            else:
                names.add(alias.asname or alias.name.split(".")[0])
    elif isinstance(node, ast.ExceptHandler | ast.MatchAs | ast.MatchStar) and node.name:
        names.add(node.name)
    elif isinstance(node, ast.MatchMapping) and node.rest:
        names.add(node.rest)
    for child in ast.iter_child_nodes(node):
        names |= bound_names(child)
    return names


def _star_names(node: ast.ImportFrom) -> set[str]:
    # ``from m import *`` in the instructor's locked cell: what it binds is what the grader's import gives.
    try:
        module = importlib.import_module(node.module or "")
    except Exception:  # noqa: BLE001 - a failing import binds nothing
        return set()
    return set(getattr(module, "__all__", [n for n in vars(module) if not n.startswith("_")]))


def defined_names(code: str) -> frozenset[str]:
    """The names a cell of the source defines at top level, read from its text alone (``ast``)."""
    try:
        tree = ast.parse(strip_magics(code))
    except SyntaxError:
        return frozenset()
    return frozenset().union(*(bound_names(stmt) for stmt in tree.body))


def used_names(code: str) -> frozenset[str]:
    """The names a cell reads that it does not define itself (the names a test cell depends on)."""
    try:
        tree = ast.parse(strip_magics(code))
    except SyntaxError:
        return frozenset()
    loaded = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}
    return frozenset(loaded - defined_names(code))
