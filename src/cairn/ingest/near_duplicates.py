"""The near-duplicate policy: chunks whose 64-bit SimHash (over word 3-shingles) is within
a few bits of an indexed chunk readable by exactly the same principals, under the same
heading, are stored but not indexed. Decided here, before the write, so every store backend
only keeps fingerprints.

The heading matters because reference documentation repeats itself on purpose: the entries
`math.isclose` and `cmath.isclose`, `bz2.BZ2Decompressor.decompress` and
`lzma.LZMADecompressor.decompress`, `Message.get_all` and `EmailMessage.get_all` differ in
a word or two of text, and on the text alone the second of each was hidden behind the first
(57 chunks of the Python 3.11 docs), so a question about `math.isclose` was answered from
and cited to `cmath.isclose`. Two chunks repeat each other only when their last headings,
the entry or section each one documents, are the same (or both have none: copies of a plain
text file), as the exact-duplicate rule already requires of the whole heading path.

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


def hamming_matches(
    hashes: np.ndarray[Any, np.dtype[np.uint64]], value: int, bits: int
) -> list[int]:
    """Indices of every hash within `bits` bit flips of `value`, in order."""
    x = np.bitwise_xor(hashes, np.uint64(value & _MASK))
    return [int(i) for i in np.flatnonzero(np.bitwise_count(x) <= bits)]


def last_heading(chunk: Chunk) -> str:
    """The entry or section a chunk documents: its last heading, normalised ("" for none)."""
    last = chunk.section[-1] if chunk.section else ""
    return " ".join(last.split()).casefold()


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
        matches = {
            chunk_id: [stored_ids[i] for i in hamming_matches(stored_values, value, self.bits)]
            for chunk_id, value in fingerprints.items()
        }
        # the last headings of this document's chunks and of the stored chunks that matched,
        # those read in one call (matches are rare)
        headings = {c.id: last_heading(c) for c in chunks}
        wanted = sorted({i for ids in matches.values() for i in ids})
        headings |= {c.id: last_heading(c) for c in store.get_chunks(wanted)} if wanted else {}
        own_ids: list[str] = []
        own_values: list[int] = []
        duplicate_of: dict[str, str] = {}
        for chunk_id, value in fingerprints.items():
            own = hamming_matches(np.array(own_values, dtype=np.uint64), value, self.bits)
            candidates = [*matches[chunk_id], *(own_ids[i] for i in own)]  # stored ones first
            target = next((i for i in candidates if headings.get(i) == headings[chunk_id]), None)
            if target is not None:
                duplicate_of[chunk_id] = target
                continue
            own_ids.append(chunk_id)
            own_values.append(value)
        return NearDuplicates(fingerprints=fingerprints, duplicate_of=duplicate_of)
