#!/usr/bin/env python3
"""Golden files for LaVi-Bridge (T5 + LoRA -> TextAdapter -> SD UNet + LoRA) and its converter (tools/convert_lavi_bridge.py).

Reuses the tiny random base models of the other goldens: tests/data/diffusion/unet_sd1.h5 (diffusers
UNet2DConditionModel, cross_attention_dim 12) and tests/data/text/t5_tiny.h5 (T5EncoderModel, d_model 32).
Adds, at random: a TextAdapter(32, 16, 12) (written here with the state_dict keys of LaVi-Bridge's; checked
against diffusers' FeedForward) and rank-4 LoRA lists for the UNet and T5, saved as LaVi-Bridge saves them
(adapter/ as a diffusers model folder, lora_vis.pt / lora_text.pt = torch.save'd lists [up, down, ...] of
float16 tensors). The LoRA is applied in PyTorch by this script's own implementation of LaVi-Bridge's
loading rule (module walk, skip quirk, y = base(x) + up(down(x))). The checkpoint is converted with
tools/convert_lavi_bridge.py (its command line, --dtype f16) and written, to tests/data/:

  lavi_bridge_converted.h5  gluegen.lavi_bridge, float16 (lossless: every value is float16, the adapter's
                            rounded to float16 at init for that): adapter.* (12), unet.<module>.lora_{A,B}.weight
                            (160 modules: 116 Linear + 44 Conv2d), text_encoder.<module>.lora_{A,B}.weight (8)
  lavi_bridge_io.h5         input_ids [2, 7] int32; t5_features [2, 7, 32] (T5 + LoRA, no attention mask, as
                            LaVi-Bridge calls it); cond [2, 7, 12] = adapter(t5_features); sample [2, 4, 16, 16];
                            timesteps [2] float64 (999, 37.5); eps [2, 4, 16, 16] = unet(sample, timesteps,
                            encoder_hidden_states=cond).sample (UNet + LoRA); dy (random); gradients of
                            sum(eps * dy): d_cond, grads.unet.<module>.lora_{A,B}.weight, grads.adapter.<key>
                            (base weights frozen; the text encoder's gradients are checked here but not stored:
                            gluegen's T5Encoder is forward-only); and without any LoRA: t5_features_base, cond_base, eps_base.
                            Root attributes: model_type "gluegen.lavi_bridge_io", config (JSON: generator,
                            loss, call, versions), unet_file / text_encoder_file (relative to tests/data),
                            converted_file, rank (int32), err_forward / err_backward (float32 vs float64 of
                            the same computation, max |a - b| / (1 + |b|)), tol_forward / tol_backward (4x).

Random values: adapter weights N(0, 0.8^2 / fan_in), biases N(0, 0.3^2), LayerNorm weight 1 + N(0, 0.1^2)
and bias N(0, 0.3^2) (tools/make_diffusion_goldens.py's randomize), then rounded to float16; LoRA down
N(0, 1 / fan_in) (fan_in = in * kh * kw), up N(0, 0.2^2 / r), both float16 (non-zero: LaVi-Bridge's
trained LoRA is, and zero up weights would hide bugs). Inputs N(0, 1), ids uniform in [0, vocab).

Checks: the LoRA-wrapped models against copies with the LoRA merged into the base weights (Linear
W += up down; conv W += (up.flatten(1) @ down.flatten(1)).reshape(W.shape)); the adapter against diffusers'
FeedForward; this script's module walk against the converter's; the converted file (attributes, config, each
dataset bit for bit against the list item it comes from) and a forward pass from it alone (LoRA injected by
dataset name) against the golden; --dtype f32, a .bin adapter and a checkpoint without lora_text.pt; the skip
quirk (a list without the pairs of some modules whose successor in the walk is of the other kind: the
converter writes zeros for exactly those and the outputs equal LaVi-Bridge's load); and malformed
checkpoints (a pair short, a pair extra, a wrong shape, another rank, lora_text.pt without --text-config,
a missing adapter key, ...) rejected with exit status 2 and the file and the problem named.

    .venv-tools/bin/python tools/make_lavi_bridge_goldens.py [--out-dir tests/data]

Deterministic: fixed seeds, so reruns write identical files (same torch / diffusers / transformers and CPU).
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
from collections import OrderedDict

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

TOOLS = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(TOOLS)
sys.path.insert(0, TOOLS)

import convert_lavi_bridge as cl  # noqa: E402
from gluegen_h5 import atomic_h5  # noqa: E402
from make_converter_goldens import expect_error, read_h5, same_datasets  # noqa: E402
from make_diffusion_goldens import TOL_FACTOR, randn, randomize, scaled_error, worst  # noqa: E402
from make_nn_goldens import seed_for  # noqa: E402

import diffusers  # noqa: E402
import transformers  # noqa: E402
from diffusers import UNet2DConditionModel  # noqa: E402
from transformers import T5Config, T5EncoderModel  # noqa: E402

NAME = "lavi_bridge"
DATA = os.path.join(REPO, "tests", "data")
UNET_FILE, T5_FILE = "diffusion/unet_sd1.h5", "text/t5_tiny.h5"  # relative to DATA, read from there
RANK, INT_DIM = 4, 16
BATCH, SEQ = 2, 7
TIMESTEPS = (999.0, 37.5)
UP_GAIN = 0.2
MERGE_TOL = 1e-5
UNET_CLASSES, TEXT_CLASSES = cl.UNET_TARGETS, cl.TEXT_TARGETS


# ----------------------------------------------------------------------------------------------
# LaVi-Bridge's TextAdapter and LoRA, re-implemented


class GEGLU(nn.Module):
    def __init__(self, d_in: int, d_out: int):
        super().__init__()
        self.proj = nn.Linear(d_in, 2 * d_out)

    def forward(self, x):
        h, gate = self.proj(x).chunk(2, dim=-1)
        return h * F.gelu(gate)  # exact (erf) GELU, as diffusers' GEGLU


class FeedForward(nn.Module):
    """diffusers FeedForward(dim, dim_out, mult=4, activation_fn="geglu"): GEGLU, Dropout, Linear."""

    def __init__(self, dim: int, dim_out: int, mult: int = 4):
        super().__init__()
        self.net = nn.Sequential(GEGLU(dim, mult * dim), nn.Dropout(0.0), nn.Linear(mult * dim, dim_out))

    def forward(self, x):
        return self.net(x)


class TextAdapter(nn.Module):
    """LaVi-Bridge's adapter: ff2(norm2(ff1(norm1(x)))), LayerNorms eps 1e-5."""

    def __init__(self, in_dim: int, int_dim: int, out_dim: int):
        super().__init__()
        self.norm1, self.ff1 = nn.LayerNorm(in_dim), FeedForward(in_dim, int_dim)
        self.norm2, self.ff2 = nn.LayerNorm(int_dim), FeedForward(int_dim, out_dim)

    def forward(self, x):
        return self.ff2(self.norm2(self.ff1(self.norm1(x))))


