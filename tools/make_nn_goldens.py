#!/usr/bin/env python3
"""Generate PyTorch golden data for gluegen's neural-network modules, losses, optimizers and LR schedules.

Writes ONE file, tests/data/nn_goldens.h5, that the C++ tests compare against. Run from the repository
root with the tools venv (scripts/setup.sh --tools creates it):

    .venv-tools/bin/python tools/make_nn_goldens.py [--out tests/data/nn_goldens.h5]

Everything is built from configs with random weights: no downloads, no hub access, no checkpoints.
Each case seeds torch with a fixed seed derived from its name, so reruns give identical data
(on the same torch version and CPU).

Layout (HDF5, nested groups; float32 unless stated):
  /<case>                   group, attribute `config` = JSON text of the constructor arguments
  /<case>/x                 input (also `context`, `mask` (1 = attend / valid, 0 = padding), `bias`, `ids`)
  /<case>/params/<name>     every parameter, torch's own name and layout; dots in the name become
                            groups, as in gluegen's weight store: `token_mlp.fc1.weight` is
                            /<case>/params/token_mlp/fc1/weight (so WeightReader reads it as
                            "<case>.params.token_mlp.fc1.weight")
  /<case>/y                 forward output
  /<case>/dy                seeded random upstream gradient, y's shape; then y.backward(dy) gives
  /<case>/dx, dcontext, dbias   gradients w.r.t. the inputs
  /<case>/grads/<name>      gradients of every parameter that requires grad
Loss cases store their inputs, `loss` (shape [1]) and `d<input>` for each differentiable input.
Optimizer cases store `p0` [5, 4], `grads` [20, 5, 4] (one fresh gradient per step) and `params`
[20, 5, 4] (the parameter after each step). `clip_grad_norm` stores g0..g2, c0..c2, `total_norm` [1].
LR schedule cases store `lr` (float64, 30 values: the lr used at steps 0..29).
The root has attributes `model_type` = "nn_goldens" and `config` = JSON {"generator", "torch",
"cases": {case: config}}, so gluegen's WeightReader::meta() sees every case's config too.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import zlib

import h5py
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
F32 = torch.float32

ALL_CONFIGS: dict[str, dict] = {}


# ----------------------------------------------------------------------------------------------
# helpers


def seed_for(name: str) -> int:
    return zlib.crc32(name.encode()) & 0x7FFFFFFF


def put(group: h5py.Group, path: str, value, dtype=np.float32) -> None:
    """Store a tensor/array at `path` (slash-separated, relative to the case group)."""
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu().numpy()
    group.create_dataset(path, data=np.asarray(value, dtype=dtype))


def param_path(name: str) -> str:
    return name.replace(".", "/")


def new_case(f: h5py.File, name: str, config: dict) -> h5py.Group:
    assert name not in f, name
    g = f.create_group(name)
    g.attrs["config"] = json.dumps(config, sort_keys=True)
    ALL_CONFIGS[name] = config
    return g


def shape_str(t) -> str:
    return "[" + ",".join(str(s) for s in t.shape) + "]"


@torch.no_grad()
def randomize(module: nn.Module, scale: float = 0.5) -> None:
    """Random, non-default values for every parameter (norm weights/biases and LoRA B included)."""
    for p in module.parameters():
        p.copy_(torch.randn_like(p) * scale)


def module_case(f: h5py.File, name: str, module: nn.Module, config: dict, inputs: dict[str, torch.Tensor],
                forward, grad_inputs: tuple[str, ...] = ("x",), store_params: bool = True) -> None:
    """Run forward + backward with a seeded dy and store everything. `inputs` must already be created
    under this case's seed; `forward(module, **inputs)` returns y."""
    g = new_case(f, name, config)
    leaves = {}
    for k, v in inputs.items():
        if k in grad_inputs:
            v = v.detach().clone().requires_grad_(True)
        leaves[k] = v
        put(g, k, v, np.float64 if k == "ids" else np.float32)
    if store_params:
        for pname, p in module.named_parameters():
            put(g, "params/" + param_path(pname), p)
    y = forward(module, **leaves)
    put(g, "y", y)
    dy = torch.randn_like(y)
    put(g, "dy", dy)
    y.backward(dy)
    stored = []
    for k in grad_inputs:
        put(g, "d" + k, leaves[k].grad)
        stored.append("d" + k)
    n_grads = 0
    for pname, p in module.named_parameters():
        if p.requires_grad:
            assert p.grad is not None, (name, pname)
            put(g, "grads/" + param_path(pname), p.grad)
            n_grads += 1
    n_params = sum(1 for _ in module.parameters())
    ins = " ".join(f"{k}{shape_str(v)}" for k, v in inputs.items())
    print(f"{name:28s} {ins} -> y{shape_str(y)}  params={n_params} grads={n_grads} {' '.join(stored)}")


