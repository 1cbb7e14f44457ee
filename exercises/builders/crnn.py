"""The ``crnn`` assignment: convolution, max-pooling, the CNN of one frame, a CRNN over frames, a probe, a quiz.

Its source folder holds only the generated notebook: nbgrader copies everything in ``source/crnn/`` into the
release, and this module holds the solutions.
"""

from __future__ import annotations

from builders.cells import given, md, notebook, scratch, solution, tests
from builders.common import SETUP, check_pair, function, quiz, state_helpers

HELPERS = '''
def cell_params(params):
    """The cell's own parameters: the keys without a dot (not conv1.*, dense1.*) and not the readout W_hy, b_y."""
    return {k: v for k, v in params.items() if "." not in k and k not in ("W_hy", "b_y")}


''' + state_helpers("videos") + '''


def lstm_step(x, h_prev, c_prev, params):
    """The LSTM step of the lstm_cell assignment: gate blocks i, f, g, o in W_x (D, 4H), W_h (H, 4H), b (4H,)."""
    H = h_prev.shape[1]
    a = x @ params["W_x"] + h_prev @ params["W_h"] + params["b"]
    i, f, o = sigmoid(a[:, :H]), sigmoid(a[:, H:2 * H]), sigmoid(a[:, 3 * H:])
    g = np.tanh(a[:, 2 * H:3 * H])
    c = f * c_prev + i * g
    h = o * np.tanh(c)
    return h, c, None
'''

CONV = ('''
def conv2d_forward(x, K, b, stride=1, padding=0):
    """2-D convolution as in PyTorch and Keras (no kernel flip), NCHW layout.

    out[n, f, i, j] = b[f] + sum_{c, u, v} K[f, c, u, v] * xp[n, c, i*stride + u, j*stride + v]
    where xp is x with `padding` zeros on every side.
    Inputs: x (N, C, H, W); K (F, C, KH, KW); b (F,); stride, padding: integers.
    Returns: out (N, F, OH, OW) with OH = (H + 2*padding - KH) // stride + 1 (same for OW), and a cache.
    """
''', '''
N, C, H, W = x.shape
F, _, KH, KW = K.shape
OH = (H + 2 * padding - KH) // stride + 1
OW = (W + 2 * padding - KW) // stride + 1
xp = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
out = np.empty((N, F, OH, OW))
for i in range(OH):
    for j in range(OW):
        patch = xp[:, :, i * stride : i * stride + KH, j * stride : j * stride + KW]  # (N, C, KH, KW)
        out[:, :, i, j] = np.tensordot(patch, K, axes=([1, 2, 3], [1, 2, 3])) + b
return out, {"x": x, "K": K, "b": b}
''')

POOL = ('''
def maxpool_forward(x, size=2, stride=None):
    """Max-pooling over size x size windows, moved by `stride` (default: size); no padding.

    out[n, c, i, j] = max over u, v < size of x[n, c, i*stride + u, j*stride + v]
    Inputs: x (N, C, H, W). Returns: out (N, C, OH, OW) with OH = (H - size) // stride + 1, and a cache.
    """
''', '''
stride = size if stride is None else stride
N, C, H, W = x.shape
OH = (H - size) // stride + 1
OW = (W - size) // stride + 1
out = np.empty((N, C, OH, OW))
for i in range(OH):
    for j in range(OW):
        out[:, :, i, j] = x[:, :, i * stride : i * stride + size, j * stride : j * stride + size].max(axis=(2, 3))
return out, {"x": x, "size": size, "stride": stride}
''')

