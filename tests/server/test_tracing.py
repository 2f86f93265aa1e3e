"""Traces of real requests: the waterfall the API serves, and the same trace exported over
OTLP to a collector on 127.0.0.1 (with no credential in it)."""

from __future__ import annotations

from pathlib import Path

import pytest

from cairn.testing.otlp import Collector
from tests.server.conftest import app_client, bearer, copy_workspace, create_key, settings_for

pytestmark = pytest.mark.integration


def test_a_request_is_stored_and_exported(base_workspace: Path, tmp_path: Path) -> None:
    ws = copy_workspace(base_workspace, tmp_path / "ws")
    key = create_key(ws, "acme", "ask", "traces", name="alice")
    with Collector() as collector:
        trace = {"otlp_endpoint": collector.endpoint, "service_name": "cairn-api"}
        with app_client(settings_for(ws, server={"auth": "keys"}, trace=trace)) as c:
            answer = c.post(
                "/v1/ask", headers=bearer(key), json={"question": "How do I sort a list?"}
            ).json()
            stored = c.get(f"/v1/traces/{answer['trace_id']}", headers=bearer(key)).json()
            listed = c.get("/v1/traces?limit=5", headers=bearer(key)).json()
        spans = collector.wait_for(4)
        raw = b"".join(r.SerializeToString() for r in collector.requests)
    assert listed[0]["trace_id"] == answer["trace_id"]
    assert set(listed[0]) == {
        "trace_id",
        "name",
        "started_at",
        "duration_ms",
        "status",
        "attributes",
    }
    assert stored["started_at"].endswith("Z") and stored["duration_ms"] > 0
    names = [s["name"] for s in stored["spans"]]
    assert names == [
        "ask",
        "guard.input",
        "retrieve",
        "guard.context",
        "answer",
        "verify",
        "guard.output",
    ]
    for span in stored["spans"]:
        assert set(span) == {
            "span_id",
            "parent_id",
            "name",
            "start_ms",
            "duration_ms",
            "status",
            "attributes",
        }
    exported = {s["span_id"]: s for s in spans if s["trace_id"] == answer["trace_id"]}
    assert set(exported) == {s["span_id"] for s in stored["spans"]}
    root = next(s for s in exported.values() if s["parent_id"] is None)
    assert root["resource"]["service.name"] == "cairn-api"
    assert root["attributes"]["cairn.tenant"] == "acme"
    assert key.encode() not in raw and b"Bearer" not in raw
