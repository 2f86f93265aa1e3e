"""A pgvector index built once over a model's vectors against the same index kept up write by
write, on the Postgres cairn bundles, in the same run.

    PYTHONPATH=src .venv/bin/python bench/pg_index_build.py [--source .cairn/cairn.db]

The vectors are the Python docs workspace's (`--source`, all-MiniLM-L6-v2, 22,829 of them).
Printed: the seconds `CREATE INDEX` and `CREATE INDEX CONCURRENTLY` take over all of them
(what `PostgresStore.loading` does at a bulk load's end), and the seconds the same
vectors take to insert `--batch` at a time into a table that has the index (what each
write does otherwise) or none, each as a ratio to the one-off build.
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from cairn.store.postgres.store import HNSW_SMALL
from cairn.testing.postgres import PostgresServer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--source", type=Path, default=Path(".cairn/cairn.db"))
    parser.add_argument("--model", default="all-MiniLM-L6-v2-int8pc")
    parser.add_argument("--batch", type=int, default=40, help="vectors per insert (a document)")
    args = parser.parse_args()
    import psycopg

    with sqlite3.connect(args.source) as db:
        rows = db.execute("SELECT vector FROM embeddings WHERE model = ?", (args.model,))
        vectors = [np.frombuffer(r[0], dtype=np.float32) for r in rows]
    if not vectors:
        raise SystemExit(f"no vectors of {args.model} in {args.source}")
    dim = len(vectors[0])
    texts = ["[" + ",".join(f"{x:.7g}" for x in v) + "]" for v in vectors]
    n = len(texts)
    m, ef_construction = HNSW_SMALL
    index = (
        f"USING hnsw ((v::vector({dim})) vector_cosine_ops) "
        f"WITH (m = {m}, ef_construction = {ef_construction})"
    )
    print(
        f"{n} vectors of {dim} dimensions ({args.model}), HNSW m={m} ef_construction="
        f"{ef_construction}, inserts of {args.batch}"
    )
    timings: dict[str, float] = {}
    with PostgresServer() as server, psycopg.connect(server.new_database(), autocommit=True) as c:
        c.execute("CREATE EXTENSION IF NOT EXISTS vector")
        c.execute("CREATE TABLE e (id int PRIMARY KEY, v vector)")

        def insert_all() -> float:
            started = time.perf_counter()
            for i in range(0, n, args.batch):
                c.execute(
                    "INSERT INTO e SELECT i, v::vector FROM unnest(%s::int[], %s::text[]) "
                    "AS u(i, v)",
                    (list(range(i, min(n, i + args.batch))), texts[i : i + args.batch]),
                )
            return time.perf_counter() - started

        timings["insert, no index"] = insert_all()
        for how in ("", "CONCURRENTLY"):
            started = time.perf_counter()
            c.execute(f"CREATE INDEX {how} ix ON e {index}")
            timings[f"CREATE INDEX {how}".strip() + " over all"] = time.perf_counter() - started
            c.execute("DROP INDEX ix")
        c.execute("TRUNCATE e")
        c.execute(f"CREATE INDEX ix ON e {index}")
        timings["insert into the indexed table"] = insert_all()
    base = timings["CREATE INDEX over all"]
    print(f"\n| {'step':32} | seconds | ratio to one build |")
    print(f"|{'-' * 36}|---------|--------------------|")
    for step, seconds in timings.items():
        print(f"| {step:34} | {seconds:7.2f} | {seconds / base:17.2f}x |")


if __name__ == "__main__":
    main()
