#!/usr/bin/env python3
"""Golden log-mel spectrograms for gluegen's Whisper front end (include/gluegen/audio/log_mel.hpp).

Reads the committed 16 kHz speech clips in tests/data/audio/ (espeak-ng renderings, converted from
22050 Hz with `sox IN.wav -D -r 16000 OUT.wav`; see tests/data/audio/README.md) with Python's `wave`
module + numpy, and writes what transformers' WhisperFeatureExtractor makes of exactly those samples:

    .venv-tools/bin/python tools/make_audio_goldens.py [--out tests/data/audio/whisper_log_mel.h5]

Layout (HDF5, gzip-compressed, float32):
  /<clip>/samples              [N]             the samples as read (int16 / 32768), what both sides feed in
  /<clip>/log_mel_<M>          [M, 3000]       M = 80, 128: WhisperFeatureExtractor(feature_size=M)'s numpy
                                               path (_np_extract_fbank_features: float64 numpy STFT and mel
                                               filters, cast to float32 after log10), on the samples padded
                                               with zeros to 30 s
  /<clip>/log_mel_<M>_torch    [M, 3000]       the same through the extractor's default __call__, which uses
                                               torch.stft in float32 when torch is installed
The root has attributes `model_type` = "audio_goldens" and `config` = JSON {"generator", "transformers",
"numpy", "torch", "clips"}. The numpy-vs-torch difference is printed (it bounds how close any float32
implementation can be to "the" reference).
"""

from __future__ import annotations

import argparse
import json
import os
import wave

import h5py
import numpy as np
import torch
import transformers
from transformers import WhisperFeatureExtractor

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CLIPS = {
    "red_sneaker_en": "red_sneaker_en_16k.wav",  # espeak-ng -v en-us "a red sneaker on a blue background"
    "roter_turnschuh_de": "roter_turnschuh_de_16k.wav",  # espeak-ng -v de "ein roter Turnschuh auf blauem Hintergrund"
}
N_MELS = (80, 128)  # 80: Whisper tiny .. large-v2; 128: large-v3


def read_wav_16bit_mono(path: str) -> tuple[np.ndarray, int]:
    with wave.open(path, "rb") as w:
        assert w.getsampwidth() == 2 and w.getnchannels() == 1, f"{path}: expected 16-bit mono PCM"
        frames = w.readframes(w.getnframes())
        rate = w.getframerate()
    return (np.frombuffer(frames, dtype="<i2").astype(np.float32) / np.float32(32768.0)), rate


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--audio-dir", default=os.path.join(REPO, "tests", "data", "audio"))
    ap.add_argument("--out", default=os.path.join(REPO, "tests", "data", "audio", "whisper_log_mel.h5"))
    args = ap.parse_args()
    tmp = args.out + f".tmp.{os.getpid()}"
    store = dict(compression="gzip", compression_opts=9, shuffle=True)
    config = {"generator": "tools/make_audio_goldens.py", "transformers": transformers.__version__,
              "numpy": np.__version__, "torch": torch.__version__, "clips": {}}
    try:
        with h5py.File(tmp, "w") as f:  # default libver ("earliest"): readable by HDF5 1.10 (Debian 12)
            for clip, file in CLIPS.items():
                samples, rate = read_wav_16bit_mono(os.path.join(args.audio_dir, file))
                assert rate == 16000, f"{file}: {rate} Hz, expected 16000"
                g = f.create_group(clip)
                g.create_dataset("samples", data=samples, **store)
                config["clips"][clip] = {"file": file, "n_samples": int(samples.size)}
                for n_mels in N_MELS:
                    fe = WhisperFeatureExtractor(feature_size=n_mels)
                    padded = np.zeros(fe.n_samples, dtype=np.float32)
                    padded[:min(samples.size, fe.n_samples)] = samples[:fe.n_samples]
                    np_path = fe._np_extract_fbank_features(padded[None, :], "cpu")[0].astype(np.float32)
                    torch_path = fe(samples, sampling_rate=16000, return_tensors="np").input_features[0]
                    assert np_path.shape == (n_mels, 3000) and torch_path.shape == (n_mels, 3000)
                    g.create_dataset(f"log_mel_{n_mels}", data=np_path, **store)
                    g.create_dataset(f"log_mel_{n_mels}_torch", data=torch_path.astype(np.float32), **store)
                    print(f"{clip:20s} n_mels {n_mels:3d}: range [{np_path.min():.4f}, {np_path.max():.4f}], "
                          f"numpy vs torch path max abs diff {np.abs(np_path - torch_path).max():.3g}")
            f.attrs["model_type"] = "audio_goldens"
            f.attrs["config"] = json.dumps(config, sort_keys=True)
        os.replace(tmp, args.out)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    print(f"wrote {args.out}: {len(CLIPS)} clips, {os.path.getsize(args.out)} bytes")


if __name__ == "__main__":
    main()
