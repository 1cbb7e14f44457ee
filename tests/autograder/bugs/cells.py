"""Realistic student bugs in the cell assignments (rnn_cell, lstm_cell, gru_cell) and how the feedback fares on them.

Each bug is an edit of the assignment's solution code (``(solution grade_id, old text, new text)``, the
format of ``tests/exercises/bugs.py``), the function it breaks, and two regular expressions written with
the bug, before its feedback was seen: ``where`` (the message locates the right output or key) and
``cause`` (the message names the cause or the faulty equation line). ``measure`` runs the notebook's own
test cells in this process (the checks with plain functions, no sandbox) and counts, per assignment:

- caught: some test cell fails;
- located: every failing cell tests the edited function and a message matches ``where``;
- named: a failing message matches ``cause``.

The bugs are split by a fixed hash of their name into a half the diagnosis was tuned on and a held-out
half (``half``). ``python -m tests.autograder.bugs.cells [tune|held-out|all]`` prints the table.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import re
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
ASSIGNMENTS = ("rnn_cell", "lstm_cell", "gru_cell")


@dataclass(frozen=True)
class CellBug:
    name: str
    assignment: str
    function: str
    edits: tuple[tuple[str, str, str], ...]
    where: str
    cause: str

    @property
    def half(self) -> str:
        """``"tune"`` or ``"held-out"``, fixed by the bug's name."""
        return "tune" if hashlib.sha256(self.name.encode()).digest()[0] % 2 == 0 else "held-out"


def _b(name, assignment, function, edits, where, cause):
    return CellBug(name, assignment, function, tuple(edits), where, cause)


RF, RB = "rnn_step", "rnn_step_backward"
LF, LB = "lstm_step", "lstm_step_backward"
GF, GB = "gru_step", "gru_step_backward"

