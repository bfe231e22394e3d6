#!/usr/bin/env python3
"""Golden files for gluegen's diffusion side: diffusers' UNet2DConditionModel, AutoencoderKL, schedulers
and the Stable Diffusion classifier-free-guidance loop, plus checks of tools/convert_diffusers.py.

    .venv-tools/bin/python tools/make_diffusion_goldens.py [--out-dir tests/data/diffusion]

Builds tiny RANDOM diffusers models from configs (nothing is downloaded), saves them with
save_pretrained(safe_serialization=True), converts them with tools/convert_diffusers.py (its command
line, as a user runs it) and writes, to tests/data/diffusion/ (dotted names are group paths):

  unet_sd1.h5, unet_sd2px.h5   converted UNet2DConditionModel (SD 1.x in miniature; SD 2.x style in
                               pixel space: linear projections, freq_shift 1, sin-then-cos sinusoid)
  unet_sd1_io.h5, unet_sd2px_io.h5
                               sample, timesteps (float64), encoder_hidden_states, out = unet(...).sample,
                               dy (random), d_sample, d_encoder_hidden_states and grads.<diffusers name>
                               of every parameter: gradients of sum(out * dy)
  vae_tiny.h5                  converted AutoencoderKL
  vae_tiny_io.h5               x, moments = quant_conv(encoder(x)) (= cat(mean, logvar), logvar not
                               clamped), z (random), decoded = decode(z).sample, dy, dz = d sum(decoded*dy)/dz
  schedulers.h5                one group per scheduler case: timesteps, init_noise_sigma, x_T, residual,
                               noise, samples (the sampling loop with model_output = 0.5 * scaled + residual[i],
                               the schedulers' random draws forced to noise[i]); group ddpm_add_noise
  pipeline_cfg.h5              StableDiffusionPipeline (unet_sd1 + vae_tiny + DDIM, 10 steps, guidance 4):
                               latents per step, latents_out and the decoded image in [-1, 1]

Every parameter is random and non-zero (diffusers zero-initialises conv_out, proj_out, ...): weights
N(0, 0.8^2 / fan_in) (fan_in = in_channels * kernel area), biases N(0, 0.3^2), GroupNorm / LayerNorm
weight 1 + N(0, 0.1^2) and bias N(0, 0.3^2). Inputs N(0, 1). Arrays float32 unless stated.

The model goldens are diffusers' float32 computation; the same modules are also run in float64
(model.double(), same inputs; the timestep sinusoid is float32 in both, as diffusers computes it) and
the largest |f32 - f64| / (1 + |f64|) is stored as root attributes err_forward (outputs) and
err_backward (input gradients and parameter gradients), with tol_forward / tol_backward = 4 x those,
the tolerances for gluegen's float32 code against these files. The discrepancy with an exact float64
sinusoid is printed (and stored as err_forward_exact_sinusoid) as well.

Checks: every parameter gradient non-zero; converted files bit for bit against the state_dicts and
their config against config.json; .bin, sharded, pipeline-folder (--subfolder) and float16 conversions;
old VAE checkpoints with query/key/value/proj_attn names (diffusers itself loads that file to the same
weights) and 1x1-conv shaped attention weights; malformed folders (another class, missing / unexpected
key, wrong shape, NaN, no weights, a pipeline folder without --subfolder) rejected with the file and key
named. Schedulers: each case run again with other noise (stochastic cases must change, deterministic
ones must not), DDIM with variance_noise= must equal the forced draws. Pipeline: diffusers'
StableDiffusionPipeline against the loop written out, and its output_type="pt" image against the
stored image / 2 + 0.5.

Deterministic: fixed seeds, so reruns write identical files (same torch / diffusers versions and CPU).
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import importlib
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
from collections import OrderedDict

import numpy as np
import torch
import torch.nn as nn

TOOLS = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(TOOLS)
sys.path.insert(0, TOOLS)

import convert_diffusers as cd  # noqa: E402
from gluegen_h5 import atomic_h5  # noqa: E402
from make_converter_goldens import expect_error, read_h5, same_datasets  # noqa: E402
from make_nn_goldens import seed_for  # noqa: E402

import diffusers  # noqa: E402
from diffusers import (AutoencoderKL, DDIMScheduler, DDPMScheduler, DPMSolverMultistepScheduler,  # noqa: E402
                       EulerAncestralDiscreteScheduler, EulerDiscreteScheduler, PNDMScheduler,
                       UNet2DConditionModel)

WEIGHT_GAIN, BIAS_STD, NORM_STD = 0.8, 0.3, 0.1
TOL_FACTOR = 4.0
IO_TYPE = "gluegen.diffusers_io"

UNET_CASES = OrderedDict([
    ("unet_sd1", dict(
        config=dict(sample_size=16, in_channels=4, out_channels=4, block_out_channels=(8, 16, 16), layers_per_block=2,
                    down_block_types=("CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"),
                    up_block_types=("UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"),
                    norm_num_groups=4, attention_head_dim=2, cross_attention_dim=12, use_linear_projection=False),
        batch=2, seq=5, timesteps=(999.0, 37.5))),
    ("unet_sd2px", dict(
        config=dict(sample_size=8, in_channels=3, out_channels=3, block_out_channels=(8, 16), layers_per_block=1,
                    down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
                    up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
                    norm_num_groups=4, attention_head_dim=(2, 4), cross_attention_dim=10, use_linear_projection=True,
                    freq_shift=1, flip_sin_to_cos=False),
        batch=2, seq=3, timesteps=(500.0, 3.0))),
])
VAE_NAME = "vae_tiny"
VAE_CONFIG = dict(in_channels=3, out_channels=3, down_block_types=("DownEncoderBlock2D",) * 2,
                  up_block_types=("UpDecoderBlock2D",) * 2, block_out_channels=(8, 16), layers_per_block=1,
                  latent_channels=4, norm_num_groups=4, sample_size=16, scaling_factor=0.18215)

# Stable Diffusion's scheduler_config.json (v1-5); each scheduler class takes the keys it knows (from_config)
SD = dict(beta_schedule="scaled_linear", beta_start=0.00085, beta_end=0.012, num_train_timesteps=1000, steps_offset=1,
          timestep_spacing="leading", clip_sample=False, set_alpha_to_one=False)
SD_BETAS = {k: SD[k] for k in ("beta_schedule", "beta_start", "beta_end", "num_train_timesteps")}
NUM_STEPS = 10
# name: (class, config, step kwargs, draws noise)
SCHEDULER_CASES = OrderedDict([
    ("ddpm_linear", (DDPMScheduler, {}, {}, True)),
    ("ddpm_sd_v", (DDPMScheduler, dict(SD, prediction_type="v_prediction"), {}, True)),
    ("ddim_sd", (DDIMScheduler, SD, {"eta": 0.0}, False)),
    ("ddim_cos_v_eta", (DDIMScheduler, dict(SD, beta_schedule="squaredcos_cap_v2", prediction_type="v_prediction",
                                            timestep_spacing="trailing", clip_sample=True), {"eta": 0.5}, True)),
    ("pndm_sd", (PNDMScheduler, dict(SD, skip_prk_steps=True), {}, False)),
    ("euler_sd", (EulerDiscreteScheduler, SD, {}, False)),
    ("euler_linspace_v", (EulerDiscreteScheduler, dict(SD, timestep_spacing="linspace", prediction_type="v_prediction",
                                                       steps_offset=0), {}, False)),
    ("euler_a_sd", (EulerAncestralDiscreteScheduler, SD, {}, True)),
    ("dpmpp_2m_sd", (DPMSolverMultistepScheduler, SD_BETAS, {}, False)),
    ("dpmpp_2m_trailing_v", (DPMSolverMultistepScheduler, dict(beta_schedule="squaredcos_cap_v2",
                                                               prediction_type="v_prediction",
                                                               timestep_spacing="trailing"), {}, False)),
    ("dpmpp_2m_karras", (DPMSolverMultistepScheduler, dict(SD, use_karras_sigmas=True), {}, False)),
])
SCHED_SHAPE = (2, 3, 4, 4)
# the scheduler modules that import randn_tensor (PNDM draws nothing)
SCHEDULER_MODULES = ("scheduling_ddpm", "scheduling_ddim", "scheduling_euler_discrete", "scheduling_euler_ancestral_discrete",
                     "scheduling_dpmsolver_multistep")
ADD_NOISE_T = (0, 10, 500, 999)
GUIDANCE = 4.0


# ----------------------------------------------------------------------------------------------
# helpers


def randn(*shape: int) -> torch.Tensor:
    """N(0, 1) drawn in float64 and stored as float32 (the draws do not depend on the default dtype)."""
    return torch.randn(*shape, dtype=torch.float64).to(torch.float32)


@torch.no_grad()
def randomize(model: nn.Module) -> None:
    """Every parameter random and non-zero (see the module docstring for the scales)."""
    norm_weights, norm_biases = set(), set()
    for mname, m in model.named_modules():
        if isinstance(m, (nn.GroupNorm, nn.LayerNorm)):
            norm_weights.add(f"{mname}.weight")
            norm_biases.add(f"{mname}.bias")
    for name, p in model.named_parameters():
        if name in norm_weights:
            p.copy_(1 + NORM_STD * torch.randn_like(p))
        elif name in norm_biases or p.dim() == 1:
            p.copy_(BIAS_STD * torch.randn_like(p))
        else:
            p.copy_(torch.randn_like(p) * (WEIGHT_GAIN / math.sqrt(p[0].numel())))


def scaled_error(a: torch.Tensor, b: torch.Tensor) -> float:
    """max |a - b| / (1 + |b|), as the C++ tests' all_close."""
    a, b = a.double(), b.double()
    return float(((a - b).abs() / (1 + b.abs())).max())


