"""What the in-memory BM25 index adds to a process: build time, resident memory after the
build and the peak, for one SQLite store, in a fresh process.

    .venv/bin/python bench/bm25_memory.py .cairn/cairn.db [LABEL]

Run it once per checkout to compare two versions of the code on the same store (each in its
own process, so each RSS is its own): `PYTHONPATH=<checkout>/src .venv/bin/python ...`.
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

    db = Path(sys.argv[1])
    label = sys.argv[2] if len(sys.argv) > 2 else "build"
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


if __name__ == "__main__":
    main()