class LoraLinear(nn.Module):
    def __init__(self, base: nn.Linear, up: torch.Tensor, down: torch.Tensor):
        super().__init__()
        self.base, self.up, self.down = base, nn.Parameter(up), nn.Parameter(down)

    def forward(self, x):
        return self.base(x) + F.linear(F.linear(x, self.down), self.up)


class LoraConv2d(nn.Module):
    """down: a conv with the base conv's geometry, up: 1x1."""

    def __init__(self, base: nn.Conv2d, up: torch.Tensor, down: torch.Tensor):
        super().__init__()
        self.base, self.up, self.down = base, nn.Parameter(up), nn.Parameter(down)

    def forward(self, x):
        b = self.base
        return b(x) + F.conv2d(F.conv2d(x, self.down, None, b.stride, b.padding, b.dilation, b.groups), self.up)


def walk(model: nn.Module, classes) -> list[tuple[str, nn.Module]]:
    """LaVi-Bridge's visiting order: each module of model.modules() whose class name is in `classes`,
    then each Linear / Conv2d of its named_modules()."""
    names = {id(m): n for n, m in model.named_modules()}
    return [(names[id(m)], m) for a in model.modules() if type(a).__name__ in classes
            for _, m in a.named_modules() if isinstance(m, (nn.Linear, nn.Conv2d))]


def wrap(model: nn.Module, path: str, up: torch.Tensor, down: torch.Tensor) -> nn.Module:
    m = model.get_submodule(path)
    w = (LoraLinear if isinstance(m, nn.Linear) else LoraConv2d)(m, up, down)
    parent, _, leaf = path.rpartition(".")
    setattr(model.get_submodule(parent), leaf, w)
    return w


def load_lavi_bridge(model: nn.Module, classes, items: list) -> OrderedDict:
    """LaVi-Bridge's load of a LoRA list into `model` (in place): {path: wrapper, or None where skipped}."""
    items, done = list(items), OrderedDict()
    dtype = next(model.parameters()).dtype
    for path, m in walk(model, classes):  # the walk is listed first, so wrapping cannot disturb it
        if items[0].dim() != (2 if isinstance(m, nn.Linear) else 4):  # the skip quirk (IndexError when exhausted)
            done[path] = None
            continue
        up, down = items.pop(0), items.pop(0)
        done[path] = wrap(model, path, up.to(dtype), down.to(dtype))
    return done  # what is left over LaVi-Bridge ignores


