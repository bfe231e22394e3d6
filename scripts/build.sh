#!/usr/bin/env bash
# Configures and builds gluegen (Release, Ninja, ccache when present) into ${GLUEGEN_BUILD_DIR:-build}.
# CUDA sources are compiled whenever nvcc is found (GLUEGEN_CUDA=AUTO), GPU or not.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${GLUEGEN_BUILD_DIR:-$root/build}"
export PATH="$PATH:/usr/local/cuda/bin"
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release "$@" >/dev/null
cmake --build "$build" -j "$(nproc)"
