"""The agent as an MCP client: the tools of the servers in `[[agent.mcp_servers]]`.

    with open_mcp_tools(settings.agent.mcp_servers) as mcp:
        registry = ToolRegistry.of([*builtin, *mcp.tools])
        agent = Agent(provider, registry, store, policies=mcp.policies)

Each server is one session of the official SDK (`mcp.ClientSession`) over stdio (a
subprocess from `command`/`args`) or streamable HTTP (`url`), kept open for the agent's
lifetime in a background thread with its own event loop; the loop's synchronous calls wait
on it. Each listed tool becomes an `McpTool` named `<server>_<tool>`, its arguments
validated against the server's JSON schema before anything is sent.

An MCP server is a third party: its tools' side effect is `external` (policy `ask`: a human
approves each call) unless the configuration names them `read_only`, and they are not
idempotent (a call interrupted by a crash is not repeated) unless it names them
`idempotent`. Their own annotations (`readOnlyHint`, ...) are hints from an untrusted server
and change nothing. The idempotency key goes along in the request's `_meta`
(`io.cairn/idempotency-key`), for servers that de-duplicate by it.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import logging
import re
import threading
from collections.abc import Iterator, Sequence
from contextlib import AsyncExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import anyio
from pydantic import BaseModel, RootModel, model_validator

from cairn.agent.store import Policy
from cairn.agent.tools import SideEffect, ToolError
from cairn.errors import ConfigError

if TYPE_CHECKING:
    from mcp import ClientSession
    from mcp.types import CallToolResult
    from mcp.types import Tool as McpToolInfo

    from cairn.config import McpServerSettings

INSTALL_HINT = "MCP needs the 'mcp' extra: pip install 'cairn[mcp]' (or run 'make setup')"


def require_mcp() -> None:
    """Raise `ConfigError` with the install hint when the SDK is not installed (the MCP
    server, `cairn.mcp`, needs it too and says so through this)."""
    try:
        import mcp  # noqa: F401
    except ImportError as exc:
        raise ConfigError(INSTALL_HINT) from exc


log = logging.getLogger("cairn.agent")

IDEMPOTENCY_META = "io.cairn/idempotency-key"
_NOT_NAME = re.compile(r"[^A-Za-z0-9_-]")


class McpOutput(BaseModel):
    """What an MCP tool returned: its text content and, when it sent one, its structured
    result."""

    text: str = ""
    """Empty when it only repeated `structured` as JSON (as FastMCP servers do): the model
    would read the same result twice."""
    structured: dict[str, Any] | None = None


def schema_model(name: str, schema: dict[str, Any]) -> type[BaseModel]:
    """A pydantic model for a JSON schema: it validates with `jsonschema` and shows the
    model exactly the server's schema."""
    from jsonschema import validators

    checker = validators.validator_for(schema)(schema)
    shown = dict(schema)

    class Arguments(RootModel[dict[str, Any]]):
        @model_validator(mode="after")
        def _check(self) -> Arguments:
            problems = sorted(checker.iter_errors(self.root), key=lambda e: list(e.path))
            if problems:
                raise ValueError(
                    "; ".join(
                        f"{'.'.join(str(p) for p in e.absolute_path) or '(arguments)'}: {e.message}"
                        for e in problems[:5]
                    )
                )
            return self

        @classmethod
        def model_json_schema(cls, *args: Any, **kwargs: Any) -> dict[str, Any]:
            return dict(shown)

    Arguments.__name__ = Arguments.__qualname__ = f"{name}_arguments"
    return Arguments


