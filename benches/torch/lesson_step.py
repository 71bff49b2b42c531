"""PyTorch side of `cargo xtask bench`: the lesson's CNN training steps, timed.

An independent implementation of the 07_batchnorm lesson's model and training loop, used
only as a speed reference: the same data (real MNIST read from the IDX files), the same
model (five stride-2 convolutions 1-8-16-32-64-64, ReLU then the norm after each, average
pool, linear head), Kaiming-normal init with a = 0.1, mean cross-entropy, plain SGD
(`p -= lr * grad`) under a one-cycle learning-rate schedule, and a fresh shuffle of the
50,000 training images per epoch.

It runs as a server so that `cargo xtask bench` can interleave it with its own runs
without paying Python's start-up each time: it reads one JSON request per line on stdin
and answers one JSON line on stdout.

    python lesson_step.py --data DIR --threads N [--train-len 50000]
    request:  {"norm": "batch" | "running", "bs": 512, "warmup": 3, "steps": 95,
               "sched": [0.2, 1.0, 0.01], "seed": 0}
    answer:   {"seconds": 1.23, "steps": 95}     (seconds over the timed steps only)

`steps` training steps are timed after `warmup` untimed ones; the schedule's position runs
over all `warmup + steps` steps, as one (capped) epoch. When a request needs more steps
than one epoch has, the data are reshuffled and the steps continue. A request `{"quit":
true}` (or the end of stdin) stops the server. PyTorch is never a dependency of the Rust
workspace: this script only runs when a Python with torch is found.
"""

import argparse
import gzip
import json
import math
import os
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

TRAIN_LEN = 50_000


def read_idx(path):
    """The array stored in an IDX file (optionally gzipped): big-endian dims, uint8 data."""
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        raw = f.read()
    ndim = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def find(data_dir, stem):
    for name in (stem, stem + ".gz"):
        path = os.path.join(data_dir, name)
        if os.path.exists(path):
            return path
    raise FileNotFoundError(f"{stem}[.gz] not found in {data_dir}")


def load_train(data_dir, n):
    """The lesson's training split (the first `n` training images), normalised by its own
    mean and (unbiased) std."""
    images = read_idx(find(data_dir, "train-images-idx3-ubyte"))
    labels = read_idx(find(data_dir, "train-labels-idx1-ubyte"))
    n = min(n, len(images))
    x = torch.from_numpy(images[:n].reshape(n, 784).astype(np.float32) / 255.0)
    y = torch.from_numpy(labels[:n].astype(np.int64))
    mean, std = x.mean(), x.std()
    return (x - mean) / std, y


class RunningBatchNorm(nn.Module):
    """fastai's RunningBatchNorm (version 1, as the lesson states it): per-channel running
    sums and sums of squares, lerped toward the batch's with weight
    mom1 = 1 - (1 - mom) / sqrt(bs - 1), debiased while `step < 100`, variance clamped to
    at least 0.01 while fewer than 20 samples have been seen."""

    def __init__(self, channels, mom=0.1, eps=1e-5):
        super().__init__()
        self.mom, self.eps = mom, eps
        self.mults = nn.Parameter(torch.ones(channels, 1, 1))
        self.adds = nn.Parameter(torch.zeros(channels, 1, 1))
        for name in ("sums", "sqrs"):
            self.register_buffer(name, torch.zeros(1, channels, 1, 1))
        for name in ("count", "batch", "step", "dbias"):
            self.register_buffer(name, torch.tensor(0.0))

    def _update(self, x):
        n, c = x.shape[0], x.shape[1]
        axes = (0, 2, 3)
        s = x.sum(axes, keepdim=True)
        ss = (x * x).sum(axes, keepdim=True)
        w = 1.0 - (1.0 - self.mom) / math.sqrt(n - 1)
        # The gradient flows through this batch's share of the running sums only.
        self.sums = torch.lerp(self.sums.detach(), s, w)
        self.sqrs = torch.lerp(self.sqrs.detach(), ss, w)
        with torch.no_grad():
            self.count.lerp_(torch.tensor(x.numel() / c), w)
            self.dbias.mul_(1.0 - w).add_(w)
            self.batch.add_(n)
            self.step.add_(1)

    def forward(self, x):
        if self.training:
            self._update(x)
        sums, sqrs, count = self.sums, self.sqrs, self.count
        if self.step.item() < 100:
            sums, sqrs, count = sums / self.dbias, sqrs / self.dbias, count / self.dbias
        mean = sums / count
        var = sqrs / count - mean * mean
        if self.batch.item() < 20:
            var = var.clamp_min(0.01)
        return (x - mean) / (var + self.eps).sqrt() * self.mults + self.adds


