"""The embedding contract."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

Vectors = npt.NDArray[np.float32]
"""A `(n, dim)` float32 matrix of L2-normalised rows."""


@runtime_checkable
class Tokenizer(Protocol):
    """Counts and cuts text in the embedding model's own tokens (used by the chunker)."""

    def count(self, text: str) -> int: ...

    def offsets(self, text: str) -> list[tuple[int, int]]:
        """Character span of every token, in order."""
        ...


@runtime_checkable
class Embedder(Protocol):
    """Turns texts into L2-normalised vectors; rows of the result match `texts`."""

    name: str
    """Identifies the model; embeddings from different names never mix in one index."""
    dim: int

    def embed(self, texts: Sequence[str]) -> Vectors: ...
