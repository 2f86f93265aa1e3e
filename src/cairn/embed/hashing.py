"""`HashingEmbedder`: a deterministic, dependency-free embedder for tests and examples.

Words are hashed into `dim` buckets (signed), so texts sharing words get similar vectors.
It is not a semantic model; use it where the real model's start-up would only slow a test.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence

import numpy as np

from cairn.embed.base import Vectors

_WORD = re.compile(r"\w+")


class HashingEmbedder:
    name = "hashing-test"

    def __init__(self, dim: int = 64) -> None:
        self.dim = dim
        self.calls: list[list[str]] = []
        """Every `embed` call's texts, in order (for tests of caching)."""

    def embed(self, texts: Sequence[str]) -> Vectors:
        self.calls.append(list(texts))
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in _WORD.findall(text.lower()):
                digest = hashlib.blake2b(word.encode(), digest_size=8).digest()
                bucket = int.from_bytes(digest[:4], "big") % self.dim
                out[row, bucket] += 1.0 if digest[4] & 1 else -1.0
            norm = float(np.linalg.norm(out[row]))
            out[row] = out[row] / norm if norm else out[row]
            if not norm:
                out[row, 0] = 1.0
        return out


class WhitespaceTokenizer:
    """Counts whitespace-separated words; pairs with `HashingEmbedder` in tests."""

    def count(self, text: str) -> int:
        return len(text.split())

    def offsets(self, text: str) -> list[tuple[int, int]]:
        return [(m.start(), m.end()) for m in re.finditer(r"\S+", text)]
