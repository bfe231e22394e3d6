#!/usr/bin/env python3
"""Side-by-side timing of gluegen's CPU benchmarks and the same configurations in PyTorch, in one run
on this machine (design.md section 5). Runs the C++ benchmark binaries (Google Benchmark, JSON), then
the PyTorch equivalents with the same shapes, thread count and timing method (median of repeated
runs after warm-up), and prints a Markdown table with the speed ratio (> 1: gluegen faster).

usage: .venv-tools/bin/python benchmarks/compare_pytorch.py [--build build] [--threads 2]
                                                            [--only nn,aligners,text,diffusion,gemm]
(scripts/setup.sh --tools creates .venv-tools with torch.) The aligner rows run every configuration in a
process of its own on both sides, so each reports its own peak RSS.
"""
import argparse
import json
import pathlib
import resource
import statistics
import subprocess
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent / "tools"))
from make_nn_goldens import Discriminator, Translator  # noqa: E402  (the PyTorch GlueNet the parity tests use)


def gluegen_times(binary, filt):
    out = subprocess.run([binary, f"--benchmark_filter={filt}", "--benchmark_format=json", "--benchmark_min_time=0.5",
                          "--benchmark_repetitions=3", "--benchmark_report_aggregates_only=true"],
                         check=True, capture_output=True, text=True).stdout
    result = {}
    for b in json.loads(out)["benchmarks"]:
        if b.get("aggregate_name") == "median":
            unit = {"ms": 1e-3, "us": 1e-6, "ns": 1e-9}[b["time_unit"]]
            result[b["run_name"]] = b["real_time"] * unit
    return result


def torch_time(fn, min_time=0.5):
    for _ in range(2):
        fn()
    samples, start = [], time.perf_counter()
    while time.perf_counter() - start < min_time or len(samples) < 3:
        t0 = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t0)
    return statistics.median(samples)


class MixerBlock(nn.Module):
    """The same block as gluegen::nn::MixerBlock (pre-norm token then channel mixing)."""

    def __init__(self, tokens, dim):
        super().__init__()
        self.token_norm, self.channel_norm = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.token_mlp = nn.Sequential(nn.Linear(tokens, 4 * tokens), nn.GELU(), nn.Linear(4 * tokens, tokens))
        self.channel_mlp = nn.Sequential(nn.Linear(dim, 4 * dim), nn.GELU(), nn.Linear(4 * dim, dim))

    def forward(self, x):
        u = x + self.token_mlp(self.token_norm(x).transpose(1, 2)).transpose(1, 2)
        return u + self.channel_mlp(self.channel_norm(u))


