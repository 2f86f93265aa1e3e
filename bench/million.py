"""The embedded default (SQLite) at a million chunks: hybrid search latency, the approximate
vector index's recall@10 against the exact scan (also under a 10%-selective ACL filter), RSS
and build time, next to the exact in-memory scan, in the same run on the same set.

The set, built honestly without nine hours of embedding: every chunk with its real
all-MiniLM-L6-v2 vector from the Python docs workspace (22,829 chunks; `--source`) and the
shared datasets' bench workspaces (SciFact, MuSiQue, HotpotQA, XQuAD, Anthropic docs; 8,539
chunks; `--extra`), taken again and again until `--n` chunks. Copy 0 is a source as it is;
copy j of a chunk rotates its sentences by j, drops one when it has three or more, and
half of the time borrows a sentence from another chunk of the same source; its vector is the
real one blended 15% towards the borrowed chunk's vector when it borrowed, plus Gaussian
noise (sigma `--noise` per dimension), renormalised. One document in ten is readable by
`staff`, the others by `others`: `principals=("staff",)` is a 10%-selective ACL filter.
Written through the store's own `write_document` (one transaction per document) and kept in
bench/.cache/million. Queries: bench/latency.py's questions, embedded with the real model.

Each configuration runs in its own process (so its RSS is its own): `exact` (the exact
scan, `store.ann_threshold` above the corpus) and `ann` (the usearch index, threshold 0; its
first build timed, then its load from the workspace in a fresh process). The exact scan's
top 10 are the ground truth for recall.

    nice -n 19 .venv/bin/python bench/million.py [--n 1000000] [--queries 200]
"""

from __future__ import annotations

import argparse
import json
import random
import re
import resource
import shutil
import sqlite3
import subprocess
import sys
import time
from contextlib import closing
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from cairn.store.sqlite import SQLiteStore
from cairn.types import Chunk, Document, Filters

CACHE = Path(__file__).parent / ".cache" / "million"
_SENTENCE = re.compile(r"(?<=[.!?])\s+")
STAFF = Filters(principals=("staff",))
DEFAULT_EXTRA = tuple(
    sorted(str(p) for p in Path("/work/bench-cache").glob("*/cairn.db"))
    if Path("/work/bench-cache").exists()
    else ()
)


class Source:
    """One workspace's documents, chunks and real vectors."""

    def __init__(self, path: Path) -> None:
        with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
            models = [r[0] for r in db.execute("SELECT DISTINCT model FROM embeddings")]
            if len(models) != 1:
                raise SystemExit(f"{path}: expected vectors of one model, found {models}")
            self.model = models[0]
            self.vectors = {
                h: np.frombuffer(v, dtype=np.float32)
                for h, v in db.execute("SELECT hash, vector FROM embeddings")
            }
            self.docs = db.execute(
                "SELECT id, source, uri, title, doc_type, text FROM documents ORDER BY id"
            ).fetchall()
            rows = db.execute(
                "SELECT doc_id, ordinal, text, section, anchor, page, start, end, token_count, "
                "hash FROM chunks ORDER BY doc_id, ordinal"
            ).fetchall()
        self.name = path.parent.name
        self.by_doc: dict[str, list[tuple[Any, ...]]] = {}
        for row in rows:
            self.by_doc.setdefault(str(row[0]), []).append(row)
        self.texts = [(str(r[2]), str(r[9])) for r in rows]


def _vary(text: str, copy: int, rng: random.Random, other: str) -> tuple[str, bool]:
    """Copy `copy` of a chunk's text, and whether it borrowed a sentence from `other`."""
    sentences = _SENTENCE.split(text)
    if copy == 0:
        return text, False
    if len(sentences) >= 2:
        k = copy % len(sentences)
        sentences = sentences[k:] + sentences[:k]
    if len(sentences) >= 3:
        del sentences[copy % len(sentences)]
    borrowed = rng.random() < 0.5
    if borrowed:
        pool = _SENTENCE.split(other)
        sentences.insert(rng.randrange(len(sentences) + 1), rng.choice(pool))
    return " ".join(sentences), borrowed