def worst(got: dict, ref: dict) -> tuple[float, str]:
    return max((scaled_error(got[k], ref[k]), k) for k in ref)


def exact_sinusoid(timesteps, embedding_dim, flip_sin_to_cos=False, downscale_freq_shift=1, scale=1, max_period=10000):
    """diffusers' get_timestep_embedding computed in float64 throughout (diffusers: float32)."""
    half = embedding_dim // 2
    exponent = -math.log(max_period) * torch.arange(half, dtype=torch.float64) / (half - downscale_freq_shift)
    emb = scale * timesteps.double()[:, None] * torch.exp(exponent)[None, :]
    emb = torch.cat([torch.sin(emb), torch.cos(emb)], dim=-1)
    if flip_sin_to_cos:
        emb = torch.cat([emb[:, half:], emb[:, :half]], dim=-1)
    assert embedding_dim % 2 == 0
    return emb


@contextlib.contextmanager
def patched_sinusoid():
    import diffusers.models.embeddings as emb

    orig = emb.get_timestep_embedding
    emb.get_timestep_embedding = exact_sinusoid
    try:
        yield
    finally:
        emb.get_timestep_embedding = orig


def run_converter(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, os.path.join(TOOLS, "convert_diffusers.py"), *args], capture_output=True, text=True)


