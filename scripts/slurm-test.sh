#!/usr/bin/env bash
# The cluster path on a real Slurm (CI runs it): starts a one-node cluster
# (scripts/slurm-local.sh, installing slurm-wlm and munge when sbatch is absent), then
#   1. `xtask submit --slurm --profile smoke`: every array task and the report job end
#      COMPLETED, and the summaries and verdict rows equal a plain local smoke run's;
#   2. a task cancelled mid-cell (scancel) and submitted again resumes from its checkpoint
#      and gives the numbers of an uninterrupted local run;
#   3. two arrays over one results folder compute no cell twice;
#   4. a task whose data folder is missing fails naming it, while the others finish.
# Stops the daemons it started. Needs root, CIFAR10_DIR (or ../shared/cifar-10-jpeg) and
# a built `target/release/xtask` (under `$CARGO_TARGET_DIR` when set).
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"
data="${CIFAR10_DIR:-$(cd .. && pwd)/shared/cifar-10-jpeg/cifar-10-batches-bin}"
test -d "$data" || { echo "slurm-test: no CIFAR-10 at $data"; exit 1; }
xtask="${CARGO_TARGET_DIR:-$root/target}/release/xtask"
test -x "$xtask" || { echo "slurm-test: build xtask first (cargo build --release -p xtask)"; exit 1; }
work="$(mktemp -d /tmp/dupstudy-slurm-test.XXXXXX)"
cluster="$work/cluster"
trap 'scripts/slurm-local.sh stop "$cluster" >/dev/null 2>&1 || true' EXIT
scripts/slurm-local.sh start "$cluster"
export SLURM_CONF="$cluster/slurm.conf"
jobcomp="$cluster/jobcomp.log"

fail() { echo "slurm-test: FAIL: $*" >&2; exit 1; }

# The ids `xtask submit` printed.
job_of() { sed -n "s/^$1 job: \([0-9]*\).*/\1/p" "$2"; }

# Waits (bounded) until the controller lists none of the given jobs as pending or running.
wait_jobs() {
  local limit="$1"
  shift
  for _ in $(seq "$limit"); do
    if [ -z "$(squeue -h -j "$(IFS=,; echo "$*")" -t PENDING,RUNNING,CONFIGURING,COMPLETING 2>/dev/null)" ]; then
      return 0
    fi
    sleep 1
  done
  squeue
  fail "jobs $* still running after ${limit}s"
}

# `state count` lines of the finished tasks of array job $1 (from the job-completion log).
array_states() {
  { grep "ArrayJobId=$1 " "$jobcomp" || true; } | grep -o 'JobState=[A-Z_]*' | sort | uniq -c
}

# Job state of a plain job $1.
job_state() {
  { grep "^JobId=$1 " "$jobcomp" || true; } | grep -o 'JobState=[A-Z_]*' | tail -1 | cut -d= -f2
}

verdict_rows() { grep -E '^\| [A-Z][A-Za-z0-9]*-?[A-Za-z0-9-]* ' "$1"; }

echo "== 1. the smoke profile through xtask submit --slurm, against a local run"
"$xtask" reproduce --profile smoke --out "$work/local" --data-dir "$data" >"$work/local.log" 2>&1
"$xtask" submit --slurm --profile smoke --out "$work/slurm" --data-dir "$data" | tee "$work/submit.txt"
array=$(job_of array "$work/submit.txt")
report=$(job_of report "$work/submit.txt")
units=$(wc -l <"$work/slurm/units.txt")
wait_jobs 900 "$array" "$report"
completed=$(array_states "$array" | awk '/JobState=COMPLETED/ {print $1}')
[ "${completed:-0}" -eq "$units" ] || { array_states "$array"; fail "$units array tasks, ${completed:-0} COMPLETED"; }
[ "$(job_state "$report")" = COMPLETED ] || fail "report job $report: $(job_state "$report")"
for study in gaussian cifar-standard cifar-adversarial cifar-natural; do
  cmp "$work/local/$study/summary.csv" "$work/slurm/$study/summary.csv" ||
    fail "$study/summary.csv differs from the local run's"
done
diff <(verdict_rows "$work/local/REPORT.md") <(verdict_rows "$work/slurm/REPORT.md") ||
  fail "verdict rows differ from the local run's"
echo "ok: $units array tasks COMPLETED, report job COMPLETED, summaries and verdicts equal the local run's"

echo "== 2. a task cancelled mid-cell, submitted again, resumes"
# One CIFAR cell long enough to be caught between epochs.
flags=(--profile smoke --study cifar-standard --d-rates 0 --seeds 1 --train-subset 20000 --epochs 6)
"$xtask" reproduce "${flags[@]}" --out "$work/fault-local" --data-dir "$data" >"$work/fault-local.log" 2>&1
RUST_LOG=dupstudy_study=info "$xtask" submit --slurm "${flags[@]}" --out "$work/fault" --data-dir "$data" >"$work/fault-submit.txt"
array=$(job_of array "$work/fault-submit.txt")
report=$(job_of report "$work/fault-submit.txt")
caught=""
for _ in $(seq 600); do
  state=$(find "$work/fault/checkpoints" -name state.json 2>/dev/null | head -1 || true)
  if [ -n "$state" ] && grep -q '"next_epoch": [1-4],' "$state" 2>/dev/null; then
    caught=$(grep -o '"next_epoch": [0-9]*' "$state" || true)
    break
  fi
  sleep 0.2