def load_from_file(model: nn.Module, data: dict, prefix: str) -> OrderedDict:
    """The LoRA of a converted file, injected by dataset name."""
    dtype = next(model.parameters()).dtype
    t = lambda k: torch.from_numpy(data[k].astype(np.float32)).to(dtype)  # noqa: E731
    paths = [k[len(prefix):-len(".lora_A.weight")] for k in data if k.startswith(prefix) and k.endswith(".lora_A.weight")]
    return OrderedDict((p, wrap(model, p, t(f"{prefix}{p}.lora_B.weight"), t(f"{prefix}{p}.lora_A.weight"))) for p in paths)


@torch.no_grad()
def merged(base: nn.Module, done: OrderedDict) -> nn.Module:
    """A copy of `base` (no LoRA) with each wrapper's up @ down added to the base weight."""
    m = copy.deepcopy(base)
    for path, w in done.items():
        if w is not None:
            weight = m.get_submodule(path).weight
            weight += (w.up.flatten(1) @ w.down.flatten(1)).reshape(weight.shape)
    return m


def lora_list(model: nn.Module, classes, skip: set = frozenset()) -> list[torch.Tensor]:
    """[up, down, ...] float16 for every module of the walk but those in `skip` (random, non-zero)."""
    out = []
    for path, m in walk(model, classes):
        if path in skip:
            continue
        w = m.weight
        down = randn(RANK, *w.shape[1:]) / w[0].numel() ** 0.5
        up = randn(w.shape[0], RANK, *([1, 1] if w.dim() == 4 else [])) * (UP_GAIN / RANK ** 0.5)
        out += [up.half(), down.half()]
    return out


# ----------------------------------------------------------------------------------------------
# base models, checkpoint folder, converter


def load_unet(path: str) -> tuple[dict, UNet2DConditionModel]:
    attrs, data = read_h5(path)
    cfg = json.loads(attrs["config"])
    model = UNet2DConditionModel.from_config(cfg)
    model.load_state_dict({k: torch.from_numpy(v) for k, v in data.items()}, strict=True)
    return cfg, model.eval().requires_grad_(False)


def load_t5(path: str) -> tuple[dict, T5EncoderModel]:
    attrs, data = read_h5(path)
    cfg = json.loads(attrs["config"])
    model = T5EncoderModel(T5Config.from_dict(cfg))
    sd = {k: torch.from_numpy(v) for k, v in data.items() if not k.startswith("tokenizer.")}
    sd["encoder.embed_tokens.weight"] = sd["shared.weight"]  # tied; convert_hf.py stores it once
    model.load_state_dict(sd, strict=True)
    return cfg, model.eval().requires_grad_(False)


def write_checkpoint(folder: str, adapter: TextAdapter, vis: list, text: list | None, bin_adapter: bool = False) -> str:
    """LaVi-Bridge's checkpoint folder: adapter/ (as ModelMixin.save_pretrained writes it), lora_vis.pt, lora_text.pt."""
    from safetensors.torch import save_file

    os.makedirs(os.path.join(folder, "adapter"), exist_ok=True)
    cfg = {"_class_name": "TextAdapter", "_diffusers_version": diffusers.__version__, "in_dim": adapter.norm1.normalized_shape[0],
           "int_dim": adapter.norm2.normalized_shape[0], "out_dim": adapter.ff2.net[2].out_features}
    with open(os.path.join(folder, "adapter", "config.json"), "w") as fh:
        json.dump(cfg, fh, indent=2)
    sd = OrderedDict((k, v.detach().clone().contiguous()) for k, v in adapter.state_dict().items())
    if bin_adapter:
        torch.save(sd, os.path.join(folder, "adapter", "diffusion_pytorch_model.bin"))
    else:
        save_file(sd, os.path.join(folder, "adapter", "diffusion_pytorch_model.safetensors"))
    torch.save(vis, os.path.join(folder, "lora_vis.pt"))
    if text is not None:
        torch.save(text, os.path.join(folder, "lora_text.pt"))
    return folder


def run_converter(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, os.path.join(TOOLS, "convert_lavi_bridge.py"), *args], capture_output=True, text=True)


def expect_cli_error(args: list[str], *needles: str) -> str:
    r = run_converter(*args)
    assert r.returncode == 2, f"exit status {r.returncode} (expected 2) for {args}:\n{r.stdout}{r.stderr}"
    for n in needles:
        assert n in r.stderr, f"expected {n!r} in stderr: {r.stderr}"
    return r.stderr.strip()


# ----------------------------------------------------------------------------------------------


