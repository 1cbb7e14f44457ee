"""Turn what a visitor gives the Applications page (an uploaded image, a drawing, a sentence) into model inputs.

Every check raises ``ValueError`` with a message meant for the page: what was received, what is expected.
Uploaded images become digits the way scikit-learn's ``load_digits`` stores them: 8x8, ink bright on a
dark background, values in ``[0, 1]`` (``load_digits`` counts 0..16 per cell; ``data`` divides by 16).
"""

from __future__ import annotations

import io
import warnings

import numpy as np

from simulator.lessons import data

MAX_UPLOAD_BYTES = 2 * 1024 * 1024
MAX_IMAGE_SIDE = 4096
IMAGE_FORMATS = {"PNG": "PNG", "JPEG": "JPEG"}
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
MAX_SENTENCE_CHARS = 300
MAX_SENTENCE_WORDS = 60


def too_large(filename: str, size: int) -> str:
    """The message for a file over ``MAX_UPLOAD_BYTES`` (the browser may refuse to send it at all)."""
    name = repr(filename) if filename else "the file"
    return (f"Upload: {name} is {size / 1e6:.1f} MB; expected at most {MAX_UPLOAD_BYTES // (1024 * 1024)} MB "
            "(a small PNG or JPEG of one digit)")


def decode_digit_image(content: bytes | None, filename: str = "") -> np.ndarray:
    """A PNG or JPEG file's bytes as an 8x8 digit image in ``[0, 1]`` (ink bright), ``(8, 8)`` float64.

    The picture is converted to grey, cropped to the bounding box of its ink (with a margin), padded to a
    square, resized to 8x8 and inverted when the background is light (a dark digit on white paper).
    """
    from PIL import Image, UnidentifiedImageError  # Pillow comes with Bokeh

    name = repr(filename) if filename else "the file"
    if not content:
        raise ValueError(f"Upload: {name} is empty; expected a PNG or JPEG image of one digit")
    if len(content) > MAX_UPLOAD_BYTES:
        raise ValueError(too_large(filename, len(content)))
    if filename and not filename.lower().endswith(IMAGE_SUFFIXES):
        raise ValueError(f"Upload: {name} is not a PNG or JPEG file; expected a name ending in .png, .jpg or .jpeg")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(content)) as probe:
                fmt = probe.format
                size = probe.size
                probe.verify()
            if fmt not in IMAGE_FORMATS:
                raise ValueError(f"Upload: {name} is a {fmt or 'unknown'} image; expected PNG or JPEG")
            if max(size) > MAX_IMAGE_SIDE or min(size) < 1:
                raise ValueError(f"Upload: {name} is {size[0]}x{size[1]} pixels; expected at most "
                                 f"{MAX_IMAGE_SIDE} pixels on each side")
            with Image.open(io.BytesIO(content)) as img:
                grey = np.asarray(img.convert("L"), dtype=np.float64) / 255.0
    except ValueError:
        raise
    except (UnidentifiedImageError, OSError, SyntaxError, Image.DecompressionBombError,
            Image.DecompressionBombWarning) as exc:
        raise ValueError(f"Upload: {name} could not be read as an image ({type(exc).__name__}); "
                         "expected an intact PNG or JPEG file") from None
    return to_digit(grey)


def to_digit(grey: np.ndarray) -> np.ndarray:
    """A grey picture ``(h, w)`` in ``[0, 1]`` -> an ``(8, 8)`` digit, ink bright, centred, in ``[0, 1]``.

    An 8x8 picture is kept as it is (only inverted if needed); a larger one is cropped to its ink,
    padded to a square and averaged down to 8x8 (Pillow's box filter), then scaled so its peak is 1.
    """
    from PIL import Image

    if np.median(grey) > 0.5:  # dark ink on light paper: make the ink bright, as in load_digits
        grey = 1.0 - grey
    if grey.shape == (8, 8):
        return grey  # already a load_digits-sized image: use it as it is
    ink = grey > 0.25
    if ink.any():
        rows, cols = np.flatnonzero(ink.any(axis=1)), np.flatnonzero(ink.any(axis=0))
        grey = grey[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    h, w = grey.shape
    side = int(max(h, w) * 1.25) + 1  # load_digits leaves about a pixel of margin around the ink
    square = np.zeros((side, side))
    top, left = (side - h) // 2, (side - w) // 2
    square[top : top + h, left : left + w] = grey
    small = Image.fromarray((square * 255).astype(np.uint8)).resize((8, 8), Image.Resampling.BOX)
    out = np.asarray(small, dtype=np.float64) / 255.0
    peak = out.max()
    return out / peak if peak > 0 else out


def check_drawing(cells) -> np.ndarray:
    """A drawn 8x8 grid (values in ``[0, 1]``) as a digit image; refuses an empty drawing."""
    grid = np.asarray(cells, dtype=np.float64)
    if grid.shape != (8, 8) or not np.all(np.isfinite(grid)) or grid.min() < 0 or grid.max() > 1:
        raise ValueError(f"Drawing: expected an 8x8 grid of values in [0, 1], got shape {grid.shape}")
    if not grid.any():
        raise ValueError("Drawing: the grid is empty; click cells to draw a digit first")
    return grid


def read_sentence(text: str, vocab: tuple[str, ...]) -> tuple[list[str], list[str]]:
    """The words of a typed sentence (``data.tokenize``) and those the model has never seen (read as ``<unk>``)."""
    if not isinstance(text, str):
        raise ValueError(f"Sentence: expected text, got {type(text).__name__}")
    if len(text) > MAX_SENTENCE_CHARS:
        raise ValueError(f"Sentence: {len(text)} characters; expected at most {MAX_SENTENCE_CHARS}")
    if not text.isprintable():
        raise ValueError("Sentence: contains control characters; expected plain text")
    words = data.tokenize(text)
    if not words:
        raise ValueError("Sentence: is empty; type a sentence such as 'the movie was not bad'")
    if len(words) > MAX_SENTENCE_WORDS:
        raise ValueError(f"Sentence: {len(words)} words; expected at most {MAX_SENTENCE_WORDS}")
    known = set(vocab)
    unknown = list(dict.fromkeys(w for w in words if w not in known))
    return words, unknown
