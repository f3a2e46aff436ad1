#!/usr/bin/env python3
"""PyTorch CPU peer of bench/train_step: one FastSurferCNN 1.x training step (forward, weighted
cross-entropy + soft Dice, backward, Adam lr 0.01) at the same shapes (batch 4, 7 x 256 x 256,
79 classes), binary32, with a warm-up step before the timed ones.

The model is written here from docs MODEL.md and nn/blocks.hpp / nn/fastsurfer.hpp (numens's own
description of the topology), not taken from FastSurfer: competitive dense blocks of three convs
(5x5, 5x5, 1x1, 64 filters) each followed by BN, one PReLU slope per block, maxout between the
stages; the first encoder block normalises its raw input with BN and has no maxout with it; 2x2
max-pool with indices, max-unpool and an element-wise maximum with the skip; a 1x1 classifier.
Its trainable parameter count is asserted equal to MODEL.md's 1,799,206 at 79 classes.

The synthetic batch has the same construction as numens's (Voronoi label blobs, every class
present, class-dependent tones plus noise, weight 1 + 5 on label edges) from numpy's generator,
so the values differ from numens's but the statistics match; the timing does not depend on them.

usage: bench/peers/train_step_torch.py [--batch B] [--size S] [--classes C] [--steps N]
                                       [--warmup W] [--threads T]
Needs PyPI torch (a side-by-side figure only; numens never needs Python)."""
import argparse
import os
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