def run(t5, adapter, unet, ids, sample, t, dy, lora: dict) -> tuple[OrderedDict, OrderedDict]:
    """Outputs (t5_features, cond, eps, d_cond, d_t5_features) and {grads.<name>: grad} of sum(eps * dy)."""
    adapter.zero_grad(set_to_none=True)
    for w in (w for d in lora.values() for w in d.values() if w is not None):
        w.up.grad = w.down.grad = None
    feats = t5(input_ids=ids).last_hidden_state
    feats.retain_grad()
    cond = adapter(feats)
    cond.retain_grad()
    eps = unet(sample, t, encoder_hidden_states=cond).sample
    (eps * dy).sum().backward()
    outs = OrderedDict(t5_features=feats, cond=cond, eps=eps, d_cond=cond.grad, d_t5_features=feats.grad)
    grads = OrderedDict((f"grads.adapter.{k}", p.grad) for k, p in adapter.named_parameters())
    for prefix, done in lora.items():
        for path, w in done.items():
            grads[f"grads.{prefix}{path}.lora_A.weight"] = w.down.grad
            grads[f"grads.{prefix}{path}.lora_B.weight"] = w.up.grad
    return (OrderedDict((k, v.detach().clone()) for k, v in outs.items()),
            OrderedDict((k, v.detach().clone()) for k, v in grads.items()))


def expected_datasets(adapter: TextAdapter, lora: dict) -> OrderedDict:
    """The converted file's datasets as this script's load gives them (zeros for skipped modules)."""
    out = OrderedDict((f"adapter.{k}", v.detach()) for k, v in adapter.state_dict().items())
    for prefix, (model, done) in lora.items():
        for path, w in done.items():
            base = model.get_submodule(path) if w is None else w.base
            down, up = cl.lora_shapes(cl.Target(path, "Linear" if isinstance(base, nn.Linear) else "Conv2d",
                                                 tuple(base.weight.shape)), RANK)
            out[f"{prefix}{path}.lora_A.weight"] = torch.zeros(down) if w is None else w.down.detach()
            out[f"{prefix}{path}.lora_B.weight"] = torch.zeros(up) if w is None else w.up.detach()
    return out


def check_converted(path: str, cfg: dict, expected: OrderedDict, dtype=np.float16) -> dict:
    attrs, data = read_h5(path)
    assert int(attrs["gluegen_format"]) == 1 and attrs["gluegen_format"].dtype == np.int32, attrs
    assert attrs["model_type"] == "gluegen.lavi_bridge", attrs["model_type"]
    assert json.loads(attrs["config"]) == cfg, (json.loads(attrs["config"]), cfg)
    assert sorted(data) == sorted(expected), sorted(set(data) ^ set(expected))
    for k, v in expected.items():
        assert data[k].dtype == dtype and np.array_equal(data[k], v.numpy().astype(dtype)), k
        assert np.array_equal(data[k].astype(np.float32), v.numpy()), k  # lossless
    return data