FEATURES = ('''
def frame_features(frames, params):
    """The CNN that turns each frame into a feature vector:
    conv1 ('same' padding k // 2, stride 1) -> ReLU -> 2x2 max-pool -> flatten -> dense1 -> ReLU.

    f = relu(flatten(maxpool(relu(conv(x, K, b)))) W + b_d)
    Inputs: frames (N, C, H, W); params with conv1.K (F, C, k, k), conv1.b (F,), dense1.W (D, M), dense1.b (M,),
    where D = F * (H // 2) * (W // 2).
    Returns: features (N, M), and a cache.
    """
''', '''
K = params["conv1.K"]
a, _ = conv2d_forward(frames, K, params["conv1.b"], 1, K.shape[2] // 2)
p, _ = maxpool_forward(np.maximum(a, 0), 2, 2)
f = p.reshape(len(p), -1) @ params["dense1.W"] + params["dense1.b"]  # (N, F, H/2, W/2) -> (N, D) -> (N, M)
return np.maximum(f, 0), None
''')

CRNN = ('''
def crnn_forward(X, params, step):
    """Many-to-one CRNN: the same CNN reads every frame, the cell reads the features in order.

    f_t = frame_features(x_t); h_t = cell(f_t, h_{t-1}) from the zero state; y = h_T W_hy + b_y.
    Inputs: X (B, T, C, H, W) videos; params: conv1.*, dense1.*, the cell's, W_hy (H, K), b_y (K,);
    step: a step function (rnn_step, lstm_step or gru_step signature).
    Returns: y (B, K), and a cache.
    """
''', '''
B, T = X.shape[:2]
F, _ = frame_features(X.reshape(B * T, *X.shape[2:]), params)  # all B*T frames at once
F = F.reshape(B, T, -1)  # (B*T, M) -> (B, T, M)
cp = cell_params(params)
state = zero_state(cp, B)
for t in range(T):
    state, h = run_step(step, F[:, t], state, cp)
return h @ params["W_hy"] + params["b_y"], None
''')

VIDEOS = '''
def make_videos(n, T=6, S=12, seed=0):
    """n videos (n, T, 1, S, S) of a square moving right (label 0) or left (label 1), with pixel noise.

    A 'left' video is drawn as a 'right' one and played backwards, so both classes show the same kind
    of frames: only their order tells them apart.
    """
    rng = np.random.default_rng(seed)
    y = rng.permutation(np.arange(n) % 2)
    X = np.zeros((n, T, 1, S, S))
    grid = np.arange(S)
    for k in range(n):
        r = int(rng.integers(1, 3))
        speed = rng.uniform(1.0, (S - 1 - 2 * r) / (T - 1))
        start = rng.uniform(r, S - 1 - r - speed * (T - 1))
        row = rng.uniform(r, S - 1 - r)
        for t in range(T):
            X[k, t, 0] = np.outer(np.abs(grid - row) <= r, np.abs(grid - (start + speed * t)) <= r)
        if y[k] == 1:
            X[k] = X[k, ::-1]
    return X + 0.1 * rng.standard_normal(X.shape), y


def random_crnn_params(seed=0, C=1, S=12, F=4, M=16, H=32):
    """Random CNN and LSTM weights and an identity readout (W_hy = I, b_y = 0), so y = h_T."""
    rng = np.random.default_rng(seed)
    D = F * (S // 2) * (S // 2)
    return {"conv1.K": rng.uniform(-1, 1, (F, C, 3, 3)) * np.sqrt(6 / (C * 9)), "conv1.b": np.zeros(F),
            "dense1.W": rng.uniform(-1, 1, (D, M)) * np.sqrt(6 / D), "dense1.b": np.zeros(M),
            "W_x": rng.uniform(-1, 1, (M, 4 * H)) * np.sqrt(6 / (M + H)),
            "W_h": np.concatenate([np.linalg.qr(rng.standard_normal((H, H)))[0] for _ in range(4)], axis=1),
            "b": np.r_[np.zeros(H), np.ones(H), np.zeros(2 * H)], "W_hy": np.eye(H), "b_y": np.zeros(H)}


def train_readout(Z_train, y_train, Z_test, y_test, steps=300, lr=0.5):
    """Softmax regression on fixed features (standardised with the training statistics): held-out accuracy."""
    mu, sd = Z_train.mean(axis=0), Z_train.std(axis=0) + 1e-8
    A, A_test = (Z_train - mu) / sd, (Z_test - mu) / sd
    W, b = np.zeros((A.shape[1], 2)), np.zeros(2)
    onehot = np.eye(2)[y_train]
    for _ in range(steps):
        logits = A @ W + b
        p = np.exp(logits - logits.max(axis=1, keepdims=True))
        p /= p.sum(axis=1, keepdims=True)
        W -= lr * A.T @ (p - onehot) / len(A)
        b -= lr * (p - onehot).mean(axis=0)
    return float(np.mean(np.argmax(A_test @ W + b, axis=1) == y_test))
'''