def convert_cli(src: str, out: str, *extra: str) -> None:
    r = run_converter(src, out, *extra)
    sys.stdout.write(r.stdout)
    assert r.returncode == 0, f"convert_diffusers.py {src} failed ({r.returncode}):\n{r.stderr}"


def check_converted(path: str, model: nn.Module, model_type: str, folder: str) -> None:
    """The converted file: attributes, config = config.json, datasets = the state_dict bit for bit."""
    attrs, data = read_h5(path)
    assert int(attrs["gluegen_format"]) == 1 and attrs["gluegen_format"].dtype == np.int32, attrs
    assert attrs["model_type"] == model_type, attrs["model_type"]
    with open(os.path.join(folder, "config.json"), encoding="utf-8") as fh:
        assert json.loads(attrs["config"]) == json.load(fh)
    sd = model.state_dict()
    assert sorted(data) == sorted(sd), sorted(set(data) ^ set(sd))
    for k, v in sd.items():
        assert data[k].dtype == np.float32 and np.array_equal(data[k], v.numpy()), k


def put_f32(f, name: str, t) -> None:
    if isinstance(t, torch.Tensor):
        t = t.detach().numpy()
    f.create_dataset(name.replace(".", "/"), data=np.asarray(t, dtype=np.float32))


def io_attrs(f, model_file: str, extra: dict, errs: dict) -> None:
    f.attrs["model_type"] = IO_TYPE
    f.attrs["config"] = json.dumps({"generator": "tools/make_diffusion_goldens.py", "model": model_file,
                                    "torch": torch.__version__.split("+")[0], "diffusers": diffusers.__version__,
                                    **extra}, sort_keys=True)
    for k, v in errs.items():
        f.attrs.create(k, v, dtype=np.float64)


def tolerances(e_fwd: float, e_bwd: float, e_exact: float) -> dict:
    return {"err_forward": e_fwd, "err_backward": e_bwd, "err_forward_exact_sinusoid": e_exact,
            "tol_forward": TOL_FACTOR * e_fwd, "tol_backward": TOL_FACTOR * e_bwd}


# ----------------------------------------------------------------------------------------------
# UNet


def run_unet(model, sample, t, ehs, dy):
    """out, d_sample, d_encoder_hidden_states, {name: grad} of sum(out * dy)."""
    model.zero_grad(set_to_none=True)
    s = sample.detach().clone().requires_grad_(True)
    e = ehs.detach().clone().requires_grad_(True)
    out = model(s, t, encoder_hidden_states=e).sample
    out.backward(dy)
    return (out.detach(), s.grad.detach(), e.grad.detach(),
            OrderedDict((n, p.grad.detach().clone()) for n, p in model.named_parameters()))


def unet_case(tmp: str, out_dir: str, name: str, spec: dict) -> tuple[UNet2DConditionModel, dict]:
    torch.manual_seed(seed_for(name))
    cfg = spec["config"]
    model = UNet2DConditionModel(**cfg)
    randomize(model)
    model.eval()
    B, S = spec["batch"], cfg["sample_size"]
    sample = randn(B, cfg["in_channels"], S, S)
    ehs = randn(B, spec["seq"], cfg["cross_attention_dim"])
    dy = randn(B, cfg["out_channels"], S, S)
    t = torch.tensor(spec["timesteps"], dtype=torch.float64)

    out, ds, de, grads = run_unet(model, sample, t, ehs, dy)
    zero = [n for n, g in grads.items() if not bool(g.abs().max() > 0)]
    assert not zero, f"{name}: zero gradients: {zero}"
    model64 = copy.deepcopy(model).double()
    out64, ds64, de64, grads64 = run_unet(model64, sample.double(), t, ehs.double(), dy.double())
    e_out, e_ds, e_de = scaled_error(out, out64), scaled_error(ds, ds64), scaled_error(de, de64)
    e_g, e_gname = worst(grads, grads64)
    with patched_sinusoid():
        oute, dse, dee, gradse = run_unet(model64, sample.double(), t, ehs.double(), dy.double())
    e_exact = scaled_error(out, oute)
    print(f"{name}: float32 vs float64: out {e_out:.2e}  d_sample {e_ds:.2e}  d_encoder_hidden_states {e_de:.2e}  "
          f"grads {e_g:.2e} ({e_gname})")
    print(f"{name}: with an exact float64 sinusoid: out {e_exact:.2e}  d_sample {scaled_error(ds, dse):.2e}  "
          f"grads {worst(grads, gradse)[0]:.2e}")
    print(f"{name}: magnitudes: |out| max {float(out.abs().max()):.3f} std {float(out.std()):.3f}  "
          f"|d_sample| max {float(ds.abs().max()):.3f}  |grad| max {max(float(g.abs().max()) for g in grads.values()):.3f}  "
          f"parameters {sum(p.numel() for p in model.parameters()):,}")
    errs = tolerances(max(e_out, 0.0), max(e_ds, e_de, e_g), e_exact)

    folder = os.path.join(tmp, name)
    model.save_pretrained(folder, safe_serialization=True)
    converted = os.path.join(out_dir, f"{name}.h5")
    convert_cli(folder, converted)
    check_converted(converted, model, "diffusers.UNet2DConditionModel", folder)

    with atomic_h5(os.path.join(out_dir, f"{name}_io.h5")) as f:
        io_attrs(f, os.path.basename(converted), {"loss": "sum(out * dy)", "call": "unet(sample, timesteps, "
                 "encoder_hidden_states=encoder_hidden_states).sample"}, errs)
        f.create_dataset("timesteps", data=np.asarray(spec["timesteps"], dtype=np.float64))
        for k, v in (("sample", sample), ("encoder_hidden_states", ehs), ("out", out), ("dy", dy), ("d_sample", ds),
                     ("d_encoder_hidden_states", de)):
            put_f32(f, k, v)
        for k, v in grads.items():
            put_f32(f, "grads." + k, v)
    return model, errs