def golden_case(tmp: str, out_dir: str):
    unet_cfg, unet = load_unet(os.path.join(DATA, UNET_FILE))
    t5_cfg, t5 = load_t5(os.path.join(DATA, T5_FILE))
    torch.manual_seed(seed_for(NAME))
    adapter = TextAdapter(t5_cfg["d_model"], INT_DIM, unet_cfg["cross_attention_dim"])
    randomize(adapter)
    with torch.no_grad():
        for p in adapter.parameters():
            p.copy_(p.half().float())  # float16 values, so that the f16 converted file is lossless
    adapter.eval()
    check_adapter(adapter)
    vis, text = lora_list(unet, UNET_CLASSES), lora_list(t5, TEXT_CLASSES)
    ids = torch.randint(0, t5_cfg["vocab_size"], (BATCH, SEQ))
    sample = randn(BATCH, unet_cfg["in_channels"], unet_cfg["sample_size"], unet_cfg["sample_size"])
    dy = randn(*sample.shape)
    t = torch.tensor(TIMESTEPS, dtype=torch.float64)

    # the walk: the converter's (on meta models) and this script's agree
    with torch.device("meta"):
        meta_unet, meta_t5 = UNet2DConditionModel.from_config(unet_cfg), T5EncoderModel(T5Config.from_dict(t5_cfg))
    unet_walk = [p for p, _ in walk(unet, UNET_CLASSES)]
    assert [x.path for x in cl.lora_targets("unet", meta_unet, UNET_CLASSES)] == unet_walk
    assert [x.path for x in cl.lora_targets("t5", meta_t5, TEXT_CLASSES)] == [p for p, _ in walk(t5, TEXT_CLASSES)]
    print(f"UNet LoRA walk ({len(unet_walk)} modules): " + ", ".join(unet_walk[:12]) + ", ...")

    with torch.no_grad():  # without LoRA
        feats_base = t5(input_ids=ids).last_hidden_state
        cond_base = adapter(feats_base)
        eps_base = unet(sample, t, encoder_hidden_states=cond_base).sample
    base_unet, base_t5 = copy.deepcopy(unet), copy.deepcopy(t5)
    lora = {"unet.": load_lavi_bridge(unet, UNET_CLASSES, vis), "text_encoder.": load_lavi_bridge(t5, TEXT_CLASSES, text)}
    assert all(w is not None for d in lora.values() for w in d.values())
    outs, grads = run(t5, adapter, unet, ids, sample, t, dy, lora)
    zero = [k for k, g in grads.items() if not bool(g.abs().max() > 0)]
    assert not zero, f"zero gradients: {zero}"
    # LoRA merged into the base weights gives the same outputs
    with torch.no_grad():
        m_feats = merged(base_t5, lora["text_encoder."])(input_ids=ids).last_hidden_state
        m_eps = merged(base_unet, lora["unet."])(sample, t, encoder_hidden_states=adapter(m_feats)).sample
    e_merge = max(scaled_error(m_feats, outs["t5_features"]), scaled_error(m_eps, outs["eps"]))
    print(f"LoRA wrapped vs merged into the weights: {e_merge:.2e}")
    assert e_merge < MERGE_TOL, e_merge
    change = lambda a, b: float((a - b).norm() / b.norm())  # noqa: E731
    print(f"LoRA's effect: t5_features {change(outs['t5_features'], feats_base):.1%}, eps {change(outs['eps'], eps_base):.1%} "
          f"(relative L2); |eps| max {float(outs['eps'].abs().max()):.3f}, |cond| max {float(outs['cond'].abs().max()):.3f}, "
          f"|grad| max {max(float(g.abs().max()) for g in grads.values()):.3f}")
    assert change(outs["eps"], eps_base) > 0.05 and change(outs["t5_features"], feats_base) > 0.05

    # float64 of the same computation (diffusers' float32 sinusoid in both)
    t5d, ad, ud = copy.deepcopy(t5).double(), copy.deepcopy(adapter).double(), copy.deepcopy(unet).double()
    lora64 = {"unet.": OrderedDict((p, ud.get_submodule(p)) for p in lora["unet."]),
              "text_encoder.": OrderedDict((p, t5d.get_submodule(p)) for p in lora["text_encoder."])}
    outs64, grads64 = run(t5d, ad, ud, ids, sample.double(), t, dy.double(), lora64)
    e_fwd = max(scaled_error(outs[k], outs64[k]) for k in ("t5_features", "cond", "eps"))
    e_bwd, e_name = max((scaled_error(outs[k], outs64[k]), k) for k in ("d_cond", "d_t5_features"))
    e_g, e_gname = worst(grads, grads64)
    e_bwd, e_name = max((e_bwd, e_name), (e_g, e_gname))
    print(f"float32 vs float64: forward {e_fwd:.2e}  backward {e_bwd:.2e} ({e_name})")
    errs = {"err_forward": e_fwd, "err_backward": e_bwd, "tol_forward": TOL_FACTOR * e_fwd, "tol_backward": TOL_FACTOR * e_bwd}

    # LaVi-Bridge's checkpoint folder, converted with the command line
    ckpt = write_checkpoint(os.path.join(tmp, "ckpt"), adapter, vis, text)
    unet_dir = os.path.join(tmp, "unet")
    os.makedirs(unet_dir)
    with open(os.path.join(unet_dir, "config.json"), "w") as fh:
        json.dump(unet_cfg, fh, indent=2)
    t5_json = os.path.join(tmp, "t5_config.json")
    with open(t5_json, "w") as fh:
        json.dump(t5_cfg, fh, indent=2)
    converted = os.path.join(out_dir, f"{NAME}_converted.h5")
    cli = [ckpt, converted, "--unet-config", unet_dir, "--text-config", t5_json]
    r = run_converter(*cli, "--dtype", "f16")
    sys.stdout.write(r.stdout)
    assert r.returncode == 0, f"convert_lavi_bridge.py failed ({r.returncode}):\n{r.stderr}"
    cfg = {"adapter": {"in_dim": t5_cfg["d_model"], "int_dim": INT_DIM, "out_dim": unet_cfg["cross_attention_dim"], "mult": 4},
           "rank": RANK, "scale": 1.0, "unet_lora_targets": ["Attention", "GEGLU", "ResnetBlock2D"],
           "unet_lora_modules": len(lora["unet."]), "text_encoder": "t5", "text_encoder_lora_targets": ["T5Attention"],
           "text_encoder_lora_modules": len(lora["text_encoder."])}
    expected = expected_datasets(adapter, {"unet.": (unet, lora["unet."]), "text_encoder.": (t5, lora["text_encoder."])})
    # each dataset is the list item LaVi-Bridge assigns it (lora_B = up = item 2i, lora_A = down = item 2i + 1)
    for prefix, items in (("unet.", vis), ("text_encoder.", text)):
        for i, path in enumerate(lora[prefix]):
            assert torch.equal(expected[f"{prefix}{path}.lora_B.weight"], items[2 * i].float())
            assert torch.equal(expected[f"{prefix}{path}.lora_A.weight"], items[2 * i + 1].float())
    data = check_converted(converted, cfg, expected)
    assert sorted(k[len("grads."):] for k in grads) == sorted(data)

    # a forward / backward pass from the converted file alone (LoRA injected by name)
    f_unet, f_t5 = copy.deepcopy(base_unet), copy.deepcopy(base_t5)
    f_lora = {"unet.": load_from_file(f_unet, data, "unet."), "text_encoder.": load_from_file(f_t5, data, "text_encoder.")}
    f_adapter = TextAdapter(**{k: cfg["adapter"][k] for k in ("in_dim", "int_dim", "out_dim")})
    f_adapter.load_state_dict({k[len("adapter."):]: torch.from_numpy(v.astype(np.float32)) for k, v in data.items()
                               if k.startswith("adapter.")})
    f_outs, f_grads = run(f_t5, f_adapter.eval(), f_unet, ids, sample, t, dy, f_lora)
    e_file = max(max(scaled_error(f_outs[k], outs[k]) for k in outs), worst(f_grads, grads)[0])
    print(f"forward / backward from the converted file (LoRA by dataset name): {e_file:.2e}")
    assert e_file < 1e-6, e_file

    io_path = os.path.join(out_dir, f"{NAME}_io.h5")
    with atomic_h5(io_path) as f:
        f.attrs["model_type"] = "gluegen.lavi_bridge_io"
        f.attrs["config"] = json.dumps({"generator": "tools/make_lavi_bridge_goldens.py", "loss": "sum(eps * dy)",
                                        "call": "cond = adapter(t5(input_ids).last_hidden_state); eps = unet(sample, "
                                                "timesteps, encoder_hidden_states=cond).sample",
                                        "torch": torch.__version__.split("+")[0], "diffusers": diffusers.__version__,
                                        "transformers": transformers.__version__}, sort_keys=True)
        f.attrs["unet_file"], f.attrs["text_encoder_file"] = UNET_FILE, T5_FILE
        f.attrs["converted_file"] = os.path.basename(converted)
        f.attrs.create("rank", RANK, dtype=np.int32)
        for k, v in errs.items():
            f.attrs.create(k, v, dtype=np.float64)
        f.create_dataset("input_ids", data=ids.numpy().astype(np.int32))
        f.create_dataset("timesteps", data=np.asarray(TIMESTEPS, dtype=np.float64))
        arrays = OrderedDict(sample=sample, dy=dy, **outs, t5_features_base=feats_base, cond_base=cond_base, eps_base=eps_base)
        # gluegen's T5Encoder is forward-only: the text encoder's gradients are checked here, not stored
        stored = [(k, v) for k, v in list(arrays.items()) + list(grads.items())
                  if k != "d_t5_features" and not k.startswith("grads.text_encoder.")]
        for k, v in stored:
            f.create_dataset(k.replace(".", "/"), data=v.numpy().astype(np.float32))
    print(f"{NAME}: eps {list(outs['eps'].shape)}, {len(grads)} gradients")
    return dict(unet=base_unet, t5=base_t5, adapter=adapter, vis=vis, text=text, ckpt=ckpt, cli=cli, converted=converted,
                cfg=cfg, cond=outs["cond"], sample=sample, t=t, unet_dir=unet_dir, t5_json=t5_json)


