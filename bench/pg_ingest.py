"""Ingest speed of the Postgres store against the SQLite store on the same pre-embedded
corpus, in the same run: the store calls `cairn ingest` makes for each document (the
embedding cache lookup, the near-duplicate fingerprints, the write), with the vectors
already computed, so the embedding model's own time is left out (it is the same for both
stores; reported apart as the model's time for the same chunks when `--embed-time` is
given).

Corpora:
- `pydocs`: the Python docs workspace (`--source`, 496 pages, 22,829 chunks with their real
  all-MiniLM-L6-v2 vectors), its documents and chunks exactly as stored there;
- `scifact`: BEIR SciFact's 5,183 abstracts, one chunk each (title and abstract), with seeded
  random unit vectors of 384 dimensions (no vectors are stored for this set; HNSW
  maintenance costs the same for any vectors of that size). The worst case for per-document
  overhead.

Both stores are filled in the same run, taking turns every `--slice` documents (so a change
in the machine's load falls on both), `--rounds` times into new, empty stores; the better
time of each is kept; Postgres is then checked to rank exactly as
SQLite (lexical and, on `pydocs`, dense top 10 for a few queries).

    PYTHONPATH=src .venv/bin/python bench/pg_ingest.py [--corpus pydocs scifact]

`--end-to-end HTML_FOLDER` measures what the issue's target names instead: `cairn ingest`
itself (reading, parsing, chunking, the injection scan, near-duplicates, the store) of a
folder into a fresh SQLite store and a fresh Postgres store, taking turns `--rounds` times,
with the embedding model's own time taken out: the vectors come from the `--source`
workspace by their input's hash (what the model made for the same text there), and the
report's `embed_seconds` (the lookups, and the model for any text not found) is subtracted.

    PYTHONPATH=src .venv/bin/python bench/pg_ingest.py \
        --end-to-end /usr/share/doc/python3.11/html [--rounds 2]

`--with-model` has the model embed every chunk instead (what a first `cairn ingest` does;
`--files N` keeps it short: the first N pages), and reports the whole time too.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from cairn.ingest.near_duplicates import NearDuplicateFinder
from cairn.store.base import Store, Vector
from cairn.store.postgres import PostgresStore
from cairn.store.sqlite import SQLiteStore
from cairn.testing.postgres import PostgresServer
from cairn.types import Chunk, Document

Item = tuple[Document, list[Chunk], dict[str, Vector]]


@dataclass
class Corpus:
    name: str
    model: str
    items: list[Item]
    queries: list[str]
    vectors: list[Vector] = field(default_factory=list)

    @property
    def chunks(self) -> int:
        return sum(len(c) for _, c, _ in self.items)


def pydocs(source: Path) -> Corpus:
    with closing(sqlite3.connect(f"file:{source}?mode=ro", uri=True)) as src:
        [model] = [r[0] for r in src.execute("SELECT DISTINCT model FROM embeddings")]
        vectors = {
            h: np.frombuffer(v, dtype=np.float32).copy()
            for h, v in src.execute("SELECT hash, vector FROM embeddings")
        }
        docs = src.execute(
            "SELECT id, source, uri, title, doc_type, content_hash, text, metadata, tags, acl "
            "FROM documents ORDER BY source"
        ).fetchall()
        by_doc: dict[str, list[Chunk]] = {}
        for row in src.execute(
            "SELECT c.id, c.doc_id, c.ordinal, c.text, c.section, c.anchor, c.page, c.start, "
            "c.end, c.token_count, c.hash, d.source, d.uri, d.title FROM chunks c "
            "JOIN documents d ON d.id = c.doc_id ORDER BY c.doc_id, c.ordinal"
        ):
            by_doc.setdefault(row[1], []).append(
                Chunk(
                    id=row[0],
                    doc_id=row[1],
                    ordinal=row[2],
                    text=row[3],
                    section=tuple(json.loads(row[4])),
                    anchor=row[5],
                    page=row[6],
                    start=row[7],
                    end=row[8],
                    token_count=row[9],
                    hash=row[10],
                    source=row[11],
                    uri=row[12],
                    title=row[13],
                )
            )
    items: list[Item] = []
    for d in docs:
        doc = Document(
            id=d[0],
            source=d[1],
            uri=d[2],
            title=d[3],
            doc_type=d[4],
            content_hash=d[5],
            text=d[6],
            metadata=json.loads(d[7] or "{}"),
            tags=tuple(json.loads(d[8] or "[]")),
            acl=tuple(json.loads(d[9] or "[]")),
        )
        chunks = by_doc.get(doc.id, [])
        items.append((doc, chunks, {c.hash: vectors[c.hash] for c in chunks}))
    sample = [chunks for _, chunks, _ in items[::50] if chunks]
    queries = [chunks[0].text.split(".")[0] for chunks in sample]
    picked = [chunks[-1].hash for chunks in sample]
    return Corpus("pydocs", model, items, queries, [vectors[h] for h in picked])


def scifact(datasets: Path) -> Corpus:
    from cairn.evals.datasets import load_scifact

    data = load_scifact(datasets)
    rng = np.random.default_rng(12)
    items: list[Item] = []
    for p in data.passages:
        doc = Document(
            id=p.id,
            source=f"{p.id}.txt",
            uri=f"file:///{p.id}.txt",
            title=p.title,
            doc_type="text",
            content_hash=p.id,
            text=p.text,
        )
        chunk = Chunk(
            id=f"{p.id}-0",
            doc_id=p.id,
            ordinal=0,
            text=p.text,
            section=(),
            anchor=None,
            start=0,
            end=len(p.text),
            token_count=len(p.text.split()),
            hash=f"h{p.id}",
            source=doc.source,
            uri=doc.uri,
            title=p.title,
        )
        v = rng.normal(size=384).astype(np.float32)
        items.append((doc, [chunk], {chunk.hash: (v / np.linalg.norm(v)).astype(np.float32)}))
    queries = [q.text for q in data.splits["test"][:10]]
    return Corpus("scifact", "random-384", items, queries)


@dataclass
class Timing:
    lookups: float = 0.0
    near: float = 0.0
    writes: float = 0.0

    @property
    def total(self) -> float:
        return self.lookups + self.near + self.writes


def fill(stores: dict[str, Store], corpus: Corpus, slice_size: int) -> dict[str, Timing]:
    """What `cairn ingest` asks of the store for each document, inside `Store.loading()`,
    timed by step (the load's end counted as writing); the stores take turns every
    `slice_size` documents, so a change in the machine's load falls on both."""
    timings = {name: Timing() for name in stores}
    near = NearDuplicateFinder()
    # inside a load, as ingest runs them; its end (Postgres builds a new vector index then)
    # is timed as writing
    loads = {name: store.loading() for name, store in stores.items()}
    for load in loads.values():
        load.__enter__()
    for start in range(0, len(corpus.items), slice_size):
        for name, store in stores.items():
            timing = timings[name]
            for doc, chunks, vectors in corpus.items[start : start + slice_size]:
                t0 = time.perf_counter()
                cached = store.cached_embeddings(corpus.model, [c.hash for c in chunks])
                t1 = time.perf_counter()
                found = near.find(store, doc, chunks)
                t2 = time.perf_counter()
                fresh = {h: v for h, v in vectors.items() if h not in cached}
                store.write_document(doc, chunks, fresh, model=corpus.model, near=found)
                t3 = time.perf_counter()
                timing.lookups += t1 - t0
                timing.near += t2 - t1
                timing.writes += t3 - t2
    for name, load in loads.items():
        t0 = time.perf_counter()
        load.__exit__(None, None, None)
        timings[name].writes += time.perf_counter() - t0
    return timings


@contextmanager
def stores(kind: str, server: PostgresServer, tmp: Path) -> Iterator[Store]:
    if kind == "SQLite":
        path = tmp / f"{time.monotonic_ns()}.db"
        store: Store = SQLiteStore(path)
    else:
        store = PostgresStore(server.new_database())
    try:
        yield store
    finally:
        store.close()  # type: ignore[attr-defined]


def same_rankings(a: Store, b: Store, corpus: Corpus) -> bool:
    for q in corpus.queries:
        if [r.chunk_id for r in a.lexical_ranking(q, 10)] != [
            r.chunk_id for r in b.lexical_ranking(q, 10)
        ]:
            return False
    for v in corpus.vectors:  # exact on SQLite, HNSW on Postgres: the top hit must agree
        if (
            a.dense_ranking(v, 1, model=corpus.model)[0].chunk_id
            != b.dense_ranking(v, 1, model=corpus.model)[0].chunk_id
        ):
            return False
    return True


class StoredVectors:
    """An embedder serving the vectors a workspace already holds for the same inputs (keyed
    as ingest keys them: the hash of the text embedded), the real model for the others."""

    def __init__(self, source: Path, model: object) -> None:
        self.model = model
        self.name = model.name  # type: ignore[attr-defined]
        self.dim = model.dim  # type: ignore[attr-defined]
        self.tokenizer = model.tokenizer  # type: ignore[attr-defined]
        with closing(sqlite3.connect(source)) as db:
            self.vectors = {
                h: np.frombuffer(v, dtype=np.float32)
                for h, v in db.execute(
                    "SELECT hash, vector FROM embeddings WHERE model = ?", (self.name,)
                )
            }
        self.missed = 0

    def embed(self, texts: list[str]) -> np.ndarray:
        from cairn.ingest.chunking import content_hash

        found = [self.vectors.get(content_hash(t)) for t in texts]
        missing = [t for t, v in zip(texts, found, strict=True) if v is None]
        self.missed += len(missing)
        fresh = iter(self.model.embed(missing) if missing else [])  # type: ignore[attr-defined]
        return np.stack([v if v is not None else next(fresh) for v in found])


def end_to_end(
    folder: Path, source: Path, rounds: int, *, with_model: bool = False, files: int = 0
) -> None:
    import shutil

    from cairn.config import load_settings
    from cairn.ingest.pipeline import ingest
    from cairn.workspace import Workspace

    settings = load_settings()
    model = Workspace(settings).embedder  # the model as `cairn ingest` runs it
    embedder: Any = model if with_model else StoredVectors(source, model)
    if not with_model:
        print(f"{len(embedder.vectors)} stored vectors of {embedder.name}", flush=True)
    best: dict[str, float] = {}
    total: dict[str, float] = {}
    with PostgresServer() as server, tempfile.TemporaryDirectory() as tmp:
        if files:  # the first `files` pages, in path order, copied apart
            pages = sorted(p for p in folder.rglob("*.html") if p.is_file())[:files]
            subset = Path(tmp) / "pages"
            for page in pages:
                target = subset / page.relative_to(folder)
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy(page, target)
            folder = subset
        for r in range(rounds):
            for kind in ("SQLite", "Postgres"):
                with stores(kind, server, Path(tmp)) as store:
                    report = ingest(
                        [folder],
                        store=store,
                        embedder=embedder,
                        tokenizer=embedder.tokenizer,
                        settings=settings,
                    )
                beyond = report.seconds - report.embed_seconds
                best[kind] = min(best.get(kind, beyond), beyond)
                total[kind] = min(total.get(kind, report.seconds), report.seconds)
                missed = report.embedded if with_model else embedder.missed
                print(
                    f"round {r + 1} {kind:8} {report.seconds:7.1f} s, embedding "
                    f"{report.embed_seconds:5.1f} s, beyond it {beyond:7.1f} s "
                    f"({report.ingested} documents, {report.chunks} chunks, "
                    f"{missed} texts embedded by the model)",
                    flush=True,
                )
    print(
        f"\nbeyond the embedding model, best of {rounds}: SQLite {best['SQLite']:.1f} s, "
        f"Postgres {best['Postgres']:.1f} s, ratio {best['Postgres'] / best['SQLite']:.2f}"
    )
    if with_model:
        print(
            f"in all, best of {rounds}: SQLite {total['SQLite']:.1f} s, Postgres "
            f"{total['Postgres']:.1f} s, ratio {total['Postgres'] / total['SQLite']:.2f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", nargs="+", default=["pydocs", "scifact"])
    parser.add_argument("--source", type=Path, default=Path("/work/main/.cairn/cairn.db"))
    parser.add_argument("--datasets", type=Path, default=Path("../shared/datasets"))
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--slice", type=int, default=50, help="documents per turn")
    parser.add_argument(
        "--end-to-end", type=Path, metavar="FOLDER", help="time `cairn ingest` of this folder"
    )
    parser.add_argument(
        "--with-model",
        action="store_true",
        help="with --end-to-end: the model embeds every chunk (no stored vectors); the total "
        "time is reported too",
    )
    parser.add_argument(
        "--files", type=int, default=0, help="with --end-to-end: only the first N pages"
    )
    args = parser.parse_args()
    if args.end_to_end:
        end_to_end(
            args.end_to_end, args.source, args.rounds, with_model=args.with_model, files=args.files
        )
        return

    rows = []
    with PostgresServer() as server, tempfile.TemporaryDirectory() as tmp:
        for name in args.corpus:
            corpus = pydocs(args.source) if name == "pydocs" else scifact(args.datasets)
            print(f"{corpus.name}: {len(corpus.items)} documents, {corpus.chunks} chunks")
            best: dict[str, Timing] = {}
            agree = True
            for _ in range(args.rounds):
                with (
                    stores("SQLite", server, Path(tmp)) as lite,
                    stores("Postgres", server, Path(tmp)) as pg,
                ):
                    timings = fill({"SQLite": lite, "Postgres": pg}, corpus, args.slice)
                    for kind, t in timings.items():
                        print(
                            f"  {kind:8} {t.total:7.1f} s (lookups {t.lookups:.1f}, "
                            f"near-duplicates {t.near:.1f}, writes {t.writes:.1f})"
                        )
                        if kind not in best or t.total < best[kind].total:
                            best[kind] = t
                    agree = agree and same_rankings(lite, pg, corpus)
            rows.append((corpus, best, agree))
    print(
        f"\n{'corpus':8} {'documents':>9} {'chunks':>7} {'SQLite s':>9} {'Postgres s':>10} "
        f"{'ratio':>6} {'docs/s SQLite':>13} {'docs/s PG':>9} {'same ranking':>12}"
    )
    for corpus, best, agree in rows:
        lite, pg = best["SQLite"].total, best["Postgres"].total
        n = len(corpus.items)
        print(
            f"{corpus.name:8} {n:9} {corpus.chunks:7} {lite:9.1f} {pg:10.1f} {pg / lite:6.2f} "
            f"{n / lite:13.0f} {n / pg:9.0f} {'yes' if agree else 'NO':>12}"
        )


if __name__ == "__main__":
    main()
