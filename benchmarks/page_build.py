"""CPU of building one session's page, with Bokeh's own default lookups as the named baseline.

Each page of ``serve.routes()`` is built the way a server session builds it (``page.server_doc`` into a new
``Document``, then the document's first serialisation, ``to_json``), alternately with Bokeh's own property-default
lookups (the baseline) and with ``simulator.app.bokehdefaults`` installed, ``--repeats`` times each after two
warm-up builds. Prints the median process CPU per build of each and their ratio (below 1: the cache is cheaper).
A build's CPU is what a late-arriving student costs the process serving everyone else (docs/classroom_load.md).

Usage: ``python benchmarks/page_build.py [--repeats 6] [--pages /cell /bptt]``
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def build_cpu(factory) -> float:
    """Process CPU seconds of building one page's document and serialising it once."""
    import panel as pn
    from bokeh.document import Document

    start = time.process_time()
    doc = Document()
    with pn.io.server.set_curdoc(doc):
        factory().server_doc(doc)
    doc.to_json()
    return time.process_time() - start


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=6)
    parser.add_argument("--pages", nargs="+", default=None, help="URL paths (default: every page but /course)")
    args = parser.parse_args(argv)
    if args.repeats < 1:
        parser.error(f"--repeats: expected a positive integer, got {args.repeats}")

    import serve
    from simulator.app import bokehdefaults

    routes = serve.routes()
    pages = args.pages or [path for path in routes if path != "/course"]
    unknown = [p for p in pages if p not in routes]
    if unknown:
        parser.error(f"--pages: unknown {unknown}; expected some of {sorted(routes)}")
    print(f"{'page':<15} {'baseline (Bokeh) ms':>20} {'cached ms':>10} {'ratio':>6}")
    for path in pages:
        for _ in range(2):
            build_cpu(routes[path])
        own, cached = [], []
        for _ in range(args.repeats):
            bokehdefaults.uninstall()
            own.append(build_cpu(routes[path]))
            bokehdefaults.install()
            cached.append(build_cpu(routes[path]))
        bokehdefaults.uninstall()
        a, b = statistics.median(own), statistics.median(cached)
        print(f"{path:<15} {1000 * a:>20.0f} {1000 * b:>10.0f} {b / a:>6.2f}")


if __name__ == "__main__":
    main()
