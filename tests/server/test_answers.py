"""`/v1/ask` (JSON and SSE), `/v1/search`, `/v1/chunks`, the error schema, health and
metrics: local mode, the real model, a real workspace."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from cairn.payloads import answer_json
from cairn.types import Answer
from tests.server.conftest import app_client, copy_workspace, settings_for

pytestmark = pytest.mark.integration

QUESTION = "How do I give a dataclass field a default list?"
ANSWER_KEYS = set(answer_json(Answer(text="", citations=(), abstained=True)))
CITATION_KEYS = {
    "n",
    "chunk_id",
    "source",
    "uri",
    "section",
    "quote",
    "verified",
    "support",
    "risk",
}


@pytest.fixture(scope="module")
def client(base_workspace: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    ws = copy_workspace(base_workspace, tmp_path_factory.mktemp("answers") / "ws")
    with app_client(settings_for(ws)) as c:
        yield c


def parse_sse(text: str) -> list[tuple[str, object]]:
    events = []
    for block in text.strip().split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.splitlines())
        events.append((lines["event"], json.loads(lines["data"])))
    return events


def test_ask_returns_the_cli_json(client: TestClient) -> None:
    r = client.post("/v1/ask", json={"question": QUESTION})
    assert r.status_code == 200
    data = r.json()
    assert set(data) == ANSWER_KEYS
    assert not data["abstained"] and data["citations"]
    for c in data["citations"]:
        assert set(c) == CITATION_KEYS
        assert f"[{c['n']}]" in data["answer"]
        assert set(c["risk"]) == {"score", "flagged", "reasons"}  # rescanned at query time
    assert data["citations"][0]["source"] == "library/dataclasses.html"
    assert len(data["trace_id"]) == 32


def test_ask_options_are_validated(client: TestClient) -> None:
    ok = client.post("/v1/ask", json={"question": QUESTION, "k": 2, "mode": "lexical"})
    assert ok.status_code == 200
    for body in ({"question": ""}, {"question": QUESTION, "k": 0}, {"question": "x", "mode": "x"}):
        r = client.post("/v1/ask", json=body)
        assert r.status_code == 422
        assert r.json()["error"]["type"] == "invalid_request"


def test_ask_stream_sends_tokens_citations_verification_done(client: TestClient) -> None:
    with client.stream("POST", "/v1/ask", json={"question": QUESTION, "stream": True}) as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        events = parse_sse(r.read().decode())
    names = [name for name, _ in events]
    assert names[0] == "token" and names[-1] == "done"
    assert "citation" in names and names[-2] == "verification"
    done = events[-1][1]
    assert isinstance(done, dict) and set(done) == ANSWER_KEYS
    text = "".join(d["text"] for n, d in events if n == "token" and isinstance(d, dict))
    assert text == done["answer"]
    verification = events[-2][1]
    assert isinstance(verification, dict)
    assert verification["citations"] == done["citations"]
    citation = next(d for n, d in events if n == "citation")
    assert isinstance(citation, dict) and set(citation) == CITATION_KEYS


def test_search_returns_the_cli_json(client: TestClient) -> None:
    r = client.post("/v1/search", json={"query": "json dumps indent", "k": 3})
    assert r.status_code == 200
    data = r.json()
    assert data["query"] == "json dumps indent"
    keys = {"rank", "chunk_id", "doc_id", "source", "uri", "title", "section", "score", "text"}
    assert [set(x) for x in data["results"]] == [keys | {"risk"}] * 3
    assert all(set(x["risk"]) == {"score", "flagged", "reasons"} for x in data["results"])
    assert data["results"][0]["source"] == "library/json.html"


def test_chunk_for_the_source_viewer(client: TestClient) -> None:
    hit = client.post("/v1/search", json={"query": "json dumps indent", "k": 1}).json()
    top = hit["results"][0]
    r = client.get(f"/v1/chunks/{top['chunk_id']}")
    assert r.status_code == 200
    chunk = r.json()
    assert set(chunk) == {
        "chunk_id",
        "doc_id",
        "source",
        "uri",
        "title",
        "section",
        "text",
        "start",
        "end",
        "risk",
    }
    assert chunk["risk"] == top["risk"]
    assert chunk["text"] == top["text"] and chunk["uri"] == top["uri"]
    assert chunk["end"] - chunk["start"] == len(chunk["text"])
    missing = client.get("/v1/chunks/nope-1")
    assert missing.status_code == 404 and missing.json()["error"]["type"] == "not_found"


@pytest.mark.parametrize(
    ("method", "path", "status", "kind"),
    [
        ("GET", "/v1/nowhere", 404, "not_found"),
        ("PUT", "/v1/ask", 405, "method_not_allowed"),
        ("GET", "/v1/ask", 405, "method_not_allowed"),
        ("POST", "/v1/search", 422, "invalid_request"),
    ],
)
def test_every_error_has_one_schema(
    client: TestClient, method: str, path: str, status: int, kind: str
) -> None:
    r = client.request(method, path)
    assert r.status_code == status
    body = r.json()
    assert set(body) == {"error"} and body["error"]["type"] == kind
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]


def test_malformed_json_is_a_422_in_the_schema(client: TestClient) -> None:
    r = client.post("/v1/ask", content=b"{not json", headers={"content-type": "application/json"})
    assert r.status_code == 422 and r.json()["error"]["type"] == "invalid_request"


def test_health_readiness_and_metrics(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["status"] == "ready"
    assert ready.json()["lexical_index"] in {"memory", "fts5"}  # memory once built
    state = client.app.state.cairn  # type: ignore[attr-defined]
    state.store.keep_bm25_in_memory(wait=True)
    assert client.get("/readyz").json()["lexical_index"] == "memory"
    client.post("/v1/search", json={"query": "json"})
    text = client.get("/metrics").text
    assert 'cairn_http_requests_total{method="POST",route="/v1/search",status="200"}' in text
    assert "cairn_http_request_duration_seconds_bucket" in text
    assert "cairn_retrieval_duration_seconds_count" in text
    assert "cairn_generation_duration_seconds_count" in text
    assert "cairn_tokens_total" in text and "cairn_cost_usd_total" in text
    assert "cairn_budget_requests_total" in text  # the budget's own registry, appended


def test_openapi_is_published(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    paths = schema["paths"]
    for path in (
        "/v1/ask",
        "/v1/search",
        "/v1/chunks/{chunk_id}",
        "/v1/chat/completions",
        "/v1/documents",
        "/v1/documents/{doc_id}",
        "/v1/jobs/{job_id}",
        "/v1/feedback",
        "/v1/traces",
        "/v1/traces/{trace_id}",
        "/v1/costs/summary",
        "/v1/evals/runs",
        "/v1/evals/runs/{run_id}",
        "/healthz",
        "/readyz",
        "/metrics",
    ):
        assert path in paths, path
    error = paths["/v1/ask"]["post"]["responses"]["422"]["content"]["application/json"]
    assert error["schema"]["$ref"].endswith("/ErrorOut")


def test_local_mode_needs_no_key(base_workspace: Path, tmp_path: Path) -> None:
    ws = copy_workspace(base_workspace, tmp_path / "ws")
    with app_client(settings_for(ws, server={"auth": "local"})) as c:
        assert c.post("/v1/search", json={"query": "json"}).status_code == 200
        assert c.get("/metrics").status_code == 200
