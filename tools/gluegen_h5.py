"""Shared pieces of gluegen's checkpoint converters (tools/convert_gluegen.py, tools/convert_ella.py).

Loading (.safetensors via safetensors, anything else via torch.load(weights_only=True)), flattening
nested state_dicts into dotted names (unwrapping "state_dict" / "model_state_dict" / "model" wrappers,
dropping optimizer / scheduler state, stripping DataParallel "module." and torch.compile "_orig_mod."
name parts), --prefix selection, key-set / shape checks with messages that name the file and the keys,
NaN/Inf checks, and the atomic writer of gluegen's HDF5 model layout:

  root attributes  gluegen_format (int32 1), model_type (string), config (JSON text, sorted keys)
  datasets         one per tensor, the dotted name as a group path (a.b.weight -> /a/b/weight),
                   float32 (or float16), HDF5 1.8 file format (libver v108)
"""

from __future__ import annotations

import contextlib
import json
import os
import re
from collections import OrderedDict

import h5py
import numpy as np
import torch

GLUEGEN_FORMAT = 1
LIBVER = ("v108", "v110")  # h5py (low, high) file-format bounds
WRAPPER_KEYS = ("state_dict", "model_state_dict", "model")
SKIPPED_GROUPS = ("optimizer", "optimizer_state_dict", "optimizer_states", "optimizers", "scheduler", "lr_scheduler",
                  "lr_schedulers", "scheduler_state_dict", "scaler", "ema")
STRIPPED_SEGMENTS = ("module", "_orig_mod")
MAX_LISTED = 12


class ConversionError(Exception):
    """A checkpoint that cannot be converted; the message names the file and the keys."""


def listing(names, limit: int = MAX_LISTED) -> str:
    names = sorted(names)
    shown = ", ".join(f"'{n}'" for n in names[:limit])
    return shown + (f", ... ({len(names) - limit} more)" if len(names) > limit else "")


def load_checkpoint(path: str):
    """The raw object stored in `path` (a dict for every layout the converters accept)."""
    if not os.path.exists(path):
        raise ConversionError(f"{path}: no such file")
    if os.path.isdir(path):
        raise ConversionError(f"{path}: is a directory, expected a checkpoint file")
    if path.endswith(".safetensors"):
        from safetensors.torch import load_file

        try:
            return load_file(path, device="cpu")
        except Exception as e:  # safetensors raises its own SafetensorError
            raise ConversionError(f"{path}: not a readable safetensors file: {e}") from e
    with open(path, "rb") as fh:
        magic = fh.read(4)
    if not (magic.startswith(b"PK\x03\x04") or magic[:1] == b"\x80"):
        raise ConversionError(f"{path}: not a PyTorch checkpoint (torch.save writes a zip archive, older versions a pickle; "
                              f"this file of {os.path.getsize(path):,} bytes starts with {magic!r}); "
                              "use a .safetensors name for safetensors files")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:
        text = re.sub(r"\x1b\[[0-9;]*m", "", str(e))
        # torch's message is long; its "Unsupported global: GLOBAL x.y.Z" / "WeightsUnpickler error: ..." part says why
        m = re.search(r"Unsupported global: GLOBAL (\S+)", text)
        u = re.search(r"WeightsUnpickler error:\s*([^\n]+)", text)
        reason = (f"it pickles {m.group(1)}" if m else u.group(1).strip() if u
                  else (text.strip().splitlines() or [type(e).__name__])[0])
        hint = ("; only tensors and plain containers are loaded (no pickled modules or classes, which could run "
                "code): save the model's state_dict() instead of the module") if "Weights only load failed" in text else ""
        raise ConversionError(f"{path}: torch.load(weights_only=True) failed: {reason.rstrip('.')}{hint}") from e


def flatten_state(path: str, obj) -> tuple[OrderedDict, list[str], list[str]]:
    """Flattens nested dicts of tensors into dotted names, unwraps training-loop wrappers and strips
    DataParallel / torch.compile name parts. Returns (tensors, notes, skipped non-tensor entries)."""
    notes: list[str] = []
    if not isinstance(obj, dict):
        raise ConversionError(f"{path}: holds a {type(obj).__name__}, expected a dict of tensors (a state_dict)")
    while True:
        wrapper = next((k for k in WRAPPER_KEYS if isinstance(obj.get(k), dict)), None)
        if wrapper is None:
            break
        others = [k for k in obj if k != wrapper]
        notes.append(f"unwrapped '{wrapper}'" + (f" (ignored: {listing(others)})" if others else ""))
        obj = obj[wrapper]

    tensors: OrderedDict[str, torch.Tensor] = OrderedDict()
    skipped: list[str] = []

    def walk(prefix: str, value) -> None:
        if isinstance(value, torch.Tensor):
            tensors[prefix] = value
        elif isinstance(value, dict):
            for k, v in value.items():
                if not isinstance(k, str):
                    skipped.append(f"{prefix}[{k!r}]")
                    continue
                walk(f"{prefix}.{k}" if prefix else k, v)
        else:
            skipped.append(prefix)

    for k, v in obj.items():
        if not isinstance(k, str):
            skipped.append(repr(k))
        elif k in SKIPPED_GROUPS:
            notes.append(f"skipped '{k}' (training state, not weights)")
        else:
            walk(k, v)

    stripped: OrderedDict[str, torch.Tensor] = OrderedDict()
    removed = set()
    for name, t in tensors.items():
        parts = name.split(".")
        kept = [p for p in parts if p not in STRIPPED_SEGMENTS]
        removed.update(p for p in parts if p in STRIPPED_SEGMENTS)
        new = ".".join(kept)
        if new in stripped:
            raise ConversionError(f"{path}: '{name}' and another key both become '{new}' once "
                                  f"{'/'.join(STRIPPED_SEGMENTS)} name parts are removed")
        stripped[new] = t
    if removed:
        notes.append("stripped name parts " + ", ".join(f"'{p}.'" for p in sorted(removed)))
    return stripped, notes, skipped


