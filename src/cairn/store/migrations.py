"""Schema migrations for the SQLite store, applied in order; `PRAGMA user_version` records the
last one applied. Append new steps; never edit a released one."""

from __future__ import annotations

import sqlite3

from cairn.sqlite import Migration
from cairn.store.fts import indexed_body


def bump_generation(db: sqlite3.Connection) -> None:
    """Count one more change of the indexed corpus: caches keyed by generation (the in-memory
    lexical index, allowed-row sets) are rebuilt."""
    db.execute(
        "UPDATE meta SET value = CAST(CAST(value AS INTEGER) + 1 AS TEXT) WHERE key = 'generation'"
    )


def _index_identifier_parts(db: sqlite3.Connection, batch: int = 5_000) -> None:
    """Step 4: the full-text body of every indexed chunk as `indexed_body` writes it now (its
    text, then its identifiers' parts): chunks stored before identifiers were split would
    otherwise keep their bodies until their document is written again, so `getElementById`
    would not be found by "element by id" in an upgraded workspace. Reads `batch` chunks at a
    time (a large store's text does not fit in memory at once) and bumps the generation
    when it changes anything."""
    changed, after = False, -1
    while rows := db.execute(
        "SELECT c.rowid, c.text, f.body FROM chunks c JOIN chunks_fts f ON f.rowid = c.rowid "
        "WHERE c.rowid > ? ORDER BY c.rowid LIMIT ?",
        (after, batch),
    ).fetchall():
        for rowid, text, body in rows:
            wanted = indexed_body(text)
            if wanted != body:
                db.execute("UPDATE chunks_fts SET body = ? WHERE rowid = ?", (wanted, rowid))
                changed = True
        after = rows[-1][0]
    if changed:
        bump_generation(db)


MIGRATIONS: tuple[Migration, ...] = (
    # 1: documents, chunks, embeddings, lexical index, metadata
    """
    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    INSERT INTO meta VALUES ('generation', '0');

    CREATE TABLE documents (
        id TEXT PRIMARY KEY,
        source TEXT NOT NULL,
        uri TEXT NOT NULL,
        title TEXT NOT NULL,
        doc_type TEXT NOT NULL,
        content_hash TEXT NOT NULL,
        text TEXT NOT NULL,
        metadata TEXT NOT NULL DEFAULT '{}',
        tags TEXT NOT NULL DEFAULT '[]',
        acl TEXT NOT NULL DEFAULT '[]',
        ingested_at REAL NOT NULL
    );

    CREATE TABLE chunks (
        rowid INTEGER PRIMARY KEY,
        id TEXT NOT NULL UNIQUE,
        doc_id TEXT NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
        ordinal INTEGER NOT NULL,
        text TEXT NOT NULL,
        section TEXT NOT NULL,
        anchor TEXT,
        page INTEGER,
        start INTEGER NOT NULL,
        end INTEGER NOT NULL,
        token_count INTEGER NOT NULL,
        hash TEXT NOT NULL,
        simhash INTEGER NOT NULL,
        dup_of INTEGER REFERENCES chunks(rowid),
        UNIQUE (doc_id, ordinal)
    );
    CREATE INDEX documents_source ON documents(source);
    CREATE INDEX chunks_doc ON chunks(doc_id);
    CREATE INDEX chunks_hash ON chunks(hash);
    CREATE INDEX chunks_dup ON chunks(dup_of);

    CREATE TABLE embeddings (
        model TEXT NOT NULL,
        hash TEXT NOT NULL,
        vector BLOB NOT NULL,
        PRIMARY KEY (model, hash)
    ) WITHOUT ROWID;

    CREATE VIRTUAL TABLE chunks_fts USING fts5(
        heading, body, tokenize = 'porter unicode61 remove_diacritics 2'
    );
    """,
    # 2: the injection risk of every chunk (cairn.guard) and its quarantine state
    # (0: none, 1: quarantined, kept but not indexed, 2: released by an admin)
    """
    ALTER TABLE chunks ADD COLUMN risk_score REAL;
    ALTER TABLE chunks ADD COLUMN risk_flagged INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE chunks ADD COLUMN risk_reasons TEXT NOT NULL DEFAULT '[]';
    ALTER TABLE chunks ADD COLUMN quarantine INTEGER NOT NULL DEFAULT 0;
    CREATE INDEX chunks_quarantine ON chunks(quarantine) WHERE quarantine != 0;
    """,
    # 3: a log of the chunks entering or leaving the indexed set (kept by triggers, so every
    # write path and every process is covered), which the approximate vector index
    # (cairn.store.ann) replays to stay in step; and an id telling this store's files apart
    """
    INSERT OR IGNORE INTO meta VALUES ('store_id', lower(hex(randomblob(16))));
    CREATE TABLE vector_log (seq INTEGER PRIMARY KEY AUTOINCREMENT, chunk INTEGER NOT NULL);
    CREATE TRIGGER vector_log_insert AFTER INSERT ON chunks
        WHEN NEW.dup_of IS NULL AND NEW.quarantine != 1
        BEGIN INSERT INTO vector_log (chunk) VALUES (NEW.rowid); END;
    CREATE TRIGGER vector_log_delete AFTER DELETE ON chunks
        WHEN OLD.dup_of IS NULL AND OLD.quarantine != 1
        BEGIN INSERT INTO vector_log (chunk) VALUES (OLD.rowid); END;
    CREATE TRIGGER vector_log_update AFTER UPDATE OF dup_of, quarantine ON chunks
        WHEN (OLD.dup_of IS NULL AND OLD.quarantine != 1)
            != (NEW.dup_of IS NULL AND NEW.quarantine != 1)
        BEGIN INSERT INTO vector_log (chunk) VALUES (NEW.rowid); END;
    """,
    # 4: identifiers' parts in the full-text body of chunks stored before they were indexed
    _index_identifier_parts,
)