def forward_only_case(f: h5py.File, name: str, config: dict, x: torch.Tensor, y: torch.Tensor) -> None:
    g = new_case(f, name, config)
    put(g, "x", x)
    put(g, "y", y)
    print(f"{name:28s} x{shape_str(x)} -> y{shape_str(y)}  (forward only)")


# ----------------------------------------------------------------------------------------------
# modules written here (the rest are torch's own)


class Fn(nn.Module):
    """A parameter-free function as a module."""

    def __init__(self, fn):
        super().__init__()
        self.fn = fn

    def forward(self, x):
        return self.fn(x)


class RMSNorm(nn.Module):
    """T5-style RMSNorm: y = weight * x * rsqrt(mean(x^2, -1) + eps) (no mean subtraction, no bias)."""

    def __init__(self, dim: int, eps: float = 1e-6):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))
        self.eps = eps

    def forward(self, x):
        return self.weight * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps))


class GEGLU(nn.Module):
    """diffusers GEGLU: proj to 2*dim_out, first half * gelu(second half)."""

    def __init__(self, dim_in: int, dim_out: int):
        super().__init__()
        self.proj = nn.Linear(dim_in, dim_out * 2)

    def forward(self, x):
        h, gate = self.proj(x).chunk(2, dim=-1)
        return h * F.gelu(gate)


class Attention(nn.Module):
    """Multi-head attention, CLIP/HF naming. x [B, Lq, E], context [B, Lk, kv_dim] (None: self).
    Heads: q.view(B, L, H, Dh).transpose(1, 2); output heads concatenated back to [B, Lq, E] in
    head-major order (head h occupies channels h*Dh .. (h+1)*Dh - 1), then out_proj.
    mask [B, Lk]: 1 = attend, 0 = padding (-inf). causal: query i sees keys j <= i.
    bias [H, Lq, Lk]: added to the scaled scores before masking and softmax."""

    def __init__(self, embed_dim: int, num_heads: int, kv_dim: int | None = None):
        super().__init__()
        kv_dim = kv_dim or embed_dim
        self.h = num_heads
        self.dh = embed_dim // num_heads
        self.q_proj = nn.Linear(embed_dim, embed_dim)
        self.k_proj = nn.Linear(kv_dim, embed_dim)
        self.v_proj = nn.Linear(kv_dim, embed_dim)
        self.out_proj = nn.Linear(embed_dim, embed_dim)

    def forward(self, x, context=None, mask=None, bias=None, causal=False):
        ctx = x if context is None else context
        b, lq, e = x.shape
        lk = ctx.shape[1]
        q = self.q_proj(x).view(b, lq, self.h, self.dh).transpose(1, 2)
        k = self.k_proj(ctx).view(b, lk, self.h, self.dh).transpose(1, 2)
        v = self.v_proj(ctx).view(b, lk, self.h, self.dh).transpose(1, 2)
        scores = (q @ k.transpose(-1, -2)) * self.dh ** -0.5  # [B, H, Lq, Lk]
        if bias is not None:
            scores = scores + bias.unsqueeze(0)
        masked = torch.zeros(b, 1, lq, lk, dtype=torch.bool)
        if mask is not None:
            masked = masked | (mask == 0)[:, None, None, :]
        if causal:
            masked = masked | torch.triu(torch.ones(lq, lk, dtype=torch.bool), diagonal=1)[None, None]
        assert not masked.all(-1).any(), "a query row is fully masked"
        scores = scores.masked_fill(masked, float("-inf"))
        attn = scores.softmax(-1)
        out = (attn @ v).transpose(1, 2).reshape(b, lq, e)
        return self.out_proj(out)


class Mlp(nn.Module):
    def __init__(self, dim: int, hidden: int):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x):
        return self.fc2(F.gelu(self.fc1(x)))


class MixerBlock(nn.Module):
    """Pre-norm MLP-mixer block: token mixing over L (per channel), then channel mixing over D."""

    def __init__(self, seq_len: int, dim: int, token_hidden: int, channel_hidden: int, eps: float = 1e-5):
        super().__init__()
        self.token_norm = nn.LayerNorm(dim, eps=eps)
        self.token_mlp = Mlp(seq_len, token_hidden)
        self.channel_norm = nn.LayerNorm(dim, eps=eps)
        self.channel_mlp = Mlp(dim, channel_hidden)

    def forward(self, x):
        u = x + self.token_mlp(self.token_norm(x).transpose(1, 2)).transpose(1, 2)
        return u + self.channel_mlp(self.channel_norm(u))


class LoraLinear(nn.Module):
    """y = base_layer(x) + (alpha / r) * lora_B(lora_A(x)); base_layer frozen (PEFT naming)."""

    def __init__(self, d_in: int, d_out: int, r: int, alpha: float):
        super().__init__()
        self.base_layer = nn.Linear(d_in, d_out)
        self.lora_A = nn.Linear(d_in, r, bias=False)
        self.lora_B = nn.Linear(r, d_out, bias=False)
        self.scaling = alpha / r

    def forward(self, x):
        return self.base_layer(x) + self.scaling * self.lora_B(self.lora_A(x))


