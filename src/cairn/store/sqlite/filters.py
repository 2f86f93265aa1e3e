"""`Filters` as SQL over `documents d`, and source globs matched with fnmatch.

Source globs are matched in Python (`fnmatch.fnmatchcase`), not with SQLite's `GLOB`, whose
sets differ (`[!a]` is "! or a" there, `[^a]` is a negation) from the fnmatch syntax that
`Filters.source_globs` documents.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from fnmatch import translate
from functools import lru_cache
from typing import Any

from cairn.types import Filters


def filter_sql(filters: Filters | None) -> tuple[str, list[Any]]:
    """`AND ...` clauses for every filter but the source globs, and their parameters."""
    if filters is None or filters.empty:
        return "", []
    clauses: list[str] = []
    params: list[Any] = []
    if filters.doc_types:
        clauses.append(f"d.doc_type IN ({','.join('?' * len(filters.doc_types))})")
        params.extend(filters.doc_types)
    for tag in filters.tags:
        clauses.append("EXISTS (SELECT 1 FROM json_each(d.tags) WHERE value = ?)")
        params.append(tag)
    if filters.languages:
        marks = ",".join("?" * len(filters.languages))
        clauses.append(f"json_extract(d.metadata, '$.language') IN ({marks})")
        params.extend(filters.languages)
    if filters.date_from is not None:  # ISO dates compare as text; undated documents drop out
        clauses.append("substr(json_extract(d.metadata, '$.date'), 1, 10) >= ?")
        params.append(filters.date_from[:10])
    if filters.date_to is not None:
        clauses.append("substr(json_extract(d.metadata, '$.date'), 1, 10) <= ?")
        params.append(filters.date_to[:10])
    if filters.principals is not None:
        marks = ",".join("?" * len(filters.principals)) or "NULL"
        clauses.append(
            f"(d.acl = '[]' OR EXISTS (SELECT 1 FROM json_each(d.acl) WHERE value IN ({marks})))"
        )
        params.extend(filters.principals)
    if not clauses:
        return "", []
    return "AND " + " AND ".join(clauses), params


def source_matcher(globs: Sequence[str]) -> Callable[[str], bool] | None:
    """A test that a source matches any of `globs` (fnmatch, case-sensitive); None when there
    are no globs."""
    if not globs:
        return None
    return _compiled(tuple(globs))


@lru_cache(maxsize=256)
def _compiled(globs: tuple[str, ...]) -> Callable[[str], bool]:
    pattern = re.compile("|".join(f"(?:{translate(g)})" for g in globs))

    def matches(source: str) -> bool:
        return pattern.match(source) is not None

    return matches
