"""How many units an extractive answer quotes, and how many of them hold the answer.

    nice -n 5 .venv/bin/python bench/answer_composition.py --datasets ../shared/datasets \
        [--xquad heldout --scifact validation] [--max-sentences 4 --margin 1.5 --sources 3]

Per question, the units the extractive answerer composes (abstention off) against the gold
units: on XQuAD those holding a gold answer span (recall: one of them is quoted), on SciFact
those holding a rationale sentence (recall: their share quoted). Precision is the share of
quoted units that are gold; n the units quoted. Only questions whose gold paragraph is read
count. Several values per knob give a grid (`--max-sentences 2,4 --margin 1,1.5`); choose
knobs on the training splits (`--xquad tune --scifact train`) only. Run at two commits to
compare composition rules (the held-out sets hold no code, API entries or version notes, so
only rules about prose move them).
"""

from __future__ import annotations

import argparse
import itertools
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import train_answerer as t
from cairn.answer.extractive import ExtractiveAnswerer
from cairn.config import AnswerSettings, load_settings
from cairn.embed.minilm import MiniLMEmbedder


def scores(answerer: ExtractiveAnswerer, items: list[t.Item]) -> tuple[float, ...]:
    precision, recall, f1, count = [], [], [], []
    for item in items:
        a = answerer.assess(item.question, item.hits, item.relevance)
        if item.positives is not None:
            gold = {(u.hit, u.start) for u in a.units if t._scifact_positive(item, u)}
        else:
            gold = {(u.hit, u.start) for u in a.units if any(x in u.text for x in item.answers)}
        if not gold:
            continue
        leads = answerer._part_leads(item.question, item.hits, item.relevance)
        quoted = {(u.hit, u.start) for u in answerer._choose(a, leads)}
        hit = len(quoted & gold)
        p = hit / len(quoted)
        r = hit / len(gold) if item.positives is not None else float(hit > 0)
        precision.append(p)
        recall.append(r)
        f1.append(0.0 if hit == 0 else 2 * p * r / (p + r))
        count.append(len(quoted))
    return tuple(float(np.mean(x)) for x in (precision, recall, f1, count))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--datasets", type=Path, required=True)
    parser.add_argument("--cache-dir", type=Path, default=Path("bench/.cache"))
    parser.add_argument("--xquad", choices=("tune", "heldout"), default="heldout")
    parser.add_argument("--scifact", choices=("train", "validation"), default="validation")
    parser.add_argument("--max-sentences", default="4")
    parser.add_argument("--margin", default="1.5")
    parser.add_argument("--sources", default="3")
    args = parser.parse_args()
    embedder = MiniLMEmbedder(load_settings().model_dir)
    xquad, _ = t.xquad_items(args.datasets, embedder, args.cache_dir)
    sets = {
        f"XQuAD {args.xquad}": [a for a, _ in xquad[args.xquad] if a.gold_read],
        f"SciFact {args.scifact}": t.scifact_items(args.datasets, args.scifact),
    }
    print("| max sentences | margin | sources | set | n | precision | recall | F1 | units |")
    print("|---|---|---|---|---|---|---|---|---|")
    grid = itertools.product(
        [int(x) for x in args.max_sentences.split(",")],
        [float(x) for x in args.margin.split(",")],
        [int(x) for x in args.sources.split(",")],
    )
    for most, margin, sources in grid:
        settings = AnswerSettings(
            abstention="similarity",
            abstain_threshold=0.0,
            max_sentences=most,
            sentence_margin=margin,
            max_sources=sources,
        )
        answerer = ExtractiveAnswerer(None, embedder, settings)  # type: ignore[arg-type]
        for name, items in sets.items():
            p, r, f, n = scores(answerer, items)
            print(
                f"| {most} | {margin} | {sources} | {name} | {len(items)} | {p:.3f} | {r:.3f} "
                f"| {f:.3f} | {n:.2f} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
