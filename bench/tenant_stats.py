"""What tenant-scoped BM25 statistics cost: memory, build time and search latency of a
tenant's lexical query, scoped (N, n(t), avgdl over what the tenant may read) against the
global statistics every query used before, in the same run, on the same database.

The corpus: an HTML tree (the Python docs by default) ingested once into a cached store
with the hashing embedder (lexical ranking never reads vectors), then its documents dealt
out: every other one public, the rest to `--tenants` tenants in turn. Queries: those of
bench/latency.py, each asked by the next tenant in turn (principals `tenant:N`).

    PYTHONPATH=src .venv/bin/python bench/tenant_stats.py [--source DIR] [--n 200]
"""

from __future__ import annotations

import argparse
import gc
import json
import shutil
import sqlite3
import statistics
import time
from contextlib import closing
from pathlib import Path

from cairn.config import Settings
from cairn.embed.hashing import HashingEmbedder, WhitespaceTokenizer
from cairn.ingest.pipeline import ingest
from cairn.store import bm25
from cairn.store.bm25 import BM25Index
from cairn.store.sqlite import SQLiteStore
from cairn.types import Filters
from latency import questions  # type: ignore[import-not-found]

CACHE = Path(__file__).parent / ".cache" / "tenant-stats"


class GlobalStatsStore(SQLiteStore):
    """The path before scoped statistics: a tenant's filter restricts the candidates only."""

    def _scope(self, filters: Filters | None, generation: int) -> frozenset[int] | None:
        return None


def build(source: Path, tenants: int) -> Path:
    """The ingested corpus with documents dealt to tenants (cached by source)."""
    base = CACHE / "base.db"
    if not base.exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        embedder = HashingEmbedder(dim=32)
        store = SQLiteStore(CACHE / "building.db")
        started = time.perf_counter()
        report = ingest(
            [source],
            store=store,
            embedder=embedder,
            tokenizer=WhitespaceTokenizer(),
            settings=Settings(workspace=CACHE),
        )
        store.close()
        print(f"ingested {report.chunks} chunks in {time.perf_counter() - started:.0f} s")
        (CACHE / "building.db").rename(base)
    target = CACHE / f"tenants-{tenants}" / "cairn.db"
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(base, target)
    with closing(sqlite3.connect(target)) as db:
        ids = [r[0] for r in db.execute("SELECT id FROM documents ORDER BY id")]
        for i, doc_id in enumerate(ids):
            acl = [] if i % 2 == 0 else [f"tenant:{(i // 2) % tenants}"]
            db.execute("UPDATE documents SET acl = ? WHERE id = ?", (json.dumps(acl), doc_id))
        db.execute("UPDATE meta SET value = CAST(CAST(value AS INTEGER) + 1 AS TEXT)")
        db.commit()
    return target


def percentiles(ms: list[float]) -> tuple[float, float]:
    ordered = sorted(ms)
    return statistics.median(ordered), ordered[int(0.95 * (len(ordered) - 1))]


def timed(store: SQLiteStore, qs: list[str], filters: list[Filters | None]) -> list[float]:
    out = []
    for q, f in zip(qs, filters, strict=True):
        t = time.perf_counter()
        store.lexical_ranking(q, 50, f)
        out.append((time.perf_counter() - t) * 1000)
    return out


def paired(
    a: SQLiteStore, b: SQLiteStore, qs: list[str], filters: list[Filters | None], repeats: int
) -> tuple[list[float], list[float]]:
    """Per query, the median of `repeats` timings of each store, taken in turn (a busy
    machine slows both alike)."""
    out_a, out_b = [], []
    for q, f in zip(qs, filters, strict=True):
        ta, tb = [], []
        for _ in range(repeats):
            ta += timed(a, [q], [f])
            tb += timed(b, [q], [f])
        out_a.append(statistics.median(ta))
        out_b.append(statistics.median(tb))
    return out_a, out_b


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--source", type=Path, default=Path("/usr/share/doc/python3.11/html"))
    parser.add_argument("--tenants", type=int, default=10)
    parser.add_argument("--n", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=5, help="timings per query and path")
    args = parser.parse_args()
    path = build(args.source, args.tenants)
    qs = questions(path.parent, args.n)
    tenant = [Filters(principals=(f"tenant:{i % args.tenants}",)) for i in range(len(qs))]
    public = [Filters(principals=())] * len(qs)
    nobody: list[Filters | None] = [None] * len(qs)
    with closing(sqlite3.connect(path)) as db:
        chunks = db.execute("SELECT COUNT(*) FROM chunks_fts").fetchone()[0]
        docs = db.execute("SELECT COUNT(*) FROM documents").fetchone()[0]
    print(f"{docs} documents, {chunks} indexed chunks, {args.tenants} tenants, {len(qs)} queries")

    # memory and build time of the in-memory index: the scoped one also keeps f(t, d) per
    # posting (`counts`); the global one is the same build without keeping it
    builds: dict[str, list[float]] = {"global": [], "scoped": []}
    compact = bm25._compact
    for _ in range(3):
        for name in ("global", "scoped"):
            bm25._compact = compact if name == "scoped" else lambda f: f[:0]
            gc.collect()
            t = time.perf_counter()
            index = BM25Index.build(path, "chunks_fts", (1.0, 1.0))
            builds[name].append(time.perf_counter() - t)
            index.tokenizer.close()
    bm25._compact = compact
    arrays = [index.rowids, index._postings, index._factors, index._length]
    before = sum(a.nbytes for a in arrays)
    extra = index._counts.nbytes
    g_build, s_build = statistics.median(builds["global"]), statistics.median(builds["scoped"])
    print("\n| in-memory index | global statistics | scoped statistics | ratio |")
    print("|---|---|---|---|")
    print(
        f"| arrays (MB) | {before / 1e6:.1f} | {(before + extra) / 1e6:.1f} | "
        f"{(before + extra) / before:.2f} |"
    )
    print(f"| build (s, median of 3) | {g_build:.2f} | {s_build:.2f} | {s_build / g_build:.2f} |")

    rows = []
    for memory in (True, False):
        scoped = SQLiteStore(path)
        global_ = GlobalStatsStore(path)
        if memory:
            for s in (scoped, global_):
                s.keep_bm25_in_memory(wait=True)
        # first query of each tenant on a fresh store: its readable set, masks, lengths
        firsts = {}
        for name, s in (("global", global_), ("scoped", scoped)):
            firsts[name] = timed(s, qs[: args.tenants], tenant[: args.tenants])
        for s in (global_, scoped):  # warm caches once
            timed(s, qs, tenant)
        where = "in-memory" if memory else "FTS5"
        for label, filters in (("tenant", tenant), ("public only", public), ("no ACL", nobody)):
            g, sc = paired(global_, scoped, qs, filters, args.repeats)
            g50, g95 = percentiles(g)
            s50, s95 = percentiles(sc)
            rows.append(
                f"| {where} | {label} | {g50:.2f} / {g95:.2f} | {s50:.2f} / {s95:.2f} | "
                f"{s95 / g95:.2f} |"
            )
        f_g, f_s = statistics.mean(firsts["global"]), statistics.mean(firsts["scoped"])
        rows.append(
            f"| {where} | tenant, first query (cold caches) | {f_g:.1f} (mean) | "
            f"{f_s:.1f} (mean) | {f_s / f_g:.2f} |"
        )
        scoped.close()
        global_.close()
    print(
        "\n| path | caller | global p50 / p95 (ms) | scoped p50 / p95 (ms) | p95 ratio |"
        f"  (median of {args.repeats} per query)"
    )
    print("|---|---|---|---|---|")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
