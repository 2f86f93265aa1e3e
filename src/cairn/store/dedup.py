"""Near-duplicate detection with 64-bit SimHash over word 3-shingles.

Written here rather than taken from a library because it is 30 lines over numpy, and the
candidates (datasketch's MinHash LSH) need a persistent LSH structure kept in step with the
database; comparing one hash against ~10k canonical hashes is a vectorised XOR + popcount.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

import numpy as np

_WORD = re.compile(r"\w+")
_MASK = (1 << 64) - 1


def simhash(text: str) -> int:
    words = _WORD.findall(text.lower())
    shingles = {" ".join(words[i : i + 3]) for i in range(max(1, len(words) - 2))} or {""}
    hashes = np.array(
        [
            int.from_bytes(hashlib.blake2b(s.encode(), digest_size=8).digest(), "big")
            for s in shingles
        ],
        dtype=np.uint64,
    )
    bits = (hashes[:, None] >> np.arange(64, dtype=np.uint64)) & np.uint64(1)
    votes = 2 * bits.astype(np.int64).sum(axis=0) - len(hashes)
    return int(sum(1 << i for i in range(64) if votes[i] > 0))


def to_signed(value: int) -> int:
    """SQLite integers are signed 64-bit."""
    return value - (1 << 64) if value >= 1 << 63 else value


def hamming_within(
    hashes: np.ndarray[Any, np.dtype[np.uint64]], value: int, bits: int
) -> int | None:
    """Index of the first hash within `bits` bit flips of `value`, or None."""
    x = np.bitwise_xor(hashes, np.uint64(value & _MASK))
    counts = np.bitwise_count(x)
    hits = np.flatnonzero(counts <= bits)
    return int(hits[0]) if len(hits) else None