class McpConnection:
    """One open session with an MCP server, usable from synchronous code in any thread."""

    def __init__(self, config: McpServerSettings) -> None:
        self.config = config
        self.session: ClientSession | None = None
        self._stop: asyncio.Event | None = None
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name=f"cairn-mcp-{config.name}", daemon=True
        )
        self._thread.start()
        ready: concurrent.futures.Future[list[McpToolInfo]] = concurrent.futures.Future()
        self._held = asyncio.run_coroutine_threadsafe(self._hold(ready), self._loop)
        try:
            self.tools = ready.result(config.timeout_s)
        except BaseException as exc:
            self.close()
            where = config.url or " ".join([config.command or "", *config.args]).strip()
            if isinstance(exc, concurrent.futures.TimeoutError):
                exc = TimeoutError(f"no answer within {config.timeout_s:g} s")
            raise ConfigError(
                f"could not open the MCP server {config.name!r} ({where}): {_reason(exc)}; "
                "check [[agent.mcp_servers]] in cairn.toml (try the command by hand)"
            ) from None

    async def _hold(self, ready: concurrent.futures.Future[list[McpToolInfo]]) -> None:
        """Open the session, list the tools, then keep it open until `close` (entered and
        left in this one task, as the SDK's task groups require)."""
        from mcp import ClientSession

        self._stop = asyncio.Event()
        try:
            async with AsyncExitStack() as stack:
                streams = await stack.enter_async_context(await self._transport(stack))
                session = await stack.enter_async_context(
                    ClientSession(
                        streams[0],
                        streams[1],
                        read_timeout_seconds=timedelta(seconds=self.config.timeout_s),
                    )
                )
                await session.initialize()
                tools: list[McpToolInfo] = []
                cursor: str | None = None
                while True:
                    page = await session.list_tools(cursor=cursor)
                    tools += page.tools
                    cursor = page.nextCursor
                    if not cursor:
                        break
                self.session = session
                ready.set_result(tools)
                await self._stop.wait()
        except BaseException as exc:
            if not ready.done():
                ready.set_exception(exc)
            elif not isinstance(exc, asyncio.CancelledError):
                log.warning("MCP server %s: session ended: %s", self.config.name, _reason(exc))
        finally:
            self.session = None

    async def _transport(self, stack: AsyncExitStack) -> Any:
        if self.config.url is not None:
            import httpx
            from mcp.client.streamable_http import streamable_http_client

            client = await stack.enter_async_context(
                httpx.AsyncClient(
                    headers=self.config.headers, timeout=httpx.Timeout(self.config.timeout_s)
                )
            )  # the SDK leaves a client it was given open
            return streamable_http_client(self.config.url, http_client=client)
        from mcp.client.stdio import StdioServerParameters, get_default_environment, stdio_client

        assert self.config.command is not None
        params = StdioServerParameters(
            command=self.config.command,
            args=list(self.config.args),
            env={**get_default_environment(), **self.config.env},
        )
        return stdio_client(params)

    def call(self, name: str, arguments: dict[str, Any], *, key: str) -> CallToolResult:
        session = self.session
        if session is None:
            raise ToolError(
                f"the MCP server {self.config.name!r} is not connected (its session ended); "
                "the call was not sent"
            )
        future = asyncio.run_coroutine_threadsafe(
            session.call_tool(name, arguments, meta={IDEMPOTENCY_META: key}), self._loop
        )
        try:
            return future.result(self.config.timeout_s + 5)
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise ToolError(
                f"{self.config.name} did not answer {name} within {self.config.timeout_s:g} s"
            ) from None
        except (anyio.ClosedResourceError, anyio.BrokenResourceError):
            raise ToolError(
                f"the MCP server {self.config.name!r} is not connected any more (its process "
                "ended or the connection closed); the call was not sent"
            ) from None
        except Exception as exc:
            if "Connection closed" in str(exc):
                raise ToolError(
                    f"the connection to the MCP server {self.config.name!r} closed during the "
                    f"call to {name}: it may or may not have taken effect"
                ) from exc
            raise ToolError(f"{self.config.name} failed on {name}: {_reason(exc)}") from exc

    def close(self) -> None:
        if self._loop.is_closed():
            return
        stop = self._stop
        if stop is not None:
            self._loop.call_soon_threadsafe(stop.set)
        try:
            self._held.result(self.config.timeout_s)
        except BaseException as exc:  # the session is gone either way
            log.debug("MCP server %s: closing: %s", self.config.name, _reason(exc))
            self._held.cancel()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(self.config.timeout_s)
        if not self._thread.is_alive():
            self._loop.close()


