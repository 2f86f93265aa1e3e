"""How long should an extractive answer be? The length settings, chosen on documentation
questions written by others.

The Python docs' own FAQ (`train_answerer.faq_items`: each FAQ section whose heading is a
question, asked of the workspace, hybrid top 5, headings blanked; the answer is the first
paragraph of the section; sections a golden case cites are left out; 70% `train` by a hash
of the heading, the rest `heldout`). Each question whose answer chunk is among the hits is
answered by the extractive answerer under every combination of `answer.max_sentences`,
`answer.max_sources` and `answer.sentence_margin` in the grid; an answer is scored by token
F1 against the FAQ's answer paragraph (markers and code fences removed; F1, not recall, so
that a longer answer pays for what it adds). The combination with the best mean F1 on
`train` is reported with its `heldout` F1 next to the shipped settings', and the answers'
mean length in words. A second grid keeps `max_sources` and `sentence_margin` and varies
`answer.lead_margin`, the margin for the next sentences of the best sentence's own chunk:
the FAQ's answers come from one chunk by construction, so they can say how much of the
answering chunk to quote, not how many other chunks to quote from. With `--datasets`, the
XQuAD held-out check of `train_answerer.py` (answer contains the gold span, token F1) for
the shipped and the lead-margin settings.

    nice -n 5 .venv/bin/python bench/answer_length.py --workspace .cairn
"""

from __future__ import annotations

import argparse
import itertools
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from cairn.answer.extractive import ExtractiveAnswerer
from cairn.config import AnswerSettings, load_settings
from cairn.workspace import Workspace
from train_answerer import Item, faq_items, token_f1, xquad_items

SENTENCES = (2, 3, 4, 5, 6, 8)
SOURCES = (1, 2, 3, 4)
MARGINS = (1.0, 1.5, 2.0, 2.5, 3.0, 4.0)
LEAD_MARGINS = (1.5, 2.0, 2.5, 3.0, 4.0, 5.0)


def gold(item: Item) -> str:
    assert item.spans
    i, start, end = item.spans[0]
    return item.hits[i].chunk.text[start:end]


def scores(answerer: ExtractiveAnswerer, items: list[Item]) -> tuple[float, float]:
    """Mean token F1 and mean answer length in words (an abstention scores 0, length 0)."""
    f1s, lengths = [], []
    for item in items:
        draft = answerer.answer_with(item.question, item.hits, item.relevance)
        text = "" if draft.abstained else draft.text
        f1s.append(token_f1(text, gold(item)) if text else 0.0)
        lengths.append(len(text.split()))
    return float(np.mean(f1s)), float(np.mean(lengths))


Config = tuple[int, int, float, float | None]
"""(max_sentences, max_sources, sentence_margin, lead_margin)."""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workspace", type=Path, required=True)
    parser.add_argument("--datasets", type=Path, help="also XQuAD held out (../shared/datasets)")
    parser.add_argument("--cache-dir", type=Path, default=Path("bench/.cache"))
    args = parser.parse_args()
    items = faq_items(args.workspace)
    sets = {name: [i for i in found if i.gold_read and i.spans] for name, found in items.items()}
    print(", ".join(f"{name}: {len(found)} answerable" for name, found in sets.items()))
    ws = Workspace(load_settings(workspace=args.workspace))
    shipped = ws.settings.answer
    base = ws.pipeline().answerer
    assert isinstance(base, ExtractiveAnswerer)

    def answerer(config: Config) -> ExtractiveAnswerer:
        sentences, sources, margin, lead = config
        settings = shipped.model_copy(
            update={
                "max_sentences": sentences,
                "max_sources": sources,
                "sentence_margin": margin,
                "lead_margin": lead,
            }
        )
        return ExtractiveAnswerer(base.store, base.embedder, settings, base.model)

    def table(title: str, configs: list[Config]) -> Config:
        rows = sorted(
            ((*scores(answerer(c), sets["train"]), c) for c in configs),
            key=lambda r: -r[0],
        )
        print(f"\n{title}: best 8 on train")
        print(f"{'(sentences, sources, margin, lead margin)':<44} {'F1':>6} {'words':>6}")
        for f1, words, c in rows[:8]:
            print(f"{c!s:<44} {f1:>6.3f} {words:>6.1f}")
        return rows[0][2]

    now: Config = (
        shipped.max_sentences,
        shipped.max_sources,
        shipped.sentence_margin,
        shipped.lead_margin,
    )
    every = table(
        "one margin for every chunk",
        [(n, k, m, None) for n, k, m in itertools.product(SENTENCES, SOURCES, MARGINS)],
    )
    lead = table(
        f"the lead chunk's own margin (sources {now[1]} and margin {now[2]} kept)",
        [(n, now[1], now[2], m) for n, m in itertools.product(SENTENCES, LEAD_MARGINS)],
    )
    print("\nheld out:")
    print(f"{'settings':<52} {'F1 train':>8} {'F1 held out':>11} {'words':>6}")
    for label, config in (("shipped", now), ("one margin", every), ("lead margin", lead)):
        train, _ = scores(answerer(config), sets["train"])
        held, words = scores(answerer(config), sets["heldout"])
        print(f"{label + ' ' + str(config):<52} {train:>8.3f} {held:>11.3f} {words:>6.1f}")
    if args.datasets is not None:
        xquad_check(args.datasets, args.cache_dir, base, {"shipped": now, "lead margin": lead})
    ws.close()


def xquad_check(
    datasets: Path, cache: Path, base: ExtractiveAnswerer, configs: dict[str, Config]
) -> None:
    """XQuAD held out (articles 24-47, gold paragraph read): the answer contains the gold
    span, and its token F1, as `train_answerer.py` reports them (no abstention)."""
    from cairn.embed.minilm import MiniLMEmbedder

    embedder = MiniLMEmbedder(load_settings().model_dir)
    pairs, _ = xquad_items(datasets, embedder, cache)
    items = [item for item, _ in pairs["heldout"] if item.gold_read]
    print(f"\nXQuAD held out, {len(items)} questions with the gold paragraph read:")
    for label, (sentences, sources, margin, lead) in configs.items():
        settings = AnswerSettings(
            abstention="similarity",
            abstain_threshold=0.0,
            max_sentences=sentences,
            max_sources=sources,
            sentence_margin=margin,
            lead_margin=lead,
        )
        answerer = ExtractiveAnswerer(base.store, embedder, settings, base.model)
        texts = [answerer.answer_with(i.question, i.hits, i.relevance).text for i in items]
        contains = np.mean(
            [any(a in t for a in i.answers) for t, i in zip(texts, items, strict=False)]
        )
        f1 = np.mean(
            [max(token_f1(t, a) for a in i.answers) for t, i in zip(texts, items, strict=False)]
        )
        words = np.mean([len(t.split()) for t in texts])
        print(f"  {label:<12} contains {contains:.3f}, token F1 {f1:.3f}, {words:.1f} words")


if __name__ == "__main__":
    main()
