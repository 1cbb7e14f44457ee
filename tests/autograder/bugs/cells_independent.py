"""A second catalogue of cell bugs (rnn_cell, lstm_cell, gru_cell), written blind to the diagnosis and to ``cells.py``.

Written before reading ``autograder/hypotheses.py``, ``diagnose.py``, ``probes.py`` or the bug list of
``tests/autograder/bugs/cells.py``: the kind of bug a TA sees in office hours, as edits of the solution
cells of ``exercises/source/<assignment>/<assignment>.ipynb`` (``(solution grade_id, old text, new text)``,
the format of ``tests/exercises/bugs.py``). Each bug also says, written with it and before its feedback
was seen:

- ``failing``: the test cells that must fail (every other cell must pass). The backward is graded on the
  reference's cache, so a forward bug fails only the forward's tests, and a bug in one branch of the GRU
  fails only that convention's tests;
- ``where``: a regular expression the failing message must match to locate the bug (the output, gradient
  or cache key that is wrong);
- ``cause``: a regular expression for the bug class a reviewer expects named (the faulty term or line).

``python -m tests.autograder.bugs.cells_independent [tune|held-out|all] [-v]`` measures caught / located /
named per assignment with the runner of ``cells.py``, and ``exact``: the failing cells are ``failing``. The
split is a fixed hash of the name (``half``); the held-out half was run once, at the end.
"""

from __future__ import annotations

import hashlib
import sys
from dataclasses import dataclass

ASSIGNMENTS = ("rnn_cell", "lstm_cell", "gru_cell")


def _tests(kind: str) -> dict[str, frozenset[str]]:
    fwd = {f"test_{kind}_step_visible", f"test_{kind}_step_hidden"}
    inputs = {f"test_{kind}_step_backward_inputs_visible", f"test_{kind}_step_backward_inputs_hidden"}
    params = {f"test_{kind}_step_backward_params_visible", f"test_{kind}_step_backward_params_hidden"}
    return {"F": frozenset(fwd), "I": frozenset(inputs), "P": frozenset(params), "B": frozenset(inputs | params)}


RNN, LSTM, GRU = _tests("rnn"), _tests("lstm"), _tests("gru")
GRU_FB = frozenset({"test_gru_step_reset_before_visible", "test_gru_step_reset_before_hidden"})  # reset_after=False
GRU_BB = frozenset({"test_gru_step_backward_reset_before_visible",  # backward (all gradients), reset_after=False
                    "test_gru_step_backward_reset_before_hidden"})


@dataclass(frozen=True)
class IndependentBug:
    name: str
    assignment: str
    function: str
    edits: tuple[tuple[str, str, str], ...]
    failing: frozenset[str]
    where: str
    cause: str

    @property
    def half(self) -> str:
        return "tune" if hashlib.sha256(f"independent:{self.name}".encode()).digest()[0] % 2 == 0 else "held-out"


def _b(name, assignment, function, edits, failing, where, cause):
    return IndependentBug(name, assignment, function, tuple((function, o, n) for o, n in edits), frozenset(failing),
                          where, cause)


RF, RB, LF, LB, GF, GB = ("rnn_step", "rnn_step_backward", "lstm_step", "lstm_step_backward", "gru_step",
                          "gru_step_backward")