def check_adapter(adapter: TextAdapter) -> None:
    """The FeedForwards against diffusers' own (same keys, same outputs)."""
    from diffusers.models.attention import FeedForward as DiffusersFF

    x = randn(3, adapter.norm1.normalized_shape[0])
    for ff in (adapter.ff1, adapter.ff2):
        ref = DiffusersFF(ff.net[0].proj.in_features, dim_out=ff.net[2].out_features, mult=4, activation_fn="geglu").eval()
        assert list(ref.state_dict()) == list(ff.state_dict())
        ref.load_state_dict(ff.state_dict())
        h = x if ff is adapter.ff1 else randn(3, ff.net[0].proj.in_features)
        with torch.no_grad():
            assert torch.equal(ref(h), ff(h))


def variants(tmp: str, g: dict) -> None:
    # --dtype f32 holds the same values; a .bin adapter converts identically; no lora_text.pt, no --text-config
    out32 = os.path.join(tmp, "f32.h5")
    cl.convert(g["ckpt"], out32, g["unet_dir"], g["t5_json"], "f32", quiet=True)
    (a16, d16), (a32, d32) = read_h5(g["converted"]), read_h5(out32)
    assert a16["config"] == a32["config"] and sorted(d16) == sorted(d32)
    assert all(d32[k].dtype == np.float32 and np.array_equal(d32[k], d16[k].astype(np.float32)) for k in d16)
    binckpt = write_checkpoint(os.path.join(tmp, "ckpt_bin"), g["adapter"], g["vis"], g["text"], bin_adapter=True)
    cl.convert(binckpt, os.path.join(tmp, "bin.h5"), g["unet_dir"], g["t5_json"], "f16", quiet=True)
    same_datasets(g["converted"], os.path.join(tmp, "bin.h5"))
    notext = write_checkpoint(os.path.join(tmp, "ckpt_notext"), g["adapter"], g["vis"], None)
    s = cl.convert(notext, os.path.join(tmp, "notext.h5"), g["unet_dir"], quiet=True)
    assert s["config"]["text_encoder"] == "" and s["config"]["text_encoder_lora_targets"] == [] == s["skipped"]
    _, dn = read_h5(os.path.join(tmp, "notext.h5"))
    assert sorted(dn) == sorted(k for k in d32 if not k.startswith("text_encoder."))
    print("variants: --dtype f32 (same values), .bin adapter (identical datasets), no lora_text.pt: ok")


