"""Body size limit (413), request timeout (504), cairn's errors mapped to statuses, uploads
that fail, CORS: on a real workspace, with the pipeline made slow or failing on purpose."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from cairn.budget.errors import BudgetExceeded
from cairn.errors import StoreError
from cairn.llm.errors import ProviderTimeout
from tests.server.conftest import app_client, copy_workspace, settings_for, state_of

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def client(base_workspace: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    ws = copy_workspace(base_workspace, tmp_path_factory.mktemp("limits") / "ws")
    server = {
        "max_request_mb": 0.01,
        "request_timeout_s": 0.5,
        "cors_origins": ["http://ui.example"],
    }
    with app_client(settings_for(ws, server=server)) as c:
        yield c


def test_body_over_the_limit_is_413(client: TestClient) -> None:
    big = b"x" * 20_000
    r = client.post("/v1/ask", content=big, headers={"content-type": "application/json"})
    assert r.status_code == 413 and r.json()["error"]["type"] == "payload_too_large"
    upload = client.post("/v1/documents", files=[("files", ("big.md", big))])
    assert upload.status_code == 413


def test_streamed_body_over_the_limit_is_413(client: TestClient) -> None:
    def chunks() -> Iterator[bytes]:
        for _ in range(20):
            yield b"x" * 1000

    r = client.post("/v1/ask", content=chunks(), headers={"content-type": "application/json"})
    assert r.status_code == 413 and r.json()["error"]["type"] == "payload_too_large"


def test_slow_request_is_504(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    pipeline = state_of(client).pipeline()

    release = threading.Event()
    finished: list[bool] = []

    def slow(*args: Any, **kwargs: Any) -> Any:
        release.wait(60)  # far beyond the 0.5 s request timeout, however busy the machine
        finished.append(True)
        raise AssertionError("the client was answered long ago")

    monkeypatch.setattr(pipeline, "ask", slow)
    try:
        r = client.post("/v1/ask", json={"question": "json?"})
        assert r.status_code == 504 and r.json()["error"]["type"] == "timeout"
        assert not finished  # answered while the pipeline was still working
    finally:
        release.set()


@pytest.mark.parametrize(
    ("error", "status", "kind"),
    [
        (
            BudgetExceeded(
                limit="daily",
                setting="budget.daily_usd",
                limit_usd=Decimal(1),
                spent_usd=Decimal(1),
                reserved_usd=Decimal(0),
                request_usd=Decimal("0.1"),
            ),
            402,
            "budget_exceeded",
        ),
        # the answer model that cannot serve (answer.fallback = "error"): 503, see test_degraded
        (ProviderTimeout("read timed out", provider="openai", model="m"), 503, "upstream_timeout"),
        (StoreError("database is locked"), 503, "unavailable"),
        (RuntimeError("secret internals"), 500, "internal_error"),
    ],
)
def test_errors_map_to_statuses(
    client: TestClient,
    monkeypatch: pytest.MonkeyPatch,
    error: Exception,
    status: int,
    kind: str,
) -> None:
    pipeline = state_of(client).pipeline()

    def fail(*args: Any, **kwargs: Any) -> Any:
        raise error

    monkeypatch.setattr(pipeline, "ask", fail)
    r = client.post("/v1/ask", json={"question": "json?"})
    assert r.status_code == status
    assert r.json()["error"]["type"] == kind
    assert "secret internals" not in r.text


def test_stream_failures_arrive_as_an_error_event(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    pipeline = state_of(client).pipeline()

    def fail(*args: Any, **kwargs: Any) -> Iterator[Any]:
        raise StoreError("database is locked")
        yield

    monkeypatch.setattr(pipeline, "ask_stream", fail)
    with client.stream("POST", "/v1/ask", json={"question": "json?", "stream": True}) as r:
        body = r.read().decode()
    assert r.status_code == 200
    assert body.startswith("event: error\ndata: ")
    assert '"type": "unavailable"' in body


def test_unreadable_uploads_are_reported_by_name(client: TestClient) -> None:
    files = [
        ("files", ("good.md", b"# Good\n\nA fine document about teapots.")),
        ("files", ("bad.exe", b"MZ\x00\x01")),
        ("files", ("empty.txt", b"")),
    ]
    r = client.post("/v1/documents", files=files)
    assert r.status_code == 202 and r.headers["location"] == f"/v1/jobs/{r.json()['id']}"
    state_of(client).jobs.wait(60)
    job = client.get(f"/v1/jobs/{r.json()['id']}").json()
    assert job["status"] == "done" and job["done"] == 1 and job["failed"] == 2
    assert {f["path"] for f in job["failures"]} == {"bad.exe", "empty.txt"}
    assert "uploads" not in str(job["failures"])  # no server paths leak


def test_upload_names_are_made_safe(client: TestClient) -> None:
    r = client.post("/v1/documents", files=[("files", ("../../etc/pass wd.md", b"# P\n\nok"))])
    assert r.json()["files"] == ["pass wd.md"]
    same = [("files", ("a.md", b"# A\n\n1")), ("files", ("a.md", b"# A\n\n2"))]
    assert client.post("/v1/documents", files=same).status_code == 400
    state_of(client).jobs.wait(60)


def test_cors_allows_the_configured_origin(client: TestClient) -> None:
    preflight = client.options(
        "/v1/ask",
        headers={
            "Origin": "http://ui.example",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization,content-type",
        },
    )
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == "http://ui.example"
    other = client.get("/healthz", headers={"Origin": "http://evil.example"})
    assert "access-control-allow-origin" not in other.headers


def test_an_app_starts_again_after_shutdown(base_workspace: Path, tmp_path: Path) -> None:
    from cairn.server.app import create_app

    ws = copy_workspace(base_workspace, tmp_path / "ws")
    app = create_app(settings_for(ws))
    for _ in range(2):
        with TestClient(app) as c:
            assert c.get("/readyz").status_code == 200
            c.post("/v1/ask", json={"question": "What is a set?"})
            text = c.get("/metrics").text
            assert text.count("# TYPE cairn_budget_remaining_usd gauge") == 1
            assert text.count("# TYPE cairn_budget_requests_total counter") == 1
