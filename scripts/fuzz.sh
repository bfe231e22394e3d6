#!/usr/bin/env bash
# Builds the libFuzzer targets of tests/fuzz with clang 16 (ASan + UBSan; clang 14 lacks the builtin that
# libstdc++ 12's std::source_location needs) into ${GLUEGEN_FUZZ_BUILD_DIR:-build-fuzz} and runs each on its
# seed corpus and dictionary (docs/reliability.md).
#   scripts/fuzz.sh                      every target for 30 s (the short run CI can call)
#   scripts/fuzz.sh --seconds 600 wav    one target for 10 minutes
#   scripts/fuzz.sh --runs 1000000       every target for 10^6 executions (hdf5, in fork mode: --seconds)
#   scripts/fuzz.sh --replay             every committed seed and regression input once (seconds)
# A finding (crash, sanitizer report, leak, uncaught non-gluegen exception, hang > 1 s, allocation > 2 GiB)
# stops that target; its input is written to out/fuzz/<target>/ and the script exits non-zero. Commit the
# input to tests/fuzz/regressions/<target>/ with the fix. New coverage found goes to out/fuzz/<target>/corpus.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${GLUEGEN_FUZZ_BUILD_DIR:-$root/build-fuzz}"
seconds=30 runs="" replay=0 targets=()
while (($#)); do
  case "$1" in
    --seconds) seconds="$2"; shift 2 ;;
    --runs) runs="$2"; shift 2 ;;
    --replay) replay=1; shift ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    -*) echo "fuzz.sh: unknown option '$1' (try --help)" >&2; exit 2 ;;
    *) targets+=("$1"); shift ;;
  esac
done
# every target is a tests/fuzz/fuzz_<name>.cpp (tests/fuzz/CMakeLists.txt builds the same list)
if ((${#targets[@]} == 0)); then
  for f in "$root"/tests/fuzz/fuzz_*.cpp; do t="$(basename "$f" .cpp)"; targets+=("${t#fuzz_}"); done
fi

for p in clang-16 libclang-rt-16-dev libomp-16-dev; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    sudo_cmd=""; [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
    $sudo_cmd apt-get install -y -qq --no-install-recommends clang-16 libclang-rt-16-dev libomp-16-dev >/dev/null
    break
  fi
done
export CCACHE_BASEDIR="$root"
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_CXX_COMPILER=clang++-16 -DCMAKE_BUILD_TYPE=Debug -DGLUEGEN_BUILD_FUZZERS=ON \
  -DGLUEGEN_BUILD_TESTS=OFF -DGLUEGEN_BUILD_BENCHMARKS=OFF -DGLUEGEN_BUILD_EXAMPLES=OFF -DGLUEGEN_CUDA=OFF >/dev/null
cmake --build "$build" -j "$(nproc)" --target "${targets[@]/#/fuzz_}"

status=0
printf '| target | executions | edges (cov) | features | corpus | seconds | result |\n|---|---:|---:|---:|---:|---:|---|\n' \
  > "$build/fuzz-summary.md"
# the OpenMP runtime under ASan: one thread, sleeping, so targets run side by side do not spin against each other
export OMP_NUM_THREADS=1 OMP_WAIT_POLICY=PASSIVE LSAN_OPTIONS="suppressions=$root/tests/fuzz/lsan.supp"
for t in "${targets[@]}"; do
  work="$root/out/fuzz/$t"
  mkdir -p "$work/corpus"
  inputs=("$root/tests/fuzz/corpus/$t")
  [ -d "$root/tests/fuzz/regressions/$t" ] && inputs+=("$root/tests/fuzz/regressions/$t")
  dict=(); [ -f "$root/tests/fuzz/dict/$t.dict" ] && dict=(-dict="$root/tests/fuzz/dict/$t.dict")
  opts=(-timeout=1 -rss_limit_mb=2048 -malloc_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$work/")
  # libhdf5 itself hangs and corrupts memory on some files (tests/fuzz/upstream/hdf5, docs/reliability.md): its
  # target runs in fork mode, which records those inputs and goes on, and each artifact is triaged by hand
  fork=(); [ "$t" = hdf5 ] && fork=(-fork=1 -ignore_timeouts=1 -ignore_crashes=1 -ignore_ooms=1)
  log="$work/fuzz.log"
  start=$(date +%s)
  if ((replay)); then
    files=(); for d in "${inputs[@]}"; do files+=("$d"/*); done
    if "$build/tests/fuzz/fuzz_$t" "${opts[@]}" "${files[@]}" > "$log" 2>&1; then result=ok; else result=FAILED; fi
  else
    limit=(-max_total_time="$seconds"); [ -n "$runs" ] && ((${#fork[@]} == 0)) && limit=(-runs="$runs")
    if "$build/tests/fuzz/fuzz_$t" "${opts[@]}" "${fork[@]}" "${dict[@]}" "${limit[@]}" "$work/corpus" "${inputs[@]}" \
      > "$log" 2>&1; then result=ok; else result="FAILED (see $log)"; fi
    artifacts=$(find "$work" -maxdepth 1 -name 'crash-*' -o -maxdepth 1 -name 'timeout-*' -o -maxdepth 1 -name 'oom-*' \
                -o -maxdepth 1 -name 'leak-*' | wc -l)
    ((artifacts == 0)) || result="$result, $artifacts input(s) to triage in $work"
  fi
  [ "$result" = ok ] || status=1
  # executions: the final stats, or in fork mode the last status line's count
  executions=$(grep -o 'stat::number_of_executed_units: [0-9]*' "$log" | tail -1 | grep -o '[0-9]*$' ||
               grep -oE '^#[0-9]+' "$log" | tail -1 | tr -d '#' || true)
  read -r cov ft corp < <(grep -oE 'cov: [0-9]+ ft: [0-9]+ corp: [0-9]+' "$log" | tail -1 | awk '{print $2, $4, $6}') || true
  printf '| %s | %s | %s | %s | %s | %s | %s |\n' "$t" "${executions:-?}" "${cov:-?}" "${ft:-?}" "${corp:-?}" \
    "$(($(date +%s) - start))" "$result" | tee -a "$build/fuzz-summary.md"
done
echo "fuzz.sh: summary in $build/fuzz-summary.md"
exit $status