BUGS = [
    # ------------------------------------------------------------------ rnn_step
    _b("rnn_bias_column", "rnn_cell", RF,
       [(RF, '+ params["b_h"]  # (B, H)', '+ params["b_h"].reshape(-1, 1)  # (B, H)')],
       r"\bh\b", r"column"),
    _b("rnn_relu", "rnn_cell", RF, [(RF, 'h = np.tanh(a) if activation', 'h = np.maximum(a, 0.0) if activation')],
       r"\bh differs", r"relu|activation"),
    _b("rnn_transposed_W_hh", "rnn_cell", RF, [(RF, 'h_prev @ params["W_hh"]', 'h_prev @ params["W_hh"].T')],
       r"\bh differs", r"W_hh.*transposed|h_prev W_hh term"),
    _b("rnn_cache_a_is_h", "rnn_cell", RF, [(RF, '"a": a,', '"a": h,')], r"cache\['a'\]", r"cache\['a'\]"),
    _b("rnn_cache_missing_h_prev", "rnn_cell", RF, [(RF, '"h_prev": h_prev, "a"', '"a"')],
       r"no key 'h_prev'", r"bug of rnn_step"),
    _b("rnn_sigmoid", "rnn_cell", RF, [(RF, 'h = np.tanh(a) if', 'h = sigmoid(a) if')], r"\bh differs",
       r"sigmoid|activation"),
    _b("rnn_bias_after_tanh", "rnn_cell", RF,
       [(RF, ' + params["b_h"]  # (B, H)', '  # (B, H)'),
        (RF, 'h = np.tanh(a) if activation == "tanh" else np.maximum(a, 0.0)',
         'h = (np.tanh(a) if activation == "tanh" else np.maximum(a, 0.0)) + params["b_h"]')],
       r"\bh differs", r"b_h term|bias"),
    # ------------------------------------------------------------------ rnn_step_backward
    _b("rnn_dtanh_with_h", "rnn_cell", RB, [(RB, "da = dh * (1.0 - h * h)", "da = dh * (1.0 - h)")],
       r"grads\['b_h'\]|dx differs", r"1 - h\)|h instead of h\^2"),
    _b("rnn_dW_new_state", "rnn_cell", RB, [(RB, '"W_hh": h_prev.T @ da', '"W_hh": h.T @ da')],
       r"grads\['W_hh'\]", r"new state|dW_hh = h_prev\^T da"),
    _b("rnn_db_column", "rnn_cell", RB, [(RB, '"b_h": da.sum(axis=0)', '"b_h": da.sum(axis=0, keepdims=True).T')],
       r"grads\['b_h'\]", r"column"),
    _b("rnn_db_mean", "rnn_cell", RB, [(RB, '"b_h": da.sum(axis=0)', '"b_h": da.mean(axis=0)')],
       r"grads\['b_h'\]", r"db_h = sum"),
    _b("rnn_dh_prev_no_derivative", "rnn_cell", RB,
       [(RB, 'dh_prev = da @ params["W_hh"].T', 'dh_prev = dh @ params["W_hh"].T')],
       r"dh_prev differs", r"dh_prev = da W_hh\^T"),
    _b("rnn_dW_xh_uses_dh", "rnn_cell", RB, [(RB, '"W_xh": x.T @ da', '"W_xh": x.T @ dh')],
       r"grads\['W_xh'\]", r"dW_xh = x\^T da"),
    # ------------------------------------------------------------------ lstm_step
    _b("lstm_if_swap_in_c", "lstm_cell", LF, [(LF, "c = f * c_prev + i * g", "c = i * c_prev + f * g")],
       r"\bc differs", r"which gate multiplies c_prev"),
    _b("lstm_h_from_c_prev", "lstm_cell", LF, [(LF, "tanh_c = np.tanh(c)", "tanh_c = np.tanh(c_prev)")],
       r"\bh differs", r"previous cell state|c_prev"),
    _b("lstm_forget_bias_offset", "lstm_cell", LF,
       [(LF, "f = sigmoid(a[:, H:2 * H])", "f = sigmoid(a[:, H:2 * H] + 1.0)")], r"differs", r"forget"),
    _b("lstm_o_tanh", "lstm_cell", LF, [(LF, "o = sigmoid(a[:, 3 * H:])", "o = np.tanh(a[:, 3 * H:])")],
       r"\bh differs", r"o = sigmoid"),
    _b("lstm_cs231n_order", "lstm_cell", LF,
       [(LF, "g = np.tanh(a[:, 2 * H:3 * H])", "g = np.tanh(a[:, 3 * H:])"),
        (LF, "o = sigmoid(a[:, 3 * H:])", "o = sigmoid(a[:, 2 * H:3 * H])")], r"differs", r"order|swapped"),
    _b("lstm_recurrence_dropped", "lstm_cell", LF, [(LF, ' + h_prev @ params["W_h"]', "")], r"differs",
       r"recurrence dropped|h_prev W_h term"),
    _b("lstm_cache_missing_c_prev", "lstm_cell", LF, [(LF, '"c_prev": c_prev, "i"', '"i"')],
       r"no key 'c_prev'", r"bug of lstm_step"),
    _b("lstm_h_without_o", "lstm_cell", LF, [(LF, "h = o * tanh_c", "h = tanh_c")], r"\bh differs", r"o factor"),
    # ------------------------------------------------------------------ lstm_step_backward
    _b("lstm_dg_sigmoid_derivative", "lstm_cell", LB,
       [(LB, "da_g = dc_total * i * (1.0 - g * g)", "da_g = dc_total * i * g * (1.0 - g)")],
       r"gate g|grads\['b'\]", r"candidate's derivative|da_g"),
    _b("lstm_dc_total_without_o", "lstm_cell", LB,
       [(LB, "dc + dh * o * (1.0 - tanh_c * tanh_c)", "dc + dh * (1.0 - tanh_c * tanh_c)")],
       r"differs", r"dh term of dc_total"),
    _b("lstm_dtanh_c_linear", "lstm_cell", LB,
       [(LB, "dc + dh * o * (1.0 - tanh_c * tanh_c)", "dc + dh * o * (1.0 - tanh_c)")],
       r"differs", r"1 - tanh\(c\)\)|dh term of dc_total"),
    _b("lstm_dc_prev_without_f", "lstm_cell", LB, [(LB, "dc_prev = dc_total * f", "dc_prev = dc_total")],
       r"dc_prev differs", r"dc_prev = dc_total \* f|dc_total \* f"),
    _b("lstm_da_o_from_dc_total", "lstm_cell", LB,
       [(LB, "da_o = dh * tanh_c * o * (1.0 - o)", "da_o = dc_total * tanh_c * o * (1.0 - o)")],
       r"gate o|grads\['b'\]", r"da_o"),
    _b("lstm_missing_dc", "lstm_cell", LB,
       [(LB, "dc_total = dc + dh * o", "dc_total = dh * o")], r"differs", r"incoming dc|dc term"),
    _b("lstm_da_f_new_cell", "lstm_cell", LB,
       [(LB, "da_f = dc_total * c_prev * f", 'da_f = dc_total * cache["c"] * f')], r"gate f|grads\['b'\]", r"da_f"),
    # ------------------------------------------------------------------ gru_step
    _b("gru_reset_dropped", "gru_cell", GF,
       [(GF, "n = np.tanh(xw[:, 2 * H:] + r * hw_n)", "n = np.tanh(xw[:, 2 * H:] + hw_n)")],
       r"\bh differs", r"reset gate"),
    _b("gru_reset_on_input", "gru_cell", GF,
       [(GF, "n = np.tanh(xw[:, 2 * H:] + r * hw_n)", "n = np.tanh(r * xw[:, 2 * H:] + hw_n)")],
       r"\bh differs", r"reset gate enters"),
    _b("gru_update_flipped", "gru_cell", GF,
       [(GF, "h = z * h_prev + (1.0 - z) * n", "h = (1.0 - z) * h_prev + z * n")], r"\bh differs",
       r"update convention|which of h_prev and n"),
    _b("gru_reset_twice_before", "gru_cell", GF,
       [(GF, "n = np.tanh(xw[:, 2 * H:] + hw_n)", "n = np.tanh(xw[:, 2 * H:] + r * hw_n)")],
       r"\bh differs", r"reset gate enters"),
    _b("gru_n_sigmoid", "gru_cell", GF,
       [(GF, "n = np.tanh(xw[:, 2 * H:] + r * hw_n)", "n = sigmoid(xw[:, 2 * H:] + r * hw_n)")],
       r"\bh differs", r"sigmoid|candidate line"),
    _b("gru_z_reads_r_block", "gru_cell", GF,
       [(GF, "z = sigmoid(xw[:, :H] + hw_zr[:, :H])", "z = sigmoid(xw[:, H:2 * H] + hw_zr[:, :H])")],
       r"\bh differs", r"z = sigmoid\(x W_xz"),
    _b("gru_cache_hw_n_only", "gru_cell", GF, [(GF, '"hw": hw,', '"hw_n": hw_n,')], r"no key 'hw'",
       r"bug of gru_step"),
    # ------------------------------------------------------------------ gru_step_backward
    _b("gru_dz_sign", "gru_cell", GB,
       [(GB, "da_z = dh * (h_prev - n) * z", "da_z = dh * (n - h_prev) * z")], r"differs", r"sign|da_z"),
    _b("gru_dn_without_one_minus_z", "gru_cell", GB,
       [(GB, "da_n = dh * (1.0 - z) * (1.0 - n * n)", "da_n = dh * (1.0 - n * n)")], r"differs", r"da_n"),
    _b("gru_no_direct_path", "gru_cell", GB,
       [(GB, "dh_prev = dh * z  # the direct path", "dh_prev = np.zeros_like(dh)  # the direct path")],
       r"dh_prev differs", r"direct"),
    _b("gru_dW_hn_without_r", "gru_cell", GB, [(GB, "dW_hn = h_prev.T @ dhw_n", "dW_hn = h_prev.T @ da_n")],
       r"grads\['W_h'\]", r"dW_h ="),
    _b("gru_dtanh_linear", "gru_cell", GB,
       [(GB, "da_n = dh * (1.0 - z) * (1.0 - n * n)", "da_n = dh * (1.0 - z) * (1.0 - n)")],
       r"differs", r"n instead of n\^2|da_n"),
    _b("gru_dr_before_without_h_prev", "gru_cell", GB, [(GB, "    dr = drh * h_prev", "    dr = drh")],
       r"differs", r"dr ="),
    _b("gru_db_hn_without_r", "gru_cell", GB, [(GB, "dhw_n.sum(axis=0)])", "da_n.sum(axis=0)])")],
       r"grads\['b_h'\]", r"db_h"),
]


