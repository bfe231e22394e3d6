#!/usr/bin/env python3
"""Convert a LaVi-Bridge checkpoint folder (T5 text encoder + Stable Diffusion UNet) into a gluegen HDF5 model file.

    .venv-tools/bin/python tools/convert_lavi_bridge.py CKPT_DIR OUT.h5 --unet-config PATH [--text-config PATH]
                                                        [--dtype f32|f16] [--quiet]

Input: a checkpoint folder of ShihaoZhaoZSH/LaVi-Bridge's "t5_unet" setting:
  adapter/      diffusers ModelMixin save of TextAdapter(in_dim, int_dim, out_dim): config.json (in_dim,
                int_dim, out_dim) and diffusion_pytorch_model.safetensors (or .bin). Keys norm1.* [in],
                ff1.net.0.proj.* [8 in, in] (GEGLU: value, gate halves), ff1.net.2.* [int, 4 in], norm2.* [int],
                ff2.net.0.proj.* [8 int, int], ff2.net.2.* [out, 4 int]; forward ff2(norm2(ff1(norm1(x)))).
  lora_vis.pt   torch.save'd LIST of float16 tensors [up0, down0, up1, down1, ...] for the UNet
  lora_text.pt  the same for the T5 encoder (optional; needs --text-config when present)
--unet-config is diffusers' UNet2DConditionModel config.json (or a folder holding it, e.g. SD's unet/);
--text-config is transformers' T5 config.json (or its folder). Both models are built on the meta device
(no memory, nothing run) only to walk their modules the way LaVi-Bridge assigns the list:

  ancestors: every module of model.modules() (pre-order, registration order) whose class name is a target
  (UNet: ResnetBlock2D, CrossAttention, Attention, GEGLU; T5: T5Attention); for each, every nn.Linear /
  nn.Conv2d of ancestor.named_modules() takes the next two list items (up, then down), EXCEPT that a Linear
  whose next item is not 2-D, or a Conv2d whose next item is not 4-D, is skipped (no LoRA) and consumes
  nothing. In diffusers' UNet that is every resnet's conv1, time_emb_proj, conv2 (conv_shortcut), every
  attention's to_q, to_k, to_v, to_out.0 and every GEGLU's proj, in the order down_blocks, up_blocks,
  mid_block (the UNet registers up_blocks before mid_block), attentions before resnets within a block.
  In T5: each T5Attention's q, k, v, o.
LoRA: Linear y = W x + b + up(down(x)), down [r, in], up [out, r]; Conv2d y = conv(x) + up(down(x)), down
a conv [r, in, kh, kw] with the base conv's stride / padding / dilation / groups, up a 1x1 conv [out, r, 1, 1];
scale 1, no bias. Every shape is checked against its module; the rank r is inferred and must be one.
A skipped module is written with ZERO lora_A / lora_B (exactly no LoRA) and named in a note. LaVi-Bridge
raises when the list runs out and ignores what is left over; both are errors here (the config does not
match the checkpoint), naming the file, the modules matched and the first module without weights.

Output (tools/gluegen_h5.py's layout): model_type "gluegen.lavi_bridge", config {adapter: {in_dim, int_dim,
out_dim, mult 4}, rank, scale 1.0, unet_lora_targets, unet_lora_modules, text_encoder ("t5" or ""),
text_encoder_lora_targets, text_encoder_lora_modules}; datasets
  adapter.<TextAdapter key>                       (adapter.norm1.weight, adapter.ff1.net.0.proj.weight, ...)
  unet.<diffusers module>.lora_A.weight = down    (unet.down_blocks.0.resnets.0.conv1.lora_A.weight [r, in, 3, 3])
  unet.<diffusers module>.lora_B.weight = up      (unet.down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q.lora_B.weight)
  text_encoder.<T5EncoderModel module>.lora_{A,B}.weight  (text_encoder.encoder.block.0.layer.0.SelfAttention.q.lora_A.weight)
Exit status 0 on success, 2 on a conversion error (the message names the file and the keys / modules).
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
from collections import Counter, OrderedDict, namedtuple

import torch
import torch.nn as nn

from gluegen_h5 import (ConversionError, check_against, check_finite, flatten_state, listing, load_checkpoint, shape_of,
                        write_model_file)

MODEL_TYPE = "gluegen.lavi_bridge"
UNET_TARGETS = ("ResnetBlock2D", "CrossAttention", "Attention", "GEGLU")  # LaVi-Bridge's set (CrossAttention: old diffusers)
TEXT_TARGETS = ("T5Attention",)
ADAPTER_WEIGHTS = ("diffusion_pytorch_model.safetensors", "diffusion_pytorch_model.bin")
MULT = 4  # TextAdapter's FeedForward width multiplier (fixed there)

# one LoRA'd module: its path in the model, "Linear" / "Conv2d", base weight shape [out, in(/groups), kh, kw]
Target = namedtuple("Target", "path kind shape")


def read_json(path: str, flag: str) -> tuple[str, dict]:
    """(file, content) of a config.json given as the file or the folder holding it."""
    file = os.path.join(path, "config.json") if os.path.isdir(path) else path
    if not os.path.isfile(file):
        raise ConversionError(f"{file}: no such file ({flag} takes a config.json or the folder holding it)")
    try:
        with open(file, encoding="utf-8") as fh:
            cfg = json.load(fh)
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ConversionError(f"{file}: not valid UTF-8 JSON: {e}") from e
    if not isinstance(cfg, dict):
        raise ConversionError(f"{file}: holds a JSON {type(cfg).__name__}, expected an object")
    return file, cfg


def build_on_meta(where: str, what: str, build):
    """build() on the meta device, the libraries' warnings and log lines silenced."""
    try:
        with warnings.catch_warnings(), contextlib.redirect_stderr(io.StringIO()):
            warnings.simplefilter("ignore")
            logging.disable(logging.WARNING)
            try:
                with torch.device("meta"):
                    return build()
            finally:
                logging.disable(logging.NOTSET)
    except ImportError as e:
        raise ConversionError(f"{e.name or 'a library'} is not installed (tools/requirements.txt); it builds the {what}") from e
    except Exception as e:
        msg = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise ConversionError(f"{where}: cannot build the {what} from this config: {msg[:300]}") from e


