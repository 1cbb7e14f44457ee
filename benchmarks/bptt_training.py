"""Training speed of the BPTT lab's in-page loop against an equivalent ``torch.nn`` loop on the CPU.

Both train the same many-to-one classifier on the same batches of the long-range task (remember the
first symbol, K = 8, noise distractors, T = 30, H = 32, batch 32): Adam (lr 0.01), global-norm clipping
at 1, softmax cross-entropy, held-out accuracy on 500 sequences every 10 iterations.

* ``page``: ``bptt_lab.LongRangeRun.step`` exactly as the page runs it: float64 NumPy reference, BPTT
  with per-step records, ``||dL/dh_t||`` every iteration and ``||dh_T/dh_t||`` (Jacobians of one probe
  sequence) once per screen update, i.e. every ``iterations_per_tick`` = 5 iterations (the page's default).
* ``page, no Jacobians``: the same loop without the Jacobian probe (what training itself costs).
* baseline ``torch``: ``torch.nn.RNN/LSTM/GRU`` + ``nn.Linear``, ``torch.optim.Adam``,
  ``clip_grad_norm_``; float32 and float64, one thread (NumPy is pinned to one BLAS thread too).

Also prints how long one screen update (a tick: ``iterations_per_tick`` iterations, the Jacobian probe and
the redraw of every training figure) blocks the server: a click on Pause or Step waits at most that long.

Prints iterations/s (median of ``--repeats`` timed runs, after a warm-up) and the ratio
torch iterations/s / page iterations/s (the goal: at most 1.5, i.e. the page trains no slower than 1.5x torch).

With ``--accuracy SEED [SEED ...]`` it instead trains each cell ``--train`` iterations (default 400) per seed
and prints the held-out accuracies (the table in docs/bptt.md).

Usage: ``python benchmarks/bptt_training.py [--iterations 60] [--repeats 3] [--T 30]``
       ``python benchmarks/bptt_training.py --accuracy 0 1 2 3 4 [--train 400] [--T 30]``
"""

from __future__ import annotations

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from simulator.app.pages.bptt.model import BPTTLab  # noqa: E402
from simulator.lessons.bptt_lab import LabConfig, LongRangeRun  # noqa: E402


def page_rate(config: LabConfig, iterations: int, jacobians: bool) -> float:
    run = LongRangeRun(config, jacobian_every=BPTTLab.param.iterations_per_tick.default if jacobians else 10**9)
    run.step(3)  # warm-up
    t0 = time.perf_counter()
    run.step(iterations)
    return iterations / (time.perf_counter() - t0)


def torch_rate(config: LabConfig, iterations: int, dtype) -> float:
    import torch

    torch.set_num_threads(1)
    torch.manual_seed(config.seed)
    rnn_class = {"rnn": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[config.kind]
    rnn = rnn_class(config.input_size, config.hidden, batch_first=True).to(dtype)
    readout = torch.nn.Linear(config.hidden, config.output_size).to(dtype)
    params = list(rnn.parameters()) + list(readout.parameters())
    opt = torch.optim.Adam(params, lr=config.lr)
    loss_fn = torch.nn.CrossEntropyLoss()
    held_out = config.data(config.eval_size, seed=config.seed + 1)
    eval_X, eval_y = torch.from_numpy(held_out.X).to(dtype), torch.from_numpy(held_out.y)
    rng = np.random.default_rng(config.seed)

    def batch():
        d = config.data(config.batch, seed=int(rng.integers(2**31)))
        return torch.from_numpy(d.X).to(dtype), torch.from_numpy(d.y)

    def one(it: int) -> None:
        X, y = batch()
        out, _ = rnn(X)
        loss = loss_fn(readout(out[:, -1]), y)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, config.clip)
        opt.step()
        if (it + 1) % config.eval_every == 0:
            with torch.no_grad():
                out, _ = rnn(eval_X)
                float((readout(out[:, -1]).argmax(1) == eval_y).double().mean())

    for it in range(3):
        one(it)
    t0 = time.perf_counter()
    for it in range(iterations):
        one(it)
    return iterations / (time.perf_counter() - t0)


def tick_ms(kind: str, T: int, ticks: int = 20) -> tuple[float, float]:
    """Median and maximum milliseconds of one page tick (training iterations + Jacobians + figure updates)."""
    from simulator.app.pages.bptt.view import BPTTPage

    page = BPTTPage(lab=BPTTLab(kind=kind, T=T), query={})
    times = []
    for _ in range(ticks):
        t0 = time.perf_counter()
        page.lab.train()  # what a tick does while playing; the iteration watcher redraws the figures
        times.append(1000 * (time.perf_counter() - t0))
    return statistics.median(times), max(times)


def accuracy_table(seeds: list[int], iterations: int, T: int) -> None:
    print(f"held-out accuracy after {iterations} iterations, T={T} (LabConfig defaults; chance 0.125)")
    print(f"{'cell':5} " + " ".join(f"{'seed ' + str(s):>8}" for s in seeds))
    for kind in ("lstm", "gru", "rnn"):
        accs = [LongRangeRun(LabConfig(kind=kind, T=T, seed=s), jacobian_every=10**9).train(iterations)
                for s in seeds]
        print(f"{kind:5} " + " ".join(f"{a:8.3f}" for a in accs), flush=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=60)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--T", type=int, default=30)
    parser.add_argument("--accuracy", type=int, nargs="+", metavar="SEED", help="print accuracies instead")
    parser.add_argument("--train", type=int, default=400, help="training iterations for --accuracy")
    args = parser.parse_args(argv)
    if args.accuracy:
        accuracy_table(args.accuracy, args.train, args.T)
        return
    import torch

    print(f"T={args.T}, H=32, K=8, batch 32; {args.iterations} timed iterations, median of {args.repeats}; "
          f"torch {torch.__version__}, 1 thread")
    print(f"{'cell':5} {'page it/s':>10} {'page no-Jac':>12} {'torch f32':>10} {'torch f64':>10} "
          f"{'f32/page':>9} {'f64/page':>9} {'f32/no-Jac':>11}")
    for kind in ("rnn", "lstm", "gru"):
        config = LabConfig(kind=kind, T=args.T)
        rates = {name: [] for name in ("page", "train", "f32", "f64")}
        for _ in range(args.repeats):  # interleaved, so load changes hit every variant alike
            rates["page"].append(page_rate(config, args.iterations, jacobians=True))
            rates["train"].append(page_rate(config, args.iterations, jacobians=False))
            rates["f32"].append(torch_rate(config, args.iterations, torch.float32))
            rates["f64"].append(torch_rate(config, args.iterations, torch.float64))
        m = {k: statistics.median(v) for k, v in rates.items()}
        print(f"{kind:5} {m['page']:10.1f} {m['train']:12.1f} {m['f32']:10.1f} {m['f64']:10.1f} "
              f"{m['f32'] / m['page']:9.2f} {m['f64'] / m['page']:9.2f} {m['f32'] / m['train']:11.2f}")
    print("ratio = torch iterations/s / page iterations/s (goal <= 1.5: the page no slower than 1.5x torch)")
    for kind in ("rnn", "lstm", "gru"):
        med, worst = tick_ms(kind, args.T)
        print(f"{kind}: one page tick ({BPTTLab.param.iterations_per_tick.default} iterations + Jacobians + redraw) "
              f"median {med:.0f} ms, max {worst:.0f} ms; Pause/Step wait at most one tick")


if __name__ == "__main__":
    main()
