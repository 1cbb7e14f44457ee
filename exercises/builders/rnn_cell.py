"""The ``rnn_cell`` assignment: one vanilla RNN step, forward and backward."""

from __future__ import annotations

from builders.cells import given, md, notebook, solution
from builders.common import SETUP, check_pair, function

STEP_HEADER = '''
def rnn_step(x, h_prev, params, activation="tanh"):
    """One vanilla RNN step: h = tanh(x W_xh + h_prev W_hh + b_h).

    Inputs:
    - x: (B, D) inputs at this time step (B examples, D features).
    - h_prev: (B, H) previous hidden state.
    - params: dict with W_xh (D, H), W_hh (H, H), b_h (H,).
    - activation: "tanh" (graded) or "relu" (optional).

    Returns:
    - h: (B, H) new hidden state, a new array (do not modify x, h_prev or params).
    - cache: whatever your rnn_step_backward needs; the grader never looks inside it.
    """
'''
STEP_BODY = '''
a = x @ params["W_xh"] + h_prev @ params["W_hh"] + params["b_h"]  # (B, H)
h = np.tanh(a) if activation == "tanh" else np.maximum(a, 0.0)
cache = {"x": x, "h_prev": h_prev, "a": a, "h": h, "activation": activation, "params": params}
return h, cache
'''
# In this assignment the cache's keys are prescribed (the bptt notebook, which gives rnn_step, keeps STEP_HEADER).
GRADED_STEP_HEADER = STEP_HEADER.replace(
    "    - cache: whatever your rnn_step_backward needs; the grader never looks inside it.\n",
    "    - cache: a dict with (at least) the keys x, h_prev, a (the pre-activation), h, activation\n"
    "      and params. The tests check them, and rnn_step_backward is graded on the reference's cache,\n"
    "      which holds these keys (and a few more): read only these in your backward.\n")
BACKWARD_HEADER = '''
def rnn_step_backward(dh, cache):
    """Backward pass of rnn_step.

    Inputs:
    - dh: (B, H) gradient of the loss with respect to h (from this step's output and from step t+1).
    - cache: what your rnn_step returned.

    Returns:
    - dx: (B, D), dh_prev: (B, H),
    - grads: dict with W_xh (D, H), W_hh (H, H), b_h (H,), the shapes of params.
    """
'''
BACKWARD_BODY = '''
x, h_prev, h, params = cache["x"], cache["h_prev"], cache["h"], cache["params"]
if cache["activation"] == "tanh":
    da = dh * (1.0 - h * h)  # (B, H): tanh'(a) = 1 - tanh(a)^2
else:
    da = dh * (cache["a"] > 0)
dx = da @ params["W_xh"].T  # (B, D)
dh_prev = da @ params["W_hh"].T  # (B, H)
grads = {"W_xh": x.T @ da, "W_hh": h_prev.T @ da, "b_h": da.sum(axis=0)}
return dx, dh_prev, grads
'''


