"""Checks for the cell exercises (rnn_cell, lstm_cell, gru_cell): one step forward and backward.

Each function earns its points on its own (DESIGN.md, invariant 7):

- the forward is called once per case and its ``(h[, c], cache)`` compared with the reference: the
  outputs, then (``cache=True``, as the course's notebooks ask) the cache's prescribed keys
  (``CACHE_KEYS``, listed in the notebooks);
- the backward is called once per case on the *reference's* cache of that case (``backward_cache``:
  the reference forward's named cache, which holds every prescribed key) and on the case's upstream
  gradients, and its gradients are compared with the reference backward's. The student's forward is
  not called, so a wrong forward never zeroes a correct backward, and a forward that keeps state or
  lies on a second call changes nothing;
- a return value is read only as far as the test needs it: ``wrt="inputs"`` reads ``dx, dh_prev
  [, dc_prev]``, ``wrt="params"`` reads ``grads``, so a bad ``grads`` costs only the parameter test.

A failure message locates the first differing entry and explains it (``autograder.diagnose``: the
named bug catalogue where it is certain, else the ablation probes of ``autograder.probes``, which
run more student calls but only explain: no score depends on them).
"""

from __future__ import annotations

import os
import re
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from autograder import cases as case_sets
from autograder import diagnose, hidden_text, probes
from autograder import hypotheses as hyp
from autograder.calling import call, header, ok
from autograder.channel import REDACTED, ChannelClosedError, ChannelTimeoutError, ProtocolError
from autograder.compare import STATE, Layout, all_close, describe_mismatch, tolerance_text
from autograder.precision_diagnosis import as_array, as_array_dict
from autograder.values import CheckError, as_tuple, fail, type_name
from simulator import cells

# Keys every forward's cache must hold (the notebooks prescribe them), and so the keys a backward may
# read from the cache the grader hands it: the reference's own caches hold them all.
CACHE_KEYS = {
    "rnn": ("x", "h_prev", "a", "h", "activation", "params"),
    "lstm": ("x", "h_prev", "c_prev", "i", "f", "g", "o", "c", "tanh_c", "params"),
    "gru": ("x", "h_prev", "z", "r", "n", "hw", "reset_after", "params"),
}
CACHE_MEANING = {
    "x": "the input (B, D)", "h_prev": "the previous hidden state (B, H)", "c_prev": "the previous cell state (B, H)",
    "a": "the pre-activation x W_xh + h_prev W_hh + b_h (B, H)", "h": "the new hidden state (B, H)",
    "activation": 'the activation option ("tanh")', "params": "the parameter dict, as passed in",
    "i": "the input gate (B, H)", "f": "the forget gate (B, H)", "g": "the candidate (B, H)",
    "o": "the output gate (B, H)", "c": "the new cell state (B, H)", "tanh_c": "tanh(c) (B, H)",
    "z": "the update gate (B, H)", "r": "the reset gate (B, H)", "n": "the candidate (B, H)",
    "hw": "the recurrent terms [h_prev W_hz + b_hz | h_prev W_hr + b_hr | hw_n] (B, 3H), where hw_n is "
          "h_prev W_hn + b_hn (reset after) or (r * h_prev) W_hn + b_hn (reset before)",
    "reset_after": "the reset_after option (bool)",
}
_NOT_ARRAYS = {"activation": str, "reset_after": bool}
# Cached intermediates the diagnosis compares with the reference's (they localise the faulty line).
INTERMEDIATES = {"rnn": ("a",), "lstm": ("i", "f", "g", "o", "tanh_c"), "gru": ("z", "r", "n", "hw")}
_CHANNEL_ERRORS = (ChannelClosedError, ChannelTimeoutError, ProtocolError)


# ----------------------------------------------------------------------------- cell specs
@dataclass(frozen=True)
class CellSpec:
    kind: str
    states: tuple[str, ...]        # state inputs after x, e.g. ("h_prev", "c_prev")
    outputs: tuple[str, ...]       # forward outputs before the cache, e.g. ("h", "c")
    upstream: tuple[str, ...]      # backward inputs before the cache, e.g. ("dh", "dc")

    @property
    def blocks(self) -> tuple[str, ...]:
        """Gate names of the column blocks of W and b (``cells.GATES``)."""
        return cells.GATES[self.kind]

    @property
    def step_name(self) -> str:
        return f"{self.kind}_step"

    @property
    def backward_name(self) -> str:
        return f"{self.kind}_step_backward"

    @property
    def input_grads(self) -> tuple[str, ...]:
        return ("dx",) + tuple(f"d{s}" for s in self.states)

    def layout(self, name: str) -> Layout:
        if name.startswith("W"):
            return Layout(("input row" if name in ("W_x", "W_xh") else "state row", "column"), blocks=self.blocks)
        if name.startswith("b"):
            return Layout(("column",), blocks=self.blocks)
        return STATE if name != "dx" else Layout(("batch", "input"))


SPECS = {
    "rnn": CellSpec("rnn", ("h_prev",), ("h",), ("dh",)),
    "lstm": CellSpec("lstm", ("h_prev", "c_prev"), ("h", "c"), ("dh", "dc")),
    "gru": CellSpec("gru", ("h_prev",), ("h",), ("dh",)),
}
WRT = ("all", "inputs", "params")


