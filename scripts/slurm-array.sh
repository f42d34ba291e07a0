#!/usr/bin/env bash
# One work unit of the study per Slurm array task. `cargo xtask submit --slurm` submits it
# (with the report job that follows); by hand, from the repository root:
#
#   cargo build --release -p xtask              # GPU nodes: scripts/build-cuda13.sh first
#   RESULTS=$PWD/results/paper
#   target/release/xtask plan --profile paper --out "$RESULTS" > "$RESULTS/units.txt"
#   sbatch --array=0-$(( $(wc -l < "$RESULTS/units.txt") - 1 )) scripts/slurm-array.sh \
#       "$RESULTS" [--data-dir DIR] [--device cpu|cuda|auto]
#   # GPU clusters: add --gres=gpu:1 (and --cpus-per-task=N) to sbatch
#   target/release/xtask reproduce --profile paper --out "$RESULTS"   # afterwards: report
#
# Slurm runs a copy of this script from its spool folder, so the repository is found from
# DUPSTUDY_ROOT, else the folder sbatch was called from (SLURM_SUBMIT_DIR); the binary from
# DUPSTUDY_XTASK, else <root>/target/release/xtask. Flags after RESULTS go to
# `xtask run-cell` (--data-dir, --device). Each task uses SLURM_CPUS_PER_TASK threads.
#
# Every unit is claimed with an atomic file create, finished units are skipped, and a unit
# killed mid-way resumes from its last epoch checkpoint, so tasks can be retried or run
# twice safely. The results folder must be on a file system all nodes share.
#SBATCH --job-name=dupstudy
#SBATCH --time=12:00:00
set -euo pipefail
results="${1:?usage: sbatch --array=0-N scripts/slurm-array.sh RESULTS_DIR [run-cell flags]}"
shift
task="${SLURM_ARRAY_TASK_ID:?run this under sbatch --array}"
root="${DUPSTUDY_ROOT:-${SLURM_SUBMIT_DIR:-$PWD}}"
xtask="${DUPSTUDY_XTASK:-$root/target/release/xtask}"
if [ ! -x "$xtask" ]; then
  echo "dupstudy: no xtask binary at $xtask: build it with \`cargo build --release -p xtask\` in $root, or set DUPSTUDY_XTASK" >&2
  exit 1
fi
if [ ! -f "$results/units.txt" ]; then
  echo "dupstudy: $results/units.txt is missing: write it with \`xtask plan ... > $results/units.txt\` (or use \`xtask submit --slurm\`)" >&2
  exit 1
fi
unit=$(sed -n "$((task + 1))p" "$results/units.txt")
if [ -z "$unit" ]; then
  echo "dupstudy: no unit for array task $task in $results/units.txt" >&2
  exit 1
fi
export RAYON_NUM_THREADS="${RAYON_NUM_THREADS:-${SLURM_CPUS_PER_TASK:-1}}"
cd "$root"
echo "dupstudy: array task $task on $(hostname): $unit"
exec "$xtask" run-cell "$unit" --out "$results" "$@"