def _mlp_stack_noln(d_in: int, d_hidden: int, d_out: int) -> nn.Sequential:
    """GlueGen's translator_base_noln MLP: no LayerNorms (indices 0, 2, 4 are the Linears)."""
    return nn.Sequential(nn.Linear(d_in, d_hidden), nn.GELU(), nn.Linear(d_hidden, d_hidden), nn.GELU(), nn.Linear(d_hidden, d_out))


def _mlp_stack(d_in: int, d_hidden: int, d_out: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Linear(d_in, d_hidden), nn.LayerNorm(d_hidden), nn.GELU(),
        nn.Linear(d_hidden, d_hidden), nn.LayerNorm(d_hidden), nn.GELU(),
        nn.Linear(d_hidden, d_out), nn.LayerNorm(d_out),
    )


class TranslatorBase(nn.Module):
    """Same structure and state_dict keys as GlueGen's translator_base (multilingual-gluenet/model.py).
    num_tok_out (default num_tok, as GlueGen) generalises the token MLP's output length, so the
    block can also map 128/256 source tokens to 77 target tokens; residuals need equal shapes."""

    def __init__(self, num_tok: int, dim: int, dim_out: int, mult: int = 2, num_tok_out: int | None = None, layer_norm: bool = True):
        super().__init__()
        num_tok_out = num_tok if num_tok_out is None else num_tok_out
        stack = _mlp_stack if layer_norm else _mlp_stack_noln
        self.dim_in, self.dim_out = dim, dim_out
        self.residual = dim == dim_out and num_tok == num_tok_out
        self.net_tok = stack(num_tok, int(num_tok * mult), num_tok_out)
        self.net_sen = stack(dim, int(dim * mult), dim_out)

    def forward(self, x):
        if self.residual:
            x = self.net_sen(x) + x
            x = x.transpose(1, 2)
            x = self.net_tok(x) + x
            return x.transpose(1, 2)
        x = self.net_sen(x).transpose(1, 2)
        return self.net_tok(x).transpose(1, 2)


class Translator(nn.Module):
    """GlueGen's Translator (multilingual-gluenet/model.py): depth residual blocks in the source width,
    each followed by GELU, then a tail block to the target width (and, here, token length)."""

    def __init__(self, num_tok: int, dim: int, dim_out: int, mult: int = 2, depth: int = 5, num_tok_out: int | None = None,
                 tail_layer_norm: bool = True):
        super().__init__()
        self.blocks = nn.ModuleList([TranslatorBase(num_tok, dim, dim, mult) for _ in range(depth)])
        self.gelu = nn.GELU()
        self.tail = TranslatorBase(num_tok, dim, dim_out, mult, num_tok_out, layer_norm=tail_layer_norm)

    def forward(self, x):
        for block in self.blocks:
            x = self.gelu(block(x) + x)
        return self.tail(x)


class GradReverse(torch.autograd.Function):
    """Identity forward, -eta * grad backward (GlueGen's grad_reverse)."""

    @staticmethod
    def forward(ctx, x, eta):
        ctx.eta = eta
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad):
        return -ctx.eta * grad, None


class Discriminator(nn.Module):
    """GlueGen's token-wise discriminator (multilingual-gluenet/model.py): same keys net.0, net.1, net.3."""

    def __init__(self, dim: int, dim_out: int, mult: float = 0.25):
        super().__init__()
        inner = int(dim * mult)
        self.net = nn.Sequential(nn.Linear(dim, inner), nn.BatchNorm1d(inner), nn.ReLU(True), nn.Linear(inner, dim_out), nn.LogSoftmax(dim=1))

    def forward(self, x, eta=0.1):
        return self.net(GradReverse.apply(x, eta))


class ResamplerLayer(nn.Module):
    """Pre-norm cross-attention of the latents to the source tokens, then a pre-norm MLP, residual."""

    def __init__(self, dim: int, heads: int, mult: int = 4):
        super().__init__()
        self.norm_latents, self.norm_context, self.norm_ff = nn.LayerNorm(dim), nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.attn = Attention(dim, heads, dim)
        self.ff = Mlp(dim, mult * dim)

    def forward(self, latents, context, mask=None):
        latents = latents + self.attn(self.norm_latents(latents), self.norm_context(context), mask)
        return latents + self.ff(self.norm_ff(latents))


class AttentionAligner(nn.Module):
    """Perceiver-resampler aligner: learned target-length queries cross-attend to the projected source
    tokens through `depth` layers, then a LayerNorm and a projection to the target width."""

    def __init__(self, dim_source: int, dim: int, dim_target: int, num_queries: int, heads: int, depth: int):
        super().__init__()
        self.queries = nn.Parameter(torch.randn(num_queries, dim))
        self.proj_in = nn.Linear(dim_source, dim)
        self.layers = nn.ModuleList([ResamplerLayer(dim, heads) for _ in range(depth)])
        self.norm_out = nn.LayerNorm(dim)
        self.proj_out = nn.Linear(dim, dim_target)

    def forward(self, x, mask=None):
        context = self.proj_in(x)
        latents = self.queries.unsqueeze(0).expand(x.shape[0], -1, -1)
        for layer in self.layers:
            latents = layer(latents, context, mask)
        return self.proj_out(self.norm_out(latents))