BUGS = [
    # ------------------------------------------------------------------ rnn_step
    _b("rnn_whh_transposed_fwd", "rnn_cell", RF, [('h_prev @ params["W_hh"]', 'h_prev @ params["W_hh"].T')],
       RNN["F"], r"\bh\b", r"transpos|W_hh"),
    _b("rnn_relu_for_tanh", "rnn_cell", RF,
       [('h = np.tanh(a) if activation == "tanh" else np.maximum(a, 0.0)',
         'h = np.maximum(a, 0.0) if activation == "tanh" else np.tanh(a)')],
       RNN["F"], r"\bh\b", r"relu|ReLU|activation"),
    _b("rnn_cache_a_is_h", "rnn_cell", RF, [('"a": a,', '"a": h,')],
       RNN["F"], r"cache\[.a.\]", r"pre-activation|cache\[.a.\]"),
    _b("rnn_tanh_out_overwrites_a", "rnn_cell", RF,
       [('h = np.tanh(a) if activation == "tanh"', 'h = np.tanh(a, out=a) if activation == "tanh"')],
       RNN["F"], r"cache\[.a.\]", r"in place|in-place|overwr|pre-activation"),
    _b("rnn_bias_column", "rnn_cell", RF, [('+ params["b_h"]  # (B, H)', '+ params["b_h"][:, None]  # (B, H)')],
       RNN["F"], r"\bh\b|b_h|shape", r"column"),
    _b("rnn_float32", "rnn_cell", RF, [("return h, cache", "return h.astype(np.float32), cache")],
       RNN["F"], r"\bh\b", r"float32|dtype"),
    _b("rnn_returns_preactivation", "rnn_cell", RF, [("return h, cache", "return a, cache")],
       RNN["F"], r"\bh\b", r"tanh|activation"),
    _b("rnn_bias_twice", "rnn_cell", RF,
       [('h = np.tanh(a) if activation == "tanh"',
         'a = a + params["b_h"]\n    h = np.tanh(a) if activation == "tanh"')],
       RNN["F"], r"\bh\b|cache\[.a.\]", r"bias|b_h"),
    # ------------------------------------------------------------------ rnn_step_backward
    _b("rnn_tanh_deriv_not_squared", "rnn_cell", RB, [("(1.0 - h * h)", "(1.0 - h)")],
       RNN["B"], r"dx|dh_prev|grads", r"tanh|1 - h|squar|derivative"),
    _b("rnn_tanh_deriv_of_a", "rnn_cell", RB, [("(1.0 - h * h)", '(1.0 - cache["a"] ** 2)')],
       RNN["B"], r"dx|dh_prev|grads", r"tanh|derivative|pre-activation"),
    _b("rnn_dwhh_uses_h", "rnn_cell", RB, [('"W_hh": h_prev.T @ da', '"W_hh": h.T @ da')],
       RNN["P"], r"W_hh", r"h_prev|previous state|new state|\bh\b instead"),
    _b("rnn_db_mean", "rnn_cell", RB, [('"b_h": da.sum(axis=0)', '"b_h": da.mean(axis=0)')],
       RNN["P"], r"b_h", r"mean|average|sum|batch"),
    _b("rnn_db_keepdims", "rnn_cell", RB, [('"b_h": da.sum(axis=0)', '"b_h": da.sum(axis=0, keepdims=True)')],
       RNN["P"], r"b_h", r"column|row|keepdims|shape"),
    _b("rnn_dx_skips_activation", "rnn_cell", RB, [('dx = da @ params["W_xh"].T', 'dx = dh @ params["W_xh"].T')],
       RNN["I"], r"\bdx\b", r"tanh|derivative|activation|da"),
    _b("rnn_dh_prev_no_whh", "rnn_cell", RB, [('dh_prev = da @ params["W_hh"].T', "dh_prev = da")],
       RNN["I"], r"dh_prev", r"W_hh|recurrent"),
    _b("rnn_backward_relu_branch_for_tanh", "rnn_cell", RB,
       [('if cache["activation"] == "tanh":', 'if cache["activation"] == "relu":')],
       RNN["B"], r"dx|dh_prev|grads", r"relu|ReLU|activation|derivative"),
    _b("rnn_sgd_step_in_cache", "rnn_cell", RB,
       [("    return dx, dh_prev, grads", '    params["W_hh"] -= 0.1 * grads["W_hh"]\n    return dx, dh_prev, grads')],
       RNN["B"], r"params|W_hh|cache", r"in place|in-place|modif"),
    # ------------------------------------------------------------------ lstm_step
    _b("lstm_f_slice_off_by_one", "lstm_cell", LF,
       [("f = sigmoid(a[:, H:2 * H])", "f = sigmoid(a[:, H + 1:2 * H + 1])")],
       LSTM["F"], r"\b[hc]\b", r"\bf\b|forget|slic|block"),
    _b("lstm_h_from_c_prev", "lstm_cell", LF, [("h = o * tanh_c", "h = o * np.tanh(c_prev)")],
       LSTM["F"], r"\bh\b", r"c_prev|c_\{t-1\}|previous cell"),
    _b("lstm_forget_bias_offset", "lstm_cell", LF,
       [("f = sigmoid(a[:, H:2 * H])", "f = sigmoid(a[:, H:2 * H] + 1.0)")],
       LSTM["F"], r"\b[hcf]\b", r"forget|\bf\b|bias|offset"),
    _b("lstm_i_f_swapped_in_c", "lstm_cell", LF, [("c = f * c_prev + i * g", "c = i * c_prev + f * g")],
       LSTM["F"], r"\b[hc]\b", r"\bc = |c_t|swap|\bi\b.*\bf\b|\bf\b.*\bi\b"),
    _b("lstm_o_tanh", "lstm_cell", LF, [("o = sigmoid(a[:, 3 * H:])", "o = np.tanh(a[:, 3 * H:])")],
       LSTM["F"], r"\bh\b|\bo\b", r"sigmoid|tanh"),
    _b("lstm_h_without_tanh", "lstm_cell", LF, [("h = o * tanh_c", "h = o * c")],
       LSTM["F"], r"\bh\b", r"tanh\(c|tanh_c|tanh"),
    _b("lstm_g_o_blocks_swapped", "lstm_cell", LF,
       [("g = np.tanh(a[:, 2 * H:3 * H])", "g = np.tanh(a[:, 3 * H:])"),
        ("o = sigmoid(a[:, 3 * H:])", "o = sigmoid(a[:, 2 * H:3 * H])")],
       LSTM["F"], r"\b[hc]\b", r"order|block|swap"),
    _b("lstm_cache_tanh_c_of_c_prev", "lstm_cell", LF, [('"tanh_c": tanh_c,', '"tanh_c": np.tanh(c_prev),')],
       LSTM["F"], r"cache\[.tanh_c.\]", r"tanh_c|tanh\(c\)"),
    _b("lstm_cache_missing_tanh_c", "lstm_cell", LF, [('"tanh_c": tanh_c, ', "")],
       LSTM["F"], r"tanh_c", r"no key|missing|tanh_c"),
    _b("lstm_c_prev_aliased", "lstm_cell", LF,
       [("c = f * c_prev + i * g", "c = c_prev\n    c *= f\n    c += i * g")],
       LSTM["F"], r"c_prev|cache", r"in place|in-place|modif"),
    _b("lstm_returns_c_h", "lstm_cell", LF, [("return h, c, cache", "return c, h, cache")],
       LSTM["F"], r"\b[hc]\b", r"order|swap|return"),
    _b("lstm_c_reused_for_tanh", "lstm_cell", LF, [("h = o * tanh_c", "c = tanh_c\n    h = o * c")],
       LSTM["F"], r"\bc\b", r"tanh|c_t|overwr|reus"),
    # ------------------------------------------------------------------ lstm_step_backward
    _b("lstm_drops_dc", "lstm_cell", LB,
       [("dc_total = dc + dh * o", "dc_total = dh * o")],
       LSTM["B"], r"dx|dh_prev|dc_prev|grads", r"\bdc\b|cell path|cell state"),
    _b("lstm_sigmoid_deriv_plus_f", "lstm_cell", LB, [("f * (1.0 - f)", "f * (1.0 + f)")],
       LSTM["B"], r"dx|dh_prev|grads", r"sigmoid|derivative|\bf\b|forget"),
    _b("lstm_tanh_c_deriv_not_squared", "lstm_cell", LB, [("(1.0 - tanh_c * tanh_c)", "(1.0 - tanh_c)")],
       LSTM["B"], r"dx|dh_prev|dc_prev|grads", r"tanh|squar|derivative"),
    _b("lstm_da_o_uses_dc_total", "lstm_cell", LB, [("da_o = dh * tanh_c", "da_o = dc_total * tanh_c")],
       LSTM["B"], r"dx|dh_prev|grads", r"\bo\b|output gate"),
    _b("lstm_dc_prev_missing_f", "lstm_cell", LB, [("dc_prev = dc_total * f", "dc_prev = dc_total")],
       LSTM["I"], r"dc_prev", r"\bf\b|forget"),
    _b("lstm_da_f_uses_c", "lstm_cell", LB, [("dc_total * c_prev * f", 'dc_total * cache["c"] * f')],
       LSTM["B"], r"dx|dh_prev|grads", r"c_prev|c_\{t-1\}|previous|\bf\b|forget"),
    _b("lstm_da_concat_g_o_swapped", "lstm_cell", LB,
       [("[da_i, da_f, da_g, da_o]", "[da_i, da_f, da_o, da_g]")],
       LSTM["B"], r"dx|dh_prev|grads", r"order|block|swap"),
    _b("lstm_db_first_example", "lstm_cell", LB, [('"b": da.sum(axis=0)', '"b": da[0]')],
       LSTM["P"], r"grads\[.b.\]|\bb\b", r"sum|batch"),
    _b("lstm_da_g_sigmoid_deriv", "lstm_cell", LB,
       [("da_g = dc_total * i * (1.0 - g * g)", "da_g = dc_total * i * g * (1.0 - g)")],
       LSTM["B"], r"dx|dh_prev|grads", r"\bg\b|candidate|sigmoid|tanh|derivative"),
    _b("lstm_da_i_copy_paste_c_prev", "lstm_cell", LB,
       [("da_i = dc_total * g * i", "da_i = dc_total * c_prev * i")],
       LSTM["B"], r"dx|dh_prev|grads", r"\bi\b|input gate"),
    _b("lstm_dh_prev_w_not_transposed", "lstm_cell", LB,
       [('dh_prev = da @ params["W_h"].T', 'dh_prev = da @ params["W_h"]')],
       LSTM["B"], r"dh_prev|lstm_step_backward", r"transpos|\.T\b|shape"),
    _b("lstm_dx_float32", "lstm_cell", LB,
       [('dx = da @ params["W_x"].T', 'dx = (da @ params["W_x"].T).astype(np.float32)')],
       LSTM["I"], r"\bdx\b", r"float32|dtype"),
    _b("lstm_returns_dc_before_dh", "lstm_cell", LB,
       [("return dx, dh_prev, dc_prev, grads", "return dx, dc_prev, dh_prev, grads")],
       LSTM["I"], r"dh_prev|dc_prev", r"order|swap|return"),
    # ------------------------------------------------------------------ gru_step
    _b("gru_update_flipped", "gru_cell", GF,
       [("h = z * h_prev + (1.0 - z) * n", "h = (1.0 - z) * h_prev + z * n")],
       GRU["F"] | GRU_FB, r"\bh\b", r"\bz\b|update|1 ?- ?z"),
    _b("gru_reset_dropped", "gru_cell", GF,
       [("n = np.tanh(xw[:, 2 * H:] + r * hw_n)", "n = np.tanh(xw[:, 2 * H:] + hw_n)")],
       GRU["F"], r"\bh\b|\bn\b", r"reset|\br\b"),
    _b("gru_reset_on_whole_preactivation", "gru_cell", GF,
       [("n = np.tanh(xw[:, 2 * H:] + r * hw_n)", "n = np.tanh(r * (xw[:, 2 * H:] + hw_n))")],
       GRU["F"], r"\bh\b|\bn\b", r"reset|\br\b"),
    _b("gru_reset_before_mixed", "gru_cell", GF,
       [("hw_n = (r * h_prev) @ W_h[:, 2 * H:] + b_h[2 * H:]", "hw_n = r * (h_prev @ W_h[:, 2 * H:]) + b_h[2 * H:]")],
       GRU_FB, r"\bh\b|\bn\b|hw", r"convention|reset"),
    _b("gru_z_r_blocks_swapped", "gru_cell", GF,
       [("z = sigmoid(xw[:, :H] + hw_zr[:, :H])", "z = sigmoid(xw[:, H:2 * H] + hw_zr[:, H:])"),
        ("r = sigmoid(xw[:, H:2 * H] + hw_zr[:, H:])", "r = sigmoid(xw[:, :H] + hw_zr[:, :H])")],
       GRU["F"] | GRU_FB, r"\bh\b|\bz\b|\br\b", r"order|block|swap"),
    _b("gru_n_sigmoid", "gru_cell", GF,
       [("n = np.tanh(xw[:, 2 * H:] + r * hw_n)", "n = sigmoid(xw[:, 2 * H:] + r * hw_n)")],
       GRU["F"], r"\bh\b|\bn\b", r"sigmoid|tanh"),
    _b("gru_cache_hw_without_bias", "gru_cell", GF,
       [("hw = np.concatenate([hw_zr, hw_n], axis=1)", "hw = np.concatenate([h_prev @ W_h[:, :2 * H], hw_n], axis=1)")],
       GRU["F"] | GRU_FB, r"cache\[.hw.\]", r"hw|bias|b_h"),
    _b("gru_b_h_zr_dropped", "gru_cell", GF,
       [("hw_zr = h_prev @ W_h[:, :2 * H] + b_h[:2 * H]", "hw_zr = h_prev @ W_h[:, :2 * H]")],
       GRU["F"] | GRU_FB, r"\bh\b|\bz\b|\br\b", r"bias|b_h"),
    _b("gru_reset_after_ignored", "gru_cell", GF, [("if reset_after:", "if True:")],
       GRU_FB, r"\bh\b|\bn\b", r"convention|reset_after"),
    # ------------------------------------------------------------------ gru_step_backward
    _b("gru_da_z_sign", "gru_cell", GB,
       [("da_z = dh * (h_prev - n)", "da_z = dh * (n - h_prev)")],
       GRU["B"] | GRU_BB, r"dx|dh_prev|grads", r"\bz\b|update|sign"),
    _b("gru_direct_path_missing", "gru_cell", GB, [("dh_prev = dh * z  #", "dh_prev = 0.0 * dh  #")],
       GRU["I"] | GRU_BB, r"dh_prev", r"direct|z \* dh|dh \* z|\bz\b"),
    _b("gru_da_n_uses_z", "gru_cell", GB, [("da_n = dh * (1.0 - z)", "da_n = dh * z")],
       GRU["B"] | GRU_BB, r"dx|dh_prev|grads", r"1 ?- ?z|\bz\b|update|candidate|\bn\b"),
    _b("gru_dr_uses_h_prev_after", "gru_cell", GB, [("dr = da_n * hw_n", "dr = da_n * h_prev")],
       GRU["B"], r"dx|dh_prev|grads", r"reset|\br\b|convention"),
    _b("gru_dhw_n_missing_r", "gru_cell", GB, [("dhw_n = da_n * r  #", "dhw_n = da_n  #")],
       GRU["B"], r"dh_prev|grads", r"reset|\br\b"),
    _b("gru_dwhn_before_missing_r", "gru_cell", GB,
       [("dW_hn = (r * h_prev).T @ da_n", "dW_hn = h_prev.T @ da_n")],
       GRU_BB, r"W_h", r"reset|\br\b|r \* h_prev|r_t"),
    _b("gru_tanh_deriv_n_not_squared", "gru_cell", GB, [("(1.0 - n * n)", "(1.0 - n)")],
       GRU["B"] | GRU_BB, r"dx|dh_prev|grads", r"tanh|squar|derivative|\bn\b|candidate"),
    _b("gru_sigmoid_deriv_plus_r", "gru_cell", GB, [("da_r = dr * r * (1.0 - r)", "da_r = dr * r * (1.0 + r)")],
       GRU["B"] | GRU_BB, r"dx|dh_prev|grads", r"sigmoid|derivative|\br\b|reset"),
    _b("gru_b_h_grad_copied_from_b_x", "gru_cell", GB,
       [('"b_h": np.concatenate([da_zr.sum(axis=0), dhw_n.sum(axis=0)])', '"b_h": dxw.sum(axis=0)')],
       GRU["P"], r"b_h", r"reset|\br\b|b_hn|b_h"),
    _b("gru_dh_prev_before_missing_r", "gru_cell", GB, [("dh_prev = dh_prev + drh * r", "dh_prev = dh_prev + drh")],
       GRU_BB, r"dh_prev", r"reset|\br\b"),
    _b("gru_da_zr_concat_swapped", "gru_cell", GB,
       [("da_zr = np.concatenate([da_z, da_r], axis=1)", "da_zr = np.concatenate([da_r, da_z], axis=1)")],
       GRU["B"] | GRU_BB, r"dh_prev|grads", r"order|block|swap"),
    _b("gru_dh_scaled_in_place", "gru_cell", GB,
       [("dh_prev = dh * z  #", "dh *= z\n    dh_prev = dh  #")],
       GRU["B"] | GRU_BB, r"\bdh\b", r"in place|in-place|modif"),
]


