"""An approximate nearest-neighbour index (HNSW, usearch) over one model's vectors, for
stores past `store.ann_threshold` vectors, where the exact scan costs ~1.5 GB and ~0.3 s a
query at a million 384-d vectors (bench/million.py; docs/benchmarks.md).

Vectors are kept as float16 (768 bytes at 384-d; the exact scan's float32 matrix takes
twice that) and scored by inner product, which is the cosine for the unit vectors cairn's
embedders produce and the exact scan's score. Keys are the store's integer row ids; the
store maps them back to chunk ids.

A filter (`allowed` row ids) is honoured with k results whenever k rows pass it: a selective
filter (at most `exact_rows` rows) is answered exactly from the index's own vectors; a broad
one searches for enough neighbours that k of them pass and the beam over the allowed rows
stays wide (max(2k, 384) / fraction; HNSW's beam widened to match), four times as many again
in the rare case fewer than k pass.

Saved next to the database as `<name>.ann/<model>.json` (what the file holds: model,
dimensions, the store it belongs to, the change-log position it reflects) and the index
file it names; `load` refuses (returns None) anything that does not match, and the caller
rebuilds.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import secrets
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import numpy as np
import numpy.typing as npt

from cairn.errors import ConfigError

Vector = npt.NDArray[np.float32]

FORMAT = 1
CONNECTIVITY = 32
"""HNSW's links per node (M). At a million chunks of bench/million.py's set (44 noisy copies
of each source chunk, so the true neighbours sit in tight clusters) 16 links gave recall@10
0.81-0.87 at a beam of 512 (two builds) and 0.921 at 4,096 (10.5 ms p95); 32 links give
0.941 at 512 and 0.956 at 1,024 (3.0 ms p95), for ~270 MB more at that size
(bench/ann_params.py; docs/benchmarks.md, "A million chunks, within the targets"). An index
saved with 16 keeps them until it is rebuilt."""
EXPANSION_ADD = 128
"""The beam while inserting (efConstruction)."""
EXPANSION_SEARCH = 1024
"""The beam while searching (ef); widened to the number of neighbours asked for. Recall@10
against the exact scan 0.948 at 128, 0.97 at 256, 0.996 at 512 on bench/million.py's set
at 40k chunks (~3 ms a query, 16 links); at a million chunks with 32 links 0.941 at 512,
0.956 at 1,024, 0.976 at 2,048."""
EXACT_ROWS = 2_000
"""A filter passing at most this many rows is answered exactly from the index's vectors
(reading them back costs ~12 us a row; bench/million.py)."""
OVERSAMPLE = 2.0
"""How many more neighbours than k / fraction a filtered search asks for."""
FILTERED_BEAM = 384
"""A filtered search's beam over the allowed rows: it asks for at least this many / fraction
neighbours. On bench/million.py's set at 434k chunks with a 10.8% ACL filter, recall@10
against the exact scan was 0.94 with the unfiltered beam (512 over all rows), 0.953 asking
for 2,048 (4.3 ms), 0.989 for 4,096 (9.4 ms)."""


def _usearch() -> Any:
    # usearch 2.26 loaded before onnxruntime 1.32 makes the process crash (SIGSEGV) when
    # onnxruntime is imported later (their native libraries clash); onnxruntime first is fine
    # (tests/store/test_ann.py runs both orders in a subprocess)
    with contextlib.suppress(ImportError):
        import onnxruntime  # noqa: F401
    try:
        from usearch.index import Index
    except ImportError:
        raise ConfigError(
            "the vector index past store.ann_threshold needs usearch: pip install 'cairn[ann]' "
            "(or raise store.ann_threshold above the number of chunks to keep the exact scan)"
        ) from None
    return Index


@dataclass(frozen=True, slots=True)
class Identity:
    """What an index file must match to be used."""

    model: str
    ndim: int
    store_id: str


class ApproximateIndex:
    """HNSW over (row id, vector) pairs. Safe to share between threads: searches and changes
    take turns."""

    def __init__(self, identity: Identity, index: Any, *, seq: int, removed: int = 0) -> None:
        self.identity = identity
        self._index = index
        self.seq = seq
        """The store's change-log position this index reflects."""
        self.removed = removed
        """Vectors removed since the index was built (HNSW keeps them as tombstones)."""
        self.unsaved = 0
        """Changes since the index was last saved or loaded."""
        self.exact_rows = EXACT_ROWS
        """A filter passing at most this many rows is answered exactly."""
        self._lock = threading.Lock()

    @classmethod
    def empty(cls, identity: Identity, *, seq: int) -> ApproximateIndex:
        index = _usearch()(
            ndim=identity.ndim,
            metric="ip",
            dtype="f16",
            connectivity=CONNECTIVITY,
            expansion_add=EXPANSION_ADD,
            expansion_search=EXPANSION_SEARCH,
        )
        return cls(identity, index, seq=seq)

    def __len__(self) -> int:
        return len(self._index)

    @property
    def memory_bytes(self) -> int:
        return int(self._index.memory_usage)

    def add(self, keys: npt.NDArray[np.int64], vectors: Vector) -> None:
        """Add vectors under new keys (a key already present is replaced)."""
        if len(keys) == 0:
            return
        ukeys = keys.astype(np.uint64)
        with self._lock:
            present = ukeys[self._index.contains(ukeys)]
            if len(present):
                self._index.remove(present)
                self.removed += len(present)
            self._index.add(ukeys, np.ascontiguousarray(vectors, dtype=np.float32))
            self.unsaved += len(keys)

    def remove(self, keys: npt.NDArray[np.int64]) -> None:
        """Remove these keys (absent ones are ignored)."""
        if len(keys) == 0:
            return
        ukeys = keys.astype(np.uint64)
        with self._lock:
            present = ukeys[self._index.contains(ukeys)]
            if len(present):
                self._index.remove(present)
                self.removed += len(present)
                self.unsaved += len(present)

    def search(
        self, vector: Vector, k: int, allowed: frozenset[int] | None = None
    ) -> list[tuple[int, float]]:
        """The `k` nearest (row id, inner product) pairs, best first, among `allowed` rows
        (None: every row)."""
        with self._lock:
            size = len(self._index)
            if size == 0 or k <= 0:
                return []
            query = np.ascontiguousarray(vector, dtype=np.float32)
            if allowed is None:
                return self._search(query, min(k, size))
            if not allowed:
                return []
            if len(allowed) <= self.exact_rows:
                return self._exact(query, k, allowed)
            fraction = min(1.0, len(allowed) / size)
            count = math.ceil(max(k * OVERSAMPLE, FILTERED_BEAM) / fraction) + k
            while True:
                count = min(size, count)
                found = [(key, s) for key, s in self._search(query, count) if key in allowed]
                if len(found) >= k or count == size:
                    return found[:k]
                count *= 4

    def _search(self, query: Vector, count: int) -> list[tuple[int, float]]:
        matches = self._index.search(query, count, threads=1)
        return [
            (int(key), 1.0 - float(d))
            for key, d in zip(matches.keys, matches.distances, strict=True)
        ]

    def _exact(self, query: Vector, k: int, allowed: frozenset[int]) -> list[tuple[int, float]]:
        keys = np.fromiter(allowed, dtype=np.uint64, count=len(allowed))
        keys = keys[self._index.contains(keys)]
        if len(keys) == 0:
            return []
        matrix = np.stack(self._index.get(keys, dtype="f32"))
        scores = matrix @ query
        k = min(k, len(scores))
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.argsort(-scores[top], kind="stable")]
        return [(int(keys[t]), float(scores[t])) for t in top]

    # -- files ------------------------------------------------------------------------------

    def save(self, folder: Path) -> None:
        """Write the index and its description atomically (an interrupted save leaves the
        previous files in use)."""
        folder.mkdir(parents=True, exist_ok=True)
        slug = _slug(self.identity.model)
        name = f"{slug}.{secrets.token_hex(4)}.usearch"
        with _locked(folder, exclusive=True), self._lock:
            partial = folder / f"{name}.partial"
            self._index.save(str(partial))
            os.replace(partial, folder / name)
            meta = {
                "format": FORMAT,
                "model": self.identity.model,
                "ndim": self.identity.ndim,
                "store_id": self.identity.store_id,
                "seq": self.seq,
                "count": len(self._index),
                "removed": self.removed,
                "file": name,
            }
            _write_atomically(folder / f"{slug}.json", json.dumps(meta))
            for stale in folder.glob(f"{slug}.*.usearch*"):
                if stale.name != name:
                    stale.unlink(missing_ok=True)
            self.unsaved = 0

    @classmethod
    def load(cls, folder: Path, identity: Identity) -> ApproximateIndex | None:
        """The saved index for `identity`, or None when there is none or it does not match
        (another store's, another model's, a different format, a damaged file)."""
        meta_path = folder / f"{_slug(identity.model)}.json"
        if not meta_path.exists():
            return None
        with _locked(folder, exclusive=False):
            try:
                meta = json.loads(meta_path.read_text())
                if (
                    meta.get("format") != FORMAT
                    or meta.get("model") != identity.model
                    or meta.get("ndim") != identity.ndim
                    or meta.get("store_id") != identity.store_id
                ):
                    return None
                path = folder / str(meta["file"])
                if path.parent != folder or not path.exists():
                    return None
                index = _usearch().restore(str(path))
            except (OSError, ValueError, KeyError, RuntimeError, TypeError):
                return None
        if index is None or len(index) != meta["count"] or index.ndim != identity.ndim:
            return None
        index.expansion_search = EXPANSION_SEARCH  # not kept in the file
        return cls(identity, index, seq=int(meta["seq"]), removed=int(meta.get("removed", 0)))


def _slug(model: str) -> str:
    readable = "".join(c if c.isalnum() or c in "-_" else "-" for c in model)[:40]
    return f"{readable}-{hashlib.sha256(model.encode()).hexdigest()[:8]}"


def _write_atomically(path: Path, text: str) -> None:
    partial = path.with_name(path.name + ".partial")
    partial.write_text(text)
    os.replace(partial, path)


@contextlib.contextmanager
def _locked(folder: Path, *, exclusive: bool) -> Iterator[None]:
    """A lock on the folder between processes (saves exclusive, loads shared); none where
    the platform has no `fcntl`."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        yield
        return
    folder.mkdir(parents=True, exist_ok=True)
    handle: IO[str]
    with open(folder / ".lock", "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
