#!/usr/bin/env bash
# Test isolation (docs/reliability.md): every test passes alone, from a clean state, and the whole suite passes
# in random order on two jobs. Needs a built tree (scripts/build.sh).
#   scripts/check-isolation.sh                 each test that reads another test's output alone, then the suite
#   scripts/check-isolation.sh -R 'cli\.'      each test matching the regex alone, then the suite
#   scripts/check-isolation.sh --alone-only    skip the shuffled suite run
# "Alone" is `ctest -R ^name$` after removing every test's outputs (tests/cli, the quickstart file): ctest then
# runs the test's declared fixtures first, so a test passes alone exactly when it declares what it reads.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${GLUEGEN_BUILD_DIR:-$root/build}"
regex="" shuffled=1
while (($#)); do
  case "$1" in
    -R) regex="$2"; shift 2 ;;
    --alone-only) shuffled=0; shift ;;
    -h|--help) sed -n '2,9p' "$0"; exit 0 ;;
    *) echo "check-isolation.sh: unknown option '$1' (try --help)" >&2; exit 2 ;;
  esac
done
# without -R: the consumers at the end of each chain of tests that hand files to one another (each pulls in its
# whole chain of fixtures), and the tests that failed alone before they declared theirs
consumers=(cli.bad_shards cli.linear_eval cli.speak_corpus_lines cli.encode_speech cli.encode_train cli.glued_captions
           cli.glued_generate cli.glued_eval_images cli.glued_needs_source cli.golden_own_matches cli.golden_eval_en_matches
           cli.v_generate cli.lavi_captions cli.lavi_generate cli.lavi_generate_lm ablate.resume ablate.ridge_images
           ablate.unknown_row example.inspect)
if [ -n "$regex" ]; then
  mapfile -t tests < <(ctest --test-dir "$build" -N -R "$regex" | sed -n 's/^ *Test *#[0-9]*: //p')
else
  tests=("${consumers[@]}")
fi
export OMP_WAIT_POLICY=PASSIVE
failed=()
for t in "${tests[@]}"; do
  rm -rf "$build/tests/cli" "$build/examples/quickstart_test.h5"
  start=$(date +%s)
  if ctest --test-dir "$build" -R "^${t//./\\.}\$" --output-on-failure > "$build/isolation-$t.log" 2>&1; then
    echo "alone: $t ok ($(($(date +%s) - start)) s, $(grep -c 'Test *#' "$build/isolation-$t.log") tests with its fixtures)"
  else
    echo "alone: $t FAILED (see $build/isolation-$t.log)"
    failed+=("$t")
  fi
done
if ((shuffled)); then
  rm -rf "$build/tests/cli" "$build/examples/quickstart_test.h5"
  start=$(date +%s)
  if ctest --test-dir "$build" --schedule-random -j 2 --output-on-failure > "$build/isolation-shuffled.log" 2>&1; then
    echo "shuffled suite, 2 jobs: $(grep -o '[0-9]*% tests passed.*' "$build/isolation-shuffled.log") ($(($(date +%s) - start)) s)"
  else
    echo "shuffled suite FAILED: $(grep -o '[0-9]*% tests passed.*' "$build/isolation-shuffled.log") (see $build/isolation-shuffled.log)"
    failed+=(shuffled-suite)
  fi
fi
((${#failed[@]} == 0)) || { echo "check-isolation.sh: failed: ${failed[*]}"; exit 1; }