# ----------------------------------------------------------------------------------------------
# module cases


def simple(f, name, make, config, x_shape, forward=None, grad_inputs=("x",), extra=None):
    """Seed, build, randomize params, draw x (and extra inputs), run the case."""
    torch.manual_seed(seed_for(name))
    m = make()
    randomize(m)
    inputs = {"x": torch.randn(*x_shape)}
    if extra:
        inputs.update(extra())
    module_case(f, name, m, config, inputs, forward or (lambda mod, x: mod(x)), grad_inputs)
    return m


def gluenet_step_case(f: h5py.File) -> None:
    """One GlueNet training step as the public GlueGen script takes it (train_gluenet_multi.py):
    a = f(S), r = g(a); the discriminator sees the real target tokens (label 0) and the aligned ones
    (label 1) through gradient reversal (eta 0.1);
    L = 1e4 mean(w (a - T)^2) + 1e4 mean((r - S)^2) + 0.1 (NLL(real, 0) + NLL(fake, 1)); then Adam."""
    name = "gluenet_step"
    torch.manual_seed(seed_for(name))
    cfg = {"num_tok": 5, "dim_source": 6, "dim_target": 8, "mult": 2, "depth": 1, "disc_mult": 0.25, "eta": 0.1,
           "lambda_mse": 1e4, "lambda_rec": 1e4, "lambda_adv": 0.1, "adam_lr": 1e-3, "batch": 3}
    model = nn.ModuleDict({
        "encoder": Translator(5, 6, 8, mult=2, depth=1, tail_layer_norm=False),
        "decoder": Translator(5, 8, 6, mult=2, depth=1, tail_layer_norm=False),
        "discriminator": Discriminator(8, 2, 0.25),
    })
    randomize(model)
    S, T = torch.randn(3, 5, 6), torch.randn(3, 5, 8)
    w = torch.rand(5) + 0.5
    w = w / w.mean()
    g = new_case(f, name, cfg)
    for k, v in {"source": S, "target": T, "token_weights": w}.items():
        put(g, k, v)
    for pname, p in model.named_parameters():
        put(g, "params/" + param_path(pname), p)
    a = model["encoder"](S)
    r = model["decoder"](a)
    disc = model["discriminator"]
    pred_real = disc(T.reshape(-1, 8), cfg["eta"])
    pred_fake = disc(a.reshape(-1, 8), cfg["eta"])
    l_mse = 1e4 * (F.mse_loss(a, T, reduction="none") * w[None, :, None]).mean()
    l_rec = 1e4 * F.mse_loss(r, S)
    l_adv = 0.1 * (F.nll_loss(pred_real, torch.zeros(15, dtype=torch.long)) + F.nll_loss(pred_fake, torch.ones(15, dtype=torch.long)))
    (l_mse + l_rec + l_adv).backward()
    put(g, "losses", torch.stack([l_mse, l_rec, l_adv]).detach())
    for pname, p in model.named_parameters():
        put(g, "grads/" + param_path(pname), p.grad)
    torch.optim.Adam(model.parameters(), lr=cfg["adam_lr"]).step()
    for pname, p in model.named_parameters():
        put(g, "stepped/" + param_path(pname), p)
    put(g, "running_mean", disc.net[1].running_mean)
    put(g, "running_var", disc.net[1].running_var)
    print(f"{name:28s} L_mse {l_mse.item():.4f} L_rec {l_rec.item():.4f} L_adv {l_adv.item():.4f}")