def build():
    return notebook([
        md(r"""
        # Assignment `rnn_cell`: one step of a vanilla RNN

        You will write the forward and backward pass of one time step of a recurrent neural network:
        `rnn_step` and `rnn_step_backward`. They have the same names and signatures as the reference in
        the simulator (`simulator.cells`), so once they pass you can drop them into the simulator's
        unrolling and see your own cell run.

        **Notation.** A batch of `B` examples is stored row by row: the input `x_t` is `(B, D)` and the
        hidden state `h_t` is `(B, H)`. The lesson writes column vectors, $a_t = W_{xh} x_t + W_{hh} h_{t-1} + b_h$;
        our `W_xh` is that matrix transposed, so the same equation reads

        $$a_t = x_t W_{xh} + h_{t-1} W_{hh} + b_h, \qquad h_t = \tanh(a_t)$$

        with `W_xh (D, H)`, `W_hh (H, H)`, `b_h (H,)`. The same weights are used at every time step.

        **Grading.** Each test cell below earns its points when it runs without error. Visible tests use
        small fixed cases; hidden tests, added when grading, use random shapes (including 1), random
        biases and random upstream gradients. When a test fails, its message says where your result
        first differs from the reference and, when it recognises it, the likely bug.
        """),
        given("setup", SETUP),
        md(r"""
        ## Worked example

        One example (`B = 1`), two inputs (`D = 2`), two hidden units (`H = 2`). Every number below can
        be checked by hand.
        """),
        given("worked_example", '''
        x = np.array([[1.0, 2.0]])                   # (B, D) = (1, 2)
        h_prev = np.array([[0.5, -0.5]])             # (B, H) = (1, 2)
        W_xh = np.array([[0.1, 0.2], [0.3, 0.4]])    # (D, H)
        W_hh = np.array([[1.0, 0.0], [0.0, -1.0]])   # (H, H)
        b_h = np.array([0.0, 0.1])                   # (H,)
        a = x @ W_xh + h_prev @ W_hh + b_h           # [[0.7 + 0.5, 1.0 + 0.5 + 0.1]] = [[1.2, 1.6]]
        print("a =", a, " h = tanh(a) =", np.tanh(a))
        '''),
        md(r"""
        ## Forward: `rnn_step`

        Write `rnn_step` following the equation above. Return new arrays: the tests check that your
        function leaves its inputs unchanged.

        **The cache.** `cache` is a dict with the keys `x`, `h_prev`, `a` (the pre-activation),
        `h`, `activation` and `params`: the names the simulator's reference uses. The forward's tests
        check these keys; the backward's tests call your `rnn_step_backward` with the *reference's*
        cache (same keys), so each function earns its points on its own: a bug in `rnn_step` never
        costs the backward's points. Read only these keys in your backward.
        """),
        solution("rnn_step", function(GRADED_STEP_HEADER, STEP_BODY)),
        *check_pair("test_rnn_step", "check_rnn_step", "rnn_step",
                    ("Does rnn_step match the reference on small fixed cases?",
                     "Does rnn_step match the reference on random shapes?"), points=(1, 2), options="cache=True"),
        md(r"""
        ## Backward: `rnn_step_backward`

        Given `dh` $= \partial L / \partial h_t$ (B, H), the chain rule through $h = \tanh(a)$ gives
        $da = dh \odot (1 - h^2)$ (B, H), and then, because $a = x W_{xh} + h_{t-1} W_{hh} + b_h$:

        $$dx = da\, W_{xh}^\top, \quad dh_{t-1} = da\, W_{hh}^\top, \quad
        dW_{xh} = x^\top da, \quad dW_{hh} = h_{t-1}^\top da, \quad db_h = \textstyle\sum_B da.$$

        Check the shapes: `x.T @ da` is `(D, B) @ (B, H) = (D, H)`, the shape of `W_xh`. The bias gradient
        sums over the batch because the same `b_h` is added to every row.

        The gradients with respect to the inputs (`dx`, `dh_prev`) and to the parameters (`grads`) are
        tested in separate cells, so each earns its own points.
        """),
        solution("rnn_step_backward", function(BACKWARD_HEADER, BACKWARD_BODY)),
        *check_pair("test_rnn_step_backward_inputs", "check_rnn_step_backward", "rnn_step, rnn_step_backward",
                    ("Are dx and dh_prev right on small fixed cases?",
                     "Are dx and dh_prev right on random shapes?"), points=(1, 2), options='wrt="inputs"'),
        *check_pair("test_rnn_step_backward_params", "check_rnn_step_backward", "rnn_step, rnn_step_backward",
                    ("Are the parameter gradients right on small fixed cases?",
                     "Are the parameter gradients right on random shapes?"), points=(1, 2), options='wrt="params"'),
        md(r"""
        ## Summary

        - One RNN step is an affine map of the input and the previous state followed by `tanh`:
          $h_t = \tanh(x_t W_{xh} + h_{t-1} W_{hh} + b_h)$; the same weights serve every time step.
        - Its backward pass goes through `tanh` first ($da = dh\,(1-h^2)$), then splits like any
          affine layer; `dh_prev` is what carries the gradient to the previous time step in BPTT
          (assignment `bptt`).
        - Points: 9 in total (forward 1 + 2, input gradients 1 + 2, parameter gradients 1 + 2).
        """),
    ])