def unet_on_meta(path: str) -> tuple[str, dict, nn.Module]:
    file, cfg = read_json(path, "--unet-config")
    if cfg.get("_class_name", "UNet2DConditionModel") != "UNet2DConditionModel":
        raise ConversionError(f"{file}: \"_class_name\" is '{cfg['_class_name']}'; LaVi-Bridge's UNet is a UNet2DConditionModel")

    def build():
        from diffusers import UNet2DConditionModel
        return UNet2DConditionModel.from_config(cfg)
    return file, cfg, build_on_meta(file, "diffusers UNet2DConditionModel", build)


def t5_on_meta(path: str) -> tuple[str, dict, nn.Module]:
    file, cfg = read_json(path, "--text-config")
    if cfg.get("model_type") != "t5":
        raise ConversionError(f"{file}: \"model_type\" is {cfg.get('model_type')!r}; LaVi-Bridge's t5_unet setting "
                              "takes a T5 encoder (model_type 't5')")

    def build():
        from transformers import T5Config, T5EncoderModel
        return T5EncoderModel(T5Config.from_dict(cfg))
    return file, cfg, build_on_meta(file, "transformers T5EncoderModel", build)


def lora_targets(where: str, model: nn.Module, targets: tuple[str, ...]) -> list[Target]:
    """The Linear / Conv2d modules LaVi-Bridge visits, in its order (see the module docstring)."""
    paths = {id(m): name for name, m in model.named_modules()}
    found: list[Target] = []
    for ancestor in model.modules():
        if type(ancestor).__name__ not in targets:
            continue
        for _, m in ancestor.named_modules():
            if isinstance(m, nn.Conv2d):
                found.append(Target(paths[id(m)], "Conv2d", shape_of(m.weight)))
            elif isinstance(m, nn.Linear):
                found.append(Target(paths[id(m)], "Linear", shape_of(m.weight)))
    dup = [p for p, n in Counter(t.path for t in found).items() if n > 1]
    if dup:  # a target class nested in another: LaVi-Bridge would visit these twice; no real model does that
        raise ConversionError(f"{where}: modules reached from two LoRA targets: {listing(dup)}")
    if not found:
        raise ConversionError(f"{where}: the model has no {' / '.join(targets)} modules with Linear / Conv2d layers")
    return found


