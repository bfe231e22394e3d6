#!/usr/bin/env bash
# Configures and builds gluegen (Release, Ninja, ccache when present) into ${GLUEGEN_BUILD_DIR:-build}.
#   scripts/build.sh                  everything: library checks, tests, benchmarks, examples
#   scripts/build.sh --target T ...   only those targets (the main job builds just the CLI)
# Other arguments go to CMake's configure step. CUDA sources are compiled whenever nvcc is found
# (GLUEGEN_CUDA=AUTO), GPU or not. ccache sees paths relative to the checkout (CCACHE_BASEDIR), so a
# fresh clone of sources built before is served from the cache.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${GLUEGEN_BUILD_DIR:-$root/build}"
export PATH="$PATH:/usr/local/cuda/bin"
export CCACHE_BASEDIR="${CCACHE_BASEDIR:-$root}"
configure=()
targets=()
while (($#)); do
  case "$1" in
    --target) targets+=("$2"); shift 2 ;;
    *) configure+=("$1"); shift ;;
  esac
done
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release "${configure[@]}" >/dev/null
if ((${#targets[@]})); then
  cmake --build "$build" -j "$(nproc)" --target "${targets[@]}"
else
  cmake --build "$build" -j "$(nproc)"
fi
