"""The embedded store: one SQLite file (WAL) holding documents, chunks, embeddings and an
FTS5 lexical index, with an exact in-memory vector index loaded from it.

Opened through `cairn.store.open_store`; nothing outside `cairn.store` names this backend.
"""

from cairn.store.sqlite.store import SQLiteStore

__all__ = ["SQLiteStore"]
