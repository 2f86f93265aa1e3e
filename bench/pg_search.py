"""Search latency of the Postgres store against the SQLite store at ~90k chunks, in the same
run on the same chunks, vectors and queries; and the recall@10 of pgvector's HNSW index
(with iterative scans) against SQLite's exact scan.

The set, built honestly without nine hours of embedding: the Python docs workspace (496
pages, 22,829 chunks with their real all-MiniLM-L6-v2 vectors; `--source`) taken `--copies`
times. Copy 0 is the workspace as it is; copy j rotates each chunk's sentences by j (so the
text differs, its words do not) and adds Gaussian noise (sigma `--noise`) to its vector,
renormalised. One document in ten is readable by `staff`, the others by `others`, so
`principals=("staff",)` is a 10%-selective ACL filter, searched the store's way (through the
HNSW index, `ef_search` scaled by the filter's selectivity) and by an exact scan in SQL
(`exact_below` above the passing count). Queries: bench/latency.py's
questions, embedded with the real model. The SQLite set is built once and kept in
bench/.cache; the Postgres copy is made with `cairn migrate`'s copier (timed).

    PYTHONPATH=src .venv/bin/python bench/pg_search.py [--copies 4] [--n 200]

Lexical search on Postgres is measured both ways: ranked in SQL (a short-lived process:
the CLI, a script) and from the in-memory copy of the postings a server replica keeps
(`keep_bm25_in_memory`, its build timed); the hybrid rows use the in-memory copy on both
sides, as the two servers run.

At a million chunks, on bench/million.py's set (`--db` a SQLite store built by it; SQLite's
hybrid searches then use its approximate index, as the embedded default runs at that size;
the dense rows always compare with its exact scan), with the hybrid searches the issue's
target names (`HybridRetriever`, k = 5, as the server runs it); `--url` copies into a
database of a Postgres already running and keeps it (a second run finds the copy and skips
it):

    PYTHONPATH=src .venv/bin/python bench/pg_search.py --db bench/.cache/million/n1000000-0.02.db \
        --n 100 --skip-fts --maintenance-work-mem 6GB [--url postgresql://...]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import re
import sqlite3
import sys
import time
from collections.abc import Callable
from contextlib import closing
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from cairn.config import load_settings
from cairn.retrieve.hybrid import DenseRetriever, HybridRetriever, LexicalRetriever
from cairn.store.postgres import PostgresStore
from cairn.store.postgres.copy import copy_store
from cairn.store.postgres.store import EF_GROWS_PAST
from cairn.store.sqlite import SQLiteStore
from cairn.testing.postgres import PostgresServer
from cairn.types import Chunk, Document, Filters
from cairn.workspace import Workspace
from latency import questions  # type: ignore[import-not-found]
from metrics import percentile  # type: ignore[import-not-found]

CACHE = Path(__file__).parent / ".cache" / "pg-search"
_SENTENCE = re.compile(r"(?<=[.!?])\s+")
STAFF = Filters(principals=("staff",))


def build(source: Path, copies: int, noise: float) -> Path:
    """The scaled SQLite store (cached by copies and noise)."""
    target = CACHE / f"x{copies}-{noise}.db"
    if target.exists():
        return target
    CACHE.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(5)
    building = target.with_suffix(".building")
    building.unlink(missing_ok=True)
    store = SQLiteStore(building)
    with closing(sqlite3.connect(f"file:{source}?mode=ro", uri=True)) as src:
        [model] = [r[0] for r in src.execute("SELECT DISTINCT model FROM embeddings")]
        vectors = {
            h: np.frombuffer(v, dtype=np.float32)
            for h, v in src.execute("SELECT hash, vector FROM embeddings")
        }
        docs = src.execute(
            "SELECT id, source, uri, title, doc_type, text FROM documents ORDER BY id"
        ).fetchall()
        chunk_rows = src.execute(
            "SELECT doc_id, ordinal, text, section, anchor, page, start, end, token_count, hash "
            "FROM chunks ORDER BY doc_id, ordinal"
        ).fetchall()
    by_doc: dict[str, list[tuple[object, ...]]] = {}
    for row in chunk_rows:
        by_doc.setdefault(str(row[0]), []).append(row)
    started = time.perf_counter()
    n = 0
    for copy in range(copies):
        for doc_id, source_path, uri, title, doc_type, text in docs:
            new_id = f"{doc_id}~{copy}"
            n += 1
            doc = Document(
                id=new_id,
                source=f"copy{copy}/{source_path}",
                uri=uri,
                title=title,
                doc_type=doc_type,
                content_hash=new_id,
                text=text,
                acl=("staff",) if n % 10 == 0 else ("others",),
            )
            chunks: list[Chunk] = []
            embeddings = {}
            for _, ordinal, body, section, anchor, page, start, end, tokens, h in by_doc.get(
                doc_id, []
            ):
                body = _rotate(str(body), copy)
                vector = vectors[str(h)]
                if copy:
                    vector = vector + rng.normal(0, noise, vector.shape).astype(np.float32)
                    vector = (vector / np.linalg.norm(vector)).astype(np.float32)
                chunk_hash = f"{h}~{copy}"
                embeddings[chunk_hash] = vector
                chunks.append(
                    Chunk(
                        id=f"{new_id}-{ordinal}",
                        doc_id=new_id,
                        ordinal=int(str(ordinal)),
                        text=body,
                        section=tuple(json.loads(str(section))),
                        anchor=None if anchor is None else str(anchor),
                        page=None if page is None else int(str(page)),
                        start=int(str(start)),
                        end=int(str(end)),
                        token_count=int(str(tokens)),
                        hash=chunk_hash,
                        source=doc.source,
                        uri=uri,
                        title=title,
                    )
                )
            store.write_document(doc, chunks, embeddings, model=model)
    print(f"built {store.stats()['chunks']} chunks in {time.perf_counter() - started:.0f} s")
    store.close()
    building.rename(target)
    return target


def _rotate(text: str, by: int) -> str:
    sentences = _SENTENCE.split(text)
    if by == 0 or len(sentences) < 2:
        return text
    k = by % len(sentences)
    return " ".join(sentences[k:] + sentences[:k])


def timed(
    case: Callable[[object, int], list[str]], store: object, i: int
) -> tuple[float, list[str]]:
    started = time.perf_counter()
    ids = case(store, i)
    return (time.perf_counter() - started) * 1000, ids


def golden_questions() -> list[str]:
    """The golden set's questions (evals/golden), none of them a latency question."""
    import yaml

    folder = Path(__file__).resolve().parent.parent / "evals" / "golden"
    return [
        case["question"]
        for path in sorted(folder.glob("*.yaml"))
        for case in yaml.safe_load(path.read_text())
        if "question" in case
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, default=Path("/work/main/.cairn"))
    parser.add_argument("--copies", type=int, default=4)
    parser.add_argument("--noise", type=float, default=0.02)
    parser.add_argument("--n", type=int, default=200)
    parser.add_argument("--dense-only", action="store_true", help="skip the lexical cases")
    parser.add_argument("--db", type=Path, help="an existing SQLite store instead of copies")
    parser.add_argument("--skip-fts", action="store_true", help="skip the FTS5-only cases")
    parser.add_argument("--maintenance-work-mem", default="1GB", help="for the HNSW build")
    parser.add_argument(
        "--url", help="a Postgres database to copy into, or holding this copy already (kept)"
    )
    parser.add_argument(
        "--questions", type=Path, help="a JSON list of questions (bench/million.py's queries.json)"
    )
    parser.add_argument(
        "--prewarm",
        action="store_true",
        help="read the HNSW index's files into the OS cache first (a server keeps it there)",
    )
    parser.add_argument(
        "--only", nargs="+", help="the cases whose label holds one of these, in this order"
    )
    parser.add_argument(
        "--warm-up",
        type=int,
        default=0,
        metavar="N",
        help="before each case, N other questions (the golden set's), as a server in steady "
        "state has answered others before; default: the case's first 10 measured questions",
    )
    args = parser.parse_args()

    path = args.db or build(args.source / "cairn.db", args.copies, args.noise)
    ws = Workspace(load_settings(workspace=args.source))
    qs = (
        json.loads(args.questions.read_text()) if args.questions else questions(args.source, args.n)
    )
    measured = len(qs)
    if args.warm_up:  # asked after the measured ones, so their indices follow
        qs = qs + golden_questions()[: args.warm_up]
    query_vectors = ws.embedder.embed(qs)
    model = ws.embedder.name
    sqlite = SQLiteStore(path)
    truth = SQLiteStore(path, ann_threshold=10**12)  # dense: the exact scan at any size
    with contextlib.ExitStack() as stack:
        url = args.url or stack.enter_context(PostgresServer()).new_database()
        import psycopg

        with psycopg.connect(url, autocommit=True) as conn:
            name = conn.execute("SELECT current_database()").fetchone()[0]  # type: ignore[index]
            conn.execute(
                f"ALTER DATABASE {name} SET maintenance_work_mem = '{args.maintenance_work_mem}'"
            )
        pg = PostgresStore(url)
        started = time.perf_counter()
        copied = copy_store(path, pg)
        print(f"copied to Postgres in {time.perf_counter() - started:.0f} s: {copied.target}")
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("VACUUM ANALYZE")
        fts = SQLiteStore(path)  # FTS5 alone, without the server's in-memory BM25
        wide = PostgresStore(url, ef_search=200)
        pg.ef_search = 100  # the two settings measured
        memory = PostgresStore(url)  # a server replica: BM25 from its in-memory postings

        def lexical(filters: Filters | None) -> Callable[[object, int], list[str]]:
            def run(store: object, i: int) -> list[str]:
                assert isinstance(store, SQLiteStore | PostgresStore)
                return [r.chunk_id for r in store.lexical_ranking(qs[i], 10, filters)]

            return run

        def dense(filters: Filters | None) -> Callable[[object, int], list[str]]:
            def run(store: object, i: int) -> list[str]:
                assert isinstance(store, SQLiteStore | PostgresStore)
                ranking = store.dense_ranking(query_vectors[i], 10, filters, model=model)
                return [r.chunk_id for r in ranking]

            return run

        exact = PostgresStore(url, exact_below=10**9)  # every filtered search exact

        def hybrid(filters: Filters | None) -> Callable[[object, int], list[str]]:
            retrievers = {
                id(store): HybridRetriever(
                    LexicalRetriever(store), DenseRetriever(store, ws.embedder)
                )
                for store in (sqlite, memory)
            }

            def run(store: object, i: int) -> list[str]:
                return [h.chunk.id for h in retrievers[id(store)].retrieve(qs[i], 5, filters)]

            return run

        def beam(ef: int) -> int:  # the store's ef_search at this size, without filters
            n = int(copied.target["chunks"])
            grown = math.ceil(ef * n / EF_GROWS_PAST) if n > EF_GROWS_PAST else ef
            return min(1000, max(ef, grown))

        cases = [
            ("lexical (SQLite: in memory)", sqlite, pg, lexical(None)),
            ("lexical (SQLite: FTS5)", fts, pg, lexical(None)),
            ("lexical, staff ACL (memory)", sqlite, pg, lexical(STAFF)),
            ("lexical, staff ACL (FTS5)", fts, pg, lexical(STAFF)),
            ("lexical, both in memory", sqlite, memory, lexical(None)),
            ("lexical, staff ACL, both in memory", sqlite, memory, lexical(STAFF)),
            (f"dense, ef_search {beam(100)}", truth, pg, dense(None)),
            (f"dense, ef_search {beam(200)}", truth, wide, dense(None)),
            ("dense, staff ACL (HNSW, ef scaled)", truth, wide, dense(STAFF)),
            ("dense, staff ACL, exact scan", truth, exact, dense(STAFF)),
            ("hybrid k=5 (both BM25 in memory)", sqlite, memory, hybrid(None)),
            ("hybrid k=5, staff ACL (in memory)", sqlite, memory, hybrid(STAFF)),
        ]
        if args.dense_only:
            cases = [c for c in cases if c[0].startswith("dense")]
        if args.skip_fts:
            cases = [c for c in cases if "FTS5" not in c[0]]
        if args.only:
            cases = [c for part in args.only for c in cases if part in c[0]]
        if args.prewarm:  # as pg_prewarm would (not bundled): the index's files, read once
            with psycopg.connect(url, autocommit=True) as conn:
                folder = Path(str(conn.execute("SHOW data_directory").fetchone()[0]))  # type: ignore[index]
                files = [
                    str(r[0])
                    for r in conn.execute(
                        "SELECT pg_relation_filepath(name::regclass) FROM vector_indexes"
                    )
                ]
            started, read = time.perf_counter(), 0
            for name in files:
                for part in sorted(folder.glob(name + "*")):  # 1 GB segments: name, name.1, ...
                    if part.name == Path(name).name or part.name.startswith(Path(name).name + "."):
                        with part.open("rb") as f:
                            while chunk := f.read(1 << 24):
                                read += len(chunk)
            print(
                f"HNSW index read into the OS cache: {read / 1e6:,.0f} MB in "
                f"{time.perf_counter() - started:.0f} s"
            )
        if any("memory" in c[0] for c in cases):  # the two servers' in-memory BM25
            sqlite.keep_bm25_in_memory(wait=True)
            started = time.perf_counter()
            memory.keep_bm25_in_memory(wait=True)
            print(f"Postgres in-memory BM25 built in {time.perf_counter() - started:.0f} s")
        print(
            f"\n{measured} queries, k = 10, {copied.target['chunks']} chunks\n"
            f"{'search':34} {'SQLite p50':>10} {'p95':>7} {'Postgres p50':>12} {'p95':>7} "
            f"{'p50 ratio':>9} {'recall@10':>9}"
        )
        for label, lite, postgres, case in cases:
            warm = range(measured, len(qs)) if args.warm_up else range(10)
            for store in (lite, postgres):  # warm up
                for i in warm:
                    case(store, i)
            lite_ms, pg_ms, same = [], [], 0.0
            for i in range(measured):
                a_ms, a = timed(case, lite, i)
                b_ms, b = timed(case, postgres, i)
                lite_ms.append(a_ms)
                pg_ms.append(b_ms)
                same += len(set(a) & set(b)) / max(len(a), 1)
            print(
                f"{label:34} {percentile(lite_ms, 50):10.1f} {percentile(lite_ms, 95):7.1f} "
                f"{percentile(pg_ms, 50):12.1f} {percentile(pg_ms, 95):7.1f} "
                f"{percentile(pg_ms, 50) / percentile(lite_ms, 50):9.1f} {same / measured:9.3f}"
            )
        wide.close()
        memory.close()
        exact.close()
        fts.close()
        pg.close()
    truth.close()
    sqlite.close()
    ws.close()


if __name__ == "__main__":
    main()