class SelfAttention(nn.Module):
    def __init__(self, dim, heads):
        super().__init__()
        self.heads = heads
        self.q_proj, self.k_proj, self.v_proj, self.out_proj = (nn.Linear(dim, dim) for _ in range(4))

    def forward(self, x):
        b, l, e = x.shape
        split = lambda t: t.view(b, l, self.heads, e // self.heads).transpose(1, 2)
        o = F.scaled_dot_product_attention(split(self.q_proj(x)), split(self.k_proj(x)), split(self.v_proj(x)))
        return self.out_proj(o.transpose(1, 2).reshape(b, l, e))


def step(module, x, dy, backward):
    def run():
        if backward:
            module.zero_grad(set_to_none=False)
            module(x).backward(dy)
        else:
            with torch.no_grad():
                module(x)
    return run


def gluenet_step(b, ls, ds, lt, dt, depth):
    """One training step of the public GlueGen recipe: f, g (Translator_noln), token discriminator."""
    enc = Translator(ls, ds, dt, mult=2, depth=depth, num_tok_out=lt, tail_layer_norm=False)
    dec = Translator(lt, dt, ds, mult=2, depth=depth, num_tok_out=ls, tail_layer_norm=False)
    disc = Discriminator(dt, 2, 0.25)
    params = [*enc.parameters(), *dec.parameters(), *disc.parameters()]
    opt = torch.optim.AdamW(params, lr=1e-4, weight_decay=0.0)
    S, T = torch.randn(b, ls, ds), torch.randn(b, lt, dt)
    real, fake = torch.zeros(b * lt, dtype=torch.long), torch.ones(b * lt, dtype=torch.long)

    def run():
        opt.zero_grad(set_to_none=True)
        a = enc(S)
        loss = 1e4 * F.mse_loss(a, T) + 1e4 * F.mse_loss(dec(a), S) + 0.1 * (
            F.nll_loss(disc(T.reshape(-1, dt)), real) + F.nll_loss(disc(a.reshape(-1, dt)), fake))
        loss.backward()
        opt.step()
    return run, enc, S


def text_rows(build):
    """WordPiece, SentencePiece (multilingual-e5) and CLIP BPE over the parity corpus, and the all-MiniLM-L6-v2 and
    4-bit multilingual-e5-small forwards at batch 1 and 64, against transformers' tokenizers and models on the same
    sentences (bench_text.cpp). e5 runs in transformers on the weights tools/make_e5_goldens.py dequantizes."""
    import tempfile
    from transformers import AutoModel, AutoTokenizer, CLIPTokenizer, XLMRobertaTokenizerFast
    root = pathlib.Path(__file__).resolve().parent.parent
    models = root / "data/models"
    model_dir, e5_dir, clip_gz = models / "all-MiniLM-L6-v2", models / "multilingual-e5-small-q4", models / "clip-bpe/bpe_simple_vocab_16e6.txt.gz"
    missing = [p for p in (model_dir, e5_dir, clip_gz) if not p.exists()]
    if missing:
        print(f"skipping the text rows: {missing} missing (scripts/setup.sh fetches them)")
        return []
    sys.path.insert(0, str(root / "tools"))
    import make_e5_goldens
    from make_text_goldens import clip_vocab
    g = gluegen_times(f"{build}/benchmarks/bench_text", "BM_")
    sentences = [json.loads(line) for line in (root / "tests/data/text/sentences.jsonl").read_text(encoding="utf-8").split("\n") if line]
    tok = AutoTokenizer.from_pretrained(model_dir)
    e5_tok = XLMRobertaTokenizerFast(tokenizer_file=str(e5_dir / "tokenizer.json"))
    vocab, merges = clip_vocab(str(clip_gz))
    with tempfile.TemporaryDirectory() as tmp:
        (pathlib.Path(tmp) / "vocab.json").write_text(json.dumps({t: i for i, t in enumerate(vocab)}), encoding="utf-8")
        (pathlib.Path(tmp) / "merges.txt").write_text("#version: 0.2\n" + "".join(f"{a} {b}\n" for a, b in merges), encoding="utf-8")
        clip_tok = CLIPTokenizer.from_pretrained(tmp, bos_token="<|startoftext|>", eos_token="<|endoftext|>", unk_token="<|endoftext|>",
                                                 pad_token="<|endoftext|>")
    rows = []
    for name, key, t in (("WordPiece", "BM_WordPieceTokenize", tok), ("SentencePiece (multilingual-e5)", "BM_SentencePieceTokenize", e5_tok),
                         ("CLIP BPE", "BM_ClipBpeTokenize", clip_tok)):
        rows.append((f"{name}, {len(sentences)} sentences (one by one)", g[f"{key}/real_time"],
                     torch_time(lambda t=t: [t(s)["input_ids"] for s in sentences])))
    hdr, _, tensors = make_e5_goldens.read_e5s1(e5_dir / "e5-small-q4.bin")
    e5 = make_e5_goldens.build_model(hdr, tensors).float().eval()
    for label, key, t, model in (("all-MiniLM-L6-v2", "BM_MiniLmEncode", tok, AutoModel.from_pretrained(model_dir).eval()),
                                 ("multilingual-e5-small (4-bit, dequantized)", "BM_E5Encode", e5_tok, e5)):
        pool = [s for s in sentences if 4 <= len(t(s)["input_ids"]) <= 40]
        for b in (1, 64):
            enc = t(pool[:b], padding=True, return_tensors="pt")

            def forward(enc=enc, model=model):
                with torch.no_grad():
                    model(**enc)
            rows.append((f"{label} encode, batch {b}", g[f"{key}/{b}/real_time"], torch_time(forward)))
    return rows


def speech_rows(build):
    """Whisper's log-mel features of 30 s of audio and the real Whisper tiny.en / base encoders (CTranslate2
    model.bin, f16 weights widened to f32) at 3000 and 400 mel frames (bench_speech.cpp), against transformers'
    WhisperFeatureExtractor and WhisperEncoder (loaded with the same weights by tools/make_whisper_goldens.py's
    reader) and against ctranslate2's encode() in f32 (the tuned C++ engine faster-whisper runs on), same threads.
    transformers refuses fewer than 3000 frames, so the 4 s rows compare with ctranslate2 alone."""
    import wave as wavefile
    root = pathlib.Path(__file__).resolve().parent.parent
    folders = {"tiny.en": root / "data/models/whisper-tiny.en-ct2", "base": root / "data/models/whisper-base-ct2"}
    if not all((f / "model.bin").exists() for f in folders.values()):
        print("skipping the speech rows: data/models/whisper-*-ct2 missing (scripts/setup.sh fetches them)")
        return []
    import ctranslate2
    import make_whisper_goldens
    from transformers import WhisperFeatureExtractor
    g = gluegen_times(f"{build}/benchmarks/bench_speech", "BM_")
    with wavefile.open(str(root / "tests/data/audio/red_sneaker_en_16k.wav")) as w:
        samples = np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16).astype(np.float32) / 32768
    extractor = WhisperFeatureExtractor(feature_size=80)
    rows = [("Whisper log-mel, 30 s of audio (vs transformers WhisperFeatureExtractor)", g["BM_WhisperLogMel/real_time"],
             torch_time(lambda: extractor(samples, sampling_rate=16000, return_tensors="np")))]
    full = np.ascontiguousarray(extractor(samples, sampling_rate=16000, return_tensors="np")["input_features"])
    short = WhisperFeatureExtractor(feature_size=80, chunk_length=4)
    four = np.ascontiguousarray(short(samples, sampling_rate=16000, return_tensors="np")["input_features"])
    threads = torch.get_num_threads()
    for i, (name, folder) in enumerate(folders.items()):
        hf = make_whisper_goldens.hf_from_ct2(make_whisper_goldens.read_ct2(str(folder / "model.bin"))).float()
        ct2 = ctranslate2.models.Whisper(str(folder), device="cpu", compute_type="float32", intra_threads=threads)

        def hf_forward(hf=hf):
            with torch.no_grad():
                hf(torch.from_numpy(full))
        rows.append((f"Whisper {name} encoder, 30 s (3000 frames) (vs transformers)", g[f"BM_WhisperEncode/{i}/3000/min_time:1.000/real_time"],
                     torch_time(hf_forward)))
        for frames, feats in ((3000, full), (400, four)):
            view = ctranslate2.StorageView.from_array(feats)
            rows.append((f"Whisper {name} encoder, {frames // 100} s ({frames} frames) (vs ctranslate2 {ctranslate2.__version__} f32)",
                         g[f"BM_WhisperEncode/{i}/{frames}/min_time:1.000/real_time"],
                         torch_time(lambda view=view, ct2=ct2: ct2.encode(view, to_cpu=True))))
    return rows


