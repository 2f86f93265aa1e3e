"""The near-duplicate policy: chunks whose 64-bit SimHash (over word 3-shingles) is within
a few bits of an indexed chunk readable by exactly the same principals are stored but not
indexed. Decided here, before the write, so every store backend only keeps fingerprints.

SimHash is written here rather than taken from a library because it is 30 lines over numpy,
and the candidates (datasketch's MinHash LSH) need a persistent LSH structure kept in step
with the database; comparing one hash against ~10k stored ones is a vectorised XOR +
popcount.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from cairn.store.base import NearDuplicates, Store
from cairn.types import Chunk, Document

_WORD = re.compile(r"\w+")
_MASK = (1 << 64) - 1

MIN_TOKENS = 32
"""Only chunks at least this long are compared; short ones ("Return the value.")
legitimately repeat."""


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


def hamming_within(
    hashes: np.ndarray[Any, np.dtype[np.uint64]], value: int, bits: int
) -> int | None:
    """Index of the first hash within `bits` bit flips of `value`, or None."""
    x = np.bitwise_xor(hashes, np.uint64(value & _MASK))
    counts = np.bitwise_count(x)
    hits = np.flatnonzero(counts <= bits)
    return int(hits[0]) if len(hits) else None


@dataclass(frozen=True)
class NearDuplicateFinder:
    """Finds the near-duplicates of a document's chunks among the stored ones and among its
    own earlier chunks. `bits == 0` turns the policy off (fingerprints are still kept)."""

    bits: int = 3
    min_tokens: int = MIN_TOKENS

    def find(self, store: Store, document: Document, chunks: Sequence[Chunk]) -> NearDuplicates:
        """The near-duplicates among `chunks`, the new version of `document`. Its stored
        version is left out: that one is replaced by this write, and its chunk ids are reused
        (an edit that shifts the text would otherwise mark chunks duplicates of themselves)."""
        fingerprints = {c.id: simhash(c.text) for c in chunks if c.token_count >= self.min_tokens}
        if self.bits == 0 or not fingerprints:
            return NearDuplicates(fingerprints=fingerprints)
        stored = store.fingerprints(document.acl, excluding=document.id)
        stored_ids = list(stored)
        stored_values = np.fromiter(stored.values(), dtype=np.uint64, count=len(stored))
        own_ids: list[str] = []
        own_values: list[int] = []
        duplicate_of: dict[str, str] = {}
        for chunk_id, value in fingerprints.items():
            match = hamming_within(stored_values, value, self.bits)
            if match is not None:
                duplicate_of[chunk_id] = stored_ids[match]
                continue
            match = hamming_within(np.array(own_values, dtype=np.uint64), value, self.bits)
            if match is not None:
                duplicate_of[chunk_id] = own_ids[match]
                continue
            own_ids.append(chunk_id)
            own_values.append(value)
        return NearDuplicates(fingerprints=fingerprints, duplicate_of=duplicate_of)
