"""Run a student's step function over a whole sequence in the sandbox, for the simulator's "compare" view.

The student's own cell runs on its own states, step after step, on exactly the inputs and weights the page
shows: ``h_t, [c_t], cache_t = {kind}_step(x_t, h_{t-1}, [c_{t-1}], params)``. The reference's run of the same
inputs comes from the core (``simulator.sequence``) in the grader's process; :func:`first_divergence` finds
the first step, vector and unit where they part. Nothing here scores anything (DESIGN invariant 7): it only
shows. Every return is read strictly (``autograder.values``): a value that is not a finite float array of
the expected shape ends the trace with a message naming the step and what was expected.
"""

from __future__ import annotations

import io
import time

import numpy as np

from autograder import capture, channel
from autograder.pipeline import load_source, plan, restore_cells
from autograder.sandbox import Limits, Sandbox, SandboxFailure
from autograder.values import as_array, type_name
from simulator import sequence
from simulator.cells import GATES, Cell

STATES = {"rnn": ("h",), "lstm": ("h", "c"), "gru": ("h",)}
MAX_CODE = 64 * 1024
MAX_STEPS = 64
MAX_WIDTH = 64
BUDGET = 30.0  # seconds for a whole trace (its cells and every step), checked before each call; each call has
# the sandbox's own wall limit besides, so a trace ends within BUDGET + Limits.wall whatever the code does
# The vectors the Cell page draws, per kind, besides the states (their cache keys in the reference).
SHOWN = {kind: tuple(GATES[kind]) for kind in ("lstm", "gru")} | {"rnn": ("a",)}


class TraceError(ValueError):
    """The request cannot be traced (code too long, sizes too large): said before any sandbox starts."""


def student_code(notebook: bytes, course, assignment: str) -> list[tuple[str, str]]:
    """The (label, code) cells the sandbox runs for a submitted notebook: its answers and the locked setup,
    in the source notebook's order (as the grader places them).
    """
    import nbformat

    nb = nbformat.reads(notebook.decode("utf-8"), as_version=4)
    cells, _notes = restore_cells(nb, load_source(course, assignment))
    return [(s.label, s.code) for s in plan(cells) if s.kind in ("student", "locked")]


def _check_sizes(kind: str, X: np.ndarray, h0: np.ndarray, params: dict) -> None:
    if kind not in STATES:
        raise TraceError(f"kind {kind!r}: expected one of rnn, lstm, gru")
    B, T, D = X.shape
    H = h0.shape[1]
    if T > MAX_STEPS or H > MAX_WIDTH or D > MAX_WIDTH or B > 4:
        raise TraceError(f"sizes B={B}, T={T}, D={D}, H={H}: the compare view runs at most B=4, T={MAX_STEPS}, "
                         f"D and H {MAX_WIDTH}")


def _read_step(out, kind: str, t: int, B: int, H: int) -> dict[str, np.ndarray]:
    """The states and the drawable cache entries of one student return, read strictly."""
    n = len(STATES[kind]) + 1
    if type(out) is not tuple or len(out) != n:
        shown = f"a tuple of {len(out)}" if type(out) is tuple else f"an object of type {type_name(out)}"
        names = ", ".join(STATES[kind]) + ", cache"
        raise AssertionError(f"step t={t}: {kind}_step returned {shown}; expected ({names})")
    got = {name: as_array(out[k], f"step t={t}: {name}", (B, H)) for k, name in enumerate(STATES[kind])}
    cache = out[-1]
    if type(cache) is dict:
        for key in SHOWN[kind]:
            value = cache.get(key) if type(key) is str else None
            if type(value) is np.ndarray and value.shape == (B, H) and value.dtype == np.float64 and \
                    np.isfinite(value).all():
                got[key] = value.copy()
    return got


def trace(cells: list[tuple[str, str]], kind: str, X, h0, c0, params: dict, limits: Limits | None = None,
          unsafe: bool = False, budget: float = BUDGET) -> dict:
    """Run the student's ``{kind}_step`` over ``X`` (B, T, D) from ``h0`` [``c0``] in a sandbox.

    Returns ``{"steps": [{"h", ["c"], gates...} per step], "error": None or the reason the trace stopped,
    "stopped_at": t or None, "output": what the student's code printed}``. Runs in a grading worker.
    """
    X, h0 = np.asarray(X, dtype=np.float64), np.asarray(h0, dtype=np.float64)
    _check_sizes(kind, X, h0, params)
    if sum(len(code) for _, code in cells) > MAX_CODE:
        raise TraceError(f"the code is {sum(len(c) for _, c in cells) // 1024} KiB; the compare view takes at most "
                         f"{MAX_CODE // 1024} KiB")
    B, T, _ = X.shape
    H = h0.shape[1]
    limits = limits or Limits(wall=10.0, notebook=60.0, memory=1024 * 2**20)
    sandbox = Sandbox(limits, "none" if unsafe else "auto", unsafe)
    steps: list[dict] = []
    result = {"steps": steps, "error": None, "stopped_at": None, "output": ""}
    end = time.monotonic() + budget

    def in_budget(what: str) -> None:
        if time.monotonic() > end:
            raise AssertionError(f"{what}: the comparison's {budget:g} s were used up before it (each call may "
                                 f"take {limits.wall:g} s, the whole run {budget:g} s)")

    try:
        _start_with(sandbox, cells, result, in_budget)
        names = sandbox.names()
        step_name = f"{kind}_step"
        if step_name not in names:
            result["error"] = f"your code defines no function {step_name}"
            return result
        fn = sandbox.get(step_name)
        state = [h0] + ([np.asarray(c0, dtype=np.float64)] if kind == "lstm" else [])
        for t in range(T):
            result["stopped_at"] = t
            in_budget(f"step t={t}")
            sandbox.arm(f"{step_name} at step t={t}")
            out = fn(X[:, t].copy(), *(s.copy() for s in state), {k: v.copy() for k, v in params.items()})
            got = _read_step(out, kind, t, B, H)
            steps.append(got)
            state = [got[name] for name in STATES[kind]]
        result["stopped_at"] = None
        in_budget("the grader's diagnosis")
        result["diagnosis"] = diagnosis(kind, fn)
    except AssertionError as exc:
        result["error"] = str(exc)
    except channel.RemoteError as exc:
        result["error"] = f"step t={result['stopped_at']}: your code raised {exc.kind}: {str(exc.args[1])[:300]}"
    except SandboxFailure as exc:
        result["error"] = f"step t={result['stopped_at']}: the sandbox stopped: {exc}"
    finally:
        result["output"] = sandbox.output_text()[-4000:]
        sandbox.close()
    return result


