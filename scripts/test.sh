#!/usr/bin/env bash
# All tests, on a fresh machine: install dependencies, build (CUDA sources too when nvcc exists),
# run every test with ctest (CUDA tests report "Skipped" without a GPU), then install gluegen to a
# temporary prefix and build and run examples/consumer against it with find_package(gluegen).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${GLUEGEN_BUILD_DIR:-$root/build}"
bash "$root/scripts/setup.sh"
bash "$root/scripts/build.sh"
# OpenMP threads sleep when idle: two test binaries share the cores, and spinning ones starve each other
OMP_WAIT_POLICY=PASSIVE ctest --test-dir "$build" --output-on-failure -j "$(nproc)"

prefix="$(mktemp -d)"
trap 'rm -rf "$prefix"' EXIT
cmake --install "$build" --prefix "$prefix" >/dev/null
cmake -S "$root/examples/consumer" -B "$build/consumer" -G Ninja -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$build/consumer"
"$build/consumer/gluegen_consumer"