def module_cases(f: h5py.File) -> None:
    simple(f, "linear", lambda: nn.Linear(7, 5), {"in_features": 7, "out_features": 5, "bias": True}, (3, 4, 7))
    simple(f, "linear_nobias", lambda: nn.Linear(7, 5, bias=False), {"in_features": 7, "out_features": 5, "bias": False}, (2, 7))
    simple(f, "layer_norm", lambda: nn.LayerNorm(9, eps=1e-5), {"normalized_shape": 9, "eps": 1e-5}, (2, 3, 9))
    simple(f, "rms_norm", lambda: RMSNorm(9, eps=1e-6), {"dim": 9, "eps": 1e-6}, (2, 3, 9))
    simple(f, "group_norm", lambda: nn.GroupNorm(2, 6, eps=1e-5), {"num_groups": 2, "num_channels": 6, "eps": 1e-5}, (2, 6, 3, 5))
    simple(f, "gelu_erf", lambda: Fn(F.gelu), {"approximate": "none"}, (4, 11))
    simple(f, "gelu_tanh", lambda: Fn(lambda x: F.gelu(x, approximate="tanh")), {"approximate": "tanh"}, (4, 11))
    simple(f, "silu", lambda: Fn(F.silu), {}, (4, 11))
    simple(f, "geglu", lambda: GEGLU(6, 8), {"dim_in": 6, "dim_out": 8}, (2, 3, 6))

    # embedding: integer ids (stored as float64 `ids`), no dx; a repeated id checks grad accumulation
    name = "embedding"
    torch.manual_seed(seed_for(name))
    emb = nn.Embedding(10, 4)
    randomize(emb)
    ids = torch.tensor([[1, 7, 3], [3, 0, 9]])
    module_case(f, name, emb, {"num_embeddings": 10, "embedding_dim": 4}, {"ids": ids}, lambda mod, ids: mod(ids), grad_inputs=())

    # sinusoidal timestep embeddings (diffusers), forward only
    from diffusers.models.embeddings import get_timestep_embedding

    t = torch.tensor([0.0, 1.0, 10.0, 500.0, 999.0], dtype=F32)
    for name, flip, shift in (("timestep_embedding", True, 0), ("timestep_embedding_shift1", False, 1)):
        cfg = {"dim": 8, "flip_sin_to_cos": flip, "downscale_freq_shift": shift, "scale": 1, "max_period": 10000}
        y = get_timestep_embedding(t, 8, flip_sin_to_cos=flip, downscale_freq_shift=shift, scale=1, max_period=10000)
        forward_only_case(f, name, cfg, t, y)

    # attention
    def attn_case(name, cfg, x_shape, ctx_shape=None, mask=None, bias_shape=None, causal=False):
        torch.manual_seed(seed_for(name))
        m = Attention(cfg["embed_dim"], cfg["num_heads"], cfg.get("kv_dim"))
        randomize(m)
        inputs = {"x": torch.randn(*x_shape)}
        grad_inputs = ["x"]
        if ctx_shape:
            inputs["context"] = torch.randn(*ctx_shape)
            grad_inputs.append("context")
        if mask is not None:
            inputs["mask"] = mask
        if bias_shape:
            inputs["bias"] = torch.randn(*bias_shape)
            grad_inputs.append("bias")
        module_case(f, name, m, cfg, inputs, lambda mod, **kw: mod(**kw, causal=causal), tuple(grad_inputs))

    base = {"embed_dim": 6, "num_heads": 2, "head_dim": 3, "scale": 3 ** -0.5, "causal": False}
    attn_case("mha_self", dict(base), (2, 4, 6))
    mask = torch.ones(2, 4)
    mask[1, 3] = 0
    attn_case("mha_self_causal_masked", dict(base, causal=True), (2, 4, 6), mask=mask, causal=True)
    mask = torch.ones(2, 5)
    mask[0, 3:] = 0
    attn_case("mha_cross", dict(base, kv_dim=4), (2, 3, 6), ctx_shape=(2, 5, 4), mask=mask)
    attn_case("mha_bias", dict(base), (2, 4, 6), bias_shape=(2, 4, 4))

    simple(f, "mixer_block", lambda: MixerBlock(5, 6, 7, 8),
           {"seq_len": 5, "dim": 6, "token_hidden": 7, "channel_hidden": 8, "eps": 1e-5, "gelu": "erf", "norm": "pre"}, (2, 5, 6))
    simple(f, "feed_forward", lambda: Mlp(6, 10), {"dim": 6, "hidden": 10, "activation": "gelu_erf"}, (2, 3, 6))

    name = "lora"
    torch.manual_seed(seed_for(name))
    lora = LoraLinear(7, 5, r=2, alpha=4)
    randomize(lora)
    lora.base_layer.requires_grad_(False)
    module_case(f, name, lora, {"in_features": 7, "out_features": 5, "r": 2, "alpha": 4, "scaling": 2.0, "base_frozen": True},
                {"x": torch.randn(3, 7)}, lambda mod, x: mod(x))

    for name, (cin, cout, k, s, p), x_shape in (
        ("conv2d_3x3", (3, 4, 3, 1, 1), (2, 3, 6, 5)),
        ("conv2d_3x3_s2", (3, 4, 3, 2, 1), (2, 3, 7, 6)),
        ("conv2d_1x1", (3, 5, 1, 1, 0), (2, 3, 4, 4)),
        ("conv2d_4x4_s2_p0", (2, 3, 4, 2, 0), (1, 2, 9, 8)),
    ):
        simple(f, name, lambda: nn.Conv2d(cin, cout, k, stride=s, padding=p),
               {"in_channels": cin, "out_channels": cout, "kernel_size": k, "stride": s, "padding": p, "bias": True}, x_shape)

    simple(f, "upsample_nearest", lambda: Fn(lambda x: F.interpolate(x, scale_factor=2, mode="nearest")),
           {"scale_factor": 2, "mode": "nearest"}, (2, 3, 4, 5))
    simple(f, "avg_pool", lambda: nn.AvgPool2d(2, 2), {"kernel_size": 2, "stride": 2}, (2, 3, 4, 6))
    simple(f, "gluegen_translator_base", lambda: TranslatorBase(5, 6, 6, mult=2),
           {"num_tok": 5, "dim": 6, "dim_out": 6, "mult": 2, "layer_norm_eps": 1e-5, "gelu": "erf"}, (2, 5, 6))
    simple(f, "gluegen_translator", lambda: Translator(5, 6, 4, mult=2, depth=2),
           {"num_tok": 5, "dim": 6, "dim_out": 4, "mult": 2, "depth": 2}, (2, 5, 6))
    bn = simple(f, "batch_norm_1d", lambda: nn.BatchNorm1d(6), {"num_features": 6, "eps": 1e-5, "momentum": 0.1, "mode": "train"}, (8, 6))
    put(f["batch_norm_1d"], "running_mean", bn.running_mean)  # after one training forward from (0, 1)
    put(f["batch_norm_1d"], "running_var", bn.running_var)
    simple(f, "log_softmax", lambda: Fn(lambda x: F.log_softmax(x, dim=-1)), {"dim": -1}, (4, 5))
    gluenet_step_case(f)
    simple(f, "attention_aligner", lambda: AttentionAligner(6, 8, 5, num_queries=3, heads=2, depth=2),
           {"dim_source": 6, "dim": 8, "dim_target": 5, "num_queries": 3, "heads": 2, "depth": 2, "ff_mult": 4}, (2, 7, 6),
           forward=lambda m, x, mask: m(x, mask), extra=lambda: {"mask": torch.tensor([[1., 1, 1, 1, 1, 1, 0], [1, 1, 1, 1, 0, 0, 0]])})
    # Translator_noln: the variant GlueGen's released multilingual checkpoints use (tail without LayerNorm)
    simple(f, "gluegen_translator_noln", lambda: Translator(5, 6, 4, mult=2, depth=1, tail_layer_norm=False),
           {"num_tok": 5, "dim": 6, "dim_out": 4, "mult": 2, "depth": 1, "tail_layer_norm": False}, (2, 5, 6))
    simple(f, "gluegen_translator_lenmap", lambda: Translator(5, 6, 4, mult=2, depth=1, num_tok_out=3),
           {"num_tok": 5, "num_tok_out": 3, "dim": 6, "dim_out": 4, "mult": 2, "depth": 1}, (2, 5, 6))


