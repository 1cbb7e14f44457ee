"""The held-out half of the blind catalogue: run once, at the end, by the lead; never tuned on."""

from tests.autograder.blind3.catalogue import Bug

BUGS = [
    Bug("rnn_no_recurrence", "rnn_cell", "rnn_step",
        says="the state is returned anyway, so I only used the input",
        name="recurrent term h_prev W_hh missing",
        names=(
            (r"(missing|without|ignor|drop|forg|omit|no )\w*.{0,60}(h_prev|recurren|previous (hidden )?"
             "state)"),
            ("(h_prev|recurren|previous (hidden )?state).{0,60}(missing|ignored|dropped|not used|unuse"
             "d|omitted)"),
        ),
        edits=(
            ('x @ params["W_xh"] + h_prev @ params["W_hh"] + params["b_h"]',
             'x @ params["W_xh"] + params["b_h"]'),
        )),
    Bug("rnn_sigmoid_activation", "rnn_cell", "rnn_step",
        says="an RNN squashes with the sigmoid, like the gates",
        name="sigmoid used instead of tanh",
        names=(
            "sigmoid",
            "logistic",
        ),
        edits=(
            ("h = np.tanh(a) if activation",
             "h = 1.0 / (1.0 + np.exp(-a)) if activation"),
        )),
    Bug("rnn_hprev_updated_in_place", "rnn_cell", "rnn_step",
        says="I update the hidden state in place to save memory",
        name="h_prev modified in place",
        names=(
            "in[- ]place",
            r"(modif|mutat|overwr|chang)\w*.{0,60}(h_prev|input|argument)",
            r"(h_prev|input|argument)\w*.{0,60}(modified|changed|mutated|overwrit)",
        ),
        edits=(
            ('    h = np.tanh(a) if activation == "tanh" else np.maximum(a, 0.0)\n',
             ('    h_prev[...] = np.tanh(a) if activation == "tanh" else np.maximum(a, 0.0)\n'
              "    h = h_prev\n")),
        )),
    Bug("rnn_whh_transposed", "rnn_cell", "rnn_step",
        says="the lesson writes W_hh h_{t-1}, so in row form I need W_hh transposed",
        name="recurrent weight transposed (column-vector convention)",
        names=(
            "transpos",
            r"W_hh\.T|W_hh\^T|W_hh\u1d40",
            "column",
        ),
        edits=(
            ('h_prev @ params["W_hh"]',
             'h_prev @ params["W_hh"].T'),
        )),
    Bug("rnn_bias_twice", "rnn_cell", "rnn_step",
        says="each of the two linear maps has its own bias",
        name="bias added twice",
        names=(
            "bias.{0,60}(twice|double|two times|2)",
            "(twice|double).{0,60}bias",
            r"2\s*\*?\s*b_h",
        ),
        edits=(
            ('x @ params["W_xh"] + h_prev',
             'x @ params["W_xh"] + params["b_h"] + h_prev'),
        )),
    Bug("rnnb_tanh_prime_on_a", "rnn_cell", "rnn_step_backward",
        says="the derivative of tanh(a) is 1 - a^2",
        name="tanh derivative evaluated on the pre-activation instead of the output",
        names=(
            "pre-?activation",
            r"1\s*-\s*a\^?2|1 - a\*\*2|1 - a\s*\*\s*a",
            r"(derivative|tanh').{0,60}(\ba\b|input)",
        ),
        edits=(
            ("da = dh * (1.0 - h * h)",
             'da = dh * (1.0 - cache["a"] ** 2)'),
        )),
    Bug("rnnb_one_minus_h", "rnn_cell", "rnn_step_backward",
        says="tanh' is 1 - tanh",
        name="tanh derivative written 1 - h (not squared)",
        names=(
            r"(tanh'|derivative).{0,80}(square|1\s*-\s*h)",
            r"1\s*-\s*h\b(?!\^|\*|²)",
            "squar",
        ),
        edits=(
            ("da = dh * (1.0 - h * h)",
             "da = dh * (1.0 - h)"),
        )),
    Bug("rnnb_bias_sum_axis1", "rnn_cell", "rnn_step_backward",
        says="sum over the hidden units to get the bias gradient",
        name="bias gradient summed over the wrong axis",
        names=(
            "axis",
            r"sum\w*.{0,60}(batch|example)",
            "(batch|example).{0,60}sum",
        ),
        edits=(
            ("da.sum(axis=0)",
             "da.sum(axis=1)"),
        )),
    Bug("rnnb_dx_uses_whh", "rnn_cell", "rnn_step_backward",
        says="copy-pasted the dh_prev line for dx",
        name="dx computed with W_hh instead of W_xh",
        names=(
            "W_xh",
            "wrong weight",
            r"(swap|confus|mix)\w*.{0,60}(weight|W_)",
        ),
        edits=(
            ('dx = da @ params["W_xh"].T',
             'dx = da @ params["W_hh"].T'),
        )),
    Bug("rnnb_dhprev_skips_tanh", "rnn_cell", "rnn_step_backward",
        says="dh_prev is the incoming dh times W_hh",
        name="dh_prev uses dh instead of da (skips the tanh derivative)",
        names=(
            "(deriv|tanh).{0,80}(dh_prev|previous)",
            "(dh_prev|previous).{0,80}(deriv|tanh)",
            r"\bda\b",
            "pre-?activation",
        ),
        edits=(
            ('dh_prev = da @ params["W_hh"].T',
             'dh_prev = dh @ params["W_hh"].T'),
        )),
    Bug("lstm_H_from_x", "lstm_cell", "lstm_step",
        says="H is the width of the input (my test had D = H)",
        name="block size taken from the input width D instead of H",
        names=(
            r"\bD\b.{0,40}\bH\b|\bH\b.{0,40}\bD\b",
            "(input|hidden) (size|width)",
            "slic",
        ),
        edits=(
            ("H = h_prev.shape[1]",
             "H = x.shape[1]"),
        )),
    Bug("lstm_h_no_tanh", "lstm_cell", "lstm_step",
        says="the output gate multiplies the cell state",
        name="h = o * c (tanh of the cell state missing)",
        names=(
            r"tanh.{0,40}(\bc\b|cell)|tanh\(c",
            r"(no|missing|without|forg)\w*.{0,40}tanh",
            "tanh_c",
        ),
        edits=(
            ("h = o * tanh_c",
             "h = o * c"),
        )),
    Bug("lstm_output_gate_tanh", "lstm_cell", "lstm_step",
        says="the output gate produces the output, and outputs use tanh",
        name="output gate squashed with tanh instead of sigmoid",
        names=(
            "sigmoid.{0,60}tanh|tanh.{0,60}sigmoid",
            "output gate",
            r"\bo\b",
        ),
        edits=(
            ("o = sigmoid(a[:, 3 * H:])",
             "o = np.tanh(a[:, 3 * H:])"),
        )),
    Bug("lstm_c_prev_in_recurrence", "lstm_cell", "lstm_step",
        says="the cell state is the memory, so it feeds the gates",
        name="c_prev used instead of h_prev in the recurrent product",
        names=(
            "c_prev.{0,60}h_prev|h_prev.{0,60}c_prev",
            "cell state.{0,60}hidden|hidden.{0,60}cell state",
        ),
        edits=(
            ('h_prev @ params["W_h"]',
             'c_prev @ params["W_h"]'),
        )),
    Bug("lstm_split_axis0", "lstm_cell", "lstm_step",
        says="np.split cuts the stacked pre-activation in four",
        name="gates split along the batch axis instead of the unit axis",
        names=(
            "axis",
            "split",
            "batch",
        ),
        edits=(
            (("    i = sigmoid(a[:, :H])\n"
              "    f = sigmoid(a[:, H:2 * H])\n"
              "    g = np.tanh(a[:, 2 * H:3 * H])\n"
              "    o = sigmoid(a[:, 3 * H:])\n"),
             ("    ai, af, ag, ao = np.split(a, 4, axis=0)\n"
              "    i, f, g, o = sigmoid(ai), sigmoid(af), np.tanh(ag), sigmoid(ao)\n")),
        )),
    Bug("lstm_cache_tanh_c_of_prev", "lstm_cell", "lstm_step",
        says="tanh_c in the cache is the one from the previous step, that is what the backward reads",
        name="cache 'tanh_c' holds tanh(c_prev)",
        names=(
            "cache.{0,80}tanh_c|tanh_c.{0,80}cache",
            "c_prev",
        ),
        edits=(
            ('"tanh_c": tanh_c,',
             '"tanh_c": np.tanh(c_prev),'),
        )),
    Bug("lstmb_dc_no_tanh_prime", "lstm_cell", "lstm_step_backward",
        says="h = o * tanh(c), so dh/dc = o",
        name="tanh derivative missing on the path from h to c",
        names=(
            "tanh",
            "deriv",
        ),
        edits=(
            ("dh * o * (1.0 - tanh_c * tanh_c)",
             "dh * o"),
        )),
    Bug("lstmb_do_uses_dc_total", "lstm_cell", "lstm_step_backward",
        says="every gate gets the total cell gradient",
        name="output-gate gradient uses dc_total instead of dh",
        names=(
            r"output gate|\bo\b|da_o",
            "dc_total|both paths",
        ),
        edits=(
            ("da_o = dh * tanh_c",
             "da_o = dc_total * tanh_c"),
        )),
    Bug("lstmb_sigmoid_prime_wrong", "lstm_cell", "lstm_step_backward",
        says="gate derivative is 1 - i^2",
        name="input gate's sigmoid derivative written as tanh's",
        names=(
            "sigmoid",
            "deriv",
            r"input gate|\bi\b",
        ),
        edits=(
            ("da_i = dc_total * g * i * (1.0 - i)",
             "da_i = dc_total * g * (1.0 - i * i)"),
        )),
    Bug("lstmb_concat_axis0", "lstm_cell", "lstm_step_backward",
        says="concatenate stacks the four gradients",
        name="gate gradients concatenated along the batch axis",
        names=(
            "axis",
            "concat",
            "batch",
        ),
        edits=(
            ("axis=1)  # 4 x (B, H)",
             "axis=0)  # 4 x (B, H)"),
        )),
    Bug("lstmb_bias_first_row", "lstm_cell", "lstm_step_backward",
        says="the bias gradient is da (I tested with B = 1)",
        name="bias gradient not summed over the batch (first example only)",
        names=(
            r"\bsum",
            "batch",
            "first (example|row)",
        ),
        edits=(
            ('"b": da.sum(axis=0)',
             '"b": da[0]'),
        )),
    Bug("gru_zr_swapped", "gru_cell", "gru_step",
        says="the gates are r then z, as in 'reset, update'",
        name="z and r blocks swapped",
        names=(
            "gate.{0,40}order|order.{0,40}(gate|block)",
            r"(swap|exchang|interchang)\w*.{0,60}(gate|block|\bz\b|\br\b)",
            r"\bz\b.{0,30}\br\b.{0,30}(swap|order|block)",
        ),
        edits=(
            ("z = sigmoid(xw[:, :H] + hw_zr[:, :H])",
             "z = sigmoid(xw[:, H:2 * H] + hw_zr[:, H:])"),
            ("r = sigmoid(xw[:, H:2 * H] + hw_zr[:, H:])",
             "r = sigmoid(xw[:, :H] + hw_zr[:, :H])"),
        )),
    Bug("gru_no_reset", "gru_cell", "gru_step",
        says="the reset gate is only needed in the other convention",
        name="reset gate not applied to the candidate (reset-after)",
        names=(
            "reset",
            r"\br\b",
        ),
        edits=(
            ("n = np.tanh(xw[:, 2 * H:] + r * hw_n)",
             "n = np.tanh(xw[:, 2 * H:] + hw_n)"),
        )),
    Bug("gru_reset_before_is_after", "gru_cell", "gru_step",
        says="resetting h before or after the product is the same thing",
        name="reset-before branch applies r after the recurrent product",
        names=(
            "reset.{0,60}(before|after|convention)",
            "convention",
            "Cho",
            r"r\s*\*\s*h_prev",
        ),
        edits=(
            ("hw_n = (r * h_prev) @ W_h[:, 2 * H:] + b_h[2 * H:]",
             "hw_n = r * (h_prev @ W_h[:, 2 * H:]) + b_h[2 * H:]"),
        )),
    Bug("gru_no_recurrent_bias_zr", "gru_cell", "gru_step",
        says="one bias per gate is enough, b_x already has it",
        name="recurrent biases b_hz, b_hr dropped",
        names=(
            "bias",
            "b_h",
        ),
        edits=(
            ("hw_zr = h_prev @ W_h[:, :2 * H] + b_h[:2 * H]",
             "hw_zr = h_prev @ W_h[:, :2 * H]"),
        )),
    Bug("gru_hw_cache_order", "gru_cell", "gru_step",
        says="the cache's hw starts with the candidate's term, the one the backward needs most",
        name="cache hw blocks in the wrong order (n first)",
        names=(
            r"\bhw\b",
            "cache.{0,80}(order|block)|(order|block).{0,80}cache",
        ),
        edits=(
            ("hw = np.concatenate([hw_zr, hw_n], axis=1)",
             "hw = np.concatenate([hw_n, hw_zr], axis=1)"),
        )),
    Bug("grub_no_direct_path", "gru_cell", "gru_step_backward",
        says="h_prev only matters through the matrix products",
        name="direct path z * dh to dh_prev missing",
        names=(
            "direct",
            r"\bz\b.{0,40}h_prev|h_prev.{0,40}\bz\b",
            "skip|identity",
        ),
        edits=(
            ("dh_prev = dh * z  # the direct path",
             "dh_prev = np.zeros_like(dh)  # the direct path"),
        )),
    Bug("grub_dn_no_one_minus_z", "gru_cell", "gru_step_backward",
        says="the candidate flows straight into h",
        name="candidate gradient not multiplied by 1 - z",
        names=(
            r"1\s*-\s*z",
            r"update gate|\bz\b",
        ),
        edits=(
            ("da_n = dh * (1.0 - z) * (1.0 - n * n)",
             "da_n = dh * (1.0 - n * n)"),
        )),
    Bug("grub_dr_without_bias", "gru_cell", "gru_step_backward",
        says="r multiplies h_prev W_hn, so dr is da_n times that product",
        name="reset gradient uses h_prev W_hn without the bias b_hn (reset-after)",
        names=(
            "bias|b_hn|b_h",
            r"reset.{0,40}(gradient|term)|\bdr\b",
        ),
        edits=(
            ("dr = da_n * hw_n",
             "dr = da_n * (h_prev @ W_h[:, 2 * H:])"),
        )),
    Bug("grub_before_drh_no_r", "gru_cell", "gru_step_backward",
        says="in the reset-before form h_prev enters through the product, so dh_prev gets drh",
        name="reset gate left out of dh_prev (reset-before)",
        names=(
            "reset",
            r"\br\b",
        ),
        edits=(
            ("dh_prev = dh_prev + drh * r",
             "dh_prev = dh_prev + drh"),
        )),
    Bug("grub_bhn_uses_da_n", "gru_cell", "gru_step_backward",
        says="the bias of n gets the candidate's gradient",
        name="recurrent bias b_hn gradient misses the reset gate (reset-after)",
        names=(
            "b_h|bias",
            r"reset|\br\b",
        ),
        edits=(
            ("dhw_n.sum(axis=0)])",
             "da_n.sum(axis=0)])"),
        )),
    Bug("grub_dxw_order", "gru_cell", "gru_step_backward",
        says="reset comes first, then update",
        name="gate gradients concatenated in the order r, z, n",
        names=(
            "order",
            "block",
            "gate",
            "swap",
        ),
        edits=(
            ("[da_z, da_r, da_n]",
             "[da_r, da_z, da_n]"),
        )),
    Bug("fwd_state_not_carried", "bptt", "rnn_forward",
        says="I keep h for the next step... I thought",
        name="state not carried between steps (every step starts from h0)",
        names=(
            r"(not|never)\w*.{0,40}(carr|pass|propagat|updat|fed|feed)",
            "h0.{0,60}(each|every)|(each|every) step.{0,60}(h0|initial)",
            "recurren",
        ),
        edits=(
            (("h, cache = rnn_step(X[:, t], h, params)\n"
              "        states.append(h)"),
             ("h_t, cache = rnn_step(X[:, t], h, params)\n"
              "        states.append(h_t)")),
        )),
    Bug("fwd_time_major_stack", "bptt", "rnn_forward",
        says="np.stack stacks the states",
        name="states stacked time-major (T, B, H)",
        names=(
            "axis",
            r"time.major|batch.first|\(T, B",
            "transpos",
        ),
        edits=(
            ("H = np.stack(states, axis=1)",
             "H = np.stack(states, axis=0)"),
        )),
    Bug("fwd_T_minus_one", "bptt", "rnn_forward",
        says="range(T - 1), because there are T - 1 transitions",
        name="last time step skipped (off by one)",
        names=(
            r"off.by.one|last (time )?step|missing step|T\s*-\s*1",
            "number of (steps|states)",
        ),
        edits=(
            ("for t in range(X.shape[1]):",
             "for t in range(X.shape[1] - 1):"),
        )),
    Bug("fwd_state_across_batch", "bptt", "rnn_forward",
        says="I run one sequence at a time; the state is the state",
        name="state carried from one batch item to the next (not reset per sequence)",
        names=(
            "reset",
            r"(between|across|from one)\w*.{0,40}(example|batch|sequence)",
            "batch item|carried over",
        ),
        edits=(
            (("    h = h0\n"
              "    states, caches = [], []\n"
              "    for t in range(X.shape[1]):\n"
              "        h, cache = rnn_step(X[:, t], h, params)\n"
              "        states.append(h)\n"
              "        caches.append(cache)\n"
              "    H = np.stack(states, axis=1)  # T x (B, H) -> (B, T, H)\n"
              "    return H, caches"),
             ("    B, T = X.shape[:2]\n"
              "    H = np.zeros((B, T, h0.shape[1]))\n"
              "    h = h0[:1]\n"
              "    for b in range(B):\n"
              "        for t in range(T):\n"
              "            h, _ = rnn_step(X[b:b + 1, t], h, params)\n"
              "            H[b, t] = h[0]\n"
              "    caches = [rnn_step(X[:, t], H[:, t - 1] if t else h0, params)[1] for t in range(T)]\n"
              "    return H, caches")),
        )),
    Bug("bwd_grads_overwritten", "bptt", "rnn_backward",
        says="grads holds the step's gradients",
        name="parameter gradients overwritten, not summed over time",
        names=(
            "accumul",
            r"sum\w*.{0,60}(time|steps)",
            "only.{0,40}(one|first|last|single) (time )?step",
        ),
        edits=(
            ("grads = step_grads if grads is None else {k: grads[k] + step_grads[k] for k in grads}",
             "grads = step_grads"),
        )),
    Bug("bwd_dh0_is_dh", "bptt", "rnn_backward",
        says="dh0 is the gradient at the first step",
        name="returns dL/dh_0 (before the first step's backward) as dh0",
        names=(
            "dh0",
            "initial state",
            "one step|off.by.one",
        ),
        edits=(
            ("return dX, dh_next, grads",
             "return dX, dh, grads"),
        )),
    Bug("bwd_dX_time_major", "bptt", "rnn_backward",
        says="np.stack gives (B, T, D) by default",
        name="dX stacked time-major (T, B, D)",
        names=(
            "axis",
            r"time.major|\(T, B",
            "transpos",
        ),
        edits=(
            ("dX = np.stack(dxs, axis=1)",
             "dX = np.stack(dxs, axis=0)"),
        )),
    Bug("bwd_dh_next_init_last", "bptt", "rnn_backward",
        says="the gradient flowing in at the end is the last step's loss gradient",
        name="dh_next starts as dH[:, -1] (last step counted twice)",
        names=(
            "twice|double",
            "last step",
            "dh_next.{0,40}(zero|initial)|initial.{0,40}dh_next",
        ),
        edits=(
            ("dh_next = np.zeros_like(dH[:, 0])",
             "dh_next = dH[:, -1].copy()"),
        )),
    Bug("clip_scales_up", "bptt", "clip_gradients",
        says="clipping rescales to norm max_norm",
        name="small gradients scaled up to max_norm (min(1, .) missing)",
        names=(
            r"(scal|grow|increas|enlarg|stretch)\w*.{0,40}(up|small|below)",
            r"min\(1|never (increase|scale up)|below (the )?(max|threshold)|unchanged",
        ),
        edits=(
            ("scale = min(1.0, max_norm / norm) if",
             "scale = max_norm / norm if"),
        )),
    Bug("clip_squared_norm", "bptt", "clip_gradients",
        says="the norm is the sum of squares",
        name="norm without the square root",
        names=(
            "sqrt|square root|squared",
        ),
        edits=(
            ("float(np.sqrt(sum((g * g).sum() for g in grads.values())))",
             "float(sum((g * g).sum() for g in grads.values()))"),
        )),
    Bug("clip_by_value", "bptt", "clip_gradients",
        says="clipping means np.clip",
        name="clips entries by value instead of rescaling by the global norm",
        names=(
            r"clip\w* (by )?value|element.?wise|np\.clip|each entry|entries",
        ),
        edits=(
            ("return {k: g * scale for k, g in grads.items()}, norm",
             "return {k: np.clip(g, -max_norm, max_norm) for k, g in grads.items()}, norm"),
        )),
    Bug("clip_ratio_inverted", "bptt", "clip_gradients",
        says="scale is norm over max_norm",
        name="scale factor inverted (norm / max_norm)",
        names=(
            r"invert|recipro|upside|max_norm\s*/\s*norm|norm\s*/\s*max_norm",
        ),
        edits=(
            ("min(1.0, max_norm / norm)",
             "min(1.0, norm / max_norm)"),
        )),
    Bug("spec_singular_value", "bptt", "spectral_radius",
        says="the spectral radius is the 2-norm",
        name="largest singular value (spectral norm) instead of eigenvalue modulus",
        names=(
            "singular|spectral norm|operator norm|2-norm|symmetric",
        ),
        edits=(
            ("float(np.abs(np.linalg.eigvals(W)).max())",
             "float(np.linalg.norm(W, 2))"),
        )),
    Bug("hgn_after_step_back", "bptt", "hidden_grad_norms",
        says="I step back first, then measure",
        name="norm recorded after stepping back (shifted by one step)",
        names=(
            "off.by.one|shift|one step|lag",
            r"h_\{?t-1",
        ),
        edits=(
            (("norms[t] = np.sqrt((dh * dh).sum())\n"
              "        _, dh, _ = rnn_step_backward(dh, caches[t])"),
             ("_, dh, _ = rnn_step_backward(dh, caches[t])\n"
              "        norms[t] = np.sqrt((dh * dh).sum())")),
        )),
    Bug("hgn_reversed_index", "bptt", "hidden_grad_norms",
        says="the first norm I compute is the first entry",
        name="norms stored in reverse order",
        names=(
            "revers|order|flip",
        ),
        edits=(
            ("norms[t] = np.sqrt",
             "norms[T - 1 - t] = np.sqrt"),
        )),
    Bug("o2o_returns_h", "architectures", "one_to_one_forward",
        says="the output of the network is its hidden state",
        name="readout W_hy, b_y not applied (returns h)",
        names=(
            "readout|W_hy|output layer|projection",
        ),
        edits=(
            ('return h @ params["W_hy"] + params["b_y"], None',
             "return h, None"),
        )),
    Bug("m2o_mean_of_states", "architectures", "many_to_one_forward",
        says="the summary of a sequence is the average of its states",
        name="reads out the mean of all states instead of the last one",
        names=(
            "mean|averag|pool",
            r"last state|final state|h_\{?T",
        ),
        edits=(
            (("    for t in range(X.shape[1]):\n"
              "        state, h = run_step(step, X[:, t], state, cp)\n"
              "    return h @"),
             ("    hs = []\n"
              "    for t in range(X.shape[1]):\n"
              "        state, h = run_step(step, X[:, t], state, cp)\n"
              "        hs.append(h)\n"
              "    h = np.mean(hs, axis=0)\n"
              "    return h @")),
        )),
    Bug("m2o_T_minus_one", "architectures", "many_to_one_forward",
        says="T inputs, T - 1 transitions",
        name="last input never read (off by one)",
        names=(
            r"off.by.one|last (input|step|time step)|T\s*-\s*1|missing step",
        ),
        edits=(
            ("for t in range(X.shape[1]):",
             "for t in range(X.shape[1] - 1):"),
        )),
    Bug("m2o_lstm_cell_state_readout", "architectures", "many_to_one_forward",
        says="the LSTM's memory is its cell state, so I read that out",
        name="reads out the LSTM cell state c instead of h",
        names=(
            r"cell state|\bc\b|LSTM",
        ),
        edits=(
            ('    return h @ params["W_hy"]',
             ("    h = state[1] if isinstance(state, tuple) else state\n"
              '    return h @ params["W_hy"]')),
        )),
    Bug("m2m_output_from_prev_state", "architectures", "many_to_many_forward",
        says="y_t is read from the state the cell had when x_t arrived",
        name="output read from the previous state (shifted by one step)",
        names=(
            r"off.by.one|shift|previous state|one step|lag|h_\{?t-1",
        ),
        edits=(
            (("        state, h = run_step(step, X[:, t], state, cp)\n"
              '        ys.append(h @ params["W_hy"] + params["b_y"])'),
             ("        h = state[0] if isinstance(state, tuple) else state\n"
              '        ys.append(h @ params["W_hy"] + params["b_y"])\n'
              "        state, h = run_step(step, X[:, t], state, cp)")),
        )),
    Bug("m2m_last_state_repeated", "architectures", "many_to_many_forward",
        says="I compute the readout once at the end and repeat it",
        name="every output read from the last state",
        names=(
            "last (state|step)|same output|every step|repeat|constant",
        ),
        edits=(
            ("return np.stack(ys, axis=1), None",
             'return np.stack([h @ params["W_hy"] + params["b_y"]] * X.shape[1], axis=1), None'),
        )),
    Bug("o2m_feeds_raw_scores", "architectures", "one_to_many_forward",
        says="the next input is the previous output",
        name="raw scores fed back instead of their one-hot argmax",
        names=(
            "one.hot|argmax|raw|score|logit",
        ),
        edits=(
            ("inp = one_hot_argmax(y)",
             "inp = y"),
        )),
    Bug("o2m_T_minus_one", "architectures", "one_to_many_forward",
        says="x counts as the first output",
        name="T - 1 steps run (one output missing)",
        names=(
            (r"off.by.one|T\s*-\s*1|number of (steps|outputs)|missing (step|output)|one (step|output) ("
             "short|missing)"),
        ),
        edits=(
            ("for _ in range(T):",
             "for _ in range(T - 1):"),
        )),
    Bug("ed_decoder_zero_state", "architectures", "encoder_decoder_forward",
        says="the decoder is a new RNN, it starts from zeros",
        name="decoder starts from the zero state, not the encoder's final state",
        names=(
            "encoder.{0,60}(state|final|context)",
            "zero state|context",
        ),
        edits=(
            ("inp, ys = np.zeros((B, K)), []",
             "state, inp, ys = zero_state(dec, B), np.zeros((B, K)), []"),
        )),
    Bug("ed_start_is_last_input", "architectures", "encoder_decoder_forward",
        says="the decoder starts from the last thing it saw",
        name="decoder's first input is the last encoder input, not the zero start",
        names=(
            "start|first input|zero input|go token",
        ),
        edits=(
            ("inp, ys = np.zeros((B, K)), []",
             "inp, ys = X[:, -1], []"),
        )),
    Bug("ed_encoder_T_minus_one", "architectures", "encoder_decoder_forward",
        says="the last input is read by the decoder",
        name="encoder skips the last input (off by one)",
        names=(
            r"off.by.one|last (input|step)|T_in|missing step|T\s*-\s*1",
        ),
        edits=(
            ("for t in range(X.shape[1]):",
             "for t in range(X.shape[1] - 1):"),
        )),
    Bug("conv_stride_ignored", "crnn", "conv2d_forward",
        says="the window moves one pixel at a time",
        name="stride ignored when taking the patch",
        names=(
            "stride",
        ),
        edits=(
            ("patch = xp[:, :, i * stride : i * stride + KH, j * stride : j * stride + KW]",
             "patch = xp[:, :, i : i + KH, j : j + KW]"),
        )),
    Bug("conv_no_bias", "crnn", "conv2d_forward",
        says="the bias is added after the ReLU, not here",
        name="conv bias not added",
        names=(
            "bias",
        ),
        edits=(
            ("axes=([1, 2, 3], [1, 2, 3])) + b",
             "axes=([1, 2, 3], [1, 2, 3]))"),
        )),
    Bug("conv_ow_uses_H", "crnn", "conv2d_forward",
        says="images are square",
        name="output width computed from the height (works only for square images)",
        names=(
            r"width|height|square|\bW\b",
        ),
        edits=(
            ("OW = (W + 2 * padding - KW) // stride + 1",
             "OW = (H + 2 * padding - KW) // stride + 1"),
        )),
    Bug("pool_default_stride_one", "crnn", "maxpool_forward",
        says="the default stride is 1, as in convolutions",
        name="default stride 1 instead of the window size",
        names=(
            "stride",
            "overlap",
        ),
        edits=(
            ("stride = size if stride is None else stride",
             "stride = 1 if stride is None else stride"),
        )),
    Bug("pool_average", "crnn", "maxpool_forward",
        says="pooling takes the mean",
        name="average pooling instead of max pooling",
        names=(
            "mean|averag",
        ),
        edits=(
            (".max(axis=(2, 3))",
             ".mean(axis=(2, 3))"),
        )),
    Bug("ff_valid_conv", "crnn", "frame_features",
        says="a convolution without padding is the normal one",
        name="conv run without the 'same' padding",
        names=(
            "pad|same|valid",
        ),
        edits=(
            ("1, K.shape[2] // 2)",
             "1, 0)"),
        )),
    Bug("ff_flatten_channels_last", "crnn", "frame_features",
        says="Keras flattens channels last",
        name="flattened in (H, W, C) order instead of (C, H, W)",
        names=(
            "flatten|order|transpos|channel.?last|layout",
        ),
        edits=(
            ("p.reshape(len(p), -1)",
             "p.transpose(0, 2, 3, 1).reshape(len(p), -1)"),
        )),
    Bug("crnn_time_major_reshape", "crnn", "crnn_forward",
        says="reshape back to (T, B) and swap",
        name="features reshaped time-major: frames of different videos mixed",
        names=(
            "reshape|order|time.major|mix|transpos|video",
        ),
        edits=(
            ("F = F.reshape(B, T, -1)",
             "F = F.reshape(T, B, -1).transpose(1, 0, 2)"),
        )),
    Bug("crnn_frames_time_major", "crnn", "crnn_forward",
        says="I put time first before flattening the frames",
        name="frames flattened time-major but unflattened batch-first",
        names=(
            "reshape|order|time.major|mix|transpos|video",
        ),
        edits=(
            ("frame_features(X.reshape(B * T, *X.shape[2:]), params)",
             "frame_features(X.transpose(1, 0, 2, 3, 4).reshape(B * T, *X.shape[2:]), params)"),
        )),
    Bug("crnn_reversed", "crnn", "crnn_forward",
        says="direction does not matter for a video",
        name="frames read in reverse order",
        names=(
            "revers|order|backward",
        ),
        edits=(
            ("for t in range(T):",
             "for t in reversed(range(T)):"),
        )),
    Bug("rnnb_dx_squeezed", "rnn_cell", "rnn_step_backward",
        says="squeeze gets rid of the useless axes",
        name="squeeze drops size-1 axes (wrong shape when B = 1 or D = 1)",
        names=(
            r"squeez|size.?1 ax|B\s*=\s*1|D\s*=\s*1|dimension|\bshape\b",
        ),
        edits=(
            ('dx = da @ params["W_xh"].T  # (B, D)',
             'dx = (da @ params["W_xh"].T).squeeze()  # (B, D)'),
        )),
    Bug("lstm_c_squeezed", "lstm_cell", "lstm_step",
        says="squeeze makes the cell state a clean vector",
        name="squeeze drops size-1 axes (wrong shape when B = 1 or H = 1)",
        names=(
            r"squeez|size.?1 ax|B\s*=\s*1|H\s*=\s*1|dimension|\bshape\b",
        ),
        edits=(
            ("c = f * c_prev + i * g",
             "c = np.squeeze(f * c_prev + i * g)"),
        )),
    Bug("gru_h_squeezed", "gru_cell", "gru_step",
        says="squeeze so that h is a plain vector when there is one example",
        name="squeeze drops size-1 axes (wrong shape when B = 1 or H = 1)",
        names=(
            r"squeez|size.?1 ax|B\s*=\s*1|H\s*=\s*1|dimension|\bshape\b",
        ),
        edits=(
            ("h = z * h_prev + (1.0 - z) * n",
             "h = np.squeeze(z * h_prev + (1.0 - z) * n)"),
        )),
    Bug("clip_zero_norm", "bptt", "clip_gradients",
        says="the norm of a gradient is never zero",
        name="division by zero when every gradient is zero (norm = 0 not handled)",
        names=(
            r"zero (gradient|norm)|division by zero|ZeroDivision|norm\s*=\s*0|all.zero",
        ),
        edits=(
            ("scale = min(1.0, max_norm / norm) if norm > 0 else 1.0",
             "scale = min(1.0, max_norm / norm)"),
        )),
    Bug("spec_eigvalsh", "bptt", "spectral_radius",
        says="eigvalsh is the faster eigenvalue routine",
        name="eigvalsh assumes a symmetric matrix",
        names=(
            "symmetr|eigvalsh|hermitian",
        ),
        edits=(
            ("np.linalg.eigvals(W)",
             "np.linalg.eigvalsh(W)"),
        )),
    Bug("m2o_loops_over_batch", "architectures", "many_to_one_forward",
        says="the first axis is the sequence",
        name="loops over the batch size B instead of T (right only when B = T)",
        names=(
            (r"\bB\b.{0,40}\bT\b|\bT\b.{0,40}\bB\b|batch size|number of (time )?steps|shape\[0\]|time a"
             "xis"),
        ),
        edits=(
            ("for t in range(X.shape[1]):",
             "for t in range(X.shape[0]):"),
        )),
    Bug("conv_pad_all_axes", "crnn", "conv2d_forward",
        says="np.pad(x, padding) pads the image",
        name="np.pad pads the batch and channel axes too",
        names=(
            r"pad\w*.{0,80}(batch|channel|every axis|all axes|axes)|(batch|channel).{0,80}pad",
        ),
        edits=(
            ("np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))",
             "np.pad(x, padding)"),
        )),
]
