#!/usr/bin/env python3
"""The transcribe-then-encode baseline of the speech route (docs/speech.md): an ASR cascade.

    .venv-tools/bin/python tools/transcribe_speech.py --clips DIR --prompts PROMPTS.tsv --out TRANSCRIPTS.tsv \
        [--model data/models/whisper-base-ct2]

DIR is what `gluegen speak --prompts PROMPTS.tsv ...` wrote (index.tsv and NNN.wav, one clip per prompt
line, in order). Each clip is transcribed by the same Whisper model the speech aligner reads, but with
its decoder (ctranslate2's `generate`, the very model.bin from PyPI; beam 5, English, no timestamps, at most 64
tokens: a prompt has a dozen),
and TRANSCRIPTS.tsv is PROMPTS.tsv with each prompt replaced by its transcript: a prompt file for
`gluegen eval-prompts --encoder all-MiniLM-L6-v2`, which then scores the images the decoder's own
text encoder makes from what Whisper heard (the speech analogue of translate-then-encode).

Features are transformers' WhisperFeatureExtractor (30 s, 80 channels), as ctranslate2's own
faster-whisper computes them; clips must be 16 kHz (`gluegen speak --rate 16000`, the default).
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
import wave
from pathlib import Path

import ctranslate2
import numpy as np
from tokenizers import Tokenizer
from transformers import WhisperFeatureExtractor


def read_clip(path: Path) -> np.ndarray:
    with wave.open(str(path), "rb") as w:
        if w.getframerate() != 16000 or w.getsampwidth() != 2 or w.getnchannels() != 1:
            sys.exit(f"{path}: expected 16 kHz 16-bit mono (gluegen speak --rate 16000), got "
                     f"{w.getframerate()} Hz, {8 * w.getsampwidth()}-bit, {w.getnchannels()} channel(s)")
        return np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.float32) / 32768.0


def read_tsv(path: Path) -> list[list[str]]:
    rows = [line.rstrip("\n").split("\t") for line in path.read_text(encoding="utf-8").splitlines()]
    return [r for r in rows if r and r[0] and not r[0].startswith("#")]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clips", type=Path, required=True, help="gluegen speak's output directory")
    ap.add_argument("--prompts", type=Path, required=True, help="the prompt file the clips speak")
    ap.add_argument("--out", type=Path, required=True, help="the prompt file of transcripts")
    ap.add_argument("--model", type=Path, default=Path("data/models/whisper-base-ct2"))
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--threads", type=int, default=0, help="ctranslate2 threads (0: its default)")
    a = ap.parse_args()

    prompts = read_tsv(a.prompts)
    header, prompts = prompts[0], prompts[1:]
    index = read_tsv(a.clips / "index.tsv")[1:]
    if len(index) != len(prompts):
        sys.exit(f"{a.clips}/index.tsv lists {len(index)} clips for the {len(prompts)} prompts of {a.prompts}")
    for (_, _, _, spoken), (_, text, _, _) in zip(index, prompts):
        if spoken != text:
            sys.exit(f"{a.clips}/index.tsv speaks '{spoken}' where {a.prompts} has '{text}'")

    tokenizer = Tokenizer.from_file(str(a.model / "tokenizer.json"))
    multilingual = tokenizer.token_to_id("<|en|>") is not None and "tiny.en" not in a.model.name
    prompt = ["<|startoftranscript|>"] + (["<|en|>", "<|transcribe|>"] if multilingual else []) + ["<|notimestamps|>"]
    prompt_ids = [tokenizer.token_to_id(t) for t in prompt]
    model = ctranslate2.models.Whisper(str(a.model), device="cpu", compute_type="float32",
                                       intra_threads=a.threads)
    extractor = WhisperFeatureExtractor(feature_size=model.n_mels)

    transcripts: list[str] = []
    start = time.time()
    for first in range(0, len(index), a.batch):
        clips = [read_clip(a.clips / row[0]) for row in index[first:first + a.batch]]
        features = extractor(clips, sampling_rate=16000, return_tensors="np").input_features
        results = model.generate(ctranslate2.StorageView.from_array(np.ascontiguousarray(features)),
                                 [prompt_ids] * len(clips), beam_size=5, max_length=64)
        for r in results:
            transcripts.append(tokenizer.decode(r.sequences_ids[0], skip_special_tokens=True).strip())
        print(f"transcribed {len(transcripts)}/{len(index)} clips ({time.time() - start:.0f} s)", file=sys.stderr)

    exact = sum(t.lower().rstrip(".") == p[1].lower() for t, p in zip(transcripts, prompts))
    empty = sum(not t for t in transcripts)
    with a.out.open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f, delimiter="\t", lineterminator="\n", quoting=csv.QUOTE_NONE, escapechar="\\")
        w.writerow(header)
        for t, (language, _, cls, colour) in zip(transcripts, prompts):
            w.writerow([language, t.replace("\t", " ") or "-", cls, colour])  # "-": Whisper heard nothing
    print(f"{len(transcripts)} transcripts -> {a.out}: {exact} equal to their prompt (case and final full stop "
          f"aside), {empty} empty", file=sys.stderr)


if __name__ == "__main__":
    main()
