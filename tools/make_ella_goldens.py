#!/usr/bin/env python3
"""Golden files for ELLA's Timestep-aware Semantic Connector (TSC) and its converter (tools/convert_ella.py).

Builds a tiny random ELLA in PyTorch (written here, after TencentQQGYLab/ELLA model.py: the same module
tree, so the same state_dict keys; diffusers' Timesteps(C, flip_sin_to_cos=True, downscale_freq_shift=0)
sinusoid, computed in float32 as diffusers does, and checked against diffusers itself when it is
installed), saves its state_dict as .safetensors (the released file's format), converts it with
tools/convert_ella.py (its command line, as a user runs it) and writes, to tests/data/:

  ella_connector_converted.h5  the converted model (gluegen.timestep_connector, float32)
  ella_connector_io.h5         x [2, 5, 10], t [2] (float64: 999, 37), sinusoid [2, 8] (the Timesteps
                               features), y [2, 4, 12], dy [2, 4, 12] (random), dx [2, 5, 10] and
                               grads.<gluegen name> of every parameter: gradients of sum(y * dy), with
                               the packed attention's gradient split as the converter splits the weight
                               (grads.connector.perceiver_blocks.0.attn.q_proj.weight, ...)

Config: time_channel 8, time_embed_dim 12, width 12, layers 2, heads 2, num_latents 4, input_dim 10.
Every parameter is random and non-zero (ELLA zero-initialises the AdaLN modulations, which would hide
bugs): weight matrices N(0, 0.8^2 / fan_in), biases and latents N(0, 0.3^2). (N(0, 0.3^2) weights make
the squared-ReLU MLPs of this narrow model grow gradients to ~100, and float32's own error to 1.3e-5.)

Checks: the float32 outputs and gradients against a float64 run of the same module (same float32
sinusoid, as ELLA's float64 module would compute it; and reported, against exact float64 sinusoids);
the converted file's attributes, config and datasets (bit for bit, q/k/v slices included); a forward
pass from the converted file alone with an attention written out from q_proj / k_proj / v_proj; the
full-size default ELLA() key set against the converter's; .pt, 'module.'-wrapped, prefixed and float16
inputs; and malformed checkpoints (missing key, wrong shape, unexpected key, proj_out, gap in the
block indices, NaN, an odd time_channel, --heads not dividing the width, keys under an unnamed
prefix, a GlueGen translator) rejected with messages naming the file and the key.

    .venv-tools/bin/python tools/make_ella_goldens.py [--out-dir tests/data]

Deterministic: fixed seeds, so reruns write identical files (same torch version and CPU).
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import os
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

import convert_ella as ce  # noqa: E402
from gluegen_h5 import atomic_h5  # noqa: E402
from make_converter_goldens import expect_error, read_h5, same_datasets  # noqa: E402
from make_nn_goldens import seed_for  # noqa: E402

NAME = "ella_connector"
CFG = {"time_channel": 8, "time_embed_dim": 12, "width": 12, "layers": 2, "heads": 2, "num_latents": 4, "input_dim": 10}
ELLA_DEFAULT = {"time_channel": 320, "time_embed_dim": 768, "width": 768, "layers": 6, "heads": 8, "num_latents": 64,
                "input_dim": 2048}
BATCH, SEQ = 2, 5
TIMESTEPS = (999.0, 37.0)
WEIGHT_GAIN, BIAS_STD = 0.8, 0.3
# float32 vs float64 of the same computation, |a - b| / (1 + |b|) as the C++ tests' all_close
F32_TOL_FORWARD, F32_TOL_GRADS = 2e-6, 1e-5


# ----------------------------------------------------------------------------------------------
# ELLA, re-implemented


def sinusoid(t: torch.Tensor, channels: int, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """diffusers get_timestep_embedding(t, channels, flip_sin_to_cos=True, downscale_freq_shift=0):
    freq_j = exp(-ln(10000) j / half), [cos(t freq), sin(t freq)]; diffusers computes it in float32."""
    half = channels // 2
    freq = torch.exp(-math.log(10000) * torch.arange(half, dtype=dtype) / half)
    arg = t.to(dtype)[:, None] * freq[None, :]
    return torch.cat([torch.cos(arg), torch.sin(arg)], dim=-1)


class TimeEmbedding(nn.Module):
    """diffusers TimestepEmbedding(C, E, act_fn="silu"): linear_1, SiLU, linear_2."""

    def __init__(self, channels: int, dim: int):
        super().__init__()
        self.linear_1 = nn.Linear(channels, dim)
        self.act = nn.SiLU()
        self.linear_2 = nn.Linear(dim, dim)

    def forward(self, x):
        return self.linear_2(self.act(self.linear_1(x)))


class AdaLayerNorm(nn.Module):
    """LayerNorm(h; no affine, eps 1e-6) * (1 + scale) + shift, [shift, scale] = linear(SiLU(temb))."""

    def __init__(self, width: int, temb_dim: int):
        super().__init__()
        self.linear = nn.Linear(temb_dim, 2 * width)

    def forward(self, h, temb):
        shift, scale = self.linear(F.silu(temb)).chunk(2, dim=-1)  # [B, 1, W] each
        return F.layer_norm(h, h.shape[-1:], eps=1e-6) * (1 + scale) + shift


class SquaredReLU(nn.Module):
    def forward(self, x):
        return torch.relu(x) ** 2


class PerceiverBlock(nn.Module):
    def __init__(self, width: int, heads: int, temb_dim: int):
        super().__init__()
        self.attn = nn.MultiheadAttention(width, heads, batch_first=True)
        self.mlp = nn.Sequential(OrderedDict([("c_fc", nn.Linear(width, 4 * width)), ("sq_relu", SquaredReLU()),
                                              ("c_proj", nn.Linear(4 * width, width))]))
        self.ln_1 = AdaLayerNorm(width, temb_dim)
        self.ln_2 = AdaLayerNorm(width, temb_dim)
        self.ln_ff = AdaLayerNorm(width, temb_dim)

    def forward(self, x, latents, temb):
        normed = self.ln_1(latents, temb)
        kv = torch.cat([normed, self.ln_2(x, temb)], dim=1)
        latents = latents + self.attn(normed, kv, kv, need_weights=False)[0]
        return latents + self.mlp(self.ln_ff(latents, temb))


class Connector(nn.Module):
    """ELLA's PerceiverResampler(width, layers, heads, num_latents, input_dim, time_embedding_dim), no proj_out."""

    def __init__(self, c: dict):
        super().__init__()
        self.latents = nn.Parameter(torch.randn(c["num_latents"], c["width"]) * c["width"] ** -0.5)
        self.time_aware_linear = nn.Linear(c["time_embed_dim"], c["width"])
        self.proj_in = nn.Linear(c["input_dim"], c["width"])
        self.perceiver_blocks = nn.Sequential(*[PerceiverBlock(c["width"], c["heads"], c["time_embed_dim"])
                                                for _ in range(c["layers"])])

    def forward(self, x, temb):
        latents = self.latents[None].expand(len(x), -1, -1) + self.time_aware_linear(F.silu(temb))
        x = self.proj_in(x)
        for block in self.perceiver_blocks:
            latents = block(x, latents, temb)
        return latents


