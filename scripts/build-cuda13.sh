#!/usr/bin/env bash
# Builds dupstudy's `cuda` feature against CUDA 13.0, taken from NVIDIA's PyPI wheels, so
# the binary needs only the libraries a CUDA 13 machine already has (driver >= 580;
# libcudart.so.13, libcublas.so.13, libcublasLt.so.13, libcurand.so.10, libnvrtc.so.13,
# e.g. from PyTorch's nvidia-* packages) -- not the CUDA 11 libraries a build with
# Debian's nvidia-cuda-toolkit links.
#
#   scripts/build-cuda13.sh                 # builds the throughput example
#   scripts/build-cuda13.sh --bin xtask -p xtask   # or any other cargo build arguments
#
# Needs python3 with pip (wheels come from PyPI), gcc, and about 20 minutes on 2 cores.
# The result lands in target/cuda13/release/ (a separate target folder, so the CPU build
# stays warm). On the GPU machine, point LD_LIBRARY_PATH at the CUDA 13 libraries, e.g.
#   export LD_LIBRARY_PATH=$(python3 -c 'import nvidia, os; print(os.path.join(nvidia.__path__[0], "cu13/lib"))'):$LD_LIBRARY_PATH
#
# Environment: CUDA_COMPUTE_CAP (default 90, the H100/H200), DUPSTUDY_CUDA13_PREFIX (where
# the toolkit is unpacked; default target/cuda13-toolkit).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
prefix="${DUPSTUDY_CUDA13_PREFIX:-$root/target/cuda13-toolkit}"
cuda="$prefix/cuda"
export CUDA_COMPUTE_CAP="${CUDA_COMPUTE_CAP:-90}"

# CUDA 13.0 exactly: PTX from a newer nvcc would not load on a 13.0 driver (580.x).
wheels=(
  nvidia-cuda-nvcc==13.0.88 nvidia-nvvm==13.0.88 nvidia-cuda-crt==13.0.88
  nvidia-cuda-runtime==13.0.96 nvidia-cuda-nvrtc==13.0.88 nvidia-cuda-cccl==13.0.85
  nvidia-cublas==13.0.2.14 nvidia-curand==10.4.0.35
)

if [ ! -x "$cuda/bin/nvcc" ]; then
  echo "== fetching the CUDA 13.0 toolkit wheels into $prefix"
  mkdir -p "$prefix/wheels" "$prefix/site"
  python3 -m pip download --quiet --no-deps --only-binary=:all: -d "$prefix/wheels" "${wheels[@]}"
  for w in "$prefix"/wheels/*.whl; do
    python3 -m zipfile -e "$w" "$prefix/site"
  done
  rm -rf "$cuda"
  mv "$prefix/site/nvidia/cu13" "$cuda"
  chmod +x "$cuda"/bin/* "$cuda"/nvvm/bin/* 2>/dev/null || true
fi

# The linker wants unversioned names; the binary records the versioned sonames.
for lib in libcudart.so.13 libcublas.so.13 libcublasLt.so.13 libcurand.so.10 libnvrtc.so.13; do
  ln -sf "$lib" "$cuda/lib/${lib%%.so.*}.so"
done

# libcuda comes with the driver, not with the toolkit wheels. For linking only, build a
# stub with every driver entry point cudarc can call (names read from its bindings); at run
# time the driver's own libcuda.so.1 is loaded in its place.
stub_dir="$cuda/lib/stubs"
if [ ! -f "$stub_dir/libcuda.so" ]; then
  echo "== generating a link-time libcuda stub"
  (cd "$root" && cargo fetch --quiet)
  bindings=$(ls -d "${CARGO_HOME:-$HOME/.cargo}"/registry/src/*/cudarc-0.19.10/src/driver/sys/mod.rs | head -1)
  mkdir -p "$stub_dir"
  grep -oE 'pub unsafe fn cu[A-Za-z0-9_]+' "$bindings" | awk '{print $4}' | sort -u \
    | awk '{print "void " $1 "(void) {}"}' > "$stub_dir/libcuda_stub.c"
  gcc -shared -fPIC -o "$stub_dir/libcuda.so" -Wl,-soname,libcuda.so.1 "$stub_dir/libcuda_stub.c"
fi

export CUDA_HOME="$cuda" CUDA_PATH="$cuda" CUDA_ROOT="$cuda"
export PATH="$cuda/bin:$PATH"
export CUDARC_CUDA_VERSION=13000
export LIBRARY_PATH="$cuda/lib:$stub_dir${LIBRARY_PATH:+:$LIBRARY_PATH}"

args=("$@")
if [ ${#args[@]} -eq 0 ]; then
  args=(-p dupstudy-cnn --example throughput)
fi
echo "== nvcc: $(nvcc --version | tail -1); compute capability $CUDA_COMPUTE_CAP"
cd "$root"
cargo build --release --target-dir "$root/target/cuda13" --features dupstudy-cnn/cuda "${args[@]}"
echo "== built; CUDA libraries the binary needs:"
for bin in "$root"/target/cuda13/release/examples/throughput "$root"/target/cuda13/release/xtask; do
  if [ -f "$bin" ]; then
    echo "$bin"
    readelf -d "$bin" | grep NEEDED | grep -E 'cu|nvrtc' || true
  fi
done