# ----------------------------------------------------------------------------------------------
# losses


def loss_case(f, name, config, inputs: dict[str, torch.Tensor], grad_inputs: tuple[str, ...], fn) -> None:
    g = new_case(f, name, config)
    leaves = {}
    for k, v in inputs.items():
        v = v.detach().clone().to(F32)
        if k in grad_inputs:
            v.requires_grad_(True)
        leaves[k] = v
        put(g, k, v)
    loss = fn(**leaves)
    assert loss.dim() == 0
    put(g, "loss", loss.reshape(1))
    loss.backward()
    for k in grad_inputs:
        put(g, "d" + k, leaves[k].grad)
    ins = " ".join(f"{k}{shape_str(v)}" for k, v in inputs.items())
    print(f"{name:28s} {ins} -> loss={loss.item():.6f}  grads: {' '.join('d' + k for k in grad_inputs)}")


def loss_cases(f: h5py.File) -> None:
    torch.manual_seed(seed_for("nll_loss"))
    logp = F.log_softmax(torch.randn(6, 3), dim=-1)
    loss_case(f, "nll_loss", {"reduction": "mean"}, {"logp": logp, "target": torch.tensor([0, 2, 1, 1, 0, 2]).double()}, ("logp",),
              lambda logp, target: F.nll_loss(logp, target.long()))
    def seeded(name):
        torch.manual_seed(seed_for(name))
        return name

    n = seeded("mse_mean")
    loss_case(f, n, {"reduction": "mean"}, {"pred": torch.randn(2, 4, 3), "target": torch.randn(2, 4, 3)}, ("pred", "target"),
              lambda pred, target: F.mse_loss(pred, target))
    n = seeded("mse_sum")
    loss_case(f, n, {"reduction": "sum"}, {"pred": torch.randn(2, 4, 3), "target": torch.randn(2, 4, 3)}, ("pred",),
              lambda pred, target: F.mse_loss(pred, target, reduction="sum"))
    n = seeded("mse_masked")
    mask = torch.tensor([[1.0, 1.0, 1.0, 0.0], [1.0, 0.0, 1.0, 0.0]])
    loss_case(f, n, {"reduction": "masked_mean", "formula": "sum(mask[...,None]*(pred-target)^2) / (sum(mask)*C)"},
              {"pred": torch.randn(2, 4, 3), "target": torch.randn(2, 4, 3), "mask": mask}, ("pred",),
              lambda pred, target, mask: (mask[..., None] * (pred - target) ** 2).sum() / (mask.sum() * pred.shape[-1]))

    n = seeded("cosine_embedding")
    x1 = torch.randn(6, 5)
    x2 = torch.randn(6, 5)
    x2[1] = x1[1] + 0.3 * torch.randn(5)  # negative pair, cos > margin: hinge active
    x2[3] = x1[3] + 0.5 * torch.randn(5)  # negative pair, hinge active
    x2[5] = -x1[5] + 0.3 * torch.randn(5)  # negative pair, cos < margin: hinge inactive
    y = torch.tensor([1.0, -1.0, 1.0, -1.0, 1.0, -1.0])
    loss_case(f, n, {"margin": 0.1, "reduction": "mean"}, {"x1": x1, "x2": x2, "y": y}, ("x1", "x2"),
              lambda x1, x2, y: F.cosine_embedding_loss(x1, x2, y, margin=0.1))

    n = seeded("info_nce")

    def info_nce(a, b, temperature=0.07):
        a_n, b_n = F.normalize(a, dim=-1), F.normalize(b, dim=-1)
        logits = a_n @ b_n.T / temperature
        labels = torch.arange(a.shape[0])
        return (F.cross_entropy(logits, labels) + F.cross_entropy(logits.T, labels)) / 2

    loss_case(f, n, {"temperature": 0.07, "symmetric": True, "normalize": True}, {"a": torch.randn(5, 8), "b": torch.randn(5, 8)},
              ("a", "b"), info_nce)

    n = seeded("bce_with_logits")
    loss_case(f, n, {"reduction": "mean"},
              {"logits": torch.randn(7) * 2, "targets": torch.tensor([0.0, 1.0, 0.3, 1.0, 0.0, 0.75, 0.5])}, ("logits",),
              lambda logits, targets: F.binary_cross_entropy_with_logits(logits, targets))

    n = seeded("hinge_d")
    d_real = torch.tensor([1.7, 0.4, -0.6, 2.3, 0.9, -1.2])  # both sides of the hinge, no exact ties
    d_fake = torch.tensor([-1.8, 0.3, -0.5, 1.1, -2.2, 0.05])
    loss_case(f, n, {"formula": "mean(relu(1 - d_real)) + mean(relu(1 + d_fake))"}, {"d_real": d_real + 0.01 * torch.randn(6),
              "d_fake": d_fake + 0.01 * torch.randn(6)}, ("d_real", "d_fake"),
              lambda d_real, d_fake: F.relu(1 - d_real).mean() + F.relu(1 + d_fake).mean())
    n = seeded("hinge_g")
    loss_case(f, n, {"formula": "-mean(d_fake)"}, {"d_fake": torch.randn(6)}, ("d_fake",), lambda d_fake: -d_fake.mean())

    n = seeded("l1")
    loss_case(f, n, {"reduction": "mean"}, {"pred": torch.randn(3, 4), "target": torch.randn(3, 4)}, ("pred",),
              lambda pred, target: F.l1_loss(pred, target))