def build(n: int, source: Path, extra: list[Path], noise: float) -> Path:
    """The SQLite store of about `n` chunks (cached by n and noise)."""
    target = CACHE / f"n{n}-{noise}.db"
    if target.exists():
        return target
    CACHE.mkdir(parents=True, exist_ok=True)
    sources = [Source(source), *(Source(p) for p in extra)]
    models = {s.model for s in sources}
    if len(models) != 1:
        raise SystemExit(f"the sources' vectors come from different models: {models}")
    [model] = models
    building = target.with_suffix(".building")
    for stale in CACHE.glob(building.name + "*"):
        stale.unlink()
    store = SQLiteStore(building, ann_threshold=n + 1)
    rng = random.Random(5)
    nrng = np.random.default_rng(5)
    started = time.perf_counter()
    written = docs = 0
    copy = 0
    while written < n:
        for src in sources:
            for doc_id, source_path, uri, title, doc_type, text in src.docs:
                if written >= n:
                    break
                rows = src.by_doc.get(doc_id, [])
                if not rows:
                    continue
                new_id = f"{src.name}:{doc_id}~{copy}"
                docs += 1
                doc = Document(
                    id=new_id,
                    source=f"{src.name}/copy{copy}/{source_path}",
                    uri=uri,
                    title=title,
                    doc_type=doc_type,
                    content_hash=new_id,
                    text=text,
                    acl=("staff",) if docs % 10 == 0 else ("others",),
                )
                chunks: list[Chunk] = []
                embeddings: dict[str, np.ndarray[Any, np.dtype[np.float32]]] = {}
                for _, ordinal, body, section, anchor, page, start, end, tokens, h in rows:
                    other_text, other_hash = rng.choice(src.texts)
                    body, borrowed = _vary(str(body), copy, rng, other_text)
                    vector = src.vectors[str(h)]
                    if copy:
                        if borrowed:
                            vector = 0.85 * vector + 0.15 * src.vectors[other_hash]
                        vector = vector + nrng.normal(0, noise, vector.shape).astype(np.float32)
                        vector = (vector / np.linalg.norm(vector)).astype(np.float32)
                    chunk_hash = f"{h}~{src.name}~{copy}"
                    embeddings[chunk_hash] = vector
                    chunks.append(
                        Chunk(
                            id=f"{new_id}-{ordinal}",
                            doc_id=new_id,
                            ordinal=int(ordinal),
                            text=body,
                            section=tuple(json.loads(str(section))),
                            anchor=None if anchor is None else str(anchor),
                            page=None if page is None else int(page),
                            start=int(start),
                            end=int(end),
                            token_count=int(tokens),
                            hash=chunk_hash,
                            source=doc.source,
                            uri=uri,
                            title=title,
                        )
                    )
                store.write_document(doc, chunks, embeddings, model=model)
                written += len(chunks)
                if docs % 2000 == 0:
                    rate = written / (time.perf_counter() - started)
                    print(f"  {written:,} chunks, {rate:,.0f}/s", flush=True)
        copy += 1
    elapsed = time.perf_counter() - started
    print(f"built {written:,} chunks ({docs:,} documents, {copy} copies) in {elapsed:.0f} s")
    store.close()
    for suffix in ("-wal", "-shm"):
        Path(f"{building}{suffix}").unlink(missing_ok=True)
    building.rename(target)
    return target


def rss_mb() -> tuple[float, float]:
    """(current, peak) resident set size of this process in MB."""
    current = 0.0
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            current = int(line.split()[1]) / 1024
    return current, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.array(values), q))


