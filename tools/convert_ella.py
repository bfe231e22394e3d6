#!/usr/bin/env python3
"""Convert an ELLA Timestep-aware Semantic Connector (TSC) checkpoint into a gluegen HDF5 model file.

    .venv-tools/bin/python tools/convert_ella.py CHECKPOINT OUT.h5 [--heads 8] [--prefix P]
                                                 [--dtype f32|f16] [--quiet]

Input: the state_dict of TencentQQGYLab/ELLA's `ELLA` module (model.py), as a .safetensors file (the
released ella-sd1.5-tsc-t5xl.safetensors, loaded there with strict keys into a default ELLA()) or a
torch.save'd .pt/.pth/.ckpt/.bin (torch.load(weights_only=True)). Training-loop wrappers, `module.` /
`_orig_mod.` name parts and --prefix (e.g. 'ella.') are handled as in tools/convert_gluegen.py. Keys:

  time_embedding.linear_{1,2}.{weight,bias}           diffusers TimestepEmbedding (C -> E -> E, SiLU)
  connector.latents [N, W], connector.time_aware_linear.* [W, E], connector.proj_in.* [W, I]
  connector.perceiver_blocks.{i}.attn.in_proj_weight [3W, W], .in_proj_bias [3W]   (rows Q, K, V)
  connector.perceiver_blocks.{i}.attn.out_proj.*, .mlp.c_fc.* [4W, W], .mlp.c_proj.* [W, 4W],
  connector.perceiver_blocks.{i}.ln_{1,2,ff}.linear.* [2W, E]                       (AdaLN: shift, scale)

Output: model_type "gluegen.timestep_connector", config {time_channel C, time_embed_dim E, width W,
layers, heads, num_latents N, input_dim I}; the datasets are ELLA's keys, except that each block's
packed attention becomes gluegen's MultiHeadAttention names attn.q_proj / k_proj / v_proj .{weight,bias}
(rows 0:W, W:2W, 2W:3W of in_proj_*) next to attn.out_proj. Every value but `heads` is inferred from the
shapes; heads cannot be (the packed projection looks the same for any head count), so it comes from
--heads, default 8 as in ELLA's release, and is stored. The whole key set and every shape is checked;
missing / unexpected keys and wrong shapes are errors naming the file and the keys (exit status 2).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from collections import OrderedDict

import torch

from gluegen_h5 import (ConversionError, check_against, check_finite, flatten_state, get_shape, listing, load_checkpoint,
                        select_prefix, write_model_file)

MODEL_TYPE = "gluegen.timestep_connector"
DEFAULT_HEADS = 8  # ELLA() default, the released sd1.5 TSC
_BLOCK = re.compile(r"^connector\.perceiver_blocks\.(\d+)\.")


def ella_shapes(cfg: dict) -> OrderedDict:
    """Every key of ELLA's state_dict (model.py, ELLA(...)) for this config, in state_dict order."""
    C, E, W, N, D = cfg["time_channel"], cfg["time_embed_dim"], cfg["width"], cfg["num_latents"], cfg["input_dim"]
    s: list[tuple[str, tuple[int, ...]]] = [
        ("time_embedding.linear_1.weight", (E, C)), ("time_embedding.linear_1.bias", (E,)),
        ("time_embedding.linear_2.weight", (E, E)), ("time_embedding.linear_2.bias", (E,)),
        ("connector.latents", (N, W)),
        ("connector.time_aware_linear.weight", (W, E)), ("connector.time_aware_linear.bias", (W,)),
        ("connector.proj_in.weight", (W, D)), ("connector.proj_in.bias", (W,)),
    ]
    for i in range(cfg["layers"]):
        b = f"connector.perceiver_blocks.{i}."
        s += [(b + "attn.in_proj_weight", (3 * W, W)), (b + "attn.in_proj_bias", (3 * W,)),
              (b + "attn.out_proj.weight", (W, W)), (b + "attn.out_proj.bias", (W,)),
              (b + "mlp.c_fc.weight", (4 * W, W)), (b + "mlp.c_fc.bias", (4 * W,)),
              (b + "mlp.c_proj.weight", (W, 4 * W)), (b + "mlp.c_proj.bias", (W,))]
        for ln in ("ln_1", "ln_2", "ln_ff"):
            s += [(f"{b}{ln}.linear.weight", (2 * W, E)), (f"{b}{ln}.linear.bias", (2 * W,))]
    return OrderedDict(s)


def to_gluegen(tensors: OrderedDict, width: int) -> OrderedDict:
    """ELLA's names -> gluegen's: the packed in_proj_{weight,bias} of each block split into
    q_proj / k_proj / v_proj .{weight,bias}; every other tensor keeps its name."""
    out: OrderedDict[str, torch.Tensor] = OrderedDict()
    for name, t in tensors.items():
        head, _, leaf = name.rpartition(".")
        if leaf in ("in_proj_weight", "in_proj_bias"):
            kind = "weight" if leaf == "in_proj_weight" else "bias"
            for j, proj in enumerate(("q_proj", "k_proj", "v_proj")):
                out[f"{head}.{proj}.{kind}"] = t[j * width:(j + 1) * width].contiguous()
        else:
            out[name] = t
    return out


