"""The ``gru_cell`` assignment: one GRU step, forward and backward, in both reset conventions."""

from __future__ import annotations

from builders.cells import given, md, notebook, solution
from builders.common import SETUP, check_pair, function

STEP_HEADER = '''
def gru_step(x, h_prev, params, reset_after=True):
    """One GRU step.

    Inputs:
    - x: (B, D); h_prev: (B, H).
    - params: W_x (D, 3H), W_h (H, 3H), b_x (3H,), b_h (3H,); the three column blocks are z, r, n.
    - reset_after: True applies the reset gate after the recurrent product (PyTorch, Keras default),
      False before it (Cho et al. 2014).

    Returns:
    - h: (B, H) new hidden state (a new array).
    - cache: a dict with (at least) the keys x, h_prev, z, r, n, hw (B, 3H), reset_after and params,
      where hw = [h_prev W_hz + b_hz | h_prev W_hr + b_hr | hw_n] and hw_n is the recurrent term of n.
      The tests check them, and gru_step_backward is graded on the reference's cache, which holds
      these keys (and a few more): read only these in your backward.
    """
'''
STEP_BODY = '''
H = h_prev.shape[1]
W_h, b_h = params["W_h"], params["b_h"]
xw = x @ params["W_x"] + params["b_x"]  # (B, 3H): blocks z, r, n
hw_zr = h_prev @ W_h[:, :2 * H] + b_h[:2 * H]  # (B, 2H)
z = sigmoid(xw[:, :H] + hw_zr[:, :H])
r = sigmoid(xw[:, H:2 * H] + hw_zr[:, H:])
if reset_after:
    hw_n = h_prev @ W_h[:, 2 * H:] + b_h[2 * H:]  # (B, H)
    n = np.tanh(xw[:, 2 * H:] + r * hw_n)
else:
    hw_n = (r * h_prev) @ W_h[:, 2 * H:] + b_h[2 * H:]  # (B, H)
    n = np.tanh(xw[:, 2 * H:] + hw_n)
h = z * h_prev + (1.0 - z) * n
hw = np.concatenate([hw_zr, hw_n], axis=1)  # (B, 2H) and (B, H) -> (B, 3H)
cache = {"x": x, "h_prev": h_prev, "z": z, "r": r, "n": n, "hw": hw, "reset_after": reset_after,
         "params": params}
return h, cache
'''
BACKWARD_HEADER = '''
def gru_step_backward(dh, cache):
    """Backward pass of gru_step (in the convention the forward used).

    Inputs:
    - dh: (B, H) gradient of the loss with respect to h.
    - cache: what your gru_step returned.

    Returns:
    - dx: (B, D), dh_prev: (B, H),
    - grads: dict with W_x (D, 3H), W_h (H, 3H), b_x (3H,), b_h (3H,).
    """
'''
BACKWARD_BODY = '''
x, h_prev, z, r, n = cache["x"], cache["h_prev"], cache["z"], cache["r"], cache["n"]
params = cache["params"]
W_h = params["W_h"]
H = h_prev.shape[1]
hw_n = cache["hw"][:, 2 * H:]  # (B, H): the recurrent term of n
da_n = dh * (1.0 - z) * (1.0 - n * n)  # (B, H)
da_z = dh * (h_prev - n) * z * (1.0 - z)
dh_prev = dh * z  # the direct path h = z * h_prev + ...
if cache["reset_after"]:
    dr = da_n * hw_n
    dhw_n = da_n * r  # gradient of h_prev W_hn + b_hn
    dh_prev = dh_prev + dhw_n @ W_h[:, 2 * H:].T
    dW_hn = h_prev.T @ dhw_n
else:
    drh = da_n @ W_h[:, 2 * H:].T  # gradient of r * h_prev
    dr = drh * h_prev
    dhw_n = da_n
    dh_prev = dh_prev + drh * r
    dW_hn = (r * h_prev).T @ da_n
da_r = dr * r * (1.0 - r)
da_zr = np.concatenate([da_z, da_r], axis=1)  # (B, 2H)
dh_prev = dh_prev + da_zr @ W_h[:, :2 * H].T
dxw = np.concatenate([da_z, da_r, da_n], axis=1)  # (B, 3H)
dx = dxw @ params["W_x"].T
grads = {"W_x": x.T @ dxw, "W_h": np.concatenate([h_prev.T @ da_zr, dW_hn], axis=1),
         "b_x": dxw.sum(axis=0), "b_h": np.concatenate([da_zr.sum(axis=0), dhw_n.sum(axis=0)])}
return dx, dh_prev, grads
'''


