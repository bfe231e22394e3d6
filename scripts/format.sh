#!/usr/bin/env bash
# Formats gluegen's C++ sources with the repository's .clang-format (clang-format 16, Debian
# clang-format-16, which scripts/setup.sh installs; 14 mangles requires-clauses).
#   scripts/format.sh          rewrite the files in place
#   scripts/format.sh --check  list the files that differ and exit 1 (the style.clang_format test)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
tool="$(command -v clang-format-16 || true)"
[ -n "$tool" ] || { echo "format.sh: clang-format-16 not found (Debian: clang-format-16; scripts/setup.sh installs it)" >&2; exit 2; }
mapfile -t files < <(git ls-files 'include/*.hpp' 'include/*.cuh' 'examples/*.cpp' 'examples/*.hpp' 'tests/*.cpp' 'tests/*.hpp' 'tests/*.cu' \
                                  'benchmarks/*.cpp' 'benchmarks/*.hpp' 'benchmarks/*.cu')
if [ "${1:-}" = "--check" ]; then
  bad=()
  for f in "${files[@]}"; do "$tool" --dry-run --Werror "$f" >/dev/null 2>&1 || bad+=("$f"); done
  if ((${#bad[@]})); then
    printf 'not formatted (run scripts/format.sh): %s\n' "${bad[@]}"
    exit 1
  fi
  echo "format.sh: ${#files[@]} files formatted as .clang-format says"
else
  "$tool" -i "${files[@]}"
fi