def score(bug: IndependentBug) -> dict:
    """caught / located / named (as ``cells.score``) and ``exact``: the failing cells are ``bug.failing``."""
    from tests.autograder.bugs import cells

    s = cells.score(bug)
    return {**s, "exact": set(s["failing"]) == set(bug.failing)}


def measure(bugs: list[IndependentBug], verbose: bool = False) -> dict[str, dict[str, int]]:
    """Counts per assignment over ``bugs``; ``verbose`` prints each bug's flags and failing messages."""
    table = {a: {"bugs": 0, "caught": 0, "exact": 0, "located": 0, "named": 0} for a in ASSIGNMENTS}
    for bug in bugs:
        s = score(bug)
        row = table[bug.assignment]
        row["bugs"] += 1
        for k in ("caught", "exact", "located", "named"):
            row[k] += int(s[k])
        if verbose:
            flags = "".join(k[0].upper() if s[k] else "-" for k in ("caught", "exact", "located", "named"))
            print(f"{flags} {bug.name}")
            if not s["exact"]:
                print(f"    expected failing {sorted(bug.failing)}")
            for t, m in s["failing"].items():
                print(f"    {t}: {m[:1500]}")
    return table


def main(argv: list[str]) -> None:
    from autograder import cases

    half = next((a for a in argv if a in ("tune", "held-out", "all")), "tune")
    with cases.hidden_secret(b"measuring the independent cell bug catalogue"):
        table = measure([b for b in BUGS if half == "all" or b.half == half], verbose="-v" in argv)
    print(f"{'assignment':12} {'half':9} bugs caught exact located named")
    for a, row in table.items():
        print(f"{a:12} {half:9} {row['bugs']:4} {row['caught']:6} {row['exact']:5} {row['located']:7} {row['named']:5}")


if __name__ == "__main__":
    main(sys.argv[1:])
