#!/usr/bin/env python3
"""PyTorch peer of bench/kernels' conv rows: the same shapes (batch 4, 64 -> 64 channels, 5x5 and
1x1, "same" padding, binary32), the same three passes, median of repeated runs.

On the CPU PyTorch uses oneDNN; with --device cuda it uses cuDNN (the ieee peer of
`bench/kernels --device cuda`), timed with CUDA events after a warm-up, once with TF32 off
(binary32 products, the parity figure) and once with TF32 on (the best cuDNN does on these shapes).

usage: bench/peers/conv_torch.py [--size S ...] [--threads T] [--device cpu|cuda]
Needs PyPI torch (a side-by-side figure only; numens never needs Python)."""
import argparse
import statistics
import time

import torch
import torch.nn.functional as F


def median_seconds_cuda(fn):
    fn()  # warm-up (cuDNN's benchmark mode picks its algorithm on the first call)
    torch.cuda.synchronize()
    start, stop = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    reps = 1
    while True:  # samples of >= 20 ms, so that launch overhead does not dominate
        start.record()
        for _ in range(reps):
            fn()
        stop.record()
        torch.cuda.synchronize()
        if start.elapsed_time(stop) >= 20.0 or reps >= 1 << 16:
            break
        reps *= 2
    times = []
    while len(times) < 3 or (sum(times) < 1.0 and len(times) < 20):
        start.record()
        for _ in range(reps):
            fn()
        stop.record()
        torch.cuda.synchronize()
        times.append(start.elapsed_time(stop) * 1e-3)
    return statistics.median(times) / reps


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
    ap.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    n, c = 4, 64
    dev = torch.device(args.device)
    if args.device == "cuda":
        torch.backends.cudnn.benchmark = True
        print(f"torch {torch.__version__}, {torch.cuda.get_device_name()}, "
              f"cuDNN {torch.backends.cudnn.version()}")
        settings = [("tf32 off", False), ("tf32 on", True)]
        timer = median_seconds_cuda
    else:
        print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, "
              f"mkldnn={torch.backends.mkldnn.is_available()}")
        settings = [("", False)]
        timer = median_seconds
    print(f"{'size':>5} {'op':<16} {'ms':>10} {'GFLOP/s':>10}")
    for label, tf32 in settings:
        if args.device == "cuda":
            torch.backends.cudnn.allow_tf32 = tf32
            torch.backends.cuda.matmul.allow_tf32 = tf32
            print(f"-- {label}")
        for size in args.size:
            run_size(size, n, c, dev, timer)


def run_size(size, n, c, dev, timer):
    x = (torch.rand(n, c, size, size) * 2 - 1).to(dev)
    dy = (torch.rand(n, c, size, size) * 2 - 1).to(dev)
    for k in (5, 1):
        w = ((torch.rand(c, c, k, k) * 2 - 1) / (c * k * k) ** 0.5).to(dev)
        b = (torch.rand(c) * 0.2 - 0.1).to(dev)
        p = k // 2
        flops = 2.0 * n * c * c * k * k * size * size
        with torch.no_grad():
            passes = {
                "fwd": lambda: F.conv2d(x, w, b, padding=p),
                "dgrad": lambda: torch.nn.grad.conv2d_input(x.shape, w, dy, padding=p),
                "wgrad": lambda: torch.nn.grad.conv2d_weight(x, w.shape, dy, padding=p),
            }
            for name, fn in passes.items():
                s = timer(fn)
                print(f"{size:>5} conv {name} {k}x{k:<5} {s * 1e3:>10.2f} {flops / s * 1e-9:>10.2f}",
                      flush=True)

if __name__ == "__main__":
    main()
