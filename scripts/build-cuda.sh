#!/usr/bin/env bash
# build-cuda.sh [CARGO BUILD ARGS...]: builds DTM Studio with `--features cuda`, e.g.
#   scripts/build-cuda.sh --release --bin dtm-studio
# With a CUDA toolkit installed (nvcc on PATH) this is `cargo build --features cuda ARGS`. Without
# one it runs the build script named by DTM_CUDA_BUILD_SCRIPT (default: ../shared/gpu/build-cuda.sh
# beside the checkout), which takes NVIDIA's compiler and libraries from PyPI and links against a
# stub of the driver library, so a machine without a GPU can build. Output goes to
# $CARGO_TARGET_DIR (default target/cuda, apart from the CPU build).
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-target/cuda}
if command -v nvcc >/dev/null; then
  exec cargo build --features cuda "$@"
fi
helper=${DTM_CUDA_BUILD_SCRIPT:-../shared/gpu/build-cuda.sh}
if [ ! -x "$helper" ]; then
  echo "error: no CUDA toolkit (nvcc is not on PATH) and no build script at $helper." >&2
  echo "Install the CUDA toolkit (12.x or 13.x) and run this again, or set DTM_CUDA_BUILD_SCRIPT to a script that builds with --features cuda." >&2
  exit 1
fi
exec "$helper" --features cuda "$@"