# bench_diffusion.cpp's make_case(0..2): name, batch, spatial size, context length, UNet2DConditionModel kwargs
# (everything else is the diffusers default, as it is the gluegen default: layers_per_block 2, norm_num_groups 32,
# norm_eps 1e-5, flip_sin_to_cos, freq_shift 0, UNetMidBlock2DCrossAttn, use_linear_projection False).
UNET_CASES = [
    ("tiny", 2, 16, 5, dict(
        block_out_channels=(8, 16, 16),
        down_block_types=("CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"),
        up_block_types=("UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"),
        attention_head_dim=(2, 2, 2), transformer_layers_per_block=1, norm_num_groups=4, cross_attention_dim=12)),
    ("sd_width", 1, 16, 77, dict(
        block_out_channels=(320, 640),
        down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"),
        up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"),
        layers_per_block=1, attention_head_dim=(8, 8), transformer_layers_per_block=1, cross_attention_dim=768)),
    ("pixel32", 16, 32, 16, dict(
        in_channels=3, out_channels=3,
        block_out_channels=(32, 64, 64),
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"),
        layers_per_block=1, attention_head_dim=(4, 4, 4), transformer_layers_per_block=1, norm_num_groups=8,
        cross_attention_dim=384)),
]


def unet_cases():
    """(config index, name, model, x, ctx, noise, per-sample timesteps) for each bench_diffusion config."""
    from diffusers import UNet2DConditionModel
    for i, (name, b, size, ctx_len, kw) in enumerate(UNET_CASES):
        kw = {"in_channels": 4, "out_channels": 4, "sample_size": size, "use_linear_projection": False, **kw}
        torch.manual_seed(i)
        unet = UNet2DConditionModel(**kw).float()
        x = torch.randn(b, kw["in_channels"], size, size)
        ctx = torch.randn(b, ctx_len, kw["cross_attention_dim"])
        noise = torch.randn_like(x)
        t = torch.tensor([(37 * j) % 1000 for j in range(b)], dtype=torch.long)
        yield i, name, unet, x, ctx, noise, t


