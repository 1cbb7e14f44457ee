"""Inputs the checks choose: small fixed cases for visible tests, secret-seeded random cases for hidden tests.

Every case has random (never zero) biases and random upstream gradients, since zero biases and
all-ones gradients hide bugs. Hidden cases include size-1 batch, input and hidden dimensions.

Visible cases come from fixed seeds and carry a ``recipe`` (how to rebuild them), so a student can
reproduce a failing visible case. Hidden cases come from the instructor's secret (DESIGN.md,
invariant 8): ``<course>/.autograder/secret``, 32 random bytes written on first use with mode 0600,
outside ``source/`` and ``release/``, so ``nbgrader generate_assignment`` never copies it. The grader
hands it to the checks (:func:`hidden_secret`) around the test cells it runs; a case stream ``s``,
trial ``k`` is drawn from ``default_rng(int(BLAKE2b_secret(f"{s}:{k}")))``. Without a secret,
:func:`hidden_rng` (and so every ``hidden=True``) raises :class:`HiddenCasesUnavailableError`. Hidden cases
carry no recipe and their labels give shapes only.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import secrets
import stat
from collections.abc import Iterator
from contextvars import ContextVar
from pathlib import Path

import numpy as np

from autograder import channel
from simulator.cells import param_shapes

VISIBLE_SHAPES = [(2, 3, 4), (1, 2, 3)]
HIDDEN_TRIALS = 5
SECRET_DIR = ".autograder"
SECRET_FILE = "secret"
SECRET_BYTES = 32

_SECRET: ContextVar[bytes | None] = ContextVar("autograder_hidden_secret", default=None)


class HiddenCasesUnavailableError(RuntimeError):
    """Hidden cases were asked for without the instructor's secret."""


# ----------------------------------------------------------------------------- the secret
def secret_path(course: Path | str) -> Path:
    """Where a course keeps its hidden-case secret: ``<course>/.autograder/secret``."""
    return Path(course) / SECRET_DIR / SECRET_FILE


def _read_secret(path: Path) -> bytes:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError as exc:
        raise HiddenCasesUnavailableError(f"cannot read the hidden-case secret {path}: {exc.strerror} "
                                     "(expected a regular file, not a symlink)") from None
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        os.close(fd)
        raise HiddenCasesUnavailableError(f"the hidden-case secret {path} is not a regular file")
    with os.fdopen(fd, "rb") as stream:
        if info.st_mode & 0o077:
            raise HiddenCasesUnavailableError(f"the hidden-case secret {path} is readable by other users (mode "
                                         f"{stat.S_IMODE(info.st_mode):o}); expected 600: run chmod 600 {path}")
        data = stream.read(4 * SECRET_BYTES)
    if len(data) < 16:
        raise HiddenCasesUnavailableError(f"the hidden-case secret {path} holds {len(data)} bytes; expected "
                                     f"{SECRET_BYTES} (delete it to have a new one made)")
    return data


def course_secret(course: Path | str, create: bool = True) -> bytes:
    """The course's secret, made on first use (mode 0600, in a 0700 folder that git ignores).

    Creation is atomic (written under a temporary name, then hard-linked into place), so two
    grading processes starting together agree on one secret.
    """
    path = secret_path(course)
    if not os.path.lexists(path):
        if not create:
            raise HiddenCasesUnavailableError(f"the course has no hidden-case secret yet ({path})")
        path.parent.mkdir(mode=0o700, exist_ok=True)
        ignore = path.parent / ".gitignore"
        if not ignore.exists():
            ignore.write_text("# the instructor's hidden-case secret: never commit or publish it\n*\n")
        tmp = path.parent / f".secret-{os.getpid()}-{secrets.token_hex(4)}"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        with os.fdopen(fd, "wb") as stream:
            stream.write(secrets.token_bytes(SECRET_BYTES))
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass  # another process made it first: use theirs
        finally:
            tmp.unlink()
    return _read_secret(path)


def find_course(start: Path | str | None = None) -> Path | None:
    """The nearest folder at or above ``start`` (default: the working directory) that is an nbgrader
    course: it holds ``nbgrader_config.py`` and ``source/``. A student's folder has no ``source/``.
    """
    here = Path(start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "nbgrader_config.py").is_file() and (folder / "source").is_dir():
            return folder
    return None