# ----------------------------------------------------------------------------------------------
# VAE


def run_vae(vae, x, z, dy):
    with torch.no_grad():
        moments = vae.quant_conv(vae.encoder(x))
    zz = z.detach().clone().requires_grad_(True)
    decoded = vae.decode(zz).sample
    decoded.backward(dy)
    return moments, decoded.detach(), zz.grad.detach()


def vae_case(tmp: str, out_dir: str) -> tuple[AutoencoderKL, dict]:
    torch.manual_seed(seed_for(VAE_NAME))
    vae = AutoencoderKL(**VAE_CONFIG)
    randomize(vae)
    vae.eval()
    x = randn(1, 3, 16, 16)
    z = randn(1, 4, 8, 8)
    dy = randn(1, 3, 16, 16)
    moments, decoded, dz = run_vae(vae, x, z, dy)
    with torch.no_grad():
        dist = vae.encode(x).latent_dist
    assert torch.equal(dist.mean, moments[:, :4]) and torch.equal(dist.logvar, moments[:, 4:].clamp(-30.0, 20.0))
    m64, d64, dz64 = run_vae(copy.deepcopy(vae).double(), x.double(), z.double(), dy.double())
    e_m, e_d, e_dz = scaled_error(moments, m64), scaled_error(decoded, d64), scaled_error(dz, dz64)
    print(f"{VAE_NAME}: float32 vs float64: moments {e_m:.2e}  decoded {e_d:.2e}  dz {e_dz:.2e}")
    print(f"{VAE_NAME}: magnitudes: |moments| max {float(moments.abs().max()):.3f}  |decoded| max "
          f"{float(decoded.abs().max()):.3f} std {float(decoded.std()):.3f}  |dz| max {float(dz.abs().max()):.3f}  "
          f"parameters {sum(p.numel() for p in vae.parameters()):,}")
    errs = tolerances(max(e_m, e_d), e_dz, max(e_m, e_d))  # no timestep: the sinusoid plays no part
    del errs["err_forward_exact_sinusoid"]

    folder = os.path.join(tmp, VAE_NAME)
    vae.save_pretrained(folder, safe_serialization=True)
    converted = os.path.join(out_dir, f"{VAE_NAME}.h5")
    convert_cli(folder, converted)
    check_converted(converted, vae, "diffusers.AutoencoderKL", folder)
    with atomic_h5(os.path.join(out_dir, f"{VAE_NAME}_io.h5")) as f:
        io_attrs(f, os.path.basename(converted), {"moments": "quant_conv(encoder(x))", "decoded": "decode(z).sample",
                                                  "loss": "sum(decoded * dy)"}, errs)
        for k, v in (("x", x), ("moments", moments), ("z", z), ("decoded", decoded), ("dy", dy), ("dz", dz)):
            put_f32(f, k, v)
    return vae, errs


# ----------------------------------------------------------------------------------------------
# schedulers


class ForcedNoise:
    """Replaces the module-level randn_tensor of every scheduler module by a draw of noise[step]."""

    def __init__(self, noise: torch.Tensor):
        self.noise, self.step, self.draws = noise, 0, []
        self.modules = [importlib.import_module(f"diffusers.schedulers.{m}") for m in SCHEDULER_MODULES]

    def draw(self, shape, generator=None, device=None, dtype=None, layout=None, **kwargs):
        assert tuple(shape) == tuple(self.noise.shape[1:]), (shape, self.noise.shape)
        assert generator is None
        self.draws.append(self.step)
        return self.noise[self.step].clone().to(dtype or torch.float32)

    def __enter__(self):
        self.saved = [m.randn_tensor for m in self.modules]
        for m in self.modules:
            m.randn_tensor = self.draw
        return self

    def __exit__(self, *exc):
        for m, f in zip(self.modules, self.saved):
            m.randn_tensor = f