def lora_shapes(t: Target, r: int) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """(down, up) shapes of module t's LoRA at rank r."""
    if t.kind == "Linear":
        return (r, t.shape[1]), (t.shape[0], r)
    return (r, *t.shape[1:]), (t.shape[0], r, 1, 1)


def assign_lora(where: str, items: list, targets: list[Target], prefix: str, rank: int | None,
                notes: list[str]) -> tuple[OrderedDict, int, list[str]]:
    """LaVi-Bridge's assignment of the list `items` to `targets` -> ({name: tensor} with lora_A = down and
    lora_B = up of every target, zeros for the skipped ones; rank; skipped paths)."""
    bad = [f"[{i}] ({type(x).__name__})" for i, x in enumerate(items) if not isinstance(x, torch.Tensor)]
    if bad:
        raise ConversionError(f"{where}: list items that are not tensors: {', '.join(bad[:8])}")
    pos, first, skipped = 0, None, []
    pairs: list[tuple[Target, torch.Tensor | None, torch.Tensor | None]] = []
    for i, t in enumerate(targets):
        if pos < len(items) and items[pos].dim() != (2 if t.kind == "Linear" else 4):
            skipped.append(t.path)  # LaVi-Bridge's skip: it looks at the next item only, and consumes nothing
            pairs.append((t, None, None))
            continue
        if pos + 1 >= len(items):  # LaVi-Bridge: IndexError
            got = "is exhausted" if pos >= len(items) else f"has one tensor left ([{pos}], {list(shape_of(items[pos]))})"
            raise ConversionError(f"{where}: the list of {len(items)} tensors {got} after {i} of the {len(targets)} "
                                  f"LoRA modules the config gives ({i - len(skipped)} matched, {len(skipped)} skipped); "
                                  f"the first module without weights is '{t.path}' ({t.kind} {list(t.shape)})")
        up, down = items[pos], items[pos + 1]
        pos += 2
        r = int(up.shape[1])
        want_down, want_up = lora_shapes(t, r)
        if shape_of(up) != want_up or shape_of(down) != want_down:
            raise ConversionError(f"{where}: items [{pos - 2}], [{pos - 1}] for '{t.path}' ({t.kind} {list(t.shape)}): "
                                  f"up is {list(shape_of(up))}, down {list(shape_of(down))}; expected up "
                                  f"{list(want_up)}, down {list(want_down)} (rank {r})")
        if rank is None:
            rank, first = r, t.path
        elif r != rank:
            raise ConversionError(f"{where}: '{t.path}' (items [{pos - 2}], [{pos - 1}]) has LoRA rank {r}, but "
                                  f"{repr(first) if first else 'the UNet LoRA'} has rank {rank}; LaVi-Bridge uses one rank")
        pairs.append((t, up, down))
    if pos < len(items):
        raise ConversionError(f"{where}: {len(items) - pos} tensors left over after the {len(targets)} LoRA modules "
                              f"the config gives took {pos} (the first left over, [{pos}], is {list(shape_of(items[pos]))}): "
                              "the config does not match this checkpoint")
    assert rank is not None  # a list that fits no module is left over (or exhausted) above
    out: OrderedDict[str, torch.Tensor] = OrderedDict()
    for t, up, down in pairs:
        want_down, want_up = lora_shapes(t, rank)
        out[f"{prefix}{t.path}.lora_A.weight"] = down if down is not None else torch.zeros(want_down)
        out[f"{prefix}{t.path}.lora_B.weight"] = up if up is not None else torch.zeros(want_up)
    for p in skipped:
        notes.append(f"{os.path.basename(where)}: '{p}' skipped as LaVi-Bridge does (the next item's dimension "
                     "does not fit the layer): written as zero LoRA")
    return out, rank, skipped