# ----------------------------------------------------------------------------- running a bug
def _notebook(assignment: str):
    sys.path.insert(0, str(ROOT / "exercises"))
    try:
        module = __import__(f"builders.{assignment}", fromlist=["build"])
    finally:
        sys.path.pop(0)
    return module.build()


def run_notebook(assignment: str, edits=()) -> dict[str, str | None]:
    """Run the assignment's solution (with ``edits``) and its test cells here: test grade_id -> None or the error."""
    nb = _notebook(assignment)
    sources = {c.metadata.get("nbgrader", {}).get("grade_id"): c.source for c in nb.cells if c.cell_type == "code"}
    for grade_id, old, new in edits:
        if sources[grade_id].count(old) != 1:
            raise ValueError(f"edit of {grade_id}: {old!r} occurs {sources[grade_id].count(old)} times")
        sources[grade_id] = sources[grade_id].replace(old, new)
    namespace: dict = {}
    results = {}
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if cell.cell_type != "code" or meta.get("grade_id") == "worked_example":
            continue
        source = sources.get(meta.get("grade_id"), cell.source)
        if meta.get("grade"):
            try:
                with contextlib.redirect_stdout(io.StringIO()):
                    exec(compile(source, meta["grade_id"], "exec"), namespace)  # noqa: S102 - our own notebook
                results[meta["grade_id"]] = None
            except Exception as exc:  # noqa: BLE001 - every failure is a result
                results[meta["grade_id"]] = f"{type(exc).__name__}: {exc}"
        else:
            exec(compile(source, str(meta.get("grade_id")), "exec"), namespace)  # noqa: S102
    return results


