"""The ``bptt`` assignment: an RNN over time, back-propagation through time, clipping, vanishing gradients."""

from __future__ import annotations

from builders import rnn_cell
from builders.cells import given, md, notebook, scratch, solution, written
from builders.common import SETUP, check_pair, function

FORWARD_HEADER = '''
def rnn_forward(X, h0, params):
    """Run rnn_step over every time step.

    Inputs:
    - X: (B, T, D) input sequences, batch first; h0: (B, H) initial state.
    - params: W_xh (D, H), W_hh (H, H), b_h (H,).

    Returns:
    - H: (B, T, H), H[:, t] is h_t, the state after step t.
    - cache: the list of the T caches rnn_step returned, cache[t] for step t.
      (Keep this format: when rnn_forward is wrong, rnn_backward is graded on this
      list built from the reference, so a forward bug does not cost the backward's points.)
    """
'''
FORWARD_BODY = '''
h = h0
states, caches = [], []
for t in range(X.shape[1]):
    h, cache = rnn_step(X[:, t], h, params)
    states.append(h)
    caches.append(cache)
H = np.stack(states, axis=1)  # T x (B, H) -> (B, T, H)
return H, caches
'''
BACKWARD_HEADER = '''
def rnn_backward(dH, cache):
    """Back-propagation through time.

    Inputs:
    - dH: (B, T, H), dL/dh_t coming from the loss at every step (not yet from later steps).
    - cache: the list of step caches rnn_forward returns (cache[t] from rnn_step at step t).

    Returns:
    - dX: (B, T, D), dh0: (B, H),
    - grads: dict with W_xh (D, H), W_hh (H, H), b_h (H,), summed over all time steps.
    """
'''
BACKWARD_BODY = '''
caches = cache
B, T, _ = dH.shape
dh_next = np.zeros_like(dH[:, 0])  # (B, H): nothing flows back from after the last step
dxs = [None] * T
grads = None
for t in reversed(range(T)):
    dh = dH[:, t] + dh_next
    dx, dh_next, step_grads = rnn_step_backward(dh, caches[t])
    dxs[t] = dx
    grads = step_grads if grads is None else {k: grads[k] + step_grads[k] for k in grads}
dX = np.stack(dxs, axis=1)  # T x (B, D) -> (B, T, D)
return dX, dh_next, grads
'''
CLIP_HEADER = '''
def clip_gradients(grads, max_norm):
    """Clip by global norm.

    Inputs:
    - grads: dict of arrays; max_norm: positive float.

    Returns:
    - clipped: dict with the same keys, new arrays g * min(1, max_norm / norm).
    - norm: float, the global norm sqrt(sum of all squared entries) before clipping.
    """
'''
CLIP_BODY = '''
norm = float(np.sqrt(sum((g * g).sum() for g in grads.values())))
scale = min(1.0, max_norm / norm) if norm > 0 else 1.0
return {k: g * scale for k, g in grads.items()}, norm
'''
RADIUS_HEADER = '''
def spectral_radius(W):
    """The largest modulus of the eigenvalues of a square matrix W (H, H), as a float."""
'''
RADIUS_BODY = '''
return float(np.abs(np.linalg.eigvals(W)).max())
'''
NORMS_HEADER = '''
def hidden_grad_norms(X, h0, params, dh_last):
    """||dL/dh_t|| for t = 0 .. T-1 when the loss reaches only the last state.

    Inputs:
    - X: (B, T, D); h0: (B, H); params as in rnn_forward.
    - dh_last: (B, H), dL/dh_{T-1}; dL/dh_t from the loss is zero for t < T-1.

    Returns:
    - norms: (T,) array, norms[t] = sqrt(sum over batch and units of (dL/dh_t)^2).
    """
'''
NORMS_BODY = '''
_, caches = rnn_forward(X, h0, params)
T = X.shape[1]
norms = np.zeros(T)
dh = dh_last
for t in reversed(range(T)):
    norms[t] = np.sqrt((dh * dh).sum())
    _, dh, _ = rnn_step_backward(dh, caches[t])
return norms
'''


