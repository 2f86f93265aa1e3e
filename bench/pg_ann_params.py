"""pgvector's HNSW settings at a million chunks: recall@10 against the exact scan and search
time for each build (links `m`, build beam `ef_construction`) and search beam (`ef_search`),
on bench/million.py's set and queries, the Postgres twin of bench/ann_params.py.

The vectors are read from the SQLite store (rowid, float32) and loaded with binary COPY into a
table of a Postgres started from the bundled wheel (`--url` uses one already running); each
index is built the way the store builds its own (cosine, `maintenance_work_mem` as given,
pgvector's parallel build), then searched one query at a time.

    nice -n 5 .venv/bin/python bench/pg_ann_params.py --db bench/.cache/million/n1000000-0.02.db \\
        --build 16:64 32:128 --ef 200 400 1000

Needs a finished `bench/million.py --db DB` run (its exact top 10 per query, and the query
vectors, in bench/.cache/million/run-<db name>/).
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from metrics import percentile  # type: ignore[import-not-found]


def main() -> None:
    import psycopg

    parser = argparse.ArgumentParser()
    parser.add_argument("--db", type=Path, required=True)
    parser.add_argument("--url", help="a Postgres with pgvector (default: start one)")
    parser.add_argument(
        "--build", nargs="*", default=["16:64", "32:128"], help="m:ef_construction pairs"
    )
    parser.add_argument("--ef", type=int, nargs="+", default=[200, 400, 1000])
    parser.add_argument("--maintenance-work-mem", default="8GB")
    parser.add_argument(
        "--ivf",
        nargs="+",
        default=[],
        metavar="LISTS:PROBES,PROBES",
        help="also IVFFlat builds (lists) searched with these probes, e.g. 1000:10,40",
    )
    args = parser.parse_args()
    run = args.db.parent / f"run-{args.db.stem}"
    exact = json.loads((run / "exact.json").read_text())["dense_all"]["ids"]
    queries = np.load(run / "vectors.npy")
    lite = sqlite3.connect(f"file:{args.db}?mode=ro", uri=True)
    rowid = {i: r for r, i in lite.execute("SELECT rowid, id FROM chunks")}
    truth = [[rowid[i] for i in ids] for ids in exact]
    [model] = [r[0] for r in lite.execute("SELECT DISTINCT model FROM embeddings")]
    dim = queries.shape[1]

    server = None
    url = args.url
    if url is None:
        from cairn.testing.postgres import PostgresServer

        server = PostgresServer().start()
        url = server.new_database()
    try:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
            conn.execute(f"SET maintenance_work_mem = '{args.maintenance_work_mem}'")
            have = conn.execute("SELECT to_regclass('ann_vectors')").fetchone()
            if have is None or have[0] is None:
                conn.execute(f"CREATE TABLE ann_vectors (id bigint, v vector({dim}))")
                started = time.perf_counter()
                cursor = lite.execute(
                    "SELECT c.rowid, e.vector FROM chunks c JOIN embeddings e ON e.hash = c.hash "
                    "AND e.model = ? WHERE c.dup_of IS NULL AND c.quarantine != 1",
                    (model,),
                )
                with conn.cursor().copy("COPY ann_vectors (id, v) FROM STDIN") as copy:
                    while rows := cursor.fetchmany(50_000):
                        for r, blob in rows:
                            values = np.frombuffer(blob, dtype=np.float32)
                            copy.write_row((r, "[" + ",".join(map(repr, values.tolist())) + "]"))
                conn.execute("VACUUM ANALYZE ann_vectors")
                print(f"loaded in {time.perf_counter() - started:.0f} s", flush=True)
            count = conn.execute("SELECT COUNT(*) FROM ann_vectors").fetchone()
            print(f"{count[0] if count else 0:,} vectors", flush=True)
            print(f"{'m':>3} {'ef_c':>5} {'ef':>5} {'recall@10':>9} {'p50 ms':>7} {'p95 ms':>7}")
            for build in args.build:
                m, ef_construction = (int(x) for x in build.split(":"))
                conn.execute("DROP INDEX IF EXISTS ann_hnsw")
                started = time.perf_counter()
                conn.execute(
                    f"CREATE INDEX ann_hnsw ON ann_vectors USING hnsw (v vector_cosine_ops) "
                    f"WITH (m = {m}, ef_construction = {ef_construction})"
                )
                size = conn.execute("SELECT pg_relation_size('ann_hnsw')").fetchone()
                print(
                    f"m={m} ef_construction={ef_construction}: built in "
                    f"{time.perf_counter() - started:.0f} s, "
                    f"{(size[0] if size else 0) / 1e6:,.0f} MB",
                    flush=True,
                )
                for ef in args.ef:
                    conn.execute(f"SET hnsw.ef_search = {ef}")
                    print(f"{m:3d} {ef_construction:5d} {ef:5d} {_measure(conn, queries, truth)}")
            for build in args.ivf:
                lists, probes = build.split(":")
                conn.execute("DROP INDEX IF EXISTS ann_hnsw")
                conn.execute("DROP INDEX IF EXISTS ann_ivf")
                started = time.perf_counter()
                conn.execute(
                    f"CREATE INDEX ann_ivf ON ann_vectors USING ivfflat (v vector_cosine_ops) "
                    f"WITH (lists = {int(lists)})"
                )
                size = conn.execute("SELECT pg_relation_size('ann_ivf')").fetchone()
                print(
                    f"ivfflat lists={lists}: built in {time.perf_counter() - started:.0f} s, "
                    f"{(size[0] if size else 0) / 1e6:,.0f} MB",
                    flush=True,
                )
                for probe in (int(p) for p in probes.split(",")):
                    conn.execute(f"SET ivfflat.probes = {probe}")
                    print(f"ivf {lists:>5} probes {probe:5d} {_measure(conn, queries, truth)}")
    finally:
        if server is not None:
            server.stop()


def _measure(conn: object, queries: np.ndarray, truth: list[list[int]]) -> str:
    """recall@10, p50 and p95 ms of the index as the connection's settings search it."""
    for query in queries[:10]:  # warm up
        _nearest(conn, query)
    times, recalls = [], []
    for query, want in zip(queries, truth, strict=True):
        t = time.perf_counter()
        got = _nearest(conn, query)
        times.append((time.perf_counter() - t) * 1000)
        recalls.append(len(set(got) & set(want)) / len(want))
    return f"{np.mean(recalls):9.3f} {percentile(times, 50):7.2f} {percentile(times, 95):7.2f}"


def _nearest(conn: object, query: np.ndarray) -> list[int]:
    text = "[" + ",".join(map(repr, query.tolist())) + "]"
    rows = conn.execute(  # type: ignore[attr-defined]
        "SELECT id FROM ann_vectors ORDER BY v <=> %s::vector LIMIT 10", (text,)
    ).fetchall()
    return [int(r[0]) for r in rows]


if __name__ == "__main__":
    main()