def adapter_shapes(c: dict) -> OrderedDict:
    """TextAdapter's state_dict (FeedForward(dim, dim_out, mult 4, GEGLU) = net.0.proj, net.1 dropout, net.2)."""
    i, n, o = c["in_dim"], c["int_dim"], c["out_dim"]
    s = OrderedDict()
    for ln, ff, d_in, d_out in (("norm1", "ff1", i, n), ("norm2", "ff2", n, o)):
        s[f"{ln}.weight"], s[f"{ln}.bias"] = (d_in,), (d_in,)
        s[f"{ff}.net.0.proj.weight"], s[f"{ff}.net.0.proj.bias"] = (2 * MULT * d_in, d_in), (2 * MULT * d_in,)
        s[f"{ff}.net.2.weight"], s[f"{ff}.net.2.bias"] = (d_out, MULT * d_in), (d_out,)
    return OrderedDict([(k, s[k]) for k in ("norm1.weight", "norm1.bias", "ff1.net.0.proj.weight", "ff1.net.0.proj.bias",
                                            "ff1.net.2.weight", "ff1.net.2.bias", "norm2.weight", "norm2.bias",
                                            "ff2.net.0.proj.weight", "ff2.net.0.proj.bias", "ff2.net.2.weight",
                                            "ff2.net.2.bias")])


def load_adapter(ckpt: str, notes: list[str]) -> tuple[dict, OrderedDict, str]:
    folder = os.path.join(ckpt, "adapter")
    if not os.path.isdir(folder):
        raise ConversionError(f"{folder}: no such directory (a LaVi-Bridge checkpoint holds adapter/, lora_vis.pt, lora_text.pt)")
    file, cfg = read_json(folder, "adapter/")
    dims = {k: cfg.get(k) for k in ("in_dim", "int_dim", "out_dim")}
    if not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in dims.values()):
        raise ConversionError(f"{file}: expected positive integers in_dim, int_dim, out_dim (TextAdapter's); got {dims}")
    weights = next((os.path.join(folder, w) for w in ADAPTER_WEIGHTS if os.path.isfile(os.path.join(folder, w))), None)
    if weights is None:
        raise ConversionError(f"{folder}: no {' or '.join(ADAPTER_WEIGHTS)}; files present: "
                              f"{listing(os.listdir(folder)) or 'none'}")
    sd, more, skipped = flatten_state(weights, load_checkpoint(weights))
    notes += [f"adapter: {n}" for n in more] + ([f"adapter: skipped non-tensor entries {listing(skipped)}"] if skipped else [])
    tensors = check_against(weights, sd, adapter_shapes(dims), f"TextAdapter state_dict ({file}: {json.dumps(dims)})")
    return dims, tensors, weights


def load_list(path: str) -> list:
    obj = load_checkpoint(path)
    if not isinstance(obj, (list, tuple)):
        raise ConversionError(f"{path}: holds a {type(obj).__name__}; LaVi-Bridge saves a list of tensors [up, down, up, down, ...]")
    return list(obj)