def options(spec: CellSpec, case: dict) -> dict:
    """Keyword options for a step on ``case``: only non-default ones, as ``sequence.forward`` passes them."""
    return {"reset_after": False} if spec.kind == "gru" and not case.get("reset_after", True) else {}


def forward_args(spec: CellSpec, case: dict) -> tuple:
    return (case["x"], *(case[s] for s in spec.states), case["params"])


# ----------------------------------------------------------------------------- the reference
def reference_forward(spec: CellSpec, case: dict) -> tuple[dict, dict]:
    """The reference's outputs ``{"h": .., ["c": ..]}`` and its cache on ``case``."""
    out = cells.STEP_FUNCTIONS[spec.kind][0](*forward_args(spec, case), **options(spec, case))
    return dict(zip(spec.outputs, out[:-1], strict=True)), out[-1]


def backward_cache(kind: str, case: dict) -> dict:
    """The cache a student's backward is graded on: the reference forward's cache on ``case``.

    It holds every key of ``CACHE_KEYS[kind]`` and the reference's other named intermediates, so the
    reference backward runs on it too.
    """
    return dict(reference_forward(SPECS[kind], case)[1])


def reference_backward(spec: CellSpec, case: dict, cache: dict | None = None) -> dict:
    """The reference's gradients on ``case`` as one dict: ``dx, dh_prev [, dc_prev]`` and the params' names."""
    cache = backward_cache(spec.kind, case) if cache is None else cache
    out = cells.STEP_FUNCTIONS[spec.kind][1](*(case[u] for u in spec.upstream), cache)
    return {**dict(zip(spec.input_grads, out[:-1], strict=True)), **out[-1]}


# ----------------------------------------------------------------------------- calling the student
class StudentRaisedError(CheckError):
    """The student's function raised (rather than returning something wrong): its shapes may explain why."""


def run_student(fn: Callable, name: str, args: tuple, kwargs: dict | None = None, names: tuple[str, ...] = ()):
    """``call`` a student's function; an exception it raises fails the check with its type and message."""
    try:
        return call(fn, name, args, kwargs, names=names)
    except (AssertionError, *_CHANNEL_ERRORS):
        raise
    except KeyError as exc:
        fail(f"{name} raised KeyError {exc}: it reads a key that its input does not hold")
    except Exception as exc:  # noqa: BLE001 - any failure of student code is reported, not propagated
        kind = getattr(exc, "kind", None) or type_name(exc)
        raise StudentRaisedError(f"{name} raised {kind}: {str(exc)[:500]}{_where_raised(exc)}"
                            f"{_broadcast_hint(str(exc), _sizes(args))}{_redacted_hint(str(exc))}") from None


_LIBRARY_DIRS = tuple(str(Path(m.__file__).parent) + os.sep for m in (np, cells, diagnose))  # numpy, the packages


def _where_raised(exc: BaseException) -> str:
    """`` (cell C, line N, in F)``: the last frame of the student's code in ``exc``'s traceback, if any."""
    remote = getattr(exc, "remote_traceback", None)
    if isinstance(remote, str):
        frames = re.findall(r'File "<cell ([^>]*)>", line (\d+), in (\S+)', remote)
        return f" (cell {frames[-1][0]}, line {frames[-1][1]}, in {frames[-1][2]})" if frames else ""
    own = [f for f in traceback.extract_tb(exc.__traceback__) if not f.filename.startswith(_LIBRARY_DIRS)]
    return f" ({own[-1].filename}, line {own[-1].lineno}, in {own[-1].name})" if own else ""


def _sizes(args: tuple, kind: str | None = None) -> dict | None:
    """``{"B", "D", "H", "blocks"}`` of a step's inputs ``(x, h_prev, ...)``, for naming an error's sizes."""
    x, h_prev = args[0], args[1]
    if not (type(x) is np.ndarray and type(h_prev) is np.ndarray and x.ndim == 2 and h_prev.ndim == 2):
        return None
    blocks = len(cells.GATES[kind]) if kind else len(next(
        (g for k, g in cells.GATES.items() if type(args[-1]) is dict and cells.param_shapes(k, 1, 1).keys()
         == args[-1].keys()), ()))
    return {"B": x.shape[0], "D": x.shape[1], "H": h_prev.shape[1], "blocks": blocks}


_MATMUL_SIZES = re.compile(r"size (\d+) is different from (\d+)|shapes \((\d+),\s*(\d+)\) and \((\d+),\s*(\d+)\)")


