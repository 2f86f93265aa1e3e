"""Quarantine over the API: an admin lists the chunks kept out of search and releases one;
the released chunk is retrievable through `/v1/search` again; other scopes are refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from cairn.store.sqlite import SQLiteStore
from tests.server.conftest import app_client, bearer, copy_workspace, create_key, settings_for

pytestmark = pytest.mark.integration
QUERY = "json dumps indent"


def test_an_admin_lists_and_releases_quarantined_chunks(
    base_workspace: Path, tmp_path: Path
) -> None:
    ws = copy_workspace(base_workspace, tmp_path / "ws")
    with app_client(settings_for(ws)) as c:
        top = c.post("/v1/search", json={"query": QUERY, "k": 1}).json()["results"][0]
    store = SQLiteStore(ws / "cairn.db")  # as `cairn guard scan` under quarantine would
    try:
        assert store.quarantine([top["chunk_id"]]) == [top["chunk_id"]]
    finally:
        store.close()
    with app_client(settings_for(ws)) as c:
        hits = c.post("/v1/search", json={"query": QUERY, "k": 10}).json()["results"]
        assert top["chunk_id"] not in {h["chunk_id"] for h in hits}
        held = c.get("/v1/guard/quarantine")
        assert held.status_code == 200
        listed = held.json()
        assert top["chunk_id"] in {h["chunk_id"] for h in listed}
        assert {h["text"] for h in listed} == {top["text"]}  # with its duplicates, if any
        assert set(held.json()[0]) == {"chunk_id", "doc_id", "source", "section", "text", "risk"}
        r = c.post(f"/v1/guard/quarantine/{top['chunk_id']}/release")
        assert r.status_code == 200 and r.json() == {"chunk_id": top["chunk_id"], "released": True}
        assert c.get("/v1/guard/quarantine").json() == []
        hits = c.post("/v1/search", json={"query": QUERY, "k": 1}).json()["results"]
        assert hits[0]["chunk_id"] == top["chunk_id"]
        again = c.post(f"/v1/guard/quarantine/{top['chunk_id']}/release")
        assert again.status_code == 404 and again.json()["error"]["type"] == "not_found"


def test_quarantine_needs_the_admin_scope(base_workspace: Path, tmp_path: Path) -> None:
    ws = copy_workspace(base_workspace, tmp_path / "ws")
    documents = bearer(create_key(ws, "acme", "documents", "search"))
    with app_client(settings_for(ws, server={"auth": "keys"})) as c:
        for method, path in (
            ("GET", "/v1/guard/quarantine"),
            ("POST", "/v1/guard/quarantine/x-0/release"),
        ):
            r = c.request(method, path, headers=documents)
            assert r.status_code == 403 and "admin" in r.json()["error"]["message"]
