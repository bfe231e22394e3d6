#!/usr/bin/env bash
# The whole ctest suite under AddressSanitizer + UndefinedBehaviorSanitizer (issue 22 part 2): gluegen, its tests,
# examples and doc snippets built with g++ -fsanitize=address,undefined into ${GLUEGEN_ASAN_BUILD_DIR:-build-asan},
# then ctest on it. A sanitizer report aborts the test that triggered it (halt_on_error, abort_on_error), so a
# finding is a failed test with the report in its output. Leaks inside libhdf5 are suppressed
# (tests/fuzz/lsan.supp says why); every other leak fails.
#   scripts/check-sanitizers.sh              build, then every test (2 jobs)
#   scripts/check-sanitizers.sh -R cli.      build, then the tests ctest's -R selects (any ctest arguments)
# ThreadSanitizer is not run: g++'s libgomp is not built with TSan, so every OpenMP region would report its own
# runtime's synchronisation as races (docs/reliability.md).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${GLUEGEN_ASAN_BUILD_DIR:-$root/build-asan}"
[[ "${1:-}" == -h || "${1:-}" == --help ]] && { sed -n '2,10p' "$0"; exit 0; }
bash "$root/scripts/setup.sh" > /dev/null
sanitize="-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer"
export CCACHE_BASEDIR="$root"
start=$(date +%s)
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DGLUEGEN_CUDA=OFF \
  -DGLUEGEN_BUILD_BENCHMARKS=OFF -DCMAKE_CXX_FLAGS="$sanitize" -DCMAKE_EXE_LINKER_FLAGS="$sanitize" > /dev/null
cmake --build "$build" -j 2
built=$(date +%s)
export ASAN_OPTIONS="abort_on_error=1:detect_leaks=1:check_initialization_order=1:strict_string_checks=1"
export LSAN_OPTIONS="suppressions=$root/tests/fuzz/lsan.supp:print_suppressions=0"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
export OMP_WAIT_POLICY=PASSIVE
status=0
ctest --test-dir "$build" -j 2 --output-on-failure --timeout 3000 "$@" || status=$?
echo "check-sanitizers: build $(( (built - start) / 60 )) min, tests $(( ($(date +%s) - built) / 60 )) min, ctest exit $status"
exit $status
