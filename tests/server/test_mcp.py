"""cairn as an MCP server, driven by the official SDK's own client: over stdio (`cairn mcp
serve` in a subprocess) and over streamable HTTP (mounted at `/mcp` in the API, and the
standalone `mcp_app`), with API keys, scopes, tenants that see only their own documents, and
no session state (a request any replica can answer)."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest

pytest.importorskip("mcp", reason="the mcp extra is not installed")

from mcp import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp.types import CallToolResult, TextResourceContents
from pydantic import AnyUrl

from cairn.config import Settings
from cairn.mcp.http import mcp_app
from cairn.server.app import create_app
from tests.server.conftest import LiveServer, bearer, copy_workspace, create_key, settings_for

pytestmark = pytest.mark.integration

SECRET_NOTE = "# Zanzibar rollout\n\nThe zanzibar rollout password rotates every full moon.\n"
Session = Callable[[ClientSession], Awaitable[Any]]


def run_stdio(workspace: Path, session_fn: Session, *args: str) -> Any:
    """`cairn mcp serve` in a subprocess, driven by the SDK's stdio client."""
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "cairn", "mcp", "serve", "--workspace", str(workspace), *args],
        env=dict(os.environ),
    )

    async def main() -> Any:
        with anyio.fail_after(120):
            async with (
                stdio_client(params) as (read, write),
                ClientSession(read, write) as session,
            ):
                await session.initialize()
                return await session_fn(session)

    return anyio.run(main)


def run_http(url: str, session_fn: Session, key: str | None = None) -> Any:
    """The SDK's streamable HTTP client against `url` (with an API key)."""

    async def main() -> Any:
        with anyio.fail_after(120):
            async with (
                httpx.AsyncClient(headers=bearer(key) if key else {}, timeout=60) as client,
                streamable_http_client(url, http_client=client) as (read, write, _),
                ClientSession(read, write) as session,
            ):
                await session.initialize()
                return await session_fn(session)

    return anyio.run(main)


def structured(result: CallToolResult) -> dict[str, Any]:
    assert not result.isError, result.content
    assert result.structuredContent is not None
    return result.structuredContent


def error_text(result: CallToolResult) -> str:
    assert result.isError
    return " ".join(getattr(c, "text", "") for c in result.content)


# stdio -------------------------------------------------------------------------------------


def test_stdio_serves_search_ask_read_chunk_and_documents(workspace: Path) -> None:
    async def session_fn(s: ClientSession) -> dict[str, Any]:
        tools = await s.list_tools()
        found = structured(
            await s.call_tool("search", {"query": "dataclass field default factory", "k": 3})
        )
        top = found["results"][0]
        chunk = structured(await s.call_tool("read_chunk", {"chunk_id": top["chunk_id"]}))
        answer = structured(
            await s.call_tool("ask", {"question": "How do I give a dataclass field a default?"})
        )
        cited = [
            structured(await s.call_tool("read_chunk", {"chunk_id": c["chunk_id"]}))
            for c in answer["citations"]
        ]
        missing = await s.call_tool("read_chunk", {"chunk_id": "no-such-chunk"})
        bad = await s.call_tool("search", {"query": ""})
        resources = (await s.list_resources()).resources
        doc = await s.read_resource(resources[0].uri)
        return {
            "tools": {t.name: t for t in tools.tools},
            "top": top,
            "chunk": chunk,
            "answer": answer,
            "cited": cited,
            "missing": missing,
            "bad": bad,
            "resources": resources,
            "doc": doc,
        }

    out = run_stdio(workspace, session_fn)
    tools = out["tools"]
    assert set(tools) == {"search", "ask", "read_chunk"}
    assert all(t.annotations and t.annotations.readOnlyHint for t in tools.values())
    assert tools["ask"].outputSchema and "citations" in tools["ask"].outputSchema["properties"]
    assert out["top"]["source"] == "library/dataclasses.html"
    assert out["chunk"]["chunk_id"] == out["top"]["chunk_id"]
    assert out["chunk"]["text"] == out["top"]["text"]
    answer = out["answer"]
    assert not answer["abstained"] and answer["citations"]
    assert all(c["verified"] is not None for c in answer["citations"])  # checked by the verifier
    for citation, chunk in zip(answer["citations"], out["cited"], strict=True):
        assert " ".join(citation["quote"].split())[:40] in " ".join(chunk["text"].split())
        assert f"[{citation['n']}]" in answer["answer"]
    assert "not found" in error_text(out["missing"])
    assert out["bad"].isError  # validated by the SDK before cairn runs anything
    assert {r.name for r in out["resources"]} == {
        "library/dataclasses.html",
        "library/json.html",
        "tutorial/datastructures.html",
    }
    [content] = out["doc"].contents
    assert isinstance(content, TextResourceContents) and len(content.text) > 500


