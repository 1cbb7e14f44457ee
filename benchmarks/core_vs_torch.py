"""Forward + BPTT time of the NumPy reference against torch.nn on the CPU, float32, and their ratio.

Run: ``python benchmarks/core_vs_torch.py [--repeats N]``. Baseline: ``torch.nn.RNN/LSTM/GRU`` (one layer,
batch_first) doing ``out = m(X); out.backward(dH)`` with ``X.requires_grad``, so both sides compute H, dX,
dstate0 and every parameter gradient. torch uses as many intra-op threads as NumPy's BLAS (printed).
"Ours" is ``sequence.forward`` / ``backward`` of a reference cell, i.e. the fused cores of ``simulator.fused``
(the readable ``simulator.cells`` steps are for single steps, where clarity matters more than speed).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from simulator import interop, sequence  # noqa: E402
from simulator.cells import Cell  # noqa: E402

SIZES = ((1, 20, 8, 16), (32, 50, 64, 128), (64, 100, 128, 256))
KINDS = ("rnn", "lstm", "gru")


def blas_threads() -> tuple[int, str]:
    """Threads NumPy's BLAS uses, and how we know."""
    try:
        from threadpoolctl import threadpool_info

        for pool in threadpool_info():
            if pool.get("user_api") == "blas":
                return int(pool["num_threads"]), f"{pool.get('internal_api')} via threadpoolctl"
    except ImportError:
        pass
    return os.cpu_count() or 1, "os.cpu_count() (threadpoolctl not installed)"


def median_times(fns, repeats: int) -> list[float]:
    """Median wall time of each function, timed in alternation so that load changes hit all of them alike."""
    for fn in fns:
        fn()  # warm-up
    times = [[] for _ in fns]
    for _ in range(repeats):
        for fn, ts in zip(fns, times, strict=True):
            t0 = time.perf_counter()
            fn()
            ts.append(time.perf_counter() - t0)
    return [statistics.median(ts) for ts in times]


def bench(kind: str, size: tuple[int, int, int, int], repeats: int) -> tuple[float, float]:
    import torch

    B, T, D, H = size
    rng = np.random.default_rng(0)
    cell = Cell.create(kind, D, H, seed=0, dtype=np.float32)
    for v in cell.params.values():
        v += rng.uniform(-0.1, 0.1, v.shape).astype(np.float32)
    X = rng.standard_normal((B, T, D)).astype(np.float32)
    dH = rng.standard_normal((B, T, H)).astype(np.float32)

    def ours() -> None:
        _, cache = sequence.forward(cell, X)
        sequence.backward(dH, cache)

    module = interop.to_torch(cell)
    Xt = torch.from_numpy(X).requires_grad_(True)
    dHt = torch.from_numpy(dH)

    def theirs() -> None:
        module.zero_grad(set_to_none=True)
        Xt.grad = None
        out, _ = module(Xt)
        out.backward(dHt)

    ours_t, theirs_t = median_times([ours, theirs], repeats)
    return ours_t, theirs_t


def main() -> None:
    import torch

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15, help="timed runs per case (median reported)")
    parser.add_argument("--threads", type=int, default=0, help="threads for both sides (default: NumPy BLAS's own)")
    parser.add_argument("--kinds", default=",".join(KINDS), help="comma-separated subset of rnn,lstm,gru")
    args = parser.parse_args()
    limiter = None
    if args.threads:
        from threadpoolctl import threadpool_limits  # only needed to change NumPy's thread count

        limiter = threadpool_limits(limits=args.threads, user_api="blas")
    threads, how = blas_threads()
    torch.set_num_threads(threads)
    print(f"numpy {np.__version__}, torch {torch.__version__}; threads: numpy BLAS {threads} ({how}), "
          f"torch.set_num_threads({torch.get_num_threads()}); float32, median of {args.repeats} runs")
    print(f"load average before the run: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs "
          "(other processes distort the times, multi-threaded BLAS most)")
    print(f"{'cell':5} {'(B, T, D, H)':>18} {'ours ms':>9} {'torch ms':>9} {'ours/torch':>10}")
    for kind in args.kinds.split(","):
        for size in SIZES:
            ours, theirs = bench(kind, size, args.repeats)
            print(f"{kind:5} {str(size):>18} {ours * 1e3:9.2f} {theirs * 1e3:9.2f} {ours / theirs:10.2f}", flush=True)
    if limiter is not None:
        limiter.unregister()


if __name__ == "__main__":
    main()
