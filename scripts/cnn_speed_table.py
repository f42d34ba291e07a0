#!/usr/bin/env python3
"""Side-by-side CPU throughput of dupstudy-cnn and PyTorch, in one sitting.

For each model (standard, adversarial) and mode (train, pgd, eval) it runs the two
programs alternately, `--rounds` times each, and reports the median images/s of each and
their ratio, with our achieved GFLOP/s and share of the FP32 FMA peak that the throughput
example measures in the same run (medians), as a markdown table (and the raw runs as JSON
lines on stderr).

    cargo build --release -p dupstudy-cnn --example throughput
    python3 -m venv /tmp/venv-torch && /tmp/venv-torch/bin/pip install torch
    /tmp/venv-torch/bin/python scripts/cnn_speed_table.py --threads 2

Nothing else should run on the machine meanwhile.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run(cmd):
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    line = [l for l in out.splitlines() if l.startswith("{")][-1]
    print(line, file=sys.stderr)
    return json.loads(line)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--ours", default=os.path.join(ROOT, "target/release/examples/throughput"))
    a = p.parse_args()
    steps = {"train": ["--steps", "30", "--warmup", "10"], "pgd": ["--steps", "6", "--warmup", "2"],
             "eval": ["--steps", "40", "--warmup", "10"]}
    print(f"| model | mode | PyTorch images/s | ours images/s | ratio | ours GFLOP/s | share of the FMA peak |")
    print(f"|---|---|---:|---:|---:|---:|---:|")
    for model in ["standard", "adversarial"]:
        for mode in ["train", "pgd", "eval"]:
            common = ["--model", model, "--mode", mode, "--batch", str(a.batch),
                      "--threads", str(a.threads)] + steps[mode]
            torch_runs, our_runs = [], []
            for _ in range(a.rounds):
                torch_runs.append(run([sys.executable, os.path.join(ROOT, "scripts/torch_throughput.py")] + common))
                our_runs.append(run([a.ours] + common))
            t = statistics.median(r["images_per_s"] for r in torch_runs)
            o = statistics.median(r["images_per_s"] for r in our_runs)
            gflops = statistics.median(r["gflops"] for r in our_runs)
            share = statistics.median(r["share_of_peak"] for r in our_runs)
            print(f"| {model} | {mode} | {t:.0f} | {o:.0f} | {o / t:.2f}x | {gflops:.0f} | {100 * share:.1f} % |",
                  flush=True)


if __name__ == "__main__":
    main()
