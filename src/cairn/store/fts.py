"""Turning a free-text question into an FTS5 query."""

from __future__ import annotations

import re

# A short English stop list (Lucene's default set plus question words). Removing these from
# queries keeps OR-queries from matching every chunk; documents are indexed unchanged.
STOPWORDS = frozenset(
    """a an and are as at be but by for if in into is it no not of on or such that the their
    then there these they this to was will with what which who whom whose when where why how
    do does did can could should would i me my we our you your he she his her its them those
    am been being have has had having from about than so very s t just also any all""".split()  # noqa: SIM905
)

_WORD = re.compile(r"\w+", re.UNICODE)
MAX_TERMS = 32


def query_terms(text: str) -> list[str]:
    """Lower-cased word tokens of `text` without stop words, first occurrence order, deduped."""
    seen: dict[str, None] = {}
    for word in _WORD.findall(text.lower()):
        if word not in STOPWORDS and word not in seen:
            seen[word] = None
    terms = list(seen)
    if not terms:  # a query made only of stop words still deserves an answer
        terms = list(dict.fromkeys(_WORD.findall(text.lower())))
    return terms[:MAX_TERMS]


def fts_match(text: str) -> str | None:
    """An FTS5 MATCH expression: the query's terms, quoted, OR-ed together."""
    terms = query_terms(text)
    if not terms:
        return None
    return " OR ".join('"' + t.replace('"', '""') + '"' for t in terms)