TRAINING = '''
# Run this once crnn_forward and frame_features pass their tests (the graded check runs the same videos itself).
X_train, y_train = make_videos(160, seed=1)
X_test, y_test = make_videos(80, seed=2)
probe_params = random_crnn_params(seed=0)


def averaged_features(X):
    """The same CNN features, averaged over the frames (their order forgotten): (B, T, ...) -> (B, M)."""
    B, T = X.shape[:2]
    f, _ = frame_features(X.reshape(B * T, *X.shape[2:]), probe_params)
    return f.reshape(B, T, -1).mean(axis=1)  # (B*T, M) -> (B, T, M) -> (B, M)


try:
    # 1. The CRNN's last state h_T of every video (identity readout), then a trained readout on top.
    H_train, _ = crnn_forward(X_train, probe_params, lstm_step)
    H_test, _ = crnn_forward(X_test, probe_params, lstm_step)
    probe_accuracy = train_readout(H_train, y_train, H_test, y_test)
    # 2. The same kind of readout on the averaged features.
    average_accuracy = train_readout(averaged_features(X_train), y_train, averaged_features(X_test), y_test)
    print(f"held-out accuracy: CRNN states {probe_accuracy:.2f}, averaged frames {average_accuracy:.2f} "
          "(chance 0.50)")
except NotImplementedError:
    print("crnn_forward or frame_features is still a stub: implement them above, then run this cell again.")
'''

QUESTIONS = [
    ("q1", "Which neural network model is mostly used for spatial analysis, such as extracting essential "
     "features from an image?",
     ["Recurrent neural network", "Convolutional neural network", "Dense neural network", "None of the above"], "B"),
    ("q2", "In a CRNN that classifies a video, what does the recurrent cell read at time step t?",
     ["The raw pixels of every frame at once", "The average of all frames",
      "The feature vector the CNN extracted from frame t", "The label of frame t"], "C"),
    ("q3", "Why does the classifier on averaged frames stay near chance on these videos?",
     ["A left-moving video is a right-moving one played backwards, so both classes have the same frames",
      "The frames are too noisy to see the square", "A CNN cannot detect squares", "The videos have too few frames"],
     "A"),
]


QUIZ_HEADER = ("## Knowledge check (autograded)\n\nSet each answer to one letter, e.g. `answer_q1 = \"A\"`. "
               "Question 1 is from the lesson's knowledge check.")


def _graded(name: str, pair: tuple[str, str], intro: str, check: str, what: str):
    return [md(intro), solution(name, function(*pair)),
            *check_pair(f"test_{name}", check, name, (f"Does {name} match the reference on small {what}?",
                                                      f"Does {name} match the reference on random shapes?"),
                        module="autograder.crnn_checks")]