class CompetitiveBlock(nn.Module):
    """Three convs (k, k, 1), a BN after each, maxout between stages, one PReLU slope.
    input_kind: BN0 on the raw input and no maxout with it (the channel count changes)."""

    def __init__(self, cin, filters, k, input_kind):
        super().__init__()
        self.input_kind = input_kind
        self.bn0 = nn.BatchNorm2d(cin) if input_kind else None
        self.prelu = nn.PReLU()  # a single slope shared by every activation of the block
        self.conv0 = nn.Conv2d(cin, filters, k, padding=k // 2)
        self.conv1 = nn.Conv2d(filters, filters, k, padding=k // 2)
        self.conv2 = nn.Conv2d(filters, filters, 1)
        self.bn1 = nn.BatchNorm2d(filters)
        self.bn2 = nn.BatchNorm2d(filters)
        self.bn3 = nn.BatchNorm2d(filters)

    def forward(self, x):
        if self.input_kind:
            m1 = self.bn1(self.conv0(self.bn0(x)))
        else:
            m1 = torch.maximum(x, self.bn1(self.conv0(self.prelu(x))))
        m2 = torch.maximum(self.bn2(self.conv1(self.prelu(m1))), m1)
        return self.bn3(self.conv2(self.prelu(m2)))


class FastSurferCNN(nn.Module):
    def __init__(self, in_channels=7, filters=64, k=5, levels=4, classes=79):
        super().__init__()
        self.enc = nn.ModuleList(
            CompetitiveBlock(in_channels if l == 0 else filters, filters, k, l == 0)
            for l in range(levels))
        self.bottleneck = CompetitiveBlock(filters, filters, k, False)
        self.dec = nn.ModuleList(CompetitiveBlock(filters, filters, k, False) for _ in range(levels))
        self.classifier = nn.Conv2d(filters, classes, 1)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                # MODEL.md: Kaiming normal, fan_out, leaky_relu gain (a = 0); default bias init
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="leaky_relu")

    def forward(self, x):
        skips, idx = [], []
        for blk in self.enc:
            x = blk(x)
            skips.append(x)
            x, i = F.max_pool2d(x, 2, 2, return_indices=True)
            idx.append(i)
        x = self.bottleneck(x)
        for l in reversed(range(len(self.dec))):
            u = F.max_unpool2d(x, idx[l], 2, 2, output_size=skips[l].shape[-2:])
            x = self.dec[l](torch.maximum(u, skips[l]))  # competitive skip: no concatenation
        return self.classifier(x)


def ce_dice_loss(logits, labels, weights, smooth=0.001):
    """MODEL.md: mean over pixels of w * CE, plus soft Dice on the softmax averaged over classes."""
    classes = logits.shape[1]
    ce = (F.cross_entropy(logits, labels, reduction="none") * weights).mean()
    p = torch.softmax(logits, dim=1)
    t = F.one_hot(labels, classes).permute(0, 3, 1, 2).to(p.dtype)
    inter = (p * t).sum(dim=(0, 2, 3))
    union = (p + t).sum(dim=(0, 2, 3))
    dice = (1 - 2 * inter / (union + smooth)).mean()
    return ce + dice


def synthetic_batch(batch, channels, size, classes, seed):
    rng = np.random.default_rng(seed)
    cells = max(classes, size * size // 256)
    images = np.empty((batch, channels, size, size), np.float32)
    labels = np.empty((batch, size, size), np.int64)
    yy, xx = np.mgrid[0:size, 0:size] + 0.5
    for n in range(batch):
        pts = rng.random((cells, 2)) * size
        cls = np.concatenate([np.arange(classes), rng.integers(0, classes, cells - classes)])
        best = np.full((size, size), np.inf)
        lab = np.zeros((size, size), np.int64)
        for c in range(cells):
            d = (xx - pts[c, 0]) ** 2 + (yy - pts[c, 1]) ** 2
            closer = d < best
            best[closer] = d[closer]
            lab[closer] = cls[c]
        labels[n] = lab
        tone = np.mod(lab * 0.6180339887498949, 1.0)
        noise = rng.random((channels, size, size)) - 0.5
        images[n] = np.clip(0.15 + 0.7 * tone[None] + 0.3 * noise, 0, 1)
    edge = np.zeros_like(labels, dtype=bool)
    edge[:, 1:, :] |= labels[:, 1:, :] != labels[:, :-1, :]
    edge[:, :-1, :] |= labels[:, :-1, :] != labels[:, 1:, :]
    edge[:, :, 1:] |= labels[:, :, 1:] != labels[:, :, :-1]
    edge[:, :, :-1] |= labels[:, :, :-1] != labels[:, :, 1:]
    weights = np.where(edge, 6.0, 1.0).astype(np.float32)
    return torch.from_numpy(images), torch.from_numpy(labels), torch.from_numpy(weights)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--classes", type=int, default=79)
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(1)
    model = FastSurferCNN(classes=args.classes)
    n_params = sum(p.numel() for p in model.parameters() if p.requires_grad)
    if args.classes == 79:
        assert n_params == 1_799_206, f"{n_params} trainable parameters, MODEL.md says 1,799,206"
    opt = torch.optim.Adam(model.parameters(), lr=0.01, betas=(0.9, 0.999), eps=1e-8,
                           weight_decay=0)
    x, y, w = synthetic_batch(args.batch, 7, args.size, args.classes, 1)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, "
          f"mkldnn={torch.backends.mkldnn.is_available()}")
    print(f"FastSurferCNN 1.x, batch {args.batch} x 7 x {args.size} x {args.size}, "
          f"{args.classes} classes, {n_params} trainable parameters, Adam lr 0.01")
    model.train()

    def step():
        c0 = time.process_time()  # CPU time beside wall time: the development VM is shared
        t0 = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        loss = ce_dice_loss(model(x), y, w)
        t1 = time.perf_counter()
        loss.backward()
        t2 = time.perf_counter()
        opt.step()
        t3 = time.perf_counter()
        return loss.item(), (t1 - t0, t2 - t1, t3 - t2), time.process_time() - c0

    before = [p.detach().clone() for p in model.parameters()]
    for _ in range(args.warmup):
        loss, _, _ = step()
        assert np.isfinite(loss), f"loss {loss}"
    rows, cpus = [], []
    load_before = os.getloadavg()[0]
    for s in range(args.steps):
        loss, phases, cpu = step()
        assert np.isfinite(loss), f"loss {loss}"
        rows.append(phases)
        cpus.append(cpu)
        print(f"  step {s}: {sum(phases) * 1e3:10.1f} ms wall (forward+loss {phases[0] * 1e3:.1f}, "
              f"backward {phases[1] * 1e3:.1f}, Adam {phases[2] * 1e3:.1f}), {cpu * 1e3:.1f} ms "
              f"CPU, load {os.getloadavg()[0]:.2f}, loss {loss:.6f}", flush=True)
    load_after = os.getloadavg()[0]
    assert any(not torch.equal(a, b) for a, b in zip(before, model.parameters())), \
        "the steps left the parameters unchanged"
    total = [sum(r) for r in rows]
    mean = sum(total) / len(total)
    fwd = sum(r[0] for r in rows) / len(rows)
    bwd = sum(r[1] for r in rows) / len(rows)
    upd = sum(r[2] for r in rows) / len(rows)
    cpu = sum(cpus) / len(cpus)
    print(f"{'peer':<8} {'ms/step':>10} {'min ms':>10} {'CPU ms':>10} {'images/s':>9} "
          f"{'fwd ms':>9} {'bwd ms':>9} {'adam ms':>8} {'load':>11}")
    print(f"{'pytorch':<8} {mean * 1e3:>10.1f} {min(total) * 1e3:>10.1f} {cpu * 1e3:>10.1f} "
          f"{args.batch / mean:>9.3f} {fwd * 1e3:>9.1f} {bwd * 1e3:>9.1f} {upd * 1e3:>8.1f} "
          f"{load_before:5.2f}-{load_after:5.2f}")


if __name__ == "__main__":
    main()
