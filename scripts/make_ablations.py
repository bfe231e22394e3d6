#!/usr/bin/env python3
"""docs/ablations.md from the rows gluegen-ablate wrote under docs/ablations/ (issue 19).

    python3 scripts/make_ablations.py           # writes docs/ablations.md
    python3 scripts/make_ablations.py --check   # exits 1 when docs/ablations.md is not what the JSON gives

Every number comes from a row file (each records the command that wrote it; the page lists them). The
noise level is the spread over training seeds of the rows run with several seeds, pooled per metric; a
claim's verdict compares the difference of two rows' seed means with twice its standard error.
Hand-written text: docs/ablations/intro.md before the tables and docs/ablations/reading.md after them.
"""
import json
import math
import statistics
import sys
from pathlib import Path

from generated_page import write_or_check

ROOT = Path(__file__).resolve().parent.parent
ROWS = ROOT / "docs" / "ablations"
PAGE = ROOT / "docs" / "ablations.md"

LABELS = {
    "mtn-mse": "GlueNet f (Translator_noln), depth 5: L_mse",
    "mtn-mse-rec": "GlueNet, depth 5: L_mse + L_rec (1 : 1)",
    "mtn-mse-rec-adv": "GlueNet, depth 5: L_mse + L_rec + L_adv (1 : 1 : 1e-5, GlueGen's ratio)",
    "mtn-gluegen-recipe": "GlueNet, depth 5: GlueGen's recipe (1e4 : 1e4 : 0.1, Adam 1e-4 constant)",
    "mtn-depth3": "GlueNet f (Translator_noln), depth 3: L_mse",
    "mtn-ln-depth3": "GlueNet f with LayerNorm tail (Translator), depth 3: L_mse",
    "mtn-ln-depth5": "GlueNet f with LayerNorm tail (Translator), depth 5: L_mse",
    "translator-cosine": "Translator_noln, depth 5: token cosine loss (Supervised<F, TokenCosine>)",
    "attention": "attention (Perceiver resampler), 2 layers: L_mse",
    "ridge": "ridge (closed form, token x channel maps)",
    "lavi-bridge": "LaVi-Bridge adapter + LoRA rank 8 in the decoder (denoising loss, batch 32)",
    "ella-connector": "ELLA timestep-aware connector, 2 blocks (denoising loss, batch 32)",
}
CORPORA = {
    "template": "the default model's caption templates (e5 -> MiniLM, 16 x 384 -> 16 x 384)",
    "general": "the general parallel corpus (WordNet through Apertium; e5 -> MiniLM)",
}
CORPUS_LANGUAGES = ["es", "ca", "gl", "eo"]
UNSEEN_LANGUAGES = ["de", "fr", "it", "zh"]


def metrics(row):
    """The numbers a table shows, flattened: alignment, images, cost."""
    m = {"seconds": row["train_seconds"], "rss": row["peak_rss_mib"], "latency": row["latency_ms"],
         "inference": row["parameters"]["inference"], "trained": row["parameters"]["trained"]}
    if row["alignment"] is not None:  # LaVi-Bridge trains through the decoder: no target features
        a = row["alignment"]["all"]
        m |= {"mse": a["mse"], "cosine": a["cosine"], "r1": a["recall_at_1"]}
    images = row.get("images", {})
    if "template" in images:
        t = images["template"]
        for group in ("held_in", "held_out"):
            for key in ("class_accuracy", "colour_accuracy", "both_correct", "frechet_distance"):
                m[f"{group}.{key}"] = t[group][key]
    if "natural" in images:
        langs = images["natural"]["languages"]
        for name, group in (("corpus", CORPUS_LANGUAGES), ("unseen", UNSEEN_LANGUAGES)):
            present = [langs[g] for g in group if g in langs]
            n = sum(p["images"] for p in present)
            if n:
                m[f"natural.{name}"] = sum(p["both_correct"] * p["images"] for p in present) / n
    return m


def load_rows():
    """{corpus: {row: [metrics per seed]}} and {corpus: {row: [commands]}}."""
    table, commands = {}, {}
    for corpus in CORPORA:
        for path in sorted((ROWS / corpus).glob("*.json")):
            row = json.loads(path.read_text())
            table.setdefault(corpus, {}).setdefault(row["row"], []).append(metrics(row))
            commands.setdefault(corpus, {}).setdefault(row["row"], []).append(row["command"])
    return table, commands


def mean(values):
    return sum(values) / len(values)


# Rows whose fit does not depend on the seed (ridge is closed form): their seeds only vary the images' noise,
# so they would pull the alignment noise towards zero.
SEEDLESS_FIT = {"ridge"}


def pooled_sd(rows, key, skip=frozenset()):
    """Pooled standard deviation over seeds of every row run with several seeds (None: no such row)."""
    ss, dof = 0.0, 0
    for name, seeds in rows.items():
        if name in skip:
            continue
        values = [s[key] for s in seeds if key in s]
        if len(values) > 1:
            ss += statistics.variance(values) * (len(values) - 1)
            dof += len(values) - 1
    return math.sqrt(ss / dof) if dof else None


def cell(seeds, key, fmt):
    values = [s[key] for s in seeds if key in s]
    if not values:
        return ""
    text = fmt.format(mean(values))
    if len(values) > 1:
        text += " ± " + fmt.format(statistics.stdev(values))
    return text


def pct(v):
    return f"{100 * v:.1f}%"


