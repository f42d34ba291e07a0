#!/usr/bin/env python3
"""The paper's standard-training protocol in PyTorch, as a reference beside our cells.

Same data files (the official CIFAR-10 binary format, read here directly), same network
(conv 3->16->32, 3x3, pad 1, ReLU, 2x2 max-pool, linear 2048->128, ReLU, dropout 0.5,
linear 128->10, inputs normalized with mean 0.5 and std 0.5 inside the model), same
optimizer (SGD, lr 0.01, momentum 0.9, weight decay 5e-4), batch 128, 30 epochs over all
50,000 training images (D-rate 0), random crop with 4 pixels of zero padding and a
horizontal flip with probability 1/2 (vectorized over the batch), clean accuracy on the
10,000 test images.

    python3 -m venv /tmp/venv-torch && /tmp/venv-torch/bin/pip install torch numpy
    /tmp/venv-torch/bin/python scripts/torch_paper_standard.py --seed 0 \
        --data-dir ../shared/cifar-10-jpeg/cifar-10-batches-bin \
        --out docs/paper-standard/cifar-standard/reference

Writes `pytorch-seed<SEED>.json` (atomically) into --out; `cargo xtask report` puts every
such file next to our D-rate-0 cells.
"""
import argparse
import hashlib
import json
import os
import platform
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

RECORD = 3073


def read_batches(paths):
    labels, pixels = [], []
    for path in paths:
        raw = np.fromfile(path, dtype=np.uint8)
        if raw.size % RECORD != 0:
            raise SystemExit(f"{path}: {raw.size} bytes is not a whole number of {RECORD}-byte records")
        raw = raw.reshape(-1, RECORD)
        labels.append(raw[:, 0].copy())
        pixels.append(raw[:, 1:].copy())
    return np.concatenate(labels), np.concatenate(pixels)


def content_sha256(train, test):
    """SHA-256 of all labels (train then test) and then all pixels, as our cells record it."""
    h = hashlib.sha256()
    h.update(train[0].tobytes())
    h.update(test[0].tobytes())
    h.update(train[1].tobytes())
    h.update(test[1].tobytes())
    return h.hexdigest()


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 16, 3, padding=1)
        self.conv2 = nn.Conv2d(16, 32, 3, padding=1)
        self.fc1 = nn.Linear(32 * 8 * 8, 128)
        self.fc2 = nn.Linear(128, 10)
        self.dropout = nn.Dropout(0.5)

    def forward(self, x):
        x = (x - 0.5) / 0.5
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = torch.flatten(x, 1)
        x = self.dropout(F.relu(self.fc1(x)))
        return self.fc2(x)


def augment(x, generator):
    """Random 32x32 crop of the zero-padded (4 px) batch and a flip with probability 1/2."""
    n = x.shape[0]
    padded = F.pad(x, (4, 4, 4, 4))
    oy = torch.randint(0, 9, (n,), generator=generator)
    ox = torch.randint(0, 9, (n,), generator=generator)
    ar = torch.arange(32)
    rows = (oy[:, None] + ar[None, :])[:, None, :, None].expand(n, 3, 32, 40)
    cols = (ox[:, None] + ar[None, :])[:, None, None, :].expand(n, 3, 32, 32)
    # Gather rows, then columns (two gathers keep it vectorized and exact).
    out = padded.gather(2, rows).gather(3, cols)
    flip = torch.rand(n, generator=generator) < 0.5
    return torch.where(flip[:, None, None, None], out.flip(3), out)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--seed", type=int, required=True)
    p.add_argument("--data-dir", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--epochs", type=int, default=30)
    p.add_argument("--threads", type=int, default=2)
    a = p.parse_args()
    if a.epochs < 1:
        raise SystemExit("--epochs must be at least 1")
    torch.set_num_threads(a.threads)
    train = read_batches([os.path.join(a.data_dir, f"data_batch_{k}.bin") for k in range(1, 6)])
    test = read_batches([os.path.join(a.data_dir, "test_batch.bin")])
    sha = content_sha256(train, test)
    x_train = torch.from_numpy(train[1].reshape(-1, 3, 32, 32)).float() / 255.0
    y_train = torch.from_numpy(train[0].astype(np.int64))
    x_test = torch.from_numpy(test[1].reshape(-1, 3, 32, 32)).float() / 255.0
    y_test = torch.from_numpy(test[0].astype(np.int64))

    torch.manual_seed(a.seed)
    generator = torch.Generator().manual_seed(a.seed)
    model = Net()
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)
    start = time.time()
    batch = 128
    for epoch in range(a.epochs):
        model.train()
        order = torch.randperm(len(x_train), generator=generator)
        total, correct, loss_sum = 0, 0, 0.0
        for k in range(0, len(order), batch):
            idx = order[k:k + batch]
            xb = augment(x_train[idx], generator)
            yb = y_train[idx]
            opt.zero_grad(set_to_none=True)
            logits = model(xb)
            loss = F.cross_entropy(logits, yb)
            loss.backward()
            opt.step()
            loss_sum += loss.item() * len(idx)
            correct += (logits.argmax(1) == yb).sum().item()
            total += len(idx)
        print(json.dumps({"epoch": epoch, "loss": loss_sum / total, "train_accuracy": correct / total,
                          "seconds": time.time() - start}), flush=True)
    model.eval()
    correct = 0
    with torch.no_grad():
        for k in range(0, len(x_test), 500):
            correct += (model(x_test[k:k + 500]).argmax(1) == y_test[k:k + 500]).sum().item()
    seconds = time.time() - start
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(l.split(":", 1)[1].strip() for l in f if l.startswith("model name"))
    except (OSError, StopIteration):
        pass
    record = {
        "framework": f"PyTorch {torch.__version__} (CPU, {a.threads} threads)",
        "script": "scripts/torch_paper_standard.py",
        "seed": a.seed,
        "train_images": len(x_train),
        "epochs": a.epochs,
        "batch_size": batch,
        "test_images": len(x_test),
        "test_accuracy": correct / len(x_test),
        "seconds": seconds,
        "cpu": cpu,
        "data_sha256": sha,
    }
    os.makedirs(a.out, exist_ok=True)
    path = os.path.join(a.out, f"pytorch-seed{a.seed}.json")
    with open(path + ".tmp", "w") as f:
        json.dump(record, f, indent=2)
    os.replace(path + ".tmp", path)
    print(json.dumps(record))


if __name__ == "__main__":
    main()