def _broadcast_hint(message: str, sizes: dict | None = None) -> str:
    """A guess for numpy's broadcast error when one operand is a column ``(n, 1)``, and for a matrix product
    whose inner sizes differ: ``H`` columns meeting ``k H`` rows (``k`` gate blocks) are blocks joined along
    the wrong axis, one block where all are needed, or a transposed weight (all three are named); other
    sizes, a transpose or two weights exchanged.
    """
    if "could not be broadcast" in message and re.search(r"\(\d+,\s*1\)", message):
        return (". One operand is a column (n, 1): a bias or vector reshaped as a column would do this "
                "(likely bug: bias shaped as a column); keep biases 1-D, shape (n,)")
    if ("matmul" in message and "core dimension" in message) or "not aligned" in message:
        inner = _inner_sizes(message)
        k = (sizes or {}).get("blocks", 0)
        if inner and sizes and k > 1 and sizes["H"] * k not in (sizes["D"], sizes["H"]):
            left, right = inner
            H = sizes["H"]
            if left == H and right == k * H:
                # Both a weight used transposed (h @ W_h.T meets (kH, H)) and blocks joined as rows give these sizes.
                return (f". The left operand of a matrix product has H = {H} columns where the other has all {k} gate "
                        f"blocks, {k}H = {k * H} rows: either the {k} block gradients were joined along the wrong axis "
                        "(np.concatenate(..., axis=0) stacks them as rows; join them with axis=1, into (B, "
                        f"{k}H)) or one block was used where all are needed, or a weight is used transposed (likely "
                        "bug: gate blocks concatenated along the wrong axis, or a transposed weight)")
        # The error shows sizes only: a transposed weight and two weights exchanged (x @ W_hh) both give it.
        return (". The inner sizes of a matrix product differ: a weight or input used without its transpose, or "
                "with one too many, or two weights exchanged (x multiplied by the recurrent weight) would do this "
                "(likely bug: transposed or swapped weights); in the backward, the gradient of x @ W is da @ W.T "
                "for x and x.T @ da for W")
    return ""


def _inner_sizes(message: str) -> tuple[int, int] | None:
    """(columns of the left operand, rows of the right one) from numpy's matmul or dot error, if it says them."""
    m = _MATMUL_SIZES.search(message)
    if m is None:
        return None
    if m.group(1):
        return int(m.group(2)), int(m.group(1))  # "size <right rows> is different from <left columns>"
    return int(m.group(4)), int(m.group(5))


def raised_text(name: str, exc: BaseException) -> str:
    """How a check quotes a student's exception: ``name raised Kind: message`` (cut to 500 characters), where it
    was raised, and on hidden tests why no cause is guessed from it.
    """
    kind = getattr(exc, "kind", None) or type_name(exc)
    return f"{name} raised {kind}: {str(exc)[:500]}{_where_raised(exc)}{_redacted_hint(str(exc))}"


def _redacted_hint(message: str) -> str:
    """Why a hidden test's crash names no cause: the error's text (which the guesses read) is not shown there."""
    if REDACTED not in message:
        return ""
    return (". The grader shows no text your code wrote on hidden tests, so no cause is guessed from this error; "
            "the visible tests quote their errors in full")


def _reduced_hint(value, shape: tuple[int, ...]) -> str:
    """A guess when an array comes back with its size-1 axes removed (squeeze) or as one number (a sum over every
    axis): both look right on most shapes and break only when a size is 1 (only shapes are read here).
    """
    got = getattr(value, "shape", None) if type(value) in (np.ndarray, np.float64, np.float32) else None
    if got is None or got == shape or not any(d == 1 for d in shape) and got != ():
        return ""
    if got == tuple(d for d in shape if d != 1):
        return (f" (that is {shape} with its size-1 axes removed: likely bug: size-1 axes squeezed; a squeeze() or "
                "reshape(-1) drops an axis when a size is 1, so index or reshape with the sizes you mean)")
    if got == () and len(shape) >= 1:
        return (f" (one number where {shape} is expected: likely bug: sum over every axis; a sum() or mean() "
                "without axis= reduces every axis, so pass the axis you mean, e.g. axis=0 for the batch)")
    return ""


def _through_hint(value, shape: tuple[int, ...], key: str, D: int, H: int) -> str:
    """A guess when an input gradient has the other input's size: the chain went back through the wrong weight.

    In every cell ``dx = da @ W_x^T`` has D columns and ``dh_prev = da @ W_h^T`` has H (``W_x`` multiplies x in the
    forward, ``W_h`` multiplies h_prev): a dx of H columns went back through ``W_h``, a dh_prev of D through ``W_x``.
    Only shapes are read, and only when D != H (otherwise the sizes say nothing).
    """
    got = value.shape if type(value) is np.ndarray else None
    if got is None or D == H or len(shape) != 2 or got[:1] != shape[:1] or len(got) != 2:
        return ""
    if key == "dx" and got[1] == H:
        return (f" ({H} columns, the hidden size, where the input size {D} belongs: dx went back through the recurrent "
                "weight; likely bug: dx through the recurrent weight instead of the input weight; dx = da @ W_x^T, "
                "with the weight that multiplies x in the forward)")
    if key in ("dh_prev", "dh") and got[1] == D:
        return (f" ({D} columns, the input size, where the hidden size {H} belongs: dh_prev went back through the "
                "input weight; likely bug: dh_prev through the input weight instead of the recurrent weight; "
                "dh_prev = da @ W_h^T, with the weight that multiplies h_prev in the forward)")
    return ""


def _strict(value, what: str, shape: tuple[int, ...], sizes: tuple[int, int] | None = None) -> np.ndarray:
    """``as_array``, with ``_reduced_hint``'s (and, for input gradients with ``sizes`` (D, H), ``_through_hint``'s)
    guess when the shape is wrong.
    """
    try:
        return as_array(value, what, shape)
    except AssertionError as exc:
        hint = _reduced_hint(value, shape)
        if not hint and sizes is not None:
            hint = _through_hint(value, shape, what.rsplit(": ", 1)[-1], *sizes)
        fail(f"{exc}{hint}")


