"""Calibrating the extractive answerer's abstention threshold.

With `answer.abstention = "similarity"` (the default is "evidence": bench/train_answerer.py)
the answerer abstains when the best cosine between the question and a retrieved chunk is
below `answer.abstain_threshold`. Labelled data, SQuAD-2.0 style: a question is
*answerable* against the full corpus, and *unanswerable* against the corpus with the
passages that answer it removed (for XQuAD: its whole article). The signal is the top cosine
over the corpus, which is what the dense retriever's best hit reaches.

- tune: XQuAD questions on the first 24 articles (the same split as the fusion tuning);
- held out: XQuAD's last 24 articles, Anthropic docs-QA (gold chunks removed), and a small
  hand-written set over the Python docs (bench/data/abstention_pydocs.jsonl, needs a
  workspace of the Python docs: --pydocs-workspace).

    .venv/bin/python bench/calibrate_abstention.py --datasets ../shared/datasets \
        [--pydocs-workspace bench/.cache/pydocs-ingest]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import corpora
from cairn.config import load_settings
from cairn.embed.minilm import MiniLMEmbedder
from cairn.ingest.chunking import content_hash, embedding_text
from retrieval import open_store


def labelled_scores(
    dataset: corpora.Dataset,
    split: str,
    embedder: MiniLMEmbedder,
    cache: Path,
    group_of: dict[str, str],
) -> tuple[list[float], list[float]]:
    """(answerable, unanswerable) top cosines; removing every passage in the gold's group."""
    store, _ = open_store(dataset, embedder, cache, heading_weight=1.0)
    hashes = [content_hash(embedding_text(p.title, (), p.text)) for p in dataset.passages]
    cached = store.cached_embeddings(embedder.name, hashes)
    matrix = np.stack([cached[h] for h in hashes])
    ids = [p.id for p in dataset.passages]
    groups = np.array([group_of.get(i, i) for i in ids])
    queries = dataset.splits[split]
    vectors = embedder.embed([q.text for q in queries])
    sims = vectors @ matrix.T
    answerable, unanswerable = [], []
    for row, query in zip(sims, queries, strict=True):
        gold_groups = {group_of.get(p, p) for p in query.relevant}
        answerable.append(float(row.max()))
        mask = ~np.isin(groups, list(gold_groups))
        unanswerable.append(float(row[mask].max()))
    store.close()
    return answerable, unanswerable


def rates(answerable: list[float], unanswerable: list[float], t: float) -> dict[str, float]:
    a = np.array(answerable)
    u = np.array(unanswerable)
    false_abstain = float((a < t).mean())
    correct_abstain = float((u < t).mean())
    return {
        "threshold": round(t, 3),
        "false_abstention": round(false_abstain, 3),
        "abstention_recall": round(correct_abstain, 3),
        "balanced_accuracy": round((1 - false_abstain + correct_abstain) / 2, 3),
    }


def best_threshold(answerable: list[float], unanswerable: list[float]) -> float:
    grid = np.arange(0.10, 0.80, 0.01)
    scores = [rates(answerable, unanswerable, t)["balanced_accuracy"] for t in grid]
    return float(grid[int(np.argmax(scores))])


def pydocs_scores(workspace: Path, embedder: MiniLMEmbedder) -> tuple[list[float], list[float]]:
    from cairn.workspace import Workspace

    settings = load_settings(workspace=workspace)
    ws = Workspace(settings)
    pipeline = ws.pipeline()
    answerable, unanswerable = [], []
    path = Path(__file__).parent / "data" / "abstention_pydocs.jsonl"
    for line in path.read_text().splitlines():
        item = json.loads(line)
        hits = pipeline.search(item["question"], 5)
        from cairn.answer.extractive import ExtractiveAnswerer

        answerer = pipeline.answerer
        assert isinstance(answerer, ExtractiveAnswerer)
        best = max(answerer.relevance(item["question"], hits), default=0.0)
        (answerable if item["answerable"] else unanswerable).append(best)
    ws.close()
    return answerable, unanswerable


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", type=Path, required=True)
    parser.add_argument("--cache-dir", type=Path, default=Path("bench/.cache"))
    parser.add_argument("--pydocs-workspace", type=Path, default=None)
    parser.add_argument("--json-out", type=Path, default=Path("bench/results/abstention.json"))
    args = parser.parse_args()
    settings = load_settings()
    embedder = MiniLMEmbedder(settings.model_dir)

    xquad = corpora.load_xquad(args.datasets)
    article = {p.id: p.id.split("-")[0] for p in xquad.passages}
    tune = labelled_scores(xquad, "tune", embedder, args.cache_dir, article)
    threshold = best_threshold(*tune)
    results: dict[str, object] = {"chosen_threshold": round(threshold, 2)}
    results["xquad_tune"] = rates(*tune, threshold)
    results["xquad_heldout"] = rates(
        *labelled_scores(xquad, "heldout", embedder, args.cache_dir, article), threshold
    )
    anthropic = corpora.load_anthropic(args.datasets)
    results["anthropic_docs"] = rates(
        *labelled_scores(anthropic, "test", embedder, args.cache_dir, {}), threshold
    )
    if args.pydocs_workspace:
        results["python_docs_handwritten"] = rates(
            *pydocs_scores(args.pydocs_workspace, embedder), threshold
        )
    for name, value in results.items():
        print(f"{name:>24}: {value}")
    args.json_out.parent.mkdir(parents=True, exist_ok=True)
    args.json_out.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
