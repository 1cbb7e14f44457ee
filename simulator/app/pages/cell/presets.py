"""Input sequences and weight situations the pages offer as presets (NumPy only, no GUI).

Inputs are one sequence ``X (1, T, D)``; weights come from ``simulator.cells.Cell.create`` with the
named situation's initialisation, then the user's single-weight edits (``"W_h[0,1]=0.5; b[2]=1"``).
"""

from __future__ import annotations

import re

import numpy as np

from simulator.cells import Cell

INPUTS = ("sine", "step", "impulse", "word", "random")
SITUATIONS = ("default", "saturated_forget", "identity_recurrence", "large_recurrent")
SITUATION_LABELS = {
    "default": "Keras default (Glorot + orthogonal)",
    "saturated_forget": "Saturated forget gate (remembers)",
    "identity_recurrence": "Identity recurrence",
    "large_recurrent": "Large recurrent weights (x3)",
}
MAX_WORD = 40
MAX_ALPHABET = 16
SATURATING_BIAS = 6.0  # sigmoid(6) = 0.9975: the gate is practically always open


def word_alphabet(word: str) -> str:
    """The distinct characters of ``word`` in sorted order: the one-hot input dimensions."""
    return "".join(sorted(set(word)))


def check_word(word: str) -> str:
    """Return ``word`` if it can be one-hot encoded here, else raise ``ValueError`` saying why."""
    if not isinstance(word, str) or not word:
        raise ValueError("word: expected at least one character, got an empty word")
    if len(word) > MAX_WORD:
        raise ValueError(f"word: got {len(word)} characters; expected at most {MAX_WORD}")
    if not word.isprintable():
        raise ValueError("word: contains control characters; expected printable text")
    if len(word_alphabet(word)) > MAX_ALPHABET:
        raise ValueError(f"word: has {len(word_alphabet(word))} distinct characters; expected at most {MAX_ALPHABET}")
    return word


def make_inputs(preset: str, D: int, T: int, *, seed: int = 0, word: str = "hello") -> np.ndarray:
    """One input sequence ``X (1, T, D)`` (float64).

    - sine: ``x_t[d] = sin(2 pi t / 12 + d pi / D)``, one phase-shifted wave per dimension.
    - step: 0 for ``t < T/2``, then 1 on every dimension.
    - impulse: 1 at ``t = 0`` on every dimension, 0 after: what does the cell remember?
    - word: one-hot characters; ``D`` = distinct characters, ``T`` = length (the arguments are ignored).
    - random: standard normal, seeded.
    """
    if preset not in INPUTS:
        raise ValueError(f"inputs: got {preset!r}; expected one of {', '.join(INPUTS)}")
    if preset == "word":
        word = check_word(word)
        alphabet = word_alphabet(word)
        X = np.zeros((1, len(word), len(alphabet)))
        X[0, np.arange(len(word)), [alphabet.index(ch) for ch in word]] = 1.0
        return X
    t = np.arange(T)[:, None]  # (T, 1)
    d = np.arange(D)[None, :]  # (1, D)
    if preset == "sine":
        X = np.sin(2 * np.pi * t / 12 + d * np.pi / D)
    elif preset == "step":
        X = np.broadcast_to((t >= T // 2).astype(float), (T, D))
    elif preset == "impulse":
        X = np.broadcast_to((t == 0).astype(float), (T, D))
    else:
        X = np.random.default_rng(seed + 7919).standard_normal((T, D))
    return np.ascontiguousarray(X, dtype=np.float64)[None]  # (T, D) -> (1, T, D)


def make_cell(kind: str, D: int, H: int, *, seed: int = 0, situation: str = "default") -> Cell:
    """A reference cell initialised for the named situation.

    - saturated_forget: LSTM forget bias ``b_f = 6`` (``f ~ 1``: the cell state is kept); GRU update
      bias ``b_z = 6`` (``z ~ 1``: ``h_t ~ h_{t-1}``). A vanilla RNN has no gate: default weights.
    - identity_recurrence: every recurrent block is the identity (Le et al. 2015).
    - large_recurrent: recurrent blocks are orthogonal times 3, so the state saturates.
    """
    if situation not in SITUATIONS:
        raise ValueError(f"weights: got {situation!r}; expected one of {', '.join(SITUATIONS)}")
    init = {"recurrent_init": "identity"} if situation == "identity_recurrence" else {}
    if situation == "large_recurrent":
        init["recurrent_scale"] = 3.0
    cell = Cell.create(kind, D, H, seed=seed, **init)
    if situation == "saturated_forget":
        if kind == "lstm":
            cell.params["b"][H : 2 * H] = SATURATING_BIAS
        elif kind == "gru":
            cell.params["b_x"][:H] = SATURATING_BIAS
    return cell


_EDIT = re.compile(r"^\s*([A-Za-z_]+)\s*\[\s*(\d+)\s*(?:,\s*(\d+)\s*)?\]\s*=\s*(\S+)\s*$")


def parse_edits(text: str) -> list[tuple[str, tuple[int, ...], float]]:
    """Parse ``"W_h[0,1]=0.5; b[2]=-1"`` into ``[(name, index, value), ...]``; raise ``ValueError`` if malformed."""
    if not isinstance(text, str):
        raise ValueError(f"edits: expected text, got {type(text).__name__}")
    out = []
    for part in filter(str.strip, text.split(";")):
        m = _EDIT.match(part)
        if not m:
            raise ValueError(f"edits: cannot read {part.strip()!r}; expected name[row,col]=number, e.g. W_h[0,1]=0.5")
        name, i, j, raw = m.groups()
        try:
            value = float(raw)
        except ValueError:
            raise ValueError(f"edits: {name} value {raw!r} is not a number; expected e.g. 0.5") from None
        if not np.isfinite(value):
            raise ValueError(f"edits: {name} value {raw!r} is not finite; expected a finite number")
        index = (int(i),) if j is None else (int(i), int(j))
        out.append((name, index, value))
    return out


def apply_edits(params: dict[str, np.ndarray], edits: list[tuple[str, tuple[int, ...], float]]) -> None:
    """Set each edited weight in place; raise ``ValueError`` naming a wrong parameter or index."""
    for name, index, value in edits:
        if name not in params:
            raise ValueError(f"edits: no parameter {name!r}; expected one of {', '.join(params)}")
        arr = params[name]
        if len(index) != arr.ndim or any(k >= n for k, n in zip(index, arr.shape, strict=True)):
            raise ValueError(f"edits: index {list(index)} is outside {name} of shape {arr.shape}")
        arr[index] = value


def format_edits(edits: list[tuple[str, tuple[int, ...], float]]) -> str:
    """The inverse of ``parse_edits``, one edit per parameter entry (the last one wins)."""
    last = {(n, i): v for n, i, v in edits}
    return "; ".join(f"{n}[{','.join(map(str, i))}]={v:g}" for (n, i), v in last.items())