def _column_hint(value, B: int, H: int) -> str:
    """A guess when an output of shape (H, H) or (n, H) comes back where (B, H) was expected."""
    if type(value) is np.ndarray and value.ndim == 2 and value.shape != (B, H) and value.shape[1] == H and (
            value.shape[0] == H or B == 1):
        return (f" ({value.shape} is what a ({H}, 1) column broadcast against (B, H) = ({B}, {H}) gives; likely bug: "
                "bias shaped as a column)")
    return ""


OVERFLOW = "overflow for large pre-activations"


def overflow(value, expected: np.ndarray, case: dict, what: str, who: str = "cell", head: str = "") -> None:
    """Fail naming the overflow class when ``value`` (a float array of the expected shape, on a ``large`` case)
    holds NaN or inf where the reference's ``expected`` is finite; ``who`` says what returned it ("cell",
    "rnn_forward", ...), ``head`` (if given) is the case's header, put before the message.

    The large case runs after every ordinary case has passed, so a non-finite value only there comes from the
    size of the pre-activations by construction: a tanh or sigmoid written with ``np.exp`` (``exp(a)`` is inf
    above about 709 and inf / inf is nan). Only the value's dtype, shape and finiteness are read. Used by the
    cells' checks and by the sequence, architecture and CRNN checks on their large cases.
    """
    if (not case.get("large") or type(value) is not np.ndarray or value.dtype.kind != "f"
            or value.shape != expected.shape or np.isfinite(value).all() or not np.isfinite(expected).all()):
        return
    bad = tuple(int(i) for i in np.argwhere(~np.isfinite(value))[0])
    message = (f"{what}: holds {value[bad]} at index {bad} where the reference is finite ({expected[bad]:.6g}) "
               f"(likely bug: {OVERFLOW}): your {who} returns NaN/inf where the reference is finite; use np.tanh or a "
               "stable form (np.exp(a) is inf for a above about 709, and inf / inf is nan: a sigmoid as "
               "0.5 * (1 + np.tanh(a / 2)), a tanh as np.tanh(a))")
    hidden = (f"holds a value that is not finite where the reference is finite (likely bug: {OVERFLOW}); use np.tanh "
              "or a stable form, as 0.5 * (1 + np.tanh(a / 2)) for the sigmoid")
    # A hidden test's message is the header, then the sentence noted for the message that follows it.
    hidden_text.note_problem(message, f"{what}: {hidden}")
    raise CheckError(f"{head}: {message}" if head else message)


def student_forward(spec: CellSpec, fn: Callable, case: dict, name: str | None = None) -> tuple[dict, object]:
    """Run the student's step on ``case``; returns (outputs read strictly, the cache as returned)."""
    name = name or spec.step_name
    out = run_student(fn, name, forward_args(spec, case), options(spec, case), names=("x", *spec.states, "params"))
    items = as_tuple(out, len(spec.outputs) + 1, f"{name} returned", ", ".join((*spec.outputs, "cache")))
    B, H = case["h_prev"].shape
    got = {}
    expected = reference_forward(spec, case)[0] if case.get("large") else {}
    for o, v in zip(spec.outputs, items, strict=False):
        if o in expected:
            overflow(v, expected[o], case, f"{name}: {o}")
        try:
            got[o] = as_array(v, f"{name}: {o}", (B, H))
        except AssertionError as exc:
            fail(f"{exc}{_column_hint(v, B, H) or _reduced_hint(v, (B, H))}")
    return got, items[-1]


def _read_keys(spec: CellSpec, case: dict, wrt: str) -> list[str]:
    params = list(case["params"])
    return {"all": [*spec.input_grads, *params], "inputs": list(spec.input_grads), "params": params}[wrt]


def student_backward(spec: CellSpec, fn: Callable, case: dict, cache: dict, wrt: str = "all") -> dict:
    """Run the student's backward on the case's upstream gradients and ``cache``; read what ``wrt`` grades."""
    name = spec.backward_name
    args = (*(case[u] for u in spec.upstream), cache)
    try:
        out = call(fn, name, args, names=(*spec.upstream, "cache"))
    except (AssertionError, *_CHANNEL_ERRORS):
        raise
    except KeyError as exc:
        fail(f"{name} raised KeyError {exc}: it read a key the cache does not hold. The grader calls {name} "
             f"with the reference's cache of {spec.step_name}, whose prescribed keys are "
             f"{', '.join(CACHE_KEYS[spec.kind])}: read only those")
    except Exception as exc:  # noqa: BLE001
        kind = getattr(exc, "kind", None) or type_name(exc)
        raise StudentRaisedError(f"{name} raised {kind} on the reference's cache: {str(exc)[:500]}{_where_raised(exc)}"
                            f"{_broadcast_hint(str(exc), _sizes((cache['x'], cache['h_prev']), spec.kind))}"
                            f"{_redacted_hint(str(exc))}") from None
    names = (*spec.input_grads, "grads")
    items = as_tuple(out, len(names), f"{name} returned", ", ".join(names))
    B, H = case["h_prev"].shape
    got = {}
    D = case["x"].shape[1]
    if case.get("large"):
        expected = reference_backward(spec, case, cache)
        for n_, v in zip(spec.input_grads, items[:-1], strict=True):
            if wrt in ("all", "inputs"):
                overflow(v, expected[n_], case, f"{name}: {n_}")
        if wrt in ("all", "params") and type(items[-1]) is dict:
            for p in case["params"]:
                overflow(dict.get(items[-1], p), expected[p], case, f"{name}: grads[{p!r}]")
    if wrt in ("all", "inputs"):
        got["dx"] = _strict(items[0], f"{name}: dx", case["x"].shape, (D, H))
        for n_, v in zip(spec.input_grads[1:], items[1:-1], strict=True):
            got[n_] = _strict(v, f"{name}: {n_}", (B, H), (D, H))
    if wrt in ("all", "params"):
        shapes = {k: v.shape for k, v in case["params"].items()}
        got.update(_read_grads(items[-1], f"{name}: grads", shapes, B))
    return got