@contextlib.contextmanager
def hidden_secret(secret: bytes | str | None) -> Iterator[None]:
    """Make ``secret`` the one hidden cases come from inside the block (``None``: no secret at all)."""
    value = secret.encode() if isinstance(secret, str) else secret
    token = _SECRET.set(value if value is not None else b"")
    try:
        yield
    finally:
        _SECRET.reset(token)


def _secret() -> bytes:
    value = _SECRET.get()
    if value is None:
        # Not inside the grader: a kernel that nbgrader runs in the course (stock ``autograde``,
        # ``validate`` of the source) or the instructor's Jupyter finds the course it runs in.
        course = find_course()
        if course is not None:
            value = course_secret(course)
    if not value:
        raise HiddenCasesUnavailableError(
            "hidden cases are made from the instructor's secret, which only the grader has; they cannot be "
            "built here. The visible tests (hidden=False) use fixed cases you can rebuild yourself. "
            "(Instructors: docs/autograder.md, 'Hidden cases'.)")
    return value


def hidden_rng(stream: str, k: int) -> np.random.Generator:
    """The generator of trial ``k`` of the hidden case stream ``stream`` (needs the secret).

    Drawing from the secret makes the rest of the current test a hidden one: from now on what arrives from
    the sandbox carries no student-chosen text (``channel.redact_from_now``), whatever the test cell looks like.
    """
    channel.redact_from_now()
    digest = hashlib.blake2b(f"{stream}:{k}".encode(), key=_secret()[:64], digest_size=16).digest()
    return np.random.default_rng(int.from_bytes(digest, "big"))


# ----------------------------------------------------------------------------- shapes and cases
def hidden_shapes(n: int = HIDDEN_TRIALS, seed: int | None = None, high: int = 5) -> list[tuple[int, int, int]]:
    """``n`` random ``(B, D, H)``: the first all ones, the second with ``D == H`` (so a transposed
    ``W_xh`` type-checks and can be diagnosed), the rest drawn from ``1 .. high`` with one size forced to 1.

    Sizes above 1 are distinct within a shape, except the second's ``D == H``: a coincidence such as
    ``B == H`` lets a wrong shape type-check (a ``(H, 1)`` bias broadcast against ``(B, H)``) on one secret's
    draw and raise on another's, so the same bug would be explained differently. Sizes of 1 stay (they
    catch broadcasting bugs); a coincidence is redrawn, so shapes without one are what they always were.
    Drawn from ``seed`` if given, else from the secret (hidden stream ``"shapes"``).
    """
    if high < 3:
        raise ValueError(f"high: got {high}; expected at least 3 (two distinct sizes above 1)")
    rng = hidden_rng("shapes", 0) if seed is None else np.random.default_rng(seed)
    shapes = [(1, 1, 1)]
    B, D = (int(v) for v in rng.integers(2, high + 1, size=2))
    if B == D:
        B = int(rng.choice([v for v in range(2, high + 1) if v != D]))
    shapes.append((B, D, D))
    while len(shapes) < n:
        shape = [int(v) for v in rng.integers(1, high + 1, size=3)]
        shape[len(shapes) % 3] = 1
        while _coincide(shape):
            shape = [v if v == 1 else int(rng.integers(2, high + 1)) for v in shape]
        shapes.append(tuple(shape))
    return shapes[:n]


def _coincide(shape: list[int]) -> bool:
    """Do two sizes of ``shape`` above 1 agree?"""
    big = [v for v in shape if v > 1]
    return len(set(big)) < len(big)


def _shapes(hidden: bool) -> list[tuple[int, int, int]]:
    return hidden_shapes() if hidden else VISIBLE_SHAPES


def _rng(hidden: bool, k: int) -> np.random.Generator:
    return hidden_rng("cases", k) if hidden else np.random.default_rng(7 + 101 * k)


def random_params(kind: str, D: int, H: int, rng: np.random.Generator, scale: float = 0.6) -> dict:
    """Gaussian weights and biases, scaled so that gates are neither saturated nor linear."""
    return {k: scale * rng.standard_normal(s) for k, s in param_shapes(kind, D, H).items()}


def step_cases(kind: str, hidden: bool, T: int | None = None) -> list[dict]:
    """Cases for one step of ``kind``: x (B, D), h_prev (B, H) [c_prev], params, dh [dc] (B, H)."""
    out = []
    for k, (B, D, H) in enumerate(_shapes(hidden)):
        rng = _rng(hidden, k)
        case = {"label": f"B={B}, D={D}, H={H}", "x": rng.standard_normal((B, D)),
                "h_prev": 0.8 * rng.standard_normal((B, H)), "params": random_params(kind, D, H, rng),
                "dh": rng.standard_normal((B, H))}
        if kind == "lstm":
            case["c_prev"] = rng.standard_normal((B, H))
            case["dc"] = rng.standard_normal((B, H))
        if not hidden:
            case["recipe"] = f"step_cases({kind!r}, hidden=False)[{k}]"
        out.append(case)
    return out


