"""Server-side cost of the app: time to advance one step and update the sources, and memory per session.

1. For each cell at H=16, T=50 (D=3, sine input): build the Cell page inside a Bokeh document (as a
   server session does), then time ``model.t = t + 1``, which patches the diagram's sources, moves the
   heatmap cursors and the trajectory marker, rewrites the equations and the readout. Prints the
   median and 90th percentile against the 20 ms bar. The Architectures page's step is timed the same way.
2. Starts ``serve.py`` and, separately, a trivial Panel page (one Markdown pane) as the named baseline;
   opens 20 sessions on each with ``bokeh.client.pull_session`` and prints the growth of the server's
   resident memory per session, and the ratio to the baseline.

Usage: ``python benchmarks/app_step.py [--steps 200] [--sessions 20]``
"""

from __future__ import annotations

import argparse
import socket
import statistics
import subprocess
import sys
import textwrap
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

BAR_MS = 20.0
TRIVIAL_APP = textwrap.dedent("""
    import sys
    import panel as pn
    pn.serve({"/": lambda: pn.pane.Markdown("# trivial page")}, port=int(sys.argv[1]), address="127.0.0.1",
             show=False, websocket_origin=["127.0.0.1:" + sys.argv[1]])
""")


def time_steps(page_factory, advance, steps: int) -> list[float]:
    from bokeh.document import Document

    page = page_factory()
    doc = Document()
    root = page.__panel__().get_root(doc)
    doc.add_root(root)
    times, cpu = [], []
    for k in range(steps):
        start, start_cpu = time.perf_counter(), time.process_time()
        advance(page, k)
        times.append((time.perf_counter() - start) * 1000)
        cpu.append((time.process_time() - start_cpu) * 1000)
    return times, cpu


def step_benchmark(steps: int) -> None:
    from simulator.app.pages.architectures.model import ArchitectureModel
    from simulator.app.pages.architectures.view import ArchitecturesPage
    from simulator.app.pages.cell.model import CellModel
    from simulator.app.pages.cell.view import CellPage

    print(f"Step time (server side: model.t += 1 -> sources patched), {steps} steps, bar: median < {BAR_MS:.0f} ms")
    for kind in ("rnn", "lstm", "gru"):
        def advance(page, k):
            page.model.t = (k + 1) % 50

        times, cpu = time_steps(lambda kind=kind: CellPage(CellModel(kind=kind, H=16, T=50, D=3), query={}),
                                advance, steps)
        med = statistics.median(times)
        p90 = statistics.quantiles(times, n=10)[-1]
        print(f"  cell page {kind:4s} H=16 T=50: median {med:6.2f} ms  p90 {p90:6.2f} ms  "
              f"(CPU median {statistics.median(cpu):5.2f} ms)  median/bar {med / BAR_MS:.2f}  "
              f"{'PASS' if med < BAR_MS else 'FAIL'}")
    for name in ("many_to_many", "encoder_decoder"):
        def advance_arch(page, k):
            page.model.s = (k + 1) % page.model.run.S

        times, _ = time_steps(
            lambda name=name: ArchitecturesPage(ArchitectureModel(architecture=name, H=16), query={}),
            advance_arch, steps)
        print(f"  architectures page {name} (LSTM, H=16): median {statistics.median(times):6.2f} ms")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def _wait(url: str, proc: subprocess.Popen) -> None:
    deadline = time.monotonic() + 60
    while True:
        try:
            urllib.request.urlopen(url, timeout=60).read()
            return
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"server at {url} did not start") from None
            time.sleep(0.3)


def session_memory(command: list[str], port: int, path: str, sessions: int) -> float:
    """MB of server RSS per open session: the least-squares slope of RSS against sessions kept open.

    One warm-up session first (imports, first document); the slope is less noisy than one difference.
    """
    from bokeh.client import pull_session

    proc = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}{path}"
    try:
        _wait(url, proc)
        with pull_session(url=url):
            pass  # warm-up: imports, first document, caches
        time.sleep(1.0)
        rss, opened = [_rss_mb(proc.pid)], []
        for _ in range(sessions):
            opened.append(pull_session(url=url))
            time.sleep(0.2)
            rss.append(_rss_mb(proc.pid))
        for s in opened:
            s.close()
        n = list(range(len(rss)))
        mean_n, mean_r = statistics.fmean(n), statistics.fmean(rss)
        slope = sum((a - mean_n) * (b - mean_r) for a, b in zip(n, rss, strict=True)) / sum(
            (a - mean_n) ** 2 for a in n)
        print(f"    {path}: RSS {rss[0]:.1f} MB -> {rss[-1]:.1f} MB with {sessions} sessions open")
        return slope
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def memory_benchmark(sessions: int) -> None:
    print(f"Server memory per open session ({sessions} sessions via bokeh.client.pull_session; slope of RSS)")
    port = _free_port()
    trivial = session_memory([sys.executable, "-c", TRIVIAL_APP, str(port)], port, "/", sessions)
    print(f"  baseline trivial Panel page: {trivial:6.2f} MB/session")
    for path in ("/cell", "/architectures"):
        port = _free_port()
        ours = session_memory([sys.executable, "serve.py", "--port", str(port)], port, path, sessions)
        print(f"  {path:15s}: {ours:6.2f} MB/session  ratio to trivial page {ours / max(trivial, 1e-3):5.1f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--sessions", type=int, default=20, help="0 skips the memory measurement")
    args = parser.parse_args()
    step_benchmark(args.steps)
    if args.sessions:
        memory_benchmark(args.sessions)


if __name__ == "__main__":
    main()
