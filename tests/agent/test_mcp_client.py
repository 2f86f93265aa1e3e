"""The agent as an MCP client of a third-party server from PyPI (`mcp-server-time`, over
stdio), driven by a scripted model through the real loop: its tools ask for approval by
default, run only once approved (from a fresh process-like set of objects), validate
arguments against the server's schema, return server errors to the model, obey `deny`,
`read_only` and dry runs; `cairn agent` / `cairn mcp tools` configured from cairn.toml; and
over `/v1/agent/runs`, `[agent] tenant_policies` and the key's scopes applied to its tools."""

from __future__ import annotations

import json
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

pytest.importorskip("mcp", reason="the mcp extra is not installed")
pytest.importorskip("mcp_server_time", reason="mcp-server-time (the dev extra) is missing")

from cairn.agent import Agent, AgentStore, ToolRegistry
from cairn.agent.mcp import McpToolset, open_mcp_tools
from cairn.cli import app
from cairn.config import McpServerSettings, Settings, load_settings
from cairn.errors import ConfigError
from cairn.llm.fake_server import FakeLLMServer
from cairn.llm.replies import Reply
from cairn.llm.scripted import ScriptedModel
from tests.agent.conftest import Clock
from tests.server.conftest import app_client, bearer, create_key, settings_for

pytestmark = pytest.mark.integration
runner = CliRunner()


def time_command() -> list[str]:
    found = shutil.which("mcp-server-time") or str(
        Path(sys.executable).with_name("mcp-server-time")
    )
    if Path(found).exists():
        return [found]
    return [sys.executable, "-m", "mcp_server_time"]


def time_server(**overrides: Any) -> McpServerSettings:
    command, *args = time_command()
    return McpServerSettings.model_validate(
        {
            "name": "time",
            "command": command,
            "args": [*args, "--local-timezone", "UTC"],
            "timeout_s": 60,
        }
        | overrides
    )


@pytest.fixture
def tools() -> Iterator[McpToolset]:
    with open_mcp_tools([time_server()]) as toolset:
        yield toolset


def agent_with(store: AgentStore, model: ScriptedModel, toolset: McpToolset) -> Agent:
    return Agent(model, ToolRegistry.of(toolset.tools), store, policies=toolset.policies)


def tool_message(model: ScriptedModel, step: int = -1) -> Any:
    message = model.history[step].messages[-1]
    assert message.role == "tool"
    return json.loads(message.content) if message.content.startswith("{") else message.content


def test_third_party_tools_ask_first_and_run_once_approved(tmp_path: Path, clock: Clock) -> None:
    db = tmp_path / "agent.db"
    call = Reply.call("time_get_current_time", {"timezone": "Europe/Paris"}, id="t1")
    with AgentStore(db, clock=clock) as store, open_mcp_tools([time_server()]) as toolset:
        assert {t.name: toolset.policies[t.name] for t in toolset.tools} == {
            "time_get_current_time": "ask",
            "time_convert_time": "ask",
        }  # an MCP server's tools are `external` unless configured otherwise
        assert all(t.side_effect == "external" and not t.idempotent for t in toolset.tools)
        model = ScriptedModel(call)
        view = agent_with(store, model, toolset).start("What time is it in Paris?")
        assert view.status == "awaiting_approval"
        [pending] = view.pending
        assert pending.tool == "time_get_current_time"
        assert pending.args == {"timezone": "Europe/Paris"}
        spec = {t.name: t for t in model.history[0].tools}["time_get_current_time"]
        assert spec.parameters["required"] == ["timezone"]  # the server's own schema
        kinds = [r.kind for r in store.audit(view.id)]
        assert "execution" not in kinds  # nothing was sent to the server
    # later, another process: new store, new connection to a new server subprocess
    with AgentStore(db, clock=clock) as store, open_mcp_tools([time_server()]) as toolset:
        store.approve(view.id, pending.call_id, actor="alice", args_digest=pending.args_digest)
        model = ScriptedModel("It is evening in Paris.")
        done = agent_with(store, model, toolset).resume(view.id)
        assert done.status == "done" and done.run.answer == "It is evening in Paris."
        [executed] = done.calls
        assert executed.state == "done"
        result = tool_message(model)
        server_said = json.loads(result["text"])
        assert server_said["timezone"] == "Europe/Paris"
        assert server_said["datetime"][:4].isdigit()
        kinds = [r.kind for r in store.audit(view.id)]
        assert kinds.count("approval") == 1 and kinds.count("execution_done") == 1
        assert store.verify(view.id).ok


