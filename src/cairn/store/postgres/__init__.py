"""The Postgres store: documents, chunks and postings in tables, embeddings in pgvector
with an HNSW index per embedding model (`pip install 'cairn[postgres]'`).

Opened through `cairn.store.open_store` with a `postgresql://` store URL.
"""

from cairn.store.postgres.store import PostgresStore

__all__ = ["PostgresStore"]