def skip_quirk(tmp: str, g: dict) -> None:
    """A list without the pairs of some modules whose successor in the walk is of the other kind: LaVi-Bridge
    skips exactly those (the next item has the other dimension) and the rest stays aligned."""
    kinds = [(p, isinstance(m, nn.Conv2d)) for p, m in walk(g["unet"], UNET_CLASSES)]
    cand = [i for i in range(len(kinds) - 1) if kinds[i][1] != kinds[i + 1][1]]
    rng = random.Random(seed_for(NAME + "_skip"))
    convs = rng.sample([i for i in cand if kinds[i][1]], 3)
    linears = rng.sample([i for i in cand if not kinds[i][1] and all(abs(i - j) > 1 for j in convs)], 2)
    skip = {kinds[i][0] for i in convs + linears}  # never adjacent: each skipped module's successor keeps its pair
    torch.manual_seed(seed_for(NAME + "_skip"))
    vis = lora_list(g["unet"], UNET_CLASSES, skip)
    ref = copy.deepcopy(g["unet"])
    done = load_lavi_bridge(ref, UNET_CLASSES, vis)
    assert {p for p, w in done.items() if w is None} == skip
    ckpt = write_checkpoint(os.path.join(tmp, "ckpt_skip"), g["adapter"], vis, g["text"])
    out = os.path.join(tmp, "skip.h5")
    r = run_converter(ckpt, out, "--unet-config", g["unet_dir"], "--text-config", g["t5_json"], "--dtype", "f16")
    assert r.returncode == 0, r.stderr
    assert all(f"'{p}' skipped" in r.stdout for p in skip), r.stdout
    expected = expected_datasets(g["adapter"], {"unet.": (ref, done)})
    _, data = read_h5(out)
    for k, v in expected.items():
        assert np.array_equal(data[k].astype(np.float32), v.numpy()), k
    for p in skip:
        assert not data[f"unet.{p}.lora_A.weight"].any() and not data[f"unet.{p}.lora_B.weight"].any()
    f_unet = copy.deepcopy(g["unet"])
    load_from_file(f_unet, data, "unet.")
    with torch.no_grad():
        e_ref = ref(g["sample"], g["t"], encoder_hidden_states=g["cond"]).sample
        e_file = f_unet(g["sample"], g["t"], encoder_hidden_states=g["cond"]).sample
    assert scaled_error(e_file, e_ref) < 1e-6, scaled_error(e_file, e_ref)
    print(f"skip quirk: {len(skip)} modules skipped ({', '.join(sorted(skip))}); zeros written, eps equal "
          f"({scaled_error(e_file, e_ref):.1e})")


