"""The document list the API shows, and who may read a document, asked of the `Store`."""

from __future__ import annotations

from typing import Any

from cairn.store.base import Store


class DocumentCatalog:
    def __init__(self, store: Store) -> None:
        self.store = store

    def documents(self, principal: str | None) -> list[dict[str, Any]]:
        """Documents readable by `principal` (public ones and its own); all when None."""
        infos = self.store.documents(None if principal is None else (principal,))
        return [
            {
                "id": d.id,
                "source": d.source,
                "title": d.title,
                "doc_type": d.doc_type,
                "chunks": d.chunk_count,
            }
            for d in infos
        ]

    def acl(self, doc_id: str) -> tuple[str, ...] | None:
        """The document's principals (empty: everyone), or None when there is no such
        document."""
        info = self.store.document_info(doc_id)
        return None if info is None else info.acl


def readable(acl: tuple[str, ...], principal: str | None) -> bool:
    """Whether a caller with this principal (None: local mode, no ACL) may read."""
    return principal is None or not acl or principal in acl