def scheduler_json(sched) -> str:
    """The scheduler's config as save_config writes scheduler_config.json (dict(scheduler.config) plus
    _class_name / _diffusers_version, less the run-dependent _use_default_values), keys sorted; Python's
    json writes lambda_min_clipped = -inf as the bare token -Infinity, as diffusers' files have it."""
    return json.dumps(json.loads(sched.to_json_string()), sort_keys=True)


def make_scheduler(cls, config: dict):
    return cls.from_config(config) if config else cls()


def sample_loop(cls, config, kwargs, x_T, residual, noise, variance_noise: bool = False):
    """(timesteps, init_noise_sigma, samples [S+1, ...], steps that drew noise)."""
    sched = make_scheduler(cls, config)
    sched.set_timesteps(NUM_STEPS)
    timesteps = sched.timesteps.clone()
    sigma0 = float(sched.init_noise_sigma)
    sample = x_T * sched.init_noise_sigma
    samples = [sample]
    with ForcedNoise(noise) as forced:
        for i, t in enumerate(timesteps):
            forced.step = i
            scaled = sched.scale_model_input(sample, t)
            model_output = 0.5 * scaled + residual[i]
            extra = dict(kwargs, variance_noise=noise[i]) if variance_noise else kwargs
            sample = sched.step(model_output, t, sample, **extra).prev_sample
            samples.append(sample)
    assert len(set(forced.draws)) == len(forced.draws), forced.draws  # at most one draw per step
    return sched, timesteps, sigma0, torch.stack(samples), forced.draws


def scheduler_cases(out_dir: str) -> dict:
    path = os.path.join(out_dir, "schedulers.h5")
    report = {}
    with atomic_h5(path) as f:
        f.attrs["model_type"] = "gluegen.diffusers_schedulers"
        f.attrs["config"] = json.dumps({"generator": "tools/make_diffusion_goldens.py", "diffusers": diffusers.__version__,
                                        "torch": torch.__version__.split("+")[0],
                                        "loop": "samples[0] = x_T * init_noise_sigma; scaled = scale_model_input(sample, t); "
                                                "model_output = 0.5 * scaled + residual[i]; sample = step(model_output, t, "
                                                "sample, **kwargs).prev_sample, random draws = noise[i]"}, sort_keys=True)
        for name, (cls, config, kwargs, stochastic) in SCHEDULER_CASES.items():
            torch.manual_seed(seed_for(name))
            probe = make_scheduler(cls, config)
            probe.set_timesteps(NUM_STEPS)
            S = len(probe.timesteps)
            x_T = randn(*SCHED_SHAPE)
            residual = randn(S, *SCHED_SHAPE)
            noise = randn(S, *SCHED_SHAPE)
            other = randn(S, *SCHED_SHAPE)
            sched, timesteps, sigma0, samples, draws = sample_loop(cls, config, kwargs, x_T, residual, noise)
            # the forced noise is what was used: other noise changes exactly the stochastic cases
            _, _, _, again, _ = sample_loop(cls, config, kwargs, x_T, residual, noise)
            assert torch.equal(again, samples), name
            _, _, _, samples2, draws2 = sample_loop(cls, config, kwargs, x_T, residual, other)
            assert draws2 == draws and bool(draws) == stochastic, (name, draws)
            assert torch.equal(samples2, samples) != stochastic, (name, "noise had no effect" if stochastic else "changed")
            if "eta" in kwargs and kwargs["eta"] > 0:
                _, _, _, samples3, draws3 = sample_loop(cls, config, kwargs, x_T, residual, noise, variance_noise=True)
                assert not draws3 and torch.equal(samples3, samples), name
            assert torch.isfinite(samples).all(), name
            g = f.create_group(name)
            g.attrs["class_name"] = cls.__name__
            g.attrs["config"] = scheduler_json(sched)
            g.attrs.create("num_inference_steps", NUM_STEPS, dtype=np.int32)
            g.attrs.create("eta", float(kwargs.get("eta", 0.0)), dtype=np.float64)
            g.attrs.create("noise_steps", np.asarray(draws, dtype=np.int32))
            g.create_dataset("timesteps", data=timesteps.numpy().astype(np.float64))
            g.create_dataset("init_noise_sigma", data=np.float64(sigma0))
            for k, v in (("x_T", x_T), ("residual", residual), ("noise", noise), ("samples", samples)):
                put_f32(g, k, v)
            sig = getattr(sched, "sigmas", None)
            report[name] = {"timesteps": timesteps.tolist(), "timesteps_dtype": str(timesteps.dtype).replace("torch.", ""),
                            "init_noise_sigma": sigma0, "noise_steps": draws,
                            "sigmas": [round(float(s), 6) for s in sig] if isinstance(sig, torch.Tensor) and sig.numel() < 40 else None,
                            "|x_S| max": float(samples[-1].abs().max())}
            print(f"{name}: {cls.__name__} timesteps ({report[name]['timesteps_dtype']}) {[round(x, 3) for x in timesteps.tolist()]}  "
                  f"init_noise_sigma {sigma0:.6g}  noise drawn at steps {draws}  |x_S| max {report[name]['|x_S| max']:.3f}")
            if report[name]["sigmas"]:
                print(f"    sigmas {report[name]['sigmas']}")
        # forward process and v-target of DDPM (SD config)
        torch.manual_seed(seed_for("ddpm_add_noise"))
        sched = make_scheduler(DDPMScheduler, SD)
        x0, noise = randn(4, 3, 4, 4), randn(4, 3, 4, 4)
        t = torch.tensor(ADD_NOISE_T, dtype=torch.int64)
        noisy, velocity = sched.add_noise(x0, noise, t), sched.get_velocity(x0, noise, t)
        ac = sched.alphas_cumprod[t].double()[:, None, None, None]
        assert scaled_error(noisy, ac.sqrt() * x0 + (1 - ac).sqrt() * noise) < 1e-6
        assert scaled_error(velocity, ac.sqrt() * noise - (1 - ac).sqrt() * x0) < 1e-6
        g = f.create_group("ddpm_add_noise")
        g.attrs["class_name"] = "DDPMScheduler"
        g.attrs["config"] = scheduler_json(sched)
        g.create_dataset("timesteps", data=np.asarray(ADD_NOISE_T, dtype=np.float64))
        for k, v in (("x0", x0), ("noise", noise), ("noisy", noisy), ("velocity", velocity)):
            put_f32(g, k, v)
    print(f"ddpm_add_noise: t {ADD_NOISE_T}, alphas_cumprod {[round(float(a), 8) for a in sched.alphas_cumprod[t]]}")
    return report