class Ella(nn.Module):
    """ELLA(time_channel, time_embed_dim, width, layers, heads, num_latents, input_dim): x [B, L, I],
    t [B] -> [B, N, W]. `sinusoid_dtype` float32 is what ELLA computes (diffusers); float64 is exact."""

    def __init__(self, c: dict):
        super().__init__()
        self.time_channel = c["time_channel"]
        self.time_embedding = TimeEmbedding(c["time_channel"], c["time_embed_dim"])
        self.connector = Connector(c)

    def forward(self, x, t, sinusoid_dtype=torch.float32):
        emb = sinusoid(t, self.time_channel, sinusoid_dtype).to(x.dtype)[:, None, :]  # [B, 1, C]
        return self.connector(x, self.time_embedding(emb))


@torch.no_grad()
def init_weights(model: nn.Module) -> None:
    for name, p in model.named_parameters():
        if p.dim() == 2 and name != "connector.latents":
            p.copy_(torch.randn_like(p) * (WEIGHT_GAIN / math.sqrt(p.shape[1])))
        else:
            p.copy_(torch.randn_like(p) * BIAS_STD)


# ----------------------------------------------------------------------------------------------
# gluegen's names and a forward pass from them alone


def split_qkv(named: dict[str, torch.Tensor], width: int) -> OrderedDict:
    """ELLA names -> gluegen names, for parameters and their gradients alike (the converter's split)."""
    return ce.to_gluegen(OrderedDict(named), width)