def _read_grads(value, what: str, shapes: dict, B: int | None = None) -> dict:
    """``as_array_dict``, with a hint when a bias gradient comes back as a column or a row, or summed over the unit
    axis (B numbers where the bias has its own size, B != that size), or a weight gradient with its two sizes
    exchanged (a transposed product).
    """
    if type(value) is dict:
        for k, shape in shapes.items():
            v = dict.get(value, k)
            if (len(shape) == 1 and B is not None and B != shape[0] and type(v) is np.ndarray
                    and v.shape == (B,)):
                fail(f"{what}[{k!r}]: shape {v.shape}, expected {shape}: one number per example, where the bias has "
                     f"one per unit (likely bug: bias gradient summed over the wrong axis); sum da over the batch "
                     "axis, axis=0, not over the units")
            if len(shape) == 1 and type(v) is np.ndarray and v.shape in ((shape[0], 1), (1, shape[0])):
                # a (1, 1) gradient of a 1-unit bias cannot tell a row from a column
                kind = "row or column" if shape[0] == 1 else "column" if v.shape == (shape[0], 1) else "row"
                fail(f"{what}[{k!r}]: shape {v.shape}, expected {shape}: the bias gradient is shaped as a {kind} "
                     f"(likely bug: bias shaped as a {kind}); sum da over the batch axis without keepdims")
            if len(shape) == 2 and shape[0] != shape[1] and type(v) is np.ndarray and v.shape == shape[::-1]:
                # Only the shape is read here, never the values: the transpose's size is the evidence.
                fail(f"{what}[{k!r}]: shape {v.shape}, expected {shape}: the gradient has the weight's shape "
                     f"transposed (likely bug: transposed gradient); grads[{k!r}] must have the shape of "
                     f"params[{k!r}]: the input's transpose on the left (x^T da), not da^T x")
    try:
        return as_array_dict(value, what, shapes)
    except AssertionError as exc:
        hints = [_reduced_hint(dict.get(value, k), shape) for k, shape in shapes.items()] if type(value) is dict else []
        fail(f"{exc}{next((h for h in hints if h), '')}")


# ----------------------------------------------------------------------------- the forward's cache
def cache_problem(spec: CellSpec, cache, reference: dict, name: str | None = None,
                  confirm: Callable[[str, str], bool] | None = None) -> str | None:
    """None if the student's ``cache`` holds every prescribed key with the reference's value, else why not.

    A wrong entry equal to another prescribed entry of ``reference`` is said to hold that quantity only if
    ``confirm(key, other)`` (``probe_confirmation``: the same holds on the grader's probe case, where the
    two differ): one case's values may agree by chance (``tanh(c_prev) ~ c_prev`` for a tiny ``c_prev``).
    Without ``confirm`` the match on this case is taken as it is.
    """
    try:
        return _cache_problem(spec, cache, reference, name or spec.step_name, confirm)
    except AssertionError as exc:  # an entry that is not a float array of the right shape
        return str(exc)


def _cache_problem(spec: CellSpec, cache, reference: dict, name: str,
                   confirm: Callable[[str, str], bool] | None = None) -> str | None:
    keys = CACHE_KEYS[spec.kind]
    listing = ", ".join(keys)
    if type(cache) is not dict:
        return (f"{name}'s cache: expected a dict with at least the keys {listing} (the notebook prescribes them; "
                f"{spec.backward_name} is graded on a cache with these keys), got an object of type {type_name(cache)}")
    items = {k: v for k, v in dict.items(cache) if type(k) is str}
    missing = [k for k in keys if k not in items]
    if missing:
        what = "; ".join(f"{k!r}: {CACHE_MEANING[k]}" for k in missing)
        return (f"{name}'s cache has no key {', '.join(repr(k) for k in missing)} ({what}). The forward must store "
                f"every prescribed key ({listing}): {spec.backward_name} reads them (this is a bug of {name}, "
                "not of the backward)")
    for k in keys:
        got, want = items[k], reference[k]
        what = f"{name}'s cache[{k!r}]"
        if k in _NOT_ARRAYS:
            if type(got) is not _NOT_ARRAYS[k] or got != want:
                return f"{what}: expected {want!r} ({CACHE_MEANING[k]}), got {_short(got)}"
        elif k == "params":
            if type(got) is not dict:
                return f"{what}: expected the parameter dict, got an object of type {type_name(got)}"
            arrays = as_array_dict(got, what, {p: v.shape for p, v in want.items()})
            for p, v in arrays.items():
                if (m := describe_mismatch(f"{what}[{p!r}]", want[p], v)) is not None:
                    return f"{m}: store params as passed in"
        else:
            arr = as_array(got, what, want.shape)
            if (m := describe_mismatch(what, want, arr, spec.layout(k))) is not None:
                return f"{m} ({CACHE_MEANING[k]}){_holds_other(k, arr, reference, confirm, spec.kind)}"
    return None