# HTTP: keys, tenants, scopes, replicas -----------------------------------------------------


@dataclass
class Served:
    workspace: Path
    settings: Settings
    api: LiveServer
    acme: str
    globex: str
    search_only: str

    @property
    def url(self) -> str:
        return self.api.url + "/mcp"


@pytest.fixture(scope="module")
def served(base_workspace: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """The API in keys mode over a workspace where tenant acme owns one extra document."""
    from cairn.ingest.pipeline import ingest
    from cairn.workspace import Workspace

    root = tmp_path_factory.mktemp("mcp")
    ws = copy_workspace(base_workspace, root / "ws")
    notes = root / "notes"
    notes.mkdir()
    (notes / "zanzibar.md").write_text(SECRET_NOTE)
    opened = Workspace(Settings(workspace=ws))
    try:
        report = ingest(
            [notes],
            store=opened.store,
            embedder=opened.embedder,
            tokenizer=opened.embedder.tokenizer,
            settings=opened.settings,
            acl=["acme"],
        )
        assert report.ingested == 1
    finally:
        opened.close()
    keys = {
        "acme": create_key(ws, "acme", "search", "ask", "traces", name="alice"),
        "globex": create_key(ws, "globex", "search", "ask", "traces", name="bob"),
        "search_only": create_key(ws, "acme", "search", name="carol"),
    }
    settings = settings_for(ws, server={"auth": "keys", "rate_limit_per_minute": 0})
    with LiveServer(create_app(settings)) as api:
        yield Served(workspace=ws, settings=settings, api=api, **keys)


def _tenant_view(s: ClientSession) -> Awaitable[dict[str, Any]]:
    async def view() -> dict[str, Any]:
        found = structured(
            await s.call_tool("search", {"query": "zanzibar rollout password", "k": 10})
        )
        answer = structured(await s.call_tool("ask", {"question": "zanzibar rollout password?"}))
        resources = (await s.list_resources()).resources
        return {"found": found, "answer": answer, "resources": resources}

    return view()


def test_http_tenants_see_only_their_own_documents(served: Served) -> None:
    mine = run_http(served.url, _tenant_view, served.acme)
    theirs = run_http(served.url, _tenant_view, served.globex)
    secret = next(r for r in mine["found"]["results"] if r["source"] == "zanzibar.md")
    assert any(c["source"] == "zanzibar.md" for c in mine["answer"]["citations"])
    assert "zanzibar.md" in {r.name for r in mine["resources"]}
    assert all(r["source"] != "zanzibar.md" for r in theirs["found"]["results"])
    assert all(c["source"] != "zanzibar.md" for c in theirs["answer"]["citations"])
    assert "moon" not in theirs["answer"]["answer"]
    assert "zanzibar.md" not in {r.name for r in theirs["resources"]}
    assert "library/json.html" in {r.name for r in theirs["resources"]}  # public: everyone's
    doc_uri = next(r.uri for r in mine["resources"] if r.name == "zanzibar.md")

    async def reach(s: ClientSession) -> tuple[CallToolResult, Exception | None, str]:
        chunk = await s.call_tool("read_chunk", {"chunk_id": secret["chunk_id"]})
        try:
            await s.read_resource(AnyUrl(str(doc_uri)))
        except Exception as exc:
            return chunk, exc, ""
        return chunk, None, ""

    chunk, refused, _ = run_http(served.url, reach, served.globex)
    assert "not found" in error_text(chunk)
    assert refused is not None and "not found" in str(refused)

    async def own(s: ClientSession) -> tuple[dict[str, Any], str]:
        chunk = structured(await s.call_tool("read_chunk", {"chunk_id": secret["chunk_id"]}))
        [content] = (await s.read_resource(AnyUrl(str(doc_uri)))).contents
        assert isinstance(content, TextResourceContents)
        return chunk, content.text

    chunk_out, text = run_http(served.url, own, served.acme)
    assert "full moon" in chunk_out["text"] and "full moon" in text
    # the answers are traced like the API's, as the key's tenant and user
    trace_id = mine["answer"]["trace_id"]
    api = served.api.url
    trace = httpx.get(f"{api}/v1/traces/{trace_id}", headers=bearer(served.acme), timeout=30)
    assert trace.status_code == 200, trace.text
    assert trace.json()["attributes"]["tenant"] == "acme"
    assert trace.json()["attributes"]["user"] == "alice"
    other = httpx.get(f"{api}/v1/traces/{trace_id}", headers=bearer(served.globex), timeout=30)
    assert other.status_code == 404


def test_http_refuses_a_missing_or_unknown_key(served: Served) -> None:
    async def nothing(s: ClientSession) -> None:
        await s.list_tools()

    for key in (None, "cairn_not-a-key"):
        with pytest.raises(BaseException) as caught:  # the SDK raises inside a task group
            run_http(served.url, nothing, key)
        assert "401" in repr(caught.value) or "401" in str(_leaf(caught.value)), caught.value
    initialize = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {
            "protocolVersion": "2025-06-18",
            "capabilities": {},
            "clientInfo": {"name": "t", "version": "0"},
        },
    }
    headers = {"Accept": "application/json, text/event-stream"}
    r = httpx.post(served.url, json=initialize, headers=headers, timeout=30)
    assert r.status_code == 401
    assert r.headers["www-authenticate"] == "Bearer"
    assert r.json()["error"]["type"] == "unauthorized"
    assert "cairn keys create" in r.json()["error"]["message"]