def negative_checks(tmp: str, g: dict) -> None:
    out = os.path.join(tmp, "neg.h5")
    targets = [p for p, _ in walk(g["unet"], UNET_CLASSES)]
    n = len(targets)

    def ckpt(tag: str, vis=None, text=None, adapter_sd=None, drop_text=False) -> str:
        folder = os.path.join(tmp, f"neg_{tag}")
        shutil.copytree(g["ckpt"], folder)
        if vis is not None:
            torch.save(vis, os.path.join(folder, "lora_vis.pt"))
        if text is not None:
            torch.save(text, os.path.join(folder, "lora_text.pt"))
        if drop_text:
            os.remove(os.path.join(folder, "lora_text.pt"))
        if adapter_sd is not None:
            from safetensors.torch import save_file
            save_file(adapter_sd, os.path.join(folder, "adapter", "diffusion_pytorch_model.safetensors"))
        return folder

    args = lambda folder: [folder, out, "--unet-config", g["unet_dir"], "--text-config", g["t5_json"]]  # noqa: E731
    vis = g["vis"]
    zeros16 = lambda *shape: torch.zeros(*shape, dtype=torch.float16)  # noqa: E731
    f = ckpt("short", vis=vis[:-2])
    msg = expect_cli_error(args(f), os.path.join(f, "lora_vis.pt"), "is exhausted", f"{n - 1} of the {n}", f"'{targets[-1]}'")
    print(f"  a pair short: {msg}")
    f = ckpt("extra", vis=vis + vis[:2])
    expect_cli_error(args(f), os.path.join(f, "lora_vis.pt"), "2 tensors left over")
    wrong = list(vis)
    wrong[9] = zeros16(RANK, wrong[9].shape[1] + 1)  # down of module 4 (attn2.to_q)
    f = ckpt("shape", vis=wrong)
    msg = expect_cli_error(args(f), os.path.join(f, "lora_vis.pt"), f"'{targets[4]}'", f"down {[RANK, wrong[9].shape[1]]}")
    print(f"  wrong shape: {msg}")
    other = list(vis)
    other[10], other[11] = zeros16(vis[10].shape[0], 8), zeros16(8, vis[11].shape[1])  # module 5 at rank 8
    f = ckpt("rank", vis=other)
    expect_cli_error(args(f), os.path.join(f, "lora_vis.pt"), f"'{targets[5]}'", "rank 8", "rank 4")
    expect_cli_error([g["ckpt"], out, "--unet-config", g["unet_dir"]], os.path.join(g["ckpt"], "lora_text.pt"), "--text-config")
    sd = OrderedDict((k, v.detach().clone().contiguous()) for k, v in g["adapter"].state_dict().items() if k != "ff2.net.2.bias")
    f = ckpt("adapter_key", adapter_sd=sd)
    expect_cli_error(args(f), os.path.join(f, "adapter", "diffusion_pytorch_model.safetensors"), "missing keys", "'ff2.net.2.bias'")
    # in-process: more malformed inputs
    def conv(folder: str, text_config: str = g["t5_json"]):
        return lambda: cl.convert(folder, out, g["unet_dir"], text_config, quiet=True)

    f = ckpt("no_text", drop_text=True)
    expect_error(conv(f), os.path.join(f, "lora_text.pt"), "no such file", "--text-config")
    nan = list(vis)
    nan[3] = nan[3].clone()
    nan[3][0, 0] = float("nan")
    f = ckpt("nan", vis=nan)
    expect_error(conv(f), os.path.join(f, "lora_vis.pt"), f"'unet.{targets[1]}.lora_A.weight' holds 1 NaN/Inf")
    f = ckpt("not_tensor", vis=vis[:6] + [[1.0, 2.0]] + vis[7:])
    expect_error(conv(f), os.path.join(f, "lora_vis.pt"), "not tensors", "[6] (list)")
    f = ckpt("dict", vis={"up": vis[0]})
    expect_error(conv(f), os.path.join(f, "lora_vis.pt"), "holds a dict")
    t8 = [zeros16(x.shape[0], 8) if i % 2 == 0 else zeros16(8, x.shape[1]) for i, x in enumerate(g["text"])]
    f = ckpt("text_rank", text=t8)
    expect_error(conv(f), os.path.join(f, "lora_text.pt"), "rank 8", "rank 4")
    f = ckpt("text_short", text=g["text"][:-2])
    expect_error(conv(f), os.path.join(f, "lora_text.pt"), "SelfAttention.o'")
    cfg_path = os.path.join(tmp, "unet_cross16.json")
    with open(os.path.join(g["unet_dir"], "config.json")) as fh, open(cfg_path, "w") as out_fh:
        json.dump(dict(json.load(fh), cross_attention_dim=16), out_fh)
    expect_error(lambda: cl.convert(g["ckpt"], out, cfg_path, g["t5_json"], quiet=True), "out_dim 12", "cross_attention_dim 16")
    bert = os.path.join(tmp, "bert.json")
    with open(bert, "w") as fh:
        json.dump({"model_type": "bert", "hidden_size": 32}, fh)
    expect_error(conv(g["ckpt"], bert), bert, "'bert'")
    assert not os.path.exists(out) and not any(x.startswith("neg.h5.tmp") for x in os.listdir(tmp))
    print("negative checks: 6 on the command line (exit status 2) and 8 in-process rejected with the file named")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out-dir", default=DATA)
    args = ap.parse_args()
    torch.set_default_dtype(torch.float32)
    torch.use_deterministic_algorithms(True)
    with tempfile.TemporaryDirectory(prefix="gluegen_lavi_") as tmp:
        g = golden_case(tmp, args.out_dir)
        variants(tmp, g)
        skip_quirk(tmp, g)
        negative_checks(tmp, g)
    names = [f"{NAME}_{s}.h5" for s in ("converted", "io")]
    sizes = {n: os.path.getsize(os.path.join(args.out_dir, n)) for n in names}
    print(f"wrote {len(names)} files to {args.out_dir}: " + ", ".join(f"{n} {s:,}" for n, s in sizes.items())
          + f" ({sum(sizes.values()):,} bytes)")


if __name__ == "__main__":
    main()