# ----------------------------------------------------------------------------------------------
# optimizers and LR schedules

STEPS = 20


def optimizer_case(f, name, config, make) -> None:
    torch.manual_seed(seed_for(name))
    p0 = torch.randn(5, 4)
    grads = torch.randn(STEPS, 5, 4)
    p = nn.Parameter(p0.clone())
    opt = make([p])
    out = torch.empty(STEPS, 5, 4)
    for i in range(STEPS):
        p.grad = grads[i].clone()
        opt.step()
        out[i] = p.detach()
    g = new_case(f, name, config)
    put(g, "p0", p0)
    put(g, "grads", grads)
    put(g, "params", out)
    print(f"{name:28s} p0[5,4] x {STEPS} steps  |p_end - p0|max={float((out[-1] - p0).abs().max()):.5f}")


def optimizer_cases(f: h5py.File) -> None:
    cfg = {"lr": 1e-2, "betas": [0.9, 0.999], "eps": 1e-8, "weight_decay": 0.1, "amsgrad": False, "decoupled_weight_decay": True}
    optimizer_case(f, "adamw", cfg, lambda ps: torch.optim.AdamW(ps, lr=1e-2, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.1))
    cfg = {"lr": 1e-2, "betas": [0.9, 0.999], "eps": 1e-8, "weight_decay": 0.1, "amsgrad": False, "decoupled_weight_decay": False}
    optimizer_case(f, "adam", cfg, lambda ps: torch.optim.Adam(ps, lr=1e-2, weight_decay=0.1))
    cfg = {"lr": 0.05, "momentum": 0.9, "dampening": 0.0, "weight_decay": 1e-3, "nesterov": False}
    optimizer_case(f, "sgd_momentum", cfg, lambda ps: torch.optim.SGD(ps, lr=0.05, momentum=0.9, weight_decay=1e-3))
    cfg = {"lr": 0.05, "momentum": 0.9, "dampening": 0.0, "weight_decay": 0.0, "nesterov": True}
    optimizer_case(f, "sgd_nesterov", cfg, lambda ps: torch.optim.SGD(ps, lr=0.05, momentum=0.9, nesterov=True))

    name = "clip_grad_norm"
    torch.manual_seed(seed_for(name))
    gs = [torch.randn(3), torch.randn(2, 2), torch.randn(5)]
    ps = []
    for gr in gs:
        p = nn.Parameter(torch.zeros_like(gr))
        p.grad = gr.clone()
        ps.append(p)
    total = torch.nn.utils.clip_grad_norm_(ps, max_norm=1.0, norm_type=2.0)
    assert float(total) > 1.0
    g = new_case(f, name, {"max_norm": 1.0, "norm_type": 2.0, "eps": 1e-6,
                           "formula": "c = g * min(1, max_norm / (total_norm + 1e-6))"})
    for i, (gr, p) in enumerate(zip(gs, ps)):
        put(g, f"g{i}", gr)
        put(g, f"c{i}", p.grad)
    put(g, "total_norm", total.reshape(1))
    print(f"{name:28s} g0[3] g1[2,2] g2[5]  total_norm={float(total):.6f}")


