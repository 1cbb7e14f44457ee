"""The lesson's musical examples for the five architectures, as small arrays (NumPy only, made here).

- one_to_one: an 8x8 image of a musical symbol -> which symbol it is (4 classes).
- one_to_many: a first note -> a generated sequence of notes (the output is fed back as the next input).
- many_to_one: a song (a sequence of notes) -> its genre (3 classes).
- many_to_many (synced): each note of a song -> its solfege symbol, one output per input.
- encoder_decoder: the notes of a song -> a shorter string of chord symbols, one per bar of 4 notes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

ARCHITECTURES = ("one_to_one", "one_to_many", "many_to_one", "many_to_many", "encoder_decoder")
NOTES = ("C", "D", "E", "F", "G", "A", "B")
SOLFEGE = ("do", "re", "mi", "fa", "sol", "la", "si")
SYMBOLS = ("quarter note", "half note", "whole note", "sharp")
GENRES = ("classical", "folk", "nursery rhyme")
CHORDS = ("I", "IV", "V")
_BITMAPS = {
    "quarter note": (".....#..", ".....#..", ".....#..", ".....#..", ".....#..", "..####..", ".#####..",
                     "..###..."),
    "half note": (".....#..", ".....#..", ".....#..", ".....#..", ".....#..", "..####..", ".#...#..",
                  "..###..."),
    "whole note": ("........", "........", "........", "..####..", ".#....#.", ".#....#.", "..####..",
                   "........"),
    "sharp": ("..#..#..", "..#..#..", ".######.", "..#..#..", "..#..#..", ".######.", "..#..#..", "..#..#.."),
}
# name, notes, genre, chord per bar of 4 notes
SONGS = (
    ("Ode to Joy", "EEFGGFEDCCDE", "classical", ("I", "V", "I")),
    ("Twinkle, Twinkle", "CCGGAAG", "nursery rhyme", ("I", "IV")),
    ("Frere Jacques", "CDECCDEC", "folk", ("I", "I")),
    ("C major scale", "CDEFGAB", "classical", ("I", "V")),
)
FIRST_NOTES = ("C", "E", "G", "A")


def symbol_image(name: str) -> np.ndarray:
    """The 8x8 bitmap of a musical symbol, 1 for ink, row 0 at the top."""
    return np.array([[ch == "#" for ch in row] for row in _BITMAPS[name]], dtype=float)


def _one_hot(indices, K: int) -> np.ndarray:
    out = np.zeros((len(indices), K))
    out[np.arange(len(indices)), indices] = 1.0
    return out


@dataclass
class Example:
    """Inputs, targets and words for one architecture's example (batch of one)."""

    title: str                   # what the example is, in the lesson's words
    x: np.ndarray                # (1, D) or (1, T, D)
    targets: np.ndarray          # (1,) or (1, N) class indices
    input_labels: list[str]      # what each input step shows (one per input step)
    classes: tuple[str, ...]     # names of the K output classes
    T_out: int = 0               # outputs to generate (one_to_many, encoder_decoder)
    image: np.ndarray | None = None


def items(architecture: str) -> list[str]:
    """The choices of input for ``architecture``'s example."""
    if architecture == "one_to_one":
        return list(SYMBOLS)
    if architecture == "one_to_many":
        return [f"start on {n}" for n in FIRST_NOTES]
    return [s[0] for s in SONGS]


def example(architecture: str, item: int = 0, length: int = 8) -> Example:
    """The example input ``item`` (see ``items``) for ``architecture``; ``length`` notes for one_to_many."""
    if architecture not in ARCHITECTURES:
        raise ValueError(f"architecture: got {architecture!r}; expected one of {', '.join(ARCHITECTURES)}")
    choices = items(architecture)
    if not 0 <= item < len(choices):
        raise ValueError(f"item: got {item}; expected 0 to {len(choices) - 1}")
    if architecture == "one_to_one":
        img = symbol_image(SYMBOLS[item])
        return Example("an image of a musical symbol -> which symbol", img.reshape(1, 64), np.array([item]),
                       ["image"], SYMBOLS, image=img)  # (8, 8) -> (1, 64)
    if architecture == "one_to_many":
        first = NOTES.index(FIRST_NOTES[item])
        target = [(first + 1 + k) % len(NOTES) for k in range(length)]  # the scale going up from the first note
        return Example("a first note -> a melody (each output is fed back as the next input)",
                       _one_hot([first], len(NOTES)), np.array([target]), [FIRST_NOTES[item]], NOTES,
                       T_out=length)
    name, notes, genre, chords = SONGS[item]
    X = _one_hot([NOTES.index(n) for n in notes], len(NOTES))[None]  # (T, 7) -> (1, T, 7)
    labels = list(notes)
    if architecture == "many_to_one":
        return Example(f"the song '{name}' -> its genre", X, np.array([GENRES.index(genre)]), labels, GENRES)
    if architecture == "many_to_many":
        return Example(f"each note of '{name}' -> its solfege symbol", X,
                       np.array([[NOTES.index(n) for n in notes]]), labels, SOLFEGE)
    return Example(f"the notes of '{name}' -> its chord symbols, one per bar", X,
                   np.array([[CHORDS.index(c) for c in chords]]), labels, CHORDS, T_out=len(chords))
