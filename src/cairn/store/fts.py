"""Turning a free-text question into an FTS5 query, and a chunk into the text it is indexed by."""

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


_IDENTIFIER = re.compile(r"\b[A-Za-z][A-Za-z0-9]*(?:[a-z0-9][A-Z]|[A-Z][A-Z][a-z])[A-Za-z0-9]*\b")
"""A word with an upper-case letter after a lower-case letter or digit, or an acronym
before a capitalised word: `getElementById`, `readInto`, `HTTPResponse`, `utf8Decode`."""
_PART = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|\d+")


def identifier_parts(text: str) -> str:
    """The parts of each camelCase or PascalCase identifier in `text`, one identifier's parts
    per line (`getElementById` -> `get element by id`), each identifier once; empty when
    there are none. Indexed after a chunk's body so BM25 finds `getElementById` by "element
    by id" as well as by its whole name (`snake_case` needs nothing: FTS5's tokenizer
    already splits at `_`)."""
    seen: dict[str, None] = {}
    for match in _IDENTIFIER.finditer(text):
        parts = _PART.findall(match.group(0))
        if len(parts) > 1:
            seen.setdefault(" ".join(p.lower() for p in parts), None)
    return "\n".join(seen)


def indexed_body(text: str) -> str:
    """What the full-text index holds for a chunk: its text, then its identifiers' parts."""
    parts = identifier_parts(text)
    return f"{text}\n{parts}" if parts else text
