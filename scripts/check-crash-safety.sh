#!/usr/bin/env bash
# Crash safety, tested for real (docs/reliability.md). Each long job of the CLI (train: a GlueNet; train-decoder;
# train-lavi-bridge; encode) runs on small data three ways:
#   1. uninterrupted: the reference;
#   2. killed with SIGKILL at random moments (--rounds times, checkpoint writes included), restarted each time
#      with the same command; after every kill each model file present must load (gluegen_inspect), and the
#      restart must resume from at most one checkpoint interval before the last step logged;
#   3. (--full-disk, needs root for a tmpfs mount) on a filesystem too small for the run: it must stop with an
#      error naming the path, leave its last checkpoint readable, and resume once space is freed.
# Runs 2 and 3 must end bit-identical to the reference: every dataset and attribute of every .h5 file (h5diff), the
# provenance record's command line aside (it names the run directory).
#   scripts/check-crash-safety.sh [--rounds 20] [--full-disk] [JOB ...]     JOB: train train-decoder lavi encode
# Needs a built tree (scripts/build.sh: the CLI, gluegen_inspect, make_synthetic_shards) and the fetched models.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${GLUEGEN_BUILD_DIR:-$root/build}"
rounds=20 full_disk=0 jobs=()
while (($#)); do
  case "$1" in
    --rounds) rounds="$2"; shift 2 ;;
    --full-disk) full_disk=1; shift ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    -*) echo "check-crash-safety.sh: unknown option '$1' (try --help)" >&2; exit 2 ;;
    *) jobs+=("$1"); shift ;;
  esac
done
((${#jobs[@]})) || jobs=(train train-decoder lavi encode)
g="$build/examples/gluegen"
inspect="$build/examples/gluegen_inspect"
models="$root/data/models"
work="$(mktemp -d /tmp/gluegen-crash.XXXXXX)"
trap 'mountpoint -q "$work/disk" 2>/dev/null && umount "$work/disk"; rm -rf "$work"' EXIT
export OMP_NUM_THREADS=2 OMP_WAIT_POLICY=PASSIVE

# ---- small inputs, made once -------------------------------------------------------------------------------
"$build/tests/make_synthetic_shards" "$work/shards" 300 > /dev/null
"$g" fashion-captions --encoder "$models/multilingual-e5-small-q4" --languages de --out "$work/captions.h5" --quiet \
  > /dev/null
"$g" train-decoder --captions "$work/captions.h5" --run "$work/decoder" --steps 2 --batch 2 --channels 8 16 --heads 2 \
  --quiet > /dev/null

# cmd: the command of JOB writing into DIR (the run directory, or encode's shard folder).
set_command() {
  local job="$1" dir="$2"
  case "$job" in
    train) cmd=("$g" train --shards "$work/shards" --run "$dir" --depth 1 --batch 16 --held-out 32 --steps 3000 \
             --eval-every 500 --checkpoint-every 50 --log-every 50 --quiet) ;;
    train-decoder) cmd=("$g" train-decoder --captions "$work/captions.h5" --run "$dir" --steps 80 --batch 2 \
                     --channels 8 16 --heads 2 --checkpoint-every 4 --log-every 4 --quiet) ;;
    lavi) cmd=("$g" train-lavi-bridge --decoder "$work/decoder/decoder.h5" --captions "$work/captions.h5" --run "$dir" \
            --steps 60 --batch 2 --rank 2 --int-dim 32 --checkpoint-every 3 --log-every 3 --quiet) ;;
    encode) cmd=("$g" encode --corpus "$root/tests/data/text/parallel_tiny.tsv" --source-model "$models/all-MiniLM-L6-v2" \
              --target-model "$models/all-MiniLM-L6-v2" --out "$dir" --source-length 16 --target-length 12 \
              --examples-per-shard 4 --quiet) ;;
  esac
}
interval_of() { case "$1" in train) echo 50 ;; train-decoder) echo 4 ;; lavi) echo 3 ;; encode) echo 0 ;; esac; }