def corpus_table(corpus, rows):
    images = "natural.corpus" if corpus == "general" else "held_in.both_correct"
    head = ("| row | seeds | params (inference / trained) | train time | peak RSS | latency, 1 prompt | held-out MSE "
            "| cosine | R@1 | ")
    if corpus == "general":
        head += "natural prompts both, corpus languages | unseen languages |\n"
        sep = "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n"
    else:
        head += "German template both (held-in) | class | colour | FD | held-out combos both |\n"
        sep = "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n"
    out = head + sep
    for name in [n for n in LABELS if n in rows]:
        s = rows[name]
        first = s[0]
        line = (f"| {LABELS[name]} (`{name}`) | {len(s)} | {first['inference'] / 1e6:.2f} M / {first['trained'] / 1e6:.2f} M "
                f"| {mean([x['seconds'] for x in s]):.0f} s | {mean([x['rss'] for x in s]):.0f} MiB "
                f"| {mean([x['latency'] for x in s]):.2f} ms | {cell(s, 'mse', '{:.4f}')} | {cell(s, 'cosine', '{:.3f}')} "
                f"| {cell(s, 'r1', '{:.3f}')} | ")
        if corpus == "general":
            line += f"{cell_pct(s, 'natural.corpus')} | {cell_pct(s, 'natural.unseen')} |"
        else:
            line += (f"{cell_pct(s, images)} | {cell_pct(s, 'held_in.class_accuracy')} "
                     f"| {cell_pct(s, 'held_in.colour_accuracy')} | {cell(s, 'held_in.frechet_distance', '{:.1f}')} "
                     f"| {cell_pct(s, 'held_out.both_correct')} |")
        out += line + "\n"
    return out


def cell_pct(seeds, key):
    values = [100 * s[key] for s in seeds if key in s]
    if not values:
        return ""
    text = f"{mean(values):.1f}%"
    if len(values) > 1:
        text += f" ± {statistics.stdev(values):.1f}"
    return text


# (claim, source, better row, worse row): the claim holds when `better` beats `worse` by more than the noise.
CLAIMS = [
    ("reconstruction (L_rec) is vital", "MTN / GlueGen sec. 4 ablation", "mtn-mse-rec", "mtn-mse"),
    ("the adversarial term (L_adv) adds limited gains", "MTN / GlueGen ablation", "mtn-mse-rec-adv", "mtn-mse-rec"),
    ("5 residual modules beat 3 (the paper keeps 5)", "MTN depth ablation", "mtn-mse", "mtn-depth3"),
    ("5 residual modules beat 3, with the LayerNorm tail", "MTN depth ablation", "mtn-ln-depth5", "mtn-ln-depth3"),
    ("Translator_noln (GlueGen's released f) is as good as Translator with its LayerNorm tail",
     "GlueGen's released checkpoints", "mtn-mse", "mtn-ln-depth5"),
    ("GlueGen's 1e4 / 1e4 / 0.1 recipe converges far slower than L_mse alone", "docs/default-model.md",
     "mtn-mse", "mtn-gluegen-recipe"),
]


def verdict(rows, better, worse, key, sd, limited=False):
    if better not in rows or worse not in rows or sd is None:
        return "not measured"
    b = [s[key] for s in rows[better] if key in s]
    w = [s[key] for s in rows[worse] if key in s]
    if not b or not w:
        return "not measured"
    d = mean(b) - mean(w)
    se = sd * math.sqrt(1 / len(b) + 1 / len(w))
    scale = 100 if key != "cosine" else 1
    text = f"{d * scale:+.3g}{'' if key == 'cosine' else ' points'} (2 s.e. {2 * se * scale:.2g})"
    if abs(d) <= 2 * se:
        return f"within noise: {text}" + ("; holds: no measurable gain" if limited else "")
    if limited:
        return f"{'does not hold: it hurts' if d < 0 else 'does not hold: a large gain'}: {text}"
    return f"{'holds' if d > 0 else 'does not hold'}: {text}"


def claims_table(rows):
    sd_cos = pooled_sd(rows, "cosine", skip=SEEDLESS_FIT)
    sd_img = pooled_sd(rows, "held_in.both_correct")
    out = ("| claim | from | rows compared | held-out cosine | German images, both correct |\n"
           "|---|---|---|---|---|\n")
    for claim, source, better, worse in CLAIMS:
        limited = "limited" in claim
        out += (f"| {claim} | {source} | `{better}` vs `{worse}` | {verdict(rows, better, worse, 'cosine', sd_cos, limited)} "
                f"| {verdict(rows, better, worse, 'held_in.both_correct', sd_img, limited)} |\n")
    noise = (f"Noise (pooled standard deviation over seeds of the rows run with several seeds): held-out cosine "
             f"{sd_cos:.3g} (trained rows only: ridge's fit has no seed), German held-in both-correct "
             f"{100 * sd_img:.2g} points (every row: the seed also draws the images' noise).\n"
             if sd_cos is not None and sd_img is not None else "No row was run with several seeds: no noise level.\n")
    return noise + "\n" + out


def page():
    rows, commands = load_rows()
    text = (ROWS / "intro.md").read_text()
    for corpus, title in CORPORA.items():
        if corpus not in rows:
            continue
        text += f"\n## Rows on {title}\n\n" + corpus_table(corpus, rows[corpus])
        if corpus == "template":
            text += "\n### The papers' claims, here\n\n" + claims_table(rows[corpus])
    reading = ROWS / "reading.md"
    if reading.exists():
        text += "\n" + reading.read_text()
    text += "\n## Commands\n\nEach row's file under `docs/ablations/` records the command that wrote it:\n\n"
    for corpus in rows:
        for name in [n for n in LABELS if n in commands[corpus]]:
            for command in sorted(set(commands[corpus][name])):
                text += f"- `{command}`\n"
    return ("<!-- generated by scripts/make_ablations.py from docs/ablations/*/*.json; edit those, or intro.md / "
            "reading.md -->\n" + text)


def main():
    return write_or_check(PAGE, page(), "docs/ablations/", "scripts/make_ablations.py")

if __name__ == "__main__":
    sys.exit(main())
