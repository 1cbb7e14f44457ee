"""The perturbation grammar of ``crnn_forward``: the frame-to-feature hand-over, then the many-to-one recurrence.

``f = frame_features(X.reshape(B*T, C, H, W)).reshape(B, T, M)`` (the reference's ``simulator.crnn``), then the
many-to-one program of ``autograder.architecture_grammar`` on the features. Sites: ``frames``, how the features
reach the cell (video by video, time-major mixed, averaged over time into one step, every other frame), and every
site of the many-to-one grammar (which feature step t reads, the carry, what the readout reads and how, which
state ``y`` reads). ``program(case, {})`` is the reference (a test checks it).

Not covered: bugs inside ``frame_features`` (its own check, and the stage probes of ``crnn_diagnosis``), slips at
more than two sites.
"""

from __future__ import annotations

import numpy as np

from autograder import architecture_grammar
from autograder.crnn_diagnosis import CRNN_LINE, RESHAPE_LINE
from autograder.grammar import Grammar, Option, Site, options
from simulator import crnn


def _features(X: np.ndarray, params: dict, how: str) -> np.ndarray:
    B, T = X.shape[:2]
    F, _ = crnn.frame_features(X.reshape(B * T, *X.shape[2:]), params)  # (B*T, M)
    if how == "time-major":
        if min(B, T) < 2:
            raise ValueError("one video or one frame cannot be mixed")
        return F.reshape(T, B, -1).swapaxes(0, 1)  # (B*T, M) read as (T, B, M) -> (B, T, M)
    F = F.reshape(B, T, -1)  # (B*T, M) -> (B, T, M)
    return {"video": F, "mean": F.mean(axis=1, keepdims=True)}[how]


def _program(case: dict, ch: dict) -> dict:
    X, params = case["args"]
    F = _features(X, params, ch.get("frames", "video"))
    inner = {k: v for k, v in ch.items() if k != "frames"}
    return {"y": architecture_grammar.program("many_to_one")({"kind": case["kind"], "args": (F, params)}, inner)["Y"]}


def _framed(text: str) -> str:
    """The many-to-one grammar's words for a CRNN: its inputs are the frames' features f_t."""
    return text.replace("inputs", "frames").replace("input", "frame").replace("x_", "f_")


def grammar() -> Grammar:
    """The sites of ``crnn_forward`` (module docstring)."""
    frames = Site("frames", RESHAPE_LINE, options(
        ("time-major", "batch and time mixed", "the features are reshaped as (T, B, M) (frames of different videos "
         "mixed)"),
        ("mean", "frames averaged", "the features are averaged over time and the cell runs one step")))
    inner = architecture_grammar.grammar("many_to_one").sites
    sites = [frames, *(Site(s.name, CRNN_LINE if s.name != "readout" else s.line,
                            tuple(Option(o.value, _framed(o.bug), _framed(o.phrase)) for o in s.options))
                       for s in inner)]
    return Grammar(tuple(sites), _program)


def grammar_suspects() -> list:
    """Every one- and two-slip suspect of the CRNN's grammar (one-slip first)."""
    return grammar().suspects(pairs=True)
