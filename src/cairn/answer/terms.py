"""Stemmed content words, shared by the extractive answerer and the citation verifier."""

from __future__ import annotations

import re
import threading
from functools import lru_cache

from cairn.store.fts import STOPWORDS

_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*|\d+(?:\.\d+)*")


_local = threading.local()


def _stemmer() -> object:
    """One Snowball stemmer per thread: its objects keep state and are not thread-safe
    (shared across server threads they corrupted words under load)."""
    stemmer = getattr(_local, "stemmer", None)
    if stemmer is None:
        import snowballstemmer

        stemmer = _local.stemmer = snowballstemmer.stemmer("english")
    return stemmer


@lru_cache(maxsize=65536)
def stem(word: str) -> str:
    """The English Snowball stem of a lower-cased word (thread-safe, cached)."""
    return str(_stemmer().stemWord(word))  # type: ignore[attr-defined]


def content_terms(text: str) -> list[str]:
    """Lower-cased, stemmed words without stop words; identifiers split on `.` and `_` too."""
    out: list[str] = []
    for word in _WORD.findall(text):
        low = word.lower()
        parts = [low, *low.split("_")] if "_" in low else [low]
        for part in parts:
            if part and part not in STOPWORDS:
                out.append(stem(part))
    return out