LR_STEPS = 30
BASE_LR = 0.1


def schedule_case(f, name, config, make_sched) -> None:
    p = nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([p], lr=BASE_LR)
    sched = make_sched(opt) if make_sched else None
    lrs = []
    for _ in range(LR_STEPS):
        lrs.append(opt.param_groups[0]["lr"])
        p.grad = torch.zeros_like(p)
        opt.step()
        if sched is not None:
            sched.step()
    g = new_case(f, name, dict(config, base_lr=BASE_LR, steps=LR_STEPS))
    put(g, "lr", np.array(lrs), np.float64)
    print(f"{name:28s} lr[{LR_STEPS}] f64: " + " ".join(f"{v:.4g}" for v in lrs[:8]) + f" ... {lrs[-1]:.4g}")
    return np.array(lrs)


def schedule_cases(f: h5py.File) -> None:
    import transformers
    from torch.optim import lr_scheduler as S

    schedule_case(f, "sched_constant", {"scheduler": "constant"}, None)
    schedule_case(f, "sched_linear_warmup",
                  {"scheduler": "transformers.get_linear_schedule_with_warmup", "num_warmup_steps": 5, "num_training_steps": 30},
                  lambda o: transformers.get_linear_schedule_with_warmup(o, num_warmup_steps=5, num_training_steps=30))
    schedule_case(f, "sched_cosine_warmup",
                  {"scheduler": "transformers.get_cosine_schedule_with_warmup", "num_warmup_steps": 5, "num_training_steps": 30,
                   "num_cycles": 0.5},
                  lambda o: transformers.get_cosine_schedule_with_warmup(o, num_warmup_steps=5, num_training_steps=30))
    schedule_case(f, "sched_step", {"scheduler": "torch.optim.lr_scheduler.StepLR", "step_size": 7, "gamma": 0.5},
                  lambda o: S.StepLR(o, step_size=7, gamma=0.5))
    lrs = schedule_case(f, "sched_polynomial", {"scheduler": "torch.optim.lr_scheduler.PolynomialLR", "total_iters": 20, "power": 2.0},
                        lambda o: S.PolynomialLR(o, total_iters=20, power=2.0))
    closed = [BASE_LR * (1 - min(t, 20) / 20) ** 2.0 for t in range(LR_STEPS)]
    print(f"{'':28s} PolynomialLR vs closed form base*(1-min(t,T)/T)^p: max diff {np.abs(lrs - closed).max():.3g}")
    lrs = schedule_case(f, "sched_cosine_annealing",
                        {"scheduler": "torch.optim.lr_scheduler.CosineAnnealingLR", "T_max": 20, "eta_min": 1e-3},
                        lambda o: S.CosineAnnealingLR(o, T_max=20, eta_min=1e-3))
    closed = [1e-3 + (BASE_LR - 1e-3) * (1 + math.cos(math.pi * t / 20)) / 2 for t in range(LR_STEPS)]
    print(f"{'':28s} CosineAnnealingLR vs closed form (t past T_max included): max diff {np.abs(lrs - closed).max():.3g}")


# ----------------------------------------------------------------------------------------------


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=os.path.join(REPO, "tests", "data", "nn_goldens.h5"))
    args = ap.parse_args()
    torch.set_default_dtype(F32)
    torch.use_deterministic_algorithms(True)
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    tmp = args.out + f".tmp.{os.getpid()}"
    try:
        with h5py.File(tmp, "w") as f:  # default libver ("earliest"): readable by HDF5 1.10 (Debian 12)
            with torch.device("cpu"):
                module_cases(f)
                loss_cases(f)
                optimizer_cases(f)
                schedule_cases(f)
            f.attrs["model_type"] = "nn_goldens"
            f.attrs["config"] = json.dumps({"generator": "tools/make_nn_goldens.py", "torch": torch.__version__,
                                            "cases": ALL_CONFIGS}, sort_keys=True)
        os.replace(tmp, args.out)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    print(f"wrote {args.out}: {len(ALL_CONFIGS)} cases, {os.path.getsize(args.out)} bytes")


if __name__ == "__main__":
    main()
