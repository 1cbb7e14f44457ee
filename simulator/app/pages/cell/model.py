"""The Cell page's state as a ``param.Parameterized`` (no GUI): settings in, reference caches out.

Every number the page shows is read from ``simulator.sequence.forward``'s cache (``steps[t]``) or
from ``sequence.trace`` of it; nothing here computes a gate.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import param

from simulator import sequence
from simulator.app.pages.cell import presets
from simulator.cells import KINDS

# Every vector a diagram can show, in drawing order; which ones a kind has is in ``VECTORS``.
VECTORS = {
    "rnn": ("x", "h_prev", "a", "h"),
    "lstm": ("x", "h_prev", "c_prev", "f", "i", "g", "o", "c", "tanh_c", "h"),
    "gru": ("x", "h_prev", "z", "r", "n", "h"),
}
ALL_VECTORS = tuple(dict.fromkeys(v for names in VECTORS.values() for v in names))
# What ``trace`` stacks for the heatmaps: states first, then gates and candidates.
SERIES = {"rnn": ("h", "a"), "lstm": ("h", "c", "f", "i", "g", "o"), "gru": ("h", "z", "r", "n")}


@dataclass
class Run:
    """One forward pass: the cell, its input ``X (1, T, D)``, the cache and its per-name traces ``(T, n)``."""

    kind: str
    X: np.ndarray
    cache: dict
    series: dict[str, np.ndarray]

    def vector(self, name: str, t: int) -> np.ndarray:
        """The named intermediate of step ``t`` for the single sequence, ``(n,)``, straight from the cache."""
        return self.cache["steps"][t][name][0]

    @property
    def T(self) -> int:
        return len(self.cache["steps"])


class CellModel(param.Parameterized):
    """Settings of the Cell page and the reference runs they produce."""

    kind = param.Selector(objects=list(KINDS), default="lstm", doc="Cell type: vanilla RNN, LSTM or GRU.")
    inputs = param.Selector(objects=list(presets.INPUTS), default="sine",
                            doc="Input sequence preset; 'word' one-hot encodes the characters of `word`.")
    word = param.String(default="hello", doc="Word whose characters are one-hot encoded (inputs='word').")
    D = param.Integer(default=3, bounds=(1, 16), doc="Input size D (set by the word's alphabet for inputs='word').")
    H = param.Integer(default=4, bounds=(1, 32), doc="Hidden size H.")
    T = param.Integer(default=20, bounds=(1, 200), doc="Sequence length T (the word's length for inputs='word').")
    seed = param.Integer(default=0, bounds=(0, 2**31 - 1), doc="Seed of the weights (and of the random input).")
    weights = param.Selector(objects=list(presets.SITUATIONS), default="default",
                             doc="Named weight situation applied on top of the seeded initialisation.")
    edits = param.String(default="", doc="Single-weight edits, e.g. 'W_h[0,1]=0.5; b[2]=-1'.")
    t = param.Integer(default=0, bounds=(0, 199), doc="Time step shown (0-based).")
    gate = param.Selector(objects=list(ALL_VECTORS), default="h", doc="Vector selected in the diagram.")
    unit = param.Integer(default=0, bounds=(0, 31), doc="Hidden unit j whose numbers the equations show.")
    compare = param.Boolean(default=False, doc="Run the same input through RNN, LSTM and GRU side by side.")
    error = param.String(default="", doc="Why the last change could not be applied ('' when all is well).")
    runs = param.Dict(default={}, doc="kind -> Run of the current settings (the chosen kind, or all in compare).")

    def __init__(self, **params):
        super().__init__(**params)
        self._recompute()

    # ------------------------------------------------------------------ derived state
    @property
    def run(self) -> Run:
        """The run of the chosen cell."""
        return self.runs[self.kind]

    @property
    def selected(self) -> str:
        """The selected vector if this kind has it, else ``h``."""
        return self.gate if self.gate in VECTORS[self.kind] else "h"

    def vector(self, name: str, kind: str | None = None) -> np.ndarray:
        """The named vector at the current step from the reference cache, ``(n,)``."""
        return self.runs[kind or self.kind].vector(name, self.t)

    # ------------------------------------------------------------------ recomputation
    @param.depends("kind", "inputs", "word", "D", "H", "T", "seed", "weights", "edits", "compare", watch=True)
    def _recompute(self) -> None:
        try:
            X = self._inputs()
        except ValueError as exc:
            self.error = str(exc)
            return
        if X is None:
            return  # the word changed D and T, which re-entered this method with them
        kinds = KINDS if self.compare else (self.kind,)
        runs, errors = {}, []
        for kind in kinds:
            try:
                runs[kind] = self._run(kind, X, self.edits if kind == self.kind else "")
            except ValueError as exc:
                # edits that do not fit this cell (wrong name, NaN, out of range): show without them
                errors.append(f"{kind.upper()}: {exc}")
                runs[kind] = self._run(kind, X, "")
        T = X.shape[1]
        with param.parameterized.batch_call_watchers(self):
            self.param.t.bounds = (0, T - 1)
            self.param.unit.bounds = (0, self.H - 1)
            self.param.update(t=min(self.t, T - 1), unit=min(self.unit, self.H - 1), runs=runs,
                              error=" ".join(errors))

    def override_reason(self, name: str) -> str:
        """Why a typed ``D`` or ``T`` was not kept ('' when nothing overrides it): the word fixes both."""
        if self.inputs == "word" and name in ("D", "T"):
            return (f"with the input 'characters of a word', T is the length of the word {self.word!r} and D the "
                    "size of its alphabet; change the word, or choose another input sequence to set D and T")
        return ""

    def _inputs(self) -> np.ndarray | None:
        if self.inputs == "word":
            X = presets.make_inputs("word", 1, 1, word=self.word)
            if (self.D, self.T) != (X.shape[2], X.shape[1]):
                self.param.update(D=X.shape[2], T=X.shape[1])
                return None
            return X
        return presets.make_inputs(self.inputs, self.D, self.T, seed=self.seed)

    def _run(self, kind: str, X: np.ndarray, edits: str) -> Run:
        cell = presets.make_cell(kind, X.shape[2], self.H, seed=self.seed, situation=self.weights)
        presets.apply_edits(cell.params, presets.parse_edits(edits))
        _, cache = sequence.forward(cell, X)
        tr = sequence.trace(cache)
        return Run(kind, X, cache, {k: v[0] for k, v in tr.items()})  # (1, T, n) -> (T, n)

    # ------------------------------------------------------------------ player helpers
    def step(self, delta: int = 1) -> None:
        """Move ``t`` by ``delta``, staying inside ``0 .. T-1``."""
        self.t = int(np.clip(self.t + delta, 0, self.run.T - 1))
