"""External retrieval benchmarks through the eval harness (`cairn eval dataset NAME`).

A dataset's passages become a throwaway workspace: one document and one chunk per passage
(title as the heading, no sections), embedded with the workspace's embedding model, in a
temporary folder (or a reusable one under `--cache-dir`, keyed by the passages and model).
Each query becomes a `Case` whose gold sources are its relevant passages (`match: all`,
binary gains), and the run scores retrieval with the same scorers, statistics and reports
as the golden set. Passage `i` of dataset `d` has the source `d/00042` (ids such as URLs
would not make valid sources); `Passage.id` is kept as the document id.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Sequence
from pathlib import Path

from cairn.embed.base import Embedder
from cairn.errors import UserError
from cairn.evals.cases import Case, Gold, GoldSource
from cairn.evals.datasets import Dataset, Passage
from cairn.retrieve.base import Retriever
from cairn.store.base import Store
from cairn.store.open import DB_FILE, open_store_at
from cairn.types import Answer, Chunk, Document, Filters, Hit

DATASET_METRICS: dict[str, tuple[str, ...]] = {
    "scifact": ("doc.ndcg@10", "doc.recall@100"),
    "xquad": ("doc.recall@1", "doc.recall@5"),
    "anthropic": ("doc.recall@5", "doc.mrr@10"),
    "hotpotqa": ("doc.complete@5", "doc.complete@10"),
    "musique": ("doc.complete@5", "doc.complete@10"),
}
"""The headline metrics of each dataset (as in bench/retrieval.py), added to the defaults."""

RECIPE = 1
"""Bump when the way passages become chunks changes, so cached stores are rebuilt."""

Progress = Callable[[str], None]


def source_of(dataset: Dataset) -> dict[str, str]:
    return {p.id: f"{dataset.name}/{i:05d}" for i, p in enumerate(dataset.passages)}


def dataset_cases(dataset: Dataset, split: str, limit: int | None = None) -> list[Case]:
    """One retrieval case per query of `split`, gold = its relevant passages (match: all)."""
    if split not in dataset.splits:
        raise UserError(
            f"{dataset.name} has no split {split!r}: use one of {', '.join(dataset.splits)}"
        )
    sources = source_of(dataset)
    queries = dataset.splits[split][:limit] if limit else dataset.splits[split]
    cases = []
    for i, query in enumerate(queries):
        gold = [GoldSource(source=sources[pid]) for pid in query.relevant if pid in sources]
        if not gold:
            continue
        safe = re.sub(r"[^A-Za-z0-9_.:-]+", "-", query.id).strip("-")[:48]
        cases.append(
            Case(
                id=f"{i:04d}-{safe}" if safe else f"{i:04d}",
                question=query.text,
                gold=Gold(match="all", sources=tuple(gold)),
                file=f"{dataset.name}:{split}",
            )
        )
    return cases


def fingerprint(dataset: Dataset, embedder: Embedder) -> str:
    digest = hashlib.sha256(json.dumps([RECIPE, embedder.name, embedder.dim]).encode())
    for p in dataset.passages:
        digest.update(json.dumps([p.id, p.title, p.text]).encode())
    return digest.hexdigest()[:16]


def open_store(
    dataset: Dataset,
    embedder: Embedder,
    folder: Path,
    *,
    batch: int = 256,
    progress: Progress | None = None,
) -> Store:
    """The dataset's store in `folder`, built unless a finished build is already there."""
    from cairn.ingest.chunking import content_hash, embedding_text

    manifest = folder / "manifest.json"
    if manifest.is_file():
        return open_store_at(folder / DB_FILE, create=False)
    store = open_store_at(folder / DB_FILE)
    sources = source_of(dataset)
    inputs = [embedding_text(p.title, (), p.text) for p in dataset.passages]
    hashes = [content_hash(text) for text in inputs]
    unique = list(dict(zip(hashes, inputs, strict=True)).items())
    vectors = {}
    for start in range(0, len(unique), batch):
        part = unique[start : start + batch]
        for (h, _), vector in zip(part, embedder.embed([t for _, t in part]), strict=True):
            vectors[h] = vector
        if progress:
            progress(f"{dataset.name}: embedded {min(start + batch, len(unique))}/{len(unique)}")
    for p, h in zip(dataset.passages, hashes, strict=True):
        source = sources[p.id]
        document, chunk = passage_records(
            p,
            source=source,
            uri=f"dataset://{source}",
            content_hash=h,
            token_count=len(p.text.split()),
        )
        store.write_document(document, [chunk], {h: vectors[h]}, model=embedder.name)
    manifest.write_text(json.dumps({"dataset": dataset.name, "passages": len(dataset.passages)}))
    return store


class SearchTarget:
    """A retrieval-only `Target`: `search` works, `ask` is refused."""

    def __init__(self, retriever: Retriever) -> None:
        self.retriever = retriever

    def search(self, query: str, k: int | None = None, filters: Filters | None = None) -> list[Hit]:
        return self.retriever.retrieve(query, k or 10, filters)

    def ask(self, question: str, *, k: int | None = None, filters: Filters | None = None) -> Answer:
        raise UserError("dataset runs score retrieval only")


def passage_records(
    passage: Passage, *, source: str, uri: str, content_hash: str, token_count: int
) -> tuple[Document, Chunk]:
    """One benchmark passage as a stored document holding exactly one chunk."""
    document = Document(
        id=passage.id,
        source=source,
        uri=uri,
        title=passage.title,
        doc_type="text",
        content_hash=content_hash,
        text=passage.text,
    )
    chunk = Chunk(
        id=passage.id,
        doc_id=passage.id,
        ordinal=0,
        text=passage.text,
        section=(),
        anchor=None,
        start=0,
        end=len(passage.text),
        token_count=token_count,
        hash=content_hash,
        source=source,
        uri=uri,
        title=passage.title,
    )
    return document, chunk


def metric_names(dataset: str, extra: Sequence[str] = ()) -> list[str]:
    from cairn.evals.scorers import RETRIEVAL_DEFAULTS

    names = [f"doc.{m}" for m in RETRIEVAL_DEFAULTS]
    for name in (*DATASET_METRICS.get(dataset, ()), *extra):
        if name not in names:
            names.append(name)
    return names
