#!/usr/bin/env bash
# expect_error.sh REGEX COMMAND [ARGS...]: the test passes when COMMAND fails the way the CLI promises to on bad
# input: a non-zero exit status of its own (not a signal: no abort, no crash), stderr one line (no stack trace,
# no second message), and that line matching the extended regular expression REGEX.
set -u
regex="$1"
shift
stderr_file="$(mktemp)"
trap 'rm -f "$stderr_file"' EXIT
"$@" > /dev/null 2> "$stderr_file"
rc=$?
lines=$(grep -c . "$stderr_file")
message=$(cat "$stderr_file")
if ((rc == 0)); then
  echo "expected a failure, got exit status 0; stderr: $message"
  exit 1
fi
if ((rc >= 128)); then
  echo "killed by signal $((rc - 128)) (exit status $rc); stderr: $message"
  exit 1
fi
if ((lines != 1)); then
  echo "expected one line on stderr, got $lines:"
  cat "$stderr_file"
  exit 1
fi
if ! grep -qE -- "$regex" "$stderr_file"; then
  echo "stderr does not match '$regex': $message"
  exit 1
fi
echo "exit status $rc: $message"
