"""API keys and Authorization headers are never stored: after real requests (answers,
streams, uploads, feedback, failures), no file in the workspace holds a key or a bearer
header, and prompts are kept per `trace.prompts`."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

import pytest

from tests.server.conftest import (
    app_client,
    bearer,
    copy_workspace,
    create_key,
    settings_for,
    state_of,
)

pytestmark = pytest.mark.integration


def workspace_bytes(ws: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(ws.rglob("*")) if p.is_file())


def test_keys_and_headers_never_reach_the_workspace(base_workspace: Path, tmp_path: Path) -> None:
    ws = copy_workspace(base_workspace, tmp_path / "ws")
    key = create_key(ws, "acme", "admin", name="alice")
    h = bearer(key)
    question = "Email me at alice@example.com. How do I sort a list?"
    with app_client(settings_for(ws, server={"auth": "keys"}, trace={"prompts": "full"})) as c:
        answer = c.post("/v1/ask", headers=h, json={"question": question}).json()
        c.post("/v1/ask", headers=h, json={"question": question})  # a cache hit
        with c.stream(
            "POST", "/v1/ask", headers=h, json={"question": question, "stream": True}
        ) as r:
            r.read()
        c.post("/v1/search", headers=h, json={"query": "sorting"})
        c.post(
            "/v1/chat/completions",
            headers=h,
            json={"model": "m", "messages": [{"role": "user", "content": question}]},
        )
        c.post(
            "/v1/feedback",
            headers=h,
            json={"trace_id": answer["trace_id"], "rating": "up", "comment": f"key {key}"},
        )
        c.post("/v1/documents", headers=h, files=[("files", ("n.md", b"# N\n\nnotes"))])
        c.post("/v1/search", headers=bearer(key + "x"), json={"query": "q"})  # a wrong key
        c.get("/metrics", headers=h)
        state_of(c).jobs.wait(60)
    stored = workspace_bytes(ws)
    assert b"alice@example.com" in stored  # full mode: the question is kept...
    assert key.encode() not in stored  # ...but never the key
    assert key[len("cairn_") :].encode() not in stored
    assert b"Bearer" not in stored


def test_a_key_typed_into_a_question_is_masked_in_traces(
    base_workspace: Path, tmp_path: Path
) -> None:
    ws = copy_workspace(base_workspace, tmp_path / "ws")
    key = create_key(ws, "acme", "ask", "traces")
    question = f"My key is {key}, why is it refused?"
    with app_client(settings_for(ws, server={"auth": "keys"}, trace={"prompts": "full"})) as c:
        answer = c.post("/v1/ask", headers=bearer(key), json={"question": question}).json()
        trace = c.get(f"/v1/traces/{answer['trace_id']}", headers=bearer(key)).json()
    assert trace["attributes"]["question"] == "My key is [secret], why is it refused?"
    assert key.encode() not in (ws / "traces.db").read_bytes()


@pytest.mark.parametrize(
    ("policy", "expected"),
    [
        ("full", "Call 0151 496 0000 1234 or bob@example.com: how do I sort a list?"),
        ("redacted", "Call [number] or [email]: how do I sort a list?"),
        ("none", None),
    ],
)
def test_prompts_are_kept_per_policy(
    base_workspace: Path, tmp_path: Path, policy: str, expected: str | None
) -> None:
    ws = copy_workspace(base_workspace, tmp_path / "ws")
    question = "Call 0151 496 0000 1234 or bob@example.com: how do I sort a list?"
    with app_client(settings_for(ws, trace={"prompts": policy})) as c:
        answer = c.post("/v1/ask", json={"question": question}).json()
    with closing(sqlite3.connect(ws / "traces.db")) as db:
        rows = db.execute(
            "SELECT attributes FROM traces WHERE trace_id = ?", (answer["trace_id"],)
        ).fetchall()
    import json

    attributes = json.loads(rows[0][0])
    assert attributes.get("question") == expected
    assert attributes["tenant"] == "local"
    if policy != "full":
        assert b"bob@example.com" not in workspace_bytes(ws / "traces.db")


def test_traces_can_be_switched_off(base_workspace: Path, tmp_path: Path) -> None:
    ws = copy_workspace(base_workspace, tmp_path / "ws")
    with app_client(settings_for(ws, trace={"store": False})) as c:
        answer = c.post("/v1/ask", json={"question": "How do I sort a list?"}).json()
        assert c.get("/v1/traces").json() == []
        assert c.get(f"/v1/traces/{answer['trace_id']}").status_code == 404
        feedback = {"trace_id": answer["trace_id"], "rating": "up"}
        assert c.post("/v1/feedback", json=feedback).status_code == 201
    assert not (ws / "traces.db").exists()