def build():
    return notebook([
        md(r"""
        # Assignment `crnn`: a CNN reads each frame, an RNN reads the frames in order

        The lesson's hybrid model, the convolutional recurrent network (CRNN), classifies a video by
        extracting features from every frame with a CNN and feeding the feature vectors, in order, to a
        recurrent cell. You will write the CNN's two layers (convolution and max-pooling), the CNN of one
        frame, and the CRNN's forward pass over all frames, then use it on videos whose class depends
        only on the order of the frames.

        Layout: images are **NCHW** (`N` images, `C` channels, `H` rows, `W` columns), as in PyTorch;
        videos are `(B, T, C, H, W)`. Kernels are `(F, C, KH, KW)`; dense weights are `(D, M)`, used as
        `x W + b`. Every function has the name and positional arguments of its reference in
        `simulator.conv` / `simulator.crnn`, and returns `(output, cache)`; only the output is graded.
        """),
        given("setup", SETUP),
        given("helpers", HELPERS),
        md(r"""
        ## Worked example

        Padding adds zeros around the image; a 2x2 max-pool keeps the largest pixel of each 2x2 block.
        """),
        given("worked_example", '''
        x = np.arange(16.0).reshape(1, 1, 4, 4)  # one image, one channel, 4x4
        print(np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))[0, 0])  # padding 1: 6x6
        print(x[0, 0].reshape(2, 2, 2, 2).max(axis=(1, 3)))  # 2x2 max-pool: rows (i, u), columns (j, v) -> 2x2
        '''),
        *_graded("conv2d_forward", CONV, r"""
        ## 1. Convolution

        $\text{out}[n, f, i, j] = b_f + \sum_{c, u, v} K[f, c, u, v]\, x_p[n, c, i s + u, j s + v]$
        with stride $s$ and $x_p$ the input padded with zeros. Like PyTorch and Keras, do **not** flip the
        kernel (this is a cross-correlation). Loops over output positions are fine.
        """, "check_conv2d_forward", "images"),
        *_graded("maxpool_forward", POOL, r"""
        ## 2. Max-pooling

        Each output is the maximum of a `size x size` window; windows move by `stride` (default `size`,
        as in PyTorch). Pooling makes the features smaller and tolerant to small shifts.
        """, "check_maxpool_forward", "images"),
        *_graded("frame_features", FEATURES, r"""
        ## 3. The CNN of one frame

        conv1 with "same" padding `k // 2` and stride 1, ReLU, 2x2 max-pool, flatten (channel, then row,
        then column, i.e. `reshape(N, -1)`), dense1, ReLU. Use your two functions.
        """, "check_frame_features", "frames"),
        *_graded("crnn_forward", CRNN, r"""
        ## 4. The CRNN over frames

        Run the CNN on all `B*T` frames at once (the same weights for every frame), reshape the features
        to `(B, T, M)`, run the cell over the `T` steps from the zero state with `run_step`, and read the
        last state: $y = h_T W_{hy} + b_y$ (many-to-one). The checks call it with RNN, LSTM and GRU steps.
        """, "check_crnn_forward", "videos"),
        md(r"""
        ## 5. A short training run

        Videos of a square moving right or left. A CRNN with **random** CNN and LSTM weights already
        encodes the direction in its last state $h_T$: training only a softmax readout on $h_T$ (the
        cell below, about ten seconds) separates the classes on held-out videos. The same CNN features
        averaged over the frames cannot: the average forgets the order, and the two classes contain the
        same frames. (Training every weight with backpropagation through time is what the simulator's
        Applications page does.)
        """),
        given("videos", VIDEOS),
        scratch(TRAINING),
        tests("test_training_run", 1, "Does the readout on CRNN states beat the one on averaged frames?", '''
        from autograder.training_checks import check_training_run

        # Graded on the reference's states once your crnn_forward and frame_features match them on these videos.
        check_training_run(crnn_forward, frame_features, lstm_step, make_videos, random_crnn_params, train_readout)
        '''),
        *quiz(QUIZ_HEADER, QUESTIONS, "autograder.crnn_checks"),
        md(r"""
        ## Summary

        - A convolution slides one small kernel over the image; pooling keeps the strongest response in
          each window. Together they turn a frame into a short feature vector.
        - A CRNN applies the same CNN to every frame and lets the recurrent cell read the features in
          order, so it can tell apart videos that contain the same frames in a different order.
        - Points: 12 in total (each function 1 visible + 1 hidden, the training run 1, each question 1).
        """),
    ])