def _reason(exc: BaseException) -> str:
    if isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        return _reason(exc.exceptions[0])
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


@dataclass(frozen=True, kw_only=True)
class McpTool:
    """A tool of an MCP server, under cairn's `Tool` contract."""

    name: str
    server: str
    mcp_name: str
    description: str
    input_model: type[BaseModel]
    connection: McpConnection = field(repr=False)
    side_effect: SideEffect = "external"
    idempotent: bool = False
    output_model: type[BaseModel] = McpOutput
    supports_dry_run: bool = False
    scopes: tuple[str, ...] = ()

    def call(self, args: BaseModel, *, idempotency_key: str, dry_run: bool = False) -> BaseModel:
        arguments = args.model_dump(mode="json")
        result = self.connection.call(self.mcp_name, arguments, key=idempotency_key)
        parts = []
        for block in result.content:
            part = getattr(block, "text", None)
            parts.append(part if isinstance(part, str) else f"[{block.type} content]")
        text = "\n".join(parts)
        if result.isError:
            raise ToolError(f"{self.server} says: {text or 'error (no message)'}")
        structured = result.structuredContent
        if structured is not None and _same_json(text, structured):
            text = ""
        return McpOutput(text=text, structured=structured)


def _same_json(text: str, value: Any) -> bool:
    try:
        return bool(json.loads(text) == value)
    except ValueError:
        return False


@dataclass
class McpToolset:
    """The tools of the configured MCP servers and the policy of each."""

    tools: list[McpTool] = field(default_factory=list)
    policies: dict[str, Policy] = field(default_factory=dict)
    connections: list[McpConnection] = field(default_factory=list)

    def close(self) -> None:
        for connection in self.connections:
            connection.close()


def tool_name(server: str, tool: str) -> str:
    """`<server>_<tool>`, in the characters and length every provider accepts."""
    return _NOT_NAME.sub("_", f"{server}_{tool}")[:64]


def tools_of(config: McpServerSettings, connection: McpConnection) -> McpToolset:
    found = {t.name: t for t in connection.tools}
    wanted = config.tools if config.tools is not None else list(found)
    named = set(config.read_only) | set(config.idempotent) | set(config.policies) | set(wanted)
    unknown = sorted(named - set(found))
    if unknown:
        raise ConfigError(
            f"MCP server {config.name!r} has no tool(s) {', '.join(unknown)} "
            f"(it lists: {', '.join(sorted(found)) or 'none'}); fix [[agent.mcp_servers]]"
        )
    out = McpToolset()
    for mcp_name in wanted:
        info = found[mcp_name]
        name = tool_name(config.name, mcp_name)
        side_effect: SideEffect = "none" if mcp_name in config.read_only else config.side_effect
        out.tools.append(
            McpTool(
                name=name,
                server=config.name,
                mcp_name=mcp_name,
                description=(info.description or info.title or mcp_name).strip(),
                input_model=schema_model(name, dict(info.inputSchema)),
                connection=connection,
                side_effect=side_effect,
                idempotent=mcp_name in config.idempotent,
            )
        )
        default: Policy = "always" if side_effect == "none" else "ask"
        out.policies[name] = config.policies.get(mcp_name, default)
    return out


@contextmanager
def open_mcp_tools(configs: Sequence[McpServerSettings]) -> Iterator[McpToolset]:
    """Connect to every configured server (closing them all at the end)."""
    toolset = McpToolset()
    if not configs:
        yield toolset
        return
    require_mcp()
    try:
        for config in configs:
            connection = McpConnection(config)
            toolset.connections.append(connection)
            part = tools_of(config, connection)
            toolset.tools += part.tools
            toolset.policies |= part.policies
        yield toolset
    finally:
        toolset.close()