def _with_pre_activations(kind: str, reference: dict) -> dict:
    """The reference's cache with each gate's pre-activation added as ``"pre:<gate>"`` (``probes.pre_activations``)."""
    try:
        return {**reference, **probes.pre_activations(kind, reference)}
    except KeyError:
        return reference


def _holds_other(key: str, got: np.ndarray, reference: dict, confirm: Callable[[str, str], bool] | None,
                 kind: str | None = None) -> str:
    """A guess when a wrong cache entry equals another prescribed entry of the reference's cache, or the entry's own
    pre-activation (the value before its sigmoid or tanh), and ``confirm`` agrees on the probe case.
    """
    if kind is not None and key in hyp.GATE_NAMES:
        pre = _with_pre_activations(kind, reference).get(f"pre:{key}")
        if (type(pre) is np.ndarray and pre.shape == got.shape and all_close(pre, got)
                and (confirm is None or confirm(key, f"pre:{key}"))):
            act = "tanh" if key in ("g", "n") else "sigmoid"
            return (f"; it holds {key}'s pre-activation, the value before its {act}: {key} stored before the "
                    "activation is applied (likely bug: cache entry holds the pre-activation)")
    for other, want in reference.items():
        if (other != key and other in CACHE_MEANING and type(want) is np.ndarray and want.shape == got.shape
                and all_close(want, got) and (confirm is None or confirm(key, other))):
            return (f"; it holds what the reference stores as {other!r} ({CACHE_MEANING[other]}): the wrong variable "
                    f"stored, or the array stored as {key!r} overwritten afterwards, in place (out=, +=) (likely bug: "
                    "cache entry holds another quantity)")
    return ""


def probe_confirmation(spec: CellSpec, fn: Callable, reset_after: bool = True) -> Callable[[str, str], bool]:
    """``confirm(key, other)``: on the grader's probe case, does the student's ``cache[key]`` hold the reference's
    ``other``, where the reference's ``key`` and ``other`` differ? The student runs at most once (it only explains).
    """
    seen: dict[str, dict | None] = {}

    def confirm(key: str, other: str) -> bool:
        probe = probes.probe_case(spec.kind, reset_after)
        if "cache" not in seen:
            try:
                _, student = student_forward(spec, fn, probe)
                items = dict.items(student) if type(student) is dict else ()
                seen["cache"] = {k: v for k, v in items if type(k) is str}
            except _CHANNEL_ERRORS:
                raise
            except Exception:  # noqa: BLE001 - a student that fails on the probe case gets no guess
                seen["cache"] = None
        student, reference = seen["cache"] or {}, _with_pre_activations(spec.kind, backward_cache(spec.kind, probe))
        got, want, own = dict.get(student, key), reference.get(other), reference.get(key)
        return (type(got) is np.ndarray and type(want) is np.ndarray and got.shape == want.shape
                and got.dtype.kind == "f" and all_close(want, got) and not all_close(own, want))

    return confirm


def _short(value) -> str:
    if type(value) in (str, bool, int, float, type(None)):
        return repr(value)[:60]
    return f"an object of type {type_name(value)}"


# ----------------------------------------------------------------------------- explanations (no score)
def cached_intermediates(spec: CellSpec, cache, case: dict) -> dict:
    """The ``INTERMEDIATES`` a student's cache holds as float (B, H) arrays (others are left out, not failed)."""
    if type(cache) is not dict:
        return {}
    items = {k: v for k, v in dict.items(cache) if type(k) is str}
    B, H = case["h_prev"].shape
    shapes = {k: (B, 3 * H) if k == "hw" else (B, H) for k in INTERMEDIATES[spec.kind]}
    return {k: np.array(items[k], dtype=np.float64) for k in INTERMEDIATES[spec.kind]
            if type(items.get(k)) is np.ndarray and items[k].shape == shapes[k] and items[k].dtype.kind == "f"
            and np.isfinite(items[k]).all()}


def _explain_forward(spec: CellSpec, fn: Callable, case: dict, got: dict, cache, problems: list[str]) -> str:
    kind = spec.kind

    def run_student(c: dict) -> dict:
        outs, student_cache = student_forward(spec, fn, c)
        return {**outs, **cached_intermediates(spec, student_cache, c)}

    def run_reference(c: dict) -> dict:
        ref = backward_cache(kind, c)
        return {**reference_forward(spec, c)[0], **{k: ref[k] for k in INTERMEDIATES[kind]},
                **probes.pre_activations(kind, ref)}

    ra = case.get("reset_after", True)
    seen = {**got, **cached_intermediates(spec, cache, case)}
    return diagnose.explain_step(
        case, seen, hyp.FORWARD[kind](), spec.outputs, probes.probe_cases(kind, ra), run_student, run_reference,
        lambda: probes.forward_finding(kind, run_student, run_reference, spec.layout, ra, _case_shape(case)), problems)


