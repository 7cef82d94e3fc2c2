"""PyTorch CPU autograd of the CAM loss (the formulas of apps/docs/src/concepts/cam-loss.md), timed for the loss-core benchmark.

Usage: python3 torch_cam.py THREADS RUNS B D C [B D C ...]
Prints one JSON object per shape and anchor regime:
{"shape": [B, D, C], "regime": "close"|"spread", "median_us": ..., "variant": ...}.
Two natural formulations of the pairwise anchor distances are timed (Gram matrix and torch.cdist);
the faster one is reported, so the comparison is against PyTorch's best of the two.
"""
import json
import statistics
import sys
import time

import torch


def cam_loss(e, y, c, margin=1.0, min_norm=1.0, pairwise="gram"):
    attractor = 0.5 * ((e - c[y]) ** 2).sum(dim=1).mean()
    if pairwise == "gram":
        sq = (c * c).sum(dim=1)
        d2 = sq[:, None] + sq[None, :] - 2.0 * (c @ c.T)
        dist = d2.clamp_min(1e-12).sqrt()
    else:
        dist = torch.cdist(c, c)
    off_diag = ~torch.eye(c.shape[0], dtype=torch.bool)
    h = (2.0 * margin - dist).clamp_min(0.0)
    repeller = 0.5 * (h * h)[off_diag].sum()
    min_norm_term = (min_norm - c.norm(dim=1)).clamp_min(0.0).sum()
    return attractor + repeller + min_norm_term


def main():
    threads, runs = int(sys.argv[1]), int(sys.argv[2])
    torch.set_num_threads(threads)
    shapes = [tuple(int(v) for v in sys.argv[i : i + 3]) for i in range(3, len(sys.argv), 3)]
    for (b, d, classes), regime in [(s, r) for s in shapes for r in ("close", "spread")]:
        g = torch.Generator().manual_seed(1)
        e = torch.randn(b, d, generator=g).requires_grad_()
        c = torch.randn(classes, d, generator=g)
        if regime == "close":
            # every pair inside 2m: the worst case for the repeller's gradient
            c = c * (0.6 / d**0.5)
        else:
            # random directions at radius 1.01·√2: nearly orthogonal, so pairs sit just outside 2m
            c = c / c.norm(dim=1, keepdim=True) * (1.01 * 2**0.5)
        c = c.requires_grad_()
        y = torch.randint(0, classes, (b,), generator=g)
        best = None
        for variant in ("gram", "cdist"):
            times = []
            for i in range(runs + 3):
                e.grad = None
                c.grad = None
                t0 = time.perf_counter()
                loss = cam_loss(e, y, c, pairwise=variant)
                loss.backward()
                t1 = time.perf_counter()
                if i >= 3:
                    times.append((t1 - t0) * 1e6)
            med = statistics.median(times)
            if best is None or med < best[0]:
                best = (med, variant)
        print(json.dumps({"shape": [b, d, classes], "regime": regime, "median_us": best[0], "variant": best[1]}), flush=True)


if __name__ == "__main__":
    main()