def convert(ckpt: str, out: str, unet_config: str, text_config: str | None = None, dtype: str = "f32",
            quiet: bool = False) -> dict:
    """Converts the checkpoint folder `ckpt` to `out`; returns a summary dict. Raises ConversionError
    with a message naming the file and the keys / modules."""
    if dtype not in ("f32", "f16"):
        raise ConversionError(f"unknown --dtype '{dtype}' (f32, f16)")
    parent = os.path.dirname(os.path.abspath(out))
    if not os.path.isdir(parent):
        raise ConversionError(f"{out}: directory '{parent}' does not exist")
    if not os.path.isdir(ckpt):
        raise ConversionError(f"{ckpt}: not a directory (expected LaVi-Bridge's checkpoint folder)")
    vis, text = os.path.join(ckpt, "lora_vis.pt"), os.path.join(ckpt, "lora_text.pt")
    if not os.path.isfile(vis):
        raise ConversionError(f"{vis}: no such file (the UNet's LoRA list)")
    if os.path.isfile(text) and not text_config:
        raise ConversionError(f"{text}: the text encoder's LoRA list is present; pass --text-config (the T5 "
                              "config.json) so its modules can be matched")
    if text_config and not os.path.isfile(text):
        raise ConversionError(f"{text}: no such file, yet --text-config was given (a checkpoint without text-encoder "
                              "LoRA needs no --text-config)")
    notes: list[str] = []
    dims, adapter, adapter_file = load_adapter(ckpt, notes)
    unet_file, unet_cfg, unet = unet_on_meta(unet_config)
    cross = unet_cfg.get("cross_attention_dim")
    if isinstance(cross, int) and cross != dims["out_dim"]:
        raise ConversionError(f"{adapter_file}: the adapter's out_dim {dims['out_dim']} is not the UNet's "
                              f"cross_attention_dim {cross} ({unet_file})")
    unet_targets = lora_targets(unet_file, unet, UNET_TARGETS)
    lora, rank, skipped = assign_lora(vis, load_list(vis), unet_targets, "unet.", None, notes)
    check_finite(vis, lora, dtype)
    text_targets: list[Target] = []
    if text_config:
        t5_file, t5_cfg, t5 = t5_on_meta(text_config)
        if t5_cfg.get("d_model") != dims["in_dim"]:
            raise ConversionError(f"{adapter_file}: the adapter's in_dim {dims['in_dim']} is not the T5 d_model "
                                  f"{t5_cfg.get('d_model')} ({t5_file})")
        text_targets = lora_targets(t5_file, t5, TEXT_TARGETS)
        text_lora, _, text_skipped = assign_lora(text, load_list(text), text_targets, "text_encoder.", rank, notes)
        check_finite(text, text_lora, dtype)
        lora.update(text_lora)
        skipped += text_skipped
    check_finite(adapter_file, adapter, dtype)
    used = sorted({type(m).__name__ for m in unet.modules()} & set(UNET_TARGETS))
    cfg = {"adapter": {**dims, "mult": MULT}, "rank": rank, "scale": 1.0,
           "unet_lora_targets": used, "unet_lora_modules": len(unet_targets),
           "text_encoder": "t5" if text_config else "", "text_encoder_lora_targets": list(TEXT_TARGETS) if text_config else [],
           "text_encoder_lora_modules": len(text_targets)}
    tensors = OrderedDict((f"adapter.{k}", v) for k, v in adapter.items())
    tensors.update(lora)
    write_model_file(out, MODEL_TYPE, cfg, tensors, dtype)
    kinds = {w: {k: sum(t.kind == k for t in ts) for k in ("Linear", "Conv2d")} for w, ts in
             (("unet", unet_targets), ("text_encoder", text_targets))}
    summary = {"source": ckpt, "out": out, "model_type": MODEL_TYPE, "config": cfg, "dtype": dtype, "kinds": kinds,
               "skipped": skipped, "tensors": len(tensors), "parameters": sum(t.numel() for t in tensors.values()),
               "notes": notes, "bytes": os.path.getsize(out)}
    if not quiet:
        print(f"{ckpt} -> {out}")
        for n in notes:
            print(f"  note: {n}")
        print(f"  model_type: {MODEL_TYPE}  config: {json.dumps(cfg, sort_keys=True)}")
        for w, k in kinds.items():
            if sum(k.values()):
                print(f"  {w} LoRA: {k['Linear']} Linear + {k['Conv2d']} Conv2d modules, rank {rank}")
        print(f"  skipped (zero LoRA): {len(skipped)}  tensors: {len(tensors)}  parameters: {summary['parameters']:,}  "
              f"dtype: {dtype}  file: {summary['bytes']:,} bytes")
    return summary


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                 epilog="See the module docstring (or docs) for the layout and LaVi-Bridge's assignment rule.")
    ap.add_argument("ckpt_dir", help="LaVi-Bridge checkpoint folder (adapter/, lora_vis.pt, lora_text.pt)")
    ap.add_argument("out", help="output .h5 file")
    ap.add_argument("--unet-config", required=True, help="diffusers UNet2DConditionModel config.json, or its folder (SD's unet/)")
    ap.add_argument("--text-config", default=None, help="transformers T5 config.json, or its folder (needed iff lora_text.pt exists)")
    ap.add_argument("--dtype", default="f32", choices=["f32", "f16"], help="stored dtype (default f32)")
    ap.add_argument("--quiet", action="store_true", help="print nothing on success")
    args = ap.parse_args(argv)
    try:
        convert(args.ckpt_dir, args.out, args.unet_config, args.text_config, args.dtype, args.quiet)
    except ConversionError as e:
        print(f"convert_lavi_bridge: error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
