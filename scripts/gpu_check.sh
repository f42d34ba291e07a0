#!/usr/bin/env bash
# The GPU measurements of issue 5, as one script for the device machine (an H200 with
# driver 580, PyTorch's CUDA 13 libraries, no Rust toolchain, no network).
#
# Here, first (about 20 minutes the first time):
#   scripts/build-cuda13.sh
#   mkdir -p .gpu && strip -o .gpu/throughput target/cuda13/release/examples/throughput
#   grep -qx '/.gpu/' .git/info/exclude || echo '/.gpu/' >> .git/info/exclude
# Then on the device, carrying `.gpu` (the stripped binary is about 54 MB):
#   bash scripts/gpu_check.sh            # writes $OUT/gpu.jsonl (or ./gpu.jsonl)
#
# It measures, for both paper networks on the GPU: the training step, the PGD-10
# adversarial-training step and evaluation (median images/s), one epoch of 391 batches of
# 128 (50,048 images) of standard and of PGD training, and PyTorch on the same GPU with
# the same models and settings (scripts/torch_throughput.py), all in one sitting.
set -uo pipefail
out="${OUT:-.}/gpu.jsonl"
: > "$out"
lib=$(python3 -c 'import nvidia, os; print(os.path.join(list(nvidia.__path__)[0], "cu13", "lib"))')
extra=$(python3 -c 'import nvidia, os, glob; p = list(nvidia.__path__)[0]; print(":".join(sorted(set(os.path.dirname(f) for f in glob.glob(os.path.join(p, "*", "lib", "libcurand.so*"))))))')
export LD_LIBRARY_PATH="$lib${extra:+:$extra}${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
bin=.gpu/throughput
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | tee -a "$out"
ldd "$bin" | grep -E 'cu|not found' | tee -a "$out"
run() { echo "+ $*" >&2; timeout 300 "$@" 2>>"${OUT:-.}/gpu.stderr" | tee -a "$out"; }
for model in standard adversarial; do
  for mode in train pgd eval; do
    run "$bin" --device cuda --model "$model" --mode "$mode" --steps 30 --warmup 5
    run python3 scripts/torch_throughput.py --device cuda --model "$model" --mode "$mode" --steps 30 --warmup 5
  done
done
run "$bin" --device cuda --model standard --mode train --steps 391 --warmup 3
run "$bin" --device cuda --model adversarial --mode pgd --steps 391 --warmup 3
echo "done: $out"