def _explain_backward(spec: CellSpec, fn_b: Callable, case: dict, got: dict, wrt: str, problems: list[str]) -> str:
    kind = spec.kind
    keys = _read_keys(spec, case, wrt)

    def run_student(c: dict) -> dict:
        # Read every gradient that reads cleanly (the bias gradient shows da block by block), else the graded ones.
        try:
            return student_backward(spec, fn_b, c, backward_cache(kind, c), "all")
        except AssertionError:
            return student_backward(spec, fn_b, c, backward_cache(kind, c), wrt)

    def run_reference(c: dict) -> dict:
        return reference_backward(spec, c)

    def with_cache(c: dict) -> dict:
        return {**c, "cache": backward_cache(kind, c)}

    ra = case.get("reset_after", True)
    return diagnose.explain_step(
        with_cache(case), got, hyp.BACKWARD[kind](), tuple(keys), [with_cache(p) for p in probes.probe_cases(kind, ra)],
        run_student, run_reference,
        lambda: probes.backward_finding(kind, run_student, run_reference, spec.layout, keys, ra, _case_shape(case)),
        problems)


def _raised_forward(spec: CellSpec, fn: Callable, case: dict) -> str:
    """`` <finding>`` when the shapes under which the student's forward runs explain why it raised, else ""."""
    kind = spec.kind

    def run_student(c: dict) -> dict:
        return student_forward(spec, fn, c)[0]

    def run_reference(c: dict) -> dict:
        return reference_forward(spec, c)[0]

    return _shape_text(lambda: probes.shape_finding(
        kind, run_student, run_reference, spec.layout, hyp.FORWARD[kind](), reset_after=case.get("reset_after", True),
        what=f"your {spec.step_name}", case_shape=_case_shape(case), outputs=spec.outputs))


def _raised_backward(spec: CellSpec, fn_b: Callable, case: dict, wrt: str) -> str:
    """`` <finding>`` for a backward that raised on the reference's cache (as ``_raised_forward``)."""
    kind = spec.kind
    keys = tuple(_read_keys(spec, case, wrt))

    def run_student(c: dict) -> dict:
        return student_backward(spec, fn_b, c, c["cache"], wrt)

    def run_reference(c: dict) -> dict:
        return reference_backward(spec, c, c["cache"])

    return _shape_text(lambda: probes.shape_finding(
        kind, run_student, run_reference, spec.layout, hyp.BACKWARD[kind](),
        with_case=lambda c: {**c, "cache": backward_cache(kind, c)}, reset_after=case.get("reset_after", True),
        what=f"your {spec.backward_name}", case_shape=_case_shape(case), outputs=keys))


def _case_shape(case: dict) -> tuple[int, int, int]:
    return case["x"].shape[0], case["x"].shape[1], case["h_prev"].shape[1]


def _shape_text(find: Callable[[], probes.Finding | None]) -> str:
    """The finding's text after a space, or "" (the shape probes only explain: their failure says nothing)."""
    try:
        finding = find()
    except _CHANNEL_ERRORS:
        raise
    except Exception:  # noqa: BLE001 - the probes explain; their failure must not hide the check's message
        return ""
    return f" {finding.text()}" if finding else ""


# ----------------------------------------------------------------------------- the checks
def _mismatches(spec: CellSpec, case: dict, expected: dict, got: dict, keys) -> list[str]:
    found = (describe_mismatch(_label(k, case), expected[k], got[k], spec.layout(k)) for k in keys)
    return [m for m in found if m is not None]


def _label(key: str, case: dict) -> str:
    return f"grads[{key!r}]" if key in case["params"] else key


def step_cases(spec: CellSpec, hidden: bool, reset_after: bool = True) -> list[dict]:
    out = case_sets.step_cases(spec.kind, hidden)
    for c in out:
        c["reset_after"] = reset_after
    return out


def _with_head(head: str, run: Callable):
    """``run()``, with a failure's message prefixed by the case's header (which function, which case)."""
    try:
        return run()
    except AssertionError as exc:
        fail(f"{head}: {exc}")


def large_cases(spec: CellSpec, hidden: bool, reset_after: bool = True) -> list[dict]:
    """The case with large pre-activations (``cases.large_step_cases``), graded after the ordinary ones."""
    out = case_sets.large_step_cases(spec.kind, hidden)
    for c in out:
        c["reset_after"] = reset_after
    return out


LARGE = "on large pre-activations"


def graded_with_large(name: str, cases: list[dict], large: list[dict], hidden: bool) -> Iterator[tuple[str, dict]]:
    """Every graded case with its header, composed when its turn comes: the ordinary ``cases``, then the ``large``
    ones under their own header (``<name> on large pre-activations, visible case 1 of 1``), so the ordinary cases
    keep their numbers (the cells', sequences', architectures' and the CRNN's checks).
    """
    for k, c in enumerate(cases):
        yield header(name, k, len(cases), c, hidden), c
    for k, c in enumerate(large):
        yield header(f"{name} {LARGE}", k, len(large), c, hidden), c


def _graded(name: str, spec: CellSpec, hidden: bool, reset_after: bool) -> Iterator[tuple[str, dict]]:
    """Every graded case with its header, composed when its turn comes (the header opens the case): the ordinary
    cases, then the large one under its own header (``<name> on large pre-activations, visible case 1 of 1``),
    so the ordinary cases keep their numbers.
    """
    yield from graded_with_large(name, step_cases(spec, hidden, reset_after), large_cases(spec, hidden, reset_after),
                                 hidden)