LARGE_REACH = 900.0  # the smallest gate block's largest |pre-activation|: exp overflows above about 709


def large_step_cases(kind: str, hidden: bool) -> list[dict]:
    """One case of a step of ``kind`` whose pre-activations are large: in every gate block some ``|a|`` is at least
    ``LARGE_REACH``, of both signs (each row of x comes with its negation, and x is scaled), and for the LSTM
    ``|c_prev|`` is about as large. ``np.tanh`` and a stable sigmoid are finite there; a tanh or sigmoid written
    with ``np.exp`` overflows (``exp(a)`` is inf above about 709, and inf / inf is nan).

    Keys as :func:`step_cases`; ``"large"`` marks the case. Visible: B=2, D=3, H=4; hidden: B = 2 or 4, D and H
    from 1 .. 5, from the secret (hidden stream ``"large cases"``).
    """
    rng = hidden_rng("large cases", 0) if hidden else np.random.default_rng(4_711)
    pairs, D, H = (int(rng.integers(1, 3)), *(int(v) for v in rng.integers(1, 6, size=2))) if hidden else (1, 3, 4)
    B = 2 * pairs
    params = random_params(kind, D, H, rng)
    u = rng.standard_normal((pairs, D))
    x = np.concatenate([u, -u])  # (B, D): each row and its negation, so each pre-activation has both signs
    W_x = params["W_xh" if kind == "rnn" else "W_x"]
    k = W_x.shape[1] // H
    reach = np.abs(x @ W_x).reshape(B, k, H).max(axis=(0, 2)).min()  # (B, kH) -> (B, k, H): per block
    x = x * (LARGE_REACH / max(float(reach), 1e-12))
    note = "" if hidden else f", large pre-activations: |a| >= {LARGE_REACH:g} in every gate"
    case = {"label": f"B={B}, D={D}, H={H}{note}",
            "x": x, "h_prev": 0.8 * rng.standard_normal((B, H)), "params": params,
            "dh": rng.standard_normal((B, H)), "large": True}
    if kind == "lstm":
        signs = rng.choice([-1.0, 1.0], size=(B, H))
        case["c_prev"] = LARGE_REACH * signs * rng.uniform(0.8, 1.0, size=(B, H))
        case["dc"] = rng.standard_normal((B, H))
    if not hidden:
        case["recipe"] = f"large_step_cases({kind!r}, hidden=False)[0]"
    return [case]


def input_weight(kind: str) -> str:
    """The name of ``kind``'s input weight: ``W_xh`` for the RNN, ``W_x`` for the LSTM and GRU."""
    return "W_xh" if kind == "rnn" else "W_x"


def block_reach(inputs: np.ndarray, W_x: np.ndarray, H: int) -> float:
    """The smallest gate block's largest ``|a|`` of ``inputs @ W_x`` (inputs (N, D), W_x (D, kH))."""
    k = W_x.shape[1] // H
    return float(np.abs(inputs @ W_x).reshape(len(inputs), k, H).max(axis=(0, 2)).min())  # (N, kH) -> (N, k, H)


def paired(rng: np.random.Generator, pairs: int, *shape: int) -> np.ndarray:
    """``2 pairs`` standard normal rows, each with its negation (``(2 pairs, *shape)``): every pre-activation
    ``x W`` of them comes with both signs.
    """
    u = rng.standard_normal((pairs, *shape))
    return np.concatenate([u, -u])


def large_steps(X: np.ndarray, W_x: np.ndarray, H: int) -> np.ndarray:
    """``X`` (B, T, D) with each step scaled so that in every gate block of ``X[:, t] @ W_x`` some ``|a|`` is at
    least ``LARGE_REACH``: every step of a sequence has large pre-activations.
    """
    out = X.copy()
    for t in range(X.shape[1]):
        out[:, t] *= LARGE_REACH / max(block_reach(X[:, t], W_x, H), 1e-12)
    return out


def large_sizes(rng: np.random.Generator, hidden: bool, visible: tuple[int, ...], n: int) -> tuple[int, ...]:
    """``(pairs, *n sizes)`` of a large case: the visible ones, or from the secret's ``rng`` (pairs 1 or 2, sizes
    1 .. 4).
    """
    if not hidden:
        return visible
    return (int(rng.integers(1, 3)), *(int(v) for v in rng.integers(1, 5, size=n)))


