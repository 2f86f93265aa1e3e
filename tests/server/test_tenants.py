"""Keys mode: authentication, scopes, and two tenants that never see each other's documents,
traces, costs, feedback or jobs, checked route by route."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.server.conftest import (
    app_client,
    bearer,
    copy_workspace,
    create_key,
    settings_for,
    state_of,
)

pytestmark = pytest.mark.integration

SECRET_NOTE = b"# Zanzibar rollout\n\nThe zanzibar rollout password rotates every full moon.\n"
ALL = ("ask", "search", "documents", "traces", "costs", "evals")


@dataclass
class Tenants:
    client: TestClient
    a: dict[str, str]
    b: dict[str, str]
    doc_id: str
    chunk_id: str
    trace_id: str
    job_id: str


@pytest.fixture(scope="module")
def tenants(base_workspace: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Tenants]:
    ws = copy_workspace(base_workspace, tmp_path_factory.mktemp("tenants") / "ws")
    key_a = create_key(ws, "acme", *ALL, name="alice")
    key_b = create_key(ws, "globex", *ALL, name="bob")
    settings = settings_for(ws, server={"auth": "keys", "rate_limit_per_minute": 0})
    with app_client(settings) as client:
        a, b = bearer(key_a), bearer(key_b)
        upload = client.post(
            "/v1/documents", headers=a, files=[("files", ("zanzibar.md", SECRET_NOTE))]
        )
        assert upload.status_code == 202, upload.text
        state_of(client).jobs.wait(60)
        job = client.get(f"/v1/jobs/{upload.json()['id']}", headers=a).json()
        assert job["status"] == "done" and job["chunks"] == 1, job
        found = client.post("/v1/search", headers=a, json={"query": "zanzibar rollout password"})
        top = found.json()["results"][0]
        assert top["source"] == "zanzibar.md"
        answer = client.post("/v1/ask", headers=a, json={"question": "zanzibar password?"})
        yield Tenants(
            client=client,
            a=a,
            b=b,
            doc_id=top["doc_id"],
            chunk_id=top["chunk_id"],
            trace_id=answer.json()["trace_id"],
            job_id=upload.json()["id"],
        )


def test_requests_without_a_valid_key_are_refused(tenants: Tenants) -> None:
    c = tenants.client
    for headers in ({}, bearer("cairn_not-a-key"), {"Authorization": "Basic abc"}):
        r = c.post("/v1/search", headers=headers, json={"query": "json"})
        assert r.status_code == 401, headers
        assert r.json()["error"]["type"] == "unauthorized"
        assert r.headers["www-authenticate"] == "Bearer"
    assert c.get("/healthz").status_code == 200  # probes need no key
    assert c.get("/readyz").status_code == 200


def test_documents_are_invisible_to_other_tenants(tenants: Tenants) -> None:
    c, a, b = tenants.client, tenants.a, tenants.b
    mine = {d["source"] for d in c.get("/v1/documents", headers=a).json()}
    theirs = {d["source"] for d in c.get("/v1/documents", headers=b).json()}
    assert "zanzibar.md" in mine and "zanzibar.md" not in theirs
    assert "library/json.html" in theirs  # public documents are everyone's
    for mode in ("lexical", "dense", "hybrid"):
        hits = c.post(
            "/v1/search", headers=b, json={"query": "zanzibar rollout password", "mode": mode}
        ).json()["results"]
        assert all(h["source"] != "zanzibar.md" for h in hits), mode
    answer = c.post("/v1/ask", headers=b, json={"question": "zanzibar rollout password?"}).json()
    assert all(x["source"] != "zanzibar.md" for x in answer["citations"])
    assert "moon" not in answer["answer"]
    assert c.get(f"/v1/chunks/{tenants.chunk_id}", headers=b).status_code == 404
    assert c.get(f"/v1/chunks/{tenants.chunk_id}", headers=a).status_code == 200
    assert c.get(f"/v1/jobs/{tenants.job_id}", headers=b).status_code == 404
    assert c.delete(f"/v1/documents/{tenants.doc_id}", headers=b).status_code == 404


def test_chat_completions_respect_the_acl(tenants: Tenants) -> None:
    body = {"model": "cairn", "messages": [{"role": "user", "content": "zanzibar password?"}]}
    theirs = tenants.client.post("/v1/chat/completions", headers=tenants.b, json=body).json()
    assert all(x["source"] != "zanzibar.md" for x in theirs["cairn"]["citations"])
    mine = tenants.client.post("/v1/chat/completions", headers=tenants.a, json=body).json()
    assert any(x["source"] == "zanzibar.md" for x in mine["cairn"]["citations"])


def test_traces_are_the_tenants_own(tenants: Tenants) -> None:
    c = tenants.client
    mine = c.get("/v1/traces", headers=tenants.a).json()
    assert tenants.trace_id in {t["trace_id"] for t in mine}
    assert all(t["attributes"].get("tenant") == "acme" for t in mine)
    theirs = c.get("/v1/traces?limit=1000", headers=tenants.b).json()
    assert tenants.trace_id not in {t["trace_id"] for t in theirs}
    assert c.get(f"/v1/traces/{tenants.trace_id}", headers=tenants.b).status_code == 404
    trace = c.get(f"/v1/traces/{tenants.trace_id}", headers=tenants.a).json()
    assert trace["attributes"]["user"] == "alice"
    names = [s["name"] for s in trace["spans"] if not s["name"].startswith("guard.")]
    assert names[:2] == ["ask", "retrieve"]


def test_feedback_is_the_tenants_own(tenants: Tenants) -> None:
    c = tenants.client
    body = {"trace_id": tenants.trace_id, "rating": "down", "comment": "wrong"}
    assert c.post("/v1/feedback", headers=tenants.b, json=body).status_code == 404
    created = c.post("/v1/feedback", headers=tenants.a, json=body)
    assert created.status_code == 201 and created.json()["user"] == "alice"
    mine = c.get("/v1/feedback", headers=tenants.a).json()
    assert tenants.trace_id in [f["trace_id"] for f in mine]
    assert c.get("/v1/feedback", headers=tenants.b).json() == []


def test_costs_are_the_tenants_own(tenants: Tenants) -> None:
    c = tenants.client
    c.post("/v1/ask", headers=tenants.b, json={"question": "What is a list comprehension?"})
    mine = c.get("/v1/costs/summary", headers=tenants.a).json()
    theirs = c.get("/v1/costs/summary", headers=tenants.b).json()
    assert {r["tenant"] for r in mine["by_tenant"]} == {"acme"}
    assert {r["tenant"] for r in theirs["by_tenant"]} == {"globex"}
    assert {r["user"] for r in mine["by_user"]} == {"alice"}
    assert mine["total"]["requests"] >= 2 and theirs["total"]["requests"] >= 1
    assert all(limit["scope"] is not None for limit in theirs["budget"]["limits"])


def test_owner_deletes_its_document(tenants: Tenants, tmp_path: Path) -> None:
    c, a = tenants.client, tenants.a
    upload = c.post("/v1/documents", headers=a, files=[("files", ("tmp.md", b"# T\n\nGone soon."))])
    state_of(c).jobs.wait(60)
    docs = {d["source"]: d["id"] for d in c.get("/v1/documents", headers=a).json()}
    assert upload.status_code == 202 and "tmp.md" in docs
    public = next(d for s, d in docs.items() if s == "library/json.html")
    assert c.delete(f"/v1/documents/{public}", headers=a).status_code == 403  # not an admin
    assert c.delete(f"/v1/documents/{docs['tmp.md']}", headers=a).json() == {
        "id": docs["tmp.md"],
        "deleted": True,
    }
    assert "tmp.md" not in {d["source"] for d in c.get("/v1/documents", headers=a).json()}


def test_scopes_are_enforced(base_workspace: Path, tmp_path: Path) -> None:
    ws = copy_workspace(base_workspace, tmp_path / "ws")
    search_only = bearer(create_key(ws, "acme", "search"))
    with app_client(settings_for(ws, server={"auth": "keys"})) as c:
        assert c.post("/v1/search", headers=search_only, json={"query": "json"}).status_code == 200
        for method, path in (
            ("POST", "/v1/ask"),
            ("GET", "/v1/documents"),
            ("GET", "/v1/traces"),
            ("GET", "/v1/costs/summary"),
            ("GET", "/v1/evals/runs"),
            ("GET", "/metrics"),
        ):
            json_body = {"question": "json"} if path == "/v1/ask" else None
            r = c.request(method, path, headers=search_only, json=json_body)
            assert r.status_code == 403, path
            assert "scope" in r.json()["error"]["message"]


def test_rate_limit_answers_429_with_retry_after(base_workspace: Path, tmp_path: Path) -> None:
    ws = copy_workspace(base_workspace, tmp_path / "ws")
    key = bearer(create_key(ws, "acme", "search"))
    other = bearer(create_key(ws, "acme", "search"))
    server = {"auth": "keys", "rate_limit_per_minute": 6, "rate_limit_burst": 2}
    with app_client(settings_for(ws, server=server)) as c:
        codes = [
            c.post("/v1/search", headers=key, json={"query": "x"}).status_code for _ in range(3)
        ]
        assert codes == [200, 200, 429]
        limited = c.post("/v1/search", headers=key, json={"query": "x"})
        assert limited.status_code == 429 and limited.json()["error"]["type"] == "rate_limited"
        assert 1 <= int(limited.headers["retry-after"]) <= 10
        assert c.post("/v1/search", headers=other, json={"query": "x"}).status_code == 200


def test_revoked_keys_stop_working(
    base_workspace: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from cairn.server.db import SERVER_FILE, ServerDB
    from cairn.server.keys import SQLiteKeyStore

    ws = copy_workspace(base_workspace, tmp_path / "ws")
    key = create_key(ws, "acme", "search")
    with app_client(settings_for(ws, server={"auth": "keys"})) as c:
        state_of(c).keys.ttl_s = 0.0
        assert c.post("/v1/search", headers=bearer(key), json={"query": "x"}).status_code == 200
        db = ServerDB(ws / SERVER_FILE)
        try:
            store = SQLiteKeyStore(db)
            assert store.revoke(store.keys()[0].id)
        finally:
            db.close()
        assert c.post("/v1/search", headers=bearer(key), json={"query": "x"}).status_code == 401


def test_a_comment_after_a_thumb_updates_the_same_feedback(tenants: Tenants) -> None:
    c, a = tenants.client, tenants.a
    answer = c.post("/v1/ask", headers=a, json={"question": "What is a tuple?"}).json()
    first = c.post("/v1/feedback", headers=a, json={"trace_id": answer["trace_id"], "rating": "up"})
    assert first.status_code == 201 and first.json()["comment"] is None
    body = {"trace_id": answer["trace_id"], "rating": "down", "comment": "it missed namedtuple"}
    second = c.post("/v1/feedback", headers=a, json=body)
    assert second.status_code == 200 and second.json()["id"] == first.json()["id"]
    again = c.post("/v1/feedback", headers=a, json={"trace_id": answer["trace_id"], "rating": "up"})
    assert again.json()["comment"] == "it missed namedtuple"
    mine = [
        f for f in c.get("/v1/feedback", headers=a).json() if f["trace_id"] == answer["trace_id"]
    ]
    assert [(f["rating"], f["comment"]) for f in mine] == [("up", "it missed namedtuple")]


def test_other_tenants_uploads_never_move_a_tenants_scores(
    base_workspace: Path, tmp_path: Path
) -> None:
    """Tenant B's lexical and hybrid scores stay the same, bit for bit, while tenant A uploads
    and deletes private documents mentioning B's query terms."""
    ws = copy_workspace(base_workspace, tmp_path / "ws")
    a = bearer(create_key(ws, "acme", *ALL, name="alice"))
    b = bearer(create_key(ws, "globex", *ALL, name="bob"))
    settings = settings_for(ws, server={"auth": "keys", "rate_limit_per_minute": 0})
    with app_client(settings) as c:

        def upload(headers: dict[str, str], files: list[tuple[str, bytes]]) -> None:
            r = c.post("/v1/documents", headers=headers, files=[("files", f) for f in files])
            assert r.status_code == 202, r.text
            state_of(c).jobs.wait(60)
            assert c.get(f"/v1/jobs/{r.json()['id']}", headers=headers).json()["status"] == "done"

        def scores(mode: str) -> list[tuple[str, float]]:
            r = c.post(
                "/v1/search",
                headers=b,
                json={"query": "zephyr calibration", "mode": mode, "k": 5},
            )
            assert r.status_code == 200, r.text
            return [(h["chunk_id"], h["score"]) for h in r.json()["results"]]

        upload(
            b,
            [
                ("zephyr.md", b"# Zephyr\n\nThe zephyr calibration aligns the zephyr sensor.\n"),
                ("wind.md", b"# Wind\n\nCalibration of the anemometer, then tea.\n"),
            ],
        )
        before = {mode: scores(mode) for mode in ("lexical", "hybrid")}
        assert before["lexical"][0][1] > 0
        upload(
            a,
            [
                (f"private{i}.md", f"# P{i}\n\nzephyr zephyr note {i} {'x ' * i}\n".encode())
                for i in range(5)
            ],
        )
        assert any(
            h["source"].startswith("private")
            for h in c.post(
                "/v1/search", headers=a, json={"query": "zephyr", "mode": "lexical"}
            ).json()["results"]
        )
        assert {mode: scores(mode) for mode in before} == before
        mine = [
            d["id"]
            for d in c.get("/v1/documents", headers=a).json()
            if d["source"].startswith("private")
        ]
        for doc_id in mine[:3]:
            assert c.delete(f"/v1/documents/{doc_id}", headers=a).status_code == 200
        assert {mode: scores(mode) for mode in before} == before
