#!/usr/bin/env bash
# Runs the study matrix as a Slurm array job, one work unit per array task.
#
# On the login node, from the repository root (builds once, writes plan.json):
#   cargo build --release -p xtask            # add --features cuda via scripts/build-cuda13.sh on GPU nodes
#   RESULTS=$PWD/results/paper
#   target/release/xtask plan --profile paper --out "$RESULTS" > "$RESULTS/units.txt"
#   sbatch --array=0-$(( $(wc -l < "$RESULTS/units.txt") - 1 )) scripts/slurm-array.sh "$RESULTS"
# When the array has finished (or to pick up what failed), aggregate on any node:
#   target/release/xtask reproduce --profile paper --out "$RESULTS"
# `reproduce` runs whatever is still missing, then writes REPORT.md and the figures.
#
# Every unit is claimed with an atomic file create, finished units are skipped, and a unit
# killed mid-way resumes from its last epoch checkpoint, so tasks can be retried or run
# twice safely. The results folder must be on a file system all nodes share.
#SBATCH --job-name=dupstudy
#SBATCH --cpus-per-task=4
#SBATCH --gres=gpu:1
#SBATCH --time=12:00:00
#SBATCH --output=dupstudy-%A_%a.log
set -euo pipefail
results="${1:?usage: sbatch --array=0-N scripts/slurm-array.sh RESULTS_DIR}"
task="${SLURM_ARRAY_TASK_ID:?run this under sbatch --array}"
unit=$(sed -n "$((task + 1))p" "$results/units.txt")
if [ -z "$unit" ]; then
  echo "no unit for array task $task" >&2
  exit 1
fi
cd "$(dirname "$0")/.."
exec target/release/xtask run-cell "$unit" --out "$results" --device auto ${CIFAR10_DIR:+--data-dir "$CIFAR10_DIR"}
