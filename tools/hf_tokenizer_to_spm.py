#!/usr/bin/env python3
"""Write a SentencePiece model (.model, a serialized ModelProto) from a Hugging Face Unigram tokenizer.json.

    .venv-tools/bin/python tools/hf_tokenizer_to_spm.py TOKENIZER_JSON OUT.model [--quiet]

For checkpoints that ship only tokenizer.json (e.g. multilingual-e5 exports, XLM-R, T5 / mT5 folders
without sentencepiece.bpe.model / spiece.model): the result loads in libsentencepiece (checked with
Debian's 0.1.97 and the Python package 0.2.3), and its ids ARE the Hugging Face ids (the pieces are
written in tokenizer.json's vocabulary order, fairseq's offset for XLM-R included), so no id remapping
is needed. Needs no protobuf library: the few ModelProto fields are encoded by hand.

Written: every vocabulary entry with its score, typed UNKNOWN (model.unk_id), CONTROL (the special
added tokens <s>, </s>, <pad>, also used as trainer_spec bos / eos / pad ids) or USER_DEFINED (other
special added tokens such as <mask> or T5's <extra_id_*>, which SentencePiece then matches in text as
Hugging Face does), else NORMAL; trainer_spec model_type UNIGRAM, vocab_size, unk / bos / eos / pad ids
and pieces; normalizer_spec with the Precompiled normalizer's charsmap, add_dummy_prefix from the
Metaspace pre-tokenizer, remove_extra_whitespaces when the normalizer collapses runs of spaces, and
escape_whitespaces.

What libsentencepiece then does differently from transformers (5.23) on tests/data/text/sentences.jsonl
(355 of 365 lines agree for multilingual-e5-small): special-token TEXT ("<s>", "</s>") is not split out
(CONTROL pieces never match text: split added tokens before calling SentencePiece), combining sequences
and conjoining Hangul jamo are composed by SentencePiece's normaliser but not by tokenizers' Precompiled
normaliser, ties between equal-score segmentations of long repeats break differently, and U+0085 is a
piece for SentencePiece but whitespace for transformers. Exit status 0 on success, 2 on an error.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import struct
import sys

from gluegen_h5 import ConversionError

NORMAL, UNKNOWN, CONTROL, USER_DEFINED = 1, 2, 3, 4
UNIGRAM = 1


def _varint(n: int) -> bytes:
    if n < 0:
        n += 1 << 64  # int32 fields encode negative values as 10-byte two's complement
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def _key(field: int, wire: int) -> bytes:
    return _varint((field << 3) | wire)


def _int(field: int, v: int) -> bytes:
    return _key(field, 0) + _varint(int(v))


def _bytes(field: int, b: bytes) -> bytes:
    return _key(field, 2) + _varint(len(b)) + b


def _float(field: int, v: float) -> bytes:
    return _key(field, 5) + struct.pack("<f", v)


def _normalizers(node) -> list:
    if not node:
        return []
    if node.get("type") == "Sequence":
        return [n for sub in node.get("normalizers", []) for n in _normalizers(sub)]
    return [node]


def _pretokenizers(node) -> list:
    if not node:
        return []
    if node.get("type") == "Sequence":
        return [n for sub in node.get("pretokenizers", []) for n in _pretokenizers(sub)]
    return [node]


def build(path: str) -> tuple[bytes, dict]:
    """(serialized ModelProto, summary) for the Unigram tokenizer.json at `path`."""
    try:
        with open(path, encoding="utf-8") as fh:
            j = json.load(fh)
    except OSError as e:
        raise ConversionError(f"{path}: cannot read: {e.strerror}") from e
    except ValueError as e:
        raise ConversionError(f"{path}: not JSON: {e}") from e
    model = j.get("model") or {}
    if model.get("type") != "Unigram":
        raise ConversionError(f"{path}: model type is {model.get('type')!r}; only Unigram tokenizers (XLM-R, T5, mT5, "
                              "e5) are SentencePiece models (BPE / WordPiece ones are not)")
    vocab = model.get("vocab")
    if not isinstance(vocab, list) or not vocab:
        raise ConversionError(f"{path}: model.vocab is not a non-empty list of [piece, score]")
    norms = _normalizers(j.get("normalizer"))
    pre = [p for p in _pretokenizers(j.get("pre_tokenizer")) if p.get("type") == "Metaspace"]
    charsmap = next((n.get("precompiled_charsmap") for n in norms if n.get("type") == "Precompiled"), None)
    if charsmap is None:
        raise ConversionError(f"{path}: no Precompiled normalizer (the SentencePiece normalization charsmap); found "
                              f"{[n.get('type') for n in norms] or 'none'}")
    if not pre:
        raise ConversionError(f"{path}: no Metaspace pre-tokenizer (SentencePiece's whitespace handling)")
    meta = pre[0]
    if meta.get("replacement", "\u2581") != "\u2581":
        raise ConversionError(f"{path}: Metaspace replacement {meta.get('replacement')!r} is not U+2581")
    add_dummy_prefix = meta.get("prepend_scheme", "always" if meta.get("add_prefix_space", True) else "never") != "never"
    remove_extra = any(n.get("type") == "Replace" and (n.get("pattern") or {}).get("Regex") == " {2,}" for n in norms)

    specials = {t["content"]: t["id"] for t in j.get("added_tokens", []) if t.get("special")}
    unk_id = model.get("unk_id")
    if unk_id is None or not 0 <= unk_id < len(vocab):
        raise ConversionError(f"{path}: model.unk_id {unk_id!r} is not an index of the vocabulary")
    ids = {name: specials.get(name, -1) for name in ("<s>", "</s>", "<pad>")}
    pieces = bytearray()
    types = {NORMAL: 0, UNKNOWN: 0, CONTROL: 0, USER_DEFINED: 0}
    for i, entry in enumerate(vocab):
        piece, score = entry[0], float(entry[1])
        if i == unk_id:
            kind = UNKNOWN
        elif i in ids.values():
            kind = CONTROL
        elif piece in specials:
            kind = USER_DEFINED
        else:
            kind = NORMAL
        types[kind] += 1
        body = _bytes(1, piece.encode("utf-8")) + _float(2, score) + (_int(3, kind) if kind != NORMAL else b"")
        pieces += _bytes(1, body)
    unk_piece = vocab[unk_id][0]
    trainer = (_int(3, UNIGRAM) + _int(4, len(vocab)) + _int(40, unk_id) + _int(41, ids["<s>"]) + _int(42, ids["</s>"])
               + _int(43, ids["<pad>"]) + _bytes(45, unk_piece.encode()) + _bytes(46, b"<s>") + _bytes(47, b"</s>")
               + _bytes(48, b"<pad>"))
    normalizer = (_bytes(1, b"nmt_nfkc") + _bytes(2, base64.b64decode(charsmap)) + _int(3, add_dummy_prefix)
                  + _int(4, remove_extra) + _int(5, 1))
    proto = bytes(pieces) + _bytes(2, trainer) + _bytes(3, normalizer)
    summary = {"pieces": len(vocab), "unk_id": unk_id, "bos_id": ids["<s>"], "eos_id": ids["</s>"], "pad_id": ids["<pad>"],
               "control": types[CONTROL], "user_defined": types[USER_DEFINED], "add_dummy_prefix": add_dummy_prefix,
               "remove_extra_whitespaces": remove_extra}
    return proto, summary


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("tokenizer_json", help="a Unigram tokenizer.json (XLM-R, T5, mT5, multilingual-e5)")
    ap.add_argument("out", help="output .model file")
    ap.add_argument("--quiet", action="store_true", help="print nothing on success")
    args = ap.parse_args(argv)
    try:
        proto, summary = build(args.tokenizer_json)
        parent = os.path.dirname(os.path.abspath(args.out))
        if not os.path.isdir(parent):
            raise ConversionError(f"{args.out}: directory '{parent}' does not exist")
        tmp = f"{args.out}.tmp.{os.getpid()}"
        try:
            with open(tmp, "wb") as fh:
                fh.write(proto)
            os.replace(tmp, args.out)
        finally:
            if os.path.exists(tmp):
                os.remove(tmp)
    except ConversionError as e:
        print(f"hf_tokenizer_to_spm: error: {e}", file=sys.stderr)
        return 2
    if not args.quiet:
        print(f"{args.tokenizer_json} -> {args.out}: {len(proto):,} bytes; " + json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