def phase(args: argparse.Namespace) -> None:
    """One configuration in this process: times, rankings and RSS as JSON on stdout."""
    from cairn.config import load_settings
    from cairn.retrieve.hybrid import DenseRetriever, HybridRetriever, LexicalRetriever
    from cairn.workspace import Workspace

    ws = Workspace(load_settings(workspace=args.embedder_workspace))
    embedder = ws.embedder
    embedder.embed(["warm up"])
    qs = json.loads(args.queries_file.read_text())
    vectors = np.load(args.vectors_file)
    path = args.db
    threshold = {"exact": 10**12, "ann": 0, "ann-load": 0}[args.phase]
    if args.phase == "ann":
        shutil.rmtree(path.with_name(path.name + ".ann"), ignore_errors=True)
    store = SQLiteStore(path, ann_threshold=threshold, create=False)
    model = embedder.name
    out: dict[str, Any] = {"phase": args.phase, "rss_before_mb": rss_mb()[0]}
    started = time.perf_counter()
    store.dense_ranking(vectors[0], 10, model=model)
    out["index_s"] = time.perf_counter() - started
    out["rss_index_mb"] = rss_mb()[0]
    hybrid = HybridRetriever(LexicalRetriever(store), DenseRetriever(store, embedder))
    for label, filters in (("all", None), ("staff", STAFF)):
        store.dense_ranking(vectors[0], 10, filters, model=model)  # the filter's rows, cached
        ms, ids = [], []
        for v in vectors:
            t = time.perf_counter()
            ranking = store.dense_ranking(v, 10, filters, model=model)
            ms.append((time.perf_counter() - t) * 1000)
            ids.append([r.chunk_id for r in ranking])
        out[f"dense_{label}"] = {"p50": percentile(ms, 50), "p95": percentile(ms, 95), "ids": ids}
        if args.skip_hybrid or args.phase == "ann":
            continue
        hybrid.retrieve(qs[0], 5, filters)
        ms = []
        for q in qs:
            t = time.perf_counter()
            hybrid.retrieve(q, 5, filters)
            ms.append((time.perf_counter() - t) * 1000)
        out[f"hybrid_{label}"] = {"p50": percentile(ms, 50), "p95": percentile(ms, 95)}
    out["rss_end_mb"], out["rss_peak_mb"] = rss_mb()
    if args.phase == "ann-load" and not args.skip_hybrid:  # what the server adds
        started = time.perf_counter()
        store.keep_bm25_in_memory(wait=True)
        out["bm25_memory_s"] = time.perf_counter() - started
        for label, filters in (("all", None), ("staff", STAFF)):
            hybrid.retrieve(qs[0], 5, filters)
            ms = []
            for q in qs:
                t = time.perf_counter()
                hybrid.retrieve(q, 5, filters)
                ms.append((time.perf_counter() - t) * 1000)
            out[f"hybrid_bm25mem_{label}"] = {"p50": percentile(ms, 50), "p95": percentile(ms, 95)}
        out["rss_bm25mem_mb"], out["rss_bm25mem_peak_mb"] = rss_mb()
    store.close()
    (args.queries_file.parent / f"{args.phase}.json").write_text(json.dumps(out))
    print(json.dumps(out))


