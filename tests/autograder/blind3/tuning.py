"""The tuning half of the blind catalogue: tune the diagnosis on these bugs, never on heldout.py."""

from tests.autograder.blind3.catalogue import Bug

BUGS = [
    Bug("rnn_weights_swapped", "rnn_cell", "rnn_step",
        says="W_xh and W_hh are both weight matrices, I multiplied each input by the other one",
        name="input and recurrent weights swapped",
        names=(
            r"(swap|exchang|interchang|confus|mix)\w*.{0,80}(W_xh|W_hh|weight)",
            "(W_xh|W_hh).{0,60}(swap|exchang|interchang|confus|mix)",
        ),
        edits=(
            ('x @ params["W_xh"] + h_prev @ params["W_hh"]',
             'x @ params["W_hh"] + h_prev @ params["W_xh"]'),
        )),
    Bug("rnn_no_tanh", "rnn_cell", "rnn_step",
        says="I wrote the affine part and forgot to squash it",
        name="tanh not applied (returns the pre-activation)",
        names=(
            r"(missing|without|forg|omit|no |skip)\w*.{0,40}(tanh|activation|nonlinear|squash)",
            r"(tanh|activation|nonlinear)\w*.{0,40}(missing|not applied|skipped|omitted)",
            "pre-?activation",
            r"\blinear\b",
        ),
        edits=(
            ("h = np.tanh(a) if activation",
             "h = a if activation"),
        )),
    Bug("rnn_cache_a_is_h", "rnn_cell", "rnn_step",
        says="the cache should hold the activated value, that is what the backward needs",
        name="cache 'a' holds the output instead of the pre-activation",
        names=(
            r"cache.{0,80}(\ba\b|pre-?activation)",
            r"pre-?activation.{0,60}(cache|output|\bh\b)",
        ),
        edits=(
            ('"a": a,',
             '"a": h,'),
        )),
    Bug("rnn_bias_column", "rnn_cell", "rnn_step",
        says="in the lesson b_h is a column vector, so I made it one",
        name="bias broadcast along the batch axis (column vector)",
        names=(
            "bias.{0,80}(broadcast|axis|column|shape)",
            "(broadcast|axis|column|shape).{0,80}bias",
            "b_h",
        ),
        edits=(
            ('+ params["b_h"]  # (B, H)',
             '+ params["b_h"][:, None]  # (B, H)'),
        )),
    Bug("rnn_wxh_transposed", "rnn_cell", "rnn_step",
        says="the lesson writes W_xh x_t, so I transposed W_xh too (my test had D = H)",
        name="input weight transposed (works only when D = H)",
        names=(
            "transpos",
            r"W_xh\.T",
            "column",
            r"\bD\b.{0,30}\bH\b",
        ),
        edits=(
            ('x @ params["W_xh"]',
             'x @ params["W_xh"].T'),
        )),
    Bug("rnn_float32", "rnn_cell", "rnn_step",
        says="float32 is what GPUs use, so I cast to it",
        name="computed in float32 (precision lost)",
        names=(
            "float32|single precision|precision|dtype|float64",
        ),
        edits=(
            ("h = np.tanh(a) if",
             ("a = a.astype(np.float32)\n"
              "    h = np.tanh(a) if")),
        )),
    Bug("rnnb_no_tanh_prime", "rnn_cell", "rnn_step_backward",
        says="the gradient just flows through the matrix multiply",
        name="activation derivative missing (da = dh)",
        names=(
            (r"(missing|without|forg|omit|no |skip|ignor)\w*.{0,50}(derivative|tanh|local gradient|acti"
             "vation)"),
            r"(derivative|tanh'|local gradient)\w*.{0,50}(missing|omitted|dropped|not applied)",
        ),
        edits=(
            ("da = dh * (1.0 - h * h)",
             "da = dh"),
        )),
    Bug("rnnb_dwhh_uses_h", "rnn_cell", "rnn_step_backward",
        says="W_hh multiplies the hidden state, and h is the hidden state",
        name="W_hh gradient uses h instead of h_prev",
        names=(
            "h_prev",
            "previous (hidden )?state",
            r"h_\{?t-1\}?",
        ),
        edits=(
            ('"W_hh": h_prev.T @ da',
             '"W_hh": h.T @ da'),
        )),
    Bug("rnnb_bias_mean", "rnn_cell", "rnn_step_backward",
        says="the bias gradient is the average over the batch",
        name="bias gradient averaged instead of summed over the batch",
        names=(
            "mean|averag",
            r"divid\w*.{0,40}(\bB\b|batch)",
            r"(factor|scale).{0,40}(\bB\b|batch)",
        ),
        edits=(
            ("da.sum(axis=0)",
             "da.mean(axis=0)"),
        )),
    Bug("rnnb_dwxh_transposed", "rnn_cell", "rnn_step_backward",
        says="dW = da^T x, like in the column-vector notes",
        name="W_xh gradient transposed (shape (H, D))",
        names=(
            "transpos",
            r"\(H, D\)|shape",
        ),
        edits=(
            ('"W_xh": x.T @ da',
             '"W_xh": da.T @ x'),
        )),
    Bug("lstm_ifog_order", "lstm_cell", "lstm_step",
        says="CS231n uses i, f, o, g, so the candidate is the last block",
        name="gate blocks in the order i, f, o, g (o and g swapped)",
        names=(
            "gate.{0,40}order|order.{0,40}(gate|block)",
            r"(swap|exchang|interchang)\w*.{0,60}(gate|block|\bg\b|\bo\b)",
            "i, ?f, ?o, ?g|ifog",
        ),
        edits=(
            ("g = np.tanh(a[:, 2 * H:3 * H])",
             "g = np.tanh(a[:, 3 * H:])"),
            ("o = sigmoid(a[:, 3 * H:])",
             "o = sigmoid(a[:, 2 * H:3 * H])"),
        )),
    Bug("lstm_no_forget", "lstm_cell", "lstm_step",
        says="the cell state just accumulates new content",
        name="forget gate not applied to c_prev",
        names=(
            "forget",
            r"\bf\s*\*\s*c_prev",
        ),
        edits=(
            ("c = f * c_prev + i * g",
             "c = c_prev + i * g"),
        )),
    Bug("lstm_candidate_sigmoid", "lstm_cell", "lstm_step",
        says="all four blocks are gates, so all four use the sigmoid",
        name="candidate g squashed with sigmoid instead of tanh",
        names=(
            "sigmoid.{0,60}tanh|tanh.{0,60}sigmoid",
            "candidate",
            r"\bg\b",
        ),
        edits=(
            ("g = np.tanh(a[:, 2 * H:3 * H])",
             "g = sigmoid(a[:, 2 * H:3 * H])"),
        )),
    Bug("lstm_coupled_gates", "lstm_cell", "lstm_step",
        says="what is not forgotten is replaced, so the input gate is 1 - f",
        name="input gate replaced by 1 - f (coupled gates, GRU-style)",
        names=(
            "input gate",
            r"\bi\b",
            "coupl",
            r"1\s*-\s*f",
        ),
        edits=(
            ("c = f * c_prev + i * g",
             "c = f * c_prev + (1.0 - f) * g"),
        )),
    Bug("lstm_forget_bias_plus_one", "lstm_cell", "lstm_step",
        says="the forget gate bias should start at 1, so I add 1",
        name="constant 1 added to the forget gate's pre-activation",
        names=(
            r"forget.{0,60}(bias|offset|shift|\+\s*1)",
            "(bias|offset|shift).{0,60}forget",
            r"\+\s*1\b",
        ),
        edits=(
            ("f = sigmoid(a[:, H:2 * H])",
             "f = sigmoid(a[:, H:2 * H] + 1.0)"),
        )),
    Bug("lstm_c_prev_in_place", "lstm_cell", "lstm_step",
        says="I scale the old cell state in place, then add the new content",
        name="c_prev modified in place",
        names=(
            "in[- ]place",
            r"(modif|mutat|overwr|chang)\w*.{0,60}(c_prev|input|argument)",
            r"(c_prev|input|argument)\w*.{0,60}(modified|changed|mutated|overwrit)",
        ),
        edits=(
            ("c = f * c_prev + i * g",
             ("c_prev *= f\n"
              "    c = c_prev + i * g")),
        )),
    Bug("lstmb_dc_ignored", "lstm_cell", "lstm_step_backward",
        says="the loss is on h, so only dh matters",
        name="upstream dc not added to the cell gradient",
        names=(
            r"\bdc\b",
            "(cell|c).{0,30}gradient.{0,60}(next|upstream|later|incoming)",
            r"(missing|ignor|drop|forg)\w*.{0,40}(dc|cell)",
        ),
        edits=(
            ("dc_total = dc + dh * o",
             "dc_total = dh * o"),
        )),
    Bug("lstmb_dc_prev_no_f", "lstm_cell", "lstm_step_backward",
        says="the cell state is a highway, its gradient passes unchanged",
        name="dc_prev not multiplied by the forget gate",
        names=(
            "forget",
            r"\bf\b",
            "dc_prev",
        ),
        edits=(
            ("dc_prev = dc_total * f",
             "dc_prev = dc_total"),
        )),
    Bug("lstmb_concat_order", "lstm_cell", "lstm_step_backward",
        says="I concatenated in the order I computed them (i, f, o, g)",
        name="gate gradients concatenated in the wrong block order",
        names=(
            "order",
            "gate",
            "block",
            "swap",
        ),
        edits=(
            ("[da_i, da_f, da_g, da_o]",
             "[da_i, da_f, da_o, da_g]"),
        )),
    Bug("lstmb_df_uses_c", "lstm_cell", "lstm_step_backward",
        says="the forget gate multiplies the cell state c",
        name="forget-gate gradient uses c instead of c_prev",
        names=(
            "c_prev",
            "previous cell",
            "forget",
        ),
        edits=(
            ("da_f = dc_total * c_prev * f",
             'da_f = dc_total * cache["c"] * f'),
        )),
    Bug("lstmb_dwx_averaged", "lstm_cell", "lstm_step_backward",
        says="weight gradients are averaged over the batch",
        name="W_x gradient divided by the batch size",
        names=(
            "mean|averag|batch size|divid|scal",
        ),
        edits=(
            ('"W_x": x.T @ da',
             '"W_x": x.T @ da / len(x)'),
        )),
    Bug("lstmb_dg_no_tanh_prime", "lstm_cell", "lstm_step_backward",
        says="the candidate enters c linearly",
        name="tanh derivative of the candidate missing",
        names=(
            "tanh",
            "deriv",
            r"candidate|\bg\b",
        ),
        edits=(
            ("da_g = dc_total * i * (1.0 - g * g)",
             "da_g = dc_total * i"),
        )),
    Bug("gru_update_flipped", "gru_cell", "gru_step",
        says="z is the update gate, so z multiplies the new candidate",
        name="update-gate interpolation flipped (z on n, 1 - z on h_prev)",
        names=(
            r"\bz\b.{0,80}(1\s*-\s*z|swap|flip|revers|opposite)",
            r"(swap|flip|revers|opposite).{0,80}(\bz\b|update gate)",
            "interpol",
            "convention",
        ),
        edits=(
            ("h = z * h_prev + (1.0 - z) * n",
             "h = (1.0 - z) * h_prev + z * n"),
        )),
    Bug("gru_bias_outside_reset", "gru_cell", "gru_step",
        says="the reset gate multiplies the matrix product, the bias comes after",
        name="recurrent bias b_hn added outside the reset product (reset-after)",
        names=(
            "b_hn|bias",
            "reset.{0,60}bias|bias.{0,60}reset",
        ),
        edits=(
            (("hw_n = h_prev @ W_h[:, 2 * H:] + b_h[2 * H:]  # (B, H)\n"
              "        n = np.tanh(xw[:, 2 * H:] + r * hw_n)"),
             ("hw_n = h_prev @ W_h[:, 2 * H:]  # (B, H)\n"
              "        n = np.tanh(xw[:, 2 * H:] + r * hw_n + b_h[2 * H:])")),
        )),
    Bug("gru_candidate_sigmoid", "gru_cell", "gru_step",
        says="all GRU parts go through the sigmoid",
        name="candidate n squashed with sigmoid instead of tanh",
        names=(
            "sigmoid.{0,60}tanh|tanh.{0,60}sigmoid",
            "candidate",
            r"\bn\b",
        ),
        edits=(
            ("n = np.tanh(xw[:, 2 * H:] + r * hw_n)",
             "n = sigmoid(xw[:, 2 * H:] + r * hw_n)"),
        )),
    Bug("gru_ignores_reset_after_flag", "gru_cell", "gru_step",
        says="PyTorch resets after, so I always do that",
        name="reset_after argument ignored (always reset-after)",
        names=(
            "reset_after",
            "convention",
            "flag|argument|parameter",
            "Cho",
        ),
        edits=(
            ("if reset_after:",
             "if True:"),
        )),
    Bug("gru_H_from_x", "gru_cell", "gru_step",
        says="H is the number of features (my test had D = H)",
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
    Bug("gru_float32", "gru_cell", "gru_step",
        says="float32 saves memory",
        name="computed in float32 (precision lost)",
        names=(
            "float32|single precision|precision|dtype|float64",
        ),
        edits=(
            ('xw = x @ params["W_x"] + params["b_x"]',
             'xw = (x @ params["W_x"] + params["b_x"]).astype(np.float32)'),
        )),
    Bug("grub_dz_sign", "gru_cell", "gru_step_backward",
        says="dh/dz is n - h_prev",
        name="update-gate gradient has the wrong sign",
        names=(
            "sign",
            r"update gate|\bz\b|da_z",
        ),
        edits=(
            ("da_z = dh * (h_prev - n)",
             "da_z = dh * (n - h_prev)"),
        )),
    Bug("grub_dn_no_tanh_prime", "gru_cell", "gru_step_backward",
        says="n is already the activated value",
        name="tanh derivative of the candidate missing",
        names=(
            "tanh",
            "deriv",
        ),
        edits=(
            ("da_n = dh * (1.0 - z) * (1.0 - n * n)",
             "da_n = dh * (1.0 - z)"),
        )),
    Bug("grub_dhwn_no_r", "gru_cell", "gru_step_backward",
        says="the recurrent term of n gets the candidate gradient",
        name="reset gate left out of the gradient of the recurrent term (reset-after)",
        names=(
            "reset",
            r"\br\b",
        ),
        edits=(
            ("dhw_n = da_n * r  # gradient",
             "dhw_n = da_n  # gradient"),
        )),
    Bug("grub_r_sigmoid_prime_wrong", "gru_cell", "gru_step_backward",
        says="gate derivative is 1 - r^2",
        name="reset gate's sigmoid derivative written as tanh's",
        names=(
            "sigmoid",
            "deriv",
            "reset",
        ),
        edits=(
            ("da_r = dr * r * (1.0 - r)",
             "da_r = dr * (1.0 - r * r)"),
        )),
    Bug("grub_before_dwhn_no_r", "gru_cell", "gru_step_backward",
        says="W_hn multiplies h_prev",
        name="W_hn gradient uses h_prev instead of r * h_prev (reset-before)",
        names=(
            "reset",
            r"r\s*\*\s*h_prev",
            "W_h",
        ),
        edits=(
            ("dW_hn = (r * h_prev).T @ da_n",
             "dW_hn = h_prev.T @ da_n"),
        )),
    Bug("fwd_ignores_h0", "bptt", "rnn_forward",
        says="RNNs always start from zeros",
        name="initial state h0 ignored (zeros used)",
        names=(
            "h0",
            "initial (hidden )?state",
            "zero",
        ),
        edits=(
            ("h = h0\n",
             "h = np.zeros_like(h0)\n"),
        )),
    Bug("fwd_appends_h_prev", "bptt", "rnn_forward",
        says="I save the state, then step",
        name="stores h_{t-1} at position t (off by one)",
        names=(
            "off.by.one|shift|one step (late|early|behind)|lag",
            r"h_\{?t-1|previous state",
        ),
        edits=(
            (("h, cache = rnn_step(X[:, t], h, params)\n"
              "        states.append(h)"),
             ("states.append(h)\n"
              "        h, cache = rnn_step(X[:, t], h, params)")),
        )),
    Bug("fwd_reversed_time", "bptt", "rnn_forward",
        says="I loop the same way as in the backward pass",
        name="sequence processed in reverse time order",
        names=(
            "revers",
            "backward(s)? in time|from the (end|last)",
            "order",
        ),
        edits=(
            ("for t in range(X.shape[1]):",
             "for t in reversed(range(X.shape[1])):"),
        )),
    Bug("fwd_index_time_major", "bptt", "rnn_forward",
        says="X[t] is the input at time t",
        name="indexes X[t] (an example) instead of X[:, t] (a time step)",
        names=(
            r"batch.first|time.major|X\[t\]|X\[:, ?t\]",
            "axis|index",
        ),
        edits=(
            ("rnn_step(X[:, t], h, params)",
             "rnn_step(X[t], h, params)"),
        )),
    Bug("bwd_no_dh_next", "bptt", "rnn_backward",
        says="each step's gradient is the loss gradient at that step",
        name="gradient from the next step (dh_next) not added",
        names=(
            "dh_next",
            r"next step|later step|from t\s*\+\s*1|future",
            "accumul",
        ),
        edits=(
            ("dh = dH[:, t] + dh_next",
             "dh = dH[:, t]"),
        )),
    Bug("bwd_forward_order", "bptt", "rnn_backward",
        says="the order of the steps does not matter for a sum",
        name="backward loop runs forward in time",
        names=(
            "revers",
            "order",
            "backward(s)? in time|from the (end|last)",
        ),
        edits=(
            ("for t in reversed(range(T)):",
             "for t in range(T):"),
        )),
    Bug("bwd_grads_averaged_over_T", "bptt", "rnn_backward",
        says="the loss is averaged over time, so the gradients too",
        name="parameter gradients divided by T",
        names=(
            r"mean|averag|divid|\bT\b|scal",
        ),
        edits=(
            ("return dX, dh_next, grads",
             "return dX, dh_next, {k: g / T for k, g in grads.items()}"),
        )),
    Bug("bwd_cache_off_by_one", "bptt", "rnn_backward",
        says="step t's gradient goes through the cache of the step before it",
        name="uses cache[t - 1] at step t (off by one)",
        names=(
            r"off.by.one|shift|t\s*-\s*1|wrong (step|cache)",
            "cache.{0,40}(step|index)",
        ),
        edits=(
            ("rnn_step_backward(dh, caches[t])",
             "rnn_step_backward(dh, caches[t - 1])"),
        )),
    Bug("clip_per_tensor", "bptt", "clip_gradients",
        says="I clip each gradient to max_norm",
        name="clips each array by its own norm instead of the global norm",
        names=(
            ("per.(tensor|array|key|parameter)|each (array|tensor|parameter|gradient)|separately|indiv"
             "idual"),
            "global",
        ),
        edits=(
            ("return {k: g * scale for k, g in grads.items()}, norm",
             ("return {k: g * min(1.0, max_norm / max(float(np.sqrt((g * g).sum())), 1e-12)) for k, g i"
              "n grads.items()}, norm")),
        )),
    Bug("clip_norm_after", "bptt", "clip_gradients",
        says="the norm to report is the norm of what I return",
        name="returns the norm after clipping",
        names=(
            "after clipping|before clipping|clipped norm|norm.{0,60}(after|before)",
        ),
        edits=(
            ("    return {k: g * scale for k, g in grads.items()}, norm",
             ("    clipped = {k: g * scale for k, g in grads.items()}\n"
              "    return clipped, float(np.sqrt(sum((g * g).sum() for g in clipped.values())))")),
        )),
    Bug("clip_in_place", "bptt", "clip_gradients",
        says="scaling in place saves copying the gradients",
        name="grads modified in place and returned",
        names=(
            "in[- ]place",
            r"(modif|mutat|overwr|chang)\w*.{0,60}(grads|input|argument)",
            r"(grads|input|argument)\w*.{0,60}(modified|changed|mutated|overwrit)",
            "new arrays|same (dict|object|arrays)",
        ),
        edits=(
            ("    return {k: g * scale for k, g in grads.items()}, norm",
             ("    for g in grads.values():\n"
              "        g *= scale\n"
              "    return grads, norm")),
        )),
    Bug("clip_l1_norm", "bptt", "clip_gradients",
        says="the size of a gradient is the sum of its absolute values",
        name="L1 norm used instead of the L2 norm",
        names=(
            r"\bL1\b|absolute|sqrt|square|L2|euclid",
        ),
        edits=(
            ("float(np.sqrt(sum((g * g).sum() for g in grads.values())))",
             "float(sum(np.abs(g).sum() for g in grads.values()))"),
        )),
    Bug("spec_no_abs", "bptt", "spectral_radius",
        says="the largest eigenvalue",
        name="largest real part instead of the largest modulus",
        names=(
            r"modul|absolute|magnitude|\|\s*λ|complex|negative",
        ),
        edits=(
            ("float(np.abs(np.linalg.eigvals(W)).max())",
             "float(np.linalg.eigvals(W).real.max())"),
        )),
    Bug("spec_max_entry", "bptt", "spectral_radius",
        says="the largest weight bounds the growth",
        name="largest absolute entry instead of eigenvalues",
        names=(
            "entr|element|eigen",
        ),
        edits=(
            ("float(np.abs(np.linalg.eigvals(W)).max())",
             "float(np.abs(W).max())"),
        )),
    Bug("hgn_batch_mean", "bptt", "hidden_grad_norms",
        says="one norm per sequence, then averaged",
        name="per-example norms averaged over the batch",
        names=(
            "batch|mean|averag|per.example",
        ),
        edits=(
            ("norms[t] = np.sqrt((dh * dh).sum())",
             "norms[t] = np.sqrt((dh * dh).sum(axis=1)).mean()"),
        )),
    Bug("hgn_squared", "bptt", "hidden_grad_norms",
        says="the norm is the sum of squares",
        name="squared norm (square root missing)",
        names=(
            "sqrt|square",
        ),
        edits=(
            ("norms[t] = np.sqrt((dh * dh).sum())",
             "norms[t] = (dh * dh).sum()"),
        )),
    Bug("o2o_no_readout_bias", "architectures", "one_to_one_forward",
        says="the readout is a matrix product",
        name="readout bias b_y dropped",
        names=(
            "bias",
            "b_y",
        ),
        edits=(
            ('return h @ params["W_hy"] + params["b_y"], None',
             'return h @ params["W_hy"], None'),
        )),
    Bug("o2o_tanh_readout", "architectures", "one_to_one_forward",
        says="every layer has an activation",
        name="tanh applied to the linear readout",
        names=(
            "tanh|activation|nonlinear|linear readout|squash",
        ),
        edits=(
            ('return h @ params["W_hy"] + params["b_y"], None',
             'return np.tanh(h @ params["W_hy"] + params["b_y"]), None'),
        )),
    Bug("m2o_state_not_carried", "architectures", "many_to_one_forward",
        says="run_step gives me h, that is all I need",
        name="state not carried between steps (every step from the zero state)",
        names=(
            r"(not|never)\w*.{0,40}(carr|pass|propagat|updat|fed|feed)",
            "reset|zero state.{0,60}(each|every)",
            "recurren",
        ),
        edits=(
            ("state, h = run_step(step, X[:, t], state, cp)",
             "_, h = run_step(step, X[:, t], state, cp)"),
        )),
    Bug("m2o_reversed", "architectures", "many_to_one_forward",
        says="reading the sequence backwards is what a bidirectional RNN does",
        name="sequence read in reverse order",
        names=(
            "revers|order|backward",
        ),
        edits=(
            ("for t in range(X.shape[1]):",
             "for t in reversed(range(X.shape[1])):"),
        )),
    Bug("m2m_time_major", "architectures", "many_to_many_forward",
        says="np.stack puts the list's axis first, that's time",
        name="outputs stacked time-major (T, B, K)",
        names=(
            "axis",
            r"time.major|\(T, B",
            "transpos",
        ),
        edits=(
            ("return np.stack(ys, axis=1), None",
             "return np.stack(ys, axis=0), None"),
        )),
    Bug("m2m_softmax_batch_axis", "architectures", "many_to_many_forward",
        says="outputs are probabilities, so I apply the softmax",
        name="softmax applied over the batch axis (outputs should be the raw scores)",
        names=(
            "softmax|probabilit|normali[sz]|exp|logit",
        ),
        edits=(
            ('        ys.append(h @ params["W_hy"] + params["b_y"])',
             ('        y = h @ params["W_hy"] + params["b_y"]\n'
              "        ys.append(np.exp(y) / np.exp(y).sum(axis=0))")),
        )),
    Bug("o2m_x_every_step", "architectures", "one_to_many_forward",
        says="the input is x, so every step reads x",
        name="output not fed back (x read at every step)",
        names=(
            "feed|fed|previous output|one.hot|argmax|same input",
        ),
        edits=(
            ("inp = one_hot_argmax(y)",
             "inp = x"),
        )),
    Bug("o2m_zeros_after_first", "architectures", "one_to_many_forward",
        says="after the first step there is no input any more",
        name="zeros fed after the first step instead of the previous output",
        names=(
            "zero",
            "feed|fed|previous output|one.hot|argmax",
        ),
        edits=(
            ("inp = one_hot_argmax(y)",
             "inp = np.zeros_like(x)"),
        )),
    Bug("o2m_argmax_axis0", "architectures", "one_to_many_forward",
        says="I wrote my own one-hot of the argmax",
        name="argmax taken over the batch axis",
        names=(
            "axis|argmax|one.hot|batch",
        ),
        edits=(
            ("inp = one_hot_argmax(y)",
             "inp = np.eye(y.shape[1])[y.argmax(axis=0)]"),
        )),
    Bug("ed_decoder_uses_encoder_params", "architectures", "encoder_decoder_forward",
        says="the same cell encodes and decodes",
        name="decoder steps with the encoder's parameters",
        names=(
            "dec_|decoder.{0,60}(param|weight)|encoder('s)? (param|weight)",
        ),
        edits=(
            ("state, h = run_step(step, inp, state, dec)",
             "state, h = run_step(step, inp, state, enc)"),
        )),
    Bug("ed_no_feedback", "architectures", "encoder_decoder_forward",
        says="the state carries everything, the decoder input can stay the start token",
        name="decoder output not fed back (start input at every step)",
        names=(
            "feed|fed|previous output|one.hot|argmax",
        ),
        edits=(
            ("inp = one_hot_argmax(y)",
             "inp = np.zeros((B, K))"),
        )),
    Bug("conv_kernel_flipped", "crnn", "conv2d_forward",
        says="a convolution flips the kernel, that's the definition",
        name="kernel flipped (true convolution instead of cross-correlation)",
        names=(
            "flip|cross.correlation|rotat",
        ),
        edits=(
            ("np.tensordot(patch, K, axes",
             "np.tensordot(patch, K[:, :, ::-1, ::-1], axes"),
        )),
    Bug("conv_pad_one_side", "crnn", "conv2d_forward",
        says="2 * padding zeros, added after the image",
        name="padding added on one side only",
        names=(
            "pad",
        ),
        edits=(
            ("(padding, padding), (padding, padding)))",
             "(0, 2 * padding), (0, 2 * padding)))"),
        )),
    Bug("conv_out_size_no_plus_one", "crnn", "conv2d_forward",
        says="the output size is (H + 2p - k) / s",
        name="output size formula misses the + 1",
        names=(
            r"output (size|shape)|\+\s*1|off.by.one|shape",
        ),
        edits=(
            ("OH = (H + 2 * padding - KH) // stride + 1",
             "OH = (H + 2 * padding - KH) // stride"),
            ("OW = (W + 2 * padding - KW) // stride + 1",
             "OW = (W + 2 * padding - KW) // stride"),
        )),
    Bug("conv_no_padding", "crnn", "conv2d_forward",
        says="np.pad is only needed for 'same' convolutions, the sizes take care of it",
        name="padding argument ignored (input not padded)",
        names=(
            "pad",
        ),
        edits=(
            ("xp = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))",
             "xp = x"),
        )),
    Bug("pool_over_channels", "crnn", "maxpool_forward",
        says="max over the window, all of it",
        name="max taken over the channels too",
        names=(
            "channel|axis",
        ),
        edits=(
            (".max(axis=(2, 3))",
             ".max(axis=(1, 2, 3))[:, None]"),
        )),
    Bug("pool_reshape_trick", "crnn", "maxpool_forward",
        says="the reshape trick from the worked example is faster",
        name="reshape trick that is right only when stride equals size",
        names=(
            "stride",
            "overlap",
        ),
        edits=(
            (("    for i in range(OH):\n"
              "        for j in range(OW):\n"
              "            out[:, :, i, j] = x[:, :, i * stride : i * stride + size, j * stride : j * s"
              "tride + size].max(axis=(2, 3))\n"),
             ("    out = x[:, :, :OH * size, :OW * size].reshape(N, C, OH, size, OW, size).max(axis=(3,"
              " 5))\n")),
        )),
    Bug("ff_no_final_relu", "crnn", "frame_features",
        says="the dense layer's output is the feature",
        name="ReLU after the dense layer missing",
        names=(
            "relu|activation|negative",
        ),
        edits=(
            ("return np.maximum(f, 0), None",
             "return f, None"),
        )),
    Bug("ff_no_conv_relu", "crnn", "frame_features",
        says="max-pooling is already a nonlinearity",
        name="ReLU after the convolution missing",
        names=(
            "relu|activation|negative",
        ),
        edits=(
            ("np.maximum(a, 0), 2, 2)",
             "a, 2, 2)"),
        )),
    Bug("crnn_mean_of_states", "crnn", "crnn_forward",
        says="a video's summary is the average state",
        name="reads out the mean of all states instead of the last one",
        names=(
            "mean|averag|pool",
            "last state|final state",
        ),
        edits=(
            (("    for t in range(T):\n"
              "        state, h = run_step(step, F[:, t], state, cp)\n"),
             ("    hs = []\n"
              "    for t in range(T):\n"
              "        state, h = run_step(step, F[:, t], state, cp)\n"
              "        hs.append(h)\n"
              "    h = np.mean(hs, axis=0)\n")),
        )),
    Bug("crnn_no_readout_bias", "crnn", "crnn_forward",
        says="the readout is just W_hy",
        name="readout bias b_y dropped",
        names=(
            "bias",
            "b_y",
        ),
        edits=(
            ('return h @ params["W_hy"] + params["b_y"], None',
             'return h @ params["W_hy"], None'),
        )),
    Bug("rnn_manual_tanh", "rnn_cell", "rnn_step",
        says="I wrote tanh from its definition with exponentials",
        name="tanh written with exp overflows to nan for large |a|",
        names=(
            r"overflow|\bnan\b|large (input|value|pre-?activation)|numeric|stabl|\binf\b",
        ),
        edits=(
            ("h = np.tanh(a) if",
             "h = (np.exp(a) - np.exp(-a)) / (np.exp(a) + np.exp(-a)) if"),
        )),
    Bug("grub_dh_scaled_in_place", "gru_cell", "gru_step_backward",
        says="I scale dh by (1 - z) in place, it is only used once",
        name="dh modified in place (the later uses of dh see the scaled value)",
        names=(
            "in[- ]place",
            r"(modif|mutat|overwr|chang)\w*.{0,60}(\bdh\b|input|argument)",
            "alias",
        ),
        edits=(
            ("da_n = dh * (1.0 - z) * (1.0 - n * n)  # (B, H)",
             ("dh_n = dh\n"
              "    dh_n *= 1.0 - z\n"
              "    da_n = dh_n * (1.0 - n * n)  # (B, H)")),
        )),
    Bug("fwd_squeezed", "bptt", "rnn_forward",
        says="squeeze the stacked states to tidy the shape",
        name="squeeze drops size-1 axes (wrong shape when B = 1, T = 1 or H = 1)",
        names=(
            r"squeez|size.?1 ax|B\s*=\s*1|T\s*=\s*1|H\s*=\s*1|dimension|\bshape\b",
        ),
        edits=(
            ("H = np.stack(states, axis=1)",
             "H = np.stack(states, axis=1).squeeze()"),
        )),
    Bug("ed_decoder_runs_T_in", "architectures", "encoder_decoder_forward",
        says="the decoder produces one output per input",
        name="decoder runs for T_in steps instead of T_out (right only when they are equal)",
        names=(
            "T_out|T_in|number of (steps|outputs)|output length|sequence length",
        ),
        edits=(
            ("for _ in range(T_out):",
             "for _ in range(X.shape[1]):"),
        )),
    Bug("pool_max_from_zero", "crnn", "maxpool_forward",
        says="I start the running maximum at 0",
        name="maximum initialised at 0 (wrong when a whole window is negative)",
        names=(
            r"negative|initial|start\w*.{0,30}\b0\b|from zero|clamp",
        ),
        edits=(
            (".max(axis=(2, 3))",
             ".max(axis=(2, 3), initial=0.0)"),
        )),
]