# Every model file in DIR loads; a half-written one would not.
check_files() {
  local dir="$1" f
  for f in "$dir"/*.h5; do
    [ -e "$f" ] || continue
    "$inspect" "$f" > /dev/null 2>&1 || { echo "  unreadable after a kill: $f"; return 1; }
  done
}

# A model file's root attributes as gluegen inspect prints them, less the lines that name where the run was made
# (the provenance record's command holds the run directory, which differs from the reference's).
attributes() { "$inspect" "$1" | sed -n '2,/^$/p' | grep -v '^  command \|^  recorded_by '; }

# DIR equals the reference REF: the same .h5 files, each identical in every dataset and attribute (h5diff for the
# datasets, bit for bit; the root attributes through `attributes`).
same_as() {
  local ref="$1" dir="$2" f name
  for f in "$ref"/*.h5; do
    name="$(basename "$f")"
    [ -e "$dir/$name" ] || { echo "  missing $name"; return 1; }
    h5diff -q --exclude-attribute / "$f" "$dir/$name" > /dev/null 2>&1 &&
      diff <(attributes "$f") <(attributes "$dir/$name") > /dev/null ||
      { echo "  $name differs from the uninterrupted run"; return 1; }
  done
}

# The last step metrics.jsonl logged (0 when none).
last_logged() { [ -f "$1/metrics.jsonl" ] && grep -o '"step": *[0-9]*' "$1/metrics.jsonl" | tail -1 | grep -o '[0-9]*$' || echo 0; }

status=0
for job in "${jobs[@]}"; do
  ref="$work/$job-ref" run="$work/$job-killed"
  start=$(date +%s.%N)
  set_command "$job" "$ref"
  "${cmd[@]}" > /dev/null 2>&1
  seconds=$(echo "$(date +%s.%N) - $start" | bc)
  interval=$(interval_of "$job")
  kills=0 lost_max=0 problems=0
  for ((r = 0; r < rounds; ++r)); do
    logged=$(last_logged "$run")
    set_command "$job" "$run"
    "${cmd[@]}" > "$work/out" 2>&1 &
    pid=$!
    # a moment in the first 2/rounds of the job's length: the kills spread over the whole run, and some land
    # while it loads its inputs or writes a checkpoint
    sleep "$(echo "scale=3; $RANDOM / 32767 * 2 * $seconds / $rounds" | bc)"
    if kill -0 "$pid" 2>/dev/null; then
      kill -9 "$pid" 2>/dev/null || true
      wait "$pid" 2>/dev/null || true
      ((++kills))
    else
      wait "$pid" || { echo "  $job exited with an error in round $r:"; cat "$work/out"; problems=1; }
    fi
    check_files "$run" || problems=1
    resumed=$(grep -o 'resuming from .* at step [0-9]*' "$work/out" | grep -o '[0-9]*$' || echo 0)
    if ((interval > 0 && logged > 0 && resumed > 0)); then
      lost=$((logged - resumed))
      ((lost > lost_max)) && lost_max=$lost
      ((lost <= interval)) || { echo "  round $r: resumed at step $resumed, $lost steps before step $logged"; problems=1; }
    fi
  done
  "${cmd[@]}" > "$work/out" 2>&1 || { echo "  the final run of $job failed:"; cat "$work/out"; problems=1; }
  same_as "$ref" "$run" || problems=1
  result=$([ "$problems" = 0 ] && echo "bit-identical to the uninterrupted run" || echo FAILED)
  printf '%s: %d SIGKILLs in %d rounds (uninterrupted %.1f s), at most %d steps redone after a kill: %s\n' \
    "$job" "$kills" "$rounds" "$seconds" "$lost_max" "$result"
  ((problems == 0)) || status=1

  if ((full_disk)) && [ "$job" != encode ]; then
    mkdir -p "$work/disk"
    checkpoint=$(stat -c %s "$ref/checkpoint.h5")
    # room for the first checkpoint and the metrics, not for the second (written beside the first, then renamed)
    mount -t tmpfs -o size=$((checkpoint * 3 / 2 + 65536)) tmpfs "$work/disk"
    set_command "$job" "$work/disk/run"
    if "${cmd[@]}" > "$work/out" 2> "$work/err"; then
      echo "  $job on a full disk: exited 0"; status=1
    elif ! grep -q "$work/disk/run" "$work/err" || (($(grep -c . "$work/err") != 1)); then
      echo "  $job on a full disk: not a one-line error naming the path:"; cat "$work/err"; status=1
    else
      echo "$job on a full disk: $(cut -c1-160 "$work/err")..."
    fi
    check_files "$work/disk/run" || status=1
    mount -o remount,size=256m "$work/disk"
    "${cmd[@]}" > "$work/out" 2>&1 || { echo "  resume after freeing space failed"; status=1; }
    same_as "$ref" "$work/disk/run" && echo "$job after freeing space: resumed and bit-identical" || status=1
    umount "$work/disk"
  fi
done
exit $status
