"""`Filters` as Postgres SQL over `documents d` (`%s` placeholders)."""

from __future__ import annotations

from typing import Any

from cairn.types import Filters


def principals_sql(principals: tuple[str, ...] | None) -> tuple[str, list[Any]]:
    """`AND ...` keeping documents readable by `principals` (public ones and those naming
    one of them); nothing when None."""
    if principals is None:
        return "", []
    return "AND (d.acl = '[]'::jsonb OR d.acl ?| %s::text[])", [list(principals)]


def filter_sql(filters: Filters | None, doc_ids: list[str] | None = None) -> tuple[str, list[Any]]:
    """`AND ...` clauses for every filter; the source globs as `doc_ids`, the documents
    whose source matches them (None: no glob filter), matched in Python with fnmatch."""
    clauses: list[str] = []
    params: list[Any] = []
    if filters is not None and not filters.empty:
        if filters.doc_types:
            clauses.append("d.doc_type = ANY(%s::text[])")
            params.append(list(filters.doc_types))
        if filters.tags:
            clauses.append("d.tags ?& %s::text[]")
            params.append(list(filters.tags))
        if filters.languages:
            clauses.append("d.metadata->>'language' = ANY(%s::text[])")
            params.append(list(filters.languages))
        if filters.date_from is not None:  # ISO dates compare as text; undated drop out
            clauses.append("substr(d.metadata->>'date', 1, 10) COLLATE \"C\" >= %s")
            params.append(filters.date_from[:10])
        if filters.date_to is not None:
            clauses.append("substr(d.metadata->>'date', 1, 10) COLLATE \"C\" <= %s")
            params.append(filters.date_to[:10])
        readers, more = principals_sql(filters.principals)
        if readers:
            clauses.append(readers.removeprefix("AND "))
            params.extend(more)
    if doc_ids is not None:
        clauses.append("d.id = ANY(%s::text[])")
        params.append(doc_ids)
    if not clauses:
        return "", []
    return "AND " + " AND ".join(clauses), params
