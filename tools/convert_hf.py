#!/usr/bin/env python3
"""Convert a Hugging Face text-encoder folder (BERT, XLM-R, MPNet, T5, CLIP text, ...) into ONE gluegen HDF5 file.

    .venv-tools/bin/python tools/convert_hf.py MODEL_DIR OUT.h5 [--dtype f32|f16] [--quiet]

Input: a folder as `save_pretrained` / the Hub lays it out: config.json (with "model_type"), the weights
as model.safetensors, pytorch_model.bin (torch.load(weights_only=True)) or their sharded forms
(model.safetensors.index.json / pytorch_model.bin.index.json), and any tokenizer files. The tensors
are read directly; the model is never run. When transformers can build the architecture (on the meta
device, no memory), its base model's state_dict (what `AutoModel.from_pretrained(MODEL_DIR)` holds) is
the reference: names are mapped onto it and every shape is checked. Otherwise the names are kept as
found, less a task-head prefix, and a note says they were not checked.

Names: the base model's state_dict names (BertModel: embeddings.word_embeddings.weight,
encoder.layer.0.attention.self.query.weight, ..., pooler.dense.weight). A task-head wrapper's prefix
('bert.', 'roberta.', 'model.', 'text_model.', or the class's base_model_prefix) is stripped where the
folder's weights carry it, legacy LayerNorm 'gamma' / 'beta' become 'weight' / 'bias' (old BERT
checkpoints), and tensors the base model does not have (MLM / classification heads, lm_head) are
dropped with a note. Non-float tensors (the int64 buffers embeddings.position_ids / token_type_ids of
old checkpoints) are skipped with a note; NaN/Inf are errors. T5 / mT5 / UMT5: only the encoder is kept
(shared.weight and encoder.*; the decoder and lm_head are dropped, which the summary says). A tied copy
(T5's encoder.embed_tokens.weight = shared.weight) is stored once, under the tie's source name.
Missing base-model tensors are errors, except the pooler (some exports leave it out; then the file
has no pooler and a note says so). Shape mismatches are errors naming the file and the key.

Output (HDF5 1.8 file format, written atomically; tools/gluegen_h5.py):
  root attributes  gluegen_format int32 1; model_type "hf." + config["model_type"] (hf.bert,
                   hf.xlm-roberta, hf.mpnet, hf.t5, hf.clip_text_model, ...); config = config.json's
                   text, byte for byte
  weights          one float32 (or float16) dataset per tensor, the dotted name as a group path
                   (encoder.layer.0.attention.self.query.weight -> /encoder/layer/0/attention/self/query/weight)
  tokenizer.*      each tokenizer file present, byte-exact, as a 1-D uint8 dataset named
                   tokenizer.<file name with '.' and '-' as '_'>: tokenizer.vocab_txt, tokenizer.merges_txt,
                   tokenizer.vocab_json, tokenizer.tokenizer_json, tokenizer.tokenizer_config_json,
                   tokenizer.special_tokens_map_json, tokenizer.added_tokens_json,
                   tokenizer.sentencepiece_bpe_model, tokenizer.spiece_model
  sentence_transformers.*  the same for sentence-transformers' files when present:
                   sentence_transformers.modules_json, .pooling_config_json (1_Pooling/config.json),
                   .sentence_bert_config_json (max_seq_length, do_lower_case),
                   .config_sentence_transformers_json (prompts)
Exit status 0 on success, 2 on a conversion error.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import logging
import os
import sys
import warnings
from collections import OrderedDict

import numpy as np
import torch

from gluegen_h5 import GLUEGEN_FORMAT, ConversionError, atomic_h5, check_finite, listing, load_checkpoint, shape_of

TOKENIZER_FILES = ("vocab.txt", "merges.txt", "vocab.json", "tokenizer.json", "tokenizer_config.json",
                   "special_tokens_map.json", "added_tokens.json", "sentencepiece.bpe.model", "spiece.model")
# (path inside the folder, dataset name)
SENTENCE_TRANSFORMERS_FILES = (("modules.json", "sentence_transformers.modules_json"),
                               ("1_Pooling/config.json", "sentence_transformers.pooling_config_json"),
                               ("sentence_bert_config.json", "sentence_transformers.sentence_bert_config_json"),
                               ("config_sentence_transformers.json",
                                "sentence_transformers.config_sentence_transformers_json"))
HEAD_PREFIXES = ("bert.", "roberta.", "model.", "text_model.")
ENCODER_ONLY = ("t5", "mt5", "umt5")  # encoder-decoder models of which only the encoder is kept
WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")


def asset_name(filename: str, group: str = "tokenizer") -> str:
    """tokenizer.json -> 'tokenizer.tokenizer_json' ('.' and '-' of the file name become '_')."""
    return f"{group}." + filename.replace(".", "_").replace("-", "_")


def read_config(model_dir: str) -> tuple[str, dict]:
    path = os.path.join(model_dir, "config.json")
    if not os.path.isdir(model_dir):
        raise ConversionError(f"{model_dir}: not a directory (expected a Hugging Face model folder)")
    if not os.path.isfile(path):
        raise ConversionError(f"{path}: no such file (a Hugging Face model folder has config.json)")
    with open(path, "rb") as fh:
        raw = fh.read()
    try:
        text = raw.decode("utf-8")
        cfg = json.loads(text)
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ConversionError(f"{path}: not valid UTF-8 JSON: {e}") from e
    if not isinstance(cfg, dict) or not isinstance(cfg.get("model_type"), str) or not cfg["model_type"]:
        raise ConversionError(f"{path}: has no \"model_type\" string (the architecture family, e.g. \"bert\")")
    return text, cfg


def weight_files(model_dir: str) -> list[str]:
    """The weight file(s) to read: single safetensors, sharded safetensors, then the same for .bin."""
    for single in WEIGHT_FILES:
        index = os.path.join(model_dir, single + ".index.json")
        if os.path.isfile(os.path.join(model_dir, single)):
            return [os.path.join(model_dir, single)]
        if os.path.isfile(index):
            try:
                with open(index, encoding="utf-8") as fh:
                    weight_map = json.load(fh)["weight_map"]
            except (OSError, ValueError, KeyError, TypeError) as e:
                raise ConversionError(f"{index}: not a shard index with a \"weight_map\": {e}") from e
            shards = sorted(set(weight_map.values()))
            missing = [s for s in shards if not os.path.isfile(os.path.join(model_dir, s))]
            if missing:
                raise ConversionError(f"{index}: names shards that are not in the folder: {listing(missing)}")
            return [os.path.join(model_dir, s) for s in shards]
    present = sorted(os.listdir(model_dir))
    raise ConversionError(f"{model_dir}: no model.safetensors or pytorch_model.bin (nor a sharded index); "
                          f"files present: {listing(present)}")


def load_tensors(files: list[str]) -> OrderedDict:
    tensors: OrderedDict[str, torch.Tensor] = OrderedDict()
    for path in files:
        obj = load_checkpoint(path)
        if isinstance(obj, dict) and isinstance(obj.get("state_dict"), dict):
            obj = obj["state_dict"]
        if not isinstance(obj, dict):
            raise ConversionError(f"{path}: holds a {type(obj).__name__}, expected a dict of tensors (a state_dict)")
        for k, v in obj.items():
            if not isinstance(v, torch.Tensor):
                raise ConversionError(f"{path}: entry '{k}' is a {type(v).__name__}, not a tensor")
            if k in tensors:
                raise ConversionError(f"{path}: tensor '{k}' also appears in another shard")
            tensors[k] = v
    if not tensors:
        raise ConversionError(f"{listing(files)}: holds no tensors")
    return tensors


def reference_model(model_dir: str, notes: list[str]):
    """(state_dict shapes in order, base_model_prefix, {tied name: source name}) of the base model that
    AutoModel builds for this folder, built on the meta device; None when transformers cannot build it."""
    try:
        import transformers
        from transformers import AutoConfig, AutoModel
    except ImportError:
        notes.append("transformers is not installed: names and shapes not checked against the base model")
        return None
    try:
        transformers.logging.set_verbosity_error()
        sink = io.StringIO()
        with warnings.catch_warnings(), contextlib.redirect_stderr(sink):
            warnings.simplefilter("ignore")
            logging.disable(logging.WARNING)
            try:
                cfg = AutoConfig.from_pretrained(model_dir, local_files_only=True)
                with torch.device("meta"):
                    model = AutoModel.from_config(cfg)
            finally:
                logging.disable(logging.NOTSET)
    except Exception as e:  # unknown model_type, custom code, ...
        msg = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        notes.append(f"transformers cannot build this architecture ({msg[:160]}): names not checked against a base model")
        return None
    shapes = OrderedDict((k, shape_of(v)) for k, v in model.state_dict().items())
    tied_raw = getattr(model, "_tied_weights_keys", None)
    tied = dict(tied_raw) if isinstance(tied_raw, dict) else {}
    return shapes, type(model).__name__, getattr(model, "base_model_prefix", "") or "", tied


def legacy_rename(name: str) -> str:
    """Old BERT checkpoints (TF ports) name LayerNorm parameters gamma / beta."""
    if name.endswith(".gamma"):
        return name[:-len("gamma")] + "weight"
    if name.endswith(".beta"):
        return name[:-len("beta")] + "bias"
    return name


def map_names(where: str, tensors: OrderedDict, ref, model_type: str, notes: list[str]) -> OrderedDict:
    """Source names -> base-model names (see the module docstring); non-float tensors skipped."""
    floats: OrderedDict[str, torch.Tensor] = OrderedDict()
    nonfloat = [f"{k} ({str(v.dtype).replace('torch.', '')})" for k, v in tensors.items() if not v.is_floating_point()]
    if nonfloat:
        notes.append(f"skipped non-float tensors (buffers, not parameters): {listing(nonfloat)}")
    for k, v in tensors.items():
        if v.is_floating_point():
            floats[k] = v

    mapped: OrderedDict[str, torch.Tensor] = OrderedDict()
    origin: dict[str, str] = {}
    dropped: list[str] = []
    stripped: set[str] = set()
    renamed_legacy = 0

    def put(src: str, dst: str) -> None:
        if dst in mapped:
            raise ConversionError(f"{where}: '{origin[dst]}' and '{src}' both map to '{dst}'")
        mapped[dst] = floats[src]
        origin[dst] = src

    if ref is not None:
        shapes, _, base_prefix, _ = ref
        prefixes = tuple(dict.fromkeys(([base_prefix + "."] if base_prefix else []) + list(HEAD_PREFIXES)))
        for k in floats:
            candidates = [(k, None)] + [(k[len(p):], p) for p in prefixes if k.startswith(p)]
            hit = None
            for name, p in candidates:
                for cand in (name, legacy_rename(name)):
                    if cand in shapes:
                        hit = (cand, p, cand != name)
                        break
                if hit:
                    break
            if hit is None:
                dropped.append(k)
                continue
            put(k, hit[0])
            if hit[1]:
                stripped.add(hit[1])
            renamed_legacy += hit[2]
    else:
        # no reference: strip the head prefix that most tensors carry, drop what lies outside it
        best = max(HEAD_PREFIXES, key=lambda p: sum(k.startswith(p) for k in floats))
        count = sum(k.startswith(best) for k in floats)
        use = best if count * 2 >= len(floats) else None
        for k in floats:
            if use and not k.startswith(use):
                dropped.append(k)
                continue
            name = k[len(use):] if use else k
            new = legacy_rename(name) if (".LayerNorm." in name or "layer_norm" in name.lower()) else name
            renamed_legacy += new != name
            put(k, new)
        if use:
            stripped.add(use)
    if stripped:
        notes.append("stripped the task-head prefix " + ", ".join(f"'{p}'" for p in sorted(stripped)))
    if renamed_legacy:
        notes.append(f"renamed {renamed_legacy} legacy LayerNorm 'gamma'/'beta' tensors to 'weight'/'bias'")
    if dropped:
        notes.append(f"dropped {len(dropped)} tensor{'s' if len(dropped) != 1 else ''} the base model does not have "
                     f"(task heads): {listing(dropped, 8)}")

    if model_type in ENCODER_ONLY:
        keep = OrderedDict((k, v) for k, v in mapped.items() if k == "shared.weight" or k.startswith("encoder."))
        gone = [k for k in mapped if k not in keep]
        notes.append("T5-family model: kept the ENCODER only (shared.weight, encoder.*)"
                     + (f"; dropped {len(gone)} decoder / head tensors" if gone else ""))
        mapped = keep
    return mapped


def check_reference(where: str, mapped: OrderedDict, ref, model_type: str, notes: list[str]) -> OrderedDict:
    """Ties resolved, pooler-less exports allowed; missing keys and wrong shapes are errors.
    Returns the tensors in the base model's state_dict order."""
    shapes, cls, _, tied = ref
    expected = OrderedDict(shapes)
    if model_type in ENCODER_ONLY:
        expected = OrderedDict((k, s) for k, s in expected.items() if k == "shared.weight" or k.startswith("encoder."))
    for target, source in tied.items():
        if target not in expected or source not in expected:
            continue
        if target in mapped and source not in mapped:
            mapped[source] = mapped.pop(target)
            notes.append(f"'{target}' stored as '{source}' (tied weights)")
        elif target in mapped and source in mapped:
            if torch.equal(mapped[target], mapped[source]):
                del mapped[target]
                notes.append(f"'{target}' equals '{source}' (tied weights): stored once, as '{source}'")
                expected.pop(target)
            else:
                notes.append(f"'{target}' differs from '{source}' though {cls} ties them: both stored")
                continue
        else:
            notes.append(f"'{target}' is tied to '{source}' (not stored separately)")
        expected.pop(target, None)
    missing = [k for k in expected if k not in mapped]
    pooler = [k for k in missing if k.startswith("pooler.")]
    if pooler:
        notes.append(f"no pooler tensors ({listing(pooler)}): the file has no pooler (AutoModel would initialise one randomly)")
        missing = [k for k in missing if k not in pooler]
    if missing:
        raise ConversionError(f"{where}: missing tensors of {cls}: {listing(missing)}")
    wrong = [f"'{k}' is {list(shape_of(mapped[k]))}, expected {list(expected[k])}" for k in expected
             if k in mapped and shape_of(mapped[k]) != expected[k]]
    if wrong:
        raise ConversionError(f"{where}: wrong shapes for {cls}: " + "; ".join(wrong[:12])
                              + (f"; ... ({len(wrong) - 12} more)" if len(wrong) > 12 else ""))
    return OrderedDict((k, mapped[k]) for k in expected if k in mapped)


