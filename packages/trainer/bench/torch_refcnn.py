#!/usr/bin/env python3
"""One refcnn training step in PyTorch on the CPU, timed the way bench/index.ts times tfjs.

Same network (conv3x3(32)+ReLU+maxpool2, conv3x3(64)+ReLU+maxpool2, conv3x3(128)+ReLU, global
average pool, dense(dim)) with the same dense(classes) softmax cross-entropy head and Adam.
Prints one JSON object: per-step wall and process-CPU milliseconds, their medians, images per second.
"""
import argparse
import json
import statistics
import time

import torch
import torch.nn.functional as F
from torch import nn


class RefCnn(nn.Module):
    def __init__(self, channels: int, dim: int, classes: int):
        super().__init__()
        self.conv1 = nn.Conv2d(channels, 32, 3, padding=1)
        self.conv2 = nn.Conv2d(32, 64, 3, padding=1)
        self.conv3 = nn.Conv2d(64, 128, 3, padding=1)
        self.embedding = nn.Linear(128, dim)
        self.head = nn.Linear(dim, classes)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = F.relu(self.conv3(x))
        return self.head(self.embedding(x.mean(dim=(2, 3))))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--height", type=int, default=28)
    parser.add_argument("--width", type=int, default=28)
    parser.add_argument("--channels", type=int, default=1)
    parser.add_argument("--dim", type=int, default=64)
    parser.add_argument("--classes", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--steps", type=int, default=20)
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = RefCnn(args.channels, args.dim, args.classes)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    x = torch.rand(args.batch, args.channels, args.height, args.width)
    y = torch.randint(0, args.classes, (args.batch,))

    times = []
    cpu_times = []
    for step in range(args.warmup + args.steps):
        start = time.perf_counter()
        cpu_start = time.process_time()
        optimizer.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        optimizer.step()
        loss.item()
        elapsed = time.perf_counter() - start
        cpu_elapsed = time.process_time() - cpu_start
        if step >= args.warmup:
            times.append(elapsed * 1000)
            cpu_times.append(cpu_elapsed * 1000)
    median = statistics.median(times)
    print(json.dumps({
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "stepsMs": times,
        "medianMs": median,
        "imagesPerSecond": args.batch / (median / 1000),
        "cpuStepsMs": cpu_times,
        "medianCpuMs": statistics.median(cpu_times),
    }))


if __name__ == "__main__":
    main()