def run_phase(name: str, args: argparse.Namespace, db: Path, work: Path) -> dict[str, Any]:
    command = [
        sys.executable,
        __file__,
        "--phase",
        name,
        "--db",
        str(db),
        "--queries-file",
        str(work / "queries.json"),
        "--vectors-file",
        str(work / "vectors.npy"),
        "--embedder-workspace",
        str(args.embedder_workspace),
    ]
    if args.skip_hybrid:
        command.append("--skip-hybrid")
    print(f"running {name} ...", flush=True)
    done = subprocess.run(command, check=True, capture_output=True, text=True)
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def recall(got: list[list[str]], truth: list[list[str]]) -> float:
    return float(
        np.mean([len(set(g) & set(t)) / max(len(t), 1) for g, t in zip(got, truth, strict=True)])
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--source", type=Path, default=Path("/work/main/.cairn/cairn.db"))
    parser.add_argument("--extra", type=Path, nargs="*", default=[Path(p) for p in DEFAULT_EXTRA])
    parser.add_argument("--noise", type=float, default=0.02)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--embedder-workspace", type=Path, default=Path("/work/main/.cairn"))
    parser.add_argument("--build-only", action="store_true")
    parser.add_argument("--skip-hybrid", action="store_true")
    parser.add_argument("--db", type=Path, help="measure this store instead of building one")
    parser.add_argument("--report", action="store_true", help="print the last run's results")
    parser.add_argument("--phase", choices=("exact", "ann", "ann-load"), help=argparse.SUPPRESS)
    parser.add_argument("--queries-file", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--vectors-file", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase:
        phase(args)
        return
    t0 = time.perf_counter()
    db = args.db or build(args.n, args.source, args.extra, args.noise)
    build_s = time.perf_counter() - t0
    if args.build_only:
        return
    from cairn.config import load_settings
    from cairn.workspace import Workspace
    from latency import questions  # type: ignore[import-not-found]

    work = CACHE / f"run-{db.stem}"
    work.mkdir(parents=True, exist_ok=True)
    qs = questions(args.embedder_workspace, args.queries)
    if not args.report:
        ws = Workspace(load_settings(workspace=args.embedder_workspace))
        np.save(work / "vectors.npy", ws.embedder.embed(qs))
        (work / "queries.json").write_text(json.dumps(qs))
    with closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as conn:
        chunks = conn.execute("SELECT COUNT(*) FROM chunks").fetchone()[0]
        staff = conn.execute(
            "SELECT COUNT(*) FROM chunks c JOIN documents d ON d.id = c.doc_id "
            "WHERE d.acl = '[\"staff\"]'"
        ).fetchone()[0]
    print(f"{chunks:,} chunks ({staff / chunks:.1%} readable by staff), {len(qs)} queries")
    names = ("exact", "ann", "ann-load")
    if args.report:  # the phases of an earlier run, from their files
        results = {name: json.loads((work / f"{name}.json").read_text()) for name in names}
    else:
        results = {name: run_phase(name, args, db, work) for name in names}
    exact, ann, loaded = results["exact"], results["ann"], results["ann-load"]
    rows = [
        ("index ready (s): exact load / ANN build", exact["index_s"], ann["index_s"]),
        ("index ready (s): ANN load from workspace", exact["index_s"], loaded["index_s"]),
        ("RSS after warm-up (MB)", exact["rss_end_mb"], loaded["rss_end_mb"]),
        ("RSS peak (MB)", exact["rss_peak_mb"], loaded["rss_peak_mb"]),
    ]
    for label in ("all", "staff"):
        rows.append(
            (f"dense k=10 p50 ms ({label})", *(r[f"dense_{label}"]["p50"] for r in (exact, loaded)))
        )
        rows.append(
            (f"dense k=10 p95 ms ({label})", *(r[f"dense_{label}"]["p95"] for r in (exact, loaded)))
        )
        if not args.skip_hybrid:
            for q in ("p50", "p95"):
                rows.append(
                    (
                        f"hybrid k=5 {q} ms ({label})",
                        *(r[f"hybrid_{label}"][q] for r in (exact, loaded)),
                    )
                )
    print(f"\n{'(same run, ' + str(chunks) + ' chunks)':44} {'exact':>9} {'ANN':>9} {'ratio':>7}")
    for label, a, b in rows:
        print(f"{label:44} {a:9.1f} {b:9.1f} {b / a if a else float('nan'):7.2f}")
    for label in ("all", "staff"):
        truth = exact[f"dense_{label}"]["ids"]
        built = recall(ann[f"dense_{label}"]["ids"], truth)
        again = recall(loaded[f"dense_{label}"]["ids"], truth)
        print(f"ANN recall@10 vs exact ({label}): built {built:.4f}, loaded {again:.4f}")
    if "bm25_memory_s" in loaded:
        print(
            f"ANN + in-memory BM25 (the server): built in {loaded['bm25_memory_s']:.0f} s, RSS "
            f"{loaded['rss_bm25mem_mb']:.0f} MB (peak {loaded['rss_bm25mem_peak_mb']:.0f})"
        )
        for label in ("all", "staff"):
            h = loaded[f"hybrid_bm25mem_{label}"]
            print(f"  hybrid k=5 ({label}): p50 {h['p50']:.1f} ms, p95 {h['p95']:.1f} ms")
    print(f"set built in {build_s:.0f} s (0 when cached)")


if __name__ == "__main__":
    main()
