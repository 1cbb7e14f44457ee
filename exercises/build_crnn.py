"""Alias kept for existing commands: ``python exercises/build_crnn.py [--check]`` is ``build_notebooks.py crnn``.

The ``crnn`` builder is ``builders/crnn.py``; ``python exercises/build_notebooks.py`` writes all six notebooks.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from build_notebooks import main as build_notebooks  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    return build_notebooks([*(sys.argv[1:] if argv is None else argv), "crnn"])


if __name__ == "__main__":
    sys.exit(main())
