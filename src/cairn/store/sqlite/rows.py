"""Rows of the `chunks` and `documents` tables as cairn's value types."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from cairn.types import Chunk, Document, Risk

CHUNK_COLUMNS = (
    "c.rowid, c.id, c.doc_id, c.ordinal, c.text, c.section, c.anchor, c.page, c.start, c.end, "
    "c.token_count, c.hash, d.source, d.uri, d.title, c.risk_score, c.risk_flagged, "
    "c.risk_reasons"
)
DOCUMENT_COLUMNS = "id, source, uri, title, doc_type, content_hash, text, metadata, tags, acl"


def chunk_of(row: Sequence[Any]) -> Chunk:
    """A `CHUNK_COLUMNS` row as a `Chunk`."""
    return Chunk(
        id=row[1],
        doc_id=row[2],
        ordinal=row[3],
        text=row[4],
        section=tuple(json.loads(row[5])),
        anchor=row[6],
        page=row[7],
        start=row[8],
        end=row[9],
        token_count=row[10],
        hash=row[11],
        source=row[12],
        uri=row[13],
        title=row[14],
        risk=risk_of(row[15], row[16], row[17]),
    )


def risk_of(score: float | None, flagged: int, reasons: str) -> Risk | None:
    """The stored risk columns as a `Risk` (None: never scanned)."""
    if score is None:
        return None
    return Risk(score=float(score), flagged=bool(flagged), reasons=tuple(json.loads(reasons)))


def risk_columns(risk: Risk | None) -> tuple[float | None, int, str]:
    """`(risk_score, risk_flagged, risk_reasons)` of a chunk's risk."""
    if risk is None:
        return None, 0, "[]"
    return risk.score, int(risk.flagged), json.dumps(list(risk.reasons))


def document_of(row: Sequence[Any]) -> Document:
    """A `DOCUMENT_COLUMNS` row as a `Document`."""
    return Document(
        id=row[0],
        source=row[1],
        uri=row[2],
        title=row[3],
        doc_type=row[4],
        content_hash=row[5],
        text=row[6],
        metadata=json.loads(row[7]),
        tags=tuple(json.loads(row[8])),
        acl=tuple(json.loads(row[9])),
    )


def heading(title: str, section: tuple[str, ...]) -> str:
    """The text indexed in the lexical index's heading column."""
    return " ".join((title, *section))
