"""What the in-memory BM25 index adds to a process: build time, resident memory after the
build and the peak, for one SQLite store, in a fresh process.

    .venv/bin/python bench/bm25_memory.py .cairn/cairn.db [LABEL]
    PYTHONPATH=src .venv/bin/python bench/bm25_memory.py postgresql://... [LABEL]

(a Postgres store's URL: the copy of its postings a server replica keeps, built as
`PostgresStore.keep_bm25_in_memory` builds it, the store opened before `before` is read).

Run it once per checkout to compare two versions of the code on the same store (each in its
own process, so each RSS is its own): `PYTHONPATH=<checkout>/src .venv/bin/python ...`.

`--rebuild`: then build it again while the first is held, as the server does after a change
(the old index serves until the new one is ready), and print what that second build adds at
its peak.
"""

from __future__ import annotations

import resource
import sys
import time
from pathlib import Path


def rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS"):
                return int(line.split()[1]) / 1024
    return 0.0


def main() -> None:
    from cairn.store.bm25 import BM25Index

    args = [a for a in sys.argv[1:] if a != "--rebuild"]
    label = args[1] if len(args) > 1 else "build"
    if args[0].startswith("postgresql://"):
        from cairn.store.postgres import PostgresStore
        from cairn.store.postgres.memory import build

        store = PostgresStore(args[0])
        store.generation()  # the pool's first connection, before the measure
        before = rss_mb()
        started = time.perf_counter()
        index = build(store._db, 1.0, store._query_tokens)
    else:
        db = Path(args[0])
        before = rss_mb()
        started = time.perf_counter()
        index = BM25Index.build(db, "chunks_fts", (1.0, 1.0))
    seconds = time.perf_counter() - started
    after = rss_mb()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    top = index.rank(["open", "file", "read"], 5) or []
    print(
        f"{label}: {len(index.rowids):,} chunks, build {seconds:.1f} s, RSS before "
        f"{before:.0f} MB, after {after:.0f} MB (+{after - before:.0f}), peak {peak:.0f} MB "
        f"(+{peak - before:.0f}); top hit {top[0][0] if top else None}"
    )
    if "--rebuild" in sys.argv and not args[0].startswith("postgresql://"):
        held = rss_mb()
        again = BM25Index.build(Path(args[0]), "chunks_fts", (1.0, 1.0), index.tokenizer)
        peak_again = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(
            f"{label} rebuilt while the first is held: RSS {held:.0f} MB before, "
            f"{rss_mb():.0f} MB with both, peak {peak_again:.0f} MB "
            f"(+{peak_again - held:.0f} over the first index alone)"
        )
        del again


if __name__ == "__main__":
    main()
