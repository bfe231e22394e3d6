#!/usr/bin/env python3
"""docs/results.md from the measured JSON under docs/results/ (GlueGen on the default model: natural
prompts per language through each route, templated prompts, held-out alignment of the general corpus).

    python3 scripts/make_results.py           # writes docs/results.md
    python3 scripts/make_results.py --check   # exits 1 when docs/results.md is not what the JSON gives

Every number in the page comes from a file written by a gluegen command (the commands are in the page);
nothing here is typed by hand except the row labels. The noise column is a bootstrap over prompts: the
images of one prompt are not independent draws, so resampling prompts (not images) is the honest error.
"""
import json
import random
import sys
from pathlib import Path

from generated_page import write_or_check

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "docs" / "results"
PAGE = ROOT / "docs" / "results.md"

CORPUS_LANGUAGES = ["es", "ca", "gl", "eo"]  # in the general corpus (hbs is too, but has no natural prompts)
UNSEEN_LANGUAGES = ["de", "fr", "it", "zh"]  # in no aligner's training data
NAMES = {"en": "English", "es": "Spanish", "ca": "Catalan", "gl": "Galician", "eo": "Esperanto", "de": "German",
         "fr": "French", "it": "Italian", "zh": "Chinese", "hbs": "Serbo-Croatian"}

# (key, label, natural-prompt file, alignment file or None); "own" on English is the ceiling.
ROUTES = [
    ("ceiling", "English ceiling: MiniLM on the English prompt", "natural/own.json", None),
    ("direct", "direct: MiniLM reading the prompt itself", "natural/own.json", None),
    ("translate", "translation baseline: Apertium -> English -> MiniLM", "natural/translate.json", None),
    ("gluenet", "glued: e5 -> GlueNet (general corpus)", "natural/glued-gluenet.json", "alignment/gluenet.json"),
    ("attention", "glued: e5 -> attention aligner (general corpus)", "natural/glued-attention.json",
     "alignment/attention.json"),
    ("ridge", "glued: e5 -> ridge (general corpus, first 20 480 pairs)", "natural/glued-ridge.json",
     "alignment/ridge.json"),
    ("template", "glued: e5 -> GlueNet trained on the caption templates (shipped before)",
     "natural/glued-template.json", "alignment/template.json"),
]


def load(name):
    path = RESULTS / name
    return json.loads(path.read_text()) if path.exists() else None


def prompt_rows(report, language):
    return [p for p in report["prompts"] if p["language"] == language]


def rates(rows):
    n = sum(p["images"] for p in rows)
    return {k: sum(p[k + "_ok"] for p in rows) / n for k in ("class", "colour", "both")} | {"images": n}


def bootstrap_se(rows, rounds=2000, seed=0):
    """Standard error of both-correct over prompts resampled with replacement."""
    rng = random.Random(seed)
    values = []
    for _ in range(rounds):
        sample = [rows[rng.randrange(len(rows))] for _ in rows]
        values.append(sum(p["both_ok"] for p in sample) / sum(p["images"] for p in sample))
    mean = sum(values) / len(values)
    return (sum((v - mean) ** 2 for v in values) / (len(values) - 1)) ** 0.5


def route_rows(key, report, language):
    if report is None:
        return None
    if key == "ceiling":
        language = "en"
    elif key == "direct" and language == "en":
        return None
    rows = prompt_rows(report, language)
    return rows or None


def pct(x):
    return f"{100 * x:.1f}%"


def summary_table(loaded):
    languages = CORPUS_LANGUAGES + UNSEEN_LANGUAGES
    head = "| route | " + " | ".join(languages) + " | corpus languages | unseen languages |\n"
    head += "|---|" + "---:|" * (len(languages) + 2) + "\n"
    lines = []
    for key, label, _, _ in ROUTES:
        report = loaded[key]
        if report is None:
            continue
        cells, groups = [], {"corpus": [], "unseen": []}
        for lang in languages:
            rows = route_rows(key, report, lang)
            if rows is None:
                cells.append("")
                continue
            r = rates(rows)
            cells.append(pct(r["both"]))
            groups["corpus" if lang in CORPUS_LANGUAGES else "unseen"] += rows
        means = [pct(rates(groups[g])["both"]) + f" ± {100 * bootstrap_se(groups[g]):.1f}" if groups[g] else ""
                 for g in ("corpus", "unseen")]
        lines.append(f"| {label} | " + " | ".join(cells) + " | " + " | ".join(means) + " |")
    return head + "\n".join(lines) + "\n"