def unet_forward(unet, x, ctx):
    unet.eval()

    def run():
        with torch.no_grad():
            unet(x, 500, encoder_hidden_states=ctx).sample
    return run


def unet_train_step(unet, x, ctx, noise, t):
    unet.train()
    opt = torch.optim.AdamW(unet.parameters(), lr=1e-4, weight_decay=0.0)  # gluegen AdamOptions defaults

    def run():
        opt.zero_grad(set_to_none=False)
        loss = F.mse_loss(unet(x, t, encoder_hidden_states=ctx).sample, noise)
        loss.backward()
        opt.step()
    return run


def diffusion_rows(build):
    """One UNet2DCondition evaluation and one epsilon-prediction training step (MSE, AdamW) on the three
    configurations of bench_diffusion.cpp, against diffusers' UNet2DConditionModel with the same config."""
    binary = pathlib.Path(f"{build}/benchmarks/bench_diffusion")
    if not binary.is_file():
        print(f"skipping the diffusion rows: {binary} is missing (build the benchmarks first)")
        return []
    g = gluegen_times(str(binary), "BM_UNet")
    rows = []
    for i, name, unet, x, ctx, noise, t in unet_cases():
        shape = "x".join(map(str, x.shape))
        params = f"({sum(p.numel() for p in unet.parameters()) / 1e6:.2f} M params)"
        rows.append((f"UNet {name} {shape} forward {params}", g[f"BM_UNetForward/config:{i}/real_time"],
                     torch_time(unet_forward(unet, x, ctx))))
        rows.append((f"UNet {name} {shape} train step (fwd+bwd+AdamW) {params}", g[f"BM_UNetTrainStep/config:{i}/real_time"],
                     torch_time(unet_train_step(unet, x, ctx, noise, t))))
    return rows


