"""Schema migrations of the Postgres store (component `store` in `cairn_schema`), applied
in order under the migration lock of `cairn.pg.PgDatabase`. Append new steps; never edit a
released one."""

from __future__ import annotations

TOKENIZE = "porter unicode61 remove_diacritics 2"
"""The lexical tokenizer, the SQLite store's (FTS5's), run in process at write and query
time (`cairn.store.postgres.tokens`), so both backends index the same tokens."""

MIGRATIONS: tuple[str, ...] = (
    # 1: documents, chunks, embeddings (pgvector), postings for BM25, the generation
    """
    CREATE EXTENSION IF NOT EXISTS vector;

    CREATE TABLE store_meta (key TEXT PRIMARY KEY, value BIGINT NOT NULL);
    INSERT INTO store_meta VALUES ('generation', 0);

    CREATE TABLE documents (
        id TEXT PRIMARY KEY,
        source TEXT NOT NULL,
        uri TEXT NOT NULL,
        title TEXT NOT NULL,
        doc_type TEXT NOT NULL,
        content_hash TEXT NOT NULL,
        text TEXT NOT NULL,
        metadata JSONB NOT NULL DEFAULT '{}',
        tags JSONB NOT NULL DEFAULT '[]',
        acl JSONB NOT NULL DEFAULT '[]',
        ingested_at DOUBLE PRECISION NOT NULL
    );
    CREATE INDEX documents_source ON documents (source);
    CREATE INDEX documents_acl ON documents USING gin (acl);

    CREATE TABLE chunks (
        rowid BIGSERIAL PRIMARY KEY,
        id TEXT NOT NULL UNIQUE,
        doc_id TEXT NOT NULL REFERENCES documents (id) ON DELETE CASCADE,
        ordinal INTEGER NOT NULL,
        text TEXT NOT NULL,
        section JSONB NOT NULL,
        anchor TEXT,
        page INTEGER,
        start_at INTEGER NOT NULL,
        end_at INTEGER NOT NULL,
        token_count INTEGER NOT NULL,
        hash TEXT NOT NULL,
        simhash BIGINT NOT NULL,
        dup_of BIGINT REFERENCES chunks (rowid),
        length INTEGER NOT NULL DEFAULT 0,
        UNIQUE (doc_id, ordinal)
    );
    CREATE INDEX chunks_doc ON chunks (doc_id);
    CREATE INDEX chunks_hash ON chunks (hash);
    CREATE INDEX chunks_dup ON chunks (dup_of);

    CREATE TABLE embeddings (
        model TEXT NOT NULL,
        hash TEXT NOT NULL,
        vector vector NOT NULL,
        PRIMARY KEY (model, hash)
    );
    CREATE TABLE vector_indexes (
        model TEXT PRIMARY KEY,
        dim INTEGER NOT NULL,
        name TEXT NOT NULL
    );

    CREATE TABLE postings (
        term TEXT NOT NULL,
        chunk BIGINT NOT NULL REFERENCES chunks (rowid) ON DELETE CASCADE,
        nh INTEGER NOT NULL,
        nb INTEGER NOT NULL,
        len INTEGER NOT NULL,
        pos_h INTEGER[] NOT NULL,
        pos_b INTEGER[] NOT NULL,
        PRIMARY KEY (term, chunk) INCLUDE (nh, nb, len)
    );
    CREATE INDEX postings_chunk ON postings (chunk);
    -- a term's postings, with the chunk's length, are read from the index alone (positions
    -- only for phrases)
    """,
    # 2: the injection risk of every chunk (cairn.guard) and its quarantine state
    # (0: none, 1: quarantined, kept but not indexed (no postings), 2: released by an admin)
    """
    ALTER TABLE chunks
        ADD COLUMN risk_score DOUBLE PRECISION,
        ADD COLUMN risk_flagged BOOLEAN NOT NULL DEFAULT FALSE,
        ADD COLUMN risk_reasons JSONB NOT NULL DEFAULT '[]',
        ADD COLUMN quarantine SMALLINT NOT NULL DEFAULT 0;
    CREATE INDEX chunks_quarantine ON chunks (quarantine) WHERE quarantine != 0;
    """,
    # 3: postings are the store's own index, written and deleted with their chunks by the
    # store; a foreign key checked for every posting cost more than the rest of a write
    # (bench/pg_ingest.py)
    """
    ALTER TABLE postings DROP CONSTRAINT IF EXISTS postings_chunk_fkey;
    """,
)