def build():
    return notebook([
        md(r"""
        # Assignment `bptt`: back-propagation through time

        You will unroll an RNN over a sequence, back-propagate through time, clip gradients, and measure
        how the gradient reaching early time steps vanishes or explodes depending on the spectral radius
        of $W_{hh}$. Sequences are batch first: `X (B, T, D)`, states `H (B, T, H)`.

        $$h_t = \tanh(x_t W_{xh} + h_{t-1} W_{hh} + b_h), \quad t = 0, \dots, T-1, \text{ from } h_{-1} = h_0 .$$

        **BPTT.** The loss depends on $h_t$ directly (`dH[:, t]`) and through every later state, so the
        gradient that step $t$'s backward receives is
        $$\frac{\partial L}{\partial h_t} = dH_t + \Big(\text{the } dh_{prev} \text{ returned by step } t+1\Big),$$
        computed from $t = T-1$ down to $0$. The weights are shared, so their gradients are **summed**
        over the steps. What step 0 returns as `dh_prev` is `dh0`.

        A working `rnn_step` / `rnn_step_backward` (the `rnn_cell` solution) is given below so that this
        assignment tests BPTT only.
        """),
        given("setup", SETUP),
        given("given_rnn_step", function(rnn_cell.STEP_HEADER, rnn_cell.STEP_BODY, with_solution=False) + "\n\n\n"
              + function(rnn_cell.BACKWARD_HEADER, rnn_cell.BACKWARD_BODY, with_solution=False)),
        md(r"""
        ## Forward over time: `rnn_forward`

        Worked example of the bookkeeping, with `T = 3`: `H[:, 0] = rnn_step(X[:, 0], h0)`,
        `H[:, 1] = rnn_step(X[:, 1], H[:, 0])`, `H[:, 2] = rnn_step(X[:, 2], H[:, 1])`. Keep every step's
        cache: the backward pass needs them in reverse order.
        """),
        solution("rnn_forward", function(FORWARD_HEADER, FORWARD_BODY)),
        *check_pair("test_rnn_forward", "check_rnn_forward", "rnn_forward",
                    ("Does rnn_forward match the reference on small fixed cases?",
                     "Does rnn_forward match the reference on random shapes?"), points=(1, 2)),
        md(r"""
        ## Backward through time: `rnn_backward`

        Walk `t` from `T-1` down to `0`; add the gradient coming back from step `t+1` to `dH[:, t]` before
        calling `rnn_step_backward`, and add each step's parameter gradients to the running sums.
        With `T = 3`: step 2 receives `dH[:, 2]`, step 1 receives `dH[:, 1] + dh_prev(step 2)`, step 0
        receives `dH[:, 0] + dh_prev(step 1)`, and `dh0 = dh_prev(step 0)`.
        """),
        solution("rnn_backward", function(BACKWARD_HEADER, BACKWARD_BODY)),
        *check_pair("test_rnn_backward", "check_rnn_backward", "rnn_forward, rnn_backward",
                    ("Does rnn_backward match the reference on small fixed cases?",
                     "Does rnn_backward match the reference on random shapes?"), points=(1, 2)),
        md(r"""
        ## Gradient clipping: `clip_gradients`

        Exploding gradients are tamed by rescaling all gradients together when their global norm
        $\|g\| = \sqrt{\sum_k \sum g_k^2}$ exceeds `max_norm`:
        $g_k \leftarrow g_k \cdot \min(1, \text{max\_norm} / \|g\|)$.
        Scaling all of them by one factor keeps the update's direction.
        """),
        solution("clip_gradients", function(CLIP_HEADER, CLIP_BODY)),
        *check_pair("test_clip_gradients", "check_clip_gradients", "clip_gradients",
                    ("Does clip_gradients match the reference on small fixed cases?",
                     "Does clip_gradients match the reference on random cases?")),
        md(r"""
        ## Measuring vanishing and exploding gradients

        Going back one step multiplies the gradient by the Jacobian
        $\partial h_t / \partial h_{t-1} = \operatorname{diag}(1 - h_t^2)\, W_{hh}^\top$
        (row-major: `dh_prev = (dh * (1 - h**2)) @ W_hh.T`).
        Over $k$ steps the gradient is multiplied by $k$ such factors, so its size behaves roughly like
        $\rho(W_{hh})^k$ times the product of the `tanh` derivatives (each at most 1), where $\rho$ is the
        spectral radius, the largest $|\lambda|$ of $W_{hh}$.

        Write `spectral_radius(W)` and `hidden_grad_norms(...)`, which returns $\|\partial L/\partial h_t\|$
        for every $t$ when only the last state receives a loss gradient.
        """),
        solution("spectral_radius", function(RADIUS_HEADER, RADIUS_BODY)),
        # NB: visible and hidden cases in separate cells: a cell that draws hidden cases shows no diagnosis at all
        *check_pair("test_spectral_radius", "check_spectral_radius", "spectral_radius",
                    ("Does spectral_radius match the reference on small fixed matrices?",
                     "Does spectral_radius match the reference on random matrices?"), points=(0.5, 0.5)),
        solution("hidden_grad_norms", function(NORMS_HEADER, NORMS_BODY)),
        *check_pair("test_hidden_grad_norms", "check_hidden_grad_norms", "hidden_grad_norms",
                    ("Does hidden_grad_norms match the reference on small cases?",
                     "Does hidden_grad_norms match the reference on random cases?")),
        md(r"""
        ## Experiment (not graded)

        Scale one random orthogonal $W_{hh}$ (all $|\lambda| = 1$) to several spectral radii and watch how
        much of the last step's gradient reaches step 0 after 30 steps. Small inputs keep `tanh` in its
        near-linear range, so its derivative is close to 1 and $\rho$ dominates.
        """),
        scratch('''
        rng = np.random.default_rng(0)
        B, T, D, Hs = 4, 30, 3, 16
        Q, _ = np.linalg.qr(rng.standard_normal((Hs, Hs)))  # orthogonal: every |eigenvalue| is 1
        X = 0.01 * rng.standard_normal((B, T, D))
        h0 = np.zeros((B, Hs))
        dh_last = rng.standard_normal((B, Hs))
        try:
            for scale in (0.5, 0.9, 1.0, 1.1, 1.5):
                params = {"W_xh": 0.1 * rng.standard_normal((D, Hs)), "W_hh": scale * Q, "b_h": np.zeros(Hs)}
                norms = hidden_grad_norms(X, h0, params, dh_last)
                print(f"rho(W_hh) = {spectral_radius(params['W_hh']):.2f}:  "
                      f"||dL/dh_0|| / ||dL/dh_T-1|| = {norms[0] / norms[-1]:.3g}")
        except NotImplementedError:
            print("Write spectral_radius and hidden_grad_norms first.")
        '''),
        md(r"""
        ## Written answers (graded by hand)

        **Question 1.** Using the Jacobian above, explain why $\|\partial L/\partial h_0\|$ shrinks
        roughly geometrically with the number of steps when $\rho(W_{hh}) < 1$, and why it need not grow
        without bound when $\rho(W_{hh}) > 1$ with large inputs. Quote the numbers your experiment printed.
        """),
        written("answer_vanishing", 3, r"""
        Each step back multiplies the gradient by $\operatorname{diag}(1-h_t^2) W_{hh}^\top$. The `tanh`
        derivative is at most 1, so over $k$ steps the norm is at most about $\rho(W_{hh})^k$ (for a
        normal matrix, exactly bounded by $\|W_{hh}\|^k$): with $\rho = 0.5$ the ratio is about
        $0.5^{29} \approx 2 \cdot 10^{-9}$, with $\rho = 0.9$ about $0.9^{29} \approx 5 \cdot 10^{-2}$, with
        $\rho = 1$ close to 1. With $\rho = 1.1$ it grows to about $16 \approx 1.1^{29}$: explosion. With
        $\rho = 1.5$ it is about $10^3$, far below $1.5^{29} \approx 10^5$: the growing states saturate,
        $1 - h_t^2$ becomes small and damps the product, so large states or inputs turn explosion back
        into vanishing.
        """),
        md(r"""
        **Question 2.** Gradient clipping fixes one of the two problems. Which one, and why can it not fix
        the other? What does the LSTM's cell state change about the product of Jacobians?
        """),
        written("answer_clipping", 2, r"""
        Clipping bounds the size of an update, so it prevents exploding gradients from producing huge
        steps; it cannot recover information that a vanishing gradient never carried, since rescaling a
        tiny sum of per-step contributions does not increase the share of the distant steps. In an LSTM,
        $\partial c_t / \partial c_{t-1} = \operatorname{diag}(f)$: no weight matrix and no squashing
        derivative on that path, so with forget gates near 1 the gradient passes many steps nearly intact.
        """),
        md(r"""
        ## Summary

        - Forward: chain the step, keep every cache. Backward: from the last step down, add the gradient
          flowing back from step $t+1$ to the loss's own `dH[:, t]`, and sum the shared weights' gradients.
        - The gradient reaching early steps is a product of Jacobians; its size follows
          $\rho(W_{hh})^k$ damped by `tanh` saturation. Clipping by global norm keeps exploding
          gradients in check without changing their direction; vanishing needs gating (LSTM, GRU).
        - Points: 11 autograded (forward 1 + 2, backward 1 + 2, clipping 1 + 1, spectral radius 0.5 + 0.5,
          gradient norms 1 + 1) and 5 graded by hand.
        """),
    ])