def language_table(loaded, alignment, language):
    out = (f"### {NAMES[language]} ({language})\n\n| route | images | class | colour | both | ± (prompts) | Fréchet "
           "distance | held-out cosine | held-out R@1 |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|\n")
    for key, label, _, align_file in ROUTES:
        rows = route_rows(key, loaded[key], language)
        if rows is None:
            continue
        r = rates(rows)
        fd = loaded[key]["languages"]["en" if key == "ceiling" else language]["frechet_distance"]
        a = alignment.get(key)
        a = a["languages"].get(language) if a else None
        cos, r1 = (f"{a['cosine']:.3f}", f"{a['recall_at_1']:.3f}") if a else ("", "")
        out += (f"| {label} | {r['images']} | {pct(r['class'])} | {pct(r['colour'])} | {pct(r['both'])} | "
                f"{100 * bootstrap_se(rows):.1f} | {fd:.1f} | {cos} | {r1} |\n")
    return out + "\n"


def templated_table():
    files = sorted((RESULTS / "templated").glob("*.json")) if (RESULTS / "templated").exists() else []
    if not files:
        return ""
    out = ("## Templated prompts (the caption templates; not the headline)\n\n"
           "| prompts through | language | held-in class | held-in colour | held-in both | held-out both | FD |\n"
           "|---|---|---:|---:|---:|---:|---:|\n")
    for f in files:
        r = json.loads(f.read_text())
        h, o = r["held_in"], r["held_out"]
        out += (f"| {r['conditioning']} | {r['language']} | {pct(h['class_accuracy'])} | {pct(h['colour_accuracy'])} "
                f"| {pct(h['both_correct'])} | {pct(o['both_correct'])} | {h['frechet_distance']:.1f} |\n")
    return out + "\n"


def alignment_table(alignment):
    if not alignment:
        return ""
    langs = ["es", "ca", "gl", "eo", "hbs"]
    out = ("## Alignment on the held-out corpus split (English sentences in no training pair of any language)\n\n"
           "| aligner | " + " | ".join(f"{l} cosine / R@1" for l in langs) + " | all MSE |\n"
           "|---|" + "---:|" * (len(langs) + 1) + "\n")
    for key, label, _, _ in ROUTES:
        a = alignment.get(key)
        if not a:
            continue
        cells = [f"{a['languages'][l]['cosine']:.3f} / {a['languages'][l]['recall_at_1']:.3f}"
                 if l in a["languages"] else "" for l in langs]
        out += f"| {label} | " + " | ".join(cells) + f" | {a['all']['mse']:.4f} |\n"
    return out + "\n"


def corpus_table(corpus):
    if corpus is None:
        return ""
    e = corpus["english"]
    out = (f"## The general corpus\n\nEnglish: {e['source']}, {e['candidates']} candidates; kept {e['words'][0]}-"
           f"{e['words'][1]} words ({e['outside_word_range']} outside), {e['excluded']} containing a caption or an "
           f"evaluation prompt, {e['duplicates']} duplicates; {e['sentences']} drawn (seed {e['seed']}), the first "
           f"{e['held_out_sentences']} held out in every language.\n\n"
           "| language | Apertium mode (Debian package) | train pairs | held-out pairs | dropped (untranslated / "
           "repeated) | translation bytes | time |\n|---|---|---:|---:|---:|---:|---:|\n")
    for tag, l in corpus["languages"].items():
        out += (f"| {l['name']} ({tag}) | {l['apertium_mode']} ({l['debian_package']}) | {l['train_pairs']} | "
                f"{l['held_out_pairs']} | {l['untranslated_dropped']} / {l['repeated_dropped']} | {l['bytes']} | "
                f"{l['translation_seconds']:.0f} s |\n")
    return out + "\n"


def render():
    loaded = {key: load(file) for key, _, file, _ in ROUTES}
    alignment = {key: load(file) for key, _, _, file in ROUTES if file and load(file)}
    intro = (RESULTS / "intro.md").read_text() if (RESULTS / "intro.md").exists() else ""
    outro = (RESULTS / "reading.md").read_text() if (RESULTS / "reading.md").exists() else ""
    page = "<!-- generated by scripts/make_results.py from docs/results/*.json: edit those, not this -->\n"
    page += intro + "\n## Natural prompts: both-correct accuracy per language\n\n" + summary_table(loaded) + "\n"
    page += "## Natural prompts per language\n\n"
    for lang in CORPUS_LANGUAGES + UNSEEN_LANGUAGES:
        page += language_table(loaded, alignment, lang)
    page += templated_table() + alignment_table(alignment) + corpus_table(load("corpus.json")) + outro
    return page


def main():
    return write_or_check(PAGE, render(), "docs/results/", "scripts/make_results.py")


if __name__ == "__main__":
    sys.exit(main())