def make_model(norm, seed):
    torch.manual_seed(seed)
    widths = [1, 8, 16, 32, 64, 64]
    layers = []
    for i in range(5):
        k = 5 if i == 0 else 3
        conv = nn.Conv2d(widths[i], widths[i + 1], k, stride=2, padding=k // 2, bias=False)
        nn.init.kaiming_normal_(conv.weight, a=0.1)
        bn = nn.BatchNorm2d(widths[i + 1]) if norm == "batch" else RunningBatchNorm(widths[i + 1])
        layers += [conv, nn.ReLU(), bn]
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(64, 10)]
    return nn.Sequential(*layers)


def one_cycle(lo, hi, end):
    """combine_scheds([.3, .7], [sched_cos(lo, hi), sched_cos(hi, end)])."""

    def cos(a, b, t):
        return a + (1 + math.cos(math.pi * (1 - t))) * (b - a) / 2

    def at(pos):
        return cos(lo, hi, pos / 0.3) if pos < 0.3 else cos(hi, end, (pos - 0.3) / 0.7)

    return at


def run(req, x, y):
    bs, warmup, steps = int(req["bs"]), int(req["warmup"]), int(req["steps"])
    sched = one_cycle(*req.get("sched", [0.2, 1.0, 0.01]))
    gen = torch.Generator().manual_seed(int(req.get("seed", 0)))
    model = make_model(req["norm"], int(req.get("seed", 0)))
    model.train()
    params = list(model.parameters())
    total = warmup + steps
    n = len(x)
    per_epoch = math.ceil(n / bs)
    order, pos_in_epoch = None, per_epoch
    start = None
    for it in range(total):
        if it == warmup:
            start = time.perf_counter()
        if pos_in_epoch == per_epoch:
            order, pos_in_epoch = torch.randperm(n, generator=gen), 0
        idx = order[pos_in_epoch * bs:(pos_in_epoch + 1) * bs]
        pos_in_epoch += 1
        xb = x.index_select(0, idx).view(-1, 1, 28, 28)
        yb = y.index_select(0, idx)
        loss = F.cross_entropy(model(xb), yb)
        loss.backward()
        lr = sched(it / total)
        with torch.no_grad():
            for p in params:
                p.sub_(p.grad, alpha=lr)
                p.grad = None
    elapsed = time.perf_counter() - start if start is not None else 0.0
    return {"seconds": elapsed, "steps": steps, "loss": float(loss.detach())}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--train-len", type=int, default=TRAIN_LEN)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    x, y = load_train(args.data, args.train_len)
    hello = {"torch": torch.__version__, "threads": torch.get_num_threads(),
             "capability": torch.backends.cpu.get_cpu_capability()}
    print(json.dumps(hello), flush=True)
    for line in sys.stdin:
        line = line.strip()
        if not line:
            continue
        req = json.loads(line)
        if req.get("quit"):
            break
        try:
            answer = run(req, x, y)
        except Exception as e:  # reported to the caller, which stops with the message
            answer = {"error": f"{type(e).__name__}: {e}"}
        print(json.dumps(answer), flush=True)


if __name__ == "__main__":
    main()
