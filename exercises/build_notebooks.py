"""Write the course's source notebooks, ``source/<assignment>/<assignment>.ipynb``, from ``builders/``.

Usage: ``python exercises/build_notebooks.py [assignment ...]`` (from anywhere; default: all). Re-run after
editing a builder and commit both; ``--check`` exits 1 if a committed notebook differs from what the builders
produce.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import nbformat

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from builders import architectures, bptt, crnn, gru_cell, lstm_cell, rnn_cell  # noqa: E402

ASSIGNMENTS = {"rnn_cell": rnn_cell, "lstm_cell": lstm_cell, "gru_cell": gru_cell, "bptt": bptt,
               "architectures": architectures, "crnn": crnn}


def render(name: str) -> str:
    nb = ASSIGNMENTS[name].build()
    nbformat.validate(nb)
    return nbformat.writes(nb) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("assignments", nargs="*", metavar="assignment",
                        help=f"which notebooks (default: all of {', '.join(ASSIGNMENTS)})")
    parser.add_argument("--check", action="store_true", help="only compare with the committed notebooks")
    args = parser.parse_args(argv)
    unknown = [a for a in args.assignments if a not in ASSIGNMENTS]
    if unknown:
        parser.error(f"assignment: unknown {', '.join(unknown)}; expected some of {', '.join(ASSIGNMENTS)}")
    stale = []
    for name in args.assignments or ASSIGNMENTS:
        path = HERE / "source" / name / f"{name}.ipynb"
        text = render(name)
        if args.check:
            if not path.exists() or path.read_text() != text:
                stale.append(str(path))
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        print(f"wrote {path.relative_to(HERE.parent)}")
    if stale:
        print("out of date (run python exercises/build_notebooks.py):", *stale, sep="\n  ")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