def infer_config(where: str, sd: dict, heads: int) -> tuple[dict, OrderedDict]:
    """(config, tensors in ELLA's state_dict order): the config from the shapes (heads given), then
    the whole key set and every shape checked against it."""
    if "time_embedding.linear_1.weight" not in sd:
        deeper = sorted({k[:-len("time_embedding.linear_1.weight")] for k in sd if k.endswith(".time_embedding.linear_1.weight")})
        if deeper:
            raise ConversionError(f"{where}: ELLA's keys sit under {listing(deeper)}; pass --prefix {deeper[0]!r}")
    proj_out = [k for k in sd if k.startswith("connector.proj_out.")]
    if proj_out:
        raise ConversionError(f"{where}: has {listing(proj_out)}: a PerceiverResampler with output_dim (proj_out + "
                              "LayerNorm), which ELLA's released TSC does not use and gluegen does not implement")
    E, C = get_shape(where, sd, "time_embedding.linear_1.weight", 2)
    N, W = get_shape(where, sd, "connector.latents", 2)
    _, D = get_shape(where, sd, "connector.proj_in.weight", 2)
    blocks = sorted({int(m.group(1)) for k in sd if (m := _BLOCK.match(k))})
    if not blocks:
        raise ConversionError(f"{where}: no 'connector.perceiver_blocks.{{i}}.*' keys: the TSC has at least one block")
    if blocks != list(range(len(blocks))):
        raise ConversionError(f"{where}: perceiver block indices {blocks} are not 0..{len(blocks) - 1}")
    cfg = {"time_channel": C, "time_embed_dim": E, "width": W, "layers": len(blocks), "heads": heads,
           "num_latents": N, "input_dim": D}
    tensors = check_against(where, sd, ella_shapes(cfg), f"state_dict of ELLA's TSC (inferred {json.dumps(cfg)})")
    if C % 2:
        raise ConversionError(f"{where}: time_channel {C} ('time_embedding.linear_1.weight' {[E, C]}) is odd; gluegen's "
                              "sinusoidal embedding needs an even width (diffusers zero-pads an odd one)")
    if heads < 1 or W % heads:
        raise ConversionError(f"{where}: --heads {heads} does not divide the width {W}")
    return cfg, tensors


def convert(src: str, out: str, heads: int = DEFAULT_HEADS, dtype: str = "f32", quiet: bool = False,
            prefix: str | None = None) -> dict:
    """Converts `src` to `out`; returns a summary dict (model_type, config, tensors, parameters, ...).
    Raises ConversionError with a message naming the file and the keys."""
    if dtype not in ("f32", "f16"):
        raise ConversionError(f"unknown --dtype '{dtype}' (f32, f16)")
    parent = os.path.dirname(os.path.abspath(out))
    if not os.path.isdir(parent):
        raise ConversionError(f"{out}: directory '{parent}' does not exist")
    sd, notes, skipped = flatten_state(src, load_checkpoint(src))
    if prefix:
        sd = select_prefix(src, sd, prefix, notes)
    if not sd:
        raise ConversionError(f"{src}: holds no tensors")
    cfg, ella = infer_config(src, sd, heads)
    check_finite(src, ella, dtype)
    tensors = to_gluegen(ella, cfg["width"])
    write_model_file(out, MODEL_TYPE, cfg, tensors, dtype)
    summary = {"source": src, "out": out, "model_type": MODEL_TYPE, "config": cfg, "dtype": dtype,
               "source_tensors": len(ella), "tensors": len(tensors), "parameters": sum(t.numel() for t in tensors.values()),
               "source_dtypes": sorted({str(t.dtype).replace("torch.", "") for t in ella.values()}),
               "skipped": skipped, "notes": notes, "bytes": os.path.getsize(out)}
    if not quiet:
        print(f"{src} -> {out}")
        for n in notes:
            print(f"  note: {n}")
        if skipped:
            print(f"  skipped non-tensor entries: {listing(skipped)}")
        print(f"  model_type: {MODEL_TYPE}")
        print(f"  config: {json.dumps(cfg, sort_keys=True)}  (heads from --heads)")
        print(f"  tensors: {len(tensors)} (ELLA's {len(ella)}, each block's in_proj_weight / in_proj_bias split into q/k/v)  "
              f"parameters: {summary['parameters']:,}  dtype: {'/'.join(summary['source_dtypes'])} -> {dtype}  "
              f"file: {summary['bytes']:,} bytes")
    return summary


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                 epilog="See the module docstring (or docs) for the key layout.")
    ap.add_argument("checkpoint", help=".safetensors (ELLA's release) or .pt/.pth/.ckpt/.bin (torch.save'd state_dict)")
    ap.add_argument("out", help="output .h5 file")
    ap.add_argument("--heads", type=int, default=DEFAULT_HEADS,
                    help=f"attention heads per block (not recoverable from the shapes; default {DEFAULT_HEADS}, ELLA's release)")
    ap.add_argument("--prefix", default=None, help="convert only the keys under this name prefix, with it removed (e.g. 'ella.')")
    ap.add_argument("--dtype", default="f32", choices=["f32", "f16"], help="stored dtype (default f32)")
    ap.add_argument("--quiet", action="store_true", help="print nothing on success")
    args = ap.parse_args(argv)
    try:
        convert(args.checkpoint, args.out, args.heads, args.dtype, args.quiet, args.prefix)
    except ConversionError as e:
        print(f"convert_ella: error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