def _check_step(spec: CellSpec, fn: Callable, hidden: bool, reset_after: bool = True, cache: bool = False) -> None:
    cases = step_cases(spec, hidden, reset_after)
    for head, case in _graded(spec.step_name, spec, hidden, reset_after):
        try:
            got, student_cache = student_forward(spec, fn, case)
        except StudentRaisedError as exc:
            fail(f"{head}: {exc}.{_raised_forward(spec, fn, case)}")
        except AssertionError as exc:
            fail(f"{head}: {exc}")
        expected, _ = reference_forward(spec, case)
        problems = _mismatches(spec, case, expected, got, spec.outputs)
        if problems:
            why = _explain_forward(spec, fn, case, got, student_cache, problems)
            fail(f"{head}: {why} Tolerance: {tolerance_text()}.")
        if cache and (problem := cache_problem(spec, student_cache, backward_cache(spec.kind, case),
                                               confirm=probe_confirmation(spec, fn, reset_after))):
            fail(f"{head}: {problem}. Tolerance: {tolerance_text()}.")
    option = "" if reset_after else " with reset_after=False"
    what = "outputs and cache" if cache else "outputs"
    ok(f"{spec.step_name}{option} matches the reference on {len(cases)} {'hidden' if hidden else 'visible'} "
       f"cases and 1 with large pre-activations, {what} ({tolerance_text()})")


def _check_step_backward(spec: CellSpec, fn_b: Callable, hidden: bool, wrt: str, reset_after: bool = True) -> None:
    if wrt not in WRT:
        raise ValueError(f"wrt: got {wrt!r}; expected one of {WRT}")
    cases = step_cases(spec, hidden, reset_after)
    for head, case in _graded(spec.backward_name, spec, hidden, reset_after):
        try:
            got = student_backward(spec, fn_b, case, backward_cache(spec.kind, case), wrt)
        except StudentRaisedError as exc:
            fail(f"{head}: {exc}.{_raised_backward(spec, fn_b, case, wrt)}")
        except AssertionError as exc:
            fail(f"{head}: {exc}")
        expected = reference_backward(spec, case)
        problems = _mismatches(spec, case, expected, got, _read_keys(spec, case, wrt))
        if problems:
            why = _explain_backward(spec, fn_b, case, got, wrt, problems)
            fail(f"{head}: {why} Tolerance: {tolerance_text()}.")
    part = {"all": "all gradients", "inputs": "gradients with respect to the inputs and states",
            "params": "gradients with respect to the parameters"}[wrt]
    ok(f"{spec.backward_name}: {part} match on {len(cases)} {'hidden' if hidden else 'visible'} cases and 1 with "
       f"large pre-activations, computed on the reference's cache ({tolerance_text()})")


# ----------------------------------------------------------------------------- public checks: cells
def check_rnn_step(rnn_step: Callable, hidden: bool = False, cache: bool = False) -> None:
    """Does ``rnn_step(x, h_prev, params)`` return the reference ``(h, cache)``?

    ``cache=True`` (the course's notebooks, which prescribe the keys) also compares the cache's keys
    ``CACHE_KEYS["rnn"]`` with the reference's.
    """
    _check_step(SPECS["rnn"], rnn_step, hidden, cache=cache)


def check_rnn_step_backward(rnn_step: Callable, rnn_step_backward: Callable, hidden: bool = False,
                            wrt: str = "all") -> None:
    """Does ``rnn_step_backward(dh, cache)`` return the reference ``(dx, dh_prev, grads)`` on the reference's cache?

    ``rnn_step`` is accepted for the notebooks' signature and not called: the backward is graded on its own.
    ``wrt`` restricts the comparison to ``"inputs"`` (dx, dh_prev) or ``"params"`` (grads).
    """
    _check_step_backward(SPECS["rnn"], rnn_step_backward, hidden, wrt)


def check_lstm_step(lstm_step: Callable, hidden: bool = False, cache: bool = False) -> None:
    """Does ``lstm_step(x, h_prev, c_prev, params)`` return the reference ``(h, c, cache)``? (``cache`` as above)"""
    _check_step(SPECS["lstm"], lstm_step, hidden, cache=cache)


def check_lstm_step_backward(lstm_step: Callable, lstm_step_backward: Callable, hidden: bool = False,
                             wrt: str = "all") -> None:
    """Does ``lstm_step_backward(dh, dc, cache)`` return the reference ``(dx, dh_prev, dc_prev, grads)``?"""
    _check_step_backward(SPECS["lstm"], lstm_step_backward, hidden, wrt)


def check_gru_step(gru_step: Callable, hidden: bool = False, reset_after: bool = True, cache: bool = False) -> None:
    """Does ``gru_step(x, h_prev, params, reset_after)`` return the reference ``(h, cache)``? (``cache`` as above)"""
    _check_step(SPECS["gru"], gru_step, hidden, reset_after, cache)


def check_gru_step_backward(gru_step: Callable, gru_step_backward: Callable, hidden: bool = False,
                            wrt: str = "all", reset_after: bool = True) -> None:
    """Does ``gru_step_backward(dh, cache)`` return the reference ``(dx, dh_prev, grads)``?"""
    _check_step_backward(SPECS["gru"], gru_step_backward, hidden, wrt, reset_after)
