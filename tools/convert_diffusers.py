#!/usr/bin/env python3
"""Convert a diffusers UNet2DConditionModel or AutoencoderKL folder into a gluegen HDF5 model file.

    .venv-tools/bin/python tools/convert_diffusers.py MODEL_DIR OUT.h5 [--subfolder unet|vae]
                                                      [--dtype f32|f16] [--quiet]

Input: a diffusers model folder as `save_pretrained` writes it: config.json (with "_class_name"
UNet2DConditionModel or AutoencoderKL) and the weights as diffusion_pytorch_model.safetensors,
diffusion_pytorch_model.bin (torch.load(weights_only=True)) or their sharded forms
(diffusion_pytorch_model.safetensors.index.json / diffusion_pytorch_model.bin.index.json). A pipeline
folder (model_index.json, one sub-folder per component) is accepted with --subfolder unet or vae.
The model is never run: diffusers builds the class from config.json on the meta device (no memory),
and its state_dict (what `<Class>.from_pretrained(MODEL_DIR)` holds) is the reference for the key set
and every shape.

Names are diffusers' state_dict names (conv_in.weight, down_blocks.0.resnets.0.conv1.weight,
down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q.weight, mid_block.attentions.0.to_q.weight,
...). As diffusers does on load (ModelMixin._fix_state_dict_keys_on_load), the attention blocks built
with `_from_deprecated_attn_block` (the VAE's mid-block attention) accept the names of old checkpoints:
query / key / value / proj_attn .{weight,bias} -> to_q / to_k / to_v / to_out.0; and where such a
projection weight is stored 1x1-convolution shaped [out, in, 1, 1] (LDM-style exports) it is squeezed to
diffusers' linear [out, in]. Each rename is reported as a note. Missing / unexpected keys and wrong
shapes are errors naming the file and the keys; so are NaN/Inf values and non-float tensors.

Output (HDF5 1.8 file format, written atomically; tools/gluegen_h5.py):
  root attributes  gluegen_format int32 1; model_type "diffusers.UNet2DConditionModel" or
                   "diffusers.AutoencoderKL"; config = config.json's content as JSON (sorted keys,
                   "_class_name" / "_diffusers_version" included)
  weights          one float32 (or float16) dataset per tensor, the dotted name as a group path
                   (down_blocks.0.resnets.0.conv1.weight -> /down_blocks/0/resnets/0/conv1/weight)
Other classes (UNet2DModel, Transformer2DModel, AutoencoderTiny, ...) are errors naming the class.
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

import torch

from convert_hf import load_tensors
from gluegen_h5 import ConversionError, check_against, check_finite, listing, shape_of, write_model_file

MODEL_TYPES = {"UNet2DConditionModel": "diffusers.UNet2DConditionModel", "AutoencoderKL": "diffusers.AutoencoderKL"}
WEIGHT_FILES = ("diffusion_pytorch_model.safetensors", "diffusion_pytorch_model.bin")
# ModelMixin._fix_state_dict_keys_on_load: old name -> new name inside a `_from_deprecated_attn_block` Attention
DEPRECATED_ATTENTION = (("query", "to_q"), ("key", "to_k"), ("value", "to_v"), ("proj_attn", "to_out.0"))


def model_folder(model_dir: str, subfolder: str | None) -> str:
    """The folder holding config.json: MODEL_DIR itself, or MODEL_DIR/<subfolder> of a pipeline folder."""
    if not os.path.isdir(model_dir):
        raise ConversionError(f"{model_dir}: not a directory (expected a diffusers model or pipeline folder)")
    if subfolder:
        sub = os.path.join(model_dir, subfolder)
        if not os.path.isdir(sub):
            dirs = sorted(d for d in os.listdir(model_dir) if os.path.isdir(os.path.join(model_dir, d)))
            raise ConversionError(f"{model_dir}: no sub-folder '{subfolder}' (present: {listing(dirs) or 'none'})")
        return sub
    if not os.path.isfile(os.path.join(model_dir, "config.json")) and os.path.isfile(os.path.join(model_dir, "model_index.json")):
        comps = sorted(d for d in ("unet", "vae") if os.path.isdir(os.path.join(model_dir, d)))
        raise ConversionError(f"{model_dir}: is a pipeline folder (model_index.json); pass --subfolder "
                              f"{' or '.join(comps) if comps else 'unet|vae'} to convert one component")
    return model_dir


def read_config(folder: str) -> dict:
    path = os.path.join(folder, "config.json")
    if not os.path.isfile(path):
        raise ConversionError(f"{path}: no such file (a diffusers model folder has config.json)")
    try:
        with open(path, encoding="utf-8") as fh:
            cfg = json.load(fh)
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ConversionError(f"{path}: not valid UTF-8 JSON: {e}") from e
    if not isinstance(cfg, dict) or not isinstance(cfg.get("_class_name"), str):
        raise ConversionError(f"{path}: has no \"_class_name\" string (a diffusers model config names its class)")
    if cfg["_class_name"] not in MODEL_TYPES:
        raise ConversionError(f"{path}: \"_class_name\" is '{cfg['_class_name']}'; gluegen converts only "
                              f"{' and '.join(MODEL_TYPES)}")
    return cfg


def weight_files(folder: str) -> list[str]:
    """The weight file(s) to read: single safetensors, sharded safetensors, then the same for .bin."""
    for single in WEIGHT_FILES:
        index = os.path.join(folder, single + ".index.json")
        if os.path.isfile(os.path.join(folder, single)):
            return [os.path.join(folder, single)]
        if os.path.isfile(index):
            try:
                with open(index, encoding="utf-8") as fh:
                    weight_map = json.load(fh)["weight_map"]
                shards = sorted(set(weight_map.values()))
            except (OSError, ValueError, KeyError, TypeError, AttributeError) as e:
                raise ConversionError(f"{index}: not a shard index with a \"weight_map\": {e}") from e
            missing = [s for s in shards if not os.path.isfile(os.path.join(folder, s))]
            if missing:
                raise ConversionError(f"{index}: names shards that are not in the folder: {listing(missing)}")
            return [os.path.join(folder, s) for s in shards]
    present = sorted(os.listdir(folder))
    raise ConversionError(f"{folder}: no {' or '.join(WEIGHT_FILES)} (nor a sharded index); files present: "
                          f"{listing(present) or 'none'}")


def reference_model(folder: str, cfg: dict):
    """(state_dict shapes in order, paths of the `_from_deprecated_attn_block` attentions) of the diffusers
    class that config.json names, built on the meta device."""
    where = os.path.join(folder, "config.json")
    try:
        import diffusers
    except ImportError as e:
        raise ConversionError("diffusers is not installed (tools/requirements.txt); it defines the reference key set") from e
    cls = getattr(diffusers, cfg["_class_name"])
    sink = io.StringIO()
    try:
        with warnings.catch_warnings(), contextlib.redirect_stderr(sink):
            warnings.simplefilter("ignore")
            logging.disable(logging.WARNING)
            try:
                with torch.device("meta"):
                    model = cls.from_config(cfg)
            finally:
                logging.disable(logging.NOTSET)
    except Exception as e:
        msg = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise ConversionError(f"{where}: diffusers cannot build {cfg['_class_name']} from this config: {msg[:300]}") from e
    shapes = OrderedDict((k, shape_of(v)) for k, v in model.state_dict().items())
    deprecated = [name for name, m in model.named_modules() if getattr(m, "_from_deprecated_attn_block", False)]
    return shapes, deprecated


def fix_deprecated_names(where: str, sd: OrderedDict, shapes: OrderedDict, deprecated: list[str],
                         notes: list[str]) -> OrderedDict:
    """Old attention names -> diffusers' (as ModelMixin._fix_state_dict_keys_on_load), and 1x1-conv
    shaped projection weights [out, in, 1, 1] -> [out, in]."""
    renames: dict[str, str] = {}
    for path in deprecated:
        for old, new in DEPRECATED_ATTENTION:
            for leaf in ("weight", "bias"):
                src, dst = f"{path}.{old}.{leaf}", f"{path}.{new}.{leaf}"
                if src in sd:
                    if dst in sd:
                        raise ConversionError(f"{where}: holds both '{src}' (deprecated name) and '{dst}'")
                    renames[src] = dst
    out: OrderedDict[str, torch.Tensor] = OrderedDict()
    squeezed = []
    for name, t in sd.items():
        name = renames.get(name, name)
        ref = shapes.get(name)
        if (ref is not None and len(ref) == 2 and t.dim() == 4 and tuple(t.shape[2:]) == (1, 1)
                and any(name.startswith(p + ".") for p in deprecated)):
            t = t[:, :, 0, 0]
            squeezed.append(name)
        out[name] = t
    if renames:
        notes.append(f"renamed {len(renames)} deprecated attention keys as diffusers does on load "
                     f"({listing(renames, 4)} -> to_q / to_k / to_v / to_out.0)")
    if squeezed:
        notes.append(f"squeezed {len(squeezed)} 1x1-conv shaped attention weights [out, in, 1, 1] to [out, in]: "
                     f"{listing(squeezed, 4)}")
    return out


def convert(model_dir: str, out: str, dtype: str = "f32", quiet: bool = False, subfolder: str | None = None) -> dict:
    """Converts the folder `model_dir` (or its `subfolder`) to `out`; returns a summary dict.
    Raises ConversionError with a message naming the file and the keys."""
    if dtype not in ("f32", "f16"):
        raise ConversionError(f"unknown --dtype '{dtype}' (f32, f16)")
    parent = os.path.dirname(os.path.abspath(out))
    if not os.path.isdir(parent):
        raise ConversionError(f"{out}: directory '{parent}' does not exist")
    folder = model_folder(model_dir, subfolder)
    cfg = read_config(folder)
    class_name = cfg["_class_name"]
    model_type = MODEL_TYPES[class_name]
    files = weight_files(folder)
    where = files[0] if len(files) == 1 else f"{folder} ({len(files)} shards)"
    source = load_tensors(files)
    notes: list[str] = []
    shapes, deprecated = reference_model(folder, cfg)
    fixed = fix_deprecated_names(where, source, shapes, deprecated, notes)
    tensors = check_against(where, fixed, shapes, f"diffusers {class_name} state_dict (config {os.path.join(folder, 'config.json')})")
    check_finite(where, tensors, dtype)
    write_model_file(out, model_type, cfg, tensors, dtype)
    summary = {"source": folder, "out": out, "model_type": model_type, "config": cfg,
               "weight_files": [os.path.basename(p) for p in files], "tensors": len(tensors),
               "parameters": sum(t.numel() for t in tensors.values()),
               "source_dtypes": sorted({str(t.dtype).replace("torch.", "") for t in tensors.values()}),
               "dtype": dtype, "notes": notes, "bytes": os.path.getsize(out)}
    if not quiet:
        print(f"{folder} -> {out}")
        for n in notes:
            print(f"  note: {n}")
        print(f"  model_type: {model_type}  (weights: {', '.join(summary['weight_files'])}; key set and shapes "
              f"checked against diffusers' {class_name})")
        print(f"  tensors: {len(tensors)}  parameters: {summary['parameters']:,}  "
              f"dtype: {'/'.join(summary['source_dtypes'])} -> {dtype}  file: {summary['bytes']:,} bytes")
    return summary


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                 epilog="See the module docstring (or docs) for the output layout.")
    ap.add_argument("model_dir", help="diffusers model folder (config.json + diffusion_pytorch_model.*), or a pipeline "
                                      "folder with --subfolder")
    ap.add_argument("out", help="output .h5 file")
    ap.add_argument("--subfolder", default=None, help="component of a pipeline folder to convert (unet, vae)")
    ap.add_argument("--dtype", default="f32", choices=["f32", "f16"], help="stored dtype of the weights (default f32)")
    ap.add_argument("--quiet", action="store_true", help="print nothing on success")
    args = ap.parse_args(argv)
    try:
        convert(args.model_dir, args.out, args.dtype, args.quiet, args.subfolder)
    except ConversionError as e:
        print(f"convert_diffusers: error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
