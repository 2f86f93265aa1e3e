"""Stemmed content words, shared by the extractive answerer and the citation verifier."""

from __future__ import annotations

import re
from functools import lru_cache

from cairn.store.fts import STOPWORDS

_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*|\d+(?:\.\d+)*")


@lru_cache(maxsize=1)
def _stemmer() -> object:
    import snowballstemmer

    return snowballstemmer.stemmer("english")


@lru_cache(maxsize=65536)
def _stem(word: str) -> str:
    return str(_stemmer().stemWord(word))  # type: ignore[attr-defined]


def content_terms(text: str) -> list[str]:
    """Lower-cased, stemmed words without stop words; identifiers split on `.` and `_` too."""
    out: list[str] = []
    for word in _WORD.findall(text):
        low = word.lower()
        parts = [low, *low.split("_")] if "_" in low else [low]
        for part in parts:
            if part and part not in STOPWORDS:
                out.append(_stem(part))
    return out