done
[ -n "$caught" ] || fail "no epoch checkpoint appeared within 120 s"
scancel "$array" "$report"
wait_jobs 120 "$array" "$report"
[ -z "$(ls "$work/fault/cifar-standard/cells/"*.json 2>/dev/null)" ] || fail "the cell finished before it was cancelled"
RUST_LOG=dupstudy_study=info "$xtask" submit --slurm "${flags[@]}" --out "$work/fault" --data-dir "$data" >"$work/fault-submit2.txt"
array2=$(job_of array "$work/fault-submit2.txt")
report2=$(job_of report "$work/fault-submit2.txt")
wait_jobs 900 "$array2" "$report2"
[ "$(job_state "$report2")" = COMPLETED ] || fail "report job $report2 after the resubmission: $(job_state "$report2")"
grep -q "resumed from checkpoint" "$work/fault/slurm/${array2}_0.log" ||
  fail "the resubmitted task did not resume from the checkpoint ($work/fault/slurm/${array2}_0.log)"
cmp "$work/fault-local/cifar-standard/summary.csv" "$work/fault/cifar-standard/summary.csv" ||
  fail "the resumed cell's numbers differ from an uninterrupted run's"
echo "ok: cancelled with the checkpoint at $caught, resumed, same numbers as an uninterrupted run"

echo "== 3. two arrays over one results folder"
"$xtask" submit --slurm --profile smoke --out "$work/twice" --data-dir "$data" >"$work/twice-a.txt"
"$xtask" submit --slurm --profile smoke --out "$work/twice" --data-dir "$data" >"$work/twice-b.txt"
a=$(job_of array "$work/twice-a.txt"); ra=$(job_of report "$work/twice-a.txt")
b=$(job_of array "$work/twice-b.txt"); rb=$(job_of report "$work/twice-b.txt")
wait_jobs 900 "$a" "$b" "$ra" "$rb"
units=$(wc -l <"$work/twice/units.txt")
# Tasks that computed their unit (a task logs `computed ID` once from its progress and once
# at the end; one that found its unit done logs `ID is already done`).
computed=$({ grep -l '^computed ' "$work/twice/slurm/${a}"_*.log "$work/twice/slurm/${b}"_*.log || true; } | wc -l)
distinct=$(cat "$work/twice/slurm/${a}"_*.log "$work/twice/slurm/${b}"_*.log | { grep '^computed ' || true; } | sort -u | wc -l)
[ "$computed" -eq "$units" ] && [ "$distinct" -eq "$units" ] ||
  fail "$units units, computed $computed times ($distinct distinct) by the two arrays"
for study in gaussian cifar-standard cifar-adversarial cifar-natural; do
  cmp "$work/local/$study/summary.csv" "$work/twice/$study/summary.csv" || fail "$study differs"
done
echo "ok: 2 x $units tasks, each unit computed once"

echo "== 4. a task whose data folder is missing"
ln -s "$data" "$work/data-link"
"$xtask" submit --slurm --profile smoke --study gaussian,cifar-standard --out "$work/nodata" \
  --data-dir "$work/data-link" --sbatch=--hold >"$work/nodata.txt"
array=$(job_of array "$work/nodata.txt")
report=$(job_of report "$work/nodata.txt")
rm "$work/data-link"
scontrol release "$array" >/dev/null
scontrol release "$report" >/dev/null
wait_jobs 600 "$array" "$report"
units=$(wc -l <"$work/nodata/units.txt")
completed=$(array_states "$array" | awk '/JobState=COMPLETED/ {print $1}')
failed=$(array_states "$array" | awk '/JobState=FAILED/ {print $1}')
[ "${completed:-0}" -eq 1 ] && [ "${failed:-0}" -eq $((units - 1)) ] ||
  { array_states "$array"; fail "expected the Gaussian task COMPLETED and $((units - 1)) CIFAR tasks FAILED"; }
grep -q '^computed gaussian' "$work/nodata/slurm/${array}"_*.log || fail "the Gaussian unit did not finish"
named=$({ grep -l "$work/data-link" "$work/nodata/slurm/${array}"_*.log || true; } | wc -l)
[ "$named" -eq $((units - 1)) ] || fail "$named of $((units - 1)) failed tasks name the missing folder"
echo "ok: the Gaussian task finished; $((units - 1)) CIFAR tasks failed naming $work/data-link"

scripts/slurm-local.sh stop "$cluster"
trap - EXIT
rm -rf "$work" 2>/dev/null || { sleep 2; rm -rf "$work"; }
echo "slurm-test: all checks passed"
