#!/usr/bin/env python3
"""PyTorch reference for `cargo run --release -p dupstudy-cnn --example throughput`.

Measures the same two networks (the paper's code), the same modes and settings, and prints
the same JSON. Run both in one sitting on the same machine, e.g.:

    python3 -m venv /tmp/venv-torch && /tmp/venv-torch/bin/pip install torch
    /tmp/venv-torch/bin/python scripts/torch_throughput.py --model standard --mode train --threads 2
    cargo run --release -p dupstudy-cnn --example throughput -- --model standard --mode train --threads 2

Modes: train (one SGD/Adam step with dropout), pgd (PGD-10 with eps 8/255, step 2/255, random
start, then an optimizer step on the adversarial batch), eval (forward, no gradients).
"""
import argparse
import json
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class Net(nn.Module):
    def __init__(self, c1, c2, hidden, dropout):
        super().__init__()
        self.conv1 = nn.Conv2d(3, c1, 3, padding=1)
        self.conv2 = nn.Conv2d(c1, c2, 3, padding=1)
        self.fc1 = nn.Linear(c2 * 8 * 8, hidden)
        self.fc2 = nn.Linear(hidden, 10)
        self.dropout = nn.Dropout(dropout) if dropout else nn.Identity()
        self.register_buffer("mean", torch.full((1, 3, 1, 1), 0.5))
        self.register_buffer("std", torch.full((1, 3, 1, 1), 0.5))

    def forward(self, x):
        x = (x - self.mean) / self.std
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = torch.flatten(x, 1)
        x = self.dropout(F.relu(self.fc1(x)))
        return self.fc2(x)


def pgd(model, x, y, eps=8 / 255, alpha=2 / 255, steps=10):
    adv = (x + torch.empty_like(x).uniform_(-eps, eps)).clamp(0, 1)
    for _ in range(steps):
        adv.requires_grad_(True)
        loss = F.cross_entropy(model(adv), y)
        grad, = torch.autograd.grad(loss, adv)
        adv = adv.detach() + alpha * grad.sign()
        adv = torch.min(torch.max(adv, x - eps), x + eps).clamp(0, 1)
    return adv.detach()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--model", choices=["standard", "adversarial"], default="standard")
    p.add_argument("--mode", choices=["train", "pgd", "eval"], default="train")
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--device", default="cpu")
    a = p.parse_args()
    if a.threads:
        torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    dev = torch.device(a.device)
    if a.model == "standard":
        model = Net(16, 32, 128, 0.5).to(dev)
        opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)
    else:
        model = Net(32, 64, 256, None).to(dev)
        opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    x = torch.rand(a.batch, 3, 32, 32, device=dev)
    y = torch.randint(0, 10, (a.batch,), device=dev)
    times = []
    for step in range(a.warmup + a.steps):
        t0 = time.perf_counter()
        if a.mode == "eval":
            model.eval()
            with torch.no_grad():
                model(x).argmax(1)
        else:
            inputs = x
            if a.mode == "pgd":
                model.eval()
                inputs = pgd(model, x, y)
            model.train()
            opt.zero_grad(set_to_none=True)
            F.cross_entropy(model(inputs), y).backward()
            opt.step()
        if dev.type == "cuda":
            torch.cuda.synchronize()
        if step >= a.warmup:
            times.append(time.perf_counter() - t0)
    times.sort()
    median = times[len(times) // 2]
    print(json.dumps({
        "framework": f"pytorch {torch.__version__}",
        "model": a.model.capitalize(), "mode": a.mode.capitalize(), "batch": a.batch,
        "steps": a.steps, "warmup": a.warmup, "threads": torch.get_num_threads(),
        "device": a.device, "median_step_s": round(median, 6),
        "images_per_s": round(a.batch / median, 1),
    }))


if __name__ == "__main__":
    main()
