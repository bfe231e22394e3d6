#!/usr/bin/env python3
"""Plots a gluegen run's metrics.jsonl (one JSON object per logged step) as a PNG line chart, with
the standard library only (the PNG is encoded with zlib), so docs can carry loss curves without
matplotlib.

    python3 tools/plot_metrics.py runs/fashion-decoder/metrics.jsonl docs/images/decoder-loss.png [--key loss] [--log]

The y axis is logarithmic with --log; grid lines at each decade (log) or at 5 even steps, labelled
in the PNG's tEXt chunk (a plot title with the key, the step range and the last value).
"""
import argparse
import json
import math
import struct
import zlib

W, H, PAD = 640, 360, 40


def png(path, pixels, text):
    raw = b"".join(b"\x00" + bytes(row) for row in pixels)

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", W, H, 8, 2, 0, 0, 0)) +
                chunk(b"tEXt", b"Title\x00" + text.encode("latin-1", "replace")) + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("metrics")
    ap.add_argument("out")
    ap.add_argument("--key", default="loss")
    ap.add_argument("--log", action="store_true")
    a = ap.parse_args()
    points = []
    with open(a.metrics) as f:
        for line in f:
            j = json.loads(line)
            if a.key in j and j[a.key] is not None and (not a.log or j[a.key] > 0):
                points.append((j["step"], j[a.key]))
    if len(points) < 2:
        raise SystemExit(f"{a.metrics}: fewer than 2 points with '{a.key}'")
    fy = (lambda v: math.log10(v)) if a.log else (lambda v: v)
    xs, ys = [p[0] for p in points], [fy(p[1]) for p in points]
    x0, x1, y0, y1 = min(xs), max(xs), min(ys), max(ys)
    if y1 == y0:
        y1 = y0 + 1
    px = [[255, 255, 255] * W for _ in range(H)]

    def put(x, y, c):
        if 0 <= x < W and 0 <= y < H:
            px[y][3 * x:3 * x + 3] = c

    def to_xy(s, v):
        return PAD + round((s - x0) / (x1 - x0) * (W - 2 * PAD)), H - PAD - round((v - y0) / (y1 - y0) * (H - 2 * PAD))

    ticks = range(math.floor(y0), math.ceil(y1) + 1) if a.log else [y0 + k * (y1 - y0) / 5 for k in range(6)]
    for t in ticks:
        _, y = to_xy(x0, t)
        for x in range(PAD, W - PAD):
            put(x, y, [220, 220, 220])
    for x in range(PAD, W - PAD):
        put(x, H - PAD, [0, 0, 0])
    for y in range(PAD, H - PAD + 1):
        put(PAD, y, [0, 0, 0])
    prev = None
    for s, v in zip(xs, ys):
        cur = to_xy(s, v)
        if prev:
            n = max(abs(cur[0] - prev[0]), abs(cur[1] - prev[1]), 1)
            for k in range(n + 1):
                put(prev[0] + round((cur[0] - prev[0]) * k / n), prev[1] + round((cur[1] - prev[1]) * k / n), [200, 30, 30])
        prev = cur
    title = (f"{a.key} vs step ({'log10 ' if a.log else ''}y from {y0:.3g} to {y1:.3g}), steps {x0}..{x1}, "
             f"last {points[-1][1]:.4g}")
    png(a.out, px, title)
    print(f"{len(points)} points -> {a.out}: {title}")


if __name__ == "__main__":
    main()
