"""An exact in-memory vector index over the store's embeddings.

Exact search with one matrix-vector product: on the Python docs (about 22k chunks x 384
dimensions) it takes about a millisecond, recall is 1.0 by construction, and there is no
index file to keep consistent with the database. Past `store.ann_threshold` vectors the
SQLite store uses the approximate index of `cairn.store.ann` instead (docs/architecture.md).
The product runs on one BLAS thread: it is memory bound, and BLAS threads fighting
onnxruntime's spinning threads for two cores made it 2-10x slower (measured in
bench/retrieval.py).
"""

from __future__ import annotations

import functools
import threading
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
from threadpoolctl import ThreadpoolController

Vector = npt.NDArray[np.float32]
Mask = npt.NDArray[np.bool_]


@functools.cache
def _threadpools() -> ThreadpoolController:
    # Finding the BLAS libraries takes 0.5 ms; do it once, not on every search.
    return ThreadpoolController()


class Masks:
    """Boolean masks over an index's rows for sets of allowed rowids, the last few kept:
    the same tenant filter comes with every request of that tenant."""

    def __init__(self, rowids: npt.NDArray[np.int64], keep: int = 64) -> None:
        self._rowids = rowids
        self._keep = keep
        self._masks: OrderedDict[frozenset[int], Mask] = OrderedDict()
        self._lock = threading.Lock()

    def of(self, allowed: frozenset[int]) -> Mask:
        with self._lock:
            found = self._masks.get(allowed)
            if found is not None:
                self._masks.move_to_end(allowed)
                return found
        wanted = np.fromiter(allowed, dtype=np.int64, count=len(allowed))
        mask = np.isin(self._rowids, wanted, assume_unique=True)
        mask.flags.writeable = False
        with self._lock:
            self._masks[allowed] = mask
            while len(self._masks) > self._keep:
                self._masks.popitem(last=False)
        return mask


class VectorIndex:
    def __init__(self, rowids: npt.NDArray[np.int64], ids: Sequence[str], matrix: Vector) -> None:
        self.rowids = rowids
        self.ids = list(ids)
        self.matrix = matrix
        self.masks = Masks(rowids)

    @classmethod
    def from_rows(cls, rows: Sequence[Sequence[Any]]) -> VectorIndex:
        """From (rowid, chunk id, float32 vector bytes) rows."""
        rowids = np.array([r[0] for r in rows], dtype=np.int64)
        matrix = (
            np.frombuffer(b"".join(r[2] for r in rows), dtype=np.float32).reshape(len(rows), -1)
            if rows
            else np.zeros((0, 1), dtype=np.float32)
        )
        return cls(rowids, [r[1] for r in rows], matrix)

    def search(self, vector: Vector, k: int, mask: Mask | None = None) -> list[tuple[str, float]]:
        """Top `k` (chunk id, cosine) pairs, best first, among the rows `mask` keeps."""
        if len(self.rowids) == 0 or k <= 0:
            return []
        with _threadpools().limit(limits=1, user_api="blas"):
            scores = self.matrix @ vector
        if mask is not None:
            candidates = np.flatnonzero(mask)
            if len(candidates) == 0:
                return []
            scores = scores[candidates]
        else:
            candidates = None
        k = min(k, len(scores))
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.argsort(-scores[top], kind="stable")]
        rows = top if candidates is None else candidates[top]
        return [(self.ids[int(r)], float(scores[t])) for r, t in zip(rows, top, strict=True)]
