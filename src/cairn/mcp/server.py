"""cairn as an MCP server: `search`, `ask` and `read_chunk` tools, documents as resources.

    cairn mcp serve                        # stdio, for a local client (Claude Desktop, an IDE)
    cairn mcp serve --transport http       # streamable HTTP on server.host:server.port/mcp
    cairn serve                            # the API, with the same MCP endpoint at /mcp

Over HTTP the server is stateless (`stateless_http`, JSON responses): every POST carries a
whole JSON-RPC exchange, no `Mcp-Session-Id` is handed out and nothing is kept between
requests, so any replica behind a load balancer can answer any request. Callers
authenticate exactly as on the API (`server.auth`): in `keys` mode a bearer API key from
`cairn keys create`, whose tenant is the ACL principal of every search, answer and read and
whose scopes are checked per tool (`search` for `search`, `read_chunk` and the resources,
`ask` for `ask`); in `local` mode (loopback only) no key, and the DNS-rebinding check of the
SDK refuses requests whose `Host` is not a loopback name. Over stdio the process belongs to
whoever started it: it sees every document, or only a tenant's with `--tenant`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any

from mcp.server.fastmcp import Context, FastMCP
from mcp.server.fastmcp.exceptions import ResourceError, ToolError
from mcp.server.lowlevel.helper_types import ReadResourceContents
from mcp.server.transport_security import TransportSecuritySettings
from mcp.types import CallToolResult, Resource, ToolAnnotations
from pydantic import AnyUrl, Field

from cairn.context import request_context
from cairn.guard.quarantine import is_quarantined, readable_text
from cairn.mcp.http import CALLER_KEY, MCP_PATH
from cairn.payloads import AnswerOut, RiskOut, SearchOut
from cairn.server.auth import Caller
from cairn.server.catalog import readable
from cairn.server.schemas import ChunkOut
from cairn.server.threads import run_sync
from cairn.types import Filters

if TYPE_CHECKING:
    from anyio import CapacityLimiter

    from cairn.pipeline import Pipeline
    from cairn.store.base import Store

DOCUMENT_URI = "cairn://documents/{doc_id}"
LOOPBACK_HOSTS = ["127.0.0.1:*", "localhost:*", "[::1]:*", "127.0.0.1", "localhost", "[::1]"]
LOOPBACK_ORIGINS = ["http://127.0.0.1:*", "http://localhost:*", "http://[::1]:*"]

INSTRUCTIONS = (
    "cairn answers questions over a private document collection with verified citations. "
    "Use `search` to find passages (each has a chunk_id), `read_chunk` to read one in full, "
    "and `ask` for a cited answer. Documents are also resources (cairn://documents/ID)."
)


@dataclass(frozen=True, kw_only=True, slots=True)
class DocsSource:
    """What the tools read: the pipeline (search and answers) and the store (chunks and
    documents), and the limiter their blocking calls run under."""

    pipeline: Callable[[], Pipeline]
    store: Store
    limiter: CapacityLimiter | None = None


def filters_for(caller: Caller) -> Filters | None:
    principal = caller.principal
    return None if principal is None else Filters(principals=(principal,))


class CairnMCP(FastMCP):
    """The MCP server over one workspace. `caller` is who a stdio client is; over HTTP each
    request's `Caller` comes from the authentication in front (`KeyAuth`)."""

    def __init__(
        self, source: Callable[[], DocsSource], *, caller: Caller, loopback_only: bool
    ) -> None:
        """`source` is called per request (the app's state exists only once it started)."""
        security = TransportSecuritySettings(
            enable_dns_rebinding_protection=loopback_only,
            allowed_hosts=LOOPBACK_HOSTS if loopback_only else [],
            allowed_origins=LOOPBACK_ORIGINS if loopback_only else [],
        )
        root = logging.getLogger()
        handlers, level = list(root.handlers), root.level
        super().__init__(
            name="cairn",
            instructions=INSTRUCTIONS,
            stateless_http=True,
            json_response=True,
            streamable_http_path=MCP_PATH,
            transport_security=security,
            log_level="WARNING",
        )
        # FastMCP calls logging.basicConfig: configuring the root logger is the
        # application's call (one that did it later would find its own call ignored)
        root.handlers[:] = handlers
        root.setLevel(level)
        self.source = source
        self.stdio_caller = caller
        self._register()

    # who is asking -----------------------------------------------------------------------

    def caller(self, ctx: Context[Any, Any, Any] | None = None, *, scope: str) -> Caller:
        """The caller of the current request, checked for `scope`."""
        context = ctx if ctx is not None else self.get_context()
        try:
            request = context.request_context.request
        except ValueError:
            request = None
        if request is None:  # stdio: the process's own caller
            caller = self.stdio_caller
        else:
            found = getattr(request, "scope", {}).get(CALLER_KEY)
            if not isinstance(found, Caller):
                raise ToolError("not authenticated: send 'Authorization: Bearer cairn_...'")
            caller = found
        if not caller.allows(scope):
            raise ToolError(
                f"this API key lacks the '{scope}' scope; create one with "
                f"'cairn keys create --tenant {caller.tenant} --scope {scope}'"
            )
        return caller

    async def _blocking(self, fn: Callable[[], Any]) -> Any:
        return await run_sync(fn, limiter=self.source().limiter)

    # tools -------------------------------------------------------------------------------

    def _register(self) -> None:
        read_only = ToolAnnotations(readOnlyHint=True, openWorldHint=False)

        @self.tool(
            name="search",
            description="Search the documents; returns ranked passages with chunk ids.",
            annotations=read_only,
        )
        async def search(
            query: Annotated[str, Field(min_length=1, description="What to look for.")],
            ctx: Context[Any, Any, Any],
            k: Annotated[int, Field(ge=1, le=50, description="How many passages.")] = 5,
        ) -> SearchOut:
            caller = self.caller(ctx, scope="search")

            def run() -> SearchOut:
                with request_context(tenant=caller.tenant, user=caller.user, feature="mcp"):
                    hits = self.source().pipeline().search(query, k, filters_for(caller))
                return SearchOut.of(query, hits)

            result: SearchOut = await self._blocking(run)
            return result

        @self.tool(
            name="ask",
            description="A cited answer from the documents: the text carries [n] markers "
            "matching `citations` (chunk ids, sources, quotes, verified or not).",
            annotations=read_only,
        )
        async def ask(
            question: Annotated[str, Field(min_length=1, description="The question.")],
            ctx: Context[Any, Any, Any],
        ) -> AnswerOut:
            caller = self.caller(ctx, scope="ask")

            def run() -> AnswerOut:
                with request_context(tenant=caller.tenant, user=caller.user, feature="mcp"):
                    answer = self.source().pipeline().ask(
                        question, filters=filters_for(caller), user=caller.user,
                        tenant=caller.tenant,
                    )  # fmt: skip
                return AnswerOut.of(answer)

            result: AnswerOut = await self._blocking(run)
            return result

        @self.tool(
            name="read_chunk",
            description="One passage in full, by the chunk_id that search or ask returned.",
            annotations=read_only,
        )
        async def read_chunk(
            chunk_id: Annotated[str, Field(min_length=1, description="The chunk id.")],
            ctx: Context[Any, Any, Any],
        ) -> ChunkOut:
            caller = self.caller(ctx, scope="search")
            found: ChunkOut | None = await self._blocking(lambda: self._chunk(chunk_id, caller))
            if found is None:
                raise ToolError(f"chunk {chunk_id!r} not found: use a chunk_id from search")
            return found

        @self.resource(
            DOCUMENT_URI,
            name="document",
            description="A document's extracted text.",
            mime_type="text/plain",
        )
        async def document(doc_id: str) -> str:
            caller = self.caller(scope="search")
            text: str | None = await self._blocking(lambda: self._document_text(doc_id, caller))
            if text is None:
                raise ResourceError(f"document {doc_id!r} not found")
            return text

    def _chunk(self, chunk_id: str, caller: Caller) -> ChunkOut | None:
        store = self.source().store
        chunks = store.get_chunks([chunk_id])
        if not chunks:
            return None
        c = chunks[0]
        info = store.document_info(c.doc_id)
        if info is None or not readable(info.acl, caller.principal):
            return None  # another tenant's chunk does not exist for this caller
        if is_quarantined(store, c.id):
            return None  # quarantined: kept out of every model's reach
        return ChunkOut(
            chunk_id=c.id,
            doc_id=c.doc_id,
            source=c.source,
            uri=c.anchored_uri,
            title=c.title,
            section=c.section_path,
            text=c.text,
            start=c.start,
            end=c.end,
            risk=RiskOut.of(c.risk),
        )

    def _document_text(self, doc_id: str, caller: Caller) -> str | None:
        store = self.source().store
        info = store.document_info(doc_id)
        if info is None or not readable(info.acl, caller.principal):
            return None
        doc = store.get_document(doc_id)
        return None if doc is None else readable_text(store, doc_id, doc.text)

    async def call_tool(self, name: str, arguments: dict[str, Any]) -> Any:
        """FastMCP's call, handed to the low-level server as a finished `CallToolResult`.

        Otherwise the low-level server re-validates the structured result against the
        tool's output schema with `jsonschema` on every call, checking the schema itself
        each time: ~25-55 ms per `ask` on two busy cores, more than the answer. The result
        is already a validated pydantic model of exactly that schema."""
        result = await super().call_tool(name, arguments)
        if isinstance(result, tuple) and len(result) == 2:
            content, structured = result
            return CallToolResult(content=list(content), structuredContent=structured)
        return result

    # resources: the caller's documents ---------------------------------------------------

    async def list_resources(self) -> list[Resource]:
        caller = self.caller(scope="search")
        principal = caller.principal

        def load() -> list[Resource]:
            infos = self.source().store.documents(None if principal is None else (principal,))
            return [
                Resource(
                    uri=AnyUrl(DOCUMENT_URI.format(doc_id=d.id)),
                    name=d.source,
                    title=d.title or d.source,
                    description=f"{d.doc_type} document, {d.chunk_count} chunks",
                    mimeType="text/plain",
                )
                for d in infos
            ]

        resources: list[Resource] = await self._blocking(load)
        return resources

    async def read_resource(self, uri: AnyUrl | str) -> Iterable[ReadResourceContents]:
        self.caller(scope="search")  # refuse before looking anything up
        return await super().read_resource(uri)