def build():
    return notebook([
        md(r"""
        # Assignment `gru_cell`: one step of a gated recurrent unit

        The GRU (lesson: update gate and reset gate) merges the LSTM's cell and hidden state. With
        `x_t (B, D)`, `h_t (B, H)` and blocks **z, r, n** (update, reset, candidate) in
        `W_x (D, 3H)`, `W_h (H, 3H)`, `b_x (3H,)`, `b_h (3H,)`:

        $$z = \sigma(x_t W_{xz} + b_{xz} + h_{t-1} W_{hz} + b_{hz}), \qquad
          r = \sigma(x_t W_{xr} + b_{xr} + h_{t-1} W_{hr} + b_{hr})$$
        $$h_t = z \odot h_{t-1} + (1 - z) \odot n .$$

        Two conventions exist for the candidate $n$:

        - **reset after** (`reset_after=True`, our default):
          $n = \tanh(x_t W_{xn} + b_{xn} + r \odot (h_{t-1} W_{hn} + b_{hn}))$;
        - **reset before** (`reset_after=False`, Cho et al. 2014):
          $n = \tanh(x_t W_{xn} + b_{xn} + (r \odot h_{t-1}) W_{hn} + b_{hn})$.

        **Why reset-after is the default here.** It is what PyTorch's `nn.GRU` and Keras' `GRU` compute
        by default (and cuDNN's fused kernel), so weights trained there load into the simulator
        unchanged. It is also cheaper: $h_{t-1} W_h + b_h$ for all three blocks is one matrix product
        that does not wait for $r$. Reset-before is the original formulation; you implement both, since
        published models use either, and mixing them up silently changes every result.

        Test cells earn their points when they run without error; hidden tests add random shapes.
        """),
        given("setup", SETUP),
        md(r"""
        ## Worked example

        With `H = 1`, the two conventions differ as soon as the reset gate is not 0 or 1 and the
        recurrent bias is not zero:
        """),
        given("worked_example", '''
        h_prev, r = 0.5, sigmoid(0.0)                  # r = 0.5
        W_hn, b_hn, xw_n = 2.0, 1.0, 0.1
        n_after = np.tanh(xw_n + r * (h_prev * W_hn + b_hn))    # tanh(0.1 + 0.5 * 2.0) = tanh(1.1)
        n_before = np.tanh(xw_n + (r * h_prev) * W_hn + b_hn)   # tanh(0.1 + 0.5 + 1.0) = tanh(1.6)
        print(f"reset after: n = {n_after:.4f}; reset before: n = {n_before:.4f}")
        '''),
        md(r"""
        ## Forward: `gru_step`

        Compute the input projection `x W_x + b_x` once (B, 3H), then the z and r gates, then the
        candidate in the convention `reset_after` asks for.

        **The cache** is a dict with the keys `x`, `h_prev`, `z`, `r`, `n`, `hw`, `reset_after` and
        `params` (the reference's names), where `hw (B, 3H)` holds the three recurrent terms
        $[h_{t-1} W_{hz} + b_{hz} \mid h_{t-1} W_{hr} + b_{hr} \mid hw_n]$ and $hw_n$ is the one inside $n$
        ($h_{t-1} W_{hn} + b_{hn}$ reset after, $(r \odot h_{t-1}) W_{hn} + b_{hn}$ reset before). The
        forward's tests check them; the backward's tests call your `gru_step_backward` with the
        reference's cache (same keys), so a bug in `gru_step` never costs the backward's points.
        """),
        solution("gru_step", function(STEP_HEADER, STEP_BODY)),
        *check_pair("test_gru_step", "check_gru_step", "gru_step",
                    ("Does gru_step (reset after) match the reference on small fixed cases?",
                     "Does gru_step (reset after) match the reference on random shapes?"), points=(1, 2),
                    options="cache=True"),
        # NB: visible and hidden cases in separate cells: a cell that draws hidden cases shows no diagnosis at all
        *check_pair("test_gru_step_reset_before", "check_gru_step", "gru_step",
                    ("Does gru_step with reset_after=False match the reference on small fixed cases?",
                     "Does gru_step with reset_after=False match the reference on random shapes?"), points=(1, 1),
                    options="reset_after=False, cache=True"),
        md(r"""
        ## Backward: `gru_step_backward`

        From $h = z \odot h_{t-1} + (1-z) \odot n$: $dn = dh \odot (1 - z)$, $dz = dh \odot (h_{t-1} - n)$,
        and a direct term $dh \odot z$ into $dh_{t-1}$. Through the activations:
        $da_n = dn \odot (1 - n^2)$, $da_z = dz \odot z(1-z)$.

        - reset after: $dr = da_n \odot (h_{t-1} W_{hn} + b_{hn})$ and the recurrent n block receives
          $da_n \odot r$;
        - reset before: $d(r \odot h_{t-1}) = da_n W_{hn}^\top$, so $dr = d(r \odot h_{t-1}) \odot h_{t-1}$
          and $h_{t-1}$ gets $d(r \odot h_{t-1}) \odot r$; $dW_{hn} = (r \odot h_{t-1})^\top da_n$.

        Then $da_r = dr \odot r(1-r)$, and every block goes back through its affine map as in `rnn_cell`.
        """),
        solution("gru_step_backward", function(BACKWARD_HEADER, BACKWARD_BODY)),
        *check_pair("test_gru_step_backward_inputs", "check_gru_step_backward", "gru_step, gru_step_backward",
                    ("Are dx and dh_prev right on small fixed cases?",
                     "Are dx and dh_prev right on random shapes?"), points=(1, 2), options='wrt="inputs"'),
        *check_pair("test_gru_step_backward_params", "check_gru_step_backward", "gru_step, gru_step_backward",
                    ("Are the parameter gradients right on small fixed cases?",
                     "Are the parameter gradients right on random shapes?"), points=(1, 2), options='wrt="params"'),
        *check_pair("test_gru_step_backward_reset_before", "check_gru_step_backward", "gru_step, gru_step_backward",
                    ("Are all gradients right with reset_after=False on small fixed cases?",
                     "Are all gradients right with reset_after=False on random shapes?"), points=(1, 1),
                    options="reset_after=False"),
        md(r"""
        ## Summary

        - A GRU has two gates and no separate cell state: $h_t = z \odot h_{t-1} + (1-z) \odot n$;
          when $z \approx 1$ the state (and its gradient) passes through unchanged.
        - The reset gate acts after the recurrent product in PyTorch/Keras (`reset_after=True`) and
          before it in Cho et al. (2014); the two give different numbers for the same weights.
        - Points: 13 in total (forward 1 + 2, reset-before forward 1 + 1, input gradients 1 + 2,
          parameter gradients 1 + 2, reset-before gradients 1 + 1).
        """),
    ])
