"""The ``architectures`` assignment: the lesson's RNN architectures on any cell, and its knowledge check."""

from __future__ import annotations

from builders.cells import given, md, notebook, solution
from builders.common import SETUP, check_pair, function, quiz, state_helpers

HELPERS = '''
READOUT = ("W_hy", "b_y")
DECODER = "dec_"


def cell_params(params, prefix=""):
    """The cell's own parameters: keys starting with prefix (removed), without the readout W_hy, b_y.

    cell_params(params) -> the (encoder) cell's; cell_params(params, "dec_") -> the decoder's.
    """
    return {k[len(prefix):]: v for k, v in params.items()
            if k.startswith(prefix) and k not in READOUT and (prefix or not k.startswith(DECODER))}


''' + state_helpers("examples") + '''


def one_hot_argmax(y):
    """(B, K) outputs -> (B, K) one-hot rows of their largest entry: the next input in generation."""
    out = np.zeros_like(y)
    out[np.arange(y.shape[0]), y.argmax(axis=1)] = 1.0
    return out
'''

ONE_TO_ONE = ('''
def one_to_one_forward(x, params, step):
    """One input, one output: h = cell(x, zero state), y = h W_hy + b_y.

    Inputs: x (B, D); params: cell params + W_hy (H, K), b_y (K,); step: a step function.
    Returns: y (B, K), cache (anything; None is fine, there is no backward here).
    """
''', '''
cp = cell_params(params)
_, h = run_step(step, x, zero_state(cp, x.shape[0]), cp)
return h @ params["W_hy"] + params["b_y"], None
''')
ONE_TO_MANY = ('''
def one_to_many_forward(x, params, T, step):
    """One input, T outputs: step 0 reads x, step t >= 1 reads one_hot_argmax(y_{t-1}).

    Inputs: x (B, K) (outputs are fed back, so D = K); params; T >= 1; step.
    Returns: Y (B, T, K), cache.
    """
''', '''
cp = cell_params(params)
state, inp, ys = zero_state(cp, x.shape[0]), x, []
for _ in range(T):
    state, h = run_step(step, inp, state, cp)
    y = h @ params["W_hy"] + params["b_y"]
    ys.append(y)
    inp = one_hot_argmax(y)
return np.stack(ys, axis=1), None  # T x (B, K) -> (B, T, K)
''')
MANY_TO_ONE = ('''
def many_to_one_forward(X, params, step):
    """A sequence in, one output from the last state: y = h_{T-1} W_hy + b_y.

    Inputs: X (B, T, D); params; step.
    Returns: y (B, K), cache.
    """
''', '''
cp = cell_params(params)
state = zero_state(cp, X.shape[0])
for t in range(X.shape[1]):
    state, h = run_step(step, X[:, t], state, cp)
return h @ params["W_hy"] + params["b_y"], None
''')
MANY_TO_MANY = ('''
def many_to_many_forward(X, params, step):
    """Synced many-to-many: one output per input, y_t = h_t W_hy + b_y.

    Inputs: X (B, T, D); params; step.
    Returns: Y (B, T, K), cache.
    """
''', '''
cp = cell_params(params)
state, ys = zero_state(cp, X.shape[0]), []
for t in range(X.shape[1]):
    state, h = run_step(step, X[:, t], state, cp)
    ys.append(h @ params["W_hy"] + params["b_y"])
return np.stack(ys, axis=1), None  # T x (B, K) -> (B, T, K)
''')
ENCODER_DECODER = ('''
def encoder_decoder_forward(X, params, T_out, step):
    """Encoder reads X without emitting; its final state starts the decoder, which emits T_out outputs.

    The decoder has its own cell parameters (prefix "dec_", input size K); its step 0 reads a zero
    "start" input (B, K), step t >= 1 reads one_hot_argmax(y_{t-1}); y_t = h_t W_hy + b_y.
    Inputs: X (B, T_in, D); params: encoder cell + dec_ cell + W_hy, b_y; T_out >= 1; step.
    Returns: Y (B, T_out, K), cache.
    """
''', '''
enc, dec = cell_params(params), cell_params(params, DECODER)
B, K = X.shape[0], params["W_hy"].shape[1]
state = zero_state(enc, B)
for t in range(X.shape[1]):
    state, _ = run_step(step, X[:, t], state, enc)
inp, ys = np.zeros((B, K)), []
for _ in range(T_out):
    state, h = run_step(step, inp, state, dec)
    y = h @ params["W_hy"] + params["b_y"]
    ys.append(y)
    inp = one_hot_argmax(y)
return np.stack(ys, axis=1), None  # T_out x (B, K) -> (B, T_out, K)
''')