def _start_with(sandbox: Sandbox, cells: list[tuple[str, str]], result: dict, in_budget=None) -> None:
    """Start ``sandbox`` and run the student's cells in order; a cell that raises is noted and the rest still run."""
    sandbox.start()
    for label, code in cells:
        if in_budget is not None:
            in_budget(f"cell {label}")
        try:
            sandbox.exec_cell(code, label)
        except channel.RemoteError as exc:
            result.setdefault("cell_errors", []).append(f"cell {label}: {exc.kind}: {exc.args[1]}"[:300])


def call(cells: list[tuple[str, str]], name: str, args: tuple, read, limits: Limits | None = None,
         unsafe: bool = False) -> dict:
    """Run the student's cells in a sandbox and call ``name(*args)`` once; ``read`` reads its return strictly.

    For the pages that compare one whole function (the BPTT lab's ``hidden_grad_norms``, an architecture's
    forward): ``read(value)`` returns plain arrays or raises ``AssertionError`` saying what was expected.
    Returns ``{"value": what read returned or None, "error": None or why, "output": what the code printed}``.
    """
    if sum(len(code) for _, code in cells) > MAX_CODE:
        raise TraceError(f"the code is {sum(len(c) for _, c in cells) // 1024} KiB; the compare view takes at most "
                         f"{MAX_CODE // 1024} KiB")
    limits = limits or Limits(wall=15.0, notebook=BUDGET, memory=1024 * 2**20)
    sandbox = Sandbox(limits, "none" if unsafe else "auto", unsafe)
    result = {"value": None, "error": None, "output": ""}
    try:
        _start_with(sandbox, cells, result)
        if name not in sandbox.names():
            result["error"] = f"your code defines no function {name}"
            return result
        fn = sandbox.get(name)
        sandbox.arm(name)
        result["value"] = read(fn(*args))
    except AssertionError as exc:
        result["error"] = str(exc)
    except channel.RemoteError as exc:
        result["error"] = f"{name}: your code raised {exc.kind}: {str(exc.args[1])[:300]}"
    except SandboxFailure as exc:
        result["error"] = f"{name}: the sandbox stopped: {exc}"
    finally:
        result["output"] = sandbox.output_text()[-4000:]
        sandbox.close()
    return result


def diagnosis(kind: str, fn) -> str:
    """The grader's own sentence on the student's step function: its visible check's message ('' when it passes).

    Nothing is scored here; the sentence is the one the notebook's visible test would print (likely cause, the
    equation line, the evidence), so the picture and the feedback say the same thing.
    """
    from autograder import checks

    check = getattr(checks, f"check_{kind}_step")
    try:
        with capture.captured(io.StringIO()):
            check(fn, hidden=False)
    except AssertionError as exc:
        return str(exc)[:2000]
    except (channel.RemoteError, SandboxFailure) as exc:
        return f"the visible check could not run your function: {str(exc)[:300]}"
    return ""


def reference(kind: str, X, h0, c0, params: dict) -> list[dict[str, np.ndarray]]:
    """The reference's states and drawable gates at every step, from the core (never recomputed here)."""
    states = (np.asarray(h0), np.asarray(c0)) if kind == "lstm" else np.asarray(h0)
    _, cache = sequence.forward(Cell(kind, params), np.asarray(X), states)
    out = []
    for step in cache["steps"]:
        row = {name: step[name] for name in STATES[kind]}
        row.update({k: step[k] for k in SHOWN[kind] if k in step})
        out.append(row)
    return out


def first_divergence(ref: list[dict], got: list[dict], rtol: float = 1e-6, atol: float = 1e-8) -> dict | None:
    """The first step t, vector and unit (batch row 0 first) where the student's run leaves the reference.

    Within a step the states are checked after the gates, in the equations' order, so the first differing
    vector is the one the bug is in (a wrong gate makes the state differ too, later in the same step).
    """
    for t, (r, g) in enumerate(zip(ref, got, strict=False)):
        for name in [k for k in r if k not in ("h", "c")] + [k for k in ("c", "h") if k in r]:
            if name not in g:
                continue
            bad = ~np.isclose(g[name], r[name], rtol=rtol, atol=atol)
            if bad.any():
                b, j = map(int, np.argwhere(bad)[0])
                return {"t": t, "vector": name, "batch": b, "unit": j, "expected": float(r[name][b, j]),
                        "got": float(g[name][b, j])}
    return None