# ----------------------------------------------------------------------------------------------
# pipeline


def cfg_loop(unet, vae, latents, cond, uncond, dtype):
    """StableDiffusionPipeline's loop written out: DDIM (SD), CFG with [uncond, cond] batches."""
    sched = DDIMScheduler.from_config(SD)
    sched.set_timesteps(NUM_STEPS)
    embeds = torch.cat([uncond, cond]).to(dtype)
    latents = latents.to(dtype) * sched.init_noise_sigma
    per_step = []
    with torch.no_grad():
        for t in sched.timesteps:
            inp = sched.scale_model_input(torch.cat([latents] * 2), t)
            pred_uncond, pred_cond = unet(inp, t, encoder_hidden_states=embeds).sample.chunk(2)
            pred = pred_uncond + GUIDANCE * (pred_cond - pred_uncond)
            latents = sched.step(pred, t, latents, eta=0.0).prev_sample
            per_step.append(latents)
        image = vae.decode(latents / vae.config.scaling_factor).sample
    return torch.stack(per_step), latents, image


def pipeline_case(out_dir: str, unet: UNet2DConditionModel, vae: AutoencoderKL) -> dict:
    import transformers

    transformers.logging.set_verbosity_error()  # its image processors warn that torchvision is missing
    from diffusers import StableDiffusionPipeline

    torch.manual_seed(seed_for("pipeline_cfg"))
    latents_in = randn(1, 4, 16, 16)
    cond, uncond = randn(1, 5, 12), randn(1, 5, 12)
    sched = DDIMScheduler.from_config(SD)
    pipe = StableDiffusionPipeline(vae=vae, text_encoder=None, tokenizer=None, unet=unet, scheduler=sched,
                                   safety_checker=None, feature_extractor=None, requires_safety_checker=False)
    pipe.set_progress_bar_config(disable=True)
    per_step = []

    def on_step(p, i, t, kw):
        per_step.append(kw["latents"].clone())
        return kw

    common = dict(prompt_embeds=cond, negative_prompt_embeds=uncond, num_inference_steps=NUM_STEPS,
                  guidance_scale=GUIDANCE)
    with torch.no_grad():
        latents_out = pipe(latents=latents_in.clone(), output_type="latent", callback_on_step_end=on_step, **common).images
        image = vae.decode(latents_out / vae.config.scaling_factor).sample
        image_pt = pipe(latents=latents_in.clone(), output_type="pt", **common).images
    per_step = torch.stack(per_step)
    timesteps = pipe.scheduler.timesteps.clone()
    assert per_step.shape == (NUM_STEPS, 1, 4, 16, 16) and torch.equal(per_step[-1], latents_out)
    # the loop written out gives the same numbers; the pipeline's "pt" image is (image / 2 + 0.5).clamp(0, 1)
    own_steps, own_out, own_image = cfg_loop(unet, vae, latents_in, cond, uncond, torch.float32)
    assert torch.equal(own_steps, per_step) and torch.equal(own_out, latents_out) and torch.equal(own_image, image)
    assert scaled_error(image_pt, (image / 2 + 0.5).clamp(0, 1)) < 1e-6
    s64, o64, i64 = cfg_loop(copy.deepcopy(unet).double(), copy.deepcopy(vae).double(), latents_in, cond, uncond, torch.float64)
    e_steps, e_out, e_img = scaled_error(per_step, s64), scaled_error(latents_out, o64), scaled_error(image, i64)
    print(f"pipeline_cfg: StableDiffusionPipeline == loop written out; float32 vs float64: latents_per_step {e_steps:.2e}  "
          f"latents_out {e_out:.2e}  image {e_img:.2e};  timesteps {timesteps.tolist()}")
    print(f"pipeline_cfg: |latents_out| max {float(latents_out.abs().max()):.3f}  image range "
          f"[{float(image.min()):.3f}, {float(image.max()):.3f}]")
    errs = {"err_forward": max(e_steps, e_out, e_img), "tol_forward": TOL_FACTOR * max(e_steps, e_out, e_img)}
    with atomic_h5(os.path.join(out_dir, "pipeline_cfg.h5")) as f:
        f.attrs["model_type"] = "gluegen.diffusers_pipeline_io"
        f.attrs["config"] = json.dumps({"generator": "tools/make_diffusion_goldens.py", "pipeline": "StableDiffusionPipeline",
                                        "unet": "unet_sd1.h5", "vae": "vae_tiny.h5", "diffusers": diffusers.__version__,
                                        "torch": torch.__version__.split("+")[0]}, sort_keys=True)
        f.attrs["scheduler_class"] = "DDIMScheduler"
        f.attrs["scheduler_config"] = scheduler_json(pipe.scheduler)
        f.attrs.create("guidance_scale", GUIDANCE, dtype=np.float64)
        f.attrs.create("num_inference_steps", NUM_STEPS, dtype=np.int32)
        f.attrs.create("eta", 0.0, dtype=np.float64)
        f.attrs.create("scaling_factor", float(vae.config.scaling_factor), dtype=np.float64)
        for k, v in errs.items():
            f.attrs.create(k, v, dtype=np.float64)
        f.create_dataset("timesteps", data=timesteps.numpy().astype(np.float64))
        for k, v in (("latents_in", latents_in), ("prompt_embeds", cond), ("negative_prompt_embeds", uncond),
                     ("latents_per_step", per_step), ("latents_out", latents_out), ("image", image)):
            put_f32(f, k, v)
    return errs


