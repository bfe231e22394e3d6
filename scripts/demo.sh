#!/usr/bin/env bash
# The main job, on a fresh machine: install dependencies, build, run the quickstart (a GlueNet
# channel-mixing block on CLIP-sized features, saved to and reloaded from HDF5), and inspect the
# model file it wrote.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${GLUEGEN_BUILD_DIR:-$root/build}"
bash "$root/scripts/setup.sh"
bash "$root/scripts/build.sh"
mkdir -p "$root/out"
"$build/examples/gluegen_quickstart" "$root/out/quickstart.h5"
"$build/examples/gluegen_inspect" "$root/out/quickstart.h5"