def collect_assets(model_dir: str) -> OrderedDict:
    """{dataset name: file bytes} for the tokenizer and sentence-transformers files present."""
    assets: OrderedDict[str, bytes] = OrderedDict()
    for fname in TOKENIZER_FILES:
        path = os.path.join(model_dir, fname)
        if os.path.isfile(path):
            with open(path, "rb") as fh:
                assets[asset_name(fname)] = fh.read()
    for rel, name in SENTENCE_TRANSFORMERS_FILES:
        path = os.path.join(model_dir, rel)
        if os.path.isfile(path):
            with open(path, "rb") as fh:
                assets[name] = fh.read()
    return assets


def sentence_transformers_notes(model_dir: str, notes: list[str]) -> None:
    path = os.path.join(model_dir, "modules.json")
    if not os.path.isfile(path):
        return
    try:
        with open(path, encoding="utf-8") as fh:
            modules = json.load(fh)
        kinds = [m.get("type", "?").rsplit(".", 1)[-1] for m in modules]
    except (OSError, ValueError, AttributeError, TypeError):
        notes.append(f"{path}: not a list of modules (stored as is)")
        return
    notes.append("sentence-transformers pipeline: " + " -> ".join(kinds))
    extra = [m.get("path", "?") for m in modules
             if m.get("type", "").rsplit(".", 1)[-1] not in ("Transformer", "Pooling", "Normalize")]
    if extra:
        notes.append(f"sentence-transformers modules with their own weights are NOT converted: {listing(extra)}")


