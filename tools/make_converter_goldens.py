#!/usr/bin/env python3
"""Golden files for the GlueGen checkpoint converter (tools/convert_gluegen.py).

Builds tiny GlueGen networks in PyTorch (the re-implementations in tools/make_nn_goldens.py: same
module structure and state_dict keys as salesforce/GlueGen multilingual-gluenet/model.py), saves them
with torch.save in the public layouts, converts them with tools/convert_gluegen.py (its command line,
as a user runs it) and writes, to tests/data/:

  gluegen_translator_converted.h5     Translator_noln (the released adapters' class), flat state_dict
                                      as train_gluenet_multi.py saves it -> gluegen.translator
  gluegen_translator_io.h5            input [2, 6, 8], output [2, 6, 5] (eval mode, float32)
  gluegen_translator_ln_converted.h5  Translator (LayerNorm tail), same layout -> gluegen.translator
  gluegen_translator_ln_io.h5         input [2, 6, 8], output [2, 6, 5]
  gluegen_gluenet_converted.h5        {"adapter", "adapter_rec", "discriminator_token"} state_dicts
                                      (BatchNorm running statistics from 3 train-mode passes)
                                      -> gluegen.gluenet
  gluegen_gluenet_io.h5               input [2, 6, 8], aligned = encoder(input) [2, 6, 5],
                                      reconstructed = decoder(aligned) [2, 6, 8],
                                      disc_logp = discriminator.eval()(aligned.reshape(12, 5)) [12, 2]

Sizes: num_tok 6, 8 source channels -> 5 target channels, mult 2, depth 2; discriminator hidden
width 4 (disc_mult 0.8). Every parameter is random (LayerNorm and BatchNorm affine ones included).

Then it checks what it wrote: the converted files' attributes and config, every dataset against the
PyTorch state_dict, and a forward pass of modules rebuilt from the converted file alone (config +
datasets) against the io files; the same conversions from a DataParallel-style ('module.') checkpoint,
a Lightning-style {"state_dict": ...} wrapper and .safetensors files give identical datasets; and
malformed checkpoints (missing key, unexpected key, wrong shape, missing discriminator, sound-gluenet's
architecture, LayerNorm-tailed GlueNet) are rejected with messages naming the file and the key.

    .venv-tools/bin/python tools/make_converter_goldens.py [--out-dir tests/data]

Deterministic: fixed seeds, so reruns write identical datasets (same torch version and CPU).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from collections import OrderedDict

import h5py
import numpy as np
import torch
import torch.nn as nn

TOOLS = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(TOOLS)
sys.path.insert(0, TOOLS)

import convert_gluegen as cg  # noqa: E402
from make_nn_goldens import Discriminator, Translator, randomize, seed_for  # noqa: E402

NUM_TOK, DIM, DIM_OUT, MULT, DEPTH, BATCH = 6, 8, 5, 2, 2, 2
DISC_MULT = 0.8  # int(5 * 0.8) = 4 hidden units


def run_converter(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, os.path.join(TOOLS, "convert_gluegen.py"), *args], capture_output=True, text=True)


def convert_cli(src: str, out: str, *extra: str) -> None:
    r = run_converter(src, out, *extra)
    sys.stdout.write(r.stdout)
    assert r.returncode == 0, f"convert_gluegen.py {src} failed ({r.returncode}):\n{r.stderr}"


def read_h5(path: str) -> tuple[dict, dict[str, np.ndarray]]:
    """(root attributes, dotted name -> array) of a gluegen model file."""
    data: dict[str, np.ndarray] = {}
    with h5py.File(path, "r") as f:
        attrs = {k: f.attrs[k] for k in f.attrs}
        f.visititems(lambda name, obj: data.__setitem__(name.replace("/", "."), obj[()]) if isinstance(obj, h5py.Dataset) else None)
    return attrs, data


def write_io(path: str, arrays: dict[str, torch.Tensor], config: dict) -> None:
    tmp = f"{path}.tmp.{os.getpid()}"
    try:
        with h5py.File(tmp, "w", libver=cg.LIBVER) as f:
            f.attrs["model_type"] = "gluegen.converter_io"
            f.attrs["config"] = json.dumps(config, sort_keys=True)
            for k, v in arrays.items():
                f.create_dataset(k, data=v.detach().numpy().astype(np.float32))
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def check_converted(path: str, model_type: str, config: dict, expected: "OrderedDict[str, torch.Tensor]") -> dict[str, np.ndarray]:
    attrs, data = read_h5(path)
    assert int(attrs["gluegen_format"]) == 1 and attrs["gluegen_format"].dtype == np.int32, attrs
    assert attrs["model_type"] == model_type, attrs["model_type"]
    got_cfg = json.loads(attrs["config"])
    assert got_cfg == config, (got_cfg, config)
    assert sorted(data) == sorted(expected), sorted(set(data) ^ set(expected))
    for k, v in expected.items():
        assert data[k].dtype == np.float32 and np.array_equal(data[k], v.detach().numpy()), k
    return data


def load_into(module: nn.Module, data: dict[str, np.ndarray], prefix: str = "") -> nn.Module:
    sd = {k[len(prefix):]: torch.from_numpy(v) for k, v in data.items() if k.startswith(prefix)}
    own = module.state_dict()
    for k in own:
        if k.endswith("num_batches_tracked"):
            sd[k] = own[k]  # dropped by the converter; unused in eval mode
    module.load_state_dict(sd, strict=True)
    return module.eval()


def translator_from_config(cfg: dict) -> Translator:
    return Translator(cfg["num_tok"], cfg["dim"], cfg["dim_out"], cfg["mult"], cfg["depth"], cfg["num_tok_out"],
                      tail_layer_norm=cfg["layer_norm"])


def expect_error(fn, *needles: str) -> str:
    try:
        fn()
    except cg.ConversionError as e:
        msg = str(e)
        for n in needles:
            assert n in msg, f"expected {n!r} in the error message: {msg}"
        return msg
    raise AssertionError(f"no ConversionError (expected one mentioning {needles})")


def same_datasets(a: str, b: str) -> None:
    (aa, da), (ab, db) = read_h5(a), read_h5(b)
    assert {k: str(v) for k, v in aa.items()} == {k: str(v) for k, v in ab.items()}, (aa, ab)
    assert sorted(da) == sorted(db) and all(np.array_equal(da[k], db[k]) for k in da), (a, b)


# ----------------------------------------------------------------------------------------------


def translator_case(tmp: str, out_dir: str, name: str, layer_norm: bool) -> OrderedDict:
    torch.manual_seed(seed_for(name))
    model = Translator(NUM_TOK, DIM, DIM_OUT, MULT, DEPTH, tail_layer_norm=layer_norm)
    randomize(model)
    model.eval()
    x = torch.randn(BATCH, NUM_TOK, DIM, dtype=torch.float64).to(torch.float32)
    with torch.no_grad():
        y = model(x)
    sd = model.state_dict()
    # train_gluenet_multi.py: torch.save(adapter.state_dict(), 'gluenet_multi_' + args.tarLanguage + '.ckpt')
    ckpt = os.path.join(tmp, f"gluenet_multi_{name}.ckpt")
    torch.save(sd, ckpt)
    converted = os.path.join(out_dir, f"{name}_converted.h5")
    convert_cli(ckpt, converted, "--part", "adapter")
    cfg = {"num_tok": NUM_TOK, "num_tok_out": NUM_TOK, "dim": DIM, "dim_out": DIM_OUT, "mult": MULT, "depth": DEPTH,
           "layer_norm": layer_norm}
    data = check_converted(converted, "gluegen.translator", cfg, sd)
    write_io(os.path.join(out_dir, f"{name}_io.h5"), {"input": x, "output": y},
             {"generator": "tools/make_converter_goldens.py", "model": os.path.basename(converted), "mode": "eval"})
    # rebuilt from the converted file alone: same outputs, bit for bit
    rebuilt = load_into(translator_from_config(json.loads(read_h5(converted)[0]["config"])), data)
    with torch.no_grad():
        assert torch.equal(rebuilt(x), y), name
    # the same weights behind DataParallel names, a Lightning-style wrapper, or in safetensors
    variants = {
        "module": {"module." + k: v for k, v in sd.items()},
        "lightning": {"state_dict": {"model." + k: v for k, v in sd.items()}, "epoch": 3, "global_step": 120},
    }
    for tag, obj in variants.items():
        path = os.path.join(tmp, f"{name}_{tag}.pt")
        torch.save(obj, path)
        alt = os.path.join(tmp, f"{name}_{tag}.h5")
        cg.convert(path, alt, "adapter", quiet=True, prefix="model." if tag == "lightning" else None)
        same_datasets(converted, alt)
    from safetensors.torch import save_file

    st = os.path.join(tmp, f"{name}.safetensors")
    save_file({k: v.contiguous() for k, v in sd.items()}, st)
    alt = os.path.join(tmp, f"{name}_st.h5")
    cg.convert(st, alt, quiet=True)
    same_datasets(converted, alt)
    print(f"{name}: output {list(y.shape)}; rebuilt from the converted file: identical; module./lightning/safetensors: identical")
    return sd


def gluenet_case(tmp: str, out_dir: str) -> dict:
    name = "gluegen_gluenet"
    torch.manual_seed(seed_for(name))
    # train_gluenet_multi.py's three networks (there: Translator_noln(77, 1024, 768, 2, 5),
    # Translator_noln(77, 768, 1024, 2, 5), Discriminator(768, 2))
    adapter = Translator(NUM_TOK, DIM, DIM_OUT, MULT, DEPTH, tail_layer_norm=False)
    adapter_rec = Translator(NUM_TOK, DIM_OUT, DIM, MULT, DEPTH, tail_layer_norm=False)
    discriminator_token = Discriminator(DIM_OUT, 2, DISC_MULT)
    for m in (adapter, adapter_rec, discriminator_token):
        randomize(m)
    discriminator_token.train()
    with torch.no_grad():  # non-trivial BatchNorm running statistics
        for _ in range(3):
            discriminator_token(torch.randn(BATCH * NUM_TOK, DIM_OUT) * 1.5 + 0.7)
    bn = discriminator_token.net[1]
    assert int(bn.num_batches_tracked) == 3 and not torch.allclose(bn.running_var, torch.ones_like(bn.running_var))
    for m in (adapter, adapter_rec, discriminator_token):
        m.eval()
    x = torch.randn(BATCH, NUM_TOK, DIM, dtype=torch.float64).to(torch.float32)
    with torch.no_grad():
        aligned = adapter(x)
        reconstructed = adapter_rec(aligned)
        disc_logp = discriminator_token(aligned.reshape(BATCH * NUM_TOK, DIM_OUT))
    ckpt = os.path.join(tmp, "gluenet_full.ckpt")
    full = {"adapter": adapter.state_dict(), "adapter_rec": adapter_rec.state_dict(),
            "discriminator_token": discriminator_token.state_dict(), "epoch": 4}
    torch.save(full, ckpt)
    converted = os.path.join(out_dir, f"{name}_converted.h5")
    convert_cli(ckpt, converted, "--part", "gluenet")
    cfg = {"num_tok": NUM_TOK, "dim_source": DIM, "dim_target": DIM_OUT, "mult": MULT, "depth": DEPTH,
           "disc_mult": DISC_MULT, "eta": 0.1, "lambda_mse": 1e4, "lambda_rec": 1e4, "lambda_adv": 0.1}
    expected = OrderedDict()
    for prefix, m in (("encoder.", adapter), ("decoder.", adapter_rec), ("discriminator.", discriminator_token)):
        expected.update((prefix + k, v) for k, v in m.state_dict().items() if not k.endswith("num_batches_tracked"))
    data = check_converted(converted, "gluegen.gluenet", cfg, expected)
    write_io(os.path.join(out_dir, f"{name}_io.h5"),
             {"input": x, "aligned": aligned, "reconstructed": reconstructed, "disc_logp": disc_logp},
             {"generator": "tools/make_converter_goldens.py", "model": os.path.basename(converted), "mode": "eval",
              "disc_input": "aligned.reshape(B * num_tok, dim_target)"})
    # rebuilt from the converted file alone
    c = json.loads(read_h5(converted)[0]["config"])
    enc = load_into(Translator(c["num_tok"], c["dim_source"], c["dim_target"], c["mult"], c["depth"], tail_layer_norm=False), data, "encoder.")
    dec = load_into(Translator(c["num_tok"], c["dim_target"], c["dim_source"], c["mult"], c["depth"], tail_layer_norm=False), data, "decoder.")
    disc = load_into(Discriminator(c["dim_target"], 2, c["disc_mult"]), data, "discriminator.")
    with torch.no_grad():
        a = enc(x)
        assert torch.equal(a, aligned) and torch.equal(dec(a), reconstructed)
        assert torch.equal(disc(a.reshape(-1, c["dim_target"])), disc_logp)
    # flat prefixed keys (the safetensors way) and DataParallel-wrapped parts give the same file
    flat = {f"{part}.{k}": v for part in ("adapter", "adapter_rec", "discriminator_token") for k, v in full[part].items()}
    from safetensors.torch import save_file

    st = os.path.join(tmp, "gluenet_full.safetensors")
    save_file({k: v.contiguous() for k, v in flat.items()}, st)
    cg.convert(st, os.path.join(tmp, "gluenet_st.h5"), quiet=True)  # auto -> gluenet
    same_datasets(converted, os.path.join(tmp, "gluenet_st.h5"))
    wrapped = {p: {"module." + k: v for k, v in full[p].items()} for p in ("adapter", "adapter_rec", "discriminator_token")}
    torch.save(wrapped, os.path.join(tmp, "gluenet_dp.pt"))
    cg.convert(os.path.join(tmp, "gluenet_dp.pt"), os.path.join(tmp, "gluenet_dp.h5"), "gluenet", quiet=True)
    same_datasets(converted, os.path.join(tmp, "gluenet_dp.h5"))
    # --part decoder / adapter take one network out of the full checkpoint
    s = cg.convert(ckpt, os.path.join(tmp, "decoder.h5"), "decoder", quiet=True)
    assert s["config"] == {"num_tok": NUM_TOK, "num_tok_out": NUM_TOK, "dim": DIM_OUT, "dim_out": DIM, "mult": MULT, "depth": DEPTH,
                           "layer_norm": False}, s["config"]
    # gluegen's generalisation: an encoder that changes the token count (6 -> 4) gives num_tok_target
    torch.manual_seed(seed_for(name + "_lenmap"))
    nets = {"adapter": Translator(NUM_TOK, DIM, DIM_OUT, MULT, 1, num_tok_out=4, tail_layer_norm=False),
            "adapter_rec": Translator(4, DIM_OUT, DIM, MULT, 1, num_tok_out=NUM_TOK, tail_layer_norm=False),
            "discriminator_token": Discriminator(DIM_OUT, 2, DISC_MULT)}
    torch.save({k: m.state_dict() for k, m in nets.items()}, os.path.join(tmp, "lenmap.ckpt"))
    s = cg.convert(os.path.join(tmp, "lenmap.ckpt"), os.path.join(tmp, "lenmap.h5"), quiet=True)
    assert s["model_type"] == "gluegen.gluenet" and s["config"]["num_tok_target"] == 4 and s["config"]["depth"] == 1, s["config"]
    print(f"{name}: aligned {list(aligned.shape)} reconstructed {list(reconstructed.shape)} disc_logp {list(disc_logp.shape)}; "
          f"running_var {bn.running_var.numpy().round(3).tolist()}; rebuilt: identical; safetensors/module.: identical")
    return full


def negative_checks(tmp: str, sd_noln: OrderedDict, sd_ln: OrderedDict, full: dict) -> None:
    out = os.path.join(tmp, "neg.h5")

    def saved(obj, fname: str) -> str:
        p = os.path.join(tmp, fname)
        torch.save(obj, p)
        return p

    # a missing key: named, with the file; the command line exits 2 and says the same on stderr
    bad = OrderedDict((k, v) for k, v in sd_noln.items() if k != "tail.net_sen.4.bias")
    p = saved(bad, "missing_key.ckpt")
    expect_error(lambda: cg.convert(p, out, "adapter", quiet=True), p, "missing keys", "'tail.net_sen.4.bias'")
    r = run_converter(p, out)
    assert r.returncode == 2 and "'tail.net_sen.4.bias'" in r.stderr and p in r.stderr, (r.returncode, r.stderr)
    assert not os.path.exists(out) and not any(n.startswith("neg.h5.tmp") for n in os.listdir(tmp))
    # an unexpected key
    p = saved(OrderedDict(sd_ln, **{"blocks.0.net_sen.0.scale": torch.ones(3)}), "unexpected_key.ckpt")
    expect_error(lambda: cg.convert(p, out, quiet=True), p, "'blocks.0.net_sen.0.scale'")
    p = saved(OrderedDict(sd_ln, **{"blocks.1.net_tok.8.weight": torch.ones(6)}), "unexpected_index.ckpt")
    expect_error(lambda: cg.convert(p, out, quiet=True), p, "unexpected keys", "'blocks.1.net_tok.8.weight'")
    # a wrong shape
    wrong = OrderedDict(sd_ln)
    wrong["blocks.1.net_sen.3.weight"] = wrong["blocks.1.net_sen.3.weight"][:, :-1]
    p = saved(wrong, "wrong_shape.ckpt")
    expect_error(lambda: cg.convert(p, out, quiet=True), p, "'blocks.1.net_sen.3.weight' is [16, 15], expected [16, 16]")
    # non-contiguous block indices
    p = saved(OrderedDict((k.replace("blocks.1.", "blocks.2."), v) for k, v in sd_ln.items()), "gap.ckpt")
    expect_error(lambda: cg.convert(p, out, quiet=True), p, "block indices [0, 2]")
    # --part gluenet on an adapter-only checkpoint (the public script's layout)
    p = saved(sd_noln, "adapter_only.ckpt")
    expect_error(lambda: cg.convert(p, out, "gluenet", quiet=True), p, "missing: decoder", "discriminator")
    expect_error(lambda: cg.convert(p, out, "decoder", quiet=True), p, "'adapter_rec.*'")
    # a GlueNet checkpoint without its discriminator: --part auto writes the adapter alone and says so
    s = cg.convert(saved({k: full[k] for k in ("adapter", "adapter_rec")}, "no_disc.ckpt"), os.path.join(tmp, "no_disc.h5"), quiet=True)
    assert s["model_type"] == "gluegen.translator" and any("left out the decoder" in n for n in s["notes"]), s
    # the discriminator's BatchNorm without its running statistics
    nd = dict(full, discriminator_token=OrderedDict((k, v) for k, v in full["discriminator_token"].items() if "running" not in k))
    p = saved(nd, "no_stats.ckpt")
    expect_error(lambda: cg.convert(p, out, "gluenet", quiet=True), p, "keys under 'discriminator_token.'",
                 "'net.1.running_mean'", "'net.1.running_var'")
    # a decoder that does not mirror the encoder (other depth)
    shallow = Translator(NUM_TOK, DIM_OUT, DIM, MULT, DEPTH - 1, tail_layer_norm=False).state_dict()
    p = saved(dict(full, adapter_rec=shallow), "bad_decoder.ckpt")
    expect_error(lambda: cg.convert(p, out, "gluenet", quiet=True), p, "does not mirror the encoder", "depth 1 (expected 2)")
    # a LayerNorm-tailed translator cannot be GlueNet's encoder
    p = saved(dict(full, adapter=sd_ln), "ln_gluenet.ckpt")
    expect_error(lambda: cg.convert(p, out, "gluenet", quiet=True), p, "LayerNorm tail", "--part adapter")
    # sound-gluenet's Translator_w_head_v0 keys
    p = saved({"in_blocks.0.net_sen.0.weight": torch.zeros(2, 2), "trans.net_tok.0.weight": torch.zeros(2, 2)}, "sound.ckpt")
    expect_error(lambda: cg.convert(p, out, quiet=True), p, "Translator_w_head")
    # a pickled module, not a state_dict (weights_only refuses it)
    p = saved(nn.Linear(2, 2), "module.pt")
    expect_error(lambda: cg.convert(p, out, quiet=True), p, "weights_only=True", "state_dict()")
    expect_error(lambda: cg.convert(os.path.join(tmp, "nope.ckpt"), out, quiet=True), "no such file")
    assert not os.path.exists(out)
    print("negative checks: 13 malformed checkpoints rejected with the file and key named")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out-dir", default=os.path.join(REPO, "tests", "data"))
    args = ap.parse_args()
    torch.set_default_dtype(torch.float32)
    torch.use_deterministic_algorithms(True)
    os.makedirs(args.out_dir, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="gluegen_conv_") as tmp:
        sd_noln = translator_case(tmp, args.out_dir, "gluegen_translator", layer_norm=False)
        sd_ln = translator_case(tmp, args.out_dir, "gluegen_translator_ln", layer_norm=True)
        full = gluenet_case(tmp, args.out_dir)
        negative_checks(tmp, sd_noln, sd_ln, full)
    names = [f"{n}_{s}.h5" for n in ("gluegen_translator", "gluegen_translator_ln", "gluegen_gluenet") for s in ("converted", "io")]
    total = sum(os.path.getsize(os.path.join(args.out_dir, n)) for n in names)
    print(f"wrote {len(names)} files to {args.out_dir}: {total:,} bytes")


if __name__ == "__main__":
    main()
