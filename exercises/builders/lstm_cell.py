"""The ``lstm_cell`` assignment: one LSTM step, forward and backward."""

from __future__ import annotations

from builders.cells import given, md, notebook, solution
from builders.common import SETUP, check_pair, function

STEP_HEADER = '''
def lstm_step(x, h_prev, c_prev, params):
    """One LSTM step.

    Inputs:
    - x: (B, D); h_prev, c_prev: (B, H).
    - params: W_x (D, 4H), W_h (H, 4H), b (4H,); the four column blocks are i, f, g, o.

    Returns:
    - h, c: (B, H) new hidden and cell states (new arrays).
    - cache: a dict with (at least) the keys x, h_prev, c_prev, i, f, g, o, c, tanh_c and params.
      The tests check them, and lstm_step_backward is graded on the reference's cache, which
      holds these keys (and a few more): read only these in your backward.
    """
'''
STEP_BODY = '''
H = h_prev.shape[1]
a = x @ params["W_x"] + h_prev @ params["W_h"] + params["b"]  # (B, 4H)
i = sigmoid(a[:, :H])
f = sigmoid(a[:, H:2 * H])
g = np.tanh(a[:, 2 * H:3 * H])
o = sigmoid(a[:, 3 * H:])
c = f * c_prev + i * g
tanh_c = np.tanh(c)
h = o * tanh_c
cache = {"x": x, "h_prev": h_prev, "c_prev": c_prev, "i": i, "f": f, "g": g, "o": o, "c": c,
         "tanh_c": tanh_c, "params": params}
return h, c, cache
'''
BACKWARD_HEADER = '''
def lstm_step_backward(dh, dc, cache):
    """Backward pass of lstm_step.

    Inputs:
    - dh, dc: (B, H) gradients of the loss with respect to h and c reaching this step.
    - cache: what your lstm_step returned.

    Returns:
    - dx: (B, D), dh_prev: (B, H), dc_prev: (B, H),
    - grads: dict with W_x (D, 4H), W_h (H, 4H), b (4H,).
    """
'''
BACKWARD_BODY = '''
i, f, g, o, tanh_c = cache["i"], cache["f"], cache["g"], cache["o"], cache["tanh_c"]
x, h_prev, c_prev, params = cache["x"], cache["h_prev"], cache["c_prev"], cache["params"]
dc_total = dc + dh * o * (1.0 - tanh_c * tanh_c)  # (B, H): both paths into c
da_i = dc_total * g * i * (1.0 - i)
da_f = dc_total * c_prev * f * (1.0 - f)
da_g = dc_total * i * (1.0 - g * g)
da_o = dh * tanh_c * o * (1.0 - o)
da = np.concatenate([da_i, da_f, da_g, da_o], axis=1)  # 4 x (B, H) -> (B, 4H)
dx = da @ params["W_x"].T
dh_prev = da @ params["W_h"].T
dc_prev = dc_total * f
grads = {"W_x": x.T @ da, "W_h": h_prev.T @ da, "b": da.sum(axis=0)}
return dx, dh_prev, dc_prev, grads
'''


