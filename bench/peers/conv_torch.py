#!/usr/bin/env python3
"""PyTorch CPU peer of bench/kernels' conv rows: the same shapes (batch 4, 64 -> 64 channels,
5x5 and 1x1, "same" padding, binary32), the same three passes, median of repeated runs.

usage: bench/peers/conv_torch.py [--size S ...] [--threads T]
Needs PyPI torch (a side-by-side figure only; numens never needs Python)."""
import argparse
import statistics
import time

import torch
import torch.nn.functional as F


def median_seconds(fn):
    fn()  # warm-up (oneDNN picks and caches its kernels on the first call)
    times, total = [], 0.0
    while len(times) < 3 or (total < 1.0 and len(times) < 20):
        t0 = time.perf_counter()
        fn()
        dt = time.perf_counter() - t0
        times.append(dt)
        total += dt
    return statistics.median(times)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", type=int, nargs="+", default=[32])
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    n, c = 4, 64
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, "
          f"mkldnn={torch.backends.mkldnn.is_available()}")
    print(f"{'size':>5} {'op':<16} {'ms':>10} {'GFLOP/s':>10}")
    for size in args.size:
        x = torch.rand(n, c, size, size) * 2 - 1
        dy = torch.rand(n, c, size, size) * 2 - 1
        for k in (5, 1):
            w = (torch.rand(c, c, k, k) * 2 - 1) / (c * k * k) ** 0.5
            b = torch.rand(c) * 0.2 - 0.1
            p = k // 2
            flops = 2.0 * n * c * c * k * k * size * size
            with torch.no_grad():
                passes = {
                    "fwd": lambda: F.conv2d(x, w, b, padding=p),
                    "dgrad": lambda: torch.nn.grad.conv2d_input(x.shape, w, dy, padding=p),
                    "wgrad": lambda: torch.nn.grad.conv2d_weight(x, w.shape, dy, padding=p),
                }
                for name, fn in passes.items():
                    s = median_seconds(fn)
                    print(f"{size:>5} conv {name} {k}x{k:<5} {s * 1e3:>10.2f} {flops / s * 1e-9:>10.2f}",
                          flush=True)


if __name__ == "__main__":
    main()
