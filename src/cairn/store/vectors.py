"""An exact in-memory vector index over the store's embeddings.

Exact search with one matrix-vector product: on the Python docs (about 10k chunks x 384
dimensions) it takes about a millisecond, recall is 1.0 by construction, and there is no
index file to keep consistent with the database. An ANN index pays off only well beyond
this size (see docs/architecture.md). The product runs on one BLAS thread: it is memory
bound, and BLAS threads fighting onnxruntime's spinning threads for two cores made it 2-10x
slower (measured in bench/retrieval.py).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from threadpoolctl import threadpool_limits

Vector = npt.NDArray[np.float32]


class VectorIndex:
    def __init__(self, rowids: npt.NDArray[np.int64], matrix: Vector) -> None:
        self.rowids = rowids
        self.matrix = matrix
        self._position = {int(r): i for i, r in enumerate(rowids)}

    def __len__(self) -> int:
        return len(self.rowids)

    def search(
        self, vector: Vector, k: int, allowed: set[int] | None = None
    ) -> list[tuple[int, float]]:
        """Top `k` (rowid, cosine) pairs, optionally restricted to `allowed` rowids."""
        if len(self.rowids) == 0 or k <= 0:
            return []
        with threadpool_limits(1, "blas"):
            return self._search(vector, k, allowed)

    def _search(self, vector: Vector, k: int, allowed: set[int] | None) -> list[tuple[int, float]]:
        if allowed is not None:
            positions = np.fromiter(
                (self._position[r] for r in allowed if r in self._position), dtype=np.int64
            )
            if len(positions) == 0:
                return []
            scores = self.matrix[positions] @ vector
            ids = self.rowids[positions]
        else:
            scores = self.matrix @ vector
            ids = self.rowids
        k = min(k, len(scores))
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.argsort(-scores[top], kind="stable")]
        return [(int(ids[i]), float(scores[i])) for i in top]