# The lesson's knowledge check (questions 1 and 2, verbatim) and two questions on its architecture examples.
QUESTIONS = [
    ("q1", "What is sequential modeling?",
     ["A process used to analyze a series of input values to generate a sequence of values",
      "A process used to analyze a series of output values to generate a sequence of input values",
      "A process used to analyze a series of output values to generate a sequence of output values",
      "A process used to analyze a series of input values to generate a sequence of input values"], "A"),
    ("q2", "Which neural network model is mostly used for spatial analysis, such as extracting essential "
     "features from an image?",
     ["Recurrent neural network", "Convolutional neural network", "Dense neural network", "None of the above"], "B"),
    ("q3", "Classifying the genre of a piece of music, given the whole song as input, uses which architecture?",
     ["One-to-one", "One-to-many", "Many-to-one", "Many-to-many"], "C"),
    ("q4", "Generating a sequence of musical notes from a first note or a genre uses which architecture?",
     ["One-to-one", "One-to-many", "Many-to-one", "Many-to-many"], "B"),
]


QUIZ_HEADER = """
## Knowledge check (autograded)

Set each answer to one letter, e.g. `answer_q1 = "A"`. Questions 1 and 2 are the lesson's knowledge
check; questions 3 and 4 ask about the lesson's architecture examples.
"""


def _arch(name: str, pair: tuple[str, str], intro: str):
    return [md(intro), solution(f"{name}_forward", function(*pair)),
            *check_pair(f"test_{name}", f"check_{name}_forward", f"{name}_forward",
                        (f"Does {name}_forward match the reference on RNN and LSTM cells?",
                         f"Does {name}_forward match the reference on random shapes and all three cells?"))]


def build():
    return notebook([
        md(r"""
        # Assignment `architectures`: one-to-one, one-to-many, many-to-one, many-to-many

        The lesson lists four ways to wire a recurrent cell to inputs and outputs. You will write the
        forward pass of each, plus the encoder-decoder form of many-to-many, **for any cell**: each
        function receives a step function `step` (an RNN, LSTM or GRU step with the signature of
        `rnn_step` / `lstm_step` / `gru_step`) and must work with all three. The functions have the
        names and positional arguments of `simulator.architectures.<name>_forward`.

        Every architecture reads its outputs with a dense readout $y_t = h_t W_{hy} + b_y$,
        `W_hy (H, K)`, `b_y (K,)`; `params` is one dict holding the cell's parameters and the readout
        (and the decoder's cell parameters prefixed `dec_`). Shapes: `x (B, D)`, `X (B, T, D)`,
        outputs `(B, K)` or `(B, T, K)`. States start at zero.

        Read the helpers below first: they hide the one difference between cells (an LSTM's state is
        the pair `(h, c)`), so your code is the same for all three.
        """),
        given("setup", SETUP),
        given("helpers", HELPERS),
        md(r"""
        ## Worked example

        The helpers on a tiny GRU-shaped parameter dict (no step function needed yet):
        """),
        given("worked_example", '''
        params = {"W_x": np.zeros((2, 3)), "W_h": np.zeros((1, 3)), "b_x": np.zeros(3), "b_h": np.zeros(3),
                  "W_hy": np.ones((1, 2)), "b_y": np.array([0.0, 0.5])}
        print(sorted(cell_params(params)), "state shape:", zero_state(cell_params(params), 4).shape)
        print(one_hot_argmax(np.array([[0.1, 0.9], [2.0, -1.0]])))
        '''),
        *_arch("one_to_one", ONE_TO_ONE, r"""
        ## One-to-one

        A single input and a single output (the lesson: classify the image of a musical symbol): one
        step from the zero state, then the readout. This is a feed-forward network with one hidden layer.
        """),
        *_arch("many_to_one", MANY_TO_ONE, r"""
        ## Many-to-one

        A sequence in, one output (the lesson: the genre of a song). Run the cell over all `T` steps and
        read only the **last** state.
        """),
        *_arch("many_to_many", MANY_TO_MANY, r"""
        ## Many-to-many, synced

        One output per input (tagging every step): $y_t = h_t W_{hy} + b_y$ for each `t`.
        """),
        *_arch("one_to_many", ONE_TO_MANY, r"""
        ## One-to-many

        A single input drives a whole sequence (the lesson: generate notes from a first note). Step 0
        reads `x`; each later step reads the previous output, turned into a one-hot vector of its
        largest entry (`one_hot_argmax`). So the input size equals the output size, `D = K`.
        """),
        *_arch("encoder_decoder", ENCODER_DECODER, r"""
        ## Many-to-many, encoder-decoder

        Input and output sequences of different lengths (the lesson: musical notes in, a string of
        symbols out). An encoder cell reads all of `X` and emits nothing; its final state (for an LSTM,
        both `h` and `c`) is the decoder's initial state. The decoder, with its own `dec_` parameters,
        generates `T_out` outputs as in one-to-many, starting from a zero input.
        """),
        *quiz(QUIZ_HEADER, QUESTIONS),
        md(r"""
        ## Summary

        - The architectures differ only in where inputs enter and where outputs are read; the cell
          and the readout are the same, which is why one `step` argument serves them all.
        - Many-to-one reads the last state; one-to-many feeds outputs back as inputs; the
          encoder-decoder hands the encoder's final state to a second cell.
        - Points: 14 in total (each architecture 1 visible + 1 hidden, each question 1).
        """),
    ])