def test_arguments_are_checked_against_the_servers_schema_and_errors_reach_the_model(
    store: AgentStore, tools: McpToolset
) -> None:
    model = ScriptedModel(
        Reply.call("time_convert_time", {"source_timezone": "UTC", "time": "12:00"}, id="c1"),
        Reply.call("time_get_current_time", {"timezone": "Nowhere/Atlantis"}, id="c2"),
        "Atlantis has no time zone.",
    )
    policies = dict(tools.policies) | {"time_get_current_time": "always"}
    agent = Agent(model, ToolRegistry.of(tools.tools), store, policies=policies)  # type: ignore[arg-type]
    view = agent.start("Convert noon")
    assert view.status == "done", view.run.reason
    invalid, failed = view.calls
    assert invalid.state == "invalid"
    first = tool_message(model, 1)
    assert "invalid arguments for time_convert_time" in first
    assert "'target_timezone' is a required property" in first
    assert failed.state == "failed"
    second = tool_message(model, 2)
    assert "time says:" in second and "Invalid timezone" in second


def test_read_only_deny_and_dry_run(tmp_path: Path, clock: Clock) -> None:
    config = time_server(
        read_only=["get_current_time"],
        policies={"convert_time": "deny"},
        tools=["get_current_time", "convert_time"],
    )
    with AgentStore(tmp_path / "a.db", clock=clock) as store, open_mcp_tools([config]) as ts:
        assert ts.policies == {"time_get_current_time": "always", "time_convert_time": "deny"}
        args = {"source_timezone": "UTC", "time": "12:00", "target_timezone": "Asia/Tokyo"}
        model = ScriptedModel(
            Reply.call("time_get_current_time", {"timezone": "UTC"}, id="r1"),
            Reply.call("time_convert_time", args, id="d1"),
            "Done.",
        )
        view = agent_with(store, model, ts).start("time things")
        assert view.status == "done"
        assert [c.state for c in view.calls] == ["done", "denied"]  # no approval needed to read
        assert json.loads(tool_message(model, 1)["text"])["timezone"] == "UTC"
        assert "not allowed by policy" in tool_message(model, 2)
    with AgentStore(tmp_path / "b.db", clock=clock) as store, open_mcp_tools([time_server()]) as ts:
        model = ScriptedModel(Reply.call("time_convert_time", args, id="x1"), "Would convert.")
        view = agent_with(store, model, ts).start("convert", dry_run=True)
        assert view.status == "done"
        assert tool_message(model) == {
            "dry_run": True,
            "would_call": "time_convert_time",
            "args": args,
        }


def test_bad_configuration_is_refused_with_a_fix(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="exactly one of command or url"):
        McpServerSettings(name="x", command="a", url="http://127.0.0.1:1/mcp")
    with (
        pytest.raises(ConfigError, match=r"has no tool.*get_time.*it lists"),
        open_mcp_tools([time_server(read_only=["get_time"])]),
    ):
        pass
    missing = McpServerSettings(name="gone", command=str(tmp_path / "no-such-server"))
    with (
        pytest.raises(ConfigError, match="could not open the MCP server 'gone'"),
        open_mcp_tools([missing]),
    ):
        pass
    (tmp_path / "cairn.toml").write_text(
        '[[agent.mcp_servers]]\nname = "time"\ncommand = "mcp-server-time"\n'
        'read_only = ["get_current_time"]\n'
    )
    settings = load_settings(workspace=tmp_path)
    assert isinstance(settings, Settings)
    [server] = settings.agent.mcp_servers
    assert server.command == "mcp-server-time" and server.side_effect == "external"


