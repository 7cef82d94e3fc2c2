#!/usr/bin/env python3
"""ResNet-18 and the ViT training step in PyTorch on the CPU, timed the way bench/backbones.ts
times the trainer.

The same networks as src/models (resnet18.ts, vit.ts): ResNet-18 with basic blocks [2, 2, 2, 2],
batch norm (momentum 0.1 in PyTorch's convention = 0.9 in tfjs's, eps 1e-5), the CIFAR stem up to
64×64, channels 64·w … 512·w rounded to multiples of 8; the ViT with a patch×patch stride-patch
convolution, learned position embeddings, pre-norm blocks (MHSA, MLP with GELU), layer norm eps
1e-6 and mean or class-token pooling. Both end in dense(dim), then the dense(classes) softmax
cross-entropy head and Adam. Prints one JSON object: per-step wall and process-CPU milliseconds,
their medians and images per second.
"""
import argparse
import json
import statistics
import time

import torch
import torch.nn.functional as F
from torch import nn


def channels(base: int, width: float) -> int:
    return max(8, round(base * width / 8) * 8)


class BasicBlock(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout, eps=1e-5, momentum=0.1)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout, eps=1e-5, momentum=0.1)
        self.shortcut = None
        if stride != 1 or cin != cout:
            self.shortcut = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        y = F.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        return F.relu(y + (x if self.shortcut is None else self.shortcut(x)))


class ResNet18(nn.Module):
    def __init__(self, cin: int, size: int, width: float, dim: int):
        super().__init__()
        stem = channels(64, width)
        if size <= 64:
            self.stem = nn.Sequential(nn.Conv2d(cin, stem, 3, 1, 1, bias=False), nn.BatchNorm2d(stem), nn.ReLU())
        else:
            self.stem = nn.Sequential(
                nn.Conv2d(cin, stem, 7, 2, 3, bias=False), nn.BatchNorm2d(stem), nn.ReLU(), nn.MaxPool2d(3, 2, 1)
            )
        blocks = []
        c = stem
        for s, base in enumerate([64, 128, 256, 512]):
            out = channels(base, width)
            for b in range(2):
                blocks.append(BasicBlock(c, out, 2 if s > 0 and b == 0 else 1))
                c = out
        self.blocks = nn.Sequential(*blocks)
        self.embedding = nn.Linear(c, dim)

    def forward(self, x):
        return self.embedding(self.blocks(self.stem(x)).mean(dim=(2, 3)))


class Block(nn.Module):
    def __init__(self, width: int, heads: int, mlp: int):
        super().__init__()
        self.ln1 = nn.LayerNorm(width, eps=1e-6)
        self.attention = nn.MultiheadAttention(width, heads, batch_first=True)
        self.ln2 = nn.LayerNorm(width, eps=1e-6)
        self.mlp = nn.Sequential(nn.Linear(width, mlp), nn.GELU(), nn.Linear(mlp, width))

    def forward(self, x):
        h = self.ln1(x)
        x = x + self.attention(h, h, h, need_weights=False)[0]
        return x + self.mlp(self.ln2(x))


class Vit(nn.Module):
    def __init__(self, cin, size, patch, width, depth, heads, mlp_ratio, pooling, dim):
        super().__init__()
        self.patch = nn.Conv2d(cin, width, patch, patch)
        tokens = (size // patch) ** 2
        self.pooling = pooling
        self.token = nn.Parameter(torch.zeros(1, 1, width)) if pooling == "class" else None
        self.position = nn.Parameter(torch.randn(1, tokens + (pooling == "class"), width) * 0.02)
        self.blocks = nn.Sequential(*[Block(width, heads, round(width * mlp_ratio)) for _ in range(depth)])
        self.norm = nn.LayerNorm(width, eps=1e-6)
        self.embedding = nn.Linear(width, dim)

    def forward(self, x):
        x = self.patch(x).flatten(2).transpose(1, 2)
        if self.token is not None:
            x = torch.cat([self.token.expand(x.shape[0], -1, -1), x], dim=1)
        x = self.norm(self.blocks(x + self.position))
        return self.embedding(x[:, 0] if self.pooling == "class" else x.mean(dim=1))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", choices=["resnet18", "vit"], required=True)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--size", type=int, default=32)
    parser.add_argument("--channels", type=int, default=3)
    parser.add_argument("--dim", type=int, default=64)
    parser.add_argument("--classes", type=int, default=10)
    parser.add_argument("--width", type=float, default=1)
    parser.add_argument("--patch", type=int, default=4)
    parser.add_argument("--depth", type=int, default=4)
    parser.add_argument("--heads", type=int, default=4)
    parser.add_argument("--mlp-ratio", type=float, default=2)
    parser.add_argument("--pooling", choices=["class", "mean"], default="mean")
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--steps", type=int, default=10)
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    if args.model == "resnet18":
        body = ResNet18(args.channels, args.size, args.width, args.dim)
    else:
        body = Vit(args.channels, args.size, args.patch, int(args.width), args.depth, args.heads,
                   args.mlp_ratio, args.pooling, args.dim)
    model = nn.Sequential(body, nn.Linear(args.dim, args.classes))
    model.train()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    x = torch.rand(args.batch, args.channels, args.size, args.size) * 2 - 1
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
        if step >= args.warmup:
            times.append((time.perf_counter() - start) * 1000)
            cpu_times.append((time.process_time() - cpu_start) * 1000)
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