def large_sequence_cases(hidden: bool) -> list[dict]:
    """One case of an RNN over time whose pre-activations are large at every step (:func:`large_steps`, rows in
    pairs of opposite sign), keys as :func:`sequence_cases`; ``"large"`` marks it. Visible: B=2, T=3, D=3, H=4;
    hidden: from the secret (hidden stream ``"large sequence cases"``).
    """
    rng = hidden_rng("large sequence cases", 0) if hidden else np.random.default_rng(4_712)
    pairs, T, D, H = large_sizes(rng, hidden, (1, 3, 3, 4), 3)
    B = 2 * pairs
    params = random_params("rnn", D, H, rng)
    X = large_steps(paired(rng, pairs, T, D), params["W_xh"], H)  # (B, T, D)
    note = "" if hidden else f", large pre-activations: |a| >= {LARGE_REACH:g} at every step"
    case = {"label": f"B={B}, T={T}, D={D}, H={H}{note}", "X": X, "h0": 0.8 * rng.standard_normal((B, H)),
            "params": params, "dH": rng.standard_normal((B, T, H)), "dh_last": rng.standard_normal((B, H)),
            "large": True}
    if not hidden:
        case["recipe"] = "large_sequence_cases(hidden=False)[0]"
    return [case]


def sequence_cases(hidden: bool) -> list[dict]:
    """Cases for an RNN over time: X (B, T, D), h0 (B, H), params, dH (B, T, H), dh_last (B, H)."""
    out = []
    Ts = [5, 1, 6, 3, 4] if hidden else [4, 3]
    for k, ((B, D, H), T) in enumerate(zip(_shapes(hidden), Ts, strict=False)):
        rng = _rng(hidden, 50 + k)
        case = {"label": f"B={B}, T={T}, D={D}, H={H}", "X": rng.standard_normal((B, T, D)),
                "h0": 0.8 * rng.standard_normal((B, H)), "params": random_params("rnn", D, H, rng),
                "dH": rng.standard_normal((B, T, H)), "dh_last": rng.standard_normal((B, H))}
        if not hidden:
            case["recipe"] = f"sequence_cases(hidden=False)[{k}]"
        out.append(case)
    return out


def clip_cases(hidden: bool) -> list[dict]:
    """Gradient dicts with global norms above and below ``max_norm``, and one with every gradient zero."""
    out = []
    n = 5 if hidden else 2
    for k in range(n):
        rng = _rng(hidden, 80 + k)
        D, H = (int(v) for v in rng.integers(1, 5, size=2)) if hidden else (3, 4)
        grads = {"W_xh": rng.standard_normal((D, H)), "W_hh": rng.standard_normal((H, H)),
                 "b_h": rng.standard_normal(H)}
        norm = float(np.sqrt(sum((g * g).sum() for g in grads.values())))
        max_norm = norm * (0.3 if k % 2 == 0 else 2.0)
        # A hidden case's label gives shapes only (its norms would tell its inputs).
        label = f"D={D}, H={H}" + ("" if hidden else f", norm {norm:.3g}, max_norm {max_norm:.3g}")
        out.append({"label": label, "grads": grads, "max_norm": max_norm})
    # Every gradient zero (the norm is 0: max_norm / norm must not be taken), the last case of both sets.
    D, H = (2, 3) if hidden else (3, 4)
    zeros = {"W_xh": np.zeros((D, H)), "W_hh": np.zeros((H, H)), "b_h": np.zeros(H)}
    out.append({"label": f"D={D}, H={H}" + ("" if hidden else ", every gradient zero (norm 0), max_norm 1"),
                "grads": zeros, "max_norm": 1.0})
    return out


def matrix_cases(hidden: bool) -> list[dict]:
    """Non-symmetric square matrices (spectral radius, spectral norm and largest real part differ)."""
    out = []
    sizes = [1, 4, 6, 3, 5] if hidden else [3, 4]
    for k, n in enumerate(sizes):
        rng = _rng(hidden, 90 + k)
        W = rng.standard_normal((n, n)) / np.sqrt(n)
        if k % 2 == 1:
            W = W - 1.5 * np.eye(n)  # a negative-dominated spectrum: modulus and real part part ways
        out.append({"label": f"W {n}x{n}", "W": W})
    return out