# ----------------------------------------------------------------------------------------------
# converter variants and malformed inputs


def converter_checks(tmp: str, out_dir: str, unet: UNet2DConditionModel, vae: AutoencoderKL) -> None:
    from safetensors.torch import save_file

    unet_h5, vae_h5 = os.path.join(out_dir, "unet_sd1.h5"), os.path.join(out_dir, f"{VAE_NAME}.h5")
    out = os.path.join(tmp, "variant.h5")
    # .bin, sharded safetensors, sharded .bin: the same file
    for tag, kw in (("bin", dict(safe_serialization=False)), ("sharded", dict(safe_serialization=True, max_shard_size="200KB")),
                    ("sharded_bin", dict(safe_serialization=False, max_shard_size="200KB"))):
        folder = os.path.join(tmp, f"unet_{tag}")
        unet.save_pretrained(folder, **kw)
        s = cd.convert(folder, out, quiet=True)
        assert (len(s["weight_files"]) > 1) == tag.startswith("sharded"), (tag, s["weight_files"])
        same_datasets(unet_h5, out)
    # a pipeline folder, --subfolder
    pipe_dir = os.path.join(tmp, "pipeline")
    os.makedirs(pipe_dir)
    for comp, src in (("unet", "unet_sd1"), ("vae", VAE_NAME)):
        shutil.copytree(os.path.join(tmp, src), os.path.join(pipe_dir, comp))
    with open(os.path.join(pipe_dir, "model_index.json"), "w") as fh:
        json.dump({"_class_name": "StableDiffusionPipeline", "unet": ["diffusers", "UNet2DConditionModel"],
                   "vae": ["diffusers", "AutoencoderKL"]}, fh)
    for comp, ref in (("unet", unet_h5), ("vae", vae_h5)):
        r = run_converter(pipe_dir, out, "--subfolder", comp, "--quiet")
        assert r.returncode == 0 and not r.stdout, (r.returncode, r.stdout, r.stderr)
        same_datasets(ref, out)
    # float16 storage
    cd.convert(os.path.join(tmp, VAE_NAME), out, "f16", quiet=True)
    attrs, data = read_h5(out)
    assert all(v.dtype == np.float16 for v in data.values()) and attrs["model_type"] == "diffusers.AutoencoderKL"

    # old VAE checkpoints: query / key / value / proj_attn, and 1x1-conv shaped weights
    sd = vae.state_dict()
    old_names = {f"{p}.{new}.{leaf}": f"{p}.{old}.{leaf}" for p in ("encoder.mid_block.attentions.0", "decoder.mid_block.attentions.0")
                 for old, new in cd.DEPRECATED_ATTENTION for leaf in ("weight", "bias")}
    assert all(k in sd for k in old_names)
    for tag, conv_shaped in (("old_names", False), ("old_conv", True)):
        folder = os.path.join(tmp, f"vae_{tag}")
        os.makedirs(folder)
        shutil.copy(os.path.join(tmp, VAE_NAME, "config.json"), folder)
        old = OrderedDict()
        for k, v in sd.items():
            v = v.clone()
            if k in old_names and conv_shaped and v.dim() == 2:
                v = v[:, :, None, None]
            old[old_names.get(k, k)] = v
        torch.save(old, os.path.join(folder, "diffusion_pytorch_model.bin"))
        s = cd.convert(folder, out, quiet=True)
        same_datasets(vae_h5, out)
        assert any("renamed 16 deprecated attention keys" in n for n in s["notes"]), s["notes"]
        assert conv_shaped == any("squeezed 8" in n for n in s["notes"]), s["notes"]
        if not conv_shaped:  # diffusers itself loads the old names to the same weights
            loaded = AutoencoderKL.from_pretrained(folder, use_safetensors=False)
            assert all(torch.equal(loaded.state_dict()[k], v) for k, v in sd.items())
    print("converter variants: .bin, sharded (safetensors and .bin), pipeline folder --subfolder unet / vae, f16, "
          "deprecated VAE attention names and 1x1-conv shapes: ok")

    # malformed folders: exit status 2 / ConversionError naming the file and the key; no output left behind
    neg = os.path.join(tmp, "neg.h5")

    def folder_with(tag: str, tensors: dict, config: dict | None = None, bin_file: bool = False) -> str:
        folder = os.path.join(tmp, f"neg_{tag}")
        os.makedirs(folder)
        if config is None:
            shutil.copy(os.path.join(tmp, VAE_NAME, "config.json"), folder)
        else:
            with open(os.path.join(folder, "config.json"), "w") as fh:
                json.dump(config, fh)
        if bin_file:
            torch.save(tensors, os.path.join(folder, "diffusion_pytorch_model.bin"))
        elif tensors:
            save_file({k: v.contiguous() for k, v in tensors.items()}, os.path.join(folder, "diffusion_pytorch_model.safetensors"))
        return folder

    conv = lambda folder, **kw: (lambda: cd.convert(folder, neg, quiet=True, **kw))  # noqa: E731
    k = "decoder.up_blocks.1.resnets.0.conv2.bias"
    p = folder_with("missing", OrderedDict((n, v) for n, v in sd.items() if n != k))
    w = os.path.join(p, "diffusion_pytorch_model.safetensors")
    expect_error(conv(p), w, "missing keys", f"'{k}'", "AutoencoderKL")
    r = run_converter(p, neg)
    assert r.returncode == 2 and f"'{k}'" in r.stderr and w in r.stderr, (r.returncode, r.stderr)
    p = folder_with("unexpected", OrderedDict(sd, **{"encoder.extra.weight": torch.ones(2)}))
    expect_error(conv(p), "unexpected keys", "'encoder.extra.weight'")
    wrong = OrderedDict(sd)
    wrong["quant_conv.weight"] = wrong["quant_conv.weight"][:, :3].clone()
    p = folder_with("shape", wrong)
    expect_error(conv(p), "wrong shapes", "'quant_conv.weight' is [8, 3, 1, 1], expected [8, 8, 1, 1]")
    bad = OrderedDict(sd)
    bad["encoder.conv_in.bias"] = bad["encoder.conv_in.bias"].clone()
    bad["encoder.conv_in.bias"][3] = float("inf")
    p = folder_with("nan", bad, bin_file=True)
    expect_error(conv(p), os.path.join(p, "diffusion_pytorch_model.bin"), "'encoder.conv_in.bias' holds 1 NaN/Inf")
    p = folder_with("unet2d", {}, {"_class_name": "UNet2DModel", "sample_size": 8})
    expect_error(conv(p), os.path.join(p, "config.json"), "'UNet2DModel'")
    p = folder_with("noclass", {}, {"sample_size": 8})
    expect_error(conv(p), "\"_class_name\"")
    p = folder_with("noweights", {})
    expect_error(conv(p), p, "no diffusion_pytorch_model.safetensors or diffusion_pytorch_model.bin")
    expect_error(conv(pipe_dir), pipe_dir, "pipeline folder", "--subfolder unet or vae")
    expect_error(conv(pipe_dir, subfolder="text_encoder"), "no sub-folder 'text_encoder'")
    bad_cfg = dict(json.load(open(os.path.join(tmp, VAE_NAME, "config.json"))), norm_num_groups=3)
    p = folder_with("badcfg", sd, bad_cfg)
    expect_error(conv(p), "diffusers cannot build AutoencoderKL")
    assert not os.path.exists(neg) and not any(n.startswith("neg.h5.tmp") for n in os.listdir(tmp))
    print("negative checks: 11 malformed inputs rejected with the file and key named")


# ----------------------------------------------------------------------------------------------


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out-dir", default=os.path.join(REPO, "tests", "data", "diffusion"))
    args = ap.parse_args()
    torch.set_default_dtype(torch.float32)
    torch.use_deterministic_algorithms(True)
    diffusers.utils.logging.set_verbosity_error()
    os.makedirs(args.out_dir, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="gluegen_diffusion_") as tmp:
        models = {}
        for name, spec in UNET_CASES.items():
            models[name], _ = unet_case(tmp, args.out_dir, name, spec)
        vae, _ = vae_case(tmp, args.out_dir)
        scheduler_cases(args.out_dir)
        pipeline_case(args.out_dir, models["unet_sd1"], vae)
        converter_checks(tmp, args.out_dir, models["unet_sd1"], vae)
    names = sorted(n for n in os.listdir(args.out_dir) if n.endswith(".h5"))
    for n in names:
        print(f"  {n}: {os.path.getsize(os.path.join(args.out_dir, n)):,} bytes")
    print(f"wrote {len(names)} files to {args.out_dir}")


if __name__ == "__main__":
    main()
