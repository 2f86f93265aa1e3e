"""MCP (the Model Context Protocol), both ways, on the official `mcp` SDK (docs/mcp.md).

- `cairn.mcp.server`: cairn as an MCP server (`cairn mcp serve`, and `/mcp` in `cairn
  serve`): `search`, `ask` and `read_chunk` tools and the caller's documents as resources,
  over stdio or stateless streamable HTTP with API keys and tenants.
- `cairn.agent.mcp`: the agent as an MCP client of the servers listed in `cairn.toml`.

The SDK is the optional `mcp` extra (`pip install 'cairn[mcp]'`); `require_mcp()` says so when
it is missing.
"""

from __future__ import annotations

from cairn.agent.mcp import INSTALL_HINT, require_mcp

__all__ = ["INSTALL_HINT", "require_mcp"]