# the command line ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def workspace(docs_corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    ws = tmp_path_factory.mktemp("ws-mcp-agent")
    result = runner.invoke(app, ["ingest", str(docs_corpus), "--workspace", str(ws), "--json"])
    assert result.exit_code == 0, result.output
    command, *args = time_command()
    server = {"name": "time", "command": command, "args": [*args, "--local-timezone", "UTC"]}
    lines = ["[[agent.mcp_servers]]"] + [f"{k} = {json.dumps(v)}" for k, v in server.items()]
    (ws / "cairn.toml").write_text("\n".join(lines) + "\n")
    return ws


def test_cli_lists_the_servers_tools(workspace: Path) -> None:
    result = runner.invoke(app, ["mcp", "tools", "--json", "--workspace", str(workspace)])
    assert result.exit_code == 0, result.output
    rows = {r["name"]: r for r in json.loads(result.stdout)["tools"]}
    assert set(rows) == {"time_get_current_time", "time_convert_time"}
    assert rows["time_convert_time"]["policy"] == "ask"
    assert rows["time_convert_time"]["side_effect"] == "external"


def test_cli_agent_uses_a_configured_mcp_server_with_approval(
    workspace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with FakeLLMServer() as fake:
        monkeypatch.setenv("CAIRN_LLM_PROVIDER", "openai")
        monkeypatch.setenv("CAIRN_LLM_BASE_URL", fake.url)
        monkeypatch.setenv("CAIRN_LLM_MODEL", "fake-model")
        monkeypatch.setenv("CAIRN_LLM_API_KEY", "test-key")
        monkeypatch.setenv("CAIRN_LLM_PRICE_INPUT_PER_MTOK", "1.0")
        monkeypatch.setenv("CAIRN_LLM_PRICE_OUTPUT_PER_MTOK", "2.0")
        fake.enqueue(
            Reply.call("time_get_current_time", {"timezone": "Asia/Tokyo"}, id="t1"),
            "It is morning in Tokyo.",
        )

        def agent(*args: str) -> dict[str, Any]:
            result = runner.invoke(app, ["agent", *args, "--json", "--workspace", str(workspace)])
            assert result.exit_code == 0, result.output
            out: dict[str, Any] = json.loads(result.stdout)
            return out

        started = agent("run", "What time is it in Tokyo?")
        assert started["status"] == "awaiting_approval"
        [pending] = started["pending"]
        assert pending["tool"] == "time_get_current_time"
        done = agent("approve", started["run_id"], pending["call_id"], "--as", "alice")
        assert done["status"] == "done" and done["answer"] == "It is morning in Tokyo."
        last = fake.requests[-1].messages[-1]
        assert last.role == "tool" and "Asia/Tokyo" in last.content
        sent = {t.name for t in fake.requests[0].tools}
        assert {"search_docs", "write_note", "time_get_current_time"} <= sent


def test_a_server_that_dies_mid_call_fails_the_call_and_the_run_goes_on(
    store: AgentStore,
) -> None:
    crashy = McpServerSettings(
        name="c",
        command=sys.executable,
        args=[str(Path(__file__).with_name("mcp_crash_server.py"))],
        read_only=["echo", "crash"],
        timeout_s=60,
    )
    with open_mcp_tools([crashy]) as mcp:
        model = ScriptedModel(
            Reply.call("c_echo", {"text": "hi"}, id="e1"),
            Reply.call("c_crash", {}, id="x1"),
            Reply.call("c_echo", {"text": "again"}, id="e2"),
            "The server went away.",
        )
        view = agent_with(store, model, mcp).start("echo, crash, echo")
    assert view.status == "done"
    assert [c.state for c in view.calls] == ["done", "failed", "failed"]
    assert tool_message(model, 1) == {"text": "hi", "structured": {"result": "hi"}}
    assert "closed during the call to crash: it may or may not have taken effect" in (
        tool_message(model, 2)
    )
    assert "not connected any more" in tool_message(model, 3)
    assert "the call was not sent" in tool_message(model, 3)


# over the API: per-tenant policies and key scopes --------------------------------------------


def test_tenant_policies_and_key_scopes_apply_to_mcp_tools_over_the_api(workspace: Path) -> None:
    acme = bearer(create_key(workspace, "acme", "agent", "agent:send", name="alice"))
    globex = bearer(create_key(workspace, "globex", "agent", "agent:send", name="bob"))
    looker = bearer(create_key(workspace, "initech", "agent", name="carol"))
    command, *args = time_command()
    server = {
        "name": "time", "command": command, "args": [*args, "--local-timezone", "UTC"],
        "read_only": ["get_current_time"], "timeout_s": 60,
    }  # fmt: skip
    tenant_policies = {
        "acme": {"time_convert_time": "always"},
        "globex": {"time_get_current_time": "deny"},
    }
    now = Reply.call("time_get_current_time", {"timezone": "Asia/Tokyo"}, id="t1")
    convert = {"source_timezone": "UTC", "time": "12:00", "target_timezone": "Asia/Tokyo"}
    with FakeLLMServer() as llm:
        settings = settings_for(
            workspace,
            server={"auth": "keys", "rate_limit_per_minute": 0},
            llm={
                "provider": "openai",
                "base_url": llm.url,
                "model": "fake-model",
                "api_key": "k",
                "price_input_per_mtok": 1.0,
                "price_output_per_mtok": 2.0,
            },
            agent={"mcp_servers": [server], "tenant_policies": tenant_policies},
        )
        with app_client(settings) as client:

            def run(key: dict[str, str]) -> dict[str, Any]:
                task = "What is 12:00 UTC in Asia/Tokyo, and the time there now?"
                r = client.post("/v1/agent/runs", headers=key, json={"task": task})
                assert r.status_code == 201, r.text
                out: dict[str, Any] = r.json()
                return out

            # acme: the read-only tool runs; its tenant policy lets convert_time run unasked
            # (asked first: arguments from the task, not from a tool's output, which the
            # tool-abuse guard would send for approval whatever the policy)
            llm.enqueue(Reply.call("time_convert_time", convert, id="c1"), now, "Noon.")
            done = run(acme)
            assert done["status"] == "done", done
            assert [(c["tool"], c["state"]) for c in done["calls"]] == [
                ("time_convert_time", "done"),
                ("time_get_current_time", "done"),
            ]
            assert "Asia/Tokyo" in llm.requests[-1].messages[-1].content

            # globex: its tenant policy denies the read-only tool; convert_time still asks
            llm.enqueue(now, Reply.call("time_convert_time", convert, id="c2"), "Later.")
            waiting = run(globex)
            assert waiting["calls"][0]["state"] == "denied"
            assert "not allowed by policy" in llm.requests[-1].messages[-1].content
            assert [p["tool"] for p in waiting["pending"]] == ["time_convert_time"]

            # a key without agent:send is not offered the tool with a side effect
            llm.enqueue("I can only read.")
            run(looker)
            offered = {t.name for t in llm.requests[-1].tools}
            assert "time_get_current_time" in offered and "time_convert_time" not in offered


def test_an_mcp_server_that_will_not_start_is_a_clear_error_over_the_api(
    workspace: Path,
) -> None:
    key = bearer(create_key(workspace, "acme", "agent", name="dora"))
    broken = {"name": "gone", "command": str(workspace / "no-such-server")}
    with FakeLLMServer() as llm:
        settings = settings_for(
            workspace,
            server={"auth": "keys", "rate_limit_per_minute": 0},
            llm={"provider": "openai", "base_url": llm.url, "model": "fake-model"},
            agent={"mcp_servers": [broken]},
        )
        with app_client(settings) as client:
            r = client.post("/v1/agent/runs", headers=key, json={"task": "t"})
    assert r.status_code == 409
    assert "could not open the MCP server 'gone'" in r.json()["error"]["message"]
    assert llm.requests == []
