"""`/v1/agent/runs` in keys mode: start a run (the fake OpenAI-compatible server as the model),
read it, follow its events over SSE, approve and reject its calls; the `agent` scope is
needed, a tenant never sees another tenant's runs, and a key's `agent:write` / `agent:send`
scopes decide which tools its runs are offered and which calls it may approve."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from cairn.cli import app
from cairn.llm.fake_server import FakeLLMServer
from cairn.llm.replies import Reply, Responder
from tests.server.conftest import app_client, bearer, create_key, settings_for

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def ws(docs_corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    ws = tmp_path_factory.mktemp("ws-agent-api")
    result = CliRunner().invoke(app, ["ingest", str(docs_corpus), "--workspace", str(ws), "--json"])
    assert result.exit_code == 0, result.output
    return ws


@pytest.fixture
def api(ws: Path) -> Iterator[tuple[TestClient, FakeLLMServer, dict[str, dict[str, str]]]]:
    keys = {
        "alice": bearer(create_key(ws, "acme", "agent", "agent:write", name="alice")),
        "bob": bearer(create_key(ws, "globex", "agent", "agent:write", name="bob")),
        "looker": bearer(create_key(ws, "acme", "agent", name="looker")),
        "admin": bearer(create_key(ws, "acme", "admin", name="root")),
        "reader": bearer(create_key(ws, "acme", "ask", name="reader")),
    }
    with FakeLLMServer(responder=Responder()) as llm:
        settings = settings_for(
            ws,
            server={"auth": "keys", "rate_limit_per_minute": 0},
            llm={
                "provider": "openai", "base_url": llm.url, "model": "fake-model",
                "api_key": "k", "price_input_per_mtok": 1.0, "price_output_per_mtok": 2.0,
            },
        )  # fmt: skip
        with app_client(settings) as client:
            yield client, llm, keys


def events(client: TestClient, path: str, headers: dict[str, str]) -> list[tuple[str, Any]]:
    out = []
    with client.stream("GET", path, headers=headers) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        name = ""
        for line in response.iter_lines():
            if line.startswith("event: "):
                name = line[7:]
            elif line.startswith("data: "):
                out.append((name, json.loads(line[6:])))
    return out


def test_runs_are_created_approved_and_followed_per_tenant(
    api: tuple[TestClient, FakeLLMServer, dict[str, dict[str, str]]], ws: Path
) -> None:
    client, llm, keys = api
    llm.enqueue(
        Reply.call("search_docs", {"query": "dataclass field default"}, id="s1"),
        Reply.call("write_note", {"name": "api-note", "text": "Use default_factory."}, id="w1"),
        "Wrote the note.",
    )
    created = client.post("/v1/agent/runs", headers=keys["alice"], json={"task": "Note it"})
    assert created.status_code == 201, created.text
    run = created.json()
    assert run["status"] == "awaiting_approval" and run["tenant"] == "acme"
    [pending] = run["pending"]
    assert pending["tool"] == "write_note"
    run_id, call_id = run["run_id"], pending["call_id"]
    assert not (ws / "notes" / "api-note.md").exists()

    # the other tenant sees nothing of it; a key without the agent scope is refused
    assert client.get(f"/v1/agent/runs/{run_id}", headers=keys["bob"]).status_code == 404
    assert client.get("/v1/agent/runs", headers=keys["bob"]).json()["runs"] == []
    stolen = client.post(f"/v1/agent/runs/{run_id}/calls/{call_id}/approve", headers=keys["bob"])
    assert stolen.status_code == 404
    assert client.get("/v1/agent/runs", headers=keys["reader"]).status_code == 403
    inbox = client.get("/v1/agent/runs", headers=keys["alice"]).json()["runs"]
    assert [r["run_id"] for r in inbox if r["pending"]] == [run_id]

    # a stale digest is refused; the right one runs the call once
    wrong = client.post(
        f"/v1/agent/runs/{run_id}/calls/{call_id}/approve",
        headers=keys["alice"],
        json={"args_digest": "0" * 64},
    )
    assert wrong.status_code == 409
    done = client.post(
        f"/v1/agent/runs/{run_id}/calls/{call_id}/approve",
        headers=keys["alice"],
        json={"args_digest": pending["args_digest"]},
    ).json()
    assert done["status"] == "done" and done["answer"] == "Wrote the note."
    assert (ws / "notes" / "api-note.md").exists()
    again = client.post(f"/v1/agent/runs/{run_id}/calls/{call_id}/approve", headers=keys["alice"])
    assert again.status_code == 200 and "already" in again.json()["note"]

    timeline = events(client, f"/v1/agent/runs/{run_id}/events", keys["alice"])
    kinds = [data["kind"] for name, data in timeline if name == "record"]
    assert kinds[0] == "run_started" and "approval" in " ".join(kinds)
    assert [data["seq"] for name, data in timeline if name == "record"] == list(
        range(1, len(kinds) + 1)
    )
    assert timeline[-1] == ("end", {"run_id": run_id, "status": "done"})
    assert client.get(f"/v1/agent/runs/{run_id}/events", headers=keys["bob"]).status_code == 404


def test_a_rejected_call_is_told_to_the_model(
    api: tuple[TestClient, FakeLLMServer, dict[str, dict[str, str]]], ws: Path
) -> None:
    client, llm, keys = api
    llm.enqueue(
        Reply.call("write_note", {"name": "nope", "text": "x"}, id="w1"), "Understood, no note."
    )
    run = client.post("/v1/agent/runs", headers=keys["alice"], json={"task": "t"}).json()
    [pending] = run["pending"]
    out = client.post(
        f"/v1/agent/runs/{run['run_id']}/calls/{pending['call_id']}/reject",
        headers=keys["alice"],
        json={"reason": "not now"},
    ).json()
    assert out["status"] == "done" and out["calls"][0]["state"] == "rejected"
    assert "not now" in llm.requests[-1].messages[-1].content
    assert not (ws / "notes" / "nope.md").exists()


def test_an_edited_call_needs_its_own_approval(
    api: tuple[TestClient, FakeLLMServer, dict[str, dict[str, str]]], ws: Path
) -> None:
    client, llm, keys = api
    llm.enqueue(Reply.call("write_note", {"name": "draft", "text": "x"}, id="w1"), "Noted.")
    run = client.post("/v1/agent/runs", headers=keys["alice"], json={"task": "t"}).json()
    [pending] = run["pending"]
    base = f"/v1/agent/runs/{run['run_id']}/calls/{pending['call_id']}"
    bad = client.post(f"{base}/edit", headers=keys["alice"], json={"args": {"name": "y"}})
    assert bad.status_code == 422 and "text" in bad.text
    edited = client.post(
        f"{base}/edit", headers=keys["alice"], json={"args": {"name": "edited", "text": "y"}}
    ).json()
    [now] = edited["pending"]
    assert now["args"] == {"name": "edited", "text": "y"}
    assert now["args_digest"] != pending["args_digest"]
    stale = client.post(
        f"{base}/approve", headers=keys["alice"], json={"args_digest": pending["args_digest"]}
    )
    assert stale.status_code == 409  # the approval bound to the old arguments is refused
    done = client.post(
        f"{base}/approve", headers=keys["alice"], json={"args_digest": now["args_digest"]}
    ).json()
    assert done["status"] == "done"
    assert (ws / "notes" / "edited.md").exists() and not (ws / "notes" / "draft.md").exists()
    assert client.post(f"{base}/edit", headers=keys["bob"], json={"args": {}}).status_code == 404


def test_a_workflow_without_its_tools_is_a_clear_error(
    api: tuple[TestClient, FakeLLMServer, dict[str, dict[str, str]]],
) -> None:
    client, _, keys = api
    r = client.post(
        "/v1/agent/runs", headers=keys["alice"], json={"task": "t", "workflow": "booking"}
    )
    assert r.status_code == 409 and "agent.caldav_url" in r.text


def test_a_keys_scopes_narrow_the_tools_its_runs_are_offered(
    api: tuple[TestClient, FakeLLMServer, dict[str, dict[str, str]]], ws: Path
) -> None:
    client, llm, keys = api
    # a key with only `agent`: the reading tools, no write_note; calling it anyway is refused
    llm.enqueue(
        Reply.call("write_note", {"name": "sneaky", "text": "x"}, id="w1"), "I cannot write."
    )
    run = client.post("/v1/agent/runs", headers=keys["looker"], json={"task": "t"}).json()
    offered = {t.name for t in llm.requests[-2].tools}
    assert {"search_docs", "read_chunk", "ask_docs"} <= offered
    assert "write_note" not in offered
    assert run["status"] == "done" and run["pending"] == []
    assert "no tool named 'write_note'" in llm.requests[-1].messages[-1].content
    assert not (ws / "notes" / "sneaky.md").exists()

    # `agent:write` offers it; the narrower key of the same tenant may not approve or edit it
    llm.enqueue(Reply.call("write_note", {"name": "scoped", "text": "x"}, id="w1"), "Noted.")
    run = client.post("/v1/agent/runs", headers=keys["alice"], json={"task": "t"}).json()
    assert "write_note" in {t.name for t in llm.requests[-1].tools}
    [pending] = run["pending"]
    base = f"/v1/agent/runs/{run['run_id']}/calls/{pending['call_id']}"
    refused = client.post(f"{base}/approve", headers=keys["looker"])
    assert refused.status_code == 403 and "agent:write" in refused.json()["error"]["message"]
    edit = client.post(f"{base}/edit", headers=keys["looker"], json={"args": {"name": "z"}})
    assert edit.status_code == 403
    assert (
        client.get(f"/v1/agent/runs/{run['run_id']}", headers=keys["looker"]).json()["calls"][0][
            "state"
        ]
        == "awaiting_approval"
    )
    assert not (ws / "notes" / "scoped.md").exists()

    # an admin key may approve it (and is offered everything)
    done = client.post(f"{base}/approve", headers=keys["admin"]).json()
    assert done["status"] == "done" and (ws / "notes" / "scoped.md").exists()
    assert "write_note" in {t.name for t in llm.requests[-1].tools}

    # the narrower key may still reject such a call; the run goes on with its tools
    llm.enqueue(Reply.call("write_note", {"name": "unwanted", "text": "x"}, id="w1"), "OK.")
    run = client.post("/v1/agent/runs", headers=keys["alice"], json={"task": "t"}).json()
    [pending] = run["pending"]
    base = f"/v1/agent/runs/{run['run_id']}/calls/{pending['call_id']}"
    rejected = client.post(f"{base}/reject", headers=keys["looker"], json={"reason": "no"})
    assert rejected.status_code == 200 and rejected.json()["status"] == "done"
    assert rejected.json()["calls"][0]["state"] == "rejected"
    assert "write_note" not in {t.name for t in llm.requests[-1].tools}
    assert not (ws / "notes" / "unwanted.md").exists()


def test_a_call_approved_earlier_still_runs_when_a_narrower_key_decides_the_next(
    api: tuple[TestClient, FakeLLMServer, dict[str, dict[str, str]]], ws: Path
) -> None:
    client, llm, keys = api
    one = Reply.call("write_note", {"name": "first", "text": "x"}, id="w1")
    two = Reply.call("write_note", {"name": "second", "text": "y"}, id="w2")
    llm.enqueue(Reply(tool_calls=(*one.tool_calls, *two.tool_calls)), "Done.")
    run = client.post("/v1/agent/runs", headers=keys["alice"], json={"task": "t"}).json()
    first, second = run["pending"]
    base = f"/v1/agent/runs/{run['run_id']}/calls"
    # approved by a key that may write; the run still waits on the second call
    approved = client.post(f"{base}/{first['call_id']}/approve", headers=keys["alice"]).json()
    assert approved["status"] == "awaiting_approval"
    # a reading-only key of the tenant rejects the second: the approved one still executes
    done = client.post(
        f"{base}/{second['call_id']}/reject", headers=keys["looker"], json={"reason": "no"}
    ).json()
    states = {c["call_id"]: c["state"] for c in done["calls"]}
    assert states[first["call_id"]] == "done" and states[second["call_id"]] == "rejected"
    assert (ws / "notes" / "first.md").exists() and not (ws / "notes" / "second.md").exists()