def nn_rows(build):
    """MixerBlock, SelfAttention and Conv2d rows (bench_nn.cpp)."""
    rows = []
    g = gluegen_times(f"{build}/benchmarks/bench_nn", "BM_")
    for (b, l, d, bwd) in [(64, 77, 768, 0), (64, 77, 768, 1), (8, 77, 768, 1)]:
        name = f"BM_MixerBlock/{b}/{l}/{d}/{bwd}/real_time"
        x, dy = torch.randn(b, l, d, requires_grad=bool(bwd)), torch.randn(b, l, d)
        rows.append((f"MixerBlock {b}x{l}x{d} {'fwd+bwd' if bwd else 'fwd'}", g[name], torch_time(step(MixerBlock(l, d), x, dy, bwd))))
    for (b, l, d, h, bwd) in [(64, 77, 768, 12, 0), (64, 77, 768, 12, 1)]:
        name = f"BM_SelfAttention/{b}/{l}/{d}/{h}/{bwd}/real_time"
        x, dy = torch.randn(b, l, d, requires_grad=bool(bwd)), torch.randn(b, l, d)
        rows.append((f"SelfAttention {b}x{l}x{d} h{h} {'fwd+bwd' if bwd else 'fwd'}", g[name], torch_time(step(SelfAttention(d, h), x, dy, bwd))))
    for (b, cin, cout, size, k, bwd) in [(4, 320, 320, 32, 3, 0), (4, 320, 320, 32, 3, 1), (4, 320, 640, 32, 1, 0)]:
        name = f"BM_Conv2d/{b}/{cin}/{cout}/{size}/{k}/{bwd}/real_time"
        x, dy = torch.randn(b, cin, size, size, requires_grad=bool(bwd)), torch.randn(b, cout, size, size)
        rows.append((f"Conv2d {cin}->{cout} k{k} {b}x{size}x{size} {'fwd+bwd' if bwd else 'fwd'}", g[name],
                     torch_time(step(nn.Conv2d(cin, cout, k, padding=k // 2), x, dy, bwd))))
    return rows


# bench_aligners.cpp's configurations: (benchmark, label); args are source tokens, source width, target tokens,
# target width, batch.
ALIGNER_SHAPES = {"train": [(128, 1024, 77, 768, 16), (256, 1024, 77, 768, 16), (16, 384, 16, 384, 64)],
                  "align": [(128, 1024, 77, 768, 1), (256, 1024, 77, 768, 1), (16, 384, 16, 384, 1)]}
ALIGNER_CASES = [
    ("BM_TrainGlueNet5", "GlueNet-5RM train step (f, g, D; GlueGen's loss)"),
    ("BM_TrainGlueNet3", "GlueNet-3RM train step (f, g, D; GlueGen's loss)"),
    ("BM_TrainF5Mse", "Translator_noln depth 5 train step (L_mse, f alone)"),
    ("BM_TrainF5LnMse", "Translator depth 5, LayerNorm tail, train step (L_mse)"),
    ("BM_TrainAttention", "attention aligner, 2 layers, train step (L_mse)"),
    ("BM_TrainLaviAdapter", "LaVi-Bridge adapter train step (L_mse)"),
    ("BM_AlignF5", "Translator_noln depth 5 inference, 1 prompt"),
    ("BM_AlignF3", "Translator_noln depth 3 inference, 1 prompt"),
    ("BM_AlignF5Ln", "Translator depth 5 (LayerNorm tail) inference, 1 prompt"),
    ("BM_AlignAttention", "attention aligner inference, 1 prompt"),
    ("BM_AlignRidge", "ridge (token x channel maps) inference, 1 prompt"),
    ("BM_AlignLaviAdapter", "LaVi-Bridge adapter inference, 1 prompt"),
    ("BM_AlignEllaConnector", "ELLA connector (6 blocks) inference, 1 prompt at one timestep"),
]


def torch_aligner_case(name, ls, ds, lt, dt, b):
    """The PyTorch twin of one bench_aligners.cpp configuration: a function running one iteration."""
    from make_ella_goldens import Ella  # noqa: E402  (the PyTorch ELLA the parity tests use)
    from make_lavi_bridge_goldens import TextAdapter  # noqa: E402
    from make_nn_goldens import AttentionAligner  # noqa: E402
    if name in ("BM_TrainGlueNet5", "BM_TrainGlueNet3"):
        return gluenet_step(b, ls, ds, lt, dt, 5 if name.endswith("5") else 3)[0]
    model = {
        "BM_TrainF5Mse": lambda: Translator(ls, ds, dt, mult=2, depth=5, num_tok_out=lt, tail_layer_norm=False),
        "BM_AlignF5": lambda: Translator(ls, ds, dt, mult=2, depth=5, num_tok_out=lt, tail_layer_norm=False),
        "BM_AlignF3": lambda: Translator(ls, ds, dt, mult=2, depth=3, num_tok_out=lt, tail_layer_norm=False),
        "BM_TrainF5LnMse": lambda: Translator(ls, ds, dt, mult=2, depth=5, num_tok_out=lt, tail_layer_norm=True),
        "BM_AlignF5Ln": lambda: Translator(ls, ds, dt, mult=2, depth=5, num_tok_out=lt, tail_layer_norm=True),
        "BM_TrainAttention": lambda: AttentionAligner(ds, dt, dt, lt, dt // 64, 2),
        "BM_AlignAttention": lambda: AttentionAligner(ds, dt, dt, lt, dt // 64, 2),
        "BM_TrainLaviAdapter": lambda: TextAdapter(ds, dt, dt),
        "BM_AlignLaviAdapter": lambda: TextAdapter(ds, dt, dt),
    }
    S = torch.randn(b, ls, ds)
    if name == "BM_AlignRidge":  # token map [lt, ls] and channel map [ds, dt] with bias, as LinearAligner
        A, W, bias = torch.randn(lt, ls), torch.randn(ds, dt), torch.randn(dt)
        return lambda: torch.matmul(torch.matmul(A, S), W) + bias
    if name == "BM_AlignEllaConnector":
        ella = Ella({"time_channel": 320, "time_embed_dim": dt, "width": dt, "layers": 6, "heads": dt // 64,
                     "num_latents": lt, "input_dim": ds}).eval()
        t = torch.full((b,), 500.0)

        def align_ella():
            with torch.no_grad():
                ella(S, t)
        return align_ella
    m = model[name]()
    if name.startswith("BM_Align"):
        m.eval()

        def align():
            with torch.no_grad():
                m(S)
        return align
    opt = torch.optim.AdamW(m.parameters(), lr=1e-4, weight_decay=0.0)
    T = torch.randn(m(S).shape)

    def train():
        opt.zero_grad(set_to_none=True)
        F.mse_loss(m(S), T).backward()
        opt.step()
    return train


def peak_mib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def torch_case_main(spec, threads):
    """--torch-case NAME/ls/ds/lt/dt/b: time one configuration in this process and print its time and peak RSS."""
    torch.set_num_threads(threads)
    import make_ella_goldens, make_lavi_bridge_goldens  # noqa: E401,F401  (their imports are the baseline, not the case)
    baseline = peak_mib()
    name, *args = spec.split("/")
    run = torch_aligner_case(name, *map(int, args))
    print(json.dumps({"seconds": torch_time(run, min_time=1.0), "peak_mib": peak_mib(), "baseline_mib": baseline}))


def aligner_rows(build):
    """Every aligner variant (bench_aligners.cpp), each configuration in its own process on both sides."""
    rows = []
    threads = torch.get_num_threads()
    for name, label in ALIGNER_CASES:
        for shape in ALIGNER_SHAPES["train" if name.startswith("BM_Train") else "align"]:
            run_name = f"{name}/{'/'.join(map(str, shape))}/real_time"
            out = subprocess.run([f"{build}/benchmarks/bench_aligners", f"--benchmark_filter=^{run_name}$",
                                  "--benchmark_format=json", "--benchmark_min_time=1.0"],
                                 check=True, capture_output=True, text=True).stdout
            ours = json.loads(out)["benchmarks"][0]
            unit = {"ms": 1e-3, "us": 1e-6, "ns": 1e-9}[ours["time_unit"]]
            theirs = json.loads(subprocess.run(
                [sys.executable, __file__, "--threads", str(threads), "--torch-case", "/".join([name, *map(str, shape)])],
                check=True, capture_output=True, text=True).stdout)
            ls, ds, lt, dt, b = shape
            rows.append((f"{label} b{b} {ls}x{ds} -> {lt}x{dt} ({ours['parameters'] / 1e6:.1f} M params; peak RSS "
                         f"{ours['peak_MiB']:.0f} / {theirs['peak_mib']:.0f} MiB, PyTorch's after "
                         f"{theirs['baseline_mib']:.0f} MiB of imports; allocs/iter {ours['allocs/iter']:.0f})",
                         ours["real_time"] * unit, theirs["seconds"]))
    return rows


def gemm_rows(build):
    """Cpu policy matmul rows (bench_gemm.cpp)."""
    rows = []
    g = gluegen_times(f"{build}/benchmarks/bench_gemm", "BM_CpuPolicyMatmul")
    for (bt, m, n, k, tb) in [(1, 1024, 1024, 1024, 0), (1, 4928, 3072, 768, 0), (64, 77, 77, 64, 1)]:
        name = f"BM_CpuPolicyMatmul/{bt}/{m}/{n}/{k}/{tb}/real_time"
        a = torch.randn(bt, m, k) if bt > 1 else torch.randn(m, k)
        bm = torch.randn(bt, n, k) if bt > 1 else torch.randn(k, n)
        fn = (lambda a=a, bm=bm: torch.matmul(a, bm.transpose(-1, -2))) if tb else (lambda a=a, bm=bm: torch.matmul(a, bm))
        rows.append((f"matmul {bt}x{m}x{n}x{k}{' B^T' if tb else ''}", g[name], torch_time(fn)))
    return rows


GROUPS = {"nn": nn_rows, "aligners": aligner_rows, "text": text_rows, "speech": speech_rows, "diffusion": diffusion_rows,
          "gemm": gemm_rows}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--only", default=",".join(GROUPS),
                    help=f"comma-separated row groups to run, out of {','.join(GROUPS)} (default: all)")
    ap.add_argument("--torch-case", help=argparse.SUPPRESS)  # one aligner configuration, in a process of its own
    args = ap.parse_args()
    if args.torch_case:
        return torch_case_main(args.torch_case, args.threads)
    only = [s.strip() for s in args.only.split(",") if s.strip()]
    unknown = [s for s in only if s not in GROUPS]
    if unknown or not only:
        ap.error(f"--only: unknown group(s) {','.join(unknown)}; choose from {','.join(GROUPS)}")
    torch.set_num_threads(args.threads)
    rows = []
    for group, make_rows in GROUPS.items():
        if group in only:
            rows += make_rows(args.build)
    print(f"torch {torch.__version__}, {args.threads} threads\n")
    print("| benchmark | gluegen ms | PyTorch ms | speed ratio (PyTorch / gluegen) |")
    print("|---|---:|---:|---:|")
    for label, ours, theirs in rows:
        print(f"| {label} | {ours * 1e3:.2f} | {theirs * 1e3:.2f} | {theirs / ours:.2f} |")


if __name__ == "__main__":
    main()