def write_file(out: str, model_type: str, config_text: str, tensors: OrderedDict, assets: OrderedDict, dtype: str) -> None:
    np_dtype = {"f32": np.float32, "f16": np.float16}[dtype]
    with atomic_h5(out) as f:
        f.attrs.create("gluegen_format", GLUEGEN_FORMAT, dtype=np.int32)
        f.attrs["model_type"] = model_type
        f.attrs["config"] = config_text
        for name, t in tensors.items():
            f.create_dataset(name.replace(".", "/"), data=t.detach().to(torch.float32).numpy().astype(np_dtype))
        for name, data in assets.items():
            f.create_dataset(name.replace(".", "/"), data=np.frombuffer(data, dtype=np.uint8))


def convert(model_dir: str, out: str, dtype: str = "f32", quiet: bool = False) -> dict:
    """Converts the folder `model_dir` to `out`; returns a summary dict. Raises ConversionError."""
    if dtype not in ("f32", "f16"):
        raise ConversionError(f"unknown --dtype '{dtype}' (f32, f16)")
    parent = os.path.dirname(os.path.abspath(out))
    if not os.path.isdir(parent):
        raise ConversionError(f"{out}: directory '{parent}' does not exist")
    config_text, cfg = read_config(model_dir)
    hf_type = cfg["model_type"]
    model_type = "hf." + hf_type
    files = weight_files(model_dir)
    where = files[0] if len(files) == 1 else f"{model_dir} ({len(files)} shards)"
    source = load_tensors(files)
    notes: list[str] = []
    ref = reference_model(model_dir, notes)
    mapped = map_names(where, source, ref, hf_type, notes)
    if ref is not None:
        tensors = check_reference(where, mapped, ref, hf_type, notes)
    else:
        tensors = mapped
    if not tensors:
        raise ConversionError(f"{where}: no float tensors left to convert")
    check_finite(where, tensors, dtype)
    for name in tensors:
        if name.startswith(("tokenizer.", "sentence_transformers.")):
            raise ConversionError(f"{where}: tensor '{name}' collides with the tokenizer asset names")
    assets = collect_assets(model_dir)
    sentence_transformers_notes(model_dir, notes)
    write_file(out, model_type, config_text, tensors, assets, dtype)
    summary = {"source": model_dir, "out": out, "model_type": model_type,
               "reference": ref[1] if ref else None, "weight_files": [os.path.basename(p) for p in files],
               "tensors": len(tensors), "parameters": sum(t.numel() for t in tensors.values()),
               "source_dtypes": sorted({str(t.dtype).replace("torch.", "") for t in tensors.values()}),
               "dtype": dtype, "assets": {k: len(v) for k, v in assets.items()}, "notes": notes,
               "bytes": os.path.getsize(out)}
    if not quiet:
        print(f"{model_dir} -> {out}")
        print(f"  model_type: {model_type}  (weights: {', '.join(summary['weight_files'])}; "
              + (f"names checked against transformers' {ref[1]})" if ref else "names NOT checked)"))
        for n in notes:
            print(f"  note: {n}")
        print(f"  tensors: {len(tensors)}  parameters: {summary['parameters']:,}  "
              f"dtype: {'/'.join(summary['source_dtypes'])} -> {dtype}")
        if assets:
            print("  assets: " + ", ".join(f"{k} ({v:,} B)" for k, v in summary["assets"].items()))
        else:
            print("  assets: none (no tokenizer files in the folder)")
        print(f"  file: {summary['bytes']:,} bytes")
    return summary


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                 epilog="See the module docstring (or docs) for the output layout.")
    ap.add_argument("model_dir", help="Hugging Face model folder (config.json, weights, tokenizer files)")
    ap.add_argument("out", help="output .h5 file")
    ap.add_argument("--dtype", default="f32", choices=["f32", "f16"], help="stored dtype of the weights (default f32)")
    ap.add_argument("--quiet", action="store_true", help="print nothing on success")
    args = ap.parse_args(argv)
    try:
        convert(args.model_dir, args.out, args.dtype, args.quiet)
    except ConversionError as e:
        print(f"convert_hf: error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