def _leaf(exc: BaseException) -> BaseException:
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    return exc


def test_http_checks_the_keys_scope_per_tool(served: Served) -> None:
    async def both(s: ClientSession) -> tuple[CallToolResult, CallToolResult]:
        search = await s.call_tool("search", {"query": "json"})
        ask = await s.call_tool("ask", {"question": "what does json.dumps do?"})
        return search, ask

    search, ask = run_http(served.url, both, served.search_only)
    assert structured(search)["results"]
    assert "lacks the 'ask' scope" in error_text(ask)


def test_http_is_stateless_so_another_replica_answers_any_request(served: Served) -> None:
    """No session id is handed out; a bare tools/call, without initialize, sent to a second
    process-like replica (the standalone MCP app over the same workspace) is answered."""
    headers = {**bearer(served.acme), "Accept": "application/json, text/event-stream"}
    init = httpx.post(
        served.url,
        headers=headers,
        timeout=30,
        json={
            "jsonrpc": "2.0",
            "id": 1,
            "method": "initialize",
            "params": {
                "protocolVersion": "2025-06-18",
                "capabilities": {},
                "clientInfo": {"name": "t", "version": "0"},
            },
        },
    )
    assert init.status_code == 200, init.text
    assert "mcp-session-id" not in init.headers
    assert init.json()["result"]["serverInfo"]["name"] == "cairn"
    with LiveServer(mcp_app(served.settings)) as replica:
        call = httpx.post(
            replica.url + "/mcp",
            headers=headers,
            timeout=60,
            json={
                "jsonrpc": "2.0",
                "id": 2,
                "method": "tools/call",
                "params": {"name": "search", "arguments": {"query": "zanzibar rollout password"}},
            },
        )
        assert call.status_code == 200, call.text
        result = call.json()["result"]
        assert not result["isError"]
        assert result["structuredContent"]["results"][0]["source"] == "zanzibar.md"
        assert json.loads(result["content"][0]["text"])["query"] == "zanzibar rollout password"
        assert httpx.get(replica.url + "/healthz", timeout=10).status_code == 200
        r = httpx.post(replica.url + "/mcp", headers={"Accept": headers["Accept"]}, json={})
        assert r.status_code == 401  # the standalone app authenticates the same way
        stream = httpx.get(
            replica.url + "/mcp", headers={**headers, "Accept": "text/event-stream"}, timeout=30
        )
        assert stream.status_code == 405  # no server-to-client stream to hold open


def test_stdio_tenant_flag_limits_the_documents(served: Served) -> None:
    async def names(s: ClientSession) -> set[str]:
        return {r.name for r in (await s.list_resources()).resources}

    assert "zanzibar.md" in run_stdio(served.workspace, names, "--tenant", "acme")
    assert "zanzibar.md" not in run_stdio(served.workspace, names, "--tenant", "globex")


