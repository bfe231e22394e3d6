#!/usr/bin/env python3
"""Convert a GlueGen / GlueNet PyTorch checkpoint into a gluegen HDF5 model file.

    .venv-tools/bin/python tools/convert_gluegen.py CHECKPOINT OUT.h5 [--part auto|adapter|decoder|gluenet]
                                                    [--prefix P] [--dtype f32|f16] [--quiet]

Accepted inputs (.pt/.pth/.ckpt/.bin via torch.load(weights_only=True, map_location="cpu"), or
.safetensors):
  * a bare translator state_dict, as the public GlueGen code saves its aligner
    (salesforce/GlueGen, multilingual-gluenet/train_gluenet_multi.py:
    `torch.save(adapter.state_dict(), ...)` with adapter = Translator_noln(77, 1024, 768, 2, 5); the
    released gluenet_<Language>_clip_overnorm_over3_noln.ckpt files). Keys `blocks.{i}.net_{sen,tok}.{j}.*`
    and `tail.net_{sen,tok}.{j}.*` (Translator, or Translator_noln whose tail has no LayerNorm).
  * a full GlueNet training checkpoint: a dict of state_dicts named after the public training script's
    variables, {"adapter": ..., "adapter_rec": ..., "discriminator_token": ...} (also accepted:
    "encoder"/"decoder"/"discriminator"), or the same as one flat dict with those prefixes
    ("adapter.blocks.0..."; the only way to hold it in a .safetensors file). The public script builds
    these three networks but saves only the adapter, so this layout is gluegen's convention.
  Wrappers are unwrapped: a top-level "state_dict" / "model_state_dict" / "model" dict (Lightning and
  common training loops), `module.` (DataParallel / DDP) and `_orig_mod.` (torch.compile) name parts.
  Non-tensor entries (epoch, step, hyper-parameters) and optimizer / scheduler states are skipped.

Outputs (root attributes gluegen_format = 1, model_type, config = JSON; one dataset per tensor, the
dotted name as a group path, e.g. blocks.0.net_sen.0.weight -> /blocks/0/net_sen/0/weight):
  * --part adapter / decoder: model_type "gluegen.translator", config {num_tok, num_tok_out, dim,
    dim_out, mult, depth, layer_norm}, datasets = the translator's state_dict keys verbatim.
  * --part gluenet: model_type "gluegen.gluenet", config {num_tok, dim_source, dim_target, mult, depth,
    disc_mult, eta, lambda_mse, lambda_rec, lambda_adv} (plus num_tok_target when the encoder changes the
    token count, which GlueGen's never does), datasets "encoder.*", "decoder.*",
    "discriminator.*" (BatchNorm running_mean / running_var kept, num_batches_tracked dropped).
  * --part auto (default): gluenet when encoder, decoder and discriminator are all present, else the
    adapter (encoder) alone; what was left out is said.
Every configuration value is inferred from the tensor shapes and the key set, and the whole key set
is then checked against the inferred architecture: missing keys, unexpected keys and wrong shapes
are errors that name the file and the keys. Exit status 0 on success, 2 on a conversion error.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import sys
from collections import OrderedDict

# loading, key checks and the HDF5 writer are shared with tools/convert_ella.py
from gluegen_h5 import LIBVER  # noqa: F401 (make_converter_goldens.py reads it from here)
from gluegen_h5 import ConversionError, check_against, flatten_state, load_checkpoint, select_prefix, write_model_file
from gluegen_h5 import check_finite as _check_finite
from gluegen_h5 import get_shape as _get
from gluegen_h5 import listing as _listing
from gluegen_h5 import shape_of as _shape

# GlueGen's training constants (multilingual-gluenet/train_gluenet_multi.py): grad_reverse eta of the
# Discriminator's forward and the loss weights 1e4 (distillation MSE), 1e4 (reconstruction), 0.1 (adversarial).
GLUENET_TRAINING = {"eta": 0.1, "lambda_mse": 1e4, "lambda_rec": 1e4, "lambda_adv": 0.1}

PART_ALIASES = {
    "encoder": ("adapter", "encoder"),
    "decoder": ("adapter_rec", "decoder"),
    "discriminator": ("discriminator_token", "discriminator"),
}

_TRANSLATOR_KEY = re.compile(r"^(?:blocks\.(\d+)|tail)\.(net_sen|net_tok)\.(\d+)\.(weight|bias)$")
# architectures of the public code that gluegen does not implement, recognised by a key's first name part
_UNSUPPORTED = (
    (("in_blocks", "out_blocks", "trans", "tail_1", "tail_2"),
     "sound-gluenet's Translator_w_head / Translator_w_head_v0 (sound-gluenet/model.py; the released "
     "gluenet_sound2img_audioclip_us8k.ckpt)"),
    (("attn",), "Translator_attn (an attention layer before the blocks)"),
    (("head",), "Translator_difftok_head"),
)


# ----------------------------------------------------------------------------------------------
# splitting a checkpoint into its networks


def split_parts(path: str, sd: OrderedDict) -> dict[str, tuple[str, OrderedDict]]:
    """Groups the flat keys into part -> (prefix in the file, its state_dict). A bare translator
    ("blocks."/"tail." at the top) is the encoder; otherwise the first name part picks encoder /
    decoder / discriminator by PART_ALIASES."""
    aliases = {a: p for p, al in PART_ALIASES.items() for a in al}
    for name in sd:
        segs = name.split(".")
        head = segs[1] if segs[0] in aliases and len(segs) > 1 else segs[0]
        for heads, what in _UNSUPPORTED:
            if head in heads:
                raise ConversionError(f"{path}: key '{name}' belongs to {what}, which gluegen does not implement "
                                      "(it has GlueGen's Translator / Translator_noln and Discriminator)")
    parts: dict[str, tuple[str, OrderedDict]] = {}
    unexpected = []
    for name, t in sd.items():
        head, _, rest = name.partition(".")
        if head in ("blocks", "tail"):
            parts.setdefault("encoder", ("", OrderedDict()))[1][name] = t
            continue
        part = aliases.get(head)
        if part is None or not rest:
            unexpected.append(name)
            continue
        prefix, group = parts.setdefault(part, (head + ".", OrderedDict()))
        if prefix != head + ".":
            raise ConversionError(f"{path}: has both '{prefix or 'blocks./tail.'}*' and '{head}.*' keys for the {part}")
        group[rest] = t
    if unexpected:
        raise ConversionError(f"{path}: unexpected keys (neither a bare translator's 'blocks.*' / 'tail.*' nor under a "
                              f"network prefix {', '.join(repr(a + '.') for a in aliases)}): {_listing(unexpected)}")
    if not parts:
        raise ConversionError(f"{path}: holds no tensors")
    return parts


# ----------------------------------------------------------------------------------------------
# architectures: infer the configuration from a few tensors, then check every key and shape


def _mlp_shapes(prefix: str, d_in: int, hidden: int, d_out: int, layer_norm: bool) -> list[tuple[str, tuple[int, ...]]]:
    """translator_base's MLP (Linear-LN-GELU-Linear-LN-GELU-Linear-LN) or translator_base_noln's
    (Linear-GELU-Linear-GELU-Linear): the Sequential indices of its parameters."""
    linears = (0, 3, 6) if layer_norm else (0, 2, 4)
    widths = ((d_in, hidden), (hidden, hidden), (hidden, d_out))
    out = []
    for i, (a, b) in zip(linears, widths):
        out += [(f"{prefix}{i}.weight", (b, a)), (f"{prefix}{i}.bias", (b,))]
        if layer_norm:
            out += [(f"{prefix}{i + 1}.weight", (b,)), (f"{prefix}{i + 1}.bias", (b,))]
    return out


def translator_shapes(cfg: dict) -> OrderedDict:
    """Every state_dict key of Translator(_noln) with this config, in state_dict order."""
    L, Lo, D, Do, m = cfg["num_tok"], cfg["num_tok_out"], cfg["dim"], cfg["dim_out"], cfg["mult"]
    shapes: list[tuple[str, tuple[int, ...]]] = []
    for i in range(cfg["depth"]):
        shapes += _mlp_shapes(f"blocks.{i}.net_tok.", L, m * L, L, True)
        shapes += _mlp_shapes(f"blocks.{i}.net_sen.", D, m * D, D, True)
    shapes += _mlp_shapes("tail.net_tok.", L, m * L, Lo, cfg["layer_norm"])
    shapes += _mlp_shapes("tail.net_sen.", D, m * D, Do, cfg["layer_norm"])
    return OrderedDict(shapes)


def discriminator_shapes(dim: int, hidden: int, classes: int = 2) -> OrderedDict:
    return OrderedDict([
        ("net.0.weight", (hidden, dim)), ("net.0.bias", (hidden,)),
        ("net.1.weight", (hidden,)), ("net.1.bias", (hidden,)),
        ("net.1.running_mean", (hidden,)), ("net.1.running_var", (hidden,)),
        ("net.3.weight", (classes, hidden)), ("net.3.bias", (classes,)),
    ])


def infer_translator(where: str, sd: dict) -> tuple[dict, OrderedDict]:
    """(config, tensors in state_dict order) of a Translator / Translator_noln state_dict."""
    bad = [k for k in sd if not _TRANSLATOR_KEY.match(k)]
    if bad:
        raise ConversionError(f"{where}: unexpected keys for a GlueGen Translator (blocks.{{i}}.net_sen|net_tok.{{j}}.weight|bias, "
                              f"tail.net_sen|net_tok.{{j}}.weight|bias): {_listing(bad)}")
    blocks = sorted({int(m.group(1)) for k in sd if (m := _TRANSLATOR_KEY.match(k)) and m.group(1) is not None})
    if blocks != list(range(len(blocks))):
        raise ConversionError(f"{where}: block indices {blocks} are not 0..{len(blocks) - 1}")
    if not any(k.startswith("tail.") for k in sd):
        raise ConversionError(f"{where}: no 'tail.*' keys: a GlueGen Translator ends in a tail block")
    # LayerNorm tail or not, from the Sequential indices of the tail's parameters: translator_base's
    # (indices 0, 1, 3, 4, 6, 7) and translator_base_noln's (0, 2, 4) share only 0 and 4.
    layer_norm = any(int(k.split(".")[2]) in (1, 3, 6, 7) for k in sd if k.startswith("tail."))
    last = 6 if layer_norm else 4
    h_sen, dim = _get(where, sd, "tail.net_sen.0.weight", 2)
    dim_out, _ = _get(where, sd, f"tail.net_sen.{last}.weight", 2)
    h_tok, num_tok = _get(where, sd, "tail.net_tok.0.weight", 2)
    num_tok_out, _ = _get(where, sd, f"tail.net_tok.{last}.weight", 2)
    if h_sen % dim or h_tok % num_tok:
        raise ConversionError(f"{where}: hidden widths {h_sen} (channels, input {dim}) and {h_tok} (tokens, input {num_tok}) "
                              "are not integer multiples of their inputs; gluegen's Translator needs an integer mult")
    mult = h_sen // dim
    if h_tok // num_tok != mult:
        raise ConversionError(f"{where}: the channel MLP has mult {mult} ('tail.net_sen.0.weight' {[h_sen, dim]}) but the token "
                              f"MLP mult {h_tok // num_tok} ('tail.net_tok.0.weight' {[h_tok, num_tok]}); gluegen uses one mult")
    cfg = {"num_tok": num_tok, "num_tok_out": num_tok_out, "dim": dim, "dim_out": dim_out, "mult": mult,
           "depth": len(blocks), "layer_norm": layer_norm}
    kind = "Translator" if layer_norm else "Translator_noln"
    tensors = check_against(where, sd, translator_shapes(cfg), f"GlueGen {kind} (inferred {json.dumps(cfg)})")
    return cfg, tensors


def infer_discriminator(where: str, sd: dict) -> tuple[float, OrderedDict, list[str]]:
    """(disc_mult, tensors, dropped keys) of a Discriminator state_dict."""
    sd = dict(sd)
    dropped = [k for k in sd if k.endswith("num_batches_tracked")]
    for k in dropped:
        del sd[k]
    hidden, dim = _get(where, sd, "net.0.weight", 2)
    classes = _get(where, sd, "net.3.weight", 2)[0]
    tensors = check_against(where, sd, discriminator_shapes(dim, hidden, classes),
                            f"GlueGen Discriminator (Linear {dim}->{hidden}, BatchNorm1d, ReLU, Linear {hidden}->{classes})")
    if classes != 2:
        raise ConversionError(f"{where}: 'net.3.weight' has {classes} outputs; GlueNet's discriminator has 2 (real / aligned)")
    # gluegen sizes the hidden layer as int(dim * disc_mult), so pick the double that gives `hidden` back
    mult = hidden / dim
    while int(dim * mult) < hidden:
        mult = math.nextafter(mult, math.inf)
    assert int(dim * mult) == hidden
    return mult, tensors, dropped


# ----------------------------------------------------------------------------------------------
# conversion


def convert(src: str, out: str, part: str = "auto", dtype: str = "f32", quiet: bool = False, prefix: str | None = None) -> dict:
    """Converts `src` to `out`; returns a summary dict (model_type, config, tensors, parameters, ...).
    Raises ConversionError with a message naming the file and the keys."""
    if part not in ("auto", "adapter", "decoder", "gluenet"):
        raise ConversionError(f"unknown --part '{part}' (auto, adapter, decoder, gluenet)")
    if dtype not in ("f32", "f16"):
        raise ConversionError(f"unknown --dtype '{dtype}' (f32, f16)")
    parent = os.path.dirname(os.path.abspath(out))
    if not os.path.isdir(parent):
        raise ConversionError(f"{out}: directory '{parent}' does not exist")
    raw = load_checkpoint(src)
    sd, notes, skipped = flatten_state(src, raw)
    if prefix:
        sd = select_prefix(src, sd, prefix, notes)
    parts = split_parts(src, sd)
    present = [f"{p} ('{parts[p][0] + '*' if parts[p][0] else 'blocks.*, tail.*'}')" for p in PART_ALIASES if p in parts]

    def where(p: str) -> str:
        return f"{src} (keys under '{parts[p][0]}')" if parts[p][0] else src

    if part == "auto":
        part = "gluenet" if all(p in parts for p in PART_ALIASES) else "adapter"
        notes.append(f"--part auto chose '{part}'; present: {', '.join(present)}")
    dropped: list[str] = []
    if part in ("adapter", "decoder"):
        which = "encoder" if part == "adapter" else "decoder"
        if which not in parts:
            wanted = ("a bare translator ('blocks.*', 'tail.*') or " if which == "encoder" else "") + \
                " / ".join(f"'{a}.*'" for a in PART_ALIASES[which])
            raise ConversionError(f"{src}: --part {part} needs {wanted} keys; present: {', '.join(present)}")
        left = [p for p in PART_ALIASES if p in parts and p != which]
        if left:
            notes.append(f"left out the {', '.join(left)} (a translator file holds one network)")
        cfg, tensors = infer_translator(where(which), parts[which][1])
        model_type = "gluegen.translator"
    else:
        missing = [p for p in PART_ALIASES if p not in parts]
        if missing:
            raise ConversionError(f"{src}: --part gluenet needs an encoder, a decoder and a discriminator; missing: "
                                  + ", ".join(f"{p} ({' / '.join(repr(a + '.*') for a in PART_ALIASES[p])})" for p in missing)
                                  + f"; present: {', '.join(present)}")
        enc_cfg, enc = infer_translator(where("encoder"), parts["encoder"][1])
        dec_cfg, dec = infer_translator(where("decoder"), parts["decoder"][1])
        disc_mult, disc, dropped = infer_discriminator(where("discriminator"), parts["discriminator"][1])
        for name, c in (("encoder", enc_cfg), ("decoder", dec_cfg)):
            if c["layer_norm"]:
                raise ConversionError(f"{where(name)}: the {name} has a LayerNorm tail (Translator); gluegen.gluenet's encoder and "
                                      "decoder are Translator_noln, as GlueGen trains them. Convert it alone with --part "
                                      + ("adapter" if name == "encoder" else "decoder"))
        expect_dec = {"num_tok": enc_cfg["num_tok_out"], "num_tok_out": enc_cfg["num_tok"], "dim": enc_cfg["dim_out"],
                      "dim_out": enc_cfg["dim"], "mult": enc_cfg["mult"], "depth": enc_cfg["depth"]}
        diff = [f"{k} {dec_cfg[k]} (expected {v})" for k, v in expect_dec.items() if dec_cfg[k] != v]
        if diff:
            raise ConversionError(f"{where('decoder')}: the decoder does not mirror the encoder "
                                  f"({json.dumps(enc_cfg)}): " + ", ".join(diff))
        disc_dim = _shape(disc["net.0.weight"])[1]
        if disc_dim != enc_cfg["dim_out"]:
            raise ConversionError(f"{where('discriminator')}: 'net.0.weight' takes {disc_dim} features, but the encoder's "
                                  f"target width is {enc_cfg['dim_out']}")
        cfg = {"num_tok": enc_cfg["num_tok"], "dim_source": enc_cfg["dim"], "dim_target": enc_cfg["dim_out"],
               "mult": enc_cfg["mult"], "depth": enc_cfg["depth"], "disc_mult": disc_mult, **GLUENET_TRAINING}
        if enc_cfg["num_tok_out"] != enc_cfg["num_tok"]:  # gluegen's generalisation (GlueGen keeps the length)
            cfg["num_tok_target"] = enc_cfg["num_tok_out"]
        tensors = OrderedDict()
        for prefix, group in (("encoder.", enc), ("decoder.", dec), ("discriminator.", disc)):
            tensors.update((prefix + k, v) for k, v in group.items())
        model_type = "gluegen.gluenet"
    _check_finite(src, tensors, dtype)
    write_model_file(out, model_type, cfg, tensors, dtype)

    buffers = sum(t.numel() for k, t in tensors.items() if k.endswith(("running_mean", "running_var")))
    summary = {
        "source": src, "out": out, "model_type": model_type, "config": cfg, "dtype": dtype,
        "tensors": len(tensors), "parameters": sum(t.numel() for t in tensors.values()) - buffers, "buffers": buffers,
        "dropped": dropped, "skipped": skipped, "notes": notes, "bytes": os.path.getsize(out),
    }
    if not quiet:
        print(f"{src} -> {out}")
        for n in notes:
            print(f"  note: {n}")
        if skipped:
            print(f"  skipped non-tensor entries: {_listing(skipped)}")
        if dropped:
            print(f"  dropped: {_listing(dropped)}")
        print(f"  model_type: {model_type}")
        print(f"  config: {json.dumps(cfg, sort_keys=True)}")
        print(f"  tensors: {summary['tensors']}  parameters: {summary['parameters']:,}"
              + (f"  buffers: {buffers:,}" if buffers else "") + f"  dtype: {dtype}  file: {summary['bytes']:,} bytes")
    return summary


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                 epilog="See the module docstring (or docs) for the accepted layouts.")
    ap.add_argument("checkpoint", help=".pt/.pth/.ckpt/.bin (torch.save) or .safetensors")
    ap.add_argument("out", help="output .h5 file")
    ap.add_argument("--part", default="auto", choices=["auto", "adapter", "decoder", "gluenet"],
                    help="what to write: the adapter (encoder) or decoder translator alone, or the whole GlueNet "
                         "(auto: gluenet when all three networks are present, else the adapter)")
    ap.add_argument("--prefix", default=None,
                    help="convert only the keys under this name prefix, with it removed (e.g. 'model.gluenet.')")
    ap.add_argument("--dtype", default="f32", choices=["f32", "f16"], help="stored dtype (default f32)")
    ap.add_argument("--quiet", action="store_true", help="print nothing on success")
    args = ap.parse_args(argv)
    try:
        convert(args.checkpoint, args.out, args.part, args.dtype, args.quiet, args.prefix)
    except ConversionError as e:
        print(f"convert_gluegen: error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
