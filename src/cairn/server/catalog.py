"""The document list the API shows, with each document's ACL.

`Store` has no call listing documents with their titles, types and ACLs, so this reads the
store's `documents` and `chunks` tables through a read-only connection of its own (WAL lets
it read while the store writes). It never writes.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from pathlib import Path
from typing import Any


class DocumentCatalog:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._db = sqlite3.connect(
            f"{path.resolve().as_uri()}?mode=ro", uri=True, check_same_thread=False, timeout=30.0
        )

    def documents(self, principal: str | None) -> list[dict[str, Any]]:
        """Documents readable by `principal` (public ones and its own); all when None."""
        where, params = _visible(principal)
        with self._lock:
            rows = self._db.execute(
                "SELECT d.id, d.source, d.title, d.doc_type, "
                "(SELECT COUNT(*) FROM chunks c WHERE c.doc_id = d.id) "
                f"FROM documents d {where} ORDER BY d.source, d.id",
                params,
            ).fetchall()
        return [
            {"id": r[0], "source": r[1], "title": r[2], "doc_type": r[3], "chunks": r[4]}
            for r in rows
        ]

    def acl(self, doc_id: str) -> tuple[str, ...] | None:
        """The document's principals (empty: everyone), or None when there is no such
        document."""
        with self._lock:
            row = self._db.execute("SELECT acl FROM documents WHERE id = ?", (doc_id,)).fetchone()
        return None if row is None else tuple(json.loads(row[0]))

    def close(self) -> None:
        with self._lock:
            self._db.close()


def readable(acl: tuple[str, ...], principal: str | None) -> bool:
    """Whether a caller with this principal (None: local mode, no ACL) may read."""
    return principal is None or not acl or principal in acl


def _visible(principal: str | None) -> tuple[str, tuple[str, ...]]:
    if principal is None:
        return "", ()
    return (
        "WHERE d.acl = '[]' OR EXISTS (SELECT 1 FROM json_each(d.acl) WHERE value = ?)",
        (principal,),
    )