def test_the_agent_uses_cairn_over_http_as_an_mcp_server(served: Served, tmp_path: Path) -> None:
    """Both ways: the agent's MCP client (streamable HTTP, an API key in its headers) drives
    cairn's own MCP endpoint; the tenant's key decides what the agent can find."""
    from cairn.agent import Agent, AgentStore, ToolRegistry
    from cairn.agent.mcp import open_mcp_tools
    from cairn.config import McpServerSettings
    from cairn.errors import ConfigError
    from cairn.llm.replies import Reply
    from cairn.llm.scripted import ScriptedModel

    config = McpServerSettings(
        name="cairn",
        url=served.url,
        headers=bearer(served.acme),
        read_only=["search", "read_chunk"],
    )
    with AgentStore(tmp_path / "agent.db") as store, open_mcp_tools([config]) as mcp:
        assert mcp.policies == {
            "cairn_search": "always",
            "cairn_ask": "ask",  # not named read-only: a human approves it
            "cairn_read_chunk": "always",
        }
        model = ScriptedModel(
            Reply.call("cairn_search", {"query": "zanzibar rollout password", "k": 2}, id="s1"),
            "It rotates every full moon.",
        )
        agent = Agent(model, ToolRegistry.of(mcp.tools), store, policies=mcp.policies)
        view = agent.start("When does the zanzibar password rotate?")
        assert view.status == "done"
        result = json.loads(model.history[1].messages[-1].content)
        assert result["structured"]["results"][0]["source"] == "zanzibar.md"
        assert result["text"] == ""  # the JSON text repeated it: the model reads it once
    bad = McpServerSettings(name="cairn", url=served.url, headers=bearer("cairn_wrong"))
    with (
        pytest.raises(ConfigError, match=r"could not open the MCP server 'cairn'.*401"),
        open_mcp_tools([bad]),
    ):
        pass


def test_cli_serves_http_alone_and_local_mode_is_for_loopback_names(workspace: Path) -> None:
    """`cairn mcp serve --transport http` (local mode): no key needed from 127.0.0.1, and a
    request naming another host (DNS rebinding) is refused by the SDK's check."""
    import socket
    import subprocess
    import time

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    command = [sys.executable, "-m", "cairn", "mcp", "serve", "--transport", "http"]
    command += ["--port", str(port), "--workspace", str(workspace)]
    server = subprocess.Popen(command, env=dict(os.environ), stderr=subprocess.PIPE, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:  # wait for readiness (the workspace and model load first)
            assert server.poll() is None, server.communicate()[1]
            try:
                if httpx.get(base + "/readyz", timeout=5).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "cairn mcp serve did not become ready"
            time.sleep(0.2)

        async def tools(s: ClientSession) -> set[str]:
            return {t.name for t in (await s.list_tools()).tools}

        assert run_http(base + "/mcp", tools) == {"search", "ask", "read_chunk"}
        ping = {"jsonrpc": "2.0", "id": 1, "method": "ping"}
        accept = {"Accept": "application/json, text/event-stream"}
        ok = httpx.post(base + "/mcp", json=ping, headers=accept, timeout=30)
        assert ok.status_code == 200, ok.text
        rebound = httpx.post(
            base + "/mcp", json=ping, headers={**accept, "Host": "evil.example"}, timeout=30
        )
        assert rebound.status_code == 421
        foreign = {**accept, "Origin": "http://evil.example"}
        assert httpx.post(base + "/mcp", json=ping, headers=foreign, timeout=30).status_code == 403
    finally:
        server.terminate()
        server.communicate(timeout=60)


def test_mcp_mount_off_leaves_the_api_without_mcp(workspace: Path) -> None:
    from tests.server.conftest import app_client

    with app_client(settings_for(workspace, mcp={"mount": False})) as client:
        assert client.post("/mcp", json={}).status_code == 404
        assert client.get("/healthz").status_code == 200


def test_http_rate_limits_per_key_like_the_api(workspace: Path) -> None:
    from tests.server.conftest import app_client

    key = create_key(workspace, "acme", "search")
    limited = {"auth": "keys", "rate_limit_per_minute": 1, "rate_limit_burst": 1}
    ping = {"jsonrpc": "2.0", "id": 1, "method": "ping"}
    headers = {**bearer(key), "Accept": "application/json, text/event-stream"}
    with app_client(settings_for(workspace, server=limited)) as client:
        first = client.post("/mcp", json=ping, headers=headers)
        assert first.status_code == 200, first.text
        second = client.post("/mcp", json=ping, headers=headers)
        assert second.status_code == 429
        assert second.json()["error"]["type"] == "rate_limited"
        assert int(second.headers["retry-after"]) >= 1


def test_building_the_server_leaves_the_root_logger_alone() -> None:
    """FastMCP's constructor calls logging.basicConfig; cairn undoes it (an application
    configuring logging after create_app would otherwise find its call ignored)."""
    import logging

    from cairn.mcp.server import CairnMCP
    from cairn.server.auth import LOCAL_CALLER

    root = logging.getLogger()
    saved, level = list(root.handlers), root.level
    root.handlers[:] = []
    try:
        CairnMCP(lambda: pytest.fail("not called"), caller=LOCAL_CALLER, loopback_only=True)
        assert root.handlers == []
        assert root.level == level
    finally:
        root.handlers[:] = saved