def forward_from_file(p: dict[str, torch.Tensor], c: dict, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """The TSC from a converted file's datasets, attention written out from q_proj / k_proj / v_proj
    (heads = channel blocks of width W / heads, as gluegen's MultiHeadAttention)."""
    W, H = c["width"], c["heads"]
    lin = lambda h, n: F.linear(h, p[n + ".weight"], p[n + ".bias"])  # noqa: E731

    def ada(h, temb, n):
        shift, scale = lin(F.silu(temb), n + ".linear").chunk(2, dim=-1)
        return F.layer_norm(h, (W,), eps=1e-6) * (1 + scale) + shift

    def heads(h):
        return h.view(h.shape[0], h.shape[1], H, W // H).transpose(1, 2)

    temb = lin(F.silu(lin(sinusoid(t, c["time_channel"])[:, None, :], "time_embedding.linear_1")), "time_embedding.linear_2")
    lat = p["connector.latents"][None] + lin(F.silu(temb), "connector.time_aware_linear")
    x = lin(x, "connector.proj_in")
    for i in range(c["layers"]):
        b = f"connector.perceiver_blocks.{i}."
        nl = ada(lat, temb, b + "ln_1")
        kv = torch.cat([nl, ada(x, temb, b + "ln_2")], dim=1)
        q, k, v = heads(lin(nl, b + "attn.q_proj")), heads(lin(kv, b + "attn.k_proj")), heads(lin(kv, b + "attn.v_proj"))
        a = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(W // H), dim=-1) @ v
        lat = lat + lin(a.transpose(1, 2).reshape(lat.shape), b + "attn.out_proj")
        lat = lat + lin(torch.relu(lin(ada(lat, temb, b + "ln_ff"), b + "mlp.c_fc")) ** 2, b + "mlp.c_proj")
    return lat


# ----------------------------------------------------------------------------------------------


def run(model: Ella, x: torch.Tensor, t: torch.Tensor, dy: torch.Tensor, sinusoid_dtype=torch.float32):
    """y, dx and the parameters' gradients (ELLA names) of sum(y * dy)."""
    model.zero_grad(set_to_none=True)
    x = x.detach().clone().requires_grad_(True)
    y = model(x, t, sinusoid_dtype)
    y.backward(dy)
    return y.detach(), x.grad.detach(), OrderedDict((n, p.grad.detach().clone()) for n, p in model.named_parameters())


def scaled_error(a: torch.Tensor, b: torch.Tensor) -> float:
    a, b = a.double(), b.double()
    return float(((a - b).abs() / (1 + b.abs())).max())


def worst(got: dict, ref: dict) -> tuple[float, str]:
    return max((scaled_error(got[k], ref[k]), k) for k in ref)


def run_converter(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, os.path.join(TOOLS, "convert_ella.py"), *args], capture_output=True, text=True)


def check_diffusers(model: Ella, t: torch.Tensor) -> str:
    """The sinusoid and the time embedding's keys against diffusers' own modules, when installed."""
    try:
        from diffusers.models.embeddings import TimestepEmbedding, Timesteps
    except ImportError:
        return "diffusers not installed: sinusoid not cross-checked"
    ref = Timesteps(CFG["time_channel"], flip_sin_to_cos=True, downscale_freq_shift=0)(t)
    assert torch.equal(ref, sinusoid(t, CFG["time_channel"])), (ref, sinusoid(t, CFG["time_channel"]))
    te = TimestepEmbedding(CFG["time_channel"], CFG["time_embed_dim"], act_fn="silu")
    assert list(te.state_dict()) == list(model.time_embedding.state_dict())
    te.load_state_dict(model.time_embedding.state_dict())
    emb = ref[:, None, :]
    with torch.no_grad():
        assert torch.equal(te(emb), model.time_embedding(emb))
    return "sinusoid and TimestepEmbedding identical to diffusers'"


def golden_case(tmp: str, out_dir: str) -> tuple[OrderedDict, str]:
    torch.manual_seed(seed_for(NAME))
    model = Ella(CFG)
    init_weights(model)
    x = torch.randn(BATCH, SEQ, CFG["input_dim"], dtype=torch.float64).to(torch.float32)
    dy = torch.randn(BATCH, CFG["num_latents"], CFG["width"], dtype=torch.float64).to(torch.float32)
    t = torch.tensor(TIMESTEPS, dtype=torch.float32)
    print(check_diffusers(model, t))

    y, dx, grads = run(model, x, t, dy)
    assert all(g.abs().max() > 0 for g in grads.values()), [n for n, g in grads.items() if g.abs().max() == 0]
    # the same module in float64: same (float32) sinusoid, then exact sinusoids too
    model64 = copy.deepcopy(model).double()
    y64, dx64, grads64 = run(model64, x.double(), t, dy.double())
    e_y, e_dx, (e_g, e_gname) = scaled_error(y, y64), scaled_error(dx, dx64), worst(grads, grads64)
    print(f"float32 vs float64 (same sinusoid): y {e_y:.2e}  dx {e_dx:.2e}  grads {e_g:.2e} ({e_gname})")
    assert max(e_y, e_dx) < F32_TOL_FORWARD and e_g < F32_TOL_GRADS, (e_y, e_dx, e_g, e_gname)
    ye, dxe, grade = run(model64, x.double(), t, dy.double(), torch.float64)
    print(f"float32 vs float64 (exact sinusoid): y {scaled_error(y, ye):.2e}  dx {scaled_error(dx, dxe):.2e}  "
          f"grads {worst(grads, grade)[0]:.2e}  (sinusoid itself: "
          f"{scaled_error(sinusoid(t, CFG['time_channel']), sinusoid(t, CFG['time_channel'], torch.float64)):.2e})")
    print(f"magnitudes: |y| max {float(y.abs().max()):.3f}  |dx| max {float(dx.abs().max()):.3f}  "
          f"|grad| max {max(float(g.abs().max()) for g in grads.values()):.3f}")

    # ELLA's release is a .safetensors state_dict; convert it with the command line
    from safetensors.torch import save_file

    sd = OrderedDict((k, v.detach().clone().contiguous()) for k, v in model.state_dict().items())
    st = os.path.join(tmp, "ella-tiny.safetensors")
    save_file(sd, st)
    converted = os.path.join(out_dir, f"{NAME}_converted.h5")
    r = run_converter(st, converted, "--heads", str(CFG["heads"]))
    sys.stdout.write(r.stdout)
    assert r.returncode == 0, f"convert_ella.py failed ({r.returncode}):\n{r.stderr}"

    attrs, data = read_h5(converted)
    assert int(attrs["gluegen_format"]) == 1 and attrs["gluegen_format"].dtype == np.int32, attrs
    assert attrs["model_type"] == "gluegen.timestep_connector", attrs["model_type"]
    assert json.loads(attrs["config"]) == CFG, attrs["config"]
    expected = split_qkv(sd, CFG["width"])
    assert sorted(data) == sorted(expected), sorted(set(data) ^ set(expected))
    for k, v in expected.items():
        assert data[k].dtype == np.float32 and np.array_equal(data[k], v.numpy()), k
    W = CFG["width"]
    for i in range(CFG["layers"]):
        b = f"connector.perceiver_blocks.{i}.attn."
        packed = np.concatenate([data[b + p + ".weight"] for p in ("q_proj", "k_proj", "v_proj")])
        assert np.array_equal(packed, sd[b + "in_proj_weight"].numpy())
        assert np.array_equal(data[b + "k_proj.bias"], sd[b + "in_proj_bias"][W:2 * W].numpy())
    # a forward pass from the converted file alone, attention written out per head
    with torch.no_grad():
        y_file = forward_from_file({k: torch.from_numpy(v) for k, v in data.items()}, CFG, x, t)
    print(f"forward from the converted file (own attention on q/k/v): scaled error {scaled_error(y_file, y):.2e}")
    assert scaled_error(y_file, y) < F32_TOL_FORWARD

    ggrads = split_qkv(grads, W)
    assert sorted(ggrads) == sorted(data)
    io_path = os.path.join(out_dir, f"{NAME}_io.h5")
    with atomic_h5(io_path) as f:
        f.attrs["model_type"] = "gluegen.converter_io"
        f.attrs["config"] = json.dumps({"generator": "tools/make_ella_goldens.py", "model": os.path.basename(converted),
                                        "loss": "sum(y * dy)", "torch": torch.__version__.split("+")[0]}, sort_keys=True)
        f.create_dataset("t", data=np.asarray(TIMESTEPS, dtype=np.float64))
        for k, v in (("x", x), ("sinusoid", sinusoid(t, CFG["time_channel"])), ("y", y), ("dy", dy), ("dx", dx)):
            f.create_dataset(k, data=v.numpy().astype(np.float32))
        for k, v in ggrads.items():
            f.create_dataset("grads/" + k.replace(".", "/"), data=v.numpy().astype(np.float32))
    print(f"{NAME}: y {list(y.shape)}, dx {list(dx.shape)}, {len(ggrads)} gradients")
    return sd, converted


def variants(tmp: str, sd: OrderedDict, converted: str) -> None:
    # the full-size default ELLA() (built on the meta device: shapes only) has exactly the converter's keys
    with torch.device("meta"):
        big = Ella(ELLA_DEFAULT).state_dict()
    shapes = ce.ella_shapes(ELLA_DEFAULT)
    assert list(big) == list(shapes) and all(tuple(big[k].shape) == s for k, s in shapes.items())
    n_big = sum(math.prod(s) for s in shapes.values())
    print(f"default ELLA(): {len(shapes)} keys, {n_big:,} parameters; key set and shapes match the converter's")
    # .pt, DataParallel-wrapped, under a prefix: the same file
    for tag, obj, kw in (("pt", dict(sd), {}), ("module", {"module." + k: v for k, v in sd.items()}, {}),
                         ("prefixed", {"state_dict": {"ella." + k: v for k, v in sd.items()}, "epoch": 2}, {"prefix": "ella."})):
        p = os.path.join(tmp, f"ella_{tag}.pt")
        torch.save(obj, p)
        out = os.path.join(tmp, f"ella_{tag}.h5")
        ce.convert(p, out, CFG["heads"], quiet=True, **kw)
        same_datasets(converted, out)
    # float16 storage, and another head count (stored as given)
    st = os.path.join(tmp, "ella-tiny.safetensors")
    s = ce.convert(st, os.path.join(tmp, "f16.h5"), 3, "f16", quiet=True)
    attrs, data = read_h5(os.path.join(tmp, "f16.h5"))
    assert s["config"]["heads"] == 3 and json.loads(attrs["config"])["heads"] == 3
    assert all(v.dtype == np.float16 for v in data.values()) and s["parameters"] == sum(v.numel() for v in sd.values())
    print("variants: .pt, module., {'state_dict'} + --prefix: identical datasets; --dtype f16 and --heads 3: ok")


def negative_checks(tmp: str, sd: OrderedDict) -> None:
    out = os.path.join(tmp, "neg.h5")
    from safetensors.torch import save_file

    def saved(d: dict, fname: str) -> str:
        p = os.path.join(tmp, fname)
        if fname.endswith(".safetensors"):
            save_file({k: v.contiguous() for k, v in d.items()}, p)
        else:
            torch.save(d, p)
        return p

    def conv(p: str, heads: int = CFG["heads"], **kw):
        return lambda: ce.convert(p, out, heads, quiet=True, **kw)

    # a missing key: the command line exits 2 and names the file and the key; no output, no temporary
    k_missing = "connector.perceiver_blocks.1.ln_ff.linear.bias"
    p = saved(OrderedDict((k, v) for k, v in sd.items() if k != k_missing), "missing_key.safetensors")
    expect_error(conv(p), p, "missing keys", f"'{k_missing}'")
    r = run_converter(p, out)
    assert r.returncode == 2 and f"'{k_missing}'" in r.stderr and p in r.stderr, (r.returncode, r.stderr)
    # a wrong shape
    wrong = OrderedDict(sd)
    wrong["connector.perceiver_blocks.0.mlp.c_fc.weight"] = wrong["connector.perceiver_blocks.0.mlp.c_fc.weight"][:-1]
    p = saved(wrong, "wrong_shape.safetensors")
    expect_error(conv(p), p, "wrong shapes", "'connector.perceiver_blocks.0.mlp.c_fc.weight' is [47, 12], expected [48, 12]")
    # AdaLN modulation of the wrong width (time_embed_dim mismatch)
    wrong = OrderedDict(sd)
    wrong["connector.perceiver_blocks.1.ln_2.linear.weight"] = torch.zeros(24, 11)
    p = saved(wrong, "wrong_ada.safetensors")
    expect_error(conv(p), p, "'connector.perceiver_blocks.1.ln_2.linear.weight' is [24, 11], expected [24, 12]")
    # unexpected keys: a stray one, and an output projection (PerceiverResampler output_dim) by name
    p = saved(OrderedDict(sd, **{"connector.perceiver_blocks.0.attn.scale": torch.ones(1)}), "unexpected.safetensors")
    expect_error(conv(p), p, "unexpected keys", "'connector.perceiver_blocks.0.attn.scale'")
    p = saved(OrderedDict(sd, **{"connector.proj_out.0.weight": torch.ones(6, 12)}), "proj_out.safetensors")
    expect_error(conv(p), p, "'connector.proj_out.0.weight'", "output_dim")
    # a gap in the block indices
    p = saved(OrderedDict((k.replace("perceiver_blocks.1.", "perceiver_blocks.2."), v) for k, v in sd.items()), "gap.safetensors")
    expect_error(conv(p), p, "block indices [0, 2]")
    # NaN
    bad = OrderedDict(sd)
    bad["connector.latents"] = bad["connector.latents"].clone()
    bad["connector.latents"][1, 2] = float("nan")
    p = saved(bad, "nan.safetensors")
    expect_error(conv(p), p, "'connector.latents' holds 1 NaN/Inf")
    # an odd sinusoid width (diffusers zero-pads it; gluegen does not)
    p = saved(OrderedDict(sd, **{"time_embedding.linear_1.weight": torch.zeros(12, 7)}), "odd_channels.safetensors")
    expect_error(conv(p), p, "time_channel 7", "odd")
    # heads that do not divide the width
    p = os.path.join(tmp, "ella-tiny.safetensors")
    expect_error(conv(p, 5), p, "--heads 5 does not divide the width 12")
    # keys under a prefix that was not given; a prefix that matches nothing
    p = saved({"model.ella." + k: v for k, v in sd.items()}, "nested.safetensors")
    expect_error(conv(p), p, "--prefix 'model.ella.'")
    expect_error(conv(p, prefix="ella."), p, "no keys under --prefix 'ella.'")
    # a GlueGen translator is not an ELLA checkpoint
    p = saved({"blocks.0.net_sen.0.weight": torch.zeros(4, 2), "tail.net_sen.0.weight": torch.zeros(4, 2)}, "translator.pt")
    expect_error(conv(p), p, "missing key 'time_embedding.linear_1.weight'")
    expect_error(lambda: ce.convert(os.path.join(tmp, "nope.safetensors"), out, quiet=True), "no such file")
    assert not os.path.exists(out) and not any(n.startswith("neg.h5.tmp") for n in os.listdir(tmp))
    print("negative checks: 13 malformed inputs rejected with the file and key named")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out-dir", default=os.path.join(REPO, "tests", "data"))
    args = ap.parse_args()
    torch.set_default_dtype(torch.float32)
    torch.use_deterministic_algorithms(True)
    os.makedirs(args.out_dir, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="gluegen_ella_") as tmp:
        sd, converted = golden_case(tmp, args.out_dir)
        variants(tmp, sd, converted)
        negative_checks(tmp, sd)
    names = [f"{NAME}_{s}.h5" for s in ("converted", "io")]
    total = sum(os.path.getsize(os.path.join(args.out_dir, n)) for n in names)
    print(f"wrote {len(names)} files to {args.out_dir}: {total:,} bytes")


if __name__ == "__main__":
    main()