def shape_of(t) -> tuple[int, ...]:
    """t.shape as a tuple of ints."""
    return tuple(int(s) for s in t.shape)


def check_against(where: str, sd: dict, expected: OrderedDict, what: str) -> OrderedDict:
    """Exactly the expected keys with the expected shapes; returns sd in the expected order."""
    missing = [k for k in expected if k not in sd]
    unexpected = [k for k in sd if k not in expected]
    wrong = [f"'{k}' is {list(shape_of(sd[k]))}, expected {list(expected[k])}" for k in expected
             if k in sd and shape_of(sd[k]) != expected[k]]
    problems = []
    if missing:
        problems.append(f"missing keys: {listing(missing)}")
    if unexpected:
        problems.append(f"unexpected keys: {listing(unexpected)}")
    if wrong:
        problems.append("wrong shapes: " + "; ".join(wrong[:MAX_LISTED]) + (f"; ... ({len(wrong) - MAX_LISTED} more)" if len(wrong) > MAX_LISTED else ""))
    if problems:
        raise ConversionError(f"{where}: not a {what}: " + ". ".join(problems))
    return OrderedDict((k, sd[k]) for k in expected)


def get_shape(where: str, sd: dict, key: str, rank: int) -> tuple[int, ...]:
    """The shape of sd[key], which must exist and have `rank` dimensions (for inferring a config)."""
    if key not in sd:
        near = [k for k in sd if k.rsplit(".", 2)[0] == key.rsplit(".", 2)[0]]
        raise ConversionError(f"{where}: missing key '{key}'" + (f" (present nearby: {listing(near, 6)})" if near else ""))
    s = shape_of(sd[key])
    if len(s) != rank:
        raise ConversionError(f"{where}: '{key}' has shape {list(s)}, expected a {rank}-D tensor")
    return s


@contextlib.contextmanager
def atomic_h5(out: str):
    """An h5py.File to fill, written to <out>.tmp.<pid> and renamed to `out` only when the block ends
    without an exception (so a failed write never leaves a partial `out`)."""
    parent = os.path.dirname(os.path.abspath(out))
    if not os.path.isdir(parent):
        raise ConversionError(f"{out}: directory '{parent}' does not exist")
    tmp = f"{out}.tmp.{os.getpid()}"
    try:
        # file format of HDF5 1.8 (compact groups: half the bytes of "earliest" for many small tensors),
        # readable by HDF5 1.8 and later
        with h5py.File(tmp, "w", libver=LIBVER) as f:
            yield f
        os.replace(tmp, out)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def write_model_file(out: str, model_type: str, config: dict, tensors: OrderedDict, dtype: str = "f32") -> None:
    """gluegen's HDF5 layout, written atomically (<out>.tmp.<pid>, then renamed)."""
    np_dtype = {"f32": np.float32, "f16": np.float16}[dtype]
    with atomic_h5(out) as f:
        f.attrs.create("gluegen_format", GLUEGEN_FORMAT, dtype=np.int32)
        f.attrs["model_type"] = model_type
        f.attrs["config"] = json.dumps(config, sort_keys=True)
        for name, t in tensors.items():
            f.create_dataset(name.replace(".", "/"), data=t.detach().to(torch.float32).numpy().astype(np_dtype))


def check_finite(where: str, tensors: OrderedDict, dtype: str) -> None:
    """Float tensors only, no NaN/Inf, and (for dtype f16) every value within float16's range."""
    for name, t in tensors.items():
        if not t.is_floating_point():
            raise ConversionError(f"{where}: '{name}' has dtype {t.dtype}; gluegen stores float tensors")
        v = t.detach().to(torch.float32)
        bad = int((~torch.isfinite(v)).sum())
        if bad:
            raise ConversionError(f"{where}: '{name}' holds {bad} NaN/Inf values (gluegen's reader rejects them)")
        if dtype == "f16" and bool((v.abs() > 65504).any()):
            raise ConversionError(f"{where}: '{name}' has values beyond float16's range (65504); use --dtype f32")


def select_prefix(path: str, sd: OrderedDict, prefix: str, notes: list[str]) -> OrderedDict:
    """Only the keys under `prefix`, with it removed (for checkpoints that nest the networks deeper)."""
    prefix = prefix if prefix.endswith(".") else prefix + "."
    kept = OrderedDict((k[len(prefix):], v) for k, v in sd.items() if k.startswith(prefix))
    if not kept:
        tops = sorted({k.split(".")[0] + "." for k in sd})
        raise ConversionError(f"{path}: no keys under --prefix '{prefix}'; top-level names: {listing(tops)}")
    notes.append(f"kept the {len(kept)} keys under '{prefix}' (left {len(sd) - len(kept)} others)")
    return kept
