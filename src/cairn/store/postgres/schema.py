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
    # 4: a document's write as one function call, so it is one statement in one round trip
    # (its own transaction: it takes the store's writer lock, and turns synchronous_commit
    # off for itself unless asked to be durable): replace the stored version, insert the
    # document, the new vectors, the chunks (each a duplicate of the first indexed chunk
    # readable by exactly the same principals with its text, else of the near-duplicate
    # target ingest found) and the postings of the indexed ones. It returns {indexed,
    # duplicates, quarantined, the new generation, then 1 for each chunk indexed, else 0},
    # or NULL without writing anything when a chunk of the stored
    # version is the canonical of a duplicate elsewhere (the store then hands its place on,
    # in Python).
    """
    CREATE OR REPLACE FUNCTION cairn_write_document(
        a_doc_id TEXT, a_source TEXT, a_uri TEXT, a_title TEXT, a_doc_type TEXT,
        a_content_hash TEXT, a_text TEXT, a_metadata JSONB, a_tags JSONB, a_acl JSONB,
        a_at DOUBLE PRECISION, a_model TEXT, a_vector_hashes TEXT[], a_vectors vector[],
        a_ids TEXT[], a_ordinals INTEGER[], a_texts TEXT[], a_sections TEXT[],
        a_anchors TEXT[], a_pages INTEGER[], a_starts INTEGER[], a_ends INTEGER[],
        a_tokens INTEGER[], a_hashes TEXT[], a_simhashes BIGINT[], a_lengths INTEGER[],
        a_risk_scores DOUBLE PRECISION[], a_risk_flags BOOLEAN[], a_risk_reasons TEXT[],
        a_held BOOLEAN[], a_near TEXT[], a_p_chunks INTEGER[], a_p_terms TEXT[],
        a_p_nh INTEGER[], a_p_nb INTEGER[], a_p_pos_h TEXT[], a_p_pos_b TEXT[],
        a_lock TEXT, a_durable BOOLEAN
    ) RETURNS INTEGER[] LANGUAGE plpgsql AS $fn$
    DECLARE
        n INTEGER := COALESCE(array_length(a_ids, 1), 0);
        rowids BIGINT[] := '{}';
        indexed BOOLEAN[] := '{}';
        counts INTEGER[] := ARRAY[0, 0, 0];
        dup BIGINT;
        r BIGINT;
        missing INTEGER;
    BEGIN
        PERFORM pg_advisory_xact_lock(hashtext(a_lock));
        IF NOT a_durable THEN
            PERFORM set_config('synchronous_commit', 'off', true);
        END IF;
        IF EXISTS (SELECT 1 FROM chunks c JOIN chunks h ON h.dup_of = c.rowid
                   AND h.doc_id != c.doc_id WHERE c.doc_id = a_doc_id AND c.dup_of IS NULL) THEN
            RETURN NULL;
        END IF;
        SELECT COUNT(*) INTO missing FROM (SELECT DISTINCT x.h FROM unnest(a_hashes) AS x(h)) y
        WHERE NOT (y.h = ANY(a_vector_hashes)) AND NOT EXISTS
            (SELECT 1 FROM embeddings e WHERE e.model = a_model AND e.hash = y.h);
        IF missing > 0 THEN
            RAISE EXCEPTION USING ERRCODE = 'CN001', MESSAGE = missing::text;
        END IF;
        DELETE FROM postings
        WHERE chunk IN (SELECT c.rowid FROM chunks c WHERE c.doc_id = a_doc_id);
        DELETE FROM chunks c WHERE c.doc_id = a_doc_id;
        DELETE FROM documents d WHERE d.id = a_doc_id;
        INSERT INTO documents (id, source, uri, title, doc_type, content_hash, text, metadata,
            tags, acl, ingested_at)
        VALUES (a_doc_id, a_source, a_uri, a_title, a_doc_type, a_content_hash, a_text,
            a_metadata, a_tags, a_acl, a_at);
        INSERT INTO embeddings (model, hash, vector)
        SELECT a_model, v.h, v.t FROM unnest(a_vector_hashes, a_vectors) AS v(h, t)
        ON CONFLICT DO NOTHING;
        FOR i IN 1..n LOOP
            dup := NULL;
            IF NOT a_held[i] THEN
                SELECT c.rowid INTO dup FROM chunks c JOIN documents d ON d.id = c.doc_id
                WHERE c.hash = a_hashes[i] AND c.dup_of IS NULL AND c.quarantine != 1
                    AND d.acl = a_acl
                ORDER BY c.rowid LIMIT 1;
                IF dup IS NULL AND a_near[i] IS NOT NULL THEN
                    SELECT CASE WHEN c.doc_id = a_doc_id THEN COALESCE(c.dup_of, c.rowid)
                        ELSE c.rowid END INTO dup
                    FROM chunks c JOIN documents d ON d.id = c.doc_id
                    WHERE c.id = a_near[i] AND c.quarantine != 1
                        AND (c.doc_id = a_doc_id OR (c.dup_of IS NULL AND d.acl = a_acl));
                END IF;
            END IF;
            INSERT INTO chunks (id, doc_id, ordinal, text, section, anchor, page, start_at,
                end_at, token_count, hash, simhash, length, risk_score, risk_flagged,
                risk_reasons, quarantine, dup_of)
            VALUES (a_ids[i], a_doc_id, a_ordinals[i], a_texts[i], a_sections[i]::jsonb,
                a_anchors[i], a_pages[i], a_starts[i], a_ends[i], a_tokens[i], a_hashes[i],
                a_simhashes[i], a_lengths[i], a_risk_scores[i], a_risk_flags[i],
                a_risk_reasons[i]::jsonb, CASE WHEN a_held[i] THEN 1 ELSE 0 END, dup)
            RETURNING rowid INTO r;
            rowids := rowids || r;
            indexed := indexed || (NOT a_held[i] AND dup IS NULL);
            IF a_held[i] THEN
                counts[3] := counts[3] + 1;
            ELSIF dup IS NULL THEN
                counts[1] := counts[1] + 1;
            ELSE
                counts[2] := counts[2] + 1;
            END IF;
        END LOOP;
        INSERT INTO postings (term, chunk, nh, nb, len, pos_h, pos_b)
        SELECT p.t, rowids[p.ci], p.h, p.b, a_lengths[p.ci], p.ph::int[], p.pb::int[]
        FROM unnest(a_p_chunks, a_p_terms, a_p_nh, a_p_nb, a_p_pos_h, a_p_pos_b)
            AS p(ci, t, h, b, ph, pb)
        WHERE indexed[p.ci];
        UPDATE store_meta SET value = value + 1 WHERE key = 'generation' RETURNING value INTO r;
        RETURN counts || r::integer || (SELECT array_agg(CASE WHEN x THEN 1 ELSE 0 END ORDER BY o)
            FROM unnest(indexed) WITH ORDINALITY AS u(x, o));
    END
    $fn$;
    """,
    # 5: who builds a model's vector index: a lease its builder renews while the build runs,
    # taken over once it lapses (a builder that crashed); safe behind PgBouncer, where a
    # session advisory lock is not (`cairn.store.postgres.store._index_builder`)
    """
    CREATE TABLE IF NOT EXISTS index_builds (
        model TEXT PRIMARY KEY,
        holder TEXT NOT NULL,
        until TIMESTAMPTZ NOT NULL
    );
    """,
)
