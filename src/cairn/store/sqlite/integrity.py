"""SQLite's own integrity check plus cairn's invariants over the lexical index."""

from __future__ import annotations

import sqlite3


def integrity_problems(db: sqlite3.Connection) -> list[str]:
    """Problems found (empty when healthy)."""
    problems: list[str] = []
    result = db.execute("PRAGMA integrity_check").fetchone()[0]
    if result != "ok":
        problems.append(f"sqlite integrity_check: {result}")
    fts_extra = db.execute(
        "SELECT COUNT(*) FROM chunks_fts f LEFT JOIN chunks c ON c.rowid = f.rowid "
        "WHERE c.rowid IS NULL OR c.dup_of IS NOT NULL OR c.quarantine = 1"
    ).fetchone()[0]
    fts_missing = db.execute(
        "SELECT COUNT(*) FROM chunks c LEFT JOIN chunks_fts f ON f.rowid = c.rowid "
        "WHERE c.dup_of IS NULL AND c.quarantine != 1 AND f.rowid IS NULL"
    ).fetchone()[0]
    orphans = db.execute(
        "SELECT COUNT(*) FROM chunks c LEFT JOIN documents d ON d.id = c.doc_id WHERE d.id IS NULL"
    ).fetchone()[0]
    if fts_extra:
        problems.append(f"{fts_extra} lexical index rows point to no indexed chunk")
    if fts_missing:
        problems.append(f"{fts_missing} indexed chunks are missing from the lexical index")
    if orphans:
        problems.append(f"{orphans} chunks belong to no document")
    return problems