def _tests_of(function: str, test_id: str) -> bool:
    rest = test_id[len(f"test_{function}"):]
    return test_id.startswith(f"test_{function}") and not (function.endswith("_step") and rest.startswith("_backward"))


def score(bug: CellBug) -> dict:
    """caught / located / named for one bug, with the failing cells and their messages."""
    results = run_notebook(bug.assignment, bug.edits)
    failing = {t: m for t, m in results.items() if m is not None}
    messages = list(failing.values())
    located = bool(failing) and all(_tests_of(bug.function, t) for t in failing) and any(
        re.search(bug.where, m) for m in messages)
    named = any(re.search(bug.cause, m) for m in messages)
    return {"caught": bool(failing), "located": located, "named": named, "failing": failing}


def measure(half: str = "tune") -> dict[str, dict[str, int]]:
    """Counts per assignment over the bugs of ``half`` (``"tune"``, ``"held-out"`` or ``"all"``)."""
    table = {a: {"bugs": 0, "caught": 0, "located": 0, "named": 0} for a in ASSIGNMENTS}
    for bug in BUGS:
        if half != "all" and bug.half != half:
            continue
        s = score(bug)
        row = table[bug.assignment]
        row["bugs"] += 1
        for k in ("caught", "located", "named"):
            row[k] += int(s[k])
    return table


def main(argv: list[str]) -> None:
    from autograder import cases

    half = argv[0] if argv else "tune"
    verbose = "-v" in argv
    with cases.hidden_secret(b"measuring the cell bug catalogue"):
        if verbose:
            for bug in BUGS:
                if half == "all" or bug.half == half:
                    s = score(bug)
                    flags = "".join(k[0].upper() if s[k] else "-" for k in ("caught", "located", "named"))
                    print(f"{flags} {bug.name}")
                    for t, m in s["failing"].items():
                        print(f"    {t}: {m[:1500]}")
        table = measure(half)
    print(f"{'assignment':12} {'half':9} bugs caught located named")
    for a, row in table.items():
        print(f"{a:12} {half:9} {row['bugs']:4} {row['caught']:6} {row['located']:7} {row['named']:5}")


if __name__ == "__main__":
    main(sys.argv[1:])
