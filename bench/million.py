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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--source", type=Path, default=Path("/work/main/.cairn/cairn.db"))
    parser.add_argument("--extra", type=Path, nargs="*", default=[Path(p) for p in DEFAULT_EXTRA])
    parser.add_argument("--noise", type=float, default=0.02)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--build-only", action="store_true")
    args = parser.parse_args()
    path = build(args.n, args.source, args.extra, args.noise)
    if args.build_only:
        return
    subprocess.run([sys.executable, __file__, "--help"], check=True, capture_output=True)
    print(path)


if __name__ == "__main__":
    main()
