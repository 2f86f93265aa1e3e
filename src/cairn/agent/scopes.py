"""Which tools an API key's scopes allow a run over the API (docs/agents.md, "Scopes").

A key with `agent` may start runs; the tools those runs are offered depend on what the
tool does:

- `agent`: tools that only read (side effect `none`; tool scopes `search`, `ask`,
  `calendar:read`, ...).
- `agent:write`: tools that write in the workspace (side effect `write`, or a tool scope
  `*:write` such as `notes:write`).
- `agent:send`: tools that act on the world (side effect `external`, or a tool scope
  `*:send`): `send_email`, `create_event`, `create_issue`, MCP tools not marked read-only.

The strictest of the tool's side effect and its own scopes wins; `agent:send` does not
include `agent:write` (give both for both). `admin` (and local mode)
allows every tool. A tool the key may not use is never offered to the model, and the key
cannot approve or edit a call to it.
"""

from __future__ import annotations

from collections.abc import Collection

from cairn.agent.tools import Tool, ToolRegistry

READ, WRITE, SEND = "agent", "agent:write", "agent:send"
KEY_SCOPES: tuple[str, ...] = (WRITE, SEND)
"""The key scopes this module adds to `agent` (`cairn keys create --scope agent:write`)."""

_RANK = {READ: 0, WRITE: 1, SEND: 2}
_BY_EFFECT = {"none": READ, "write": WRITE, "external": SEND}


def _of_tool_scope(scope: str) -> str:
    action = scope.rpartition(":")[2]
    return SEND if action == "send" else WRITE if action == "write" else READ


def key_scope_needed(tool: Tool) -> str:
    """The key scope a run needs to be offered `tool`."""
    needed = [_BY_EFFECT[tool.side_effect], *(_of_tool_scope(s) for s in tool.scopes)]
    return max(needed, key=_RANK.__getitem__)


def allows(tool: Tool, key_scopes: Collection[str] | None) -> bool:
    """Whether a key with `key_scopes` may use `tool` (None: no check, e.g. local mode)."""
    if key_scopes is None or "admin" in key_scopes:
        return True
    return key_scope_needed(tool) in key_scopes


def narrowed(registry: ToolRegistry, key_scopes: Collection[str] | None) -> ToolRegistry:
    """The tools of `registry` that `key_scopes` allow."""
    if key_scopes is None or "admin" in key_scopes:
        return registry
    tools = (registry.get(name) for name in registry.names)
    return ToolRegistry.of(t for t in tools if allows(t, key_scopes))