def build():
    return notebook([
        md(r"""
        # Assignment `lstm_cell`: one step of a long short-term memory cell

        A vanilla RNN multiplies the gradient by $W_{hh}^\top$ and a `tanh` derivative at every step
        back in time, so it vanishes or explodes over long sequences. The LSTM adds a *cell state* $c_t$
        that is updated additively, controlled by three gates (lesson: forget, input and output gate).

        With row-major batches (`x_t (B, D)`, `h_t, c_t (B, H)`), each gate reads the input and the
        previous hidden state:

        $$i = \sigma(x_t W_{xi} + h_{t-1} W_{hi} + b_i),\quad f = \sigma(x_t W_{xf} + h_{t-1} W_{hf} + b_f),
        \quad o = \sigma(x_t W_{xo} + h_{t-1} W_{ho} + b_o)$$
        $$g = \tanh(x_t W_{xg} + h_{t-1} W_{hg} + b_g),\qquad c_t = f \odot c_{t-1} + i \odot g,
        \qquad h_t = o \odot \tanh(c_t).$$

        The four products are computed at once: `W_x (D, 4H)`, `W_h (H, 4H)`, `b (4H,)` hold the blocks
        **in the order i, f, g, o** (input, forget, candidate, output), the order of PyTorch and Keras,
        so `a = x W_x + h_prev W_h + b` is `(B, 4H)` and `a[:, :H]` belongs to `i`, `a[:, H:2H]` to `f`,
        and so on. (CS231n's assignment uses i, f, o, g: a classic source of bugs.)

        Test cells earn their points when they run without error; hidden tests use random shapes,
        biases and upstream gradients. Failure messages name the first differing unit and the likely bug.
        """),
        given("setup", SETUP),
        md(r"""
        ## Worked example

        One unit (`H = 1`), one input (`D = 1`): the four gate pre-activations are just numbers.
        """),
        given("worked_example", '''
        a = np.array([[0.0, 2.0, 0.5, -1.0]])        # pre-activations of i, f, g, o: (B, 4H) = (1, 4)
        i, f, g, o = sigmoid(a[:, 0]), sigmoid(a[:, 1]), np.tanh(a[:, 2]), sigmoid(a[:, 3])
        c_prev = np.array([1.0])
        c = f * c_prev + i * g                         # 0.881 * 1 + 0.5 * 0.462 = 1.112
        h = o * np.tanh(c)                             # 0.269 * 0.805 = 0.216
        print(f"i={i[0]:.3f} f={f[0]:.3f} g={g[0]:.3f} o={o[0]:.3f} c={c[0]:.3f} h={h[0]:.3f}")
        '''),
        md(r"""
        ## Forward: `lstm_step`

        `sigmoid` is defined in the setup cell. Slice the four blocks of `a` in the order i, f, g, o.

        **The cache** is a dict with the keys `x`, `h_prev`, `c_prev`, `i`, `f`, `g`, `o`, `c`,
        `tanh_c` and `params` (the reference's names). The forward's tests check them; the backward's
        tests call your `lstm_step_backward` with the reference's cache (same keys), so a bug in
        `lstm_step` never costs the backward's points. Read only these keys in your backward.
        """),
        solution("lstm_step", function(STEP_HEADER, STEP_BODY)),
        *check_pair("test_lstm_step", "check_lstm_step", "lstm_step",
                    ("Does lstm_step match the reference on small fixed cases?",
                     "Does lstm_step match the reference on random shapes?"), points=(1, 2), options="cache=True"),
        md(r"""
        ## Backward: `lstm_step_backward`

        The cell state receives gradient from two places: directly from the next step (`dc`) and through
        $h = o \odot \tanh(c)$. So first
        $$dc_{total} = dc + dh \odot o \odot (1 - \tanh^2 c).$$
        Then, through $c = f \odot c_{t-1} + i \odot g$ and $h = o \odot \tanh c$:
        $di = dc_{total} \odot g$, $df = dc_{total} \odot c_{t-1}$, $dg = dc_{total} \odot i$,
        $do = dh \odot \tanh c$, $dc_{t-1} = dc_{total} \odot f$.
        Each goes back through its activation ($\sigma' = \sigma(1-\sigma)$, $\tanh' = 1 - \tanh^2$) to
        give the four blocks of `da (B, 4H)`, stacked in the order i, f, g, o; the rest is the affine
        backward of `rnn_cell`: `dx = da W_x^T`, `dh_prev = da W_h^T`, `dW_x = x^T da`, `dW_h = h_prev^T da`,
        `db = sum over the batch of da`.

        These tests hand your backward the reference's cache, so they grade `lstm_step_backward`
        alone, whatever the state of your `lstm_step`.
        """),
        solution("lstm_step_backward", function(BACKWARD_HEADER, BACKWARD_BODY)),
        *check_pair("test_lstm_step_backward_inputs", "check_lstm_step_backward", "lstm_step, lstm_step_backward",
                    ("Are dx, dh_prev and dc_prev right on small fixed cases?",
                     "Are dx, dh_prev and dc_prev right on random shapes?"), points=(1, 2), options='wrt="inputs"'),
        *check_pair("test_lstm_step_backward_params", "check_lstm_step_backward", "lstm_step, lstm_step_backward",
                    ("Are the parameter gradients right on small fixed cases?",
                     "Are the parameter gradients right on random shapes?"), points=(1, 2), options='wrt="params"'),
        md(r"""
        ## Summary

        - Three sigmoid gates and one tanh candidate, computed by one `(B, 4H)` product with blocks
          i, f, g, o; the cell state is updated additively, $c_t = f \odot c_{t-1} + i \odot g$.
        - Backward, the gradient reaching $c_{t-1}$ is $dc_{total} \odot f$: no weight matrix and no
          squashing derivative on that path, which is why an LSTM can carry gradients over many steps
          when $f \approx 1$.
        - Points: 9 in total (forward 1 + 2, input gradients 1 + 2, parameter gradients 1 + 2).
        """),
    ])
